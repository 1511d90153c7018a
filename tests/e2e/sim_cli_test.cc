// `autoenroll sim ...` end to end: the Apple DEP simulator as a process driven
// through its control API, and the Apple device simulator against the engine.

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "adapters/apple_dep/server_identity.h"
#include "adapters/apple_dep/token.h"
#include "events/base/clock.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace fs = std::filesystem;

constexpr char kServer[] = "MDM Server 1";

class SimAppleDepCli : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dep = sim_.Start({"sim", "apple-dep", "--listen", "127.0.0.1:0"}, "listening on ");
    ASSERT_THAT(dep, IsOk());
    dep_url_ = *dep;
    auto control = sim_.ReadLine("control on ");
    ASSERT_THAT(control, IsOk());
    ASSERT_THAT(*control, StartsWith("http://127.0.0.1:"));
    control_port_ = PortOf(*control);
    ASSERT_THAT(dep_url_, StartsWith("http://127.0.0.1:"));
    dep_port_ = PortOf(dep_url_);
    ASSERT_NE(dep_port_, control_port_);
  }

  HttpAnswer Control(const std::string& method, const std::string& path, const json& body = {}) {
    return CallLoopback(control_port_, method, path, body.is_null() ? "" : body.dump());
  }

  // Issues a token for a fresh server identity, which creates `server`.
  std::string IssueToken(const std::string& server = kServer) {
    auto id = dep::ServerIdentity::Generate({}, Clock::Real());
    EXPECT_THAT(id, IsOk());
    auto t = Control("POST", "/sim/tokens",
                     {{"certificate_pem", id->CertificatePem()}, {"server_name", server}});
    EXPECT_EQ(t.status, 200) << t.body;
    return t.body;
  }

  ChildProcess sim_;
  std::string dep_url_;
  int dep_port_ = 0;
  int control_port_ = 0;
};

TEST_F(SimAppleDepCli, IssuesATokenThatOpensWithTheServerKey) {
  auto identity = dep::ServerIdentity::Generate({}, Clock::Real());
  ASSERT_THAT(identity, IsOk());
  auto t = Control("POST", "/sim/tokens",
                   {{"certificate_pem", identity->CertificatePem()},
                    {"server_name", "Campus"},
                    {"expiry", "2040-01-01T00:00:00Z"}});
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(t.Header("Content-Type"), "application/pkcs7-mime");
  auto token = dep::DecryptToken(t.body, *identity, Clock::Real());
  ASSERT_THAT(token, IsOk());
  EXPECT_FALSE(token->consumer_key.empty());
  EXPECT_EQ(token->access_token_expiry, "2040-01-01T00:00:00Z");
}

TEST_F(SimAppleDepCli, AddsDevicesAndReadsOneBack) {
  IssueToken();
  auto added = Control("POST", "/sim/devices",
                       {{"server_name", kServer}, {"prefix", "C02CLI"}, {"count", 3}});
  ASSERT_EQ(added.status, 201) << added.body;
  ASSERT_EQ(added.json["serials"].size(), 3u);
  std::string serial = added.json["serials"][1];
  auto device = Control("GET", "/sim/devices/" + serial, nullptr);
  ASSERT_EQ(device.status, 200) << device.body;
  EXPECT_EQ(device.json["serial_number"], serial);
  EXPECT_FALSE(device.json.value("model", "").empty());

  auto unknown = Control("GET", "/sim/devices/NOSUCHSERIAL", nullptr);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.json["error"]["code"], "sim.unknown_device");
  auto again = Control("POST", "/sim/devices",
                       {{"server_name", kServer}, {"prefix", "C02CLI"}, {"count", 1}});
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_EQ(again.json["error"]["code"], "sim.device_exists");
}

TEST_F(SimAppleDepCli, InjectedFaultIsAnsweredByTheDepService) {
  auto fault = Control("POST", "/sim/faults",
                       {{"path", "/session"}, {"count", 1}, {"status", 503}, {"retry_after", 7}});
  ASSERT_EQ(fault.status, 200) << fault.body;
  const httplib::Headers ua = {{"User-Agent", "sim-cli-test"}};
  auto first = CallLoopback(dep_port_, "GET", "/session", "", ua);
  EXPECT_EQ(first.status, 503);
  EXPECT_EQ(first.Header("Retry-After"), "7");
  // One fault only: the next call reaches the session check (no OAuth header: 400).
  auto second = CallLoopback(dep_port_, "GET", "/session", "", ua);
  EXPECT_EQ(second.status, 400) << second.body;
}

TEST_F(SimAppleDepCli, MovesActivatesAndRemovesDevices) {
  IssueToken();
  IssueToken("MDM Server 2");
  auto added = Control("POST", "/sim/devices",
                       {{"server_name", kServer}, {"prefix", "C02MOV"}, {"count", 1}});
  ASSERT_EQ(added.status, 201) << added.body;
  std::string serial = added.json["serials"][0];

  auto moved = Control("POST", "/sim/devices/" + serial + "/move",
                       {{"to_server_name", "MDM Server 2"}});
  EXPECT_EQ(moved.status, 200) << moved.body;
  EXPECT_EQ(moved.json["serial_number"], serial);
  // No profile is assigned, so the device cannot fetch one.
  auto activated = Control("POST", "/sim/devices/" + serial + "/activate", nullptr);
  EXPECT_EQ(activated.status, 409) << activated.body;
  EXPECT_EQ(activated.json["error"]["code"], "sim.no_profile");
  EXPECT_EQ(Control("POST", "/sim/devices/" + serial + "/remove", nullptr).status, 200);
  EXPECT_EQ(Control("POST", "/sim/devices/NOSUCHSERIAL/remove", nullptr).status, 404);

  EXPECT_EQ(Control("POST", "/sim/serials/" + serial + "/outcome",
                    {{"status", "THROTTLED"}, {"retry_after_seconds", 30}})
                .status,
            200);
  EXPECT_EQ(Control("POST", "/sim/sessions/expire", nullptr).status, 200);
  EXPECT_EQ(Control("POST", "/sim/terms", {{"required", true}}).status, 200);
  EXPECT_EQ(Control("POST", "/sim/servers/MDM%20Server%202/revoke", nullptr).status, 200);
  EXPECT_EQ(Control("POST", "/sim/servers/Nobody/revoke", nullptr).status, 404);
}

TEST_F(SimAppleDepCli, RejectsBadRequestsWithJsonErrors) {
  auto missing = Control("POST", "/sim/devices", json::object());
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.json["error"]["code"], "sim.bad_request");
  EXPECT_EQ(missing.json["error"]["field"], "server_name");
  auto no_server = Control("POST", "/sim/devices", {{"server_name", "Nobody"}, {"count", 1}});
  EXPECT_EQ(no_server.status, 404) << no_server.body;
  EXPECT_EQ(no_server.json["error"]["code"], "sim.unknown_server");
  auto bad_json = CallLoopback(control_port_, "POST", "/sim/terms", "{not json");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(bad_json.json["error"]["code"], "sim.bad_json");
  auto bad_cert = Control("POST", "/sim/tokens", {{"certificate_pem", "not a certificate"}});
  EXPECT_GE(bad_cert.status, 400);
  EXPECT_LT(bad_cert.status, 500);
  EXPECT_TRUE(bad_cert.json["error"].is_object()) << bad_cert.body;
  auto no_route = Control("GET", "/sim/nothing", nullptr);
  EXPECT_EQ(no_route.status, 404);
  EXPECT_TRUE(no_route.json["error"].is_object()) << no_route.body;
}

TEST_F(SimAppleDepCli, StopsCleanlyOnSigterm) { EXPECT_EQ(sim_.Stop(SIGTERM), 0); }

TEST(SimCliUsage, RefusesNonLoopbackAddressesAndMissingOptions) {
  auto dep = RunTool({"sim", "apple-dep", "--listen", "0.0.0.0:0"});
  EXPECT_EQ(dep.exit_code, 2) << dep.err;
  EXPECT_THAT(dep.err, HasSubstr("127.0.0.1"));
  auto device = RunTool({"sim", "apple-device", "--url", "http://127.0.0.1:1"});
  EXPECT_EQ(device.exit_code, 2) << device.err;
}

TEST(SimAppleDeviceCa, IsCreatedOnceWithAPrivateKeyAndThenReused) {
  TempDir dir;
  const std::string ca_dir = dir.Sub("ca");
  auto first = RunTool({"sim", "apple-device-ca", "--device-ca-dir", ca_dir});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const fs::path cert = fs::path(ca_dir) / "device-ca.pem";
  EXPECT_EQ(first.out, fs::absolute(cert).string() + "\n");
  struct stat st {};
  ASSERT_EQ(::stat((fs::path(ca_dir) / "device-ca-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THAT(first.out + first.err, ::testing::Not(HasSubstr("PRIVATE KEY")));
  const std::string pem = ReadWholeFile(cert);
  EXPECT_THAT(pem, StartsWith("-----BEGIN CERTIFICATE-----"));

  auto second = RunTool({"sim", "apple-device-ca", "--device-ca-dir", ca_dir});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(ReadWholeFile(cert), pem);

  // Half a CA is refused rather than silently replaced.
  fs::remove(fs::path(ca_dir) / "device-ca-key.pem");
  auto half = RunTool({"sim", "apple-device-ca", "--device-ca-dir", ca_dir});
  EXPECT_EQ(half.exit_code, 1);
  EXPECT_THAT(half.err, HasSubstr("sim.bad_device_ca"));
}

TEST(SimAppleDeviceCli, DeviceUnknownToTheEngineIsRefused) {
  TempDir dir;
  ChildProcess dep;
  auto dep_url = dep.Start({"sim", "apple-dep", "--listen", "127.0.0.1:0"}, "listening on ");
  ASSERT_THAT(dep_url, IsOk());
  const std::string ca_dir = dir.Sub("device-ca");
  auto ca = RunTool({"sim", "apple-device-ca", "--device-ca-dir", ca_dir});
  ASSERT_EQ(ca.exit_code, 0) << ca.err;

  EngineProcess engine(dir.Sub("data"), {"--apple-dep-url", *dep_url, "--apple-device-ca",
                                         ca_dir + "/device-ca.pem"});
  ASSERT_THAT(engine.Start(), IsOk());
  const std::string url = "http://127.0.0.1:" + std::to_string(engine.port());
  auto device = RunTool({"sim", "apple-device", "--url", url, "--serial", "C02UNKNOWN01",
                         "--device-ca-dir", ca_dir});
  EXPECT_EQ(device.exit_code, 1) << device.out << device.err;
  EXPECT_THAT(device.out, HasSubstr("enroll: 403")) << device.err;
  EXPECT_THAT(device.out, ::testing::Not(HasSubstr("authenticate:")));
}

// The demo's flow: DEP account and devices through the control API, a profile
// and a user in the engine, then the device enrolls and acknowledges its commands.
TEST(SimAppleDeviceCli, AssignedDeviceEnrollsAndAcknowledgesItsCommands) {
  TempDir dir;
  ChildProcess dep;
  auto dep_url = dep.Start({"sim", "apple-dep", "--listen", "127.0.0.1:0"}, "listening on ");
  ASSERT_THAT(dep_url, IsOk());
  auto control = dep.ReadLine("control on ");
  ASSERT_THAT(control, IsOk());
  const int control_port = PortOf(*control);
  const std::string ca_dir = dir.Sub("device-ca");
  ASSERT_EQ(RunTool({"sim", "apple-device-ca", "--device-ca-dir", ca_dir}).exit_code, 0);
  EngineProcess engine(dir.Sub("data"), {"--apple-dep-url", *dep_url, "--apple-device-ca",
                                         ca_dir + "/device-ca.pem"});
  ASSERT_THAT(engine.Start(), IsOk());
  const std::string admin = engine.AdminToken();

  auto acc = engine.Post("/v1/dep/accounts", json{{"name", kServer}}.dump(), admin);
  ASSERT_EQ(acc.status, 201) << acc.body;
  const std::string account = acc.json["id"];
  auto cert = engine.Get("/v1/dep/accounts/" + account + "/certificate", admin);
  ASSERT_EQ(cert.status, 200);
  auto p7m = CallLoopback(control_port, "POST", "/sim/tokens",
                  json{{"certificate_pem", cert.body}, {"server_name", kServer}}.dump());
  ASSERT_EQ(p7m.status, 200) << p7m.body;
  auto added = CallLoopback(control_port, "POST", "/sim/devices",
                    json{{"server_name", kServer}, {"prefix", "C02FLOW"}, {"count", 1}}.dump());
  ASSERT_EQ(added.status, 201) << added.body;
  const std::string serial = added.json["serials"][0];
  auto up = engine.Send("PUT", "/v1/dep/accounts/" + account + "/token", p7m.body, admin,
                        "application/pkcs7-mime");
  ASSERT_EQ(up.status, 200) << up.body;
  ASSERT_TRUE(WaitFor([&] { return engine.Get("/v1/dep/devices/" + serial, admin).status == 200; },
                      std::chrono::seconds(30)));

  auto profile = engine.Post("/v1/dep/profiles",
                             json{{"account_id", account},
                                  {"profile_name", "Flow"},
                                  {"await_device_configured", true}}
                                 .dump(),
                             admin);
  ASSERT_EQ(profile.status, 201) << profile.body;
  ASSERT_EQ(engine.Post("/v1/users", json{{"username", "alice"}, {"role", "device_user"}}.dump(),
                        admin)
                .status,
            201);
  auto assigned = engine.Send("PATCH", "/v1/dep/devices/" + serial,
                              json{{"profile_id", profile.json["id"]}, {"user", "alice"}}.dump(),
                              admin, "application/json");
  ASSERT_EQ(assigned.status, 200) << assigned.body;
  ASSERT_TRUE(WaitFor([&] {
    return engine.Get("/v1/dep/devices/" + serial, admin).json.value("profile_status", "") ==
           "assigned";
  }, std::chrono::seconds(30))) << engine.Get("/v1/dep/devices/" + serial, admin).body;

  const std::string url = "http://127.0.0.1:" + std::to_string(engine.port());
  auto device = RunTool({"sim", "apple-device", "--url", url, "--serial", serial,
                         "--device-ca-dir", ca_dir, "--await-configured"});
  EXPECT_EQ(device.exit_code, 0) << device.out << device.err;
  EXPECT_THAT(device.out, HasSubstr("enroll: 200\n"));
  EXPECT_THAT(device.out, HasSubstr("authenticate: 200\n"));
  EXPECT_THAT(device.out, HasSubstr("token-update: 200\n"));
  EXPECT_THAT(device.out, HasSubstr("command: InstallApplication "));
  EXPECT_THAT(device.out, HasSubstr("command: DeviceConfigured "));
  EXPECT_THAT(device.out, HasSubstr("done: 2 commands\n"));
}

}  // namespace
}  // namespace ae::testing
