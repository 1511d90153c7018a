// kill -9 at random points during the long operations, restart, and prove that
// nothing accepted was lost and nothing was applied twice:
//   - a large Knox CSV import (the request in flight when the process dies);
//   - a burst of Android enrollments from several clients at once;
//   - a zero-downtime view rebuild.
// After every phase: each request answered 2xx before the kill has its events in
// the log, each device has exactly one import and at most one enrollment event,
// the live views equal a fresh replay of the log byte for byte (a record applied
// twice, or skipped, would differ), and the hash chain verifies.
//
// Short form (scripts/test): 2 kills per phase on a 20,000-row import. Long form:
// scripts/crash (AE_CRASH_ROUNDS, AE_CRASH_IMPORT_ROWS, e.g. 10 rounds of 100,000 rows).

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "adapters/samsung_knox/identifiers.h"
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
    rows_ = std::max(100, EnvInt("AE_CRASH_IMPORT_ROWS", 20000));
    data_ = dir_.Sub("data");
    rng_.seed(static_cast<unsigned>(EnvInt("AE_CRASH_SEED", 20261125)));
    Restart();
    admin_ = engine_->AdminToken();
  }
  void Restart() {
    // A burst from one address: the per-source enrollment limit would answer 429.
    engine_ = std::make_unique<EngineProcess>(
        data_, std::vector<std::string>{"--enroll-rate", "100000", "--enroll-burst", "100000"});
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
      auto r = engine_->Get("/readyz");
      return r.status == 200 && r.json.value("view_lag", -1) == 0;
    }, std::chrono::seconds(180))) << engine_->Get("/readyz").body;
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

  // Every event of `type`, by stream: how many each stream has.
  std::map<std::string, int> EventsPerStream(const std::string& type) {
    std::map<std::string, int> out;
    std::string cursor;
    for (int page = 0; page < 10000; ++page) {
      auto r = engine_->Get("/v1/events?limit=1000&type=" + type +
                                (cursor.empty() ? "" : "&cursor=" + cursor), admin_);
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) break;
      for (const auto& e : r.json["items"]) ++out[e.value("stream", "")];
      if (!r.json["next_cursor"].is_string()) break;
      cursor = r.json["next_cursor"];
    }
    return out;
  }

  TempDir dir_;
  std::string data_, admin_;
  std::unique_ptr<EngineProcess> engine_;
  std::mt19937 rng_;
  int rounds_ = 2, rows_ = 20000, kills_ = 0, checks_ = 0;
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

}  // namespace
}  // namespace ae::testing
