// Samsung KME deciders: given events, when a command, then events or an error.

#include "adapters/samsung_knox/identifiers.h"
#include "domain/kme/kme.h"
#include "tests/support/test_support.h"

namespace ae::domain::kme {
namespace {

namespace v1 = autoenroll::events::v1;

const Identifiers kIds{"350925370583126", "", "", "R58M12ABCDE"};

DeviceState Given(const std::vector<Envelope>& events) {
  DeviceState s;
  for (const auto& e : events) s = Evolve(std::move(s), e);
  return s;
}

ImportDevice Row(Identifiers ids = kIds) {
  ImportDevice c;
  c.device_id = DeviceIdFor(ids);
  c.observed.ids = ids;
  c.observed.model = "SM-G991B";
  c.observed.profile_name = "Default Profile";
  c.observed.knox_status = "PROFILE_ASSIGNED";
  c.observed.tags = std::vector<std::string>{"Sales", "Berlin"};
  c.observed.attributes = {{"order_number", "PO-1"}, {"reseller_id", ""}};
  c.import_id = "imp-1";
  c.line = 2;
  return c;
}

// The events a command decided, applied: the state after it.
std::vector<Envelope> Imported(const ImportDevice& c) {
  auto out = Decide(DeviceState{}, c);
  EXPECT_THAT(out, IsOk());
  return out.ok() ? *out : std::vector<Envelope>{};
}

TEST(KmeDecider, DeviceIdComesFromThePrimaryIdentifier) {
  EXPECT_EQ(DeviceIdFor(kIds), "imei:350925370583126");
  EXPECT_EQ(DeviceIdFor({"", "", "A0000012345678", "R1"}), "meid:A0000012345678");
  EXPECT_EQ(DeviceIdFor({"", "", "", "R52T10WIFI01"}), "sn:R52T10WIFI01");
  EXPECT_EQ(DeviceIdFor({}), "");
}

TEST(KmeDecider, MatchKeysAgreeWithTheCsvReadersIdentity) {
  ae::kme::DeviceIdentity identity{"350925370583126", "351750081234564", "A0000012345678",
                                   "R58M12ABCDE"};
  Identifiers ids{identity.imei, identity.imei2, identity.meid, identity.serial};
  EXPECT_EQ(MatchKeys(ids), identity.MatchKeys());
}

TEST(KmeDecider, ANewDeviceIsImportedWithItsMatchedUser) {
  ImportDevice c = Row();
  c.matched_user_id = "u1";
  c.knox_user.set_subject_id("u1");
  auto out = Decide(DeviceState{}, c);
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), 2u);
  const auto& p = (*out)[0].kme_device_imported();
  EXPECT_EQ(p.device_id(), "imei:350925370583126");
  EXPECT_EQ(p.identifiers().serial_number(), "R58M12ABCDE");
  EXPECT_EQ(p.tags_size(), 2);
  EXPECT_EQ(p.attributes().count("reseller_id"), 0u);  // an empty cell adds nothing
  EXPECT_EQ(p.matched_user_id(), "u1");
  EXPECT_EQ(p.knox_user().subject_id(), "u1");
  EXPECT_EQ((*out)[1].device_user_assigned().user_id(), "u1");
  EXPECT_EQ(OutcomeOf(*out), ImportOutcome::kCreated);
}

TEST(KmeDecider, TheSameRowAgainChangesNothing) {
  DeviceState s = Given(Imported(Row()));
  auto out = Decide(s, Row());
  ASSERT_THAT(out, IsOk());
  EXPECT_TRUE(out->empty());
  EXPECT_EQ(OutcomeOf(*out), ImportOutcome::kUnchanged);
}

TEST(KmeDecider, AChangedRowRecordsTheWholeMergedRecord) {
  DeviceState s = Given(Imported(Row()));
  ImportDevice c = Row({"", "", "", "R58M12ABCDE"});  // found by its serial only
  c.observed.profile_name = "Kiosk";
  c.observed.model.reset();  // no Model column: keeps the model
  auto out = Decide(s, c);
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), 1u);
  const auto& p = (*out)[0].kme_device_updated();
  EXPECT_EQ(p.device_id(), "imei:350925370583126");
  EXPECT_EQ(p.profile_name(), "Kiosk");
  EXPECT_EQ(p.model(), "SM-G991B");
  EXPECT_EQ(p.identifiers().imei(), "350925370583126");  // never dropped
  EXPECT_EQ(OutcomeOf(*out), ImportOutcome::kUpdated);
  DeviceState after = Evolve(s, (*out)[0]);
  EXPECT_EQ(after.profile_name, "Kiosk");
  EXPECT_EQ(after.device_id, "imei:350925370583126");
}

TEST(KmeDecider, ASecondImeiIsAddedAndTheOrderOfKnownImeisDoesNotMatter) {
  DeviceState s = Given(Imported(Row()));
  auto out = Decide(s, Row({"351750081234564", "350925370583126", "", ""}));
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), 1u);
  DeviceState after = Evolve(s, (*out)[0]);
  EXPECT_EQ(after.ids.imei, "350925370583126");
  EXPECT_EQ(after.ids.imei2, "351750081234564");
  auto again = Decide(after, Row({"351750081234564", "350925370583126", "", ""}));
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->empty());
}

TEST(KmeDecider, AnEmptyAttributeCellRemovesTheAttribute) {
  DeviceState s = Given(Imported(Row()));
  ImportDevice c = Row();
  c.observed.attributes = {{"order_number", ""}};
  auto out = Decide(s, c);
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].kme_device_updated().attributes().count("order_number"), 0u);
}

TEST(KmeDecider, AnImportNeverOverridesALocalUserAssignment) {
  DeviceState s = Given(Imported(Row()));
  auto assigned = Decide(s, AssignDevice{s.device_id, std::string("local"), {}, {}});
  ASSERT_THAT(assigned, IsOk());
  s = Evolve(s, (*assigned)[0]);
  ImportDevice c = Row();
  c.matched_user_id = "from-csv";
  auto out = Decide(s, c);
  ASSERT_THAT(out, IsOk());
  EXPECT_TRUE(out->empty());
}

TEST(KmeDecider, AnImportFillsAnEmptyUser) {
  DeviceState s = Given(Imported(Row()));
  ImportDevice c = Row();
  c.matched_user_id = "u2";
  auto out = Decide(s, c);
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].device_user_assigned().user_id(), "u2");
  EXPECT_EQ(OutcomeOf(*out), ImportOutcome::kUpdated);
}

TEST(KmeDecider, ARowWithoutIdentifiersIsRefused) {
  EXPECT_THAT(Decide(DeviceState{}, Row(Identifiers{})),
              StatusIs(StatusCode::kInvalidArgument, "kme.no_identifier"));
}

TEST(KmeDecider, AssignmentsAppendOnlyWhatChanges) {
  DeviceState s = Given(Imported(Row()));
  auto out = Decide(s, AssignDevice{s.device_id, std::string("u1"), std::string("kiosk"), {}});
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), 2u);
  for (const auto& e : *out) s = Evolve(s, e);
  auto same = Decide(s, AssignDevice{s.device_id, std::string("u1"), std::string("kiosk"),
                                     std::string("")});
  ASSERT_THAT(same, IsOk());
  EXPECT_TRUE(same->empty());
  auto cleared = Decide(s, AssignDevice{s.device_id, std::string(""), {}, {}});
  ASSERT_THAT(cleared, IsOk());
  ASSERT_EQ(cleared->size(), 1u);
  EXPECT_EQ((*cleared)[0].device_user_assigned().user_id(), "");
}

TEST(KmeDecider, AssigningAnUnknownDeviceIsNotFound) {
  EXPECT_THAT(Decide(DeviceState{}, AssignDevice{"imei:1", std::string("u1"), {}, {}}),
              StatusIs(StatusCode::kNotFound, "kme.device_not_found"));
}

TEST(KmeDecider, EnrollmentNeedsAnImportedDeviceWithAUser) {
  EXPECT_THAT(CheckEnrollment(DeviceState{}, v1::KME_SOURCE_CSV),
              StatusIs(StatusCode::kPermissionDenied, "kme.device_not_imported"));
  DeviceState s = Given(Imported(Row()));
  EXPECT_THAT(CheckEnrollment(s, v1::KME_SOURCE_CSV),
              StatusIs(StatusCode::kPermissionDenied, "kme.no_user"));
  s.user_id = "u1";
  EXPECT_THAT(CheckEnrollment(s, v1::KME_SOURCE_CSV), IsOk());
}

TEST(KmeDecider, TheDeploymentAppCannotEnrollADeviceRegisteredInKme) {
  DeviceState s = Given(Imported(Row()));
  s.user_id = "u1";
  EXPECT_THAT(CheckEnrollment(s, v1::KME_SOURCE_KNOX_DEPLOYMENT),
              StatusIs(StatusCode::kFailedPrecondition, "kme.already_imported"));
  EXPECT_THAT(CheckEnrollment(DeviceState{}, v1::KME_SOURCE_KNOX_DEPLOYMENT), IsOk());
  ImportDevice c = Row();
  c.source = v1::KME_SOURCE_KNOX_DEPLOYMENT;
  c.matched_user_id = "u1";
  DeviceState deployed = Given(Imported(c));
  EXPECT_EQ(deployed.source, v1::KME_SOURCE_KNOX_DEPLOYMENT);
  EXPECT_THAT(CheckEnrollment(deployed, v1::KME_SOURCE_KNOX_DEPLOYMENT), IsOk());
}

// The events of a command as the bus appends them for `kind` (it stamps the actor).
std::vector<Envelope> By(v1::Actor::Kind kind, std::vector<Envelope> events) {
  for (auto& e : events) e.mutable_actor()->set_kind(kind);
  return events;
}

// A device the Knox Deployment App recorded, bound to `user` (as the enrollment route
// appends it: the device is the actor).
DeviceState Deployed(const std::string& user) {
  ImportDevice c;
  c.device_id = DeviceIdFor(kIds);
  c.observed.ids = kIds;
  c.observed.model = "SM-G991B";
  c.observed.tags = std::vector<std::string>{kDeploymentTag};
  c.source = v1::KME_SOURCE_KNOX_DEPLOYMENT;
  c.matched_user_id = user;
  DeviceState s = Given(By(v1::Actor::KIND_DEVICE, Imported(c)));
  EXPECT_EQ(s.user_id, user);
  EXPECT_TRUE(s.user_by_deployment);
  return s;
}

TEST(KmeDecider, AnImportReplacesAUserTheDeploymentAppBoundAndRecordsTheConflict) {
  DeviceState s = Deployed("squatter");
  ImportDevice c = Row();
  c.matched_user_id = "owner";
  auto out = Decide(s, c);
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), 3u);  // the record's update, the conflict, the import's user
  EXPECT_TRUE((*out)[0].has_kme_device_updated());
  ASSERT_TRUE((*out)[1].has_kme_deployment_user_overridden());
  const auto& conflict = (*out)[1].kme_deployment_user_overridden();
  EXPECT_EQ(conflict.device_id(), "imei:350925370583126");
  EXPECT_EQ(conflict.deployment_user_id(), "squatter");
  EXPECT_EQ(conflict.user_id(), "owner");
  EXPECT_EQ(conflict.source(), v1::KME_SOURCE_CSV);
  EXPECT_EQ(conflict.import_id(), "imp-1");
  EXPECT_EQ(conflict.line(), 2u);
  EXPECT_EQ((*out)[2].device_user_assigned().user_id(), "owner");
  EXPECT_EQ(OutcomeOf(*out), ImportOutcome::kUpdated);
  DeviceState after = s;
  for (const auto& e : By(v1::Actor::KIND_USER, *out)) after = Evolve(after, e);
  EXPECT_EQ(after.user_id, "owner");
  EXPECT_FALSE(after.user_by_deployment);
  // The import's user is now an import's assignment: a later file does not replace it.
  ImportDevice later = Row();
  later.matched_user_id = "someone-else";
  auto again = Decide(after, later);
  ASSERT_THAT(again, IsOk());
  for (const auto& e : *again) EXPECT_FALSE(e.has_device_user_assigned()) << e.DebugString();
}

TEST(KmeDecider, AKnoxApiSyncAlsoReplacesAUserTheDeploymentAppBound) {
  ImportDevice c = Row();
  c.source = v1::KME_SOURCE_KNOX_API;
  c.matched_user_id = "owner";
  auto out = Decide(Deployed("squatter"), c);
  ASSERT_THAT(out, IsOk());
  ASSERT_GE(out->size(), 2u);
  const auto& conflict = (*out)[out->size() - 2].kme_deployment_user_overridden();
  EXPECT_EQ(conflict.source(), v1::KME_SOURCE_KNOX_API);
  EXPECT_EQ(out->back().device_user_assigned().user_id(), "owner");
}

TEST(KmeDecider, AnImportNamingTheDeploymentUserMakesItTheImportsWithoutAConflict) {
  DeviceState s = Deployed("dave");
  ImportDevice c = Row();
  c.matched_user_id = "dave";
  auto out = Decide(s, c);
  ASSERT_THAT(out, IsOk());
  for (const auto& e : *out) EXPECT_FALSE(e.has_kme_deployment_user_overridden());
  ASSERT_FALSE(out->empty());
  EXPECT_EQ(out->back().device_user_assigned().user_id(), "dave");
  for (const auto& e : By(v1::Actor::KIND_USER, *out)) s = Evolve(s, e);
  EXPECT_FALSE(s.user_by_deployment);
  auto again = Decide(s, c);  // the same file again changes nothing
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->empty());
}

TEST(KmeDecider, AnAdministratorsAssignmentReplacesADeploymentUserAndRecordsTheConflict) {
  DeviceState s = Deployed("squatter");
  auto out = Decide(s, AssignDevice{s.device_id, std::string("owner"), {}, {}});
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), 2u);
  const auto& conflict = (*out)[0].kme_deployment_user_overridden();
  EXPECT_EQ(conflict.deployment_user_id(), "squatter");
  EXPECT_EQ(conflict.user_id(), "owner");
  EXPECT_EQ(conflict.source(), v1::KME_SOURCE_UNSPECIFIED);  // an administrator
  EXPECT_EQ((*out)[1].device_user_assigned().user_id(), "owner");
  for (const auto& e : By(v1::Actor::KIND_USER, *out)) s = Evolve(s, e);
  EXPECT_EQ(s.user_id, "owner");
  EXPECT_FALSE(s.user_by_deployment);
  // The administrator's user is never replaced by an import.
  ImportDevice c = Row();
  c.matched_user_id = "from-csv";
  auto imported = Decide(s, c);
  ASSERT_THAT(imported, IsOk());
  for (const auto& e : *imported) EXPECT_FALSE(e.has_device_user_assigned());
}

TEST(KmeDecider, AnAdministratorConfirmingTheDeploymentUserMakesItTheirs) {
  DeviceState s = Deployed("dave");
  auto out = Decide(s, AssignDevice{s.device_id, std::string("dave"), {}, {}});
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].device_user_assigned().user_id(), "dave");
  for (const auto& e : By(v1::Actor::KIND_USER, *out)) s = Evolve(s, e);
  EXPECT_FALSE(s.user_by_deployment);
  auto again = Decide(s, AssignDevice{s.device_id, std::string("dave"), {}, {}});
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->empty());
}

TEST(KmeDecider, OnlyAUserBoundByADeviceIsTheDeploymentApps) {
  DeviceState s = Given(Imported(Row()));
  Envelope assigned;
  assigned.mutable_device_user_assigned()->set_device_id(s.device_id);
  assigned.mutable_device_user_assigned()->set_user_id("u1");
  EXPECT_FALSE(Evolve(s, By(v1::Actor::KIND_USER, {assigned})[0]).user_by_deployment);
  EXPECT_FALSE(Evolve(s, By(v1::Actor::KIND_SYSTEM, {assigned})[0]).user_by_deployment);
  EXPECT_TRUE(Evolve(s, By(v1::Actor::KIND_DEVICE, {assigned})[0]).user_by_deployment);
  ImportDevice csv = Row();
  csv.matched_user_id = "u1";
  EXPECT_FALSE(Given(By(v1::Actor::KIND_USER, Imported(csv))).user_by_deployment);
}

TEST(KmeDecider, AKnoxDeploymentEnrollmentNeverChangesAKnownDevice) {
  DeviceState s = Given(Imported(Row()));
  ImportDevice c = Row();
  c.source = v1::KME_SOURCE_KNOX_DEPLOYMENT;
  c.observed.tags = std::vector<std::string>{kDeploymentTag};
  c.observed.model = "SM-X000";
  c.matched_user_id = "squatter";
  auto out = Decide(s, c);
  ASSERT_THAT(out, IsOk());
  EXPECT_TRUE(out->empty());
  auto deployed = Decide(Deployed("dave"), c);
  ASSERT_THAT(deployed, IsOk());
  EXPECT_TRUE(deployed->empty());
}

TEST(KmeDecider, TheDeploymentAppBindsOnlyNewUsersAndOnlyWhenAllowed) {
  SettingsState off;
  SettingsState on;
  on.deployment_creates_users = true;
  users::UserState none;
  EXPECT_THAT(CheckDeploymentUser(off, none),
              StatusIs(StatusCode::kPermissionDenied, "kme.user_creation_disabled"));
  EXPECT_THAT(CheckDeploymentUser(on, none), IsOk());
  for (const SettingsState& settings : {off, on}) {
    for (v1::Role role : {v1::ROLE_ADMINISTRATOR, v1::ROLE_DEVICE_MANAGER}) {
      users::UserState above;
      above.exists = true;
      above.role = role;
      EXPECT_THAT(CheckDeploymentUser(settings, above),
                  StatusIs(StatusCode::kPermissionDenied, "kme.user_role_not_allowed"));
      above.deleted = true;
      EXPECT_THAT(CheckDeploymentUser(settings, above),
                  StatusIs(StatusCode::kPermissionDenied, "kme.user_role_not_allowed"));
    }
    users::UserState existing;
    existing.exists = true;
    existing.role = v1::ROLE_DEVICE_USER;
    EXPECT_THAT(CheckDeploymentUser(settings, existing),
                StatusIs(StatusCode::kPermissionDenied, "kme.user_exists"));
    existing.deleted = true;  // a deleted user's id would carry its old devices
    EXPECT_THAT(CheckDeploymentUser(settings, existing),
                StatusIs(StatusCode::kPermissionDenied, "kme.user_exists"));
  }
}

TEST(KmeDecider, DeploymentSettingsAreOffUntilAnAdministratorChangesThem) {
  SettingsState s;
  EXPECT_FALSE(s.deployment_creates_users);
  auto nothing = Decide(s, ChangeDeploymentSettings{});
  ASSERT_THAT(nothing, IsOk());
  EXPECT_TRUE(nothing->empty());
  auto on = Decide(s, ChangeDeploymentSettings{true});
  ASSERT_THAT(on, IsOk());
  ASSERT_EQ(on->size(), 1u);
  EXPECT_TRUE((*on)[0].kme_deployment_settings_changed().creates_users());
  s = EvolveSettings(s, (*on)[0]);
  EXPECT_TRUE(s.deployment_creates_users);
  auto same = Decide(s, ChangeDeploymentSettings{true});
  ASSERT_THAT(same, IsOk());
  EXPECT_TRUE(same->empty());
  auto off = Decide(s, ChangeDeploymentSettings{false});
  ASSERT_THAT(off, IsOk());
  ASSERT_EQ(off->size(), 1u);
  EXPECT_FALSE(EvolveSettings(s, (*off)[0]).deployment_creates_users);
}

TEST(KmeDecider, EnrollingAgainWithTheSameAssignmentIsIdempotent) {
  EnrollAndroid c{"imei:350925370583126", "u1", "kiosk", "", kIds, "SM-G991B"};
  auto first = Decide(EnrollmentState{}, c);
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(first->size(), 1u);
  const auto& p = (*first)[0].device_enrolled();
  EXPECT_EQ(p.platform(), v1::PLATFORM_ANDROID);
  EXPECT_EQ(p.imei(), "350925370583126");
  EXPECT_EQ(p.serial_number(), "R58M12ABCDE");
  EnrollmentState s = EvolveEnrollment({}, (*first)[0]);
  auto again = Decide(s, c);
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->empty());
  c.policy_id = "other";
  auto changed = Decide(s, c);
  ASSERT_THAT(changed, IsOk());
  EXPECT_EQ(changed->size(), 1u);
  Envelope removed;
  removed.mutable_device_removed_from_inventory()->set_device_id(c.device_id);
  s = EvolveEnrollment(s, removed);
  c.policy_id = "kiosk";
  auto back = Decide(s, c);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->size(), 1u);  // removed from the inventory: enrolls again
}

TEST(KmeDecider, TheFirstTokenIsMadeOnceAndRotationReplacesIt) {
  std::string sha(32, 'a');
  auto first = Decide(SettingsState{}, RotateEnrollmentToken{sha, "kme/enrollment-token/1", true});
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(first->size(), 1u);
  SettingsState s = EvolveSettings({}, (*first)[0]);
  EXPECT_TRUE(s.has_token);
  auto lazy = Decide(s, RotateEnrollmentToken{std::string(32, 'b'), "kme/x", true});
  ASSERT_THAT(lazy, IsOk());
  EXPECT_TRUE(lazy->empty());
  auto rotated = Decide(s, RotateEnrollmentToken{std::string(32, 'b'), "kme/x", false});
  ASSERT_THAT(rotated, IsOk());
  s = EvolveSettings(s, (*rotated)[0]);
  EXPECT_EQ(s.token_sha256, std::string(32, 'b'));
  EXPECT_EQ(s.secret_ref, "kme/x");
}

}  // namespace
}  // namespace ae::domain::kme
