// Policies and rule sets over the autoenroll binary: versions, history, validation, the
// in-use refusal, and delivery to a simulated iPhone (InstallProfile on the MDM command
// channel, against the DEP simulator) and to an Android agent (KME).

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "adapters/apple_mdm/machine_info.h"
#include "adapters/simulators/apple_dep_simulator.h"
#include "adapters/simulators/apple_device_simulator.h"
#include "events/base/crypto.h"
#include "tests/support/engine_process.h"
#include "tests/support/view_compare.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;

constexpr char kServer[] = "MDM Server 1";
constexpr const char* kAliceImei = "350925370583126";  // portal_export_bom_crlf.csv, alice

json OfficePolicy(bool sign) {
  return {{"name", "Office"},
          {"description", "Wi-Fi and passcode"},
          {"sign", sign},
          {"apple_payloads",
           {{{"PayloadType", "com.apple.wifi.managed"},
             {"PayloadIdentifier", "com.example.wifi"},
             {"SSID_STR", "Office"},
             {"AutoJoin", true}},
            {{"PayloadType", "com.apple.mobiledevice.passwordpolicy"},
             {"PayloadIdentifier", "com.example.passcode"},
             {"minLength", 6}}}},
          {"android_config", {{"wifi_ssid", "Office"}, {"camera_disabled", true}}}};
}

class PoliciesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto authority = mdm::TestDeviceAuthority::Generate();
    ASSERT_TRUE(authority.ok());
    authority_.emplace(std::move(*authority));
    std::string ca_path = dir_.Sub("device-ca.pem");
    std::ofstream(ca_path) << authority_->CaPem();
    engine_ = std::make_unique<EngineProcess>(
        dir_.Sub("data"), std::vector<std::string>{"--apple-dep-url", sim_.base_url(),
                                                   "--dep-sync-interval", "3600",
                                                   "--apple-device-ca", ca_path});
    ASSERT_THAT(engine_->Start(), IsOk());
    admin_ = engine_->AdminToken();
  }

  HttpAnswer Put(const std::string& path, const json& body) {
    return engine_->Send("PUT", path, body.dump(), admin_, "application/json");
  }
  HttpAnswer Patch(const std::string& path, const json& body) {
    return engine_->Send("PATCH", path, body.dump(), admin_, "application/json");
  }
  std::vector<json> Events(const std::string& type) {
    auto r = engine_->Get("/v1/events?limit=1000&type=" + type, admin_);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<json> out;
    for (const auto& e : r.json["items"]) out.push_back(e["data"]);
    return out;
  }

  // A DEP device assigned a profile and a user (so it may enroll); returns its serial.
  std::string EnrollableIphone() {
    auto acc = engine_->Post("/v1/dep/accounts", json{{"name", kServer}}.dump(), admin_);
    EXPECT_EQ(acc.status, 201) << acc.body;
    std::string id = acc.json.value("id", "");
    auto cert = engine_->Get("/v1/dep/accounts/" + id + "/certificate", admin_);
    auto p7m = sim_.IssueToken(cert.body, kServer);
    EXPECT_TRUE(p7m.ok());
    EXPECT_THAT(sim_.AddDevices(kServer, sim::AppleDepSimulator::MakeDevices("C02", 1)), IsOk());
    auto up = engine_->Send("PUT", "/v1/dep/accounts/" + id + "/token", *p7m, admin_,
                            "application/pkcs7-mime");
    EXPECT_EQ(up.status, 200) << up.body;
    std::string serial;
    EXPECT_TRUE(WaitFor([&] {
      auto items = engine_->Get("/v1/dep/devices", admin_).json["items"];
      if (items.empty()) return false;
      serial = items[0]["serial_number"];
      return true;
    }, std::chrono::seconds(30)));
    auto profile = engine_->Post("/v1/dep/profiles",
                                 json{{"account_id", id}, {"profile_name", "Staff"}}.dump(), admin_);
    EXPECT_EQ(profile.status, 201) << profile.body;
    EXPECT_EQ(engine_->Post("/v1/users", R"({"username":"dora","role":"device_user"})", admin_).status,
              201);
    EXPECT_EQ(Patch("/v1/dep/devices/" + serial,
                    {{"profile_id", profile.json["id"]}, {"user", "dora"}, {"policy", "Office"}})
                  .status,
              200);
    EXPECT_TRUE(WaitFor([&] {
      return engine_->Get("/v1/dep/devices/" + serial, admin_).json["profile_status"] == "assigned";
    }, std::chrono::seconds(30)));
    return serial;
  }

  std::unique_ptr<sim::AppleDeviceSimulator> Phone(const std::string& serial) {
    sim::AppleDeviceSimulatorOptions o;
    o.base_url = "http://127.0.0.1:" + std::to_string(engine_->port());
    o.serial = serial;
    o.udid = "00008030-" + serial;
    o.authority = &*authority_;
    return std::make_unique<sim::AppleDeviceSimulator>(o);
  }

  // Enrolls the phone through check-in; the commands it then receives.
  std::vector<mdm::Command> EnrollAndRun(sim::AppleDeviceSimulator& phone) {
    auto enrolled = phone.Enroll("/enroll/apple");
    EXPECT_TRUE(enrolled.ok() && enrolled->http_status == 200);
    EXPECT_EQ(*phone.Authenticate(), 200);
    EXPECT_EQ(*phone.TokenUpdate(false), 200);
    auto commands = phone.RunCommandLoop(10);
    EXPECT_TRUE(commands.ok()) << commands.status().ToString();
    return commands.ok() ? *commands : std::vector<mdm::Command>{};
  }

  std::string Fixture(const std::string& name) {
    std::ifstream in(SourceDir() + "/tests/fixtures/kme/" + name, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  TempDir dir_;
  std::optional<mdm::TestDeviceAuthority> authority_;
  sim::AppleDepSimulator sim_;
  std::unique_ptr<EngineProcess> engine_;
  std::string admin_;
};

size_t CountType(const std::vector<mdm::Command>& commands, const std::string& type) {
  return static_cast<size_t>(std::count_if(commands.begin(), commands.end(),
                                           [&](const auto& c) { return c.request_type == type; }));
}

TEST_F(PoliciesTest, APolicyIsVersionedReadAtEachVersionAndItsHistoryNamesWhoAndWhen) {
  auto created = engine_->Post("/v1/policies", OfficePolicy(false).dump(), admin_);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json["id"], "office");
  EXPECT_EQ(created.json["name"], "Office");
  EXPECT_EQ(created.json["version"], 1);
  EXPECT_EQ(created.json["apple_payloads"].size(), 2u);
  EXPECT_EQ(created.json["android_config"]["wifi_ssid"], "Office");
  EXPECT_EQ(created.json["sign"], false);

  json v2 = OfficePolicy(false);
  v2["apple_payloads"][1]["minLength"] = 8;
  auto updated = Put("/v1/policies/office", v2);
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.json["version"], 2);
  auto same = Put("/v1/policies/office", v2);
  ASSERT_EQ(same.status, 200) << same.body;
  EXPECT_EQ(same.json["version"], 2);  // identical: no new version
  EXPECT_EQ(same.json["changed"], false);

  auto current = engine_->Get("/v1/policies/office", admin_);
  ASSERT_EQ(current.status, 200);
  EXPECT_EQ(current.json["version"], 2);
  EXPECT_EQ(current.json["apple_payloads"][1]["minLength"], 8);
  auto first = engine_->Get("/v1/policies/Office?version=1", admin_);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.json["version"], 1);
  EXPECT_EQ(first.json["apple_payloads"][1]["minLength"], 6);
  EXPECT_EQ(first.json["current_version"], 2);
  auto missing = engine_->Get("/v1/policies/office?version=3", admin_);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json["error"]["code"], "policy.version_not_found");

  auto list = engine_->Get("/v1/policies", admin_);
  ASSERT_EQ(list.json["items"].size(), 1u);
  EXPECT_EQ(list.json["items"][0]["name"], "Office");
  EXPECT_EQ(list.json["items"][0]["version"], 2);

  auto history = engine_->Get("/v1/policies/office/history", admin_);
  ASSERT_EQ(history.status, 200) << history.body;
  ASSERT_EQ(history.json["items"].size(), 2u);
  EXPECT_EQ(history.json["items"][0]["type"], "PolicyCreated");
  EXPECT_EQ(history.json["items"][1]["type"], "PolicyUpdated");
  EXPECT_EQ(history.json["items"][1]["summary"], "policy Office version 2");
  EXPECT_FALSE(history.json["items"][1]["actor"]["id"].get<std::string>().empty());
  EXPECT_FALSE(history.json["items"][1]["time"].get<std::string>().empty());

  // Rule sets the same way.
  auto rs = engine_->Post("/v1/rulesets",
                          R"({"name":"Strict","rules":[{"condition":"os_version < 17.0","action":"notify"}]})",
                          admin_);
  ASSERT_EQ(rs.status, 201) << rs.body;
  EXPECT_EQ(rs.json["version"], 1);
  auto rs2 = Put("/v1/rulesets/strict",
                 json::parse(R"({"rules":[{"condition":"os_version < 17.4","action":"lock"}]})"));
  ASSERT_EQ(rs2.status, 200) << rs2.body;
  EXPECT_EQ(rs2.json["version"], 2);
  EXPECT_EQ(engine_->Get("/v1/rulesets/strict?version=1", admin_).json["rules"][0]["action"],
            "notify");
  EXPECT_EQ(engine_->Get("/v1/rulesets/strict/history", admin_).json["items"].size(), 2u);
}

TEST_F(PoliciesTest, BadContentIsRefusedNamingTheFieldAndNothingIsWritten) {
  json no_type = OfficePolicy(false);
  no_type["apple_payloads"][1].erase("PayloadType");
  auto r = engine_->Post("/v1/policies", no_type.dump(), admin_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json["error"]["code"], "policy.invalid_payload");
  EXPECT_EQ(r.json["error"]["field"], "apple_payloads[1].PayloadType");

  json duplicate = OfficePolicy(false);
  duplicate["apple_payloads"][1]["PayloadIdentifier"] = "com.example.wifi";
  r = engine_->Post("/v1/policies", duplicate.dump(), admin_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json["error"]["field"], "apple_payloads[1].PayloadIdentifier");

  json secret = OfficePolicy(false);
  secret["apple_payloads"][0]["Password"] = "hunter2-never-kept";
  r = engine_->Post("/v1/policies", secret.dump(), admin_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json["error"]["code"], "policy.secret_in_payload");
  EXPECT_EQ(r.json["error"]["field"], "apple_payloads[0].Password");

  r = engine_->Post("/v1/rulesets",
                    R"({"name":"S","rules":[{"condition":"os_version < 17","action":"notify"},
                                            {"condition":"os_version < soon","action":"lock"}]})",
                    admin_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json["error"]["field"], "rules[1].condition");
  r = engine_->Post("/v1/rulesets", R"({"name":"S","rules":[{"condition":"model == X","action":"burn"}]})",
                    admin_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json["error"]["code"], "ruleset.invalid_action");
  EXPECT_EQ(r.json["error"]["field"], "rules[0].action");

  EXPECT_TRUE(engine_->Get("/v1/policies", admin_).json["items"].empty());
  EXPECT_TRUE(engine_->Get("/v1/rulesets", admin_).json["items"].empty());
  EXPECT_TRUE(Events("PolicyCreated").empty());
  EXPECT_EQ(engine_->LogText().find("hunter2"), std::string::npos);
}

TEST_F(PoliciesTest, AnEnrolledIphoneInstallsItsSignedPolicyAndEachNewVersion) {
  ASSERT_EQ(engine_->Post("/v1/policies", OfficePolicy(true).dump(), admin_).status, 201);
  std::string serial = EnrollableIphone();
  auto phone = Phone(serial);
  auto commands = EnrollAndRun(*phone);
  EXPECT_EQ(CountType(commands, "InstallProfile"), 1u);

  // The device installed the profile; its signature is the engine's signing certificate's.
  ASSERT_EQ(phone->installed_profiles().count("com.autoenroll.policy.office"), 1u);
  const auto& installed = phone->installed_profiles().at("com.autoenroll.policy.office");
  EXPECT_TRUE(installed.is_signed);
  EXPECT_EQ(installed.payload_identifiers,
            (std::vector<std::string>{"com.example.wifi", "com.example.passcode"}));
  auto pem = engine_->Get("/v1/mdm/signing-certificate", admin_);
  ASSERT_EQ(pem.status, 200);
  BIO* bio = BIO_new_mem_buf(pem.body.data(), static_cast<int>(pem.body.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  ASSERT_NE(cert, nullptr);
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  std::string der_text(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  X509_free(cert);
  BIO_free(bio);
  EXPECT_EQ(installed.signer_certificate_sha256, crypto::Hex(crypto::Sha256(der_text)));

  auto delivered = Events("DevicePolicyDelivered");
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0]["policy_id"], "office");
  EXPECT_EQ(delivered[0]["policy_version"], 1);
  EXPECT_EQ(delivered[0]["channel"], "apple_mdm");
  auto acked = Events("DevicePolicyAcknowledged");
  ASSERT_EQ(acked.size(), 1u);
  EXPECT_EQ(acked[0]["status"], "Acknowledged");
  auto device = engine_->Get("/v1/devices/" + serial, admin_);
  ASSERT_EQ(device.status, 200);
  EXPECT_EQ(device.json["policy"], "Office");
  EXPECT_EQ(device.json["policy_delivery"]["delivered"]["policy_version"], 1);
  EXPECT_EQ(device.json["policy_delivery"]["acknowledged"]["policy_version"], 1);

  // A new version reaches the device at its next contact.
  json v2 = OfficePolicy(true);
  v2["apple_payloads"][1]["minLength"] = 8;
  ASSERT_EQ(Put("/v1/policies/office", v2).status, 200);
  auto again = phone->RunCommandLoop(10);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].request_type, "InstallProfile");
  EXPECT_EQ(Events("DevicePolicyAcknowledged").size(), 2u);
  device = engine_->Get("/v1/devices/" + serial, admin_);
  EXPECT_EQ(device.json["policy_delivery"]["acknowledged"]["policy_version"], 2);
  auto story = engine_->Get("/v1/devices/" + serial + "/history", admin_);
  EXPECT_NE(story.body.find("policy office version 2 sent as InstallProfile"), std::string::npos);
  EXPECT_NE(story.body.find("device answered policy office version 2: Acknowledged"),
            std::string::npos);
  // Nothing more to install.
  auto nothing = phone->Poll();
  ASSERT_TRUE(nothing.ok());
  EXPECT_FALSE(nothing->has_value());

  // The views rebuilt from the log (versions, usage, deliveries) are the live ones, byte for byte.
  auto beside = RunTool({"replay", "--data-dir", engine_->data_dir(), "--out", dir_.Sub("beside")});
  ASSERT_EQ(beside.exit_code, 0) << beside.err;
  ASSERT_EQ(engine_->Stop(SIGTERM), 0);
  EXPECT_EQ(DiffViewStores(LiveViewsDir(engine_->data_dir()), dir_.Sub("beside")), "");
}

TEST_F(PoliciesTest, APolicyInUseIsNotDeletedUntilItsDeviceIsReassigned) {
  ASSERT_EQ(engine_->Post("/v1/policies", OfficePolicy(false).dump(), admin_).status, 201);
  ASSERT_EQ(engine_->Post("/v1/policies", R"({"name":"Lobby"})", admin_).status, 201);
  std::string serial = EnrollableIphone();

  auto refused = engine_->Delete("/v1/policies/office", admin_);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(refused.json["error"]["code"], "policy.in_use");
  EXPECT_EQ(refused.json["devices"], json::array({serial}));
  EXPECT_EQ(refused.json["device_count"], 1);
  EXPECT_EQ(engine_->Get("/v1/policies/office", admin_).json["device_count"], 1);

  ASSERT_EQ(Patch("/v1/dep/devices/" + serial, {{"policy", "Lobby"}}).status, 200);
  auto deleted = engine_->Delete("/v1/policies/office", admin_);
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_EQ(engine_->Get("/v1/policies/office", admin_).status, 404);
  EXPECT_EQ(engine_->Get("/v1/policies", admin_).json["items"].size(), 1u);
  // A deleted policy no longer resolves.
  auto unknown = Patch("/v1/dep/devices/" + serial, {{"policy", "Office"}});
  EXPECT_EQ(unknown.status, 422) << unknown.body;
  EXPECT_EQ(unknown.json["error"]["code"], "device.unknown_policy");
}

TEST_F(PoliciesTest, AnAndroidDeviceGetsItsPolicyAndRuleSetAtEnrollmentAndFromItsAgent) {
  ASSERT_EQ(engine_->Post("/v1/policies", OfficePolicy(false).dump(), admin_).status, 201);
  ASSERT_EQ(engine_->Post("/v1/rulesets",
                          R"({"name":"Strict","rules":[{"condition":"os_version < 14","action":"lock"}]})",
                          admin_).status,
            201);
  for (const char* u : {"alice", "bob"}) {
    ASSERT_EQ(engine_->Post("/v1/users", json{{"username", u}, {"role", "device_user"}}.dump(), admin_)
                  .status,
              201);
  }
  auto import = engine_->Post("/v1/kme/imports", Fixture("portal_export_bom_crlf.csv"), admin_,
                              "text/csv");
  ASSERT_EQ(import.status, 200) << import.body;
  ASSERT_EQ(Patch(std::string("/v1/kme/devices/") + kAliceImei,
                  {{"policy", "Office"}, {"ruleset", "Strict"}}).status,
            200);
  std::string token = engine_->Get("/v1/kme/settings", admin_).json.value("enrollment_token", "");
  json who = {{"enrollment_token", token}, {"imei", kAliceImei}};

  auto enrolled = engine_->Post("/enroll/android", who.dump());
  ASSERT_EQ(enrolled.status, 200) << enrolled.body;
  EXPECT_EQ(enrolled.json["policy"], "Office");
  EXPECT_EQ(enrolled.json["policy_version"], 1);
  EXPECT_EQ(enrolled.json["android_config"]["camera_disabled"], true);
  EXPECT_EQ(enrolled.json["ruleset_version"], 1);
  EXPECT_EQ(enrolled.json["rules"][0]["condition"], "os_version < 14");
  std::string device_id = enrolled.json["device_id"];
  auto delivered = Events("DevicePolicyDelivered");
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0]["channel"], "android_agent");

  // A new version: the agent fetches it.
  json v2 = OfficePolicy(false);
  v2["android_config"]["camera_disabled"] = false;
  ASSERT_EQ(Put("/v1/policies/office", v2).status, 200);
  auto fetched = engine_->Post("/enroll/android/policy", who.dump());
  ASSERT_EQ(fetched.status, 200) << fetched.body;
  EXPECT_EQ(fetched.json["policy"]["version"], 2);
  EXPECT_EQ(fetched.json["policy"]["android_config"]["camera_disabled"], false);
  EXPECT_EQ(fetched.json["ruleset"]["rules"][0]["action"], "lock");
  delivered = Events("DevicePolicyDelivered");
  ASSERT_EQ(delivered.size(), 2u);
  EXPECT_EQ(delivered[1]["policy_version"], 2);
  // The same version fetched again is not a new delivery.
  ASSERT_EQ(engine_->Post("/enroll/android/policy", who.dump()).status, 200);
  EXPECT_EQ(Events("DevicePolicyDelivered").size(), 2u);

  json stale = who;
  stale["policy_version"] = 1;
  stale["ruleset_version"] = 1;
  stale["status"] = "Acknowledged";
  EXPECT_EQ(engine_->Post("/enroll/android/policy/ack", stale.dump()).status, 409);
  json ack = stale;
  ack["policy_version"] = 2;
  auto acked = engine_->Post("/enroll/android/policy/ack", ack.dump());
  ASSERT_EQ(acked.status, 200) << acked.body;
  auto acks = Events("DevicePolicyAcknowledged");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0]["policy_version"], 2);
  auto device = engine_->Get("/v1/devices/" + device_id, admin_);
  EXPECT_EQ(device.json["policy_delivery"]["acknowledged"]["policy_version"], 2);

  // Without the enrollment token the agent learns nothing.
  json stranger = {{"enrollment_token", "kme_wrong"}, {"imei", kAliceImei}};
  auto refused = engine_->Post("/enroll/android/policy", stranger.dump());
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.body.find("Office"), std::string::npos);
}

}  // namespace
}  // namespace ae::testing
