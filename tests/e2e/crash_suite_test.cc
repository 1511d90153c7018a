// kill -9 at random points during the long operations, restart, and prove that
// nothing accepted was lost and nothing was applied twice:
//   - a large Knox CSV import (the request in flight when the process dies);
//   - a burst of Android enrollments from several clients at once;
//   - a zero-downtime view rebuild;
//   - a DEP sync of 10,000 devices from the Apple simulator, then a burst of profile
//     assignments that the adapter sends on to Apple.
// After every phase: each request answered 2xx before the kill has its events in
// the log, each device has exactly one import and at most one enrollment event,
// the live views equal a fresh replay of the log byte for byte (a record applied
// twice, or skipped, would differ), and the hash chain verifies.
//
// Short form (scripts/test): 2 kills per phase on a 20,000-row import and a 10,000-device
// sync. Long form: scripts/crash (AE_CRASH_ROUNDS, AE_CRASH_IMPORT_ROWS,
// AE_CRASH_DEP_DEVICES, e.g. 10 rounds of 100,000 rows).

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "adapters/samsung_knox/identifiers.h"
#include "adapters/simulators/apple_dep_simulator.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"
#include "tests/support/view_compare.h"

namespace ae::testing {
namespace {

using nlohmann::json;

int EnvInt(const char* name, int def) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : def;
}

std::string Imei(uint64_t n) {
  std::string s = std::to_string(35300000000000ULL + n);
  return s + kme::ImeiCheckDigit(s);
}

std::string Csv(int rows, int users) {
  std::string csv = "IMEI,Serial Number,Model,User ID\r\n";
  csv.reserve(static_cast<size_t>(rows) * 48);
  for (int i = 0; i < rows; ++i) {
    csv += Imei(static_cast<uint64_t>(i)) + ",R58C" + std::to_string(1000000 + i) + ",SM-A546B,u" +
           std::to_string(i % users) + "\r\n";
  }
  return csv;
}

class CrashSuite : public ::testing::Test {
 protected:
  void SetUp() override {
    rounds_ = std::max(1, EnvInt("AE_CRASH_ROUNDS", 2));
    dep_devices_ = std::max(100, EnvInt("AE_CRASH_DEP_DEVICES", 10000));
    rows_ = std::max(100, EnvInt("AE_CRASH_IMPORT_ROWS", 20000));
    data_ = dir_.Sub("data");
    rng_.seed(static_cast<unsigned>(EnvInt("AE_CRASH_SEED", 20261125)));
    Restart();
    admin_ = engine_->AdminToken();
  }
  void Restart() {
    // A burst from one address: the per-source enrollment limit would answer 429.
    std::vector<std::string> args{"--enroll-rate", "100000", "--enroll-burst", "100000"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    engine_ = std::make_unique<EngineProcess>(data_, args);
    ASSERT_THAT(engine_->Start(60), IsOk()) << engine_->LogText();
  }
  void Kill() {
    engine_->Stop(SIGKILL);
    ++kills_;
  }
  int RandomMs(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  // The views have caught up with the whole log.
  void WaitForViews() {
    ASSERT_TRUE(WaitFor([&] {
      auto r = engine_->Get("/readyz", engine_->AdminToken());  // the lag needs a token
      return r.status == 200 && r.json.value("view_lag", -1) == 0;
    }, std::chrono::seconds(180))) << engine_->Get("/readyz", engine_->AdminToken()).body;
  }

  // Stops the engine cleanly and checks the views against a fresh replay and the chain.
  void ExpectConsistent(const std::string& phase) {
    SCOPED_TRACE(phase);
    WaitForViews();
    ASSERT_EQ(engine_->Stop(SIGTERM), 0) << engine_->LogText();
    const std::string fresh = dir_.Sub("fresh-" + std::to_string(checks_++));
    auto replay = RunTool({"replay", "--data-dir", data_, "--out", fresh}, {}, 600);
    ASSERT_EQ(replay.exit_code, 0) << replay.err;
    EXPECT_EQ(DiffViewStores(LiveViewsDir(data_), fresh), "");
    std::filesystem::remove_all(fresh);
    auto audit = RunTool({"audit", "verify", "--data-dir", data_}, {}, 600);
    EXPECT_EQ(audit.exit_code, 0) << audit.out << audit.err;
    Restart();
  }

  // Every event of `type` (GET /v1/events, every page).
  std::vector<json> EventsOfType(const std::string& type) {
    std::vector<json> out;
    std::string cursor;
    for (int page = 0; page < 10000; ++page) {
      auto r = engine_->Get("/v1/events?limit=1000&type=" + type +
                                (cursor.empty() ? "" : "&cursor=" + cursor), admin_);
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) break;
      for (const auto& e : r.json["items"]) out.push_back(e);
      if (!r.json["next_cursor"].is_string()) break;
      cursor = r.json["next_cursor"];
    }
    return out;
  }
  // Every event of `type`, by stream: how many each stream has.
  std::map<std::string, int> EventsPerStream(const std::string& type) {
    std::map<std::string, int> out;
    for (const auto& e : EventsOfType(type)) ++out[e.value("stream", "")];
    return out;
  }

  TempDir dir_;
  std::string data_, admin_;
  std::vector<std::string> extra_args_;  // more `serve` options
  std::unique_ptr<EngineProcess> engine_;
  std::mt19937 rng_;
  int rounds_ = 2, rows_ = 20000, dep_devices_ = 10000, kills_ = 0, checks_ = 0;
};

TEST_F(CrashSuite, ImportEnrollmentBurstAndRebuildSurviveKillNine) {
  constexpr int kUsers = 50;
  for (int u = 0; u < kUsers; ++u) {
    auto r = engine_->Post("/v1/users", json{{"username", "u" + std::to_string(u)},
                                             {"role", "device_user"}}.dump(), admin_);
    ASSERT_EQ(r.status, 201) << r.body;
  }
  const std::string csv = Csv(rows_, kUsers);

  // ---- import: killed while the request is in flight, then sent again ----
  int completed_imports = 0;
  for (int round = 0; round < rounds_; ++round) {
    // The import of 20,000 rows takes about 0.7 s, 100,000 about 3.4 s.
    std::thread killer([&, delay = RandomMs(20, rows_ / 40 + 100)] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
      Kill();
    });
    auto r = CallLoopback(engine_->port(), "POST", "/v1/kme/imports", csv,
                          {{"Authorization", "Bearer " + admin_}}, "text/csv");
    killer.join();
    if (r.status == 200) ++completed_imports;  // finished before the kill
    Restart();
  }
  auto finished = engine_->Post("/v1/kme/imports", csv, admin_, "text/csv");
  ASSERT_EQ(finished.status, 200) << finished.body.substr(0, 300);
  EXPECT_EQ(finished.json["rejected"], 0);
  EXPECT_EQ(finished.json.value("created", 0) + finished.json.value("unchanged", 0) +
                finished.json.value("updated", 0),
            rows_);
  {
    auto imported = EventsPerStream("KmeDeviceImported");
    EXPECT_EQ(imported.size(), static_cast<size_t>(rows_));
    int twice = 0;
    for (const auto& [stream, n] : imported) twice += n > 1;
    EXPECT_EQ(twice, 0) << "devices imported more than once";
  }
  ExpectConsistent("import");

  // ---- a burst of enrollments from 4 clients, killed midway ----
  const std::string token = engine_->Get("/v1/kme/settings", admin_).json.value("enrollment_token", "");
  ASSERT_FALSE(token.empty());
  const int devices = std::min(rows_, 2000);
  std::mutex mu;
  std::set<int> accepted;  // devices whose enrollment was answered 200
  auto burst = [&](int port, std::atomic<bool>& stop, int from, int to) {
    for (int i = from; i < to && !stop.load(); ++i) {
      json body = {{"enrollment_token", token}, {"imei", Imei(static_cast<uint64_t>(i))},
                   {"model", "SM-A546B"}, {"source", "kme"}};
      auto r = CallLoopback(port, "POST", "/enroll/android", body.dump());
      if (r.status == 200) {
        std::lock_guard lock(mu);
        accepted.insert(i);
      } else if (r.status > 0) {
        ADD_FAILURE() << "enrollment of device " << i << ": " << r.status << " " << r.body;
        return;
      } else {
        return;  // the engine died under this request
      }
    }
  };
  for (int round = 0; round <= rounds_; ++round) {
    const bool last = round == rounds_;
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) {
      clients.emplace_back(burst, engine_->port(), std::ref(stop), c * devices / 4,
                           (c + 1) * devices / 4);
    }
    if (!last) {
      std::this_thread::sleep_for(std::chrono::milliseconds(RandomMs(100, 1200)));
      Kill();
    }
    for (auto& t : clients) t.join();
    if (!last) Restart();
  }
  EXPECT_EQ(accepted.size(), static_cast<size_t>(devices));
  {
    auto enrolled = EventsPerStream("DeviceEnrolled");
    EXPECT_EQ(enrolled.size(), static_cast<size_t>(devices));
    int twice = 0;
    for (const auto& [stream, n] : enrolled) twice += n > 1;
    EXPECT_EQ(twice, 0) << "devices enrolled twice";
    for (int i : {0, devices / 2, devices - 1}) {
      auto d = engine_->Get("/v1/kme/devices/" + Imei(static_cast<uint64_t>(i)), admin_);
      EXPECT_EQ(d.json["enrollment"], "enrolled") << d.body;
    }
  }
  ExpectConsistent("enrollments");

  // ---- a view rebuild, killed while it builds or swaps ----
  for (int round = 0; round < rounds_; ++round) {
    auto started = engine_->Post("/v1/admin/views/rebuild", "", admin_);
    ASSERT_EQ(started.status, 202) << started.body;
    std::this_thread::sleep_for(std::chrono::milliseconds(RandomMs(0, 1500)));
    Kill();
    Restart();
    EXPECT_EQ(engine_->Get("/v1/kme/devices/" + Imei(1), admin_).status, 200);
  }
  auto last = engine_->Post("/v1/admin/views/rebuild", "", admin_);
  ASSERT_EQ(last.status, 202) << last.body;
  json p;
  ASSERT_TRUE(WaitFor([&] {
    p = engine_->Get("/v1/admin/views/rebuild", admin_).json;
    return p.value("state", "") == "done" || p.value("state", "") == "failed";
  }, std::chrono::seconds(300)));
  EXPECT_EQ(p["state"], "done") << p.dump();
  // Only the live views are left in the data dir.
  int views_dirs = 0;
  for (const auto& e : std::filesystem::directory_iterator(data_)) {
    if (e.is_directory() && e.path().filename().string().rfind("views", 0) == 0) ++views_dirs;
  }
  EXPECT_EQ(views_dirs, 1);
  ExpectConsistent("rebuild");
  EXPECT_EQ(kills_, 3 * rounds_);
  RecordProperty("kills", kills_);
  std::printf("crash suite: %d kills survived (%d rounds per phase, %d rows, %d full imports "
              "before a kill)\n", kills_, rounds_, rows_, completed_imports);
}

// The engine against the Apple DEP simulator (in this process, on loopback).
class DepCrashSuite : public CrashSuite {
 protected:
  void SetUp() override {
    extra_args_ = {"--apple-dep-url", sim_.base_url(), "--dep-sync-interval", "3600",
                   "--dep-retry-tick", "1"};
    CrashSuite::SetUp();
  }
  json Account(const std::string& id) {
    return engine_->Get("/v1/dep/accounts/" + id, admin_).json;
  }
  // The account's sync has ended (not running) with `total` devices counted.
  bool SyncedWith(const std::string& id, int total) {
    json a = Account(id);
    return a.is_object() && a["device_counts"].is_object() &&
           a["device_counts"].value("total", -1) == total && a["sync"].is_object() &&
           !a["sync"].value("running", true);
  }
  // Kills the engine after a random delay of at most `max_ms` while `run` works, then restarts.
  template <typename F>
  void KillDuring(int max_ms, F run) {
    std::thread killer([&, delay = RandomMs(20, max_ms)] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
      Kill();
    });
    run();
    killer.join();
    Restart();
  }

  sim::AppleDepSimulator sim_;
};

TEST_F(DepCrashSuite, SyncAndAssignmentsSurviveKillNine) {
  constexpr char kServer[] = "MDM Server 1";
  const int n = dep_devices_;
  auto acc = engine_->Post("/v1/dep/accounts", json{{"name", kServer}}.dump(), admin_);
  ASSERT_EQ(acc.status, 201) << acc.body;
  const std::string id = acc.json["id"];
  auto token = sim_.IssueToken(engine_->Get("/v1/dep/accounts/" + id + "/certificate", admin_).body,
                               kServer);
  ASSERT_TRUE(token.ok());
  ASSERT_THAT(sim_.AddDevices(kServer, sim::AppleDepSimulator::MakeDevices("C02", n)), IsOk());
  std::vector<std::string> serials;
  for (const auto& d : sim::AppleDepSimulator::MakeDevices("C02", n)) serials.push_back(d.serial_number);

  // ---- the first sync (a full fetch of n devices, started by the token upload), killed each
  // round at a random point of its progress; the restarted engine resumes it at start.
  std::vector<int> marks;
  // Between 10% and 60% of the devices.
  for (int round = 0; round < rounds_; ++round) marks.push_back(RandomMs(1, 6) * n / 10);
  std::sort(marks.begin(), marks.end());
  // Apple answers each page of 1,000 devices in 100 ms here (its real pace is slower): the
  // fetch lasts about n / 10 ms, long beside the views' lag behind it, so a kill at a mark
  // lands while the fetch runs.
  sim_.DelayAnswers("/server/devices", n / 1000 + 10 * rounds_, 100);
  int mid_sync_kills = 0;
  for (int round = 0; round < rounds_; ++round) {
    if (round == 0) {
      auto up = engine_->Send("PUT", "/v1/dep/accounts/" + id + "/token", *token, admin_,
                              "application/pkcs7-mime");
      ASSERT_EQ(up.status, 200) << up.body;
    }
    int seen = 0;
    WaitFor([&] {
      seen = Account(id)["device_counts"].value("total", 0);
      return seen >= marks[round];
    }, std::chrono::seconds(120));
    Kill();
    if (seen < n) ++mid_sync_kills;
    Restart();
  }
  ASSERT_TRUE(WaitFor([&] { return SyncedWith(id, n); }, std::chrono::seconds(180)))
      << Account(id).dump();
  EXPECT_GE(mid_sync_kills, 1) << "no kill landed while the sync was running";
  int resumed = 0;
  // Apple removes some devices; the next sync (from the change feed) is killed too.
  std::set<std::string> removed_serials;
  for (int i = 0; i < n; i += 100) removed_serials.insert(serials[i]);
  for (const auto& s : removed_serials) ASSERT_THAT(sim_.RemoveDevice(s), IsOk());
  const int removed = static_cast<int>(removed_serials.size());
  KillDuring(300, [&] {
    EXPECT_EQ(engine_->Post("/v1/dep/accounts/" + id + "/sync", "", admin_).status, 202);
  });
  // The restarted engine syncs every account at start; the removals arrive then.
  ASSERT_TRUE(WaitFor([&] { return SyncedWith(id, n - removed); }, std::chrono::seconds(180)))
      << Account(id).dump();
  {
    // One DepDeviceSynced per device, one DepDeviceUnassigned per removed device: no repeat.
    auto synced = EventsPerStream("DepDeviceSynced");
    auto unassigned = EventsPerStream("DepDeviceUnassigned");
    EXPECT_EQ(synced.size(), static_cast<size_t>(n));
    EXPECT_EQ(unassigned.size(), removed_serials.size());
    int twice = 0;
    for (const auto& [stream, k] : synced) twice += k > 1;
    for (const auto& [stream, k] : unassigned) twice += k > 1;
    EXPECT_EQ(twice, 0) << "a device's sync applied twice";
    // The syncs the kills interrupted were resumed where they stopped, not started over.
    std::string modes;
    for (const auto& e : EventsOfType("DepSyncStarted")) {
      const std::string mode = e["data"].value("mode", "");
      resumed += mode == "fetch_resume";
      modes += mode + " ";
    }
    EXPECT_GE(resumed, 1) << "sync modes: " << modes;
  }
  ExpectConsistent("dep sync");

  // ---- a burst of profile assignments (PATCH), killed while the adapter sends them to Apple ----
  auto p = engine_->Post("/v1/dep/profiles",
                         json{{"account_id", id}, {"profile_name", "Crash"},
                              {"is_mandatory", true}, {"is_mdm_removable", false},
                              {"is_supervised", true}, {"skip_setup_items", {"AppleID"}}}.dump(),
                         admin_);
  ASSERT_EQ(p.status, 201) << p.body;
  const std::string profile_id = p.json["id"];
  std::string uuid;
  ASSERT_TRUE(WaitFor([&] {
    auto g = engine_->Get("/v1/dep/profiles/" + profile_id, admin_);
    if (g.json.contains("profile_uuid") && g.json["profile_uuid"].is_string()) uuid = g.json["profile_uuid"];
    return !uuid.empty();
  }, std::chrono::seconds(30)));
  const int to_assign = std::min(n - removed, 1000);
  std::vector<std::string> targets;
  for (int i = 0; static_cast<int>(targets.size()) < to_assign && i < n; ++i) {
    if (!removed_serials.count(serials[i])) targets.push_back(serials[i]);
  }
  std::mutex mu;
  std::set<std::string> accepted;
  for (int round = 0; round <= rounds_; ++round) {
    const bool last = round == rounds_;
    std::atomic<size_t> next{0};
    auto client = [&] {
      for (size_t i; (i = next++) < targets.size();) {
        {
          std::lock_guard lock(mu);
          if (accepted.count(targets[i])) continue;
        }
        auto r = CallLoopback(engine_->port(), "PATCH", "/v1/dep/devices/" + targets[i],
                              json{{"profile_id", profile_id}}.dump(),
                              {{"Authorization", "Bearer " + admin_}}, "application/json");
        if (r.status == 200) {
          std::lock_guard lock(mu);
          accepted.insert(targets[i]);
        } else if (r.status > 0) {
          ADD_FAILURE() << "assignment of " << targets[i] << ": " << r.status << " " << r.body;
          return;
        } else {
          return;  // the engine died under this request
        }
      }
    };
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) clients.emplace_back(client);
    if (!last) {
      std::this_thread::sleep_for(std::chrono::milliseconds(RandomMs(50, 800)));
      Kill();
    }
    for (auto& t : clients) t.join();
    if (!last) Restart();
  }
  EXPECT_EQ(accepted.size(), targets.size());
  // Every accepted assignment reaches Apple and comes back as `assigned`.
  ASSERT_TRUE(WaitFor([&] {
    return Account(id)["device_counts"].value("assigned", -1) == static_cast<int>(targets.size());
  }, std::chrono::seconds(180))) << Account(id).dump();
  for (const auto& s : targets) {
    auto d = sim_.DeviceState(s);
    ASSERT_TRUE(d.has_value()) << s;
    EXPECT_EQ(d->profile_uuid, uuid) << s;
  }
  {
    auto requested = EventsPerStream("DepProfileAssignmentRequested");
    auto assigned = EventsPerStream("DepProfileAssigned");
    EXPECT_EQ(requested.size(), targets.size());
    EXPECT_EQ(assigned.size(), targets.size());
    int twice = 0;
    for (const auto& [stream, k] : requested) twice += k > 1;
    for (const auto& [stream, k] : assigned) twice += k > 1;
    EXPECT_EQ(twice, 0) << "an assignment recorded twice";
  }
  ExpectConsistent("dep assignments");
  EXPECT_EQ(kills_, 2 * rounds_ + 1);
  std::printf("dep crash suite: %d kills survived (%d during the first sync, %d syncs resumed; "
              "%d devices synced, %zu assignments)\n", kills_, mid_sync_kills, resumed, n,
              targets.size());
}

}  // namespace
}  // namespace ae::testing
