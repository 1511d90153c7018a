// The views over time, through the binary: a zero-downtime rebuild under query load,
// `replay --until` (the views as they were) and `diff` (what changed between two points).

#include <atomic>
#include <filesystem>
#include <thread>

#include "projections/all_projectors.h"
#include "projections/projection_runner.h"
#include "projections/view_store.h"
#include "adapters/samsung_knox/identifiers.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"
#include "tests/support/view_compare.h"

namespace ae::testing {
namespace {

using nlohmann::json;

// A valid 15-digit IMEI (Luhn check digit) from a number below 10^12.
std::string Imei(uint64_t body) {
  std::string s = std::to_string(35000000000000ULL + body);
  return s + kme::ImeiCheckDigit(s);
}

std::string Csv(int rows, int users) {
  std::string csv = "IMEI,Serial Number,Model,User ID\r\n";
  for (int i = 0; i < rows; ++i) {
    csv += Imei(static_cast<uint64_t>(i)) + ",R58V" + std::to_string(1000000 + i) + ",SM-G991B," +
           (i % 2 == 0 ? "user" + std::to_string(i % users) : "") + "\r\n";
  }
  return csv;
}

class ViewsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = std::make_unique<EngineProcess>(dir_.Sub("data"));
    ASSERT_THAT(engine_->Start(), IsOk());
    admin_ = engine_->AdminToken();
  }
  void CreateUser(const std::string& name) {
    auto r = engine_->Post("/v1/users", json{{"username", name}, {"role", "device_user"}}.dump(),
                           admin_);
    ASSERT_EQ(r.status, 201) << r.body;
  }
  HttpAnswer Import(const std::string& csv) {
    return engine_->Post("/v1/kme/imports", csv, admin_, "text/csv");
  }
  json WaitForRebuild() {
    json p;
    EXPECT_TRUE(WaitFor([&] {
      p = engine_->Get("/v1/admin/views/rebuild", admin_).json;
      std::string s = p.value("state", "");
      return s == "done" || s == "failed" || s == "cancelled";
    }, std::chrono::seconds(120)));
    return p;
  }

  TempDir dir_;
  std::unique_ptr<EngineProcess> engine_;
  std::string admin_;
};

TEST_F(ViewsTest, ARebuildUnderQueryLoadNeverFailsAQueryAndSwapsInIdenticalViews) {
  constexpr int kUsers = 40, kRows = 6000;
  for (int i = 0; i < kUsers; ++i) CreateUser("user" + std::to_string(i));
  auto imported = Import(Csv(kRows, kUsers));
  ASSERT_EQ(imported.status, 200) << imported.body.substr(0, 300);
  ASSERT_EQ(imported.json["created"], kRows);
  const std::string data = engine_->data_dir();
  const std::string before = LiveViewsDir(data);

  // Readers hammer the views while the rebuild runs and swaps; a writer keeps writing
  // and reads its own writes.
  std::atomic<bool> stop{false};
  std::atomic<int> queries{0}, failures{0};
  std::mutex mu;
  std::string first_failure;
  auto fail = [&](const std::string& what) {
    ++failures;
    std::lock_guard lock(mu);
    if (first_failure.empty()) first_failure = what;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        int n = (i * 7 + t) % kRows;
        auto d = engine_->Get("/v1/kme/devices/" + Imei(static_cast<uint64_t>(n)), admin_);
        if (d.status != 200 || d.json.value("model", "") != "SM-G991B") {
          fail("device " + std::to_string(n) + ": " + std::to_string(d.status) + " " + d.body);
        }
        auto u = engine_->Get("/v1/users/user" + std::to_string(i % kUsers), admin_);
        if (u.status != 200) fail("user: " + std::to_string(u.status) + " " + u.body);
        queries += 2;
      }
    });
  }
  std::atomic<int> written{0};
  threads.emplace_back([&] {
    for (int i = 0; !stop.load() && i < 200; ++i) {
      std::string name = "during" + std::to_string(i);
      auto c = engine_->Post("/v1/users", json{{"username", name}, {"role", "device_user"}}.dump(),
                             admin_);
      if (c.status != 201) fail("create: " + std::to_string(c.status) + " " + c.body);
      auto g = engine_->Get("/v1/users/" + name + "?min_position=" + c.Header("X-Log-Position"),
                            admin_);
      if (g.status != 200) fail("read own write: " + std::to_string(g.status) + " " + g.body);
      ++written;
    }
  });

  auto started = engine_->Post("/v1/admin/views/rebuild", "", admin_);
  ASSERT_EQ(started.status, 202) << started.body;
  EXPECT_EQ(started.json["state"], "building");
  // One rebuild at a time.
  auto second = engine_->Post("/v1/admin/views/rebuild", "", admin_);
  if (second.status != 202) {
    EXPECT_EQ(second.status, 409) << second.body;
    EXPECT_EQ(second.json["error"]["code"], "views.rebuild_running");
  }
  json done = WaitForRebuild();
  // Let the load run a little on the new views too.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  for (auto& t : threads) t.join();

  EXPECT_EQ(failures.load(), 0) << first_failure;
  EXPECT_GT(queries.load(), 20);
  EXPECT_GT(written.load(), 0);
  ASSERT_EQ(done["state"], "done") << done.dump();
  EXPECT_GE(done["applied"].get<int64_t>(), kRows);
  EXPECT_EQ(done["verification"]["differences"], 0) << done["verification"].dump();
  EXPECT_GE(done["verification"]["families"]["kme_devices"]["keys"].get<int>(), kRows);
  // The new directory is live and the old one is gone.
  const std::string after = LiveViewsDir(data);
  EXPECT_NE(after, before);
  EXPECT_EQ(std::filesystem::path(after).filename().string(), done["views_dir"]);
  EXPECT_FALSE(std::filesystem::exists(before));
  // Writes after the swap land in the new views.
  CreateUser("after_swap");
  EXPECT_EQ(engine_->Get("/v1/users/after_swap", admin_).status, 200);
  // Only administrators rebuild.
  auto t = engine_->Post("/v1/users/user1/tokens", "", admin_);
  ASSERT_EQ(t.status, 201);
  EXPECT_EQ(engine_->Post("/v1/admin/views/rebuild", "", t.json["token"]).status, 403);
  EXPECT_EQ(engine_->Get("/v1/admin/views/rebuild", t.json["token"]).status, 403);

  // After a restart the engine serves the new views, equal to a fresh replay.
  ASSERT_EQ(engine_->Stop(SIGTERM), 0);
  auto fresh = RunTool({"replay", "--data-dir", data, "--out", dir_.Sub("fresh")});
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_EQ(DiffViewStores(LiveViewsDir(data), dir_.Sub("fresh")), "");
  ASSERT_THAT(engine_->Start(), IsOk());
  EXPECT_EQ(engine_->Get("/v1/users/after_swap", admin_).status, 200);
  EXPECT_EQ(engine_->Get("/v1/kme/devices/" + Imei(17), admin_).status, 200);
}

TEST_F(ViewsTest, ACancelledRebuildLeavesTheLiveViewsAsTheyWere) {
  for (int i = 0; i < 5; ++i) CreateUser("user" + std::to_string(i));
  ASSERT_EQ(Import(Csv(8000, 5)).status, 200);
  const std::string before = LiveViewsDir(engine_->data_dir());
  EXPECT_EQ(engine_->Delete("/v1/admin/views/rebuild", admin_).status, 404);
  ASSERT_EQ(engine_->Post("/v1/admin/views/rebuild", "", admin_).status, 202);
  auto cancel = engine_->Delete("/v1/admin/views/rebuild", admin_);
  json p = WaitForRebuild();
  if (cancel.status == 202) {
    EXPECT_EQ(p["state"], "cancelled") << p.dump();
    EXPECT_EQ(p["error"]["code"], "views.rebuild_cancelled");
    EXPECT_EQ(LiveViewsDir(engine_->data_dir()), before);
  } else {
    EXPECT_EQ(p["state"], "done");  // it finished first (a very fast machine)
  }
  // Nothing is left beside the live views.
  int dirs = 0;
  for (const auto& e : std::filesystem::directory_iterator(engine_->data_dir())) {
    if (e.path().filename().string().rfind("views", 0) == 0 && e.is_directory()) ++dirs;
  }
  EXPECT_EQ(dirs, 1);
  EXPECT_EQ(engine_->Get("/v1/kme/devices/" + Imei(3), admin_).status, 200);
}

TEST_F(ViewsTest, TheCliRebuildsARunningServer) {
  CreateUser("alice");
  ASSERT_EQ(Import(Csv(100, 1)).status, 200);
  auto r = RunTool({"views", "rebuild", "--url",
                    "http://127.0.0.1:" + std::to_string(engine_->port())},
                   {{"AUTOENROLL_TOKEN", admin_}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto p = json::parse(r.out);
  EXPECT_EQ(p["state"], "done");
  EXPECT_EQ(p["verification"]["differences"], 0);
  auto no_token = RunTool({"views", "rebuild", "--url",
                           "http://127.0.0.1:" + std::to_string(engine_->port())});
  EXPECT_EQ(no_token.exit_code, 2);
}

TEST_F(ViewsTest, ReplayUntilAPointAndDiffBetweenTwoPoints) {
  CreateUser("alice");
  CreateUser("bob");
  auto imported = Import(Csv(20, 1));  // even rows name user0: no such user, no match
  ASSERT_EQ(imported.status, 200) << imported.body;
  const std::string a = imported.Header("X-Log-Position");
  ASSERT_FALSE(a.empty());
  const std::string dev3 = Imei(3), dev4 = Imei(4);
  auto patched = engine_->Send("PATCH", "/v1/kme/devices/" + dev3, R"({"user":"alice"})", admin_,
                               "application/json");
  ASSERT_EQ(patched.status, 200) << patched.body;
  patched = engine_->Send("PATCH", "/v1/kme/devices/" + dev4, R"({"user":"bob"})", admin_,
                          "application/json");
  ASSERT_EQ(patched.status, 200) << patched.body;
  const std::string b = patched.Header("X-Log-Position");
  ASSERT_FALSE(b.empty());
  const std::string id3 = engine_->Get("/v1/kme/devices/" + dev3, admin_).json["id"];
  const std::string data = engine_->data_dir();

  // The views as of A: the device without a user; as of B: with alice.
  auto until_a = RunTool({"replay", "--data-dir", data, "--out", dir_.Sub("at-a"), "--until", a});
  ASSERT_EQ(until_a.exit_code, 0) << until_a.err;
  auto until_b = RunTool({"replay", "--data-dir", data, "--out", dir_.Sub("at-b"), "--until", b});
  ASSERT_EQ(until_b.exit_code, 0) << until_b.err;
  auto user_of = [&](const std::string& views) {
    auto projectors = proj::AllProjectors();
    proj::ViewStoreOptions vo;
    vo.path = views;
    vo.column_families = proj::AllColumnFamilies(projectors);
    vo.read_only = true;
    auto store = proj::ViewStore::Open(vo);
    EXPECT_THAT(store, IsOk());
    if (!store.ok()) return std::string("?");
    auto rec = (*store)->Get("kme_devices", id3);
    EXPECT_THAT(rec, IsOk());
    if (!rec.ok() || !*rec) return std::string("missing");
    return json::parse(**rec).value("user_id", "");
  };
  EXPECT_EQ(user_of(dir_.Sub("at-a")), "");
  EXPECT_NE(user_of(dir_.Sub("at-b")), "");
  EXPECT_EQ(json::parse(until_a.out)["position"], "0:" + std::to_string(std::stoll(a) + 1));
  // Before anything happened: no device at all.
  auto early = RunTool({"replay", "--data-dir", data, "--out", dir_.Sub("early"), "--until",
                        "2000-01-01T00:00:00Z"});
  ASSERT_EQ(early.exit_code, 0) << early.err;
  EXPECT_EQ(user_of(dir_.Sub("early")), "missing");
  // --until without --out, and a bad point, are usage errors.
  EXPECT_EQ(RunTool({"replay", "--data-dir", data, "--until", a}).exit_code, 2);
  EXPECT_EQ(RunTool({"replay", "--data-dir", data, "--out", dir_.Sub("x"), "--until", "soon"})
                .exit_code, 2);

  // diff A..B: exactly the two devices whose user changed.
  auto diff = RunTool({"diff", "--data-dir", data, "--from", a, "--to", b});
  ASSERT_EQ(diff.exit_code, 0) << diff.err;
  std::vector<json> lines;
  std::istringstream in(diff.out);
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 3u) << diff.out;
  EXPECT_EQ(lines[0]["kind"], "kme");
  std::set<std::string> ids = {lines[0]["id"], lines[1]["id"]};
  EXPECT_TRUE(ids.count(id3)) << diff.out;
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(lines[i]["changes"]["user"]["from"].is_null()) << diff.out;
    EXPECT_TRUE(lines[i]["changes"]["user"]["to"].is_string()) << diff.out;
    EXPECT_FALSE(lines[i]["changes"].contains("profile")) << diff.out;
  }
  EXPECT_EQ(lines[2]["devices_changed"], 2);
  // From the start to A: every imported device is new.
  auto from_start = RunTool({"diff", "--data-dir", data, "--from", "2000-01-01T00:00:00Z",
                             "--to", a});
  ASSERT_EQ(from_start.exit_code, 0) << from_start.err;
  EXPECT_NE(from_start.out.find("\"devices_changed\":20"), std::string::npos) << from_start.out;
  EXPECT_EQ(RunTool({"diff", "--data-dir", data, "--from", "x", "--to", b}).exit_code, 2);
}

// Views written by older projectors (no format stamp) are rebuilt beside the live ones
// when the engine starts, and the engine answers meanwhile.
TEST_F(ViewsTest, ViewsOfAnOlderFormatAreRebuiltAtStart) {
  CreateUser("alice");
  auto imported = Import(Csv(500, 1));
  ASSERT_EQ(imported.status, 200) << imported.body;
  const std::string data = engine_->data_dir();
  ASSERT_EQ(engine_->Stop(), 0);
  const std::string before = LiveViewsDir(data);
  auto open = [](const std::string& path, bool read_only) {
    auto projectors = proj::AllProjectors();
    proj::ViewStoreOptions vo;
    vo.path = path;
    vo.column_families = proj::AllColumnFamilies(projectors);
    vo.read_only = read_only;
    return proj::ViewStore::Open(vo);
  };
  {
    auto store = open(before, false);
    ASSERT_THAT(store, IsOk());
    auto format = (*store)->Get("checkpoints", proj::kViewsFormatKey);
    ASSERT_THAT(format, IsOk());
    ASSERT_TRUE(format->has_value());
    EXPECT_EQ(**format, proj::kViewsFormat);
    proj::ViewBatch batch(**store);
    batch.Delete("checkpoints", proj::kViewsFormatKey);  // as written before formats existed
    ASSERT_THAT((*store)->Write(batch, true), IsOk());
  }

  ASSERT_THAT(engine_->Start(), IsOk());
  EXPECT_EQ(engine_->Get("/v1/kme/devices/" + Imei(7), admin_).status, 200);
  json p = WaitForRebuild();
  ASSERT_EQ(p["state"], "done") << p.dump();
  EXPECT_NE(engine_->LogText().find("rebuilding them"), std::string::npos);
  const std::string after = LiveViewsDir(data);
  EXPECT_NE(after, before);
  EXPECT_FALSE(std::filesystem::exists(before));
  EXPECT_EQ(engine_->Get("/v1/kme/devices?limit=1000", admin_).json["items"].size(), 500u);
  ASSERT_EQ(engine_->Stop(), 0);
  auto store = open(after, true);
  ASSERT_THAT(store, IsOk());
  auto format = (*store)->Get("checkpoints", proj::kViewsFormatKey);
  ASSERT_THAT(format, IsOk());
  ASSERT_TRUE(format->has_value());
  EXPECT_EQ(**format, proj::kViewsFormat);
}

}  // namespace
}  // namespace ae::testing
