// Enrollment rules, their dry run, bulk assignment jobs and the Knox import's parameters,
// end to end: the autoenroll binary with the Apple DEP simulator on loopback.

#include <set>

#include "adapters/simulators/apple_dep_simulator.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;

constexpr char kServer[] = "MDM Server 1";

// A valid 15-digit IMEI (Luhn check digit) from a 14-digit body.
std::string Imei(uint64_t body14) {
  std::string s = std::to_string(body14);
  int sum = 0;
  for (int i = 0; i < 14; ++i) {
    int d = s[13 - i] - '0';
    if (i % 2 == 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return s + std::to_string((10 - sum % 10) % 10);
}

struct Row {
  uint64_t n;
  std::string model, tags, user;
};

std::string Csv(const std::vector<Row>& rows) {
  std::string csv = "IMEI/MEID,Serial number,Model,User ID,Tags,Profile\r\n";
  for (const auto& r : rows) {
    csv += Imei(35000000000000 + r.n) + ",R58M" + std::to_string(1000000 + r.n) + "," + r.model +
           "," + r.user + ",\"" + r.tags + "\",Default Profile\r\n";
  }
  return csv;
}

std::string KmeId(uint64_t n) { return "imei:" + Imei(35000000000000 + n); }

class RulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = std::make_unique<EngineProcess>(
        dir_.Sub("data"), std::vector<std::string>{"--apple-dep-url", sim_.base_url(),
                                                   "--dep-sync-interval", "3600",
                                                   "--dep-retry-tick", "1"});
    ASSERT_THAT(engine_->Start(), IsOk());
    admin_ = engine_->AdminToken();
  }

  json Get(const std::string& path) { return engine_->Get(path, admin_).json; }
  HttpAnswer Post(const std::string& path, const json& body) {
    return engine_->Post(path, body.dump(), admin_);
  }
  HttpAnswer Import(const std::string& csv, const std::string& params = "") {
    return engine_->Post("/v1/kme/imports" + params, csv, admin_, "text/csv");
  }
  void Named(const std::string& kind, const std::string& name) {
    ASSERT_EQ(Post("/v1/" + kind, {{"name", name}}).status, 201);
  }
  void User(const std::string& name) {
    ASSERT_EQ(Post("/v1/users", {{"username", name}, {"role", "device_user"}}).status, 201);
  }

  // An account with a token for kServer (no devices yet) and a profile Apple accepted.
  std::pair<std::string, std::string> AccountWithProfile() {
    auto acc = Post("/v1/dep/accounts", {{"name", kServer}});
    EXPECT_EQ(acc.status, 201) << acc.body;
    std::string id = acc.json.value("id", "");
    auto cert = engine_->Get("/v1/dep/accounts/" + id + "/certificate", admin_);
    auto p7m = sim_.IssueToken(cert.body, kServer);
    EXPECT_TRUE(p7m.ok());
    auto up = engine_->Send("PUT", "/v1/dep/accounts/" + id + "/token", *p7m, admin_,
                            "application/pkcs7-mime");
    EXPECT_EQ(up.status, 200) << up.body;
    auto p = Post("/v1/dep/profiles", {{"account_id", id}, {"profile_name", "Staff"},
                                       {"is_supervised", true}, {"is_mandatory", true}});
    EXPECT_EQ(p.status, 201) << p.body;
    std::string profile = p.json.value("id", "");
    EXPECT_TRUE(WaitFor([&] { return Get("/v1/dep/profiles/" + profile)["state"] == "defined"; },
                        std::chrono::seconds(30)));
    return {id, profile};
  }

  void Sync(const std::string& account) {
    EXPECT_EQ(engine_->Post("/v1/dep/accounts/" + account + "/sync", "", admin_).status, 202);
  }

  // Every DEP device, paged.
  std::vector<json> DepDevices() {
    std::vector<json> out;
    std::string cursor;
    while (true) {
      json page = Get("/v1/dep/devices?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor));
      for (auto& d : page["items"]) out.push_back(d);
      if (page["next_cursor"].is_null()) return out;
      cursor = page["next_cursor"];
    }
  }

  // The events of a device's history of type `type`.
  std::vector<json> HistoryOf(const std::string& path, const std::string& type) {
    std::vector<json> out;
    const json history = Get(path + "/history");
    for (const auto& e : history["items"]) {
      if (e["type"] == type) out.push_back(e["event"]);
    }
    return out;
  }

  json WaitForJob(const std::string& id) {
    json j;
    EXPECT_TRUE(WaitFor([&] {
      j = Get("/v1/jobs/" + id + "?limit=1000");
      return j.value("state", "") != "running";
    }, std::chrono::seconds(60))) << j.dump();
    return j;
  }

  TempDir dir_;
  sim::AppleDepSimulator sim_;
  std::unique_ptr<EngineProcess> engine_;
  std::string admin_;
};

TEST_F(RulesTest, ARuleGivesTenThousandNewDepDevicesItsProfileAndPolicyButNeverOverridesAManualChange) {
  auto [account, profile] = AccountWithProfile();
  Named("policies", "Standard");
  Named("policies", "Manual");
  auto rule = Post("/v1/rules", {{"name", "Every DEP device"},
                                 {"priority", 10},
                                 {"when", {{"source", "dep"}, {"account_id", account}}},
                                 {"then", {{"profile_id", profile}, {"policy", "Standard"}}}});
  ASSERT_EQ(rule.status, 201) << rule.body;
  const std::string rule_id = rule.json["id"];
  EXPECT_EQ(rule.json["then"]["policy"], "Standard");
  EXPECT_EQ(Get("/v1/rules")["items"].size(), 1u);
  auto unknown_profile = Post("/v1/rules", {{"name", "No such profile"},
                                            {"when", {{"source", "dep"}}},
                                            {"then", {{"profile_id", "prof_nope"}}}});
  EXPECT_EQ(unknown_profile.status, 422) << unknown_profile.body;
  EXPECT_EQ(unknown_profile.json["error"]["code"], "dep.unknown_profile");
  EXPECT_EQ(unknown_profile.json["error"]["field"], "then.profile_id");
  EXPECT_EQ(Get("/v1/rules")["items"].size(), 1u);  // nothing written

  constexpr size_t kDevices = 10000;
  ASSERT_THAT(sim_.AddDevices(kServer, sim::AppleDepSimulator::MakeDevices("C02", kDevices)),
              IsOk());
  Sync(account);
  ASSERT_TRUE(WaitFor([&] {
    return Get("/v1/dep/accounts/" + account)["device_counts"].value("assigned", 0) ==
           static_cast<int>(kDevices);
  }, std::chrono::seconds(300))) << Get("/v1/dep/accounts/" + account).dump();
  auto devices = DepDevices();
  ASSERT_EQ(devices.size(), kDevices);
  for (const auto& d : devices) {
    ASSERT_EQ(d["profile_status"], "assigned") << d.dump();
    ASSERT_EQ(d["profile_id"], profile) << d.dump();
    ASSERT_EQ(d["policy"], "Standard") << d.dump();
  }
  const std::string first = devices[0]["serial_number"];
  const std::string path = "/v1/dep/devices/" + first;
  auto requested = HistoryOf(path, "DepProfileAssignmentRequested");
  ASSERT_EQ(requested.size(), 1u);
  EXPECT_EQ(requested[0]["rule_id"], rule_id);
  auto policy = HistoryOf(path, "DevicePolicyAssigned");
  ASSERT_EQ(policy.size(), 1u);
  EXPECT_EQ(policy[0]["rule_id"], rule_id);

  // An administrator changes one device; the next sync (with a new device) keeps that.
  ASSERT_EQ(engine_->Send("PATCH", path, json{{"policy", "Manual"}}.dump(), admin_,
                          "application/json").status, 200);
  ASSERT_THAT(sim_.AddDevices(kServer, sim::AppleDepSimulator::MakeDevices("D01", 1)), IsOk());
  Sync(account);
  std::string added;
  ASSERT_TRUE(WaitFor([&] {
    const json found = Get("/v1/dep/devices?q=D01");
    for (const auto& d : found["items"]) {
      if (d["profile_status"] == "assigned") added = d["serial_number"];
    }
    return !added.empty();
  }, std::chrono::seconds(60)));
  EXPECT_EQ(Get("/v1/dep/devices/" + added)["policy"], "Standard");
  EXPECT_EQ(Get(path)["policy"], "Manual");
  EXPECT_EQ(HistoryOf(path, "DevicePolicyAssigned").size(), 2u);
}

TEST_F(RulesTest, AKnoxRuleByTagAndModelAndTheImportsParametersGoOnlyToCreatedDevices) {
  User("row-user");
  User("default-user");
  Named("policies", "Field");
  Named("policies", "Import");
  Named("rulesets", "Strict");
  auto rule = Post("/v1/rules", {{"name", "Warehouse phones"},
                                 {"when", {{"source", "kme"},
                                           {"models", {"SM-G991B"}},
                                           {"knox_tags", {"warehouse"}}}},
                                 {"then", {{"policy", "Field"}, {"ruleset", "Strict"}}}});
  ASSERT_EQ(rule.status, 201) << rule.body;
  const std::string rule_id = rule.json["id"];

  // Device 1 is created by a plain import: the rule alone decides.
  ASSERT_EQ(Import(Csv({{1, "SM-G991B", "Warehouse,north", ""}})).status, 200);
  json d1 = Get("/v1/kme/devices/" + KmeId(1));
  EXPECT_EQ(d1["policy"], "Field");
  EXPECT_EQ(d1["ruleset"], "Strict");
  auto by_rule = HistoryOf("/v1/kme/devices/" + KmeId(1), "DeviceRuleSetAssigned");
  ASSERT_EQ(by_rule.size(), 1u);
  EXPECT_EQ(by_rule[0]["rule_id"], rule_id);

  // Unknown parameters: 422 naming them, nothing written.
  const std::string csv = Csv({{1, "SM-G991B", "warehouse", ""},
                               {2, "SM-G991B", "warehouse", "row-user"},
                               {3, "SM-A536B", "warehouse", ""}});
  for (const auto& [params, field] : std::vector<std::pair<std::string, std::string>>{
           {"?policy_id=nope", "policy_id"},
           {"?ruleset_id=nope", "ruleset_id"},
           {"?policy_id=import&user=ghost", "user"}}) {
    auto bad = Import(csv, params);
    EXPECT_EQ(bad.status, 422) << params << " " << bad.body;
    EXPECT_EQ(bad.json["error"]["field"], field) << bad.body;
  }
  EXPECT_EQ(engine_->Get("/v1/kme/devices/" + KmeId(2), admin_).status, 404);

  auto imported = Import(csv, "?policy_id=import&ruleset_id=&user=default-user");
  ASSERT_EQ(imported.status, 200) << imported.body;
  EXPECT_EQ(imported.json["created"], 2);
  // Device 1 existed: the parameters leave it as it was.
  d1 = Get("/v1/kme/devices/" + KmeId(1));
  EXPECT_EQ(d1["policy"], "Field");
  EXPECT_EQ(d1["user"], "");
  // Device 2: its row's user, the import's policy, the rule's rule set on top.
  json d2 = Get("/v1/kme/devices/" + KmeId(2));
  EXPECT_EQ(d2["user"], "row-user");
  EXPECT_EQ(d2["policy"], "Import");
  EXPECT_EQ(d2["ruleset"], "Strict");
  // Device 3: no user in its row (the import's default), another model (no rule).
  json d3 = Get("/v1/kme/devices/" + KmeId(3));
  EXPECT_EQ(d3["user"], "default-user");
  EXPECT_EQ(d3["policy"], "Import");
  EXPECT_EQ(d3["ruleset"], "");
  auto completed = Get("/v1/events?type=KmeImportCompleted")["items"];
  ASSERT_FALSE(completed.empty());
  EXPECT_EQ(completed.back()["data"]["policy_id"], "import");
  EXPECT_FALSE(completed.back()["data"].value("default_user_id", "").empty());
}

TEST_F(RulesTest, TheDryRunAnswersWhatARuleWouldChangeAndWritesNothing) {
  Named("policies", "Field");
  Named("policies", "Manual");
  std::vector<Row> rows;
  for (uint64_t i = 0; i < 20; ++i) rows.push_back({i, "SM-G991B", i < 12 ? "north" : "south", ""});
  auto first = Import(Csv(rows));
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string after_first = first.Header("X-Log-Position");
  ASSERT_FALSE(after_first.empty());
  // One north device is given a policy by hand: the rule would not override it.
  ASSERT_EQ(engine_->Send("PATCH", "/v1/kme/devices/" + KmeId(0),
                          json{{"policy", "Manual"}}.dump(), admin_, "application/json").status,
            200);
  json rule = {{"when", {{"knox_tags", {"north"}}}}, {"then", {{"policy", "Field"}}}};
  auto dry = Post("/v1/rules/dry-run", {{"rule", rule}, {"limit", 5}});
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_EQ(dry.json["matched"], 12);
  EXPECT_EQ(dry.json["devices_seen"], 20);
  EXPECT_EQ(dry.json["would_change_count"], 11);
  EXPECT_EQ(dry.json["would_change"].size(), 5u);
  EXPECT_EQ(dry.json["truncated"], true);
  EXPECT_GT(dry.json["events_read"].get<int>(), 20);
  json change = dry.json["would_change"][0];
  EXPECT_EQ(change["source"], "kme");
  EXPECT_EQ(change["changes"]["policy"]["from"], nullptr);
  EXPECT_EQ(change["changes"]["policy"]["to"], "Field");
  auto all = Post("/v1/rules/dry-run", {{"rule", rule}, {"limit", 100}});
  std::set<std::string> listed;
  for (auto& d : all.json["would_change"]) listed.insert(d["device"]);
  EXPECT_EQ(listed.size(), 11u);
  EXPECT_EQ(listed.count(KmeId(0)), 0u);
  // Nothing was written: the log ends where it did, and again where it did.
  const std::string until = dry.json["until"];
  EXPECT_EQ(all.json["until"], until);
  EXPECT_TRUE(Get("/v1/events?cursor=" + until)["items"].empty());

  // Since a position: only the devices that appeared after it.
  ASSERT_EQ(Import(Csv({{100, "SM-G991B", "north", ""}, {101, "SM-G991B", "south", ""}})).status,
            200);
  auto since = Post("/v1/rules/dry-run", {{"rule", rule}, {"since", after_first}});
  ASSERT_EQ(since.status, 200) << since.body;
  EXPECT_EQ(since.json["devices_seen"], 2);
  EXPECT_EQ(since.json["matched"], 1);
  EXPECT_EQ(since.json["would_change"][0]["device"], KmeId(100));
  EXPECT_EQ(Get("/v1/rules")["items"].size(), 0u);

  auto bad = Post("/v1/rules/dry-run", {{"rule", {{"then", {{"policy", "nope"}}}}}});
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(bad.json["error"]["code"], "device.unknown_policy");
  EXPECT_EQ(bad.json["error"]["field"], "rule.then.policy");
}

TEST_F(RulesTest, ABulkAssignmentOverAFilterReportsEveryDevicesOutcome) {
  auto [account, profile] = AccountWithProfile();
  Named("policies", "Standard");
  ASSERT_THAT(sim_.AddDevices(kServer, sim::AppleDepSimulator::MakeDevices("C02", 5)), IsOk());
  Sync(account);
  ASSERT_TRUE(WaitFor([&] { return DepDevices().size() == 5; }, std::chrono::seconds(30)));
  const std::string gone = DepDevices()[4]["serial_number"];
  ASSERT_THAT(sim_.RemoveDevice(gone), IsOk());  // no longer ours at Apple
  Sync(account);
  ASSERT_TRUE(WaitFor([&] { return Get("/v1/dep/devices/" + gone)["assigned_to_server"] == false; },
                      std::chrono::seconds(30)));
  ASSERT_EQ(Import(Csv({{1, "SM-G991B", "", ""}, {2, "SM-A536B", "", ""}})).status, 200);

  // Refusals of the request itself.
  EXPECT_EQ(Post("/v1/enrollments/assign", {{"filter", json::object()}, {"colour", "red"}}).status,
            400);
  auto unknown = Post("/v1/enrollments/assign", {{"filter", json::object()}, {"policy", "nope"}});
  EXPECT_EQ(unknown.status, 422);
  EXPECT_EQ(unknown.json["error"]["code"], "device.unknown_policy");
  EXPECT_EQ(unknown.json["error"]["field"], "policy");
  EXPECT_EQ(Post("/v1/enrollments/assign", {{"policy", "Standard"}}).status, 400);

  auto started = Post("/v1/enrollments/assign",
                      {{"filter", json::object()}, {"profile_id", profile}, {"policy", "Standard"}});
  ASSERT_EQ(started.status, 202) << started.body;
  const std::string job_id = started.json["job_id"];
  json job = WaitForJob(job_id);
  EXPECT_EQ(job["state"], "done");
  EXPECT_EQ(job["total"], 7);
  EXPECT_EQ(job["done"], 7);
  EXPECT_EQ(job["assigned"], 6);
  EXPECT_EQ(job["refused"], 1);
  ASSERT_EQ(job["outcomes"].size(), 7u);
  for (const auto& o : job["outcomes"]) {
    if (o["device"] == gone) {
      EXPECT_EQ(o["outcome"], "refused");
      EXPECT_EQ(o["code"], "dep.device_not_assigned_to_server");
    } else {
      EXPECT_EQ(o["outcome"], "assigned") << o.dump();
    }
  }
  auto page = Get("/v1/jobs/" + job_id + "?limit=4");
  EXPECT_EQ(page["outcomes"].size(), 4u);
  auto rest = Get("/v1/jobs/" + job_id + "?limit=4&cursor=" + page["next_cursor"].get<std::string>());
  EXPECT_EQ(rest["outcomes"].size(), 3u);
  EXPECT_EQ(rest["next_cursor"], nullptr);

  // Every device of the selection has the policy, named by the job; DEP ones the profile.
  json kme = Get("/v1/kme/devices/" + KmeId(2));
  EXPECT_EQ(kme["policy"], "Standard");
  auto policy = HistoryOf("/v1/kme/devices/" + KmeId(2), "DevicePolicyAssigned");
  ASSERT_EQ(policy.size(), 1u);
  EXPECT_EQ(policy[0]["job_id"], job_id);
  const std::string dep = DepDevices()[0]["serial_number"];
  EXPECT_TRUE(WaitFor([&] { return Get("/v1/dep/devices/" + dep)["profile_status"] == "assigned"; },
                      std::chrono::seconds(30)));
  EXPECT_EQ(HistoryOf("/v1/dep/devices/" + dep, "DepProfileAssignmentRequested")[0]["job_id"],
            job_id);

  // A finished job cannot be cancelled; an unknown one is not found.
  EXPECT_EQ(engine_->Delete("/v1/jobs/" + job_id, admin_).status, 409);
  EXPECT_EQ(engine_->Get("/v1/jobs/none", admin_).status, 404);
}

}  // namespace
}  // namespace ae::testing
