// The autoenroll binary over HTTP: bootstrap, users, roles, errors, positions.

#include <sys/stat.h>

#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = std::make_unique<EngineProcess>(dir_.Sub("data"));
    ASSERT_THAT(engine_->Start(), IsOk());
    admin_ = engine_->AdminToken();
    ASSERT_FALSE(admin_.empty());
  }
  std::string CreateUserWithToken(const std::string& name, const std::string& role) {
    auto u = engine_->Post("/v1/users", json{{"username", name}, {"role", role}}.dump(), admin_);
    EXPECT_EQ(u.status, 201) << u.body;
    auto t = engine_->Post("/v1/users/" + name + "/tokens", "", admin_);
    EXPECT_EQ(t.status, 201) << t.body;
    return t.json.value("token", "");
  }

  TempDir dir_;
  std::unique_ptr<EngineProcess> engine_;
  std::string admin_;
};

TEST_F(ApiTest, FirstStartWritesAnAdministratorTokenReadableOnlyByItsOwner) {
  struct stat st;
  ASSERT_EQ(stat((engine_->data_dir() + "/admin-token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto users = engine_->Get("/v1/users", admin_);
  ASSERT_EQ(users.status, 200) << users.body;
  ASSERT_EQ(users.json["items"].size(), 1u);
  EXPECT_EQ(users.json["items"][0]["username"], "admin");
  EXPECT_EQ(users.json["items"][0]["role"], "administrator");
  EXPECT_TRUE(users.json["next_cursor"].is_null());
  // The token is never logged.
  EXPECT_EQ(engine_->LogText().find(admin_), std::string::npos);
  EXPECT_NE(engine_->LogText().find("admin-token"), std::string::npos);
}

TEST_F(ApiTest, CreatesAndReadsUsersWithTheirPersonalData) {
  auto created = engine_->Post(
      "/v1/users",
      R"({"username":"Alice.Smith","role":"device_user","display_name":"Alice Smith","email":"alice@example.com"})",
      admin_);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json["username"], "Alice.Smith");
  EXPECT_EQ(created.json["display_name"], "Alice Smith");
  EXPECT_FALSE(created.Header("X-Log-Position").empty());
  EXPECT_EQ(created.json["position"], created.Header("X-Log-Position"));
  auto got = engine_->Get("/v1/users/alice.smith", admin_);  // case-insensitive
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.json["email"], "alice@example.com");
  EXPECT_EQ(engine_->Get("/v1/users/nobody", admin_).json["error"]["code"], "user.not_found");
}

TEST_F(ApiTest, RolesGateEveryRoute) {
  std::string manager = CreateUserWithToken("mgr", "device_manager");
  std::string user = CreateUserWithToken("usr", "device_user");
  EXPECT_EQ(engine_->Get("/v1/users", manager).status, 200);
  EXPECT_EQ(engine_->Get("/v1/users", user).status, 403);
  EXPECT_EQ(engine_->Get("/v1/users", user).json["error"]["code"], "auth.forbidden");
  EXPECT_EQ(engine_->Post("/v1/users", R"({"username":"x","role":"device_user"})", manager).status,
            403);
  EXPECT_EQ(engine_->Post("/v1/policies", R"({"name":"Kiosk"})", manager).status, 201);
  EXPECT_EQ(engine_->Post("/v1/policies", R"({"name":"Other"})", user).status, 403);
  auto none = engine_->Get("/v1/users");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.json["error"]["code"], "auth.required");
  auto bad = engine_->Get("/v1/users", "not-a-token");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.json["error"]["code"], "auth.invalid_token");
  // A deleted user's token stops working.
  ASSERT_EQ(engine_->Delete("/v1/users/mgr", admin_).status, 200);
  EXPECT_EQ(engine_->Get("/v1/users", manager).status, 401);
  EXPECT_EQ(engine_->Get("/v1/users/mgr", admin_).status, 404);
}

TEST_F(ApiTest, BadInputGetsAClearErrorAndWritesNothing) {
  auto before = engine_->Get("/v1/audit/verify", admin_).json["records"];
  auto bad_json = engine_->Post("/v1/users", "{nope", admin_);
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(bad_json.json["error"]["code"], "request.bad_json");
  auto missing = engine_->Post("/v1/users", R"({"role":"device_user"})", admin_);
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.json["error"]["field"], "username");
  auto role = engine_->Post("/v1/users", R"({"username":"x","role":"root"})", admin_);
  EXPECT_EQ(role.status, 400);
  EXPECT_EQ(role.json["error"]["code"], "user.invalid_role");
  auto name = engine_->Post("/v1/users", R"({"username":"a b","role":"device_user"})", admin_);
  EXPECT_EQ(name.json["error"]["code"], "user.invalid_username");
  auto type = engine_->Post("/v1/users", R"({"username":7,"role":"device_user"})", admin_);
  EXPECT_EQ(type.status, 400);
  // A body nested deeper than the parser allows, and a device's garbage, are refused.
  auto deep = engine_->Post("/v1/users",
                            R"({"username":"d","role":"device_user","x":)" + std::string(100000, '[') +
                                std::string(100000, ']') + "}",
                            admin_);
  EXPECT_EQ(deep.status, 400);
  EXPECT_EQ(deep.json["error"]["code"], "request.bad_json");
  auto android = engine_->Post("/enroll/android", std::string("\xff\xfe{\x00", 4), "");
  EXPECT_EQ(android.status, 400);
  EXPECT_EQ(android.json["error"]["code"], "request.bad_json");
  auto checkin = engine_->Send("PUT", "/mdm/apple/checkin", "<plist><dict><key>MessageType",
                               "", "application/x-apple-aspen-mdm-checkin");
  EXPECT_GE(checkin.status, 400);
  EXPECT_LT(checkin.status, 500);
  EXPECT_TRUE(checkin.json["error"]["code"].is_string()) << checkin.body;
  EXPECT_EQ(engine_->Get("/v1/audit/verify", admin_).json["records"], before);
  ASSERT_EQ(engine_->Post("/v1/users", R"({"username":"dup","role":"device_user"})", admin_).status,
            201);
  auto dup = engine_->Post("/v1/users", R"({"username":"DUP","role":"device_user"})", admin_);
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(dup.json["error"]["code"], "user.already_exists");
  auto limit = engine_->Get("/v1/users?limit=0", admin_);
  EXPECT_EQ(limit.status, 400);
  EXPECT_EQ(limit.json["error"]["field"], "limit");
  auto route = engine_->Get("/v1/nothing-here", admin_);
  EXPECT_EQ(route.status, 404);
  EXPECT_EQ(route.json["error"]["code"], "route.not_found");
}

TEST_F(ApiTest, BodiesOverTheLimitGet413AndTheServerCarriesOn) {
  std::string big(11 << 20, 'x');
  auto r = engine_->Post("/v1/users", big, admin_);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.json["error"]["code"], "request.too_large");
  EXPECT_EQ(engine_->Get("/healthz").status, 200);
}

TEST_F(ApiTest, ReadsWaitForMinPosition) {
  auto p = engine_->Post("/v1/policies", R"({"name":"Field staff"})", admin_);
  ASSERT_EQ(p.status, 201);
  std::string pos = p.Header("X-Log-Position");
  auto list = engine_->Get("/v1/policies?min_position=" + pos, admin_);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json["items"].size(), 1u);
  EXPECT_EQ(list.json["items"][0]["name"], "Field staff");
  auto future = engine_->Get("/v1/policies?min_position=999999", admin_);
  EXPECT_EQ(future.status, 503);
  EXPECT_EQ(future.json["error"]["code"], "view.lagging");
  auto bad = engine_->Get("/v1/policies?min_position=abc", admin_);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json["error"]["field"], "min_position");
}

TEST_F(ApiTest, ListsPageWithCursors) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(engine_->Post("/v1/rulesets", json{{"name", "rs" + std::to_string(i)}}.dump(), admin_)
                  .status,
              201);
  }
  std::vector<std::string> names;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    auto r = engine_->Get("/v1/rulesets?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor),
                          admin_);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_LE(r.json["items"].size(), 2u);
    for (const auto& it : r.json["items"]) names.push_back(it["name"]);
    if (r.json["next_cursor"].is_null()) break;
    cursor = r.json["next_cursor"];
  }
  EXPECT_EQ(names, (std::vector<std::string>{"rs0", "rs1", "rs2", "rs3", "rs4"}));
  EXPECT_EQ(engine_->Post("/v1/rulesets", R"({"name":"RS0"})", admin_).status, 409);
}

TEST_F(ApiTest, EventsAuditAndMetricsDescribeTheLog) {
  ASSERT_EQ(engine_->Post("/v1/policies", R"({"name":"A"})", admin_).status, 201);
  ASSERT_EQ(engine_->Post("/v1/policies", R"({"name":"B"})", admin_).status, 201);
  auto typed = engine_->Get("/v1/events?type=PolicyCreated", admin_);
  ASSERT_EQ(typed.status, 200) << typed.body;
  ASSERT_EQ(typed.json["items"].size(), 2u);
  EXPECT_EQ(typed.json["items"][0]["data"]["name"], "A");
  auto first = engine_->Get("/v1/events?limit=1", admin_);
  ASSERT_EQ(first.json["items"].size(), 1u);
  std::string after = first.json["items"][0]["position"];
  auto rest = engine_->Get("/v1/events?after=" + after, admin_);
  ASSERT_EQ(rest.status, 200);
  EXPECT_NE(rest.json["items"][0]["position"], after);
  EXPECT_EQ(rest.json["items"][0]["prev_hash"].get<std::string>().size(), 64u);
  auto audit = engine_->Get("/v1/audit/verify", admin_);
  EXPECT_EQ(audit.json["ok"], true);
  EXPECT_EQ(audit.json["records"], 4);  // admin, its token, two policies
  EXPECT_EQ(audit.json["head_hash"].get<std::string>().size(), 64u);
  auto metrics = engine_->Get("/metrics", admin_);
  ASSERT_EQ(metrics.status, 200);
  // The administrator and its token, then the two policies.
  EXPECT_NE(metrics.body.find("autoenroll_log_appends_total 4"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("route=\"/v1/policies\",status=\"201\"} 2"), std::string::npos);
  EXPECT_NE(metrics.body.find("autoenroll_projection_lag_records"), std::string::npos);
  // The time those appends took (durable writes: above zero).
  auto at = metrics.body.find("\nautoenroll_log_append_seconds_total ");
  ASSERT_NE(at, std::string::npos) << metrics.body;
  EXPECT_GT(std::stod(metrics.body.substr(at + 37)), 0.0) << metrics.body.substr(at, 60);
  EXPECT_NE(metrics.body.find("\nautoenroll_view_wait_seconds_total "), std::string::npos);
  auto ready = engine_->Get("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.json["ready"], true);
}

TEST_F(ApiTest, DataSurvivesARestartAndASecondEngineCannotTakeThePort) {
  ASSERT_EQ(engine_->Post("/v1/users", R"({"username":"keep","role":"device_user"})", admin_).status,
            201);
  EngineProcess clash(dir_.Sub("other"), {"--listen", "127.0.0.1:" + std::to_string(engine_->port())});
  auto started = clash.Start(10);
  EXPECT_FALSE(started.ok());
  EXPECT_NE(clash.LogText().find("cannot listen"), std::string::npos) << clash.LogText();
  EXPECT_EQ(engine_->Stop(SIGTERM), 0);
  ASSERT_THAT(engine_->Start(), IsOk());
  EXPECT_EQ(engine_->Get("/v1/users/keep", admin_).status, 200);
}

TEST(ApiBootstrap, AnAdminTokenFromTheEnvironmentIsUsed) {
  TempDir dir;
  const std::string seed = "seeded-Xk2pQ9vLm4Rt7wZa1Bc6Dn8Fh3Jy5Gs0UeVo";  // strong enough
  EngineProcess engine(dir.Sub("data"), {}, {{"AUTOENROLL_ADMIN_TOKEN", seed}});
  ASSERT_THAT(engine.Start(), IsOk());
  EXPECT_EQ(engine.AdminToken(), seed);
  EXPECT_EQ(engine.Get("/v1/users", seed).status, 200);
}

TEST_F(ApiTest, ForgettingAPersonRedactsThemAndKeepsTheChain) {
  ASSERT_EQ(engine_->Post("/v1/users",
                          R"({"username":"carol","role":"device_user","email":"carol@example.com"})",
                          admin_)
                .status,
            201);
  auto forgotten = engine_->Delete("/v1/users/carol?forget=true", admin_);
  ASSERT_EQ(forgotten.status, 200) << forgotten.body;
  EXPECT_EQ(engine_->Get("/v1/users/carol", admin_).status, 404);
  auto events = engine_->Get("/v1/events?limit=1000", admin_);
  EXPECT_EQ(events.body.find("carol"), std::string::npos);
  EXPECT_EQ(engine_->Get("/v1/audit/verify", admin_).json["ok"], true);
}

}  // namespace
}  // namespace ae::testing
