// Security over the binary: every route walked with every role, HTTPS with --tls-cert and
// --tls-key, and the rate limit of the device-facing enrollment routes.

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <regex>

#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;

int Rank(const std::string& role) {
  if (role == "public") return 0;
  if (role == "device_user") return 1;
  if (role == "device_manager") return 2;
  return 3;  // administrator
}

TEST(Security, EveryRouteRefusesEveryRoleBelowItsOwnAndServesTheOthers) {
  TempDir dir;
  EngineProcess engine(dir.Sub("data"));
  ASSERT_THAT(engine.Start(), IsOk());
  const std::string admin = engine.AdminToken();
  std::map<std::string, std::string> tokens = {{"administrator", admin}};
  for (std::string role : {"device_user", "device_manager"}) {
    std::string name = "walk-" + role;
    std::replace(name.begin(), name.end(), '_', '-');
    ASSERT_EQ(engine.Post("/v1/users", json{{"username", name}, {"role", role}}.dump(), admin)
                  .status, 201);
    auto t = engine.Post("/v1/users/" + name + "/tokens", "", admin);
    ASSERT_EQ(t.status, 201);
    tokens[role] = t.json["token"];
  }
  auto listed = engine.Get("/v1/admin/routes", admin);
  ASSERT_EQ(listed.status, 200) << listed.body;
  ASSERT_GT(listed.json["count"].get<int>(), 40);
  EXPECT_EQ(engine.Get("/v1/admin/routes", tokens["device_manager"]).status, 403);

  int walked = 0;
  for (const auto& r : listed.json["items"]) {
    const std::string method = r["method"], role = r["role"];
    const std::string path = std::regex_replace(r["path"].get<std::string>(),
                                                std::regex("\\{[^}]*\\}"), "zz-none");
    const std::string what = method + " " + path + " (" + role + ")";
    const std::string body = method == "GET" || method == "DELETE" ? "" : "{}";
    if (role == "public") {
      auto a = engine.Send(method, path, body, "", "application/json");
      // No bearer token is asked for (devices authenticate otherwise, e.g. Mdm-Signature).
      std::string code;
      if (a.json.is_object() && a.json.contains("error") && a.json["error"].is_object()) {
        code = a.json["error"].value("code", "");
      }
      EXPECT_NE(code.rfind("auth.", 0), 0u) << what << ": " << a.body;
      EXPECT_LT(a.status, 500) << what << ": " << a.body;
      continue;
    }
    auto none = engine.Send(method, path, body, "", "application/json");
    EXPECT_EQ(none.status, 401) << what << ": " << none.body;
    EXPECT_EQ(none.json["error"]["code"], "auth.required") << what;
    for (const std::string lower : {"device_user", "device_manager"}) {
      if (Rank(lower) >= Rank(role)) continue;
      auto refused = engine.Send(method, path, body, tokens[lower], "application/json");
      EXPECT_EQ(refused.status, 403) << what << " as " << lower << ": " << refused.body;
      EXPECT_EQ(refused.json["error"]["code"], "auth.forbidden") << what << " as " << lower;
    }
    for (const std::string enough : {"device_user", "device_manager", "administrator"}) {
      if (Rank(enough) < Rank(role)) continue;
      auto served = engine.Send(method, path, body, tokens[enough], "application/json");
      EXPECT_NE(served.status, 401) << what << " as " << enough << ": " << served.body;
      EXPECT_NE(served.status, 403) << what << " as " << enough << ": " << served.body;
      EXPECT_LT(served.status, 500) << what << " as " << enough << ": " << served.body;
      break;  // the least sufficient role; higher ones pass the same check
    }
    ++walked;
  }
  EXPECT_GT(walked, 30);
  EXPECT_EQ(engine.Get("/healthz").status, 200);  // nothing above hurt the process
}

TEST(Security, EnrollmentIsRateLimitedPerSourceAndTheApiIsNot) {
  TempDir dir;
  EngineProcess engine(dir.Sub("data"), {"--enroll-rate", "0.5", "--enroll-burst", "3"});
  ASSERT_THAT(engine.Start(), IsOk());
  const std::string body =
      R"({"enrollment_token":"wrong","imei":"356938035643809","source":"kme"})";
  for (int i = 0; i < 3; ++i) {
    auto r = engine.Post("/enroll/android", body);
    EXPECT_EQ(r.status, 403) << r.body;  // within the burst: the ordinary answer
  }
  auto limited = engine.Post("/enroll/android", body);
  ASSERT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(limited.json["error"]["code"], "request.rate_limited");
  EXPECT_GE(std::stoi(limited.Header("Retry-After")), 1);
  // The limit is per client address over the enrollment routes; the API is not limited.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(engine.Get("/v1/users", engine.AdminToken()).status, 200);
  EXPECT_EQ(engine.Post("/enroll/apple", "x").status, 429);  // same address: same bucket
}

TEST(Security, TheApiIsServedOverHttpsWithTheGivenCertificate) {
  if (std::system("command -v openssl >/dev/null") != 0) GTEST_SKIP() << "no openssl";
  TempDir dir;
  const std::string cert = dir.Sub("cert.pem"), key = dir.Sub("key.pem");
  std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                    "-addext subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " + cert +
                    " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EngineProcess engine(dir.Sub("data"), {"--tls-cert", cert, "--tls-key", key});
  ASSERT_THAT(engine.Start(), IsOk());
  const std::string admin = engine.AdminToken();

  httplib::SSLClient tls("127.0.0.1", engine.port());
  tls.set_ca_cert_path(cert.c_str());
  tls.enable_server_certificate_verification(true);
  auto health = tls.Get("/healthz");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  auto users = tls.Get("/v1/users", {{"Authorization", "Bearer " + admin}});
  ASSERT_TRUE(users);
  EXPECT_EQ(users->status, 200);
  EXPECT_NE(users->body.find("\"admin\""), std::string::npos);

  // A client that does not trust the certificate is refused by its own TLS check.
  httplib::SSLClient untrusting("127.0.0.1", engine.port());
  untrusting.set_ca_cert_path(dir.Sub("missing.pem").c_str());
  untrusting.enable_server_certificate_verification(true);
  EXPECT_FALSE(untrusting.Get("/healthz"));
  // Plain HTTP gets no answer on the HTTPS port.
  httplib::Client plain("127.0.0.1", engine.port());
  plain.set_read_timeout(3);
  auto p = plain.Get("/healthz");
  EXPECT_TRUE(!p || p->status != 200);
}

TEST(Security, TheMasterKeyRotatesAndTheOldOneOpensNothing) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  auto engine = std::make_unique<EngineProcess>(data);
  ASSERT_THAT(engine->Start(), IsOk());
  const std::string admin = engine->AdminToken();
  ASSERT_EQ(engine->Post("/v1/users",
                         R"({"username":"fay","role":"device_user","email":"fay@example.org"})",
                         admin).status, 201);
  ASSERT_EQ(engine->Stop(SIGTERM), 0);
  std::filesystem::copy_file(data + "/master-key", dir.Sub("old-key"));

  auto rotated = RunTool({"secrets", "rotate-master-key", "--data-dir", data});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  EXPECT_GE(json::parse(rotated.out)["secrets_resealed"].get<int>(), 2);  // person keys, ...

  // The engine opens everything with the new key: personal data, tokens, user ids.
  ASSERT_THAT(engine->Start(), IsOk());
  auto fay = engine->Get("/v1/users/fay", admin);
  ASSERT_EQ(fay.status, 200) << fay.body;
  EXPECT_EQ(fay.json["email"], "fay@example.org");
  ASSERT_EQ(engine->Stop(SIGTERM), 0);
  // With the old key it refuses to start, and says why.
  EngineProcess with_old(data, {"--master-key-file", dir.Sub("old-key")});
  EXPECT_FALSE(with_old.Start(20).ok());
  EXPECT_NE(with_old.LogText().find("master key does not open"), std::string::npos)
      << with_old.LogText();
  // While a server runs, the store is locked: the rotation refuses.
  ASSERT_THAT(engine->Start(), IsOk());
  auto busy = RunTool({"secrets", "rotate-master-key", "--data-dir", data});
  EXPECT_EQ(busy.exit_code, 1);
}

}  // namespace
}  // namespace ae::testing
