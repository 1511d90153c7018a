// Policies and rule sets: given events, when a command, then events or an error; what a
// policy may hold; and the delivery of a policy to a device.

#include "domain/policies/policies.h"
#include "tests/support/test_support.h"

namespace ae::domain::policies {
namespace {

using nlohmann::json;

template <typename State>
State Given(std::vector<Envelope> events) {
  State s;
  for (const auto& e : events) s = Evolve(std::move(s), e);
  return s;
}

pb::PolicyContent Content(const std::string& description) {
  pb::PolicyContent c;
  c.set_description(description);
  c.set_apple_payloads_json(R"([{"PayloadIdentifier":"com.x.wifi","PayloadType":"com.apple.wifi.managed"}])");
  return c;
}

TEST(PoliciesDecider, VersionsCountUpAndAnIdenticalUpdateDecidesNothing) {
  auto created = Decide(Given<PolicyState>({}), CreatePolicy{"office", "Office", Content("a")});
  ASSERT_THAT(created, IsOk());
  ASSERT_EQ(created->size(), 1u);
  EXPECT_EQ((*created)[0].policy_created().content().description(), "a");

  PolicyState v1 = Given<PolicyState>(*created);
  EXPECT_EQ(v1.version, 1u);
  auto updated = Decide(v1, UpdatePolicy{"office", "Office", Content("b")});
  ASSERT_THAT(updated, IsOk());
  ASSERT_EQ(updated->size(), 1u);
  EXPECT_EQ((*updated)[0].policy_updated().version(), 2u);

  std::vector<Envelope> history = *created;
  history.push_back((*updated)[0]);
  PolicyState v2 = Given<PolicyState>(history);
  EXPECT_EQ(v2.version, 2u);
  auto same = Decide(v2, UpdatePolicy{"office", "Office", Content("b")});
  ASSERT_THAT(same, IsOk());
  EXPECT_TRUE(same->empty());

  EXPECT_THAT(Decide(v2, UpdatePolicy{"office", "Lobby", Content("c")}),
              StatusIs(StatusCode::kInvalidArgument, "policy.rename_not_supported"));
  EXPECT_THAT(Decide(v2, CreatePolicy{"office", "Office", Content("c")}),
              StatusIs(StatusCode::kAlreadyExists, "policy.already_exists"));
}

TEST(PoliciesDecider, AnOldPolicyCreatedWithoutContentIsVersionOneWithEmptyContent) {
  Envelope old;
  old.mutable_policy_created()->set_policy_id("legacy");
  old.mutable_policy_created()->set_name("Legacy");
  PolicyState s = Given<PolicyState>({old});
  EXPECT_TRUE(s.exists);
  EXPECT_EQ(s.version, 1u);
  EXPECT_TRUE(s.content.apple_payloads_json().empty());
  auto updated = Decide(s, UpdatePolicy{"legacy", "Legacy", Content("now with content")});
  ASSERT_THAT(updated, IsOk());
  EXPECT_EQ((*updated)[0].policy_updated().version(), 2u);
}

TEST(PoliciesDecider, APolicyInUseIsNotDeletedAndADeletedOneCanBeMadeAgain) {
  auto created = Decide(Given<PolicyState>({}), CreatePolicy{"office", "Office", Content("a")});
  ASSERT_THAT(created, IsOk());
  PolicyState s = Given<PolicyState>(*created);
  EXPECT_THAT(Decide(s, DeletePolicy{"office", 3}),
              StatusIs(StatusCode::kFailedPrecondition, "policy.in_use"));
  auto deleted = Decide(s, DeletePolicy{"office", 0});
  ASSERT_THAT(deleted, IsOk());
  std::vector<Envelope> history = *created;
  history.push_back((*deleted)[0]);
  PolicyState gone = Given<PolicyState>(history);
  EXPECT_FALSE(gone.exists);
  EXPECT_THAT(Decide(gone, UpdatePolicy{"office", "Office", Content("b")}),
              StatusIs(StatusCode::kNotFound, "policy.not_found"));
  EXPECT_THAT(Decide(gone, CreatePolicy{"office", "Office", Content("b")}), IsOk());
}

TEST(PolicyContentRules, PayloadsNeedATypeAndAUniqueIdentifierAndTheErrorNamesTheField) {
  EXPECT_THAT(ValidateApplePayloads(json::parse(
                  R"([{"PayloadType":"com.apple.wifi.managed","PayloadIdentifier":"a"}])")),
              IsOk());
  Status missing = ValidateApplePayloads(json::parse(
      R"([{"PayloadType":"t","PayloadIdentifier":"a"},{"PayloadIdentifier":"b"}])"));
  EXPECT_THAT(missing, StatusIs(StatusCode::kInvalidArgument, "policy.invalid_payload"));
  EXPECT_EQ(missing.field(), "apple_payloads[1].PayloadType");
  Status duplicate = ValidateApplePayloads(json::parse(
      R"([{"PayloadType":"t","PayloadIdentifier":"a"},{"PayloadType":"u","PayloadIdentifier":"a"}])"));
  EXPECT_THAT(duplicate,
              StatusIs(StatusCode::kInvalidArgument, "policy.duplicate_payload_identifier"));
  EXPECT_EQ(duplicate.field(), "apple_payloads[1].PayloadIdentifier");
  Status null_value = ValidateApplePayloads(
      json::parse(R"([{"PayloadType":"t","PayloadIdentifier":"a","SSID_STR":null}])"));
  EXPECT_EQ(null_value.field(), "apple_payloads[0].SSID_STR");
  EXPECT_EQ(ValidateApplePayloads(json::object()).field(), "apple_payloads");
  EXPECT_THAT(ValidateAndroidConfig(json::array()),
              StatusIs(StatusCode::kInvalidArgument, "policy.invalid_android_config"));
}

TEST(PolicyContentRules, APayloadOrConfigurationCarryingASecretIsRefused) {
  Status wifi = ValidateApplePayloads(json::parse(
      R"([{"PayloadType":"com.apple.wifi.managed","PayloadIdentifier":"w","SSID_STR":"x","Password":"hunter2"}])"));
  EXPECT_THAT(wifi, StatusIs(StatusCode::kInvalidArgument, "policy.secret_in_payload"));
  EXPECT_EQ(wifi.field(), "apple_payloads[0].Password");
  EXPECT_EQ(wifi.message().find("hunter2"), std::string::npos);
  Status nested = ValidateAndroidConfig(json::parse(R"({"vpn":{"shared_secret":"s"}})"));
  EXPECT_THAT(nested, StatusIs(StatusCode::kInvalidArgument, "policy.secret_in_payload"));
  EXPECT_EQ(nested.field(), "android_config.vpn.shared_secret");
}

TEST(RuleSetRules, ConditionsAndActionsFollowTheGrammarAndTheErrorNamesTheRule) {
  auto rule = [](const std::string& condition, const std::string& action) {
    pb::ComplianceRule r;
    r.set_condition(condition);
    r.set_action(action);
    return r;
  };
  EXPECT_THAT(ValidateRules({rule("os_version < 17.0", "notify"), rule("model == iPhone14,2", "lock"),
                             rule("platform != \"android\"", "wipe")}),
              IsOk());
  Status version = ValidateRules({rule("os_version < 17.0", "notify"), rule("os_version < new", "lock")});
  EXPECT_THAT(version, StatusIs(StatusCode::kInvalidArgument, "ruleset.invalid_condition"));
  EXPECT_EQ(version.field(), "rules[1].condition");
  Status model = ValidateRule(rule("model < X", "lock"), 0);
  EXPECT_EQ(model.field(), "rules[0].condition");
  Status unknown = ValidateRule(rule("battery < 10", "lock"), 2);
  EXPECT_EQ(unknown.field(), "rules[2].condition");
  Status action = ValidateRules({rule("os_version >= 16", "explode")});
  EXPECT_THAT(action, StatusIs(StatusCode::kInvalidArgument, "ruleset.invalid_action"));
  EXPECT_EQ(action.field(), "rules[0].action");
}

Envelope Enrolled(const std::string& device, pb::Platform platform) {
  Envelope e;
  e.mutable_device_enrolled()->set_device_id(device);
  e.mutable_device_enrolled()->set_platform(platform);
  return e;
}

TEST(PolicyDelivery, AnEnrollmentQueuesInstallProfileAndTheAnswerIsAcknowledgedOnce) {
  devices::Enroll enroll;
  enroll.enrolled.set_device_id("C02A");
  enroll.enrolled.set_platform(pb::PLATFORM_APPLE);
  Delivered v1{"office", 1, "", 0, kChannelAppleMdm};
  auto out = Decide(Given<DeliveryState>({}), EnrollAndDeliver{enroll, Deliver{v1, "cmd-1"}});
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), 3u);
  EXPECT_TRUE((*out)[0].has_device_enrolled());
  EXPECT_EQ((*out)[1].device_command_queued().request_type(), "InstallProfile");
  EXPECT_EQ((*out)[1].device_command_queued().command_uuid(), "cmd-1");
  EXPECT_EQ((*out)[2].device_policy_delivered().policy_version(), 1u);
  EXPECT_EQ((*out)[2].device_policy_delivered().channel(), "apple_mdm");

  DeliveryState s = Given<DeliveryState>(*out);
  // The same version again: nothing new.
  auto again = Decide(s, Deliver{v1, "cmd-2"});
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->empty());

  auto acked = Decide(s, CompleteAndAcknowledge{{"cmd-1", "Acknowledged", "", false, ""}});
  ASSERT_THAT(acked, IsOk());
  ASSERT_EQ(acked->size(), 2u);
  EXPECT_TRUE((*acked)[0].has_device_command_completed());
  EXPECT_EQ((*acked)[1].device_policy_acknowledged().policy_version(), 1u);
  EXPECT_EQ((*acked)[1].device_policy_acknowledged().status(), "Acknowledged");

  std::vector<Envelope> history = *out;
  for (const auto& e : *acked) history.push_back(e);
  DeliveryState after = Given<DeliveryState>(history);
  ASSERT_TRUE(after.acknowledged.has_value());
  EXPECT_EQ(after.acknowledged->policy_version, 1u);
  auto repeated = Decide(after, CompleteAndAcknowledge{{"cmd-1", "Acknowledged", "", false, ""}});
  ASSERT_THAT(repeated, IsOk());
  EXPECT_TRUE(repeated->empty());

  // A new version goes out.
  auto v2 = Decide(after, Deliver{{"office", 2, "", 0, kChannelAppleMdm}, "cmd-3"});
  ASSERT_THAT(v2, IsOk());
  ASSERT_EQ(v2->size(), 2u);
  EXPECT_EQ((*v2)[1].device_policy_delivered().policy_version(), 2u);
}

TEST(PolicyDelivery, TheAndroidAgentAcknowledgesOnlyWhatItWasHanded) {
  DeliveryState s = Given<DeliveryState>({Enrolled("imei:1", pb::PLATFORM_ANDROID)});
  Delivered what{"office", 2, "strict", 1, kChannelAndroidAgent};
  auto handed = Decide(s, Deliver{what, ""});
  ASSERT_THAT(handed, IsOk());
  ASSERT_EQ(handed->size(), 1u);
  EXPECT_EQ((*handed)[0].device_policy_delivered().channel(), "android_agent");
  DeliveryState after = Given<DeliveryState>({Enrolled("imei:1", pb::PLATFORM_ANDROID), (*handed)[0]});
  EXPECT_THAT(Decide(after, AcknowledgeAndroid{{"office", 1, "strict", 1, ""}, "Acknowledged", ""}),
              StatusIs(StatusCode::kFailedPrecondition, "policy.not_delivered"));
  auto ack = Decide(after, AcknowledgeAndroid{what, "Acknowledged", ""});
  ASSERT_THAT(ack, IsOk());
  ASSERT_EQ(ack->size(), 1u);
  EXPECT_EQ((*ack)[0].device_policy_acknowledged().ruleset_version(), 1u);
  // Not enrolled: nothing is handed.
  auto none = Decide(Given<DeliveryState>({}), Deliver{what, ""});
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace ae::domain::policies
