// kill -9 at random points while the views are being built, restart, and
// prove no record was applied twice or lost: the views equal a fresh replay.

#include <google/protobuf/io/coded_stream.h>

#include <random>
#include <thread>

#include "events/base/crypto.h"
#include "events/hash_chain.h"
#include "events/rocksdb_event_log.h"
#include "projections/all_projectors.h"
#include "projections/view_store.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"
#include "tests/support/view_compare.h"

namespace ae::testing {
namespace {

// Fills <data>/log with `users` users, each with `tokens` token events.
void Prefill(const std::string& data_dir, int users, int tokens) {
  std::filesystem::create_directories(data_dir);
  events::RocksDbEventLogOptions o;
  o.path = data_dir + "/log";
  o.sync = false;
  auto log = events::RocksDbEventLog::Open(o);
  ASSERT_THAT(log, IsOk());
  for (int u = 0; u < users; ++u) {
    std::string id = "prefill" + std::to_string(u);
    std::vector<events::Envelope> batch;
    events::Envelope created;
    created.mutable_user_created()->set_user_id(id);
    created.mutable_user_created()->set_role(autoenroll::events::v1::ROLE_DEVICE_USER);
    batch.push_back(created);
    for (int t = 0; t < tokens; ++t) {
      events::Envelope token;
      token.mutable_user_token_issued()->set_user_id(id);
      token.mutable_user_token_issued()->set_token_id(std::to_string(t));
      token.mutable_user_token_issued()->set_token_sha256(
          crypto::Sha256(id + "/" + std::to_string(t)));
      batch.push_back(token);
    }
    ASSERT_THAT((*log)->Append(StreamId("user", id), ExpectedVersion::NoStream(), batch), IsOk());
  }
}

TEST(CrashSafety, KillNineWhileProjectingLosesAndDuplicatesNothing) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  constexpr int kUsers = 3000, kTokens = 20;  // 63,000 records
  Prefill(data, kUsers, kTokens);
  std::mt19937 rng(12345);
  int kills = 0;
  for (int round = 0; round < 6; ++round) {
    EngineProcess engine(data);
    ASSERT_THAT(engine.Start(60), IsOk());
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 150)(rng)));
    engine.Stop(SIGKILL);
    ++kills;
  }
  EngineProcess engine(data);
  ASSERT_THAT(engine.Start(60), IsOk());
  ASSERT_TRUE(WaitFor([&] {
    auto r = engine.Get("/readyz", engine.AdminToken());  // the lag needs a token
    return r.status == 200 && r.json.value("view_lag", -1) == 0;
  }, std::chrono::seconds(120)));
  ASSERT_EQ(engine.Stop(SIGTERM), 0);
  {
    // Every user has exactly its tokens: a record applied twice would add one.
    auto projectors = proj::AllProjectors();
    proj::ViewStoreOptions vo;
    vo.path = LiveViewsDir(data);
    vo.column_families = proj::AllColumnFamilies(projectors);
    vo.read_only = true;
    auto views = proj::ViewStore::Open(vo);
    ASSERT_THAT(views, IsOk());
    int users = 0;
    ASSERT_THAT((*views)->Scan("users", "prefill", "", [&](std::string_view, std::string_view v) {
      auto j = nlohmann::json::parse(v);
      EXPECT_EQ(j["token_ids"].size(), size_t{kTokens}) << j["user_id"];
      ++users;
      return true;
    }), IsOk());
    EXPECT_EQ(users, kUsers);
  }
  auto replay = RunTool({"replay", "--data-dir", data, "--out", dir.Sub("fresh")});
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(DiffViewStores(LiveViewsDir(data), dir.Sub("fresh")), "");
  auto audit = RunTool({"audit", "verify", "--data-dir", data});
  EXPECT_EQ(audit.exit_code, 0) << audit.out << audit.err;
  EXPECT_EQ(kills, 6);
}

TEST(Replay, RebuiltViewsAreByteIdenticalToTheLiveViews) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  EngineProcess engine(data);
  ASSERT_THAT(engine.Start(), IsOk());
  std::string admin = engine.AdminToken();
  for (int i = 0; i < 20; ++i) {
    std::string name = "user" + std::to_string(i);
    ASSERT_EQ(engine.Post("/v1/users", "{\"username\":\"" + name + "\",\"role\":\"device_user\"}",
                          admin).status, 201);
    ASSERT_EQ(engine.Post("/v1/users/" + name + "/tokens", "", admin).status, 201);
    if (i % 4 == 0) {
      ASSERT_EQ(engine.Post("/v1/policies", "{\"name\":\"p" + std::to_string(i) + "\"}", admin)
                    .status, 201);
    }
  }
  ASSERT_EQ(engine.Delete("/v1/users/user3", admin).status, 200);
  // Beside the running server: replay reads the log without its lock.
  auto beside = RunTool({"replay", "--data-dir", data, "--out", dir.Sub("beside")});
  ASSERT_EQ(beside.exit_code, 0) << beside.err;
  ASSERT_EQ(engine.Stop(SIGTERM), 0);
  EXPECT_EQ(DiffViewStores(LiveViewsDir(data), dir.Sub("beside")), "");
  // In place, with the server stopped; the engine then serves the rebuilt views.
  const std::string before = LiveViewsDir(data);
  auto in_place = RunTool({"replay", "--data-dir", data});
  ASSERT_EQ(in_place.exit_code, 0) << in_place.err;
  // The new views are live (views.current names them) and the old ones are gone.
  EXPECT_NE(LiveViewsDir(data), before);
  EXPECT_FALSE(std::filesystem::exists(before));
  EXPECT_EQ(DiffViewStores(LiveViewsDir(data), dir.Sub("beside")), "");
  ASSERT_THAT(engine.Start(), IsOk());
  EXPECT_EQ(engine.Get("/v1/users/user7", admin).status, 200);
  EXPECT_EQ(engine.Get("/v1/users/user3", admin).status, 404);
}

TEST(Tools, ExportAndAuditWorkOnTheDataDir) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  EngineProcess engine(data);
  ASSERT_THAT(engine.Start(), IsOk());
  ASSERT_EQ(engine.Post("/v1/policies", R"({"name":"Exported"})", engine.AdminToken()).status, 201);
  auto json = RunTool({"events", "export", "--data-dir", data});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  int lines = 0;
  std::istringstream in(json.out);
  std::string line, last;
  while (std::getline(in, line)) {
    ++lines;
    last = line;
  }
  EXPECT_EQ(lines, 3);
  EXPECT_NE(last.find("\"type\":\"PolicyCreated\""), std::string::npos) << last;
  auto after = RunTool({"events", "export", "--data-dir", data, "--after", "1"});
  EXPECT_EQ(std::count(after.out.begin(), after.out.end(), '\n'), 1);
  auto proto = RunTool({"events", "export", "--data-dir", data, "--format", "proto"});
  ASSERT_EQ(proto.exit_code, 0);
  // Length-delimited Envelopes, as protobuf's writeDelimitedTo writes them.
  google::protobuf::io::CodedInputStream in_proto(
      reinterpret_cast<const uint8_t*>(proto.out.data()), static_cast<int>(proto.out.size()));
  std::vector<events::Envelope> records;
  uint32_t len = 0;
  while (in_proto.ReadVarint32(&len)) {
    std::string raw;
    ASSERT_TRUE(in_proto.ReadString(&raw, static_cast<int>(len)));
    events::Envelope e;
    ASSERT_TRUE(e.ParseFromString(raw));
    records.push_back(e);
  }
  ASSERT_EQ(records.size(), 3u);
  EXPECT_TRUE(records[0].has_user_created());
  EXPECT_EQ(records[2].policy_created().name(), "Exported");
  auto audit = RunTool({"audit", "verify", "--data-dir", data});
  EXPECT_EQ(audit.exit_code, 0);
  EXPECT_NE(audit.out.find("\"ok\":true"), std::string::npos) << audit.out;
  auto bad = RunTool({"events", "export", "--data-dir", data, "--after", "x"});
  EXPECT_EQ(bad.exit_code, 2);
}

}  // namespace
}  // namespace ae::testing
