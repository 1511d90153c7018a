// The inventory of enrolled devices over the autoenroll binary: a device reads the same
// live, in the list, and as it was at a point of the log (rebuilt from its events), and
// leaves the live inventory when removed while its past stays readable.

#include <fstream>
#include <sstream>

#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;

constexpr const char* kAliceImei = "350925370583126";  // portal_export_bom_crlf.csv, alice

class InventoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = std::make_unique<EngineProcess>(dir_.Sub("data"));
    ASSERT_THAT(engine_->Start(), IsOk());
    admin_ = engine_->AdminToken();
  }

  std::string Fixture(const std::string& name) {
    std::ifstream in(SourceDir() + "/tests/fixtures/kme/" + name, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // Enrolls alice's Samsung phone (an imported KME device, hers); returns its device id.
  std::string EnrolledAndroid() {
    for (const char* u : {"alice", "bob"}) {
      EXPECT_EQ(engine_->Post("/v1/users", json{{"username", u}, {"role", "device_user"}}.dump(),
                              admin_).status,
                201);
    }
    auto import = engine_->Post("/v1/kme/imports", Fixture("portal_export_bom_crlf.csv"), admin_,
                                "text/csv");
    EXPECT_EQ(import.status, 200) << import.body;
    std::string token = engine_->Get("/v1/kme/settings", admin_).json.value("enrollment_token", "");
    json who = {{"enrollment_token", token}, {"imei", kAliceImei}};
    auto enrolled = engine_->Post("/enroll/android", who.dump());
    EXPECT_EQ(enrolled.status, 200) << enrolled.body;
    return enrolled.json.value("device_id", "");
  }

  TempDir dir_;
  std::unique_ptr<EngineProcess> engine_;
  std::string admin_;
};

TEST_F(InventoryTest, ADeviceReadsTheSameLiveListedAndAsOfAndItsPastOutlivesItsRemoval) {
  const std::string id = EnrolledAndroid();
  ASSERT_FALSE(id.empty());

  auto live = engine_->Get("/v1/devices/" + id, admin_);
  ASSERT_EQ(live.status, 200) << live.body;
  EXPECT_EQ(live.json["id"], id);
  EXPECT_EQ(live.json["platform"], "android");
  EXPECT_EQ(live.json["imei"], kAliceImei);
  EXPECT_EQ(live.json["udid"], "");
  EXPECT_EQ(live.json["status"], "enrolled");
  EXPECT_EQ(live.json["configured"], false);
  EXPECT_EQ(live.json["pending_commands"], 0);
  EXPECT_TRUE(live.json["last_command"].is_null());
  EXPECT_EQ(live.json["user"], "alice");
  EXPECT_TRUE(live.json["enrolled_at"].is_string());
  EXPECT_EQ(live.json["enrolled_at"], live.json["last_seen_at"]);

  auto android = engine_->Get("/v1/devices?platform=android", admin_);
  ASSERT_EQ(android.status, 200) << android.body;
  ASSERT_EQ(android.json["items"].size(), 1u);
  EXPECT_EQ(android.json["items"][0], live.json);
  auto apple = engine_->Get("/v1/devices?platform=apple", admin_);
  ASSERT_EQ(apple.status, 200) << apple.body;
  EXPECT_TRUE(apple.json["items"].empty());

  // As of the device's last event: the record rebuilt from its events is the live one.
  auto history = engine_->Get("/v1/devices/" + id + "/history", admin_);
  ASSERT_EQ(history.status, 200) << history.body;
  ASSERT_FALSE(history.json["items"].empty());
  const std::string at = history.json["items"].back()["position"].get<std::string>();
  auto then = engine_->Get("/v1/devices/" + id + "?as_of=" + at, admin_);
  ASSERT_EQ(then.status, 200) << then.body;
  EXPECT_EQ(then.json["as_of"], at);
  json rebuilt = then.json;
  rebuilt.erase("as_of");
  EXPECT_EQ(rebuilt, live.json);
  auto before = engine_->Get("/v1/devices/" + id + "?as_of=2000-01-01T00:00:00Z", admin_);
  EXPECT_EQ(before.status, 404) << before.body;
  EXPECT_EQ(before.json["error"]["code"], "device.not_found");

  // Removed: gone from the live inventory, still there as it was.
  ASSERT_EQ(engine_->Delete("/v1/devices/" + id, admin_).status, 200);
  auto gone = engine_->Get("/v1/devices/" + id, admin_);
  EXPECT_EQ(gone.status, 404) << gone.body;
  EXPECT_EQ(gone.json["error"]["code"], "device.not_found");
  EXPECT_TRUE(engine_->Get("/v1/devices", admin_).json["items"].empty());
  auto past = engine_->Get("/v1/devices/" + id + "?as_of=" + at, admin_);
  ASSERT_EQ(past.status, 200) << past.body;
  for (const char* k : {"id", "platform", "imei", "status", "configured", "enrolled_at",
                        "last_seen_at", "pending_commands", "last_command", "updated_at"}) {
    EXPECT_EQ(past.json[k], live.json[k]) << k;
  }
}

}  // namespace
}  // namespace ae::testing
