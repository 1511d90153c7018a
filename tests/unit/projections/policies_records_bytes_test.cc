// PoliciesProjector: the exact bytes of every record of the policies views after each kind
// of event (a rebuilt view must equal a live one byte for byte, and older views must keep
// reading).

#include <google/protobuf/util/time_util.h>

#include "projections/policies_projector.h"
#include "tests/support/test_support.h"

namespace ae::proj {
namespace {

using google::protobuf::util::TimeUtil;
using ::ae::testing::TempDir;

constexpr int64_t kT0 = 1'700'000'000'000;

class PoliciesBytesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ViewStoreOptions o;
    o.path = dir_.Sub("views");
    o.column_families = projector_.column_families();
    auto v = ViewStore::Open(o);
    ASSERT_THAT(v, IsOk());
    views_ = std::move(v).value();
    batch_ = std::make_unique<ViewBatch>(*views_, ViewBatch::Isolated{});
  }

  // Applies `e` as the next event of the log, one second after the last.
  void Apply(events::Envelope e) {
    ++n_;
    *e.mutable_occurred_at() = TimeUtil::MillisecondsToTimestamp(kT0 + n_ * 1000);
    RecordedEvent r;
    r.position = LogPosition{0, static_cast<int64_t>(n_)};
    r.envelope = std::move(e);
    ASSERT_THAT(projector_.Apply(r, *batch_), IsOk());
  }
  // The value of `key` in `cf`; "<none>" when there is none.
  std::string Row(const std::string& cf, const std::string& key) {
    auto raw = batch_->Get(cf, key);
    EXPECT_THAT(raw, IsOk());
    if (!raw.ok() || !*raw) return "<none>";
    return **raw;
  }
  static events::Envelope Delivered(const std::string& command_uuid) {
    events::Envelope e;
    auto* p = e.mutable_device_policy_delivered();
    p->set_device_id("C02A");
    p->set_policy_id("kiosk");
    p->set_policy_version(2);
    p->set_ruleset_id("strict");
    p->set_ruleset_version(1);
    p->set_channel("apple_mdm");
    p->set_command_uuid(command_uuid);
    return e;
  }
  static events::Envelope Acknowledged(const std::string& command_uuid,
                                       const std::string& status, const std::string& error) {
    events::Envelope e;
    auto* p = e.mutable_device_policy_acknowledged();
    p->set_device_id("C02A");
    p->set_policy_id("kiosk");
    p->set_policy_version(2);
    p->set_command_uuid(command_uuid);
    p->set_status(status);
    p->set_error(error);
    return e;
  }

  TempDir dir_;
  PoliciesProjector projector_;
  std::unique_ptr<ViewStore> views_;
  std::unique_ptr<ViewBatch> batch_;
  int64_t n_ = 0;
};

TEST_F(PoliciesBytesTest, PolicyAndVersionBytesThroughCreateUpdateAndDelete) {
  events::Envelope created;
  auto* c = created.mutable_policy_created();
  c->set_policy_id("kiosk");
  c->set_name("Kiosk");
  c->mutable_content()->set_description("Single app");
  c->mutable_content()->set_apple_payloads_json(
      R"([{"PayloadType":"com.apple.wifi.managed","SSID_STR":"corp","HIDDEN_NETWORK":false}])");
  c->mutable_content()->set_sign_apple_profile(true);
  c->mutable_content()->set_android_config_json(R"({"kiosk_app":"com.example","lock":1.5})");
  Apply(created);
  EXPECT_EQ(Row("policies", "kiosk"),
            R"({"created_at":"2023-11-14T22:13:21.000Z","description":"Single app","id":"kiosk","last_position":"1","name":"Kiosk","updated_at":"2023-11-14T22:13:21.000Z","version":1})");
  EXPECT_EQ(Row("policy_versions", PolicyVersionKey("kiosk", 1)),
            R"({"android_config":{"kiosk_app":"com.example","lock":1.5},"apple_payloads":[{"HIDDEN_NETWORK":false,"PayloadType":"com.apple.wifi.managed","SSID_STR":"corp"}],"at":"2023-11-14T22:13:21.000Z","description":"Single app","id":"kiosk","name":"Kiosk","sign":true,"version":1})");

  events::Envelope updated;
  auto* u = updated.mutable_policy_updated();
  u->set_policy_id("kiosk");
  u->set_version(2);
  u->set_name("Kiosk Mode");
  u->mutable_content()->set_apple_payloads_json("not json");  // reads as no payloads
  Apply(updated);
  EXPECT_EQ(Row("policies", "kiosk"),
            R"({"created_at":"2023-11-14T22:13:21.000Z","description":"","id":"kiosk","last_position":"2","name":"Kiosk Mode","updated_at":"2023-11-14T22:13:22.000Z","version":2})");
  EXPECT_EQ(Row("policy_versions", PolicyVersionKey("kiosk", 2)),
            R"({"android_config":{},"apple_payloads":[],"at":"2023-11-14T22:13:22.000Z","description":"","id":"kiosk","name":"Kiosk Mode","sign":false,"version":2})");
  EXPECT_EQ(PolicyVersionKey("kiosk", 2), "kiosk/0000000002");

  events::Envelope unknown;  // an update of a policy the view does not hold
  unknown.mutable_policy_updated()->set_policy_id("gone");
  unknown.mutable_policy_updated()->set_version(2);
  Apply(unknown);
  EXPECT_EQ(Row("policies", "gone"), "<none>");

  events::Envelope recreated;  // a create over an existing id starts again at version 1
  recreated.mutable_policy_created()->set_policy_id("kiosk");
  recreated.mutable_policy_created()->set_name("Kiosk");
  Apply(recreated);
  EXPECT_EQ(Row("policies", "kiosk"),
            R"({"created_at":"2023-11-14T22:13:24.000Z","description":"","id":"kiosk","last_position":"4","name":"Kiosk","updated_at":"2023-11-14T22:13:24.000Z","version":1})");
  EXPECT_EQ(Row("policy_versions", PolicyVersionKey("kiosk", 2)), "<none>");

  events::Envelope deleted;
  deleted.mutable_policy_deleted()->set_policy_id("kiosk");
  Apply(deleted);
  EXPECT_EQ(Row("policies", "kiosk"), "<none>");
  EXPECT_EQ(Row("policy_versions", PolicyVersionKey("kiosk", 1)), "<none>");
}

TEST_F(PoliciesBytesTest, RuleSetAndVersionBytesThroughCreateUpdateAndDelete) {
  events::Envelope created;
  auto* c = created.mutable_ruleset_created();
  c->set_ruleset_id("strict");
  c->set_name("Strict");
  c->set_description("Locks old devices");
  auto* r = c->add_rules();
  r->set_condition("os_version < 17.0");
  r->set_action("lock");
  r->set_description("too old");
  c->add_rules()->set_action("notify");
  Apply(created);
  EXPECT_EQ(Row("rulesets", "strict"),
            R"({"created_at":"2023-11-14T22:13:21.000Z","description":"Locks old devices","id":"strict","last_position":"1","name":"Strict","updated_at":"2023-11-14T22:13:21.000Z","version":1})");
  EXPECT_EQ(Row("ruleset_versions", PolicyVersionKey("strict", 1)),
            R"({"at":"2023-11-14T22:13:21.000Z","description":"Locks old devices","id":"strict","name":"Strict","rules":[{"action":"lock","condition":"os_version < 17.0","description":"too old"},{"action":"notify","condition":"","description":""}],"version":1})");

  events::Envelope updated;
  auto* u = updated.mutable_ruleset_updated();
  u->set_ruleset_id("strict");
  u->set_version(2);
  u->set_name("Strict");
  Apply(updated);
  EXPECT_EQ(Row("rulesets", "strict"),
            R"({"created_at":"2023-11-14T22:13:21.000Z","description":"","id":"strict","last_position":"2","name":"Strict","updated_at":"2023-11-14T22:13:22.000Z","version":2})");
  EXPECT_EQ(Row("ruleset_versions", PolicyVersionKey("strict", 2)),
            R"({"at":"2023-11-14T22:13:22.000Z","description":"","id":"strict","name":"Strict","rules":[],"version":2})");

  events::Envelope deleted;
  deleted.mutable_ruleset_deleted()->set_ruleset_id("strict");
  Apply(deleted);
  EXPECT_EQ(Row("rulesets", "strict"), "<none>");
  EXPECT_EQ(Row("ruleset_versions", PolicyVersionKey("strict", 1)), "<none>");
  EXPECT_EQ(Row("ruleset_versions", PolicyVersionKey("strict", 2)), "<none>");
}

TEST_F(PoliciesBytesTest, DevicePolicyBytesThroughAssignmentDeliveryAcknowledgementAndEnrollment) {
  events::Envelope assigned;
  assigned.mutable_device_policy_assigned()->set_device_id("C02A");
  assigned.mutable_device_policy_assigned()->set_policy_id("kiosk");
  Apply(assigned);
  EXPECT_EQ(Row("device_policies", "C02A"), R"({"policy_id":"kiosk","ruleset_id":""})");
  events::Envelope ruleset;
  ruleset.mutable_device_ruleset_assigned()->set_device_id("C02A");
  ruleset.mutable_device_ruleset_assigned()->set_ruleset_id("strict");
  Apply(ruleset);
  EXPECT_EQ(Row("device_policies", "C02A"), R"({"policy_id":"kiosk","ruleset_id":"strict"})");
  EXPECT_EQ(Row("policy_devices", "kiosk/C02A"), "");
  EXPECT_EQ(Row("ruleset_devices", "strict/C02A"), "");

  Apply(Delivered("cmd-1"));
  Apply(Delivered("cmd-2"));
  EXPECT_EQ(Row("device_policies", "C02A"),
            R"({"delivered":{"at":"2023-11-14T22:13:24.000Z","channel":"apple_mdm","command_uuid":"cmd-2","policy_id":"kiosk","policy_version":2,"ruleset_id":"strict","ruleset_version":1},"pending":{"cmd-1":{"policy_id":"kiosk","policy_version":2,"ruleset_id":"strict","ruleset_version":1},"cmd-2":{"policy_id":"kiosk","policy_version":2,"ruleset_id":"strict","ruleset_version":1}},"policy_id":"kiosk","ruleset_id":"strict"})");
  Apply(Acknowledged("cmd-1", "Error", "MDM refused"));
  EXPECT_EQ(Row("device_policies", "C02A"),
            R"({"delivered":{"at":"2023-11-14T22:13:24.000Z","channel":"apple_mdm","command_uuid":"cmd-2","policy_id":"kiosk","policy_version":2,"ruleset_id":"strict","ruleset_version":1},"last_error":{"at":"2023-11-14T22:13:25.000Z","command_uuid":"cmd-1","error":"MDM refused","policy_id":"kiosk","policy_version":2,"ruleset_id":"","ruleset_version":0,"status":"Error"},"pending":{"cmd-2":{"policy_id":"kiosk","policy_version":2,"ruleset_id":"strict","ruleset_version":1}},"policy_id":"kiosk","ruleset_id":"strict"})");
  Apply(Acknowledged("cmd-2", "Acknowledged", ""));
  EXPECT_EQ(Row("device_policies", "C02A"),
            R"({"acknowledged":{"at":"2023-11-14T22:13:26.000Z","command_uuid":"cmd-2","error":"","policy_id":"kiosk","policy_version":2,"ruleset_id":"","ruleset_version":0,"status":"Acknowledged"},"delivered":{"at":"2023-11-14T22:13:24.000Z","channel":"apple_mdm","command_uuid":"cmd-2","policy_id":"kiosk","policy_version":2,"ruleset_id":"strict","ruleset_version":1},"policy_id":"kiosk","ruleset_id":"strict"})");

  events::Envelope agent;  // the Android agent's delivery has no command
  auto* d = agent.mutable_device_policy_delivered();
  d->set_device_id("C02A");
  d->set_policy_id("kiosk");
  d->set_policy_version(2);
  d->set_channel("android_agent");
  Apply(agent);
  Apply(Acknowledged("cmd-9", "Error", "unknown command"));
  EXPECT_EQ(Row("device_policies", "C02A"),
            R"({"acknowledged":{"at":"2023-11-14T22:13:26.000Z","command_uuid":"cmd-2","error":"","policy_id":"kiosk","policy_version":2,"ruleset_id":"","ruleset_version":0,"status":"Acknowledged"},"delivered":{"at":"2023-11-14T22:13:27.000Z","channel":"android_agent","command_uuid":"","policy_id":"kiosk","policy_version":2,"ruleset_id":"","ruleset_version":0},"last_error":{"at":"2023-11-14T22:13:28.000Z","command_uuid":"cmd-9","error":"unknown command","policy_id":"kiosk","policy_version":2,"ruleset_id":"","ruleset_version":0,"status":"Error"},"policy_id":"kiosk","ruleset_id":"strict"})");

  // A new enrollment forgets what was handed (but not the last error).
  Apply(Delivered("cmd-3"));
  events::Envelope enrolled;
  enrolled.mutable_device_enrolled()->set_device_id("C02A");
  enrolled.mutable_device_enrolled()->set_policy_id("office");
  enrolled.mutable_device_enrolled()->set_ruleset_id("strict");
  Apply(enrolled);
  EXPECT_EQ(Row("device_policies", "C02A"),
            R"({"last_error":{"at":"2023-11-14T22:13:28.000Z","command_uuid":"cmd-9","error":"unknown command","policy_id":"kiosk","policy_version":2,"ruleset_id":"","ruleset_version":0,"status":"Error"},"policy_id":"office","ruleset_id":"strict"})");
  EXPECT_EQ(Row("policy_devices", "kiosk/C02A"), "<none>");
  EXPECT_EQ(Row("policy_devices", "office/C02A"), "");
}

TEST_F(PoliciesBytesTest, ADeliveryToADeviceWithoutAssignmentStartsItsRecord) {
  events::Envelope enrolled;  // no policy, no rule set, no record: nothing written
  enrolled.mutable_device_enrolled()->set_device_id("C02B");
  Apply(enrolled);
  EXPECT_EQ(Row("device_policies", "C02B"), "<none>");
  events::Envelope ack;  // an acknowledgement without a record writes none
  ack.mutable_device_policy_acknowledged()->set_device_id("C02B");
  ack.mutable_device_policy_acknowledged()->set_status("Acknowledged");
  Apply(ack);
  EXPECT_EQ(Row("device_policies", "C02B"), "<none>");
  events::Envelope delivered;
  auto* d = delivered.mutable_device_policy_delivered();
  d->set_device_id("C02B");
  d->set_ruleset_id("strict");
  d->set_ruleset_version(3);
  d->set_channel("android_agent");
  Apply(delivered);
  EXPECT_EQ(Row("device_policies", "C02B"),
            R"({"delivered":{"at":"2023-11-14T22:13:23.000Z","channel":"android_agent","command_uuid":"","policy_id":"","policy_version":0,"ruleset_id":"strict","ruleset_version":3},"policy_id":"","ruleset_id":""})");
}

}  // namespace
}  // namespace ae::proj
