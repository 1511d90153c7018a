// The Auto Enrollments list (GET /v1/enrollments) and the reconciliation report
// (GET /v1/reconciliation, autoenroll reconcile) over the binary: DEP devices synced from
// the Apple DEP simulator and KME devices imported from a Knox portal CSV, side by side.

#include <fstream>
#include <set>
#include <sstream>

#include "adapters/apple_mdm/checkin.h"
#include "adapters/apple_mdm/mdm_ca.h"
#include "adapters/simulators/apple_dep_simulator.h"
#include "adapters/simulators/apple_device_simulator.h"
#include "events/base/clock.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;

constexpr char kServer[] = "MDM Server 1";
// The devices of tests/fixtures/kme/portal_export_bom_crlf.csv.
constexpr const char* kAliceImei = "350925370583126";  // serial R58M12ABCDE, SM-G991B, alice
constexpr const char* kMeid = "A0000012345678";        // SM-G781V, no user

std::string Fixture(const std::string& name) {
  std::ifstream in(SourceDir() + "/tests/fixtures/kme/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class EnrollmentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto authority = mdm::TestDeviceAuthority::Generate();
    ASSERT_TRUE(authority.ok());
    authority_.emplace(std::move(*authority));
    ca_path_ = dir_.Sub("device-ca.pem");
    std::ofstream(ca_path_) << authority_->CaPem();
    engine_ = std::make_unique<EngineProcess>(
        dir_.Sub("data"), std::vector<std::string>{"--apple-dep-url", sim_.base_url(),
                                                   "--dep-sync-interval", "3600",
                                                   "--dep-retry-tick", "1",
                                                   "--apple-device-ca", ca_path_});
    ASSERT_THAT(engine_->Start(), IsOk());
    admin_ = engine_->AdminToken();
  }

  HttpAnswer Get(const std::string& path) { return engine_->Get(path, admin_); }
  HttpAnswer Patch(const std::string& path, const json& body) {
    return engine_->Send("PATCH", path, body.dump(), admin_, "application/json");
  }
  void CreateUser(const std::string& name) {
    ASSERT_EQ(engine_->Post("/v1/users", json{{"username", name}, {"role", "device_user"}}.dump(),
                            admin_).status, 201);
  }

  // A DEP account whose token expires at `expiry_ms` (0: in a year), with `devices` devices.
  std::string ActiveAccount(size_t devices, int64_t expiry_ms = 0,
                            const std::string& prefix = "C02") {
    auto acc = engine_->Post("/v1/dep/accounts", json{{"name", kServer}}.dump(), admin_);
    EXPECT_EQ(acc.status, 201) << acc.body;
    account_ = acc.json.value("id", "");
    std::string p7m = IssueToken(expiry_ms);  // makes the MDM server at Apple
    if (devices > 0) {
      EXPECT_THAT(sim_.AddDevices(kServer, sim::AppleDepSimulator::MakeDevices(prefix, devices)),
                  IsOk());
    }
    UploadToken(p7m);
    EXPECT_TRUE(WaitFor([&] {
      return Get("/v1/enrollments?source=dep&limit=1000").json["items"].size() == devices;
    }, std::chrono::seconds(30)));
    return account_;
  }
  // The token Apple's portal hands out for the account's certificate, expiring at `expiry_ms`
  // (0: in a year).
  std::string IssueToken(int64_t expiry_ms) {
    auto cert = Get("/v1/dep/accounts/" + account_ + "/certificate");
    EXPECT_EQ(cert.status, 200);
    sim::IssueTokenOptions o;
    o.expiry_ms = expiry_ms;
    auto p7m = sim_.IssueToken(cert.body, kServer, o);
    EXPECT_TRUE(p7m.ok());
    return p7m.ok() ? *p7m : "";
  }
  void UploadToken(const std::string& p7m) {
    auto up = engine_->Send("PUT", "/v1/dep/accounts/" + account_ + "/token", p7m, admin_,
                            "application/pkcs7-mime");
    ASSERT_EQ(up.status, 200) << up.body;
  }
  std::string DefineProfile() {
    auto p = engine_->Post("/v1/dep/profiles",
                           json{{"account_id", account_}, {"profile_name", "Staff"},
                                {"is_mandatory", true}, {"is_mdm_removable", false},
                                {"is_supervised", true}, {"await_device_configured", false},
                                {"skip_setup_items", json::array()}}.dump(),
                           admin_);
    EXPECT_EQ(p.status, 201) << p.body;
    return p.json.value("id", "");
  }
  void Sync() { EXPECT_EQ(engine_->Post("/v1/dep/accounts/" + account_ + "/sync", "", admin_).status, 202); }
  json DepDevice(const std::string& serial) { return Get("/v1/dep/devices/" + serial).json; }
  bool WaitForDep(const std::string& serial, const std::function<bool(const json&)>& pred) {
    return WaitFor([&] { return pred(DepDevice(serial)); }, std::chrono::seconds(30));
  }

  int ImportCsv() {
    auto r = engine_->Post("/v1/kme/imports", Fixture("portal_export_bom_crlf.csv"), admin_,
                           "text/csv");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json.value("created", 0);
  }

  // Every item of the list with `query` ("" or "a=b&c=d"), paged by `limit`.
  std::vector<json> All(const std::string& query, size_t limit = 1000) {
    std::vector<json> out;
    std::string cursor;
    for (int pages = 0; pages < 1000; ++pages) {
      std::string path = "/v1/enrollments?limit=" + std::to_string(limit) +
                         (query.empty() ? "" : "&" + query);
      if (!cursor.empty()) path += "&cursor=" + cursor;
      auto page = Get(path);
      EXPECT_EQ(page.status, 200) << page.body;
      if (page.status != 200) break;
      for (const auto& it : page.json["items"]) out.push_back(it);
      if (page.json["next_cursor"].is_null()) break;
      cursor = page.json["next_cursor"];
    }
    return out;
  }
  static std::set<std::string> Ids(const std::vector<json>& items) {
    std::set<std::string> ids;
    for (const auto& it : items) ids.insert(it["id"].get<std::string>());
    return ids;
  }

  std::unique_ptr<sim::AppleDeviceSimulator> Phone(const std::string& serial) {
    sim::AppleDeviceSimulatorOptions o;
    o.base_url = "http://127.0.0.1:" + std::to_string(engine_->port());
    o.serial = serial;
    o.udid = "00008030-" + serial;
    o.authority = &*authority_;
    o.sha1 = true;
    return std::make_unique<sim::AppleDeviceSimulator>(o);
  }
  // Enrolls the DEP device `serial` (it has a profile and a user) through the device calls.
  void EnrollPhone(const std::string& serial) {
    auto phone = Phone(serial);
    auto enrolled = phone->Enroll("http://127.0.0.1:" + std::to_string(engine_->port()) +
                                  "/enroll/apple");
    ASSERT_THAT(enrolled, IsOk());
    ASSERT_EQ(enrolled->http_status, 200) << enrolled->error_body;
    ASSERT_EQ(*phone->Authenticate(), 200);
    ASSERT_EQ(*phone->TokenUpdate(false), 200);
  }

  // The reconciliation items of `kind` (about `device` when not empty).
  std::vector<json> Findings(const std::string& kind, const std::string& device = "",
                             const std::string& query = "days=0") {
    auto r = Get("/v1/reconciliation?" + query);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<json> out;
    for (const auto& it : r.json["items"]) {
      if (it["kind"] != kind) continue;
      if (!device.empty() && it.value("device", "") != device) continue;
      out.push_back(it);
    }
    return out;
  }
  // The type of the event at log position `pos` (GET /v1/events shows it).
  std::string EventTypeAt(const std::string& pos) {
    auto p = LogPosition::Parse(pos);
    EXPECT_TRUE(p.has_value()) << pos;
    if (!p) return "";
    std::string path = "/v1/events?limit=1";
    if (p->offset > 0) path += "&after=" + std::to_string(p->offset - 1);
    auto r = Get(path);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.json["items"].empty() || r.json["items"][0]["position"] != pos) return "";
    return r.json["items"][0]["type"];
  }
  std::vector<std::string> EvidenceTypes(const json& item) {
    std::vector<std::string> out;
    for (const auto& p : item["evidence"]) out.push_back(EventTypeAt(p.get<std::string>()));
    return out;
  }

  TempDir dir_;
  std::string ca_path_;
  std::optional<mdm::TestDeviceAuthority> authority_;
  sim::AppleDepSimulator sim_;
  std::unique_ptr<EngineProcess> engine_;
  std::string admin_;
  std::string account_;
};

TEST_F(EnrollmentsTest, OneListHoldsDepAndKmeDevicesWithServerSideFilters) {
  CreateUser("alice");
  CreateUser("bob");
  ASSERT_EQ(engine_->Post("/v1/policies", R"({"name":"Standard"})", admin_).status, 201);
  ASSERT_EQ(engine_->Post("/v1/rulesets", R"({"name":"Strict"})", admin_).status, 201);
  ActiveAccount(3);
  const int kme = ImportCsv();
  ASSERT_GT(kme, 3);

  auto all = All("");
  ASSERT_EQ(all.size(), 3u + kme);
  auto dep = All("source=dep");
  ASSERT_EQ(dep.size(), 3u);
  for (const auto& d : dep) {
    EXPECT_EQ(d["source"], "dep");
    EXPECT_EQ(d["profile_status"], "empty");
    EXPECT_EQ(d["enrollment"], "not_enrolled");
    EXPECT_EQ(d["serial_number"], d["id"]);
    EXPECT_FALSE(d["model"].get<std::string>().empty());
    EXPECT_TRUE(d["user"].is_null());
    EXPECT_FALSE(d["last_change"]["position"].is_null());
  }
  auto kme_items = All("source=kme");
  ASSERT_EQ(kme_items.size(), static_cast<size_t>(kme));
  for (const auto& d : kme_items) {
    EXPECT_EQ(d["source"], "kme");
    EXPECT_FALSE(d.contains("profile_status"));
  }

  // Assignments: one DEP device gets alice, the policy and the rule set.
  const std::string serial = dep[0]["id"];
  ASSERT_EQ(Patch("/v1/dep/devices/" + serial,
                  {{"user", "alice"}, {"policy", "Standard"}, {"ruleset", "Strict"}}).status, 200);
  ASSERT_TRUE(WaitFor([&] { return All("policy=Standard").size() == 1; }));
  auto by_policy = All("policy=Standard");
  EXPECT_EQ(by_policy[0]["id"], serial);
  EXPECT_EQ(by_policy[0]["user"], "alice");
  EXPECT_EQ(by_policy[0]["policy"], "Standard");
  EXPECT_EQ(by_policy[0]["ruleset"], "Strict");
  EXPECT_EQ(All("ruleset=strict").size(), 1u);  // its id works too

  // alice: the DEP device and her two KME devices (the phone and the tablet of the CSV).
  auto alice = All("user=alice");
  EXPECT_EQ(alice.size(), 3u);
  for (const auto& d : alice) EXPECT_EQ(d["user"], "alice");
  EXPECT_EQ(Ids(All("user=alice&source=dep")), std::set<std::string>{serial});
  EXPECT_EQ(All("user=alice&source=kme").size(), 2u);
  EXPECT_EQ(All("user=alice&source=kme&policy=Standard").size(), 0u);
  // By the user's id as well as the username.
  const std::string alice_id = Get("/v1/users/alice").json.value("user_id", "");
  ASSERT_FALSE(alice_id.empty());
  EXPECT_EQ(Ids(All("user=" + alice_id)), Ids(alice));

  // Status: alice's KME phone enrolls.
  EXPECT_EQ(All("status=not_enrolled").size(), all.size());
  EXPECT_EQ(All("status=enrolled").size(), 0u);
  const std::string token = Get("/v1/kme/settings").json.value("enrollment_token", "");
  auto enrolled = engine_->Post("/enroll/android",
                                json{{"enrollment_token", token}, {"imei", kAliceImei},
                                     {"model", "SM-G991B"}, {"source", "kme"}}.dump());
  ASSERT_EQ(enrolled.status, 200) << enrolled.body;
  ASSERT_TRUE(WaitFor([&] { return All("status=enrolled").size() == 1; }));
  auto now_enrolled = All("status=enrolled&user=alice");
  ASSERT_EQ(now_enrolled.size(), 1u);
  EXPECT_EQ(now_enrolled[0]["imei"], kAliceImei);
  EXPECT_EQ(now_enrolled[0]["enrollment"], "enrolled");
  EXPECT_EQ(All("status=not_enrolled").size(), all.size() - 1);
  EXPECT_EQ(All("status=not_enrolled&user=alice").size(), 2u);

  // q: a prefix of the serial number, the IMEI or the model, in any case.
  auto by_serial = All("q=r58m12");
  ASSERT_EQ(by_serial.size(), 1u);
  EXPECT_EQ(by_serial[0]["serial_number"], "R58M12ABCDE");
  EXPECT_EQ(Ids(All("q=35092537")), Ids(by_serial));
  EXPECT_EQ(All("q=" + serial.substr(0, 3)).size(), 3u);
  EXPECT_EQ(All("q=" + serial).size(), 1u);
  auto by_model = All("q=sm-a536");
  ASSERT_FALSE(by_model.empty());
  for (const auto& d : by_model) EXPECT_EQ(d["model"], "SM-A536B");
  EXPECT_EQ(All("q=sm-a536&user=bob").size(), by_model.size());  // bob's
  EXPECT_EQ(All("q=sm-a536&user=alice").size(), 0u);
  EXPECT_EQ(All("q=SM-").size(), static_cast<size_t>(kme));
  // A device whose IMEI and IMEI2 both match is listed once.
  auto dual = All("q=351750081234");
  EXPECT_GE(dual.size(), 2u);
  EXPECT_EQ(Ids(dual).size(), dual.size());
  EXPECT_EQ(All("q=351750081234", 1).size(), dual.size());
  EXPECT_EQ(All("q=nothing-like-it").size(), 0u);
}

TEST_F(EnrollmentsTest, BadFiltersAndCursorsAreRefusedNamingTheParameter) {
  CreateUser("alice");
  ActiveAccount(3);
  auto check = [&](const std::string& query, const std::string& code, const std::string& field) {
    auto r = Get("/v1/enrollments?" + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_EQ(r.json["error"]["code"], code) << query;
    EXPECT_EQ(r.json["error"]["field"], field) << query;
  };
  check("source=apple", "request.bad_param", "source");
  check("status=happy", "request.bad_param", "status");
  check("user=nobody", "request.bad_param", "user");
  check("policy=none", "request.bad_param", "policy");
  check("ruleset=none", "request.bad_param", "ruleset");
  check("q=" + std::string(65, 'A'), "request.bad_param", "q");
  check("limit=0", "request.bad_limit", "limit");
  check("cursor=not-a-cursor", "request.bad_cursor", "cursor");
  // A cursor of one filter is refused by another.
  auto page = Get("/v1/enrollments?source=dep&limit=1");
  ASSERT_EQ(page.status, 200);
  const std::string cursor = page.json["next_cursor"];
  EXPECT_EQ(Get("/v1/enrollments?source=dep&limit=1&cursor=" + cursor).status, 200);
  check("source=kme&cursor=" + cursor, "request.bad_cursor", "cursor");
  check("cursor=" + cursor, "request.bad_cursor", "cursor");
}

TEST_F(EnrollmentsTest, CursorsNeitherSkipNorRepeatDevicesWhileOthersChange) {
  CreateUser("alice");
  CreateUser("bob");
  ActiveAccount(30, 0, "C05");
  std::vector<std::string> serials;
  for (const auto& d : All("source=dep")) serials.push_back(d["id"]);
  ASSERT_EQ(serials.size(), 30u);
  // alice has 20 of them.
  for (size_t i = 0; i < 20; ++i) {
    ASSERT_EQ(Patch("/v1/dep/devices/" + serials[i], {{"user", "alice"}}).status, 200);
  }
  ASSERT_TRUE(WaitFor([&] { return All("user=alice").size() == 20; }));

  // Page through alice's not-enrolled devices while devices are added before and after the
  // ones already seen, and others change hands.
  const std::string query = "user=alice&status=not_enrolled&limit=4";
  std::vector<std::string> seen;
  std::set<std::string> changed;
  std::string cursor;
  int round = 0;
  while (true) {
    auto page = Get("/v1/enrollments?" + query + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(page.status, 200) << page.body;
    for (const auto& it : page.json["items"]) seen.push_back(it["id"]);
    if (page.json["next_cursor"].is_null()) break;
    cursor = page.json["next_cursor"];
    ++round;
    // Changes between pages: a device listed already goes to bob and back to alice, one not
    // yet listed goes to bob, a new device (sorting first) arrives and goes to alice.
    const std::string listed = seen.front();
    ASSERT_EQ(Patch("/v1/dep/devices/" + listed, {{"user", "bob"}}).status, 200);
    ASSERT_EQ(Patch("/v1/dep/devices/" + listed, {{"user", "alice"}}).status, 200);
    changed.insert(listed);
    const std::string later = serials[19 - round];
    if (std::find(seen.begin(), seen.end(), later) == seen.end()) {
      ASSERT_EQ(Patch("/v1/dep/devices/" + later, {{"user", "bob"}}).status, 200);
      changed.insert(later);
    }
    const std::string fresh = "C01NEW" + std::to_string(round);
    auto devices = sim::AppleDepSimulator::MakeDevices(fresh, 1);
    ASSERT_THAT(sim_.AddDevices(kServer, devices), IsOk());
    Sync();
    ASSERT_TRUE(WaitFor([&] { return DepDevice(devices[0].serial_number).contains("serial_number"); }));
    ASSERT_EQ(Patch("/v1/dep/devices/" + devices[0].serial_number, {{"user", "alice"}}).status, 200);
    changed.insert(devices[0].serial_number);
    // Wait until the views hold the change (the list reads the views).
    ASSERT_TRUE(WaitFor([&] {
      return Ids(All("user=alice")).count(devices[0].serial_number) == 1;
    }));
  }
  ASSERT_GT(round, 2);
  std::set<std::string> unique(seen.begin(), seen.end());
  for (size_t i = 0; i < 20; ++i) {
    if (changed.count(serials[i])) continue;
    EXPECT_EQ(std::count(seen.begin(), seen.end(), serials[i]), 1) << serials[i];
  }
  EXPECT_EQ(unique.size(), seen.size()) << "a device was listed twice";
}

TEST_F(EnrollmentsTest, ReconciliationFindsWhatIsOutOfOrderWithEvidenceAndClearsWhenFixed) {
  CreateUser("alice");
  const int64_t soon = Clock::Real().NowMs() + 10LL * 24 * 3600 * 1000;
  ActiveAccount(4, soon);
  std::vector<std::string> serials;
  for (const auto& d : All("source=dep")) serials.push_back(d["id"]);
  ASSERT_EQ(serials.size(), 4u);
  ImportCsv();

  // The token expires within 30 days.
  auto token = Findings("dep_token_expiring");
  ASSERT_EQ(token.size(), 1u);
  EXPECT_EQ(token[0]["account"], account_);
  EXPECT_EQ(EvidenceTypes(token[0]), std::vector<std::string>{"DepTokenUploaded"});
  // A KME device without a user.
  std::string meid_id = Get(std::string("/v1/kme/devices/") + kMeid).json.value("id", "");
  ASSERT_FALSE(meid_id.empty());
  auto no_user = Findings("kme_without_user", meid_id);
  ASSERT_EQ(no_user.size(), 1u);
  EXPECT_EQ(EvidenceTypes(no_user[0]), std::vector<std::string>{"KmeDeviceImported"});

  // A DEP device assigned and not enrolled (days=0: at once); an assignment Apple refuses.
  const std::string profile = DefineProfile();
  sim_.SetSerialOutcome(serials[1], {"THROTTLED", 2});  // sent again after Apple's cool-down
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(Patch("/v1/dep/devices/" + serials[i], {{"profile_id", profile}, {"user", "alice"}}).status, 200);
  }
  ASSERT_TRUE(WaitForDep(serials[0], [](const json& d) { return d["profile_status"] == "assigned"; }));
  ASSERT_TRUE(WaitForDep(serials[2], [](const json& d) { return d["profile_status"] == "assigned"; }));
  ASSERT_TRUE(WaitFor([&] { return Findings("dep_assignment_failing", serials[1]).size() == 1; },
                      std::chrono::seconds(30)));
  auto failing = Findings("dep_assignment_failing", serials[1]);
  ASSERT_FALSE(failing[0]["evidence"].empty());
  for (const auto& t : EvidenceTypes(failing[0])) EXPECT_EQ(t, "DepProfileAssignmentFailed");
  EXPECT_EQ(failing[0]["reason"], "THROTTLED");
  EXPECT_TRUE(failing[0]["retry_after"].is_string()) << failing[0].dump();
  auto waiting = Findings("dep_assigned_not_enrolled", serials[0]);
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(EvidenceTypes(waiting[0]), std::vector<std::string>{"DepProfileAssigned"});
  EXPECT_TRUE(Findings("dep_assigned_not_enrolled", serials[0], "days=14").empty());  // too fresh

  // The CLI beside the running server: findings, exit 1.
  auto cli = RunTool({"reconcile", "--data-dir", engine_->data_dir(), "--days", "0",
                      "--json"});
  EXPECT_EQ(cli.exit_code, 1) << cli.err;
  json cli_report = json::parse(cli.out, nullptr, false);
  ASSERT_TRUE(cli_report.is_object()) << cli.out;
  EXPECT_FALSE(cli_report["items"].empty());
  auto lines = RunTool({"reconcile", "--data-dir", engine_->data_dir(), "--days", "0"});
  EXPECT_EQ(lines.exit_code, 1) << lines.err;
  EXPECT_NE(lines.out.find("kme_without_user"), std::string::npos) << lines.out;
  auto over_http = RunTool({"reconcile", "--url",
                            "http://127.0.0.1:" + std::to_string(engine_->port()), "--days", "0"},
                           {{"AUTOENROLL_TOKEN", admin_}});
  EXPECT_EQ(over_http.exit_code, 1) << over_http.err;
  EXPECT_EQ(RunTool({"reconcile", "--data-dir", dir_.Sub("nothing-here")}).exit_code,
            2);

  // Enrolled, then released at Apple while still in the inventory.
  EnrollPhone(serials[0]);
  ASSERT_TRUE(WaitFor([&] { return Findings("dep_assigned_not_enrolled", serials[0]).empty(); }));
  ASSERT_THAT(sim_.RemoveDevice(serials[0]), IsOk());
  Sync();
  ASSERT_TRUE(WaitFor([&] { return Findings("dep_released_in_inventory", serials[0]).size() == 1; },
                      std::chrono::seconds(30)));
  auto released = Findings("dep_released_in_inventory", serials[0]);
  EXPECT_EQ(EvidenceTypes(released[0]),
            (std::vector<std::string>{"DeviceEnrolled", "DepDeviceUnassigned"}));
  EXPECT_EQ(All("status=released").size(), 1u);

  // Fix everything.
  ASSERT_EQ(engine_->Delete("/v1/devices/" + serials[0], admin_).status, 200);
  ASSERT_EQ(Patch(std::string("/v1/kme/devices/") + kMeid, {{"user", "alice"}}).status, 200);
  sim_.SetSerialOutcome(serials[1], {"", 0});
  // The engine sends the throttled assignment again when it is due.
  ASSERT_TRUE(WaitForDep(serials[1], [](const json& d) { return d["profile_status"] == "assigned"; }));
  UploadToken(IssueToken(0));  // a token valid for a year
  ASSERT_TRUE(WaitFor([&] { return Findings("dep_token_expiring").empty(); }));
  EXPECT_TRUE(Findings("dep_released_in_inventory").empty());
  EXPECT_TRUE(Findings("kme_without_user", meid_id).empty());
  EXPECT_TRUE(WaitFor([&] { return Findings("dep_assignment_failing").empty(); }));
  // What remains: the devices assigned and never enrolled, and the KME devices without a user.
  for (const auto& s : {serials[1], serials[2]}) {
    ASSERT_EQ(engine_->Delete("/v1/dep/devices/" + s + "/profile", admin_).status, 202);
  }
  for (const auto& d : All("source=kme")) {
    if (d["user"].is_null()) {
      ASSERT_EQ(Patch("/v1/kme/devices/" + d["id"].get<std::string>(), {{"user", "alice"}}).status, 200);
    }
  }
  ASSERT_TRUE(WaitFor([&] {
    auto r = Get("/v1/reconciliation?days=0");
    return r.status == 200 && r.json["items"].empty();
  }, std::chrono::seconds(30))) << Get("/v1/reconciliation?days=0").body
      << Get("/v1/dep/devices/" + serials[1] + "/history").body
      << Get("/v1/dep/devices/" + serials[2] + "/history").body;
  auto clean = RunTool({"reconcile", "--data-dir", engine_->data_dir(), "--days", "0"});
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
}

TEST_F(EnrollmentsTest, ReconciliationRefusesBadParameters) {
  for (const std::string q : {"days=-1", "days=x", "limit=0", "kind=nope", "expiry_days=99999"}) {
    auto r = Get("/v1/reconciliation?" + q);
    EXPECT_EQ(r.status, 400) << q;
    EXPECT_EQ(r.json["error"]["code"], "request.bad_param") << q;
  }
  EXPECT_EQ(Get("/v1/reconciliation").json["items"], json::array());
}

}  // namespace
}  // namespace ae::testing
