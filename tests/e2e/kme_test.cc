// Samsung KME over the autoenroll binary: the portal CSV import, assignments, the
// enrollment token and the Android enrollment endpoint (KME and Knox Deployment App).

#include <fstream>
#include <regex>
#include <sstream>

#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;

std::string Fixture(const std::string& name) {
  std::ifstream in(SourceDir() + "/tests/fixtures/kme/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The devices of tests/fixtures/kme/portal_export_bom_crlf.csv.
constexpr const char* kAliceImei = "350925370583126";    // line 2, serial R58M12ABCDE, alice
constexpr const char* kBobImei = "351750081234564";      // line 3, bob
constexpr const char* kDualImei2 = "351750081234598";    // line 5, second IMEI, carol (unknown)
constexpr const char* kMeid = "A0000012345678";          // line 6, no user
constexpr const char* kTabletSerial = "R52T10WIFI01";    // line 7, serial only, alice
constexpr const char* kUnknownImei = "353922110000013";  // in no file

class KmeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = std::make_unique<EngineProcess>(dir_.Sub("data"));
    ASSERT_THAT(engine_->Start(), IsOk());
    admin_ = engine_->AdminToken();
    ASSERT_FALSE(admin_.empty());
  }

  void CreateUser(const std::string& name, const std::string& role = "device_user") {
    auto u = engine_->Post("/v1/users", json{{"username", name}, {"role", role}}.dump(), admin_);
    ASSERT_EQ(u.status, 201) << u.body;
  }
  std::string TokenFor(const std::string& name, const std::string& role) {
    CreateUser(name, role);
    auto t = engine_->Post("/v1/users/" + name + "/tokens", "", admin_);
    EXPECT_EQ(t.status, 201) << t.body;
    return t.json.value("token", "");
  }
  HttpAnswer Import(const std::string& csv, bool dry_run = false) {
    return engine_->Post(std::string("/v1/kme/imports") + (dry_run ? "?dry_run=true" : ""), csv,
                         admin_, "text/csv");
  }
  HttpAnswer ImportPortalExport() {
    auto r = Import(Fixture("portal_export_bom_crlf.csv"));
    EXPECT_EQ(r.status, 200) << r.body;
    return r;
  }
  HttpAnswer Patch(const std::string& id, const json& body) {
    return engine_->Send("PATCH", "/v1/kme/devices/" + id, body.dump(), admin_,
                         "application/json");
  }
  std::string EnrollmentToken() {
    auto s = engine_->Get("/v1/kme/settings", admin_);
    EXPECT_EQ(s.status, 200) << s.body;
    return s.json.value("enrollment_token", "");
  }
  HttpAnswer Enroll(json body) {
    return engine_->Post("/enroll/android", body.dump());  // no bearer token: device-facing
  }
  // An enrollment of the Knox Deployment App (Bluetooth/NFC), naming `user`.
  HttpAnswer EnrollDeployment(const std::string& imei, const std::string& user) {
    return Enroll({{"enrollment_token", EnrollmentToken()}, {"imei", imei},
                   {"model", "SM-G991B"}, {"user_id", user}, {"password", "pw-never-kept"},
                   {"source", "knox_deployment"}});
  }
  // The administrator lets the Knox Deployment App create users.
  void AllowDeploymentUsers() {
    auto r = engine_->Send("PATCH", "/v1/kme/settings",
                           R"({"knox_deployment_creates_users":true})", admin_,
                           "application/json");
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_EQ(r.json["knox_deployment_creates_users"], true) << r.body;
  }
  // The reasons of the recorded refusals, in order.
  std::vector<std::string> RefusalReasons() {
    std::vector<std::string> out;
    for (const auto& e : Events("KmeEnrollmentRefused")) out.push_back(e["data"]["reason"]);
    return out;
  }
  // Every event of the log (optionally of one type).
  std::vector<json> Events(const std::string& type = "") {
    std::vector<json> out;
    std::string cursor;
    for (int page = 0; page < 100; ++page) {
      std::string path = "/v1/events?limit=1000" + (type.empty() ? "" : "&type=" + type) +
                         (cursor.empty() ? "" : "&cursor=" + cursor);
      auto r = engine_->Get(path, admin_);
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) break;
      for (const auto& e : r.json["items"]) out.push_back(e);
      if (r.json["next_cursor"].is_null()) break;
      cursor = r.json["next_cursor"].get<std::string>();
    }
    return out;
  }
  size_t DeviceEventCount() {
    size_t n = 0;
    for (const auto& e : Events()) {
      if (e.value("type", "") != "KmeImportCompleted") ++n;
    }
    return n;
  }

  TempDir dir_;
  std::unique_ptr<EngineProcess> engine_;
  std::string admin_;
};

TEST_F(KmeTest, PortalExportImportsMatchesUsersAndTheAssignedDeviceEnrolls) {
  CreateUser("alice");
  CreateUser("bob");
  ASSERT_EQ(engine_->Post("/v1/policies", R"({"name":"Kiosk"})", admin_).status, 201);
  ASSERT_EQ(engine_->Post("/v1/rulesets", R"({"name":"Strict"})", admin_).status, 201);

  auto imported = ImportPortalExport();
  EXPECT_EQ(imported.json["rows"], 6);
  EXPECT_EQ(imported.json["created"], 5);
  EXPECT_EQ(imported.json["updated"], 0);
  EXPECT_EQ(imported.json["rejected"], 1);
  EXPECT_EQ(imported.json["users_matched"], 3);  // alice twice, bob; carol has no account
  ASSERT_EQ(imported.json["errors"].size(), 1u);
  EXPECT_EQ(imported.json["errors"][0]["line"], 4);
  EXPECT_EQ(imported.json["errors"][0]["code"], "csv.imei_scientific_notation");
  EXPECT_FALSE(imported.Header("X-Log-Position").empty());

  // Read-your-writes: the devices are there as soon as the import answers, under any id.
  auto by_serial = engine_->Get("/v1/kme/devices/R58M12ABCDE", admin_);
  ASSERT_EQ(by_serial.status, 200) << by_serial.body;
  const std::string id = by_serial.json["id"];
  EXPECT_EQ(id, std::string("imei:") + kAliceImei);
  EXPECT_EQ(by_serial.json["user"], "alice");
  EXPECT_EQ(by_serial.json["model"], "SM-G991B");
  EXPECT_EQ(by_serial.json["profile_name"], "Default Profile");
  EXPECT_EQ(by_serial.json["knox_status"], "PROFILE_ASSIGNED");
  EXPECT_EQ(by_serial.json["tags"], json::array({"Sales", "Berlin"}));
  EXPECT_EQ(by_serial.json["source"], "csv");
  EXPECT_EQ(by_serial.json["enrollment"], "not_enrolled");
  EXPECT_EQ(engine_->Get(std::string("/v1/kme/devices/") + kAliceImei, admin_).json["id"], id);
  auto dual = engine_->Get(std::string("/v1/kme/devices/") + kDualImei2, admin_);
  ASSERT_EQ(dual.status, 200) << dual.body;
  EXPECT_EQ(dual.json["imei2"], kDualImei2);
  EXPECT_EQ(dual.json["user"], "");
  EXPECT_EQ(dual.json["knox_status"], "CANCELED_BY_USER");
  auto tablet = engine_->Get(std::string("/v1/kme/devices/") + kTabletSerial, admin_);
  EXPECT_EQ(tablet.json["id"], std::string("sn:") + kTabletSerial);
  EXPECT_EQ(tablet.json["user"], "alice");

  auto patched = Patch(id, {{"policy", "Kiosk"}, {"ruleset", "Strict"}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json["policy"], "Kiosk");
  EXPECT_EQ(patched.json["ruleset"], "Strict");
  EXPECT_EQ(patched.json["user"], "alice");

  const std::string token = EnrollmentToken();
  json body = {{"enrollment_token", token}, {"imei", kAliceImei}, {"serial_number", "R58M12ABCDE"},
               {"model", "SM-G991B"}, {"user_id", "alice"}, {"password", "one-time-secret"},
               {"source", "kme"}};
  auto enrolled = Enroll(body);
  ASSERT_EQ(enrolled.status, 200) << enrolled.body;
  EXPECT_EQ(enrolled.json["device_id"], id);
  EXPECT_TRUE(enrolled.json.contains("user"));
  EXPECT_TRUE(enrolled.json["user"].is_null());  // a device is not told whose it is
  EXPECT_EQ(enrolled.json["policy"], "Kiosk");
  EXPECT_EQ(enrolled.json["ruleset"], "Strict");
  auto device = engine_->Get("/v1/kme/devices/" + id, admin_);
  EXPECT_EQ(device.json["enrollment"], "enrolled");

  // A factory reset enrolls again: same answer, no second DeviceEnrolled.
  auto again = Enroll(body);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json["device_id"], id);
  EXPECT_EQ(again.Header("X-Log-Position"), enrolled.Header("X-Log-Position"));
  auto enrollments = Events("DeviceEnrolled");
  ASSERT_EQ(enrollments.size(), 1u);
  EXPECT_EQ(enrollments[0]["stream"], "device/" + id);
  EXPECT_EQ(enrollments[0]["data"]["platform"], "PLATFORM_ANDROID");
  EXPECT_EQ(enrollments[0]["data"]["imei"], kAliceImei);

  // Neither the password, the enrollment token nor a Knox user id is in the log or the logs.
  std::string log_json;
  for (const auto& e : Events()) log_json += e.dump();
  for (const char* secret : {"one-time-secret", "carol", "alice"}) {
    EXPECT_EQ(log_json.find(secret), std::string::npos) << secret;
  }
  EXPECT_EQ(log_json.find(token), std::string::npos);
  EXPECT_EQ(engine_->LogText().find(token), std::string::npos);
  EXPECT_EQ(engine_->LogText().find("one-time-secret"), std::string::npos);
}

TEST_F(KmeTest, AnEnrolledKmeDeviceIsInTheInventory) {
  CreateUser("alice");
  ImportPortalExport();
  auto enrolled = Enroll({{"enrollment_token", EnrollmentToken()}, {"imei", kAliceImei},
                          {"source", "kme"}});
  ASSERT_EQ(enrolled.status, 200) << enrolled.body;
  const std::string id = enrolled.json["device_id"];
  auto inventory = engine_->Get("/v1/devices/" + id, admin_);
  ASSERT_EQ(inventory.status, 200) << inventory.body;
  EXPECT_EQ(inventory.json["user"], "alice");
  EXPECT_EQ(inventory.json["imei"], kAliceImei);
  auto history = engine_->Get("/v1/kme/devices/" + id + "/history", admin_);
  ASSERT_EQ(history.status, 200) << history.body;
  EXPECT_EQ(history.json["items"].back()["type"], "DeviceEnrolled");
  auto list = engine_->Get("/v1/devices", admin_);
  ASSERT_EQ(list.status, 200) << list.body;
  bool listed = false;
  for (const auto& d : list.json["items"]) listed = listed || d.value("id", "") == id;
  EXPECT_TRUE(listed) << list.body;
}

TEST_F(KmeTest, ASemicolonResaveOfTheSameDevicesChangesNothing) {
  CreateUser("alice");
  CreateUser("bob");
  auto first = ImportPortalExport();
  size_t before = DeviceEventCount();
  auto resaved = Import(Fixture("portal_export_semicolon.csv"));
  ASSERT_EQ(resaved.status, 200) << resaved.body;
  EXPECT_EQ(resaved.json["rows"], 5);
  EXPECT_EQ(resaved.json["unchanged"], 5);
  EXPECT_EQ(resaved.json["created"], 0);
  EXPECT_EQ(resaved.json["updated"], 0);
  EXPECT_EQ(resaved.json["rejected"], 0);
  EXPECT_EQ(DeviceEventCount(), before);
}

TEST_F(KmeTest, ReimportingTheSameFileAppendsOnlyItsSummary) {
  CreateUser("alice");
  auto first = ImportPortalExport();
  size_t before = DeviceEventCount();
  auto second = ImportPortalExport();
  EXPECT_EQ(second.json["unchanged"], 5);
  EXPECT_EQ(second.json["created"], 0);
  EXPECT_EQ(second.json["updated"], 0);
  EXPECT_EQ(second.json["rejected"], 1);
  EXPECT_EQ(second.json["errors"][0]["line"], 4);
  EXPECT_EQ(DeviceEventCount(), before);
  // One event further: the KmeImportCompleted summary only.
  EXPECT_EQ(std::stoll(second.Header("X-Log-Position")),
            std::stoll(first.Header("X-Log-Position")) + 1);
  EXPECT_EQ(Events("KmeImportCompleted").size(), 2u);
}

TEST_F(KmeTest, TheImportTakesFilesLargerThanTheJsonBodyLimit) {
  // 12 MB: over the 10 MiB limit of every JSON route, within the upload limit.
  std::string csv = "IMEI,Serial Number,Notes\r\n";
  csv += "356938035643809,R58N00000001,ok\r\n";
  csv += "354406065117427,R58N00000002," + std::string(12 << 20, 'x') + "\r\n";
  auto r = Import(csv, /*dry_run=*/true);
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  EXPECT_EQ(r.json["rows"], 2);
  EXPECT_EQ(r.json["rejected"], 1);  // the oversized record, named by its line
  ASSERT_FALSE(r.json["errors"].empty());
  EXPECT_EQ(r.json["errors"][0]["line"], 3);
  auto json_route = engine_->Post("/v1/policies", std::string(11 << 20, 'x'), admin_);
  EXPECT_EQ(json_route.status, 413);
  EXPECT_EQ(json_route.json["error"]["code"], "request.too_large");
}

TEST_F(KmeTest, ADryRunReportsButWritesNothing) {
  CreateUser("alice");
  size_t before = Events().size();
  auto dry = Import(Fixture("portal_export_bom_crlf.csv"), true);
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_EQ(dry.json["dry_run"], true);
  EXPECT_EQ(dry.json["created"], 5);
  EXPECT_EQ(dry.json["rejected"], 1);
  EXPECT_EQ(dry.json["users_matched"], 2);
  EXPECT_TRUE(dry.Header("X-Log-Position").empty());
  EXPECT_EQ(Events().size(), before);
  EXPECT_EQ(engine_->Get(std::string("/v1/kme/devices/") + kAliceImei, admin_).status, 404);
  EXPECT_EQ(Import("IMEI\r\n", true).json["rows"], 0);
}

TEST_F(KmeTest, RefusedEnrollmentsAreRecordedWithTheirReason) {
  ImportPortalExport();
  const std::string token = EnrollmentToken();
  auto bad = Enroll({{"enrollment_token", "kme_not-the-token"}, {"imei", kAliceImei}});
  EXPECT_EQ(bad.status, 403);
  EXPECT_EQ(bad.json["error"]["code"], "enroll.not_allowed");
  EXPECT_EQ(Enroll({{"imei", kAliceImei}}).json["error"]["code"], "enroll.not_allowed");
  EXPECT_EQ(engine_->LogText().find("kme_not-the-token"), std::string::npos);
  EXPECT_NE(engine_->LogText().find("a wrong enrollment token"), std::string::npos);

  // The device is told only that it may not enroll; the reason is recorded.
  auto unknown = Enroll({{"enrollment_token", token}, {"imei", kUnknownImei}});
  EXPECT_EQ(unknown.status, 403);
  EXPECT_EQ(unknown.json["error"]["code"], "enroll.not_allowed");
  auto no_user = Enroll({{"enrollment_token", token}, {"meid", kMeid}});
  EXPECT_EQ(no_user.status, 403);
  EXPECT_EQ(no_user.json["error"]["code"], "enroll.not_allowed");
  auto refusals = Events("KmeEnrollmentRefused");
  ASSERT_EQ(refusals.size(), 2u);
  EXPECT_EQ(refusals[0]["data"]["reason"], "kme.device_not_imported");
  EXPECT_EQ(refusals[1]["data"]["reason"], "kme.no_user");
  EXPECT_EQ(refusals[1]["data"]["device_id"], std::string("meid:") + kMeid);

  // A user id the Knox Deployment App could never use is bad input, answered before any
  // lookup: the same for an imported device and an unknown one.
  for (const char* imei : {kAliceImei, kUnknownImei}) {
    auto bad_user = Enroll({{"enrollment_token", token}, {"imei", imei},
                            {"user_id", "not a name"}, {"source", "knox_deployment"}});
    EXPECT_EQ(bad_user.status, 400) << bad_user.body;
    EXPECT_EQ(bad_user.json["error"]["code"], "kme.bad_user_id");
    EXPECT_EQ(bad_user.json["error"]["field"], "user_id");
  }
  auto none = Enroll({{"enrollment_token", token}, {"model", "SM-G991B"}});
  EXPECT_EQ(none.status, 400);
  EXPECT_EQ(none.json["error"]["code"], "kme.missing_identifiers");
  auto mangled = Enroll({{"enrollment_token", token}, {"imei", "3.5175E+14"}});
  EXPECT_EQ(mangled.status, 400);
  EXPECT_EQ(mangled.json["error"]["field"], "imei");
  auto not_json = engine_->Post("/enroll/android", "imei=1");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(not_json.json["error"]["code"], "request.bad_json");
  auto huge = Enroll({{"enrollment_token", token}, {"imei", kAliceImei},
                      {"model", std::string(20000, 'x')}});
  EXPECT_EQ(huge.status, 413);
  EXPECT_EQ(Enroll({{"enrollment_token", token}, {"imei", kAliceImei}, {"source", "qr"}})
                .json["error"]["code"],
            "kme.bad_source");
}

TEST_F(KmeTest, TheKnoxDeploymentAppCreatesItsUserAndDeviceButNotForKmeDevices) {
  ImportPortalExport();
  AllowDeploymentUsers();
  const std::string token = EnrollmentToken();
  json body = {{"enrollment_token", token}, {"imei", kUnknownImei},
               {"serial_number", "R58Z99NEW01"}, {"model", "SM-G991B"},
               {"user_id", "dave@example.com"}, {"password", "pw-never-kept"},
               {"source", "knox_deployment"}};
  auto enrolled = Enroll(body);
  ASSERT_EQ(enrolled.status, 200) << enrolled.body;
  EXPECT_EQ(enrolled.json["device_id"], std::string("imei:") + kUnknownImei);
  EXPECT_TRUE(enrolled.json["user"].is_null());
  EXPECT_EQ(enrolled.body.find("dave"), std::string::npos);
  auto user = engine_->Get("/v1/users/dave@example.com", admin_);
  ASSERT_EQ(user.status, 200) << user.body;
  EXPECT_EQ(user.json["role"], "device_user");
  EXPECT_EQ(user.json["created_by"], "knox_deployment");
  auto device = engine_->Get("/v1/kme/devices/R58Z99NEW01", admin_);
  ASSERT_EQ(device.status, 200) << device.body;
  EXPECT_EQ(device.json["source"], "knox_deployment");
  EXPECT_EQ(device.json["tags"], json::array({"knox_deployment"}));
  EXPECT_EQ(device.json["enrollment"], "enrolled");
  EXPECT_EQ(device.json["user"], "dave@example.com");
  EXPECT_EQ(device.json["user_from_knox_deployment"], true);
  EXPECT_TRUE(device.json["user_conflict"].is_null());
  // Enrolling again (a reset) is idempotent.
  auto again = Enroll(body);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(Events("DeviceEnrolled").size(), 1u);
  EXPECT_EQ(Events("UserCreated").size(), 2u);  // admin and dave

  // A device registered through the CSV cannot use the Knox Deployment App.
  body["imei"] = kBobImei;
  body.erase("serial_number");
  auto refused = Enroll(body);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.json["error"]["code"], "enroll.not_allowed");
  // Without a user id a new device cannot be created.
  body["imei"] = "353922110000021";
  body.erase("user_id");
  EXPECT_EQ(Enroll(body).json["error"]["code"], "enroll.not_allowed");
  EXPECT_EQ(RefusalReasons(), (std::vector<std::string>{"kme.already_imported", "kme.no_user"}));

  std::string log_json;
  for (const auto& e : Events()) log_json += e.dump();
  EXPECT_EQ(log_json.find("dave@example.com"), std::string::npos);
  EXPECT_EQ(log_json.find("pw-never-kept"), std::string::npos);
}

TEST_F(KmeTest, AssignmentsNeedExistingUsersPoliciesAndDevices) {
  CreateUser("alice");
  ImportPortalExport();
  auto unknown_user = Patch(kBobImei, {{"user", "nobody"}});
  EXPECT_EQ(unknown_user.status, 422);
  EXPECT_EQ(unknown_user.json["error"]["code"], "device.unknown_user");
  EXPECT_EQ(unknown_user.json["error"]["field"], "user");
  auto unknown_policy = Patch(kBobImei, {{"policy", "Nope"}});
  EXPECT_EQ(unknown_policy.status, 422);
  EXPECT_EQ(unknown_policy.json["error"]["code"], "device.unknown_policy");
  EXPECT_EQ(Patch(kUnknownImei, {{"user", "alice"}}).json["error"]["code"],
            "kme.device_not_found");
  EXPECT_EQ(Patch(kBobImei, {{"user", 42}}).status, 400);

  auto assigned = Patch(kBobImei, {{"user", "alice"}});
  ASSERT_EQ(assigned.status, 200) << assigned.body;
  EXPECT_EQ(assigned.json["user"], "alice");
  size_t before = Events().size();
  EXPECT_EQ(Patch(kBobImei, {{"user", "alice"}}).status, 200);  // unchanged: nothing appended
  EXPECT_EQ(Events().size(), before);
  auto cleared = Patch(kBobImei, {{"user", nullptr}});
  ASSERT_EQ(cleared.status, 200) << cleared.body;
  EXPECT_EQ(cleared.json["user"], "");
  auto history = engine_->Get(std::string("/v1/kme/devices/") + kBobImei + "/history", admin_);
  ASSERT_EQ(history.status, 200) << history.body;
  ASSERT_EQ(history.json["items"].size(), 3u);
  EXPECT_EQ(history.json["items"][0]["type"], "KmeDeviceImported");
  EXPECT_EQ(history.json["items"][1]["type"], "DeviceUserAssigned");
  EXPECT_EQ(history.json["items"][2]["type"], "DeviceUserAssigned");
  // As it was before the clear: alice's.
  auto then = engine_->Get(std::string("/v1/kme/devices/") + kBobImei + "?as_of=" +
                               history.json["items"][1]["position"].get<std::string>(),
                           admin_);
  ASSERT_EQ(then.status, 200) << then.body;
  EXPECT_EQ(then.json["user"], "alice");
}

TEST_F(KmeTest, DevicesAreListedByUserAndIdentifierPrefix) {
  CreateUser("alice");
  CreateUser("bob");
  ImportPortalExport();
  auto all = engine_->Get("/v1/kme/devices?limit=3", admin_);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.json["items"].size(), 3u);
  ASSERT_TRUE(all.json["next_cursor"].is_string());
  auto rest = engine_->Get("/v1/kme/devices?limit=3&cursor=" +
                               all.json["next_cursor"].get<std::string>(), admin_);
  EXPECT_EQ(rest.json["items"].size(), 2u);
  EXPECT_TRUE(rest.json["next_cursor"].is_null());
  auto alices = engine_->Get("/v1/kme/devices?user=alice", admin_);
  ASSERT_EQ(alices.status, 200) << alices.body;
  EXPECT_EQ(alices.json["items"].size(), 2u);
  auto search = engine_->Get("/v1/kme/devices?q=r58n", admin_);
  ASSERT_EQ(search.status, 200) << search.body;
  EXPECT_EQ(search.json["items"].size(), 2u);
  EXPECT_EQ(engine_->Get("/v1/kme/devices?q=3517500812345", admin_).json["items"].size(), 2u);
  EXPECT_EQ(engine_->Get("/v1/kme/devices?user=nobody", admin_).status, 422);
  EXPECT_EQ(engine_->Get("/v1/kme/devices/nothing-like-it", admin_).json["error"]["code"],
            "kme.device_not_found");
}

TEST_F(KmeTest, SettingsGiveTheUriFingerprintAndARotatableToken) {
  auto settings = engine_->Get("/v1/kme/settings", admin_);
  ASSERT_EQ(settings.status, 200) << settings.body;
  const std::string uri = settings.json["mdm_server_uri"];
  EXPECT_EQ(uri.substr(uri.size() - std::string("/enroll/android").size()), "/enroll/android");
  // Plain HTTP: no fingerprint of a certificate the server does not serve (the https case
  // is HttpEdge.TlsIs12OrBetterWithAeadSuitesAndKmeSettingsNameItsCertificate).
  EXPECT_TRUE(settings.json["certificate_fingerprint"].is_null()) << settings.body;
  const std::string first = settings.json["enrollment_token"];
  EXPECT_EQ(engine_->Get("/v1/kme/settings", admin_).json["enrollment_token"], first);
  auto pem = engine_->Get("/v1/kme/certificate", admin_);
  ASSERT_EQ(pem.status, 200);
  EXPECT_EQ(pem.Header("Content-Type"), "application/x-pem-file");
  EXPECT_EQ(pem.body.rfind("-----BEGIN CERTIFICATE-----", 0), 0u);
  EXPECT_EQ(engine_->Get("/v1/kme/settings", admin_).json["certificate_fingerprint"],
            settings.json["certificate_fingerprint"]);

  std::string manager = TokenFor("mgr", "device_manager");
  EXPECT_EQ(engine_->Get("/v1/kme/settings", manager).status, 200);
  EXPECT_EQ(engine_->Post("/v1/kme/settings/rotate-token", "", manager).status, 403);
  std::string user = TokenFor("usr", "device_user");
  EXPECT_EQ(engine_->Get("/v1/kme/settings", user).status, 403);
  EXPECT_EQ(engine_->Post("/v1/kme/imports", "IMEI\r\n1", user, "text/csv").status, 403);

  CreateUser("alice");
  ImportPortalExport();
  json body = {{"imei", kAliceImei}};
  body["enrollment_token"] = first;
  EXPECT_EQ(Enroll(body).status, 200);
  auto rotated = engine_->Post("/v1/kme/settings/rotate-token", "", admin_);
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const std::string second = rotated.json["enrollment_token"];
  EXPECT_NE(second, first);
  EXPECT_EQ(Enroll(body).json["error"]["code"], "enroll.not_allowed");
  body["enrollment_token"] = second;
  EXPECT_EQ(Enroll(body).status, 200);
  auto events = Events("KmeEnrollmentTokenRotated");
  ASSERT_EQ(events.size(), 2u);
  std::string dump = events[0].dump() + events[1].dump();
  EXPECT_EQ(dump.find(first), std::string::npos);
  EXPECT_EQ(dump.find(second), std::string::npos);
}

TEST_F(KmeTest, TheKnoxDeploymentAppCreatesNoUserUnlessTheAdministratorAllowsIt) {
  auto settings = engine_->Get("/v1/kme/settings", admin_);
  ASSERT_EQ(settings.status, 200) << settings.body;
  EXPECT_EQ(settings.json["knox_deployment_creates_users"], false);  // off by default

  auto refused = EnrollDeployment(kUnknownImei, "dave");
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(refused.json["error"]["code"], "enroll.not_allowed");
  EXPECT_EQ(engine_->Get("/v1/users/dave", admin_).status, 404);
  EXPECT_EQ(engine_->Get(std::string("/v1/kme/devices/") + kUnknownImei, admin_).status, 404);
  EXPECT_EQ(Events("UserCreated").size(), 1u);  // the administrator only
  EXPECT_EQ(RefusalReasons(), std::vector<std::string>{"kme.user_creation_disabled"});

  // Only an administrator changes the setting; it is recorded and shown.
  std::string manager = TokenFor("mgr", "device_manager");
  EXPECT_EQ(engine_->Send("PATCH", "/v1/kme/settings", R"({"knox_deployment_creates_users":true})",
                          manager, "application/json").status,
            403);
  auto typo = engine_->Send("PATCH", "/v1/kme/settings", R"({"knox_deployment_create_users":true})",
                            admin_, "application/json");
  EXPECT_EQ(typo.status, 400);
  EXPECT_EQ(typo.json["error"]["code"], "request.unknown_field");
  auto not_bool = engine_->Send("PATCH", "/v1/kme/settings",
                                R"({"knox_deployment_creates_users":"yes"})", admin_,
                                "application/json");
  EXPECT_EQ(not_bool.status, 400);
  EXPECT_EQ(not_bool.json["error"]["field"], "knox_deployment_creates_users");
  AllowDeploymentUsers();
  EXPECT_EQ(engine_->Get("/v1/kme/settings", admin_).json["knox_deployment_creates_users"], true);
  ASSERT_EQ(Events("KmeDeploymentSettingsChanged").size(), 1u);

  auto enrolled = EnrollDeployment(kUnknownImei, "dave");
  ASSERT_EQ(enrolled.status, 200) << enrolled.body;
  auto dave = engine_->Get("/v1/users/dave", admin_);
  ASSERT_EQ(dave.status, 200) << dave.body;
  EXPECT_EQ(dave.json["role"], "device_user");
}

TEST_F(KmeTest, TheKnoxDeploymentAppNeverBindsAnExistingUser) {
  AllowDeploymentUsers();
  CreateUser("alice");
  CreateUser("mgr", "device_manager");
  const std::vector<std::string> imeis = {"356938035643809", "354406065117427",
                                          "353922110000021"};
  for (size_t i = 0; i < 3; ++i) {
    const std::string name = i == 0 ? "admin" : i == 1 ? "mgr" : "alice";
    auto r = EnrollDeployment(imeis[i], name);
    EXPECT_EQ(r.status, 403) << name << ": " << r.body;
    EXPECT_EQ(r.json["error"]["code"], "enroll.not_allowed") << name;
    EXPECT_EQ(engine_->Get("/v1/kme/devices/" + imeis[i], admin_).status, 404) << name;
  }
  EXPECT_EQ(RefusalReasons(), (std::vector<std::string>{"kme.user_role_not_allowed",
                                                         "kme.user_role_not_allowed",
                                                         "kme.user_exists"}));
  EXPECT_EQ(Events("DeviceEnrolled").size(), 0u);
  EXPECT_EQ(Events("DeviceUserAssigned").size(), 0u);
  // Still administrator, and the only one.
  EXPECT_EQ(engine_->Get("/v1/users/admin", admin_).json["role"], "administrator");
  EXPECT_EQ(Events("UserCreated").size(), 3u);  // admin, alice, mgr
}

TEST_F(KmeTest, ACsvImportWinsOverAKnoxDeploymentUserAndTheConflictIsShown) {
  AllowDeploymentUsers();
  // Someone with the enrollment token claims the IMEI before the portal export arrives.
  auto squatted = EnrollDeployment(kAliceImei, "mallory");
  ASSERT_EQ(squatted.status, 200) << squatted.body;
  const std::string id = squatted.json["device_id"];
  CreateUser("alice");
  CreateUser("bob");

  auto imported = ImportPortalExport();
  EXPECT_EQ(imported.json["updated"], 1);
  EXPECT_EQ(imported.json["conflicts"], 1);
  auto device = engine_->Get("/v1/kme/devices/" + id, admin_);
  ASSERT_EQ(device.status, 200) << device.body;
  EXPECT_EQ(device.json["user"], "alice");
  EXPECT_EQ(device.json["user_from_knox_deployment"], false);
  const json& conflict = device.json["user_conflict"];
  ASSERT_TRUE(conflict.is_object()) << device.body;
  EXPECT_EQ(conflict["knox_deployment_user"], "mallory");
  EXPECT_EQ(conflict["user"], "alice");
  EXPECT_EQ(conflict["by"], "csv");
  EXPECT_EQ(conflict["line"], 2);
  EXPECT_EQ(conflict["import_id"], imported.json["import_id"]);
  auto history = engine_->Get("/v1/kme/devices/" + id + "/history", admin_);
  ASSERT_EQ(history.status, 200) << history.body;
  bool recorded = false;
  for (const auto& item : history.json["items"]) {
    if (item["type"] != "KmeDeploymentUserOverridden") continue;
    recorded = true;
    EXPECT_EQ(item["event"]["source"], "KME_SOURCE_CSV") << item.dump();
    EXPECT_NE(item["summary"].get<std::string>().find("conflict"), std::string::npos);
  }
  EXPECT_TRUE(recorded) << history.body;

  // The device now enrolls to the file's user, whichever path it comes by.
  auto enrolled = EnrollDeployment(kAliceImei, "mallory");
  ASSERT_EQ(enrolled.status, 200) << enrolled.body;
  auto inventory = engine_->Get("/v1/devices/" + id, admin_);
  ASSERT_EQ(inventory.status, 200) << inventory.body;
  EXPECT_EQ(inventory.json["user"], "alice");
  // A re-import changes nothing more.
  auto again = ImportPortalExport();
  EXPECT_EQ(again.json["updated"], 0);
  EXPECT_EQ(again.json["conflicts"], 0);
}

TEST_F(KmeTest, AnAdministratorsAssignmentWinsOverAKnoxDeploymentUser) {
  AllowDeploymentUsers();
  auto squatted = EnrollDeployment(kUnknownImei, "mallory");
  ASSERT_EQ(squatted.status, 200) << squatted.body;
  CreateUser("alice");
  auto patched = Patch(kUnknownImei, {{"user", "alice"}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json["user"], "alice");
  EXPECT_EQ(patched.json["user_from_knox_deployment"], false);
  ASSERT_TRUE(patched.json["user_conflict"].is_object()) << patched.body;
  EXPECT_EQ(patched.json["user_conflict"]["knox_deployment_user"], "mallory");
  EXPECT_EQ(patched.json["user_conflict"]["by"], "administrator");
  ASSERT_EQ(Events("KmeDeploymentUserOverridden").size(), 1u);
}

TEST_F(KmeTest, TheEnrollmentAnswerNamesNoUserAndEveryRefusalIsTheSame) {
  AllowDeploymentUsers();
  CreateUser("alice");
  ImportPortalExport();
  auto deployed = EnrollDeployment("353922110000021", "dave");
  ASSERT_EQ(deployed.status, 200) << deployed.body;
  // Whoever knows a device's IMEI learns nothing of its user from the answer.
  for (const auto& [imei, source] : {std::pair{kAliceImei, "kme"},
                                     std::pair{"353922110000021", "knox_deployment"}}) {
    auto r = Enroll({{"enrollment_token", EnrollmentToken()}, {"imei", imei},
                     {"user_id", std::string(source) == "kme" ? "Who Ever" : "whoever"},
                     {"source", source}});  // a KME device's user_id is not read
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(r.json["user"].is_null()) << r.body;
    EXPECT_EQ(r.body.find("alice"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("dave"), std::string::npos) << r.body;
  }

  // Not imported, imported without a user, imported but asked through the Knox
  // Deployment App, a user that exists, an administrator: one answer, byte for byte.
  const std::string token = EnrollmentToken();
  const std::vector<json> refused = {
      {{"enrollment_token", "kme_wrong"}, {"imei", kAliceImei}},
      {{"enrollment_token", token}, {"imei", kUnknownImei}, {"source", "kme"}},
      {{"enrollment_token", token}, {"meid", kMeid}, {"source", "kme"}},
      {{"enrollment_token", token}, {"imei", kBobImei}, {"user_id", "bob"},
       {"source", "knox_deployment"}},
      {{"enrollment_token", token}, {"imei", kUnknownImei}, {"user_id", "alice"},
       {"source", "knox_deployment"}},
      {{"enrollment_token", token}, {"imei", kUnknownImei}, {"user_id", "admin"},
       {"source", "knox_deployment"}},
      {{"enrollment_token", token}, {"imei", kAliceImei}, {"serial_number", kTabletSerial},
       {"source", "kme"}}};  // identifiers of two different devices
  std::string first;
  for (const auto& body : refused) {
    auto r = Enroll(body);
    EXPECT_EQ(r.status, 403) << body.dump() << ": " << r.body;
    if (first.empty()) first = r.body;
    EXPECT_EQ(r.body, first) << body.dump();
  }
  EXPECT_EQ(json::parse(first)["error"]["code"], "enroll.not_allowed");
  EXPECT_EQ(RefusalReasons(),
            (std::vector<std::string>{"kme.device_not_imported", "kme.no_user",
                                      "kme.already_imported", "kme.user_exists",
                                      "kme.user_role_not_allowed", "kme.identifier_conflict"}));
}

TEST_F(KmeTest, BadUploadsGetAClearStatusNeverA500) {
  auto empty = Import("");
  EXPECT_EQ(empty.status, 400);
  EXPECT_EQ(empty.json["error"]["code"], "kme.import_empty");
  EXPECT_EQ(Import("\r\n\r\n").json["error"]["code"], "kme.import_empty");
  auto no_id = Import("Model,Status\r\nSM-G991B,Enrolled\r\n");
  EXPECT_EQ(no_id.status, 422);
  EXPECT_EQ(no_id.json["error"]["code"], "kme.import_unreadable");
  EXPECT_FALSE(no_id.json["error"]["message"].get<std::string>().empty());
  std::string garbage;
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < 100 * 1024; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    garbage.push_back(static_cast<char>(x & 0xff));
  }
  auto bad = Import(garbage);
  EXPECT_GE(bad.status, 400) << bad.body;
  EXPECT_LT(bad.status, 500) << bad.body;
  EXPECT_TRUE(bad.json.contains("error") || bad.json.value("rejected", 0) > 0) << bad.body;
  EXPECT_EQ(Import("IMEI\r\n1", true).status, 200);
  EXPECT_EQ(engine_->Post("/v1/kme/imports?dry_run=maybe", "IMEI\r\n", admin_, "text/csv").status,
            400);
}

}  // namespace
}  // namespace ae::testing
