// PoliciesProjector: versions (an old PolicyCreated without content reads as version 1 with
// empty content), the usage index policy -> devices, and a delete dropping its rows.

#include <google/protobuf/util/time_util.h>

#include <nlohmann/json.hpp>

#include "projections/policies_projector.h"
#include "tests/support/test_support.h"

namespace ae::proj {
namespace {

using google::protobuf::util::TimeUtil;
using nlohmann::json;
using ::ae::testing::TempDir;

class PoliciesProjectorTest : public ::testing::Test {
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

  void Apply(events::Envelope e) {
    e.set_stream_version(++version_);
    *e.mutable_occurred_at() = TimeUtil::MillisecondsToTimestamp(1'700'000'000'000 + version_);
    RecordedEvent r;
    r.position = LogPosition{0, static_cast<int64_t>(version_)};
    r.envelope = std::move(e);
    ASSERT_THAT(projector_.Apply(r, *batch_), IsOk());
  }
  json Row(const std::string& cf, const std::string& key) {
    auto raw = batch_->Get(cf, key);
    EXPECT_THAT(raw, IsOk());
    if (!raw.ok() || !*raw) return json();
    return json::parse(**raw);
  }
  static events::Envelope Assigned(const std::string& device, const std::string& policy) {
    events::Envelope e;
    e.mutable_device_policy_assigned()->set_device_id(device);
    e.mutable_device_policy_assigned()->set_policy_id(policy);
    return e;
  }

  TempDir dir_;
  PoliciesProjector projector_;
  std::unique_ptr<ViewStore> views_;
  std::unique_ptr<ViewBatch> batch_;
  uint64_t version_ = 0;
};

TEST_F(PoliciesProjectorTest, AnOldPolicyWithoutContentIsVersionOneAndUpdatesAddVersions) {
  events::Envelope old;
  old.mutable_policy_created()->set_policy_id("kiosk");
  old.mutable_policy_created()->set_name("Kiosk");
  Apply(old);
  json current = Row("policies", "kiosk");
  EXPECT_EQ(current["version"], 1);
  EXPECT_EQ(current["name"], "Kiosk");
  json v1 = Row("policy_versions", PolicyVersionKey("kiosk", 1));
  EXPECT_EQ(v1["apple_payloads"], json::array());
  EXPECT_EQ(v1["android_config"], json::object());
  EXPECT_EQ(v1["sign"], false);

  events::Envelope up;
  auto* p = up.mutable_policy_updated();
  p->set_policy_id("kiosk");
  p->set_version(2);
  p->set_name("Kiosk");
  p->mutable_content()->set_android_config_json(R"({"kiosk_app":"com.example"})");
  Apply(up);
  EXPECT_EQ(Row("policies", "kiosk")["version"], 2);
  EXPECT_EQ(Row("policy_versions", PolicyVersionKey("kiosk", 2))["android_config"]["kiosk_app"],
            "com.example");
  EXPECT_TRUE(Row("policy_versions", PolicyVersionKey("kiosk", 1)).is_object());
}

TEST_F(PoliciesProjectorTest, TheUsageIndexFollowsAssignmentsAndEnrollmentsAndAnEmptyIdClears) {
  Apply(Assigned("C02A", "kiosk"));
  Apply(Assigned("C02B", "kiosk"));
  EXPECT_TRUE(*batch_->Get("policy_devices", "kiosk/C02A"));
  EXPECT_TRUE(*batch_->Get("policy_devices", "kiosk/C02B"));
  Apply(Assigned("C02A", "office"));
  EXPECT_FALSE(*batch_->Get("policy_devices", "kiosk/C02A"));
  EXPECT_TRUE(*batch_->Get("policy_devices", "office/C02A"));
  Apply(Assigned("C02B", ""));
  EXPECT_FALSE(*batch_->Get("policy_devices", "kiosk/C02B"));
  events::Envelope enrolled;
  enrolled.mutable_device_enrolled()->set_device_id("C02B");
  enrolled.mutable_device_enrolled()->set_policy_id("office");
  enrolled.mutable_device_enrolled()->set_ruleset_id("strict");
  Apply(enrolled);
  EXPECT_TRUE(*batch_->Get("policy_devices", "office/C02B"));
  EXPECT_TRUE(*batch_->Get("ruleset_devices", "strict/C02B"));
  EXPECT_EQ(Row("device_policies", "C02B")["policy_id"], "office");
}

TEST_F(PoliciesProjectorTest, ADeletedPolicyLeavesNoRow) {
  events::Envelope created;
  created.mutable_policy_created()->set_policy_id("kiosk");
  created.mutable_policy_created()->set_name("Kiosk");
  Apply(created);
  events::Envelope deleted;
  deleted.mutable_policy_deleted()->set_policy_id("kiosk");
  Apply(deleted);
  EXPECT_FALSE(*batch_->Get("policies", "kiosk"));
  EXPECT_FALSE(*batch_->Get("policy_versions", PolicyVersionKey("kiosk", 1)));
}

}  // namespace
}  // namespace ae::proj
