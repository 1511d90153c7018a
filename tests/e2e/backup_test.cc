// Online backup and restore of the embedded mode: a backup taken by the server during a
// burst of writes restores every event acknowledged before it began, with views equal to a
// fresh replay and an intact hash chain; `backup verify` finds a damaged backup; the CLI
// backs a stopped data dir up itself and asks a running server otherwise.

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"
#include "tests/support/view_compare.h"

namespace ae::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Acked {
  std::string username;
  int64_t position = -1;
  bool before_backup = false;  // its answer had arrived before the backup was asked for
};

json ParseLine(const std::string& out) {
  return json::parse(out.substr(0, out.find('\n')), nullptr, false);
}

TEST(Backup, AnOnlineBackupDuringABurstRestoresEveryAcknowledgedEventWithViewsEqualToAReplay) {
  TempDir dir;
  const std::string data = dir.Sub("data"), restored = dir.Sub("restored");
  const std::string to = dir.Sub("backup-1");
  EngineProcess engine(data);
  ASSERT_THAT(engine.Start(), IsOk());
  const std::string admin = engine.AdminToken();
  // A token issued before the backup: its verifier is in the secret store.
  ASSERT_EQ(engine.Post("/v1/users", R"({"username":"keeper","role":"device_manager"})", admin)
                .status, 201);
  auto keeper = engine.Post("/v1/users/keeper/tokens", "", admin);
  ASSERT_EQ(keeper.status, 201) << keeper.body;
  const std::string keeper_token = keeper.json["token"];

  // A burst of writes from three clients, before, during and after the backup.
  std::atomic<bool> backup_asked{false}, stop{false};
  std::mutex mu;
  std::vector<Acked> acked;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop.load(); ++i) {
        std::string name = "burst-" + std::to_string(w) + "-" + std::to_string(i);
        auto r = CallLoopback(engine.port(), "POST", "/v1/users",
                              json{{"username", name}, {"role", "device_user"}}.dump(),
                              {{"Authorization", "Bearer " + admin}});
        // Read the flag after the answer: an answer seen before the backup was asked for
        // was acknowledged before the backup began.
        bool before = !backup_asked.load();
        if (r.status != 201) {
          ++failures;
          continue;
        }
        std::lock_guard lock(mu);
        acked.push_back({name, std::stoll(r.Header("X-Log-Position")), before});
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu);
    return acked.size() >= 150;
  }, std::chrono::seconds(60)));
  backup_asked = true;
  auto backup = engine.Post("/v1/admin/backups", json{{"to", to}}.dump(), admin);
  // The writes go on after the backup too.
  size_t at_answer = 0;
  {
    std::lock_guard lock(mu);
    at_answer = acked.size();
  }
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu);
    return acked.size() >= at_answer + 30;
  }, std::chrono::seconds(60)));
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_EQ(backup.status, 201) << backup.body;
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(backup.json["path"], to);
  EXPECT_EQ(backup.json["master_key_included"], false);
  const int64_t covered = std::stoll(backup.json["position"].get<std::string>());
  ASSERT_GT(backup.json["records"].get<int64_t>(), 150);
  EXPECT_FALSE(fs::exists(fs::path(to) / "master-key"));

  // The last backup's time is in /metrics; another backup into a used directory is refused.
  auto metrics = engine.Get("/metrics", admin);
  ASSERT_EQ(metrics.status, 200);
  const std::string gauge = "autoenroll_backup_last_success_timestamp_seconds ";
  auto at = metrics.body.find("\n" + gauge);
  ASSERT_NE(at, std::string::npos) << metrics.body;
  EXPECT_GT(std::stoll(metrics.body.substr(at + 1 + gauge.size())), 1700000000);
  auto again = engine.Post("/v1/admin/backups", json{{"to", to}}.dump(), admin);
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.json["error"]["code"], "backup.exists");
  auto relative = engine.Post("/v1/admin/backups", R"({"to":"relative/dir"})", admin);
  EXPECT_EQ(relative.status, 400);
  EXPECT_EQ(relative.json["error"]["field"], "to");
  engine.Stop();

  auto verified = RunTool({"backup", "verify", to});
  ASSERT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_EQ(ParseLine(verified.out)["ok"], true) << verified.out;

  // The backup holds no master key: restoring needs the data dir's key.
  auto no_key = RunTool({"restore", "--from", to, "--data-dir", restored});
  EXPECT_EQ(no_key.exit_code, 2) << no_key.err;
  EXPECT_NE(no_key.err.find("restore.no_master_key"), std::string::npos) << no_key.err;
  EXPECT_FALSE(fs::exists(restored));
  const std::string key = data + "/master-key";
  auto restore = RunTool({"restore", "--from", to, "--data-dir", restored, "--master-key-file", key});
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_EQ(RunTool({"restore", "--from", to, "--data-dir", restored, "--master-key-file", key})
                .exit_code, 1);  // not into a data dir that is not empty

  EngineProcess back(restored, {"--master-key-file", key});
  ASSERT_THAT(back.Start(), IsOk());
  // Every user acknowledged before the backup began is there, its personal data readable
  // (its key was in the copied secret store); the token issued before works.
  size_t before = 0;
  for (const auto& a : acked) {
    if (!a.before_backup) continue;
    ++before;
    EXPECT_LE(a.position, covered) << a.username;
    auto got = back.Get("/v1/users/" + a.username, keeper_token);
    ASSERT_EQ(got.status, 200) << a.username << ": " << got.body;
    EXPECT_EQ(got.json["username"], a.username);
  }
  EXPECT_GE(before, 150u);
  // Nothing past the backup's position is there.
  for (const auto& a : acked) {
    if (a.position > covered) {
      EXPECT_EQ(back.Get("/v1/users/" + a.username, keeper_token).status, 404) << a.username;
    }
  }
  EXPECT_EQ(back.Get("/v1/users/keeper", keeper_token).status, 200);
  back.Stop();

  // The restored views equal a fresh replay of the restored log, and its chain verifies.
  auto fresh = RunTool({"replay", "--data-dir", restored, "--master-key-file", key, "--out",
                        dir.Sub("fresh")});
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_EQ(DiffViewStores(LiveViewsDir(restored), dir.Sub("fresh")), "");
  auto audit = RunTool({"audit", "verify", "--data-dir", restored});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  json chain = ParseLine(audit.out);
  EXPECT_EQ(chain["ok"], true);
  EXPECT_EQ(chain["records"], backup.json["records"]);
  EXPECT_EQ(chain["head_hash"], backup.json["head_hash"]);
}

// Flips one byte in the middle of `path`.
void FlipByte(const std::string& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(0, std::ios::end);
  auto size = static_cast<std::streamoff>(f.tellg());
  f.seekg(size / 2);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(size / 2);
  f.write(&c, 1);
}

TEST(Backup, TheCliBacksUpAStoppedDataDirItselfAndAsksARunningServer) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  EngineProcess engine(data);
  ASSERT_THAT(engine.Start(), IsOk());
  const std::string admin = engine.AdminToken();
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(engine.Post("/v1/users", json{{"username", "cli-" + std::to_string(i)},
                                            {"role", "device_user"}}.dump(), admin).status, 201);
  }
  // The server holds the data dir: the CLI cannot open it, and says how to ask the server.
  auto held = RunTool({"backup", "--data-dir", data, "--to", dir.Sub("held")});
  EXPECT_EQ(held.exit_code, 1);
  EXPECT_NE(held.err.find("--url"), std::string::npos) << held.err;
  EXPECT_FALSE(fs::exists(dir.Sub("held")));
  auto online = RunTool({"backup", "--url", "http://127.0.0.1:" + std::to_string(engine.port()),
                         "--to", dir.Sub("online")},
                        {{"AUTOENROLL_TOKEN", admin}});
  ASSERT_EQ(online.exit_code, 0) << online.err;
  EXPECT_EQ(ParseLine(online.out)["path"], dir.Sub("online"));
  EXPECT_EQ(RunTool({"backup", "verify", dir.Sub("online")}).exit_code, 0);
  engine.Stop();

  // Stopped: the CLI opens the data dir itself; with the master key when asked, and a warning.
  const std::string offline = dir.Sub("offline");
  auto taken = RunTool({"backup", "--data-dir", data, "--to", offline, "--include-master-key"});
  ASSERT_EQ(taken.exit_code, 0) << taken.err;
  EXPECT_NE(taken.err.find("WARNING"), std::string::npos) << taken.err;
  json info = ParseLine(taken.out);
  EXPECT_EQ(info["master_key_included"], true);
  EXPECT_TRUE(fs::exists(offline + "/master-key"));
  EXPECT_EQ(fs::status(offline + "/master-key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  auto ok = RunTool({"backup", "verify", offline});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ParseLine(ok.out)["master_key_included"], true);

  // A restore with the key from the backup is a data dir the engine serves as it was.
  const std::string restored = dir.Sub("restored");
  auto restore = RunTool({"restore", "--from", offline, "--data-dir", restored});
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EngineProcess back(restored);
  ASSERT_THAT(back.Start(), IsOk());
  auto users = back.Get("/v1/users/cli-19", admin);
  EXPECT_EQ(users.status, 200) << users.body;
  back.Stop();

  // A damaged copy of the backup does not verify, and is not restored.
  const std::string damaged = dir.Sub("damaged");
  fs::copy(offline, damaged, fs::copy_options::recursive);
  std::string largest;
  uintmax_t largest_size = 0;
  for (const auto& e : fs::directory_iterator(damaged + "/log")) {
    if (e.path().extension() == ".sst" && e.file_size() > largest_size) {
      largest = e.path().string();
      largest_size = e.file_size();
    }
  }
  ASSERT_FALSE(largest.empty());
  FlipByte(largest);
  auto bad = RunTool({"backup", "verify", damaged});
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_EQ(ParseLine(bad.out)["ok"], false) << bad.out;
  auto refused = RunTool({"restore", "--from", damaged, "--data-dir", dir.Sub("from-damaged")});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("restore.bad_backup"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(dir.Sub("from-damaged")));
}

}  // namespace
}  // namespace ae::testing
