// The DEP deciders: what a sync, an assignment and its outcome turn into.

#include "domain/dep/dep.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include "domain/devices/devices.h"
#include "tests/support/test_support.h"

namespace ae::domain::dep {
namespace {

DeviceState Fold(const std::vector<Envelope>& events, DeviceState s = {}) {
  for (const auto& e : events) s = EvolveDevice(std::move(s), e);
  return s;
}

AppleDevice Phone(const std::string& op, int64_t op_date,
                  pb::DepProfileStatus status = pb::DEP_PROFILE_STATUS_EMPTY) {
  AppleDevice d;
  d.serial_number = "C02ABC";
  d.model = "iPhone 14";
  d.os = "iOS";
  d.device_family = "iPhone";
  d.op_type = op;
  if (op_date) d.op_date_ms = op_date;
  d.profile_status = status;
  return d;
}

std::vector<Envelope> Must(Result<std::vector<Envelope>> r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::vector<Envelope>{};
}

TEST(DepDeviceDecider, ANewDeviceIsSyncedWithItsStatusAndARepeatChangesNothing) {
  auto first = Must(Decide(DeviceState{}, ApplySync{"acc", "s1", Phone("added", 1000)}));
  ASSERT_EQ(first.size(), 2u);
  EXPECT_TRUE(first[0].has_dep_device_synced());
  EXPECT_EQ(first[1].dep_profile_status_changed().status(), pb::DEP_PROFILE_STATUS_EMPTY);
  DeviceState s = Fold(first);
  EXPECT_TRUE(s.known);
  EXPECT_TRUE(s.assigned_to_server);
  EXPECT_TRUE(Must(Decide(s, ApplySync{"acc", "s2", Phone("modified", 2000)})).empty());
  EXPECT_TRUE(Must(Decide(s, ApplySync{"acc", "s2", Phone("", 0)})).empty());  // fetch
  auto renamed = Phone("modified", 3000);
  renamed.asset_tag = "TAG-7";
  auto changed = Must(Decide(s, ApplySync{"acc", "s3", renamed}));
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].dep_device_synced().asset_tag(), "TAG-7");
}

TEST(DepDeviceDecider, OlderEventsLoseAndDeletedKeepsTheRecordOnce) {
  DeviceState s = Fold(Must(Decide(DeviceState{}, ApplySync{"acc", "s", Phone("added", 5000)})));
  auto stale = Phone("deleted", 4000);
  EXPECT_TRUE(Must(Decide(s, ApplySync{"acc", "s", stale})).empty());
  auto gone = Must(Decide(s, ApplySync{"acc", "s", Phone("deleted", 6000)}));
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_TRUE(gone[0].has_dep_device_unassigned());
  s = Fold(gone, s);
  EXPECT_TRUE(s.known);
  EXPECT_FALSE(s.assigned_to_server);
  EXPECT_TRUE(Must(Decide(s, ApplySync{"acc", "s", Phone("deleted", 7000)})).empty());
  // Never resurrected from an event older than the deletion.
  EXPECT_TRUE(Must(Decide(s, ApplySync{"acc", "s", Phone("added", 5500)})).empty());
}

TEST(DepDeviceDecider, ModifiedRemovedOnAnUnknownDeviceIsAMoveIn) {
  auto moved = Must(Decide(DeviceState{},
                           ApplySync{"acc", "s", Phone("modified", 1000, pb::DEP_PROFILE_STATUS_REMOVED)}));
  ASSERT_EQ(moved.size(), 2u);
  EXPECT_TRUE(moved[0].has_dep_device_synced());
  EXPECT_EQ(moved[1].dep_profile_status_changed().status(), pb::DEP_PROFILE_STATUS_REMOVED);
  EXPECT_TRUE(Fold(moved).assigned_to_server);
}

// A sync page asked for before a removal's outcome was recorded may still show the profile
// as assigned: it must not undo the removal. A page asked for after it is taken.
TEST(DepDeviceDecider, APageAskedForBeforeTheLastOutcomeKeepsThatOutcome) {
  DeviceState s = Fold(Must(Decide(DeviceState{}, ApplySync{"acc", "s", Phone("added", 1)})));
  Envelope assigned;
  assigned.mutable_dep_profile_assigned()->set_profile_uuid("UUID-1");
  *assigned.mutable_occurred_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(10'000);
  Envelope removed;
  removed.mutable_dep_profile_removed();
  *removed.mutable_occurred_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(20'000);
  s = Fold({assigned, removed}, s);
  ASSERT_EQ(s.apple.profile_status, pb::DEP_PROFILE_STATUS_REMOVED);

  auto before = Phone("", 0, pb::DEP_PROFILE_STATUS_ASSIGNED);
  before.profile_uuid = "UUID-1";
  EXPECT_TRUE(Must(Decide(s, ApplySync{"acc", "s2", before, 19'999})).empty());
  EXPECT_TRUE(Must(Decide(s, ApplySync{"acc", "s2", before, 20'000})).empty());  // same ms
  // Apple's answer to a page asked for after the outcome is news, as is one of unknown age.
  auto after = Must(Decide(s, ApplySync{"acc", "s3", before, 20'001}));
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].dep_profile_status_changed().status(), pb::DEP_PROFILE_STATUS_ASSIGNED);
  EXPECT_EQ(Must(Decide(s, ApplySync{"acc", "s4", before})).size(), 1u);
}

TEST(DepDeviceDecider, SyncNeverTouchesLocalAssignments) {
  DeviceState s = Fold(Must(Decide(DeviceState{}, ApplySync{"acc", "s", Phone("added", 1)})));
  AssignDevice a;
  a.user_id = "u1";
  a.policy_id = "p1";
  s = Fold(Must(Decide(s, a)), s);
  auto pushed = Phone("modified", 2, pb::DEP_PROFILE_STATUS_PUSHED);
  pushed.profile_uuid = "UUID";
  s = Fold(Must(Decide(s, ApplySync{"acc", "s", pushed})), s);
  EXPECT_EQ(s.user_id, "u1");
  EXPECT_EQ(s.policy_id, "p1");
}

TEST(DepDeviceDecider, OnlyTheOutcomeOfTheRequestInFlightCounts) {
  DeviceState s = Fold(Must(Decide(DeviceState{}, ApplySync{"acc", "s", Phone("added", 1)})));
  AssignDevice a;
  a.profile_id = "prof";
  a.profile_uuid = "UUID";
  a.request_id = "r1";
  auto requested = Must(Decide(s, a));
  ASSERT_EQ(requested.size(), 1u);
  EXPECT_EQ(requested[0].dep_profile_assignment_requested().serial_number(), "C02ABC");
  s = Fold(requested, s);
  // The same profile again while in flight: nothing new.
  a.request_id = "r2";
  EXPECT_TRUE(Must(Decide(s, a)).empty());
  // A stale answer (another request id) is ignored; the right one lands once.
  EXPECT_TRUE(Must(Decide(s, AssignmentOutcome{"other", true})).empty());
  auto ok = Must(Decide(s, AssignmentOutcome{"r1", true}));
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_TRUE(ok[0].has_dep_profile_assigned());
  s = Fold(ok, s);
  EXPECT_TRUE(Must(Decide(s, AssignmentOutcome{"r1", true})).empty());  // replayed after a crash
  EXPECT_EQ(s.apple.profile_status, pb::DEP_PROFILE_STATUS_ASSIGNED);
}

TEST(DepDeviceDecider, AFailedAssignmentCanBeRequestedAgain) {
  DeviceState s = Fold(Must(Decide(DeviceState{}, ApplySync{"acc", "s", Phone("added", 1)})));
  AssignDevice a;
  a.profile_id = "prof";
  a.profile_uuid = "UUID";
  a.request_id = "r1";
  s = Fold(Must(Decide(s, a)), s);
  AssignmentOutcome failed{"r1", false, "THROTTLED", 99};
  auto f = Must(Decide(s, failed));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].dep_profile_assignment_failed().reason(), "THROTTLED");
  s = Fold(f, s);
  a.request_id = "r2";
  auto again = Must(Decide(s, a));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].dep_profile_assignment_requested().request_id(), "r2");
}

TEST(DepAccountDecider, ATokenOfAnotherServerIsRefusedUnlessForced) {
  AccountState s = EvolveAccount({}, Must(Decide(AccountState{}, CreateAccount{"a", "n", "", "", ""}))[0]);
  EXPECT_EQ(s.state, pb::DEP_ACCOUNT_STATE_AWAITING_TOKEN);
  auto up = Must(Decide(s, UploadToken{"fp1", "ck1", "ref1", 1000}));
  ASSERT_EQ(up.size(), 2u);
  for (const auto& e : up) s = EvolveAccount(std::move(s), e);
  EXPECT_EQ(s.state, pb::DEP_ACCOUNT_STATE_ACTIVE);
  EXPECT_TRUE(Must(Decide(s, UploadToken{"fp1", "ck1", "ref1", 1000})).empty());
  auto other = Decide(s, UploadToken{"fp2", "ck2", "ref2", 1000});
  EXPECT_THAT(other, StatusIs(StatusCode::kUnprocessable, "dep.token_not_for_this_account"));
  EXPECT_EQ(Must(Decide(s, UploadToken{"fp2", "ck2", "ref2", 1000, true})).size(), 1u);
}

TEST(DepProfiles, SkipKeysAreApplesCaseSensitiveList) {
  EXPECT_TRUE(IsKnownSkipKey("AppleID"));
  EXPECT_TRUE(IsKnownSkipKey("SIMSetup"));
  EXPECT_TRUE(IsKnownSkipKey("iMessageAndFaceTime"));
  EXPECT_TRUE(IsKnownSkipKey("Zoom"));
  EXPECT_FALSE(IsKnownSkipKey("appleid"));
  EXPECT_FALSE(IsKnownSkipKey(""));
}

TEST(DeviceInventoryDecider, EnrollsOnceQueuesCommandsAndConfiguresOnAcknowledgement) {
  devices::DeviceState s;
  devices::Enroll en;
  en.enrolled.set_device_id("C02ABC");
  en.enrolled.set_udid("U1");
  en.enrolled.set_push_token_sha256("t");
  pb::DeviceCommandQueued install, configured;
  install.set_command_uuid("c1");
  install.set_request_type("InstallApplication");
  configured.set_command_uuid("c2");
  configured.set_request_type("DeviceConfigured");
  en.commands = {install, configured};
  auto events = Must(devices::Decide(s, en));
  ASSERT_EQ(events.size(), 3u);
  for (const auto& e : events) s = devices::Evolve(std::move(s), e);
  EXPECT_TRUE(Must(devices::Decide(s, en)).empty());  // repeated TokenUpdate
  EXPECT_EQ(Must(devices::Decide(s, devices::CompleteCommand{"c1", "Acknowledged", "", false})).size(), 1u);
  auto done = Must(devices::Decide(s, devices::CompleteCommand{"c2", "Acknowledged", "", false}));
  ASSERT_EQ(done.size(), 2u);
  EXPECT_TRUE(done[1].has_device_configured());
  EXPECT_TRUE(Must(devices::Decide(s, devices::CompleteCommand{"nope", "Acknowledged", "", false})).empty());
  EXPECT_THAT(devices::Decide(devices::DeviceState{}, devices::RemoveFromInventory{}),
              StatusIs(StatusCode::kNotFound, "device.not_found"));
}

devices::DeviceState FoldDevice(const std::vector<Envelope>& events, devices::DeviceState s = {}) {
  for (const auto& e : events) s = devices::Evolve(std::move(s), e);
  return s;
}

// An Apple device enrolled with identity `sha` (issued, then TokenUpdate).
devices::DeviceState EnrolledWith(const std::string& sha) {
  auto s = FoldDevice(Must(devices::Decide(devices::DeviceState{},
                                           devices::IssueIdentity{"C02ABC", sha, "U1", "signer"})));
  devices::Enroll en;
  en.enrolled.set_device_id("C02ABC");
  en.enrolled.set_platform(pb::PLATFORM_APPLE);
  en.enrolled.set_udid("U1");
  en.enrolled.set_push_token_sha256("t");
  en.identity_sha256 = sha;
  return FoldDevice(Must(devices::Decide(s, en)), s);
}

TEST(DeviceIdentityDecider, ReenrollmentRevokesThePreviousIdentity) {
  devices::DeviceState s = EnrolledWith("old");
  EXPECT_THAT(devices::Decide(s, devices::CheckIn{"C02ABC", "Authenticate", "old"}), IsOk());
  auto reissued = Must(devices::Decide(s, devices::IssueIdentity{"C02ABC", "new", "U1", "signer"}));
  ASSERT_EQ(reissued.size(), 2u);
  EXPECT_EQ(reissued[0].device_identity_revoked().certificate_sha256(), "old");
  EXPECT_EQ(reissued[0].device_identity_revoked().reason(), "replaced");
  EXPECT_EQ(reissued[1].device_identity_issued().certificate_sha256(), "new");
  EXPECT_EQ(reissued[1].device_identity_issued().udid(), "U1");
  s = FoldDevice(reissued, s);
  EXPECT_THAT(devices::Decide(s, devices::CheckIn{"C02ABC", "Authenticate", "old"}),
              StatusIs(StatusCode::kUnauthenticated, "mdm.identity_revoked"));
  devices::Enroll again;
  again.enrolled.set_device_id("C02ABC");
  again.enrolled.set_udid("U1");
  again.enrolled.set_push_token_sha256("t");
  again.identity_sha256 = "old";
  EXPECT_THAT(devices::Decide(s, again), StatusIs(StatusCode::kUnauthenticated, "mdm.identity_revoked"));
  EXPECT_THAT(devices::Decide(s, devices::CompleteCommand{"c", "Acknowledged", "", false, "old"}),
              StatusIs(StatusCode::kUnauthenticated, "mdm.identity_revoked"));
  // The new identity enrolls again, even with the same push token.
  again.identity_sha256 = "new";
  EXPECT_EQ(Must(devices::Decide(s, again)).size(), 1u);
}

TEST(DeviceIdentityDecider, CheckOutAndRemovalRevokeTheIdentity) {
  devices::DeviceState s = EnrolledWith("id1");
  auto out = Must(devices::Decide(s, devices::CheckOut{"id1"}));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].has_device_checked_out());
  EXPECT_EQ(out[1].device_identity_revoked().certificate_sha256(), "id1");
  EXPECT_EQ(out[1].device_identity_revoked().reason(), "checked_out");
  EXPECT_THAT(devices::Decide(FoldDevice(out, s), devices::CheckIn{"C02ABC", "Authenticate", "id1"}),
              StatusIs(StatusCode::kUnauthenticated, "mdm.identity_revoked"));

  auto removed = Must(devices::Decide(EnrolledWith("id2"), devices::RemoveFromInventory{}));
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_TRUE(removed[0].has_device_removed_from_inventory());
  EXPECT_EQ(removed[1].device_identity_revoked().certificate_sha256(), "id2");
  EXPECT_EQ(removed[1].device_identity_revoked().reason(), "removed_from_inventory");
}

// Enrolled before identities were recorded: any identity works until the first
// revocation, which then covers every identity the device holds.
TEST(DeviceIdentityDecider, ADeviceEnrolledBeforeIdentitiesWereRecordedIsRevokedWhole) {
  devices::Enroll en;
  en.enrolled.set_device_id("C02OLD");
  en.enrolled.set_platform(pb::PLATFORM_APPLE);
  en.enrolled.set_udid("U1");
  devices::DeviceState s = FoldDevice(Must(devices::Decide(devices::DeviceState{}, en)));
  EXPECT_THAT(devices::Decide(s, devices::CheckIn{"C02OLD", "Authenticate", "legacy"}), IsOk());
  auto removed = Must(devices::Decide(s, devices::RemoveFromInventory{}));
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_EQ(removed[1].device_identity_revoked().certificate_sha256(), "");
  EXPECT_THAT(devices::Decide(FoldDevice(removed, s), devices::CheckIn{"C02OLD", "Authenticate", "legacy"}),
              StatusIs(StatusCode::kUnauthenticated, "mdm.identity_revoked"));
  // An Android device has no MDM identity to revoke.
  en.enrolled.set_platform(pb::PLATFORM_ANDROID);
  auto android = Must(devices::Decide(FoldDevice(Must(devices::Decide(devices::DeviceState{}, en))),
                                      devices::RemoveFromInventory{}));
  EXPECT_EQ(android.size(), 1u);
}

// A refusal the stream's last event already records is not recorded again.
TEST(DepDeviceDecider, ARepeatedRefusalIsRecordedOnce) {
  DeviceState s = Fold(Must(Decide(DeviceState{}, ApplySync{"acc", "s", Phone("added", 1000)})));
  auto first = Must(Decide(s, RefuseEnrollment{"C02ABC", "enroll.no_profile", "U1"}));
  ASSERT_EQ(first.size(), 1u);
  s = Fold(first, s);
  EXPECT_TRUE(Must(Decide(s, RefuseEnrollment{"C02ABC", "enroll.no_profile", "U1"})).empty());
  EXPECT_EQ(Must(Decide(s, RefuseEnrollment{"C02ABC", "enroll.no_profile", "U2"})).size(), 1u);
  EXPECT_EQ(Must(Decide(s, RefuseEnrollment{"C02ABC", "enroll.no_user", "U1"})).size(), 1u);
  // After anything else happens to the device, the same refusal is news again.
  s = Fold(Must(Decide(s, AssignDevice{std::nullopt, "", std::string("user-1")})), s);
  EXPECT_EQ(Must(Decide(s, RefuseEnrollment{"C02ABC", "enroll.no_profile", "U1"})).size(), 1u);
}

}  // namespace
}  // namespace ae::domain::dep
