// Vendor faults end to end: the autoenroll binary against the Apple DEP and Knox Cloud API
// simulators (in this process, on loopback), while the simulators misbehave: 429 with
// Retry-After, 503 storms, answers lost to the engine's read timeout, expired sessions and
// revoked tokens, malformed 200 answers. The engine backs off (counted and timed at the
// simulator: "at least this long", "at most this many calls", never "this fast"), shows the
// state on the account, device or connection, and never loses or duplicates an assignment
// or an inventory record.

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "adapters/simulators/apple_dep_simulator.h"
#include "adapters/simulators/knox_simulator.h"
#include "adapters/samsung_knox/knox_client.h"
#include "events/base/clock.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kServer[] = "MDM Server 1";
constexpr char kProfileDevices[] = "/profile/devices";
constexpr char kServerDevices[] = "/server/devices";
constexpr char kDevicesSync[] = "/devices/sync";

// WaitFor, polling the engine at most every 50 ms (an HTTP call per poll).
bool Eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto last = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  bool value = false;
  bool done = WaitFor(
      [&] {
        auto now = std::chrono::steady_clock::now();
        if (now - last < std::chrono::milliseconds(50)) return false;
        last = now;
        value = pred();
        return value;
      },
      timeout);
  return done || value || pred();
}

std::string S(const json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

// j[key] as a string, "" when j is not an object or has no such string.
std::string Field(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return "";
  return j[key].get<std::string>();
}
bool SyncRunning(const json& account) {
  return account.is_object() && account["sync"].is_object() &&
         account["sync"].value("running", false);
}

// The serials named by the JSON body of a DEP request ({"devices": [...]}).
std::vector<std::string> BodySerials(const std::string& body) {
  std::vector<std::string> out;
  json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("devices") || !j["devices"].is_array()) return out;
  for (const auto& s : j["devices"]) {
    if (s.is_string()) out.push_back(s.get<std::string>());
  }
  return out;
}

// Gaps between consecutive requests: each retry k (1-based) of one call waits at least
// half its backoff cap, 500 ms * 2^(k-1) with the engine's policy (base 1 s, equal jitter).
template <typename Req>
void ExpectExponentialBackoff(const std::vector<Req>& calls, size_t retries) {
  ASSERT_GE(calls.size(), retries + 1);
  int64_t min_gap = 500;
  for (size_t k = 1; k <= retries; ++k, min_gap *= 2) {
    EXPECT_GE(calls[k].time_ms - calls[k - 1].time_ms, min_gap)
        << "retry " << k << " came too early: no backoff";
  }
}

// ---- Apple DEP ------------------------------------------------------------------------------

class DepFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = std::make_unique<EngineProcess>(
        dir_.Sub("data"), std::vector<std::string>{"--apple-dep-url", sim_.base_url(),
                                                   "--dep-sync-interval", "3600",
                                                   "--dep-retry-tick", "1",
                                                   "--dep-read-timeout", "5"});
    ASSERT_THAT(engine_->Start(), IsOk());
    admin_ = engine_->AdminToken();
  }

  // An account whose token is issued at the simulator (with `devices` devices) but not yet
  // uploaded; returns its id and fills `p7m`.
  std::string NewAccount(size_t devices, std::string* p7m, const std::string& prefix = "C02") {
    auto acc = engine_->Post("/v1/dep/accounts", json{{"name", kServer}}.dump(), admin_);
    EXPECT_EQ(acc.status, 201) << acc.body;
    std::string id = acc.json.value("id", "");
    auto token = sim_.IssueToken(Certificate(id), kServer);
    EXPECT_TRUE(token.ok());
    if (token.ok()) *p7m = *token;
    if (devices > 0) {
      EXPECT_THAT(sim_.AddDevices(kServer, sim::AppleDepSimulator::MakeDevices(prefix, devices)),
                  IsOk());
    }
    return id;
  }
  std::string Certificate(const std::string& id) {
    return engine_->Get("/v1/dep/accounts/" + id + "/certificate", admin_).body;
  }
  HttpAnswer UploadToken(const std::string& id, const std::string& p7m) {
    return engine_->Send("PUT", "/v1/dep/accounts/" + id + "/token", p7m, admin_,
                         "application/pkcs7-mime");
  }
  // An account with its token uploaded and its first sync of `devices` devices done.
  std::string ActiveAccount(size_t devices) {
    std::string p7m;
    std::string id = NewAccount(devices, &p7m);
    auto up = UploadToken(id, p7m);
    EXPECT_EQ(up.status, 200) << up.body;
    EXPECT_TRUE(WaitForCount(id, "total", devices)) << Account(id).dump();
    EXPECT_TRUE(Eventually([&] { return !SyncRunning(Account(id)); }));
    return id;
  }

  json Account(const std::string& id) {
    return engine_->Get("/v1/dep/accounts/" + id, admin_).json;
  }
  bool WaitForCount(const std::string& id, const std::string& bucket, size_t n,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return Eventually(
        [&] {
          json counts = Account(id)["device_counts"];
          return counts.is_object() && counts.value(bucket, 0) == static_cast<int>(n);
        },
        timeout);
  }
  json Device(const std::string& serial) {
    return engine_->Get("/v1/dep/devices/" + serial, admin_).json;
  }
  // The first `n` serials of the inventory.
  std::vector<std::string> Serials(size_t n) {
    std::vector<std::string> out;
    std::string cursor;
    for (int pages = 0; pages < 100 && out.size() < n; ++pages) {
      auto page = engine_->Get("/v1/dep/devices?limit=100" +
                                   (cursor.empty() ? std::string() : "&cursor=" + cursor),
                               admin_);
      EXPECT_EQ(page.status, 200) << page.body;
      if (page.status != 200) break;
      for (const auto& d : page.json["items"]) {
        if (out.size() < n) out.push_back(d["serial_number"].get<std::string>());
      }
      if (page.json["next_cursor"].is_null()) break;
      cursor = S(page.json["next_cursor"]);
    }
    EXPECT_EQ(out.size(), n);
    return out;
  }
  json DefineProfile(const std::string& account_id, const std::string& name) {
    auto p = engine_->Post("/v1/dep/profiles",
                           json{{"account_id", account_id},
                                {"profile_name", name},
                                {"is_supervised", true},
                                {"is_mdm_removable", false}}
                               .dump(),
                           admin_);
    EXPECT_EQ(p.status, 201) << p.body;
    EXPECT_TRUE(Eventually([&] {
      return !engine_->Get("/v1/dep/profiles/" + S(p.json["id"]), admin_)
                  .json.value("profile_uuid", "")
                  .empty();
    }));
    return engine_->Get("/v1/dep/profiles/" + S(p.json["id"]), admin_).json;
  }
  void Assign(const std::vector<std::string>& serials, const json& profile) {
    for (const auto& serial : serials) {
      auto r = engine_->Send("PATCH", "/v1/dep/devices/" + serial,
                             json{{"profile_id", profile["id"]}}.dump(), admin_,
                             "application/json");
      ASSERT_EQ(r.status, 200) << serial << ": " << r.body;
    }
  }
  void Sync(const std::string& id) {
    auto s = engine_->Post("/v1/dep/accounts/" + id + "/sync", "", admin_);
    EXPECT_EQ(s.status, 202) << s.body;
  }
  std::vector<json> Events(const std::string& type) {
    std::vector<json> out;
    std::string cursor;
    for (int page = 0; page < 100; ++page) {
      auto r = engine_->Get("/v1/events?limit=1000&type=" + type +
                                (cursor.empty() ? "" : "&cursor=" + cursor),
                            admin_);
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) break;
      for (const auto& e : r.json["items"]) out.push_back(e);
      if (r.json["next_cursor"].is_null()) break;
      cursor = S(r.json["next_cursor"]);
    }
    return out;
  }
  // Events of `type` per stream: every stream must appear once.
  std::map<std::string, int> PerStream(const std::string& type) {
    std::map<std::string, int> out;
    for (const auto& e : Events(type)) ++out[S(e["stream"])];
    return out;
  }
  void ExpectOncePerDevice(const std::string& type, const std::vector<std::string>& serials) {
    auto per = PerStream(type);
    EXPECT_EQ(per.size(), serials.size()) << type;
    for (const auto& serial : serials) {
      EXPECT_EQ(per["dep-device/" + serial], 1) << type << " for " << serial;
    }
  }
  std::vector<sim::RecordedRequest> Calls(const std::string& path) {
    std::vector<sim::RecordedRequest> out;
    for (auto& r : sim_.Requests()) {
      if (r.path == path) out.push_back(std::move(r));
    }
    return out;
  }
  // How many answered-200 assignment calls named each serial: Apple applied it that often.
  std::map<std::string, int> AppliedAssignments() {
    std::map<std::string, int> out;
    for (const auto& r : Calls(kProfileDevices)) {
      if (r.method == "DELETE" || r.status != 200) continue;
      for (const auto& s : BodySerials(r.body)) ++out[s];
    }
    return out;
  }
  // Every assignment reached Apple once, is recorded once, and Apple holds `uuid`.
  void ExpectAssignedExactlyOnce(const std::vector<std::string>& serials,
                                 const std::string& uuid) {
    auto applied = AppliedAssignments();
    for (const auto& serial : serials) {
      EXPECT_EQ(applied[serial], 1) << serial << " assigned at Apple " << applied[serial] << "x";
      auto at_apple = sim_.DeviceState(serial);
      ASSERT_TRUE(at_apple.has_value());
      EXPECT_EQ(at_apple->profile_uuid, uuid) << serial;
      EXPECT_EQ(at_apple->profile_status, dep::ProfileStatus::kAssigned) << serial;
      json d = Device(serial);
      EXPECT_EQ(d["profile_status"], "assigned") << d.dump();
      EXPECT_TRUE(d["last_assignment_error"].is_null()) << d.dump();
    }
    ExpectOncePerDevice("DepProfileAssigned", serials);
  }
  bool Healthy() { return engine_->Get("/healthz").status == 200; }

  TempDir dir_;
  sim::AppleDepSimulator sim_;
  std::unique_ptr<EngineProcess> engine_;
  std::string admin_;
};

TEST_F(DepFaultsTest, ThrottledSyncShowsOnTheAccountAndWaitsForRetryAfter) {
  std::string p7m;
  const std::string id = NewAccount(150, &p7m);
  sim_.InjectFailure(kServerDevices, 1, 429, "3", "\"TOO_MANY_REQUESTS\"");
  ASSERT_EQ(UploadToken(id, p7m).status, 200);

  // Meanwhile the account says why nothing arrives.
  ASSERT_TRUE(Eventually([&] {
    return Field(Account(id)["last_sync_error"], "code") == "dep.throttled";
  })) << Account(id).dump();
  json throttled = Account(id);
  EXPECT_THAT(S(throttled["last_sync_error"]["message"]), HasSubstr("3 s"));
  EXPECT_EQ(throttled["state"], "active");
  EXPECT_EQ(throttled["device_counts"].value("total", -1), 0);
  // Asking for a sync now does not make the engine call Apple before its time.
  Sync(id);

  ASSERT_TRUE(WaitForCount(id, "total", 150)) << Account(id).dump();
  ASSERT_TRUE(Eventually([&] { return Account(id)["last_sync_error"].is_null(); }))
      << Account(id).dump();
  const auto all = sim_.Requests();
  auto refused = std::find_if(all.begin(), all.end(), [](const auto& r) { return r.status == 429; });
  ASSERT_NE(refused, all.end());
  const int64_t throttled_at = refused->time_ms;
  size_t after = 0;
  for (auto it = refused + 1; it != all.end(); ++it, ++after) {
    EXPECT_GE(it->time_ms - throttled_at, 3'000) << it->method << " " << it->path
                                                 << " before Retry-After";
  }
  EXPECT_GE(after, 2u);  // /account and the fetch, after the wait
  size_t fetched = 0;
  for (const auto& r : Calls(kServerDevices)) fetched += r.status == 200;
  EXPECT_EQ(fetched, 1u);  // 150 devices: one page
  ExpectOncePerDevice("DepDeviceSynced", Serials(150));
}

TEST_F(DepFaultsTest, ThrottledAssignmentShowsItsRetryTimeAndIsSentOnceAfterIt) {
  const std::string id = ActiveAccount(20);
  const json profile = DefineProfile(id, "Throttled");
  const std::string uuid = S(profile["profile_uuid"]);
  const auto serials = Serials(10);
  sim_.InjectFailure(kProfileDevices, 1, 429, "3", "\"TOO_MANY_REQUESTS\"");
  Assign(serials, profile);

  // The device shows the throttle and when the engine will try again.
  ASSERT_TRUE(Eventually([&] {
    return Field(Device(serials[0])["last_assignment_error"], "reason") == "dep.throttled";
  })) << Device(serials[0]).dump();
  json pending = Device(serials[0]);
  EXPECT_TRUE(pending["last_assignment_error"]["retry_after"].is_string()) << pending.dump();
  EXPECT_EQ(pending["profile_status"], "empty");

  ASSERT_TRUE(WaitForCount(id, "assigned", serials.size())) << Account(id).dump();
  auto calls = Calls(kProfileDevices);
  auto refused = std::find_if(calls.begin(), calls.end(), [](const auto& r) {
    return r.status == 429;
  });
  ASSERT_NE(refused, calls.end());
  for (auto it = refused + 1; it != calls.end(); ++it) {
    EXPECT_GE(it->time_ms - refused->time_ms, 3'000) << "assignment sent before Retry-After";
  }
  ExpectAssignedExactlyOnce(serials, uuid);
}

TEST_F(DepFaultsTest, A503StormDuringASyncIsRiddenOutWithBackoffAndTheInventoryIsComplete) {
  std::string p7m;
  const std::string id = NewAccount(300, &p7m);
  sim_.InjectFailure(kServerDevices, 20, 503, "", "\"SERVICE_UNAVAILABLE\"");
  ASSERT_EQ(UploadToken(id, p7m).status, 200);
  // Let the engine meet three 503s in a row, then the storm ends.
  ASSERT_TRUE(Eventually([&] { return Calls(kServerDevices).size() >= 3; }));
  json during = Account(id);
  EXPECT_EQ(during["device_counts"].value("total", -1), 0) << during.dump();
  sim_.ClearFailures();

  ASSERT_TRUE(WaitForCount(id, "total", 300)) << Account(id).dump();
  ASSERT_TRUE(Eventually([&] { return !SyncRunning(Account(id)); }));
  EXPECT_TRUE(Account(id)["last_sync_error"].is_null()) << Account(id).dump();
  auto calls = Calls(kServerDevices);
  size_t failed = 0;
  while (failed < calls.size() && calls[failed].status == 503) ++failed;
  ASSERT_GE(failed, 3u);
  ASSERT_LT(failed, calls.size());
  ExpectExponentialBackoff(calls, failed);  // every retry, the successful one included
  // At most 3 calls in the storm's first 3 s (a hot loop would make hundreds).
  size_t early = std::count_if(calls.begin(), calls.end(), [&](const auto& r) {
    return r.time_ms < calls[0].time_ms + 3'000;
  });
  EXPECT_LE(early, 3u);
  EXPECT_EQ(calls.size(), failed + 1);  // one page once the storm ended
  ExpectOncePerDevice("DepDeviceSynced", Serials(300));
  EXPECT_TRUE(Events("DepSyncFailed").empty());
}

TEST_F(DepFaultsTest, A503StormDuringABatchOfAssignmentsAppliesEachExactlyOnce) {
  const std::string id = ActiveAccount(300);
  const json profile = DefineProfile(id, "Storm");
  const std::string uuid = S(profile["profile_uuid"]);
  const auto serials = Serials(100);
  sim_.InjectFailure(kProfileDevices, 20, 503, "", "\"SERVICE_UNAVAILABLE\"");
  Assign(serials, profile);
  ASSERT_TRUE(Eventually([&] { return Calls(kProfileDevices).size() >= 3; }));
  EXPECT_EQ(Account(id)["device_counts"].value("assigned", -1), 0);
  sim_.ClearFailures();

  ASSERT_TRUE(WaitForCount(id, "assigned", serials.size())) << Account(id).dump();
  auto calls = Calls(kProfileDevices);
  size_t failed = 0;
  while (failed < calls.size() && calls[failed].status == 503) ++failed;
  ASSERT_GE(failed, 3u);
  ASSERT_LT(failed, calls.size());
  ExpectExponentialBackoff(calls, failed);
  size_t early = std::count_if(calls.begin(), calls.end(), [&](const auto& r) {
    return r.time_ms < calls[0].time_ms + 3'000;
  });
  EXPECT_LE(early, 3u);
  ExpectAssignedExactlyOnce(serials, uuid);
  EXPECT_TRUE(Events("DepProfileAssignmentFailed").empty());  // the storm stayed inside the call
}

TEST_F(DepFaultsTest, AnAnswerLostToTheReadTimeoutIsRetriedAndRecordedOnce) {
  const std::string id = ActiveAccount(10);
  const json profile = DefineProfile(id, "Slow");
  const std::string uuid = S(profile["profile_uuid"]);
  const auto serials = Serials(5);
  // Apple applies the first assignment call, but its answer comes after the engine's HTTP
  // read timeout (--dep-read-timeout 5): the engine cannot know it worked and must ask again.
  sim_.DelayAnswers(kProfileDevices, 1, 6'000);
  Assign(serials, profile);
  ASSERT_TRUE(WaitForCount(id, "assigned", serials.size(), std::chrono::seconds(60)))
      << Account(id).dump();
  auto calls = Calls(kProfileDevices);
  ASSERT_GE(calls.size(), 2u);
  EXPECT_EQ(BodySerials(calls[1].body), BodySerials(calls[0].body));  // the same call again
  EXPECT_GE(calls[1].time_ms - calls[0].time_ms, 1'000);  // after a timeout, not at once
  // Apple saw the lost call and its repetition (assigning is idempotent there); the log has
  // one assignment per device and no failure.
  for (const auto& serial : serials) {
    auto at_apple = sim_.DeviceState(serial);
    ASSERT_TRUE(at_apple.has_value());
    EXPECT_EQ(at_apple->profile_uuid, uuid);
  }
  ExpectOncePerDevice("DepProfileAssigned", serials);
  EXPECT_TRUE(Events("DepProfileAssignmentFailed").empty());
  EXPECT_TRUE(Healthy());
}

TEST_F(DepFaultsTest, ExpiredSessionsAreRenewedAndARevokedTokenStopsSyncsUntilANewOne) {
  const std::string id = ActiveAccount(50);
  // Apple forgets every session: the engine authenticates again, transparently.
  const size_t sessions = sim_.CountRequests("GET", "/session");
  sim_.ExpireSessions();
  ASSERT_THAT(sim_.AddDevices(kServer, sim::AppleDepSimulator::MakeDevices("F2L", 5)), IsOk());
  Sync(id);
  ASSERT_TRUE(WaitForCount(id, "total", 55)) << Account(id).dump();
  EXPECT_EQ(sim_.CountRequests("GET", "/session"), sessions + 1);
  EXPECT_EQ(Account(id)["state"], "active");
  EXPECT_TRUE(Account(id)["last_sync_error"].is_null()) << Account(id).dump();

  // The token is revoked in the portal: the account says so and syncs stop.
  ASSERT_THAT(sim_.RevokeToken(kServer), IsOk());
  sim_.ExpireSessions();
  ASSERT_THAT(sim_.AddDevices(kServer, sim::AppleDepSimulator::MakeDevices("F3M", 5)), IsOk());
  Sync(id);
  ASSERT_TRUE(Eventually([&] { return Account(id)["state"] == "token_rejected"; }))
      << Account(id).dump();
  EXPECT_EQ(Field(Account(id)["last_sync_error"], "code"), "dep.token_rejected");
  const size_t calls = sim_.Requests().size();
  auto refused = engine_->Post("/v1/dep/accounts/" + id + "/sync", "", admin_);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(refused.json["error"]["code"], "dep.account_inactive");
  EXPECT_TRUE(Healthy());
  EXPECT_EQ(sim_.Requests().size(), calls);  // nothing was sent to Apple
  EXPECT_EQ(Account(id)["device_counts"].value("total", -1), 55);

  // A fresh token brings it back, with what changed meanwhile.
  auto fresh = sim_.IssueToken(Certificate(id), kServer);
  ASSERT_TRUE(fresh.ok());
  auto up = UploadToken(id, *fresh);
  ASSERT_EQ(up.status, 200) << up.body;
  EXPECT_EQ(up.json["state"], "active");
  ASSERT_TRUE(WaitForCount(id, "total", 60)) << Account(id).dump();
  ASSERT_TRUE(Eventually([&] { return Account(id)["last_sync_error"].is_null(); }))
      << Account(id).dump();
  EXPECT_EQ(PerStream("DepDeviceSynced").size(), 60u);
}

TEST_F(DepFaultsTest, MalformedAnswersFailWithAStableCodeKeepTheLogAndRecover) {
  const std::string id = ActiveAccount(20);
  const std::vector<std::string> bodies = {
      R"({"devices":[{"serial_number":"C02)",                                   // truncated
      R"({"devices":"none","cursor":42,"more_to_follow":"yes"})",               // wrong types
      "<html><head><title>Maintenance</title></head><body>Back soon</body></html>",  // HTML
  };
  const size_t synced = Events("DepDeviceSynced").size();
  size_t failures = Events("DepSyncFailed").size();
  for (const auto& body : bodies) {
    sim_.InjectFailure(kDevicesSync, 1, 200, "", body);
    Sync(id);
    ASSERT_TRUE(Eventually([&] { return Events("DepSyncFailed").size() == failures + 1; }))
        << body << ": " << Account(id).dump();
    ++failures;
    json a = Account(id);
    EXPECT_EQ(Field(a["last_sync_error"], "code"), "dep.bad_response") << body << a.dump();
    EXPECT_EQ(a["state"], "active");
    EXPECT_TRUE(Healthy());
  }
  EXPECT_EQ(Events("DepDeviceSynced").size(), synced);

  // Apple is healthy again: the next sync carries on from the committed cursor.
  ASSERT_THAT(sim_.AddDevices(kServer, sim::AppleDepSimulator::MakeDevices("F9K", 3)), IsOk());
  Sync(id);
  ASSERT_TRUE(WaitForCount(id, "total", 23)) << Account(id).dump();
  ASSERT_TRUE(Eventually([&] { return Account(id)["last_sync_error"].is_null(); }))
      << Account(id).dump();
  EXPECT_EQ(PerStream("DepDeviceSynced").size(), 23u);
  EXPECT_EQ(Events("DepDeviceSynced").size(), synced + 3);
  // The hash chain is intact.
  ASSERT_EQ(engine_->Stop(), 0);
  auto verify = RunTool({"audit", "verify", "--data-dir", engine_->data_dir()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// ---- Samsung Knox Cloud API ------------------------------------------------------------------

class KnoxFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = std::make_unique<EngineProcess>(
        dir_.Sub("data"), std::vector<std::string>{"--knox-api-url", sim_.base_url(),
                                                   "--knox-sync-interval", "0"});
    ASSERT_THAT(engine_->Start(), IsOk());
    admin_ = engine_->AdminToken();
  }

  void Upload(const std::string& prefix, size_t n, size_t first = 1) {
    sim::ResellerUploadOptions o;
    o.auto_approve = true;
    ASSERT_TRUE(sim_.AddResellerUpload(sim::KnoxSimulator::MakeDevices(prefix, n, first), o).ok());
  }
  HttpAnswer Connect(const sim::KnoxIssuedCredentials& c) {
    return engine_->Send("PUT", "/v1/kme/knox",
                         json{{"client_id", c.client_id}, {"client_secret", c.client_secret}}
                             .dump(),
                         admin_, "application/json");
  }
  json Knox() { return engine_->Get("/v1/kme/knox", admin_).json; }
  // Waits for a sync other than `after` and returns the connection.
  json WaitForSync(const std::string& after,
                   std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    json last;
    EXPECT_TRUE(Eventually(
        [&] {
          json k = Knox();
          if (!k.is_object() || !k["last_sync"].is_object()) return false;
          if (k["last_sync"].value("sync_id", "") == after) return false;
          last = k;
          return true;
        },
        timeout))
        << "no sync after " << after << ": " << Knox().dump();
    return last;
  }
  void RequestSync() {
    auto s = engine_->Post("/v1/kme/knox/sync", "", admin_);
    EXPECT_EQ(s.status, 202) << s.body;
  }
  std::string SyncId(const json& k) { return Field(k["last_sync"], "sync_id"); }
  std::vector<sim::KnoxRecordedRequest> Calls(const std::string& path) {
    std::vector<sim::KnoxRecordedRequest> out;
    for (auto& r : sim_.Requests()) {
      if (r.path == path) out.push_back(std::move(r));
    }
    return out;
  }
  // KmeDeviceImported per stream: `n` devices, each once.
  void ExpectImportedOnce(size_t n) {
    std::map<std::string, int> per;
    std::string cursor;
    for (int page = 0; page < 100; ++page) {
      auto r = engine_->Get("/v1/events?limit=1000&type=KmeDeviceImported" +
                                (cursor.empty() ? "" : "&cursor=" + cursor),
                            admin_);
      ASSERT_EQ(r.status, 200) << r.body;
      for (const auto& e : r.json["items"]) ++per[S(e["stream"])];
      if (r.json["next_cursor"].is_null()) break;
      cursor = S(r.json["next_cursor"]);
    }
    EXPECT_EQ(per.size(), n);
    for (const auto& [stream, count] : per) EXPECT_EQ(count, 1) << stream;
  }

  TempDir dir_;
  sim::KnoxSimulator sim_;
  std::unique_ptr<EngineProcess> engine_;
  std::string admin_;
};

TEST_F(KnoxFaultsTest, ThrottlingAndA503StormDuringASyncAreWaitedOutAndNothingIsImportedTwice) {
  Upload("K1", 250);
  const auto creds = sim_.IssueCredentials();
  sim_.InjectFailure(knox::kDevicesListPath, 1, 429, "2");
  ASSERT_EQ(Connect(creds).status, 200);
  json first = WaitForSync("");
  ASSERT_EQ(first["state"], "ok") << first.dump();
  EXPECT_EQ(first["last_sync"]["devices_seen"], 250) << first.dump();
  auto calls = Calls(knox::kDevicesListPath);
  ASSERT_GE(calls.size(), 2u);
  ASSERT_EQ(calls[0].status, 429);
  for (size_t i = 1; i < calls.size(); ++i) {
    EXPECT_GE(calls[i].time_ms - calls[0].time_ms, 2'000) << "listed before Retry-After";
  }

  // A storm of 503s on the device list: backoff, then the sync completes once it ends.
  Upload("K2", 50);
  sim_.ClearRequests();
  sim_.InjectFailure(knox::kDevicesListPath, 20, 503);
  RequestSync();
  ASSERT_TRUE(Eventually([&] { return Calls(knox::kDevicesListPath).size() >= 3; }));
  sim_.ClearFailures();
  json second = WaitForSync(SyncId(first));
  EXPECT_EQ(second["state"], "ok") << second.dump();
  EXPECT_EQ(second["last_sync"]["created"], 50) << second.dump();
  calls = Calls(knox::kDevicesListPath);
  size_t failed = 0;
  while (failed < calls.size() && calls[failed].status == 503) ++failed;
  ASSERT_GE(failed, 3u);
  ASSERT_LT(failed, calls.size());
  ExpectExponentialBackoff(calls, failed);
  ExpectImportedOnce(300);
}

TEST_F(KnoxFaultsTest, MalformedAnswersAndRevokedCredentialsShowOnTheConnectionAndRecover) {
  Upload("K3", 20);
  auto creds = sim_.IssueCredentials();
  ASSERT_EQ(Connect(creds).status, 200);
  json k = WaitForSync("");
  ASSERT_EQ(k["state"], "ok") << k.dump();

  // Malformed 200 answers: a stable reason, the connection "unavailable", no crash.
  for (const std::string body :
       {R"({"totalCount":3,"devices":[{"deviceId":"35)",
        "<html><body><h1>Service Unavailable</h1></body></html>"}) {
    sim_.InjectFailure(knox::kDevicesListPath, 1, 200, "", body);
    RequestSync();
    k = WaitForSync(SyncId(k));
    EXPECT_EQ(k["state"], "unavailable") << body << k.dump();
    EXPECT_EQ(Field(k["last_sync"]["error"], "code"), "knox.bad_response") << k.dump();
    EXPECT_EQ(engine_->Get("/healthz").status, 200);
  }
  RequestSync();
  k = WaitForSync(SyncId(k));
  EXPECT_EQ(k["state"], "ok") << k.dump();

  // Expired tokens are fetched again transparently.
  const size_t tokens = sim_.CountRequests("POST", knox::kOAuthTokenPath);
  sim_.ExpireTokens();
  Upload("K4", 5);
  RequestSync();
  k = WaitForSync(SyncId(k));
  EXPECT_EQ(k["state"], "ok") << k.dump();
  EXPECT_GT(sim_.CountRequests("POST", knox::kOAuthTokenPath), tokens);

  // Revoked credentials: "unauthorized" until new ones are connected.
  ASSERT_THAT(sim_.RevokeCredentials(creds.client_id), IsOk());
  RequestSync();
  k = WaitForSync(SyncId(k));
  EXPECT_EQ(k["state"], "unauthorized") << k.dump();
  EXPECT_EQ(Field(k["last_sync"]["error"], "code"), "knox.unauthorized") << k.dump();
  Upload("K5", 5);
  auto fresh = sim_.IssueCredentials();
  ASSERT_EQ(Connect(fresh).status, 200);
  k = WaitForSync(SyncId(k));
  EXPECT_EQ(k["state"], "ok") << k.dump();
  ExpectImportedOnce(30);
}

}  // namespace
}  // namespace ae::testing
