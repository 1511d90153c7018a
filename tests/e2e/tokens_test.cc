// API tokens over the binary: the administrator's seed must be strong, events and views
// name a token by its id and hold no hash of it, a single token is listed and revoked,
// tokens survive restarts and rebuilt views, tokens issued before keyed hashes keep
// working, and a Kafka query replica checks the same tokens.

#include <filesystem>
#include <fstream>

#include "events/base/crypto.h"
#include "events/rocksdb_event_log.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kSeed[] = "seeded-Xk2pQ9vLm4Rt7wZa1Bc6Dn8Fh3Jy5Gs0UeVo";

// Every form a token's unsalted SHA-256 could take in an answer or a file.
std::vector<std::string> HashForms(const std::string& token) {
  const std::string sha = crypto::Sha256(token);
  return {sha, crypto::Hex(sha), crypto::Base64(sha), crypto::Base64Url(sha)};
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class TokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = std::make_unique<EngineProcess>(dir_.Sub("data"));
    ASSERT_THAT(engine_->Start(), IsOk());
    admin_ = engine_->AdminToken();
    ASSERT_FALSE(admin_.empty());
  }
  void CreateUser(const std::string& name, const std::string& role) {
    auto u = engine_->Post("/v1/users", json{{"username", name}, {"role", role}}.dump(), admin_);
    ASSERT_EQ(u.status, 201) << u.body;
  }
  // {token, token_id}
  std::pair<std::string, std::string> Issue(const std::string& name) {
    auto t = engine_->Post("/v1/users/" + name + "/tokens", "", admin_);
    EXPECT_EQ(t.status, 201) << t.body;
    return {t.json.value("token", ""), t.json.value("token_id", "")};
  }
  json List(const std::string& name) {
    auto listed = engine_->Get("/v1/users/" + name + "/tokens", admin_);
    EXPECT_EQ(listed.status, 200) << listed.body;
    return listed.json["items"];
  }

  TempDir dir_;
  std::unique_ptr<EngineProcess> engine_;
  std::string admin_;
};

TEST(TokensSeed, AWeakAdministratorSeedIsRefusedAtStart) {
  for (const std::string& weak : {std::string("short"), std::string(40, 'a'),
                                 std::string("Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3")}) {
    TempDir dir;
    EngineProcess engine(dir.Sub("data"), {}, {{"AUTOENROLL_ADMIN_TOKEN", weak}});
    EXPECT_FALSE(engine.Start().ok()) << weak << " was accepted";
    const std::string log = engine.LogText();
    EXPECT_NE(log.find("AUTOENROLL_ADMIN_TOKEN is too weak"), std::string::npos) << log;
    EXPECT_NE(log.find("admin.weak_seed"), std::string::npos) << log;
    EXPECT_FALSE(fs::exists(dir.Sub("data") + "/admin-token")) << weak;
  }
  TempDir dir;
  EngineProcess strong(dir.Sub("data"), {}, {{"AUTOENROLL_ADMIN_TOKEN", kSeed}});
  ASSERT_THAT(strong.Start(), IsOk());
  EXPECT_EQ(strong.Get("/v1/users", kSeed).status, 200);
}

TEST_F(TokensTest, EventsAndViewsNameATokenByItsIdAndHoldNoHashOfIt) {
  CreateUser("dora", "device_manager");
  auto [token, token_id] = Issue("dora");
  ASSERT_FALSE(token_id.empty());
  EXPECT_EQ(engine_->Get("/v1/users", token).status, 200);
  auto events = engine_->Get("/v1/events?type=UserTokenIssued", token);  // a device manager reads
  ASSERT_EQ(events.status, 200) << events.body;
  ASSERT_EQ(events.json["items"].size(), 2u);  // the administrator's and dora's
  EXPECT_EQ(events.json["items"][1]["data"]["token_id"], token_id);
  for (const auto& e : events.json["items"]) {
    EXPECT_FALSE(e["data"].contains("token_sha256")) << e.dump();
  }
  ASSERT_EQ(engine_->Stop(), 0);
  for (const std::string& t : {token, admin_}) {
    for (const auto& form : HashForms(t)) {
      EXPECT_EQ(events.body.find(form), std::string::npos);
      // The log and the views: no hash of either token in any of their files.
      for (const auto& entry : fs::recursive_directory_iterator(engine_->data_dir())) {
        if (!entry.is_regular_file()) continue;
        const std::string name = entry.path().lexically_relative(engine_->data_dir()).string();
        if (name.rfind("log", 0) != 0 && name.rfind("views", 0) != 0) continue;
        EXPECT_EQ(ReadFile(entry.path()).find(form), std::string::npos) << name;
      }
    }
  }
}

TEST_F(TokensTest, EachTokenIsListedWithWhenItWasCreatedAndLastUsed) {
  CreateUser("erin", "device_manager");
  auto [used, used_id] = Issue("erin");
  auto [idle, idle_id] = Issue("erin");
  json items = List("erin");
  ASSERT_EQ(items.size(), 2u) << items.dump();
  EXPECT_EQ(items[0]["token_id"], used_id);
  EXPECT_EQ(items[1]["token_id"], idle_id);
  for (const auto& t : items) {
    EXPECT_FALSE(t["created_at"].get<std::string>().empty());
    EXPECT_TRUE(t["last_used_at"].is_null()) << t.dump();
    EXPECT_EQ(t["legacy"], false);
    EXPECT_EQ(t.dump().find(used), std::string::npos);  // never the token itself
  }
  ASSERT_EQ(engine_->Get("/v1/users", used).status, 200);
  items = List("erin");
  ASSERT_TRUE(items[0]["last_used_at"].is_string()) << items.dump();
  EXPECT_TRUE(items[1]["last_used_at"].is_null());
  const std::string last_used = items[0]["last_used_at"];
  // Only an administrator lists tokens.
  EXPECT_EQ(engine_->Get("/v1/users/erin/tokens", used).status, 403);
  EXPECT_EQ(engine_->Get("/v1/users/nobody/tokens", admin_).json["error"]["code"],
            "user.not_found");

  // The last use outlives a restart.
  ASSERT_EQ(engine_->Stop(), 0);
  ASSERT_THAT(engine_->Start(), IsOk());
  items = List("erin");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0]["last_used_at"], last_used);
  EXPECT_TRUE(items[1]["last_used_at"].is_null());
}

TEST_F(TokensTest, ARevokedTokenIsRefusedOnTheNextRequestAndTheOthersStay) {
  CreateUser("finn", "device_manager");
  auto [first, first_id] = Issue("finn");
  auto [second, second_id] = Issue("finn");
  ASSERT_EQ(engine_->Get("/v1/users", first).status, 200);  // cached as valid

  auto revoked = engine_->Delete("/v1/users/finn/tokens/" + first_id, admin_);
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(revoked.json["revoked"], true);
  EXPECT_FALSE(revoked.Header("X-Log-Position").empty());
  auto refused = engine_->Get("/v1/users", first);
  EXPECT_EQ(refused.status, 401) << refused.body;
  EXPECT_EQ(refused.json["error"]["code"], "auth.invalid_token");
  EXPECT_EQ(engine_->Get("/v1/users", second).status, 200);
  json items = List("finn");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["token_id"], second_id);
  auto events = engine_->Get("/v1/events?type=UserTokenRevoked", admin_);
  ASSERT_EQ(events.json["items"].size(), 1u);
  EXPECT_EQ(events.json["items"][0]["data"]["token_id"], first_id);

  auto again = engine_->Delete("/v1/users/finn/tokens/" + first_id, admin_);
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(again.json["error"]["code"], "user.token_not_found");
  // A token is revoked only through its own user.
  CreateUser("gail", "device_user");
  auto other = engine_->Delete("/v1/users/gail/tokens/" + second_id, admin_);
  EXPECT_EQ(other.status, 404) << other.body;
  EXPECT_EQ(engine_->Get("/v1/users", second).status, 200);
  auto bad = engine_->Delete("/v1/users/finn/tokens/not-an-id", admin_);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json["error"]["code"], "user.invalid_token_id");
  EXPECT_EQ(bad.json["error"]["field"], "token_id");
  EXPECT_EQ(engine_->Delete("/v1/users/finn/tokens/" + second_id, second).status, 403);

  // Still refused after a restart.
  ASSERT_EQ(engine_->Stop(), 0);
  ASSERT_THAT(engine_->Start(), IsOk());
  EXPECT_EQ(engine_->Get("/v1/users", first).status, 401);
  EXPECT_EQ(engine_->Get("/v1/users", second).status, 200);
}

TEST_F(TokensTest, TokensKeepWorkingWhenTheViewsAreRebuiltFromTheLog) {
  CreateUser("hana", "device_manager");
  auto [token, token_id] = Issue("hana");
  ASSERT_EQ(engine_->Stop(), 0);
  // The views go; the next start rebuilds them from events, which hold no hash.
  size_t removed = 0;
  for (const auto& entry : fs::directory_iterator(engine_->data_dir())) {
    if (entry.path().filename().string().rfind("views", 0) == 0) {
      fs::remove_all(entry.path());
      ++removed;
    }
  }
  ASSERT_GT(removed, 0u);
  ASSERT_THAT(engine_->Start(), IsOk());
  EXPECT_EQ(engine_->Get("/v1/users", token).status, 200);
  EXPECT_EQ(engine_->Get("/v1/users", admin_).status, 200);
  json items = List("hana");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["token_id"], token_id);
}

TEST(TokensSeed, ARevokedSeedIsNotIssuedAgainAtTheNextStart) {
  TempDir dir;
  EngineProcess engine(dir.Sub("data"), {}, {{"AUTOENROLL_ADMIN_TOKEN", kSeed}});
  ASSERT_THAT(engine.Start(), IsOk());
  auto other = engine.Post("/v1/users/admin/tokens", "", kSeed);
  ASSERT_EQ(other.status, 201) << other.body;
  const std::string spare = other.json["token"];
  auto items = engine.Get("/v1/users/admin/tokens", spare).json["items"];
  ASSERT_EQ(items.size(), 2u);
  const std::string seed_id = items[0]["token_id"];
  ASSERT_NE(seed_id, other.json["token_id"]);
  ASSERT_EQ(engine.Delete("/v1/users/admin/tokens/" + seed_id, spare).status, 200);
  EXPECT_EQ(engine.Get("/v1/users", kSeed).status, 401);
  ASSERT_EQ(engine.Stop(), 0);

  EXPECT_FALSE(engine.Start().ok());
  EXPECT_NE(engine.LogText().find("AUTOENROLL_ADMIN_TOKEN is a token that was revoked"),
            std::string::npos) << engine.LogText();
  EngineProcess unset(dir.Sub("data"));
  ASSERT_THAT(unset.Start(), IsOk());
  EXPECT_EQ(unset.Get("/v1/users", kSeed).status, 401);
  EXPECT_EQ(unset.Get("/v1/users", spare).status, 200);
}

// A token issued by a build from before keyed hashes: its event carries the SHA-256.
TEST_F(TokensTest, TokensIssuedBeforeKeyedHashesAreMovedAtStartAndKeepWorking) {
  const std::string admin_id = engine_->Get("/v1/users/admin", admin_).json["user_id"];
  ASSERT_FALSE(admin_id.empty());
  ASSERT_EQ(engine_->Stop(), 0);
  const std::string legacy = "ae_" + crypto::Base64Url(crypto::RandomBytes(32));
  const std::string legacy_id = crypto::Hex(crypto::Sha256(legacy)).substr(0, 16);
  {
    events::RocksDbEventLogOptions o;
    o.path = engine_->data_dir() + "/log";
    auto log = events::RocksDbEventLog::Open(o);
    ASSERT_THAT(log, IsOk());
    events::Envelope issued;
    issued.set_schema_version(2);
    issued.mutable_actor()->set_kind(autoenroll::events::v1::Actor::KIND_SYSTEM);
    issued.mutable_actor()->set_id("api");
    auto* p = issued.mutable_user_token_issued();
    p->set_user_id(admin_id);
    p->set_token_id(legacy_id);
    p->set_token_sha256(crypto::Sha256(legacy));
    ASSERT_THAT((*log)->Append(StreamId("user", admin_id), ExpectedVersion::Any(),
                               {issued}),
                IsOk());
  }
  ASSERT_THAT(engine_->Start(), IsOk());
  EXPECT_NE(engine_->LogText().find("moved 1 API tokens issued before keyed token hashes"),
            std::string::npos) << engine_->LogText();
  EXPECT_EQ(engine_->Get("/v1/users", legacy).status, 200);
  json items = List("admin");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[1]["token_id"], legacy_id);
  EXPECT_EQ(items[1]["legacy"], true);
  // Its hash is in the log for good, but no reader of the feed is shown it.
  auto events = engine_->Get("/v1/events?type=UserTokenIssued", admin_);
  ASSERT_EQ(events.json["items"].size(), 2u);
  EXPECT_FALSE(events.json["items"][1]["data"].contains("token_sha256")) << events.body;
  for (const auto& form : HashForms(legacy)) EXPECT_EQ(events.body.find(form), std::string::npos);

  // Moved once: it works after another restart, and after a rebuild of the views.
  ASSERT_EQ(engine_->Stop(), 0);
  ASSERT_THAT(engine_->Start(), IsOk());
  EXPECT_EQ(engine_->Get("/v1/users", legacy).status, 200);
  auto rebuild = engine_->Post("/v1/admin/views/rebuild?require_identical=true", "{}", admin_);
  ASSERT_LT(rebuild.status, 300) << rebuild.body;
  ASSERT_TRUE(WaitFor([&] {
    return engine_->Get("/v1/admin/views/rebuild", admin_).json.value("state", "") == "done";
  }, std::chrono::seconds(60)));
  EXPECT_EQ(engine_->Get("/v1/users", legacy).status, 200);
  // And it is revoked like any other.
  ASSERT_EQ(engine_->Delete("/v1/users/admin/tokens/" + legacy_id, admin_).status, 200);
  EXPECT_EQ(engine_->Get("/v1/users", legacy).status, 401);
}

TEST(TokensKafka, AReplicaChecksTheWritersTokensAndSeesARevocation) {
  TempDir dir;
  ChildProcess kafka;
  auto bootstrap = kafka.Start({"dev-kafka", "--brokers", "1"}, "bootstrap: ");
  ASSERT_THAT(bootstrap, IsOk());
  const std::string key_file = dir.Sub("master-key");
  {
    std::ofstream(key_file) << std::string(64, 'b') << "\n";
  }
  auto engine_args = [&](const std::string& role) {
    return std::vector<std::string>{"--kafka-brokers", *bootstrap, "--role", role,
                                    "--master-key-file", key_file};
  };
  EngineProcess writer(dir.Sub("writer"), engine_args("writer"));
  ASSERT_THAT(writer.Start(60), IsOk());
  const std::string admin = writer.AdminToken();
  EngineProcess reader(dir.Sub("reader"), engine_args("reader"));
  ASSERT_THAT(reader.Start(60), IsOk());

  ASSERT_EQ(writer.Post("/v1/users", R"({"username":"ivy","role":"device_manager"})", admin).status,
            201);
  auto issued = writer.Post("/v1/users/ivy/tokens", "", admin);
  ASSERT_EQ(issued.status, 201) << issued.body;
  const std::string token = issued.json["token"], token_id = issued.json["token_id"];
  ASSERT_TRUE(WaitFor([&] { return reader.Get("/v1/users", token).status == 200; },
                      std::chrono::seconds(30)))
      << reader.LogText();
  EXPECT_EQ(reader.Get("/v1/users", admin).status, 200);

  ASSERT_EQ(writer.Delete("/v1/users/ivy/tokens/" + token_id, admin).status, 200);
  EXPECT_EQ(writer.Get("/v1/users", token).status, 401);
  ASSERT_TRUE(WaitFor([&] { return reader.Get("/v1/users", token).status == 401; },
                      std::chrono::seconds(30)));
  // The topic holds the verifiers sealed, and the events no hash.
  auto events = reader.Get("/v1/events?type=UserTokenIssued", admin);
  for (const auto& form : HashForms(token)) EXPECT_EQ(events.body.find(form), std::string::npos);
}

}  // namespace
}  // namespace ae::testing
