// `autoenroll sim knox` end to end: the Knox Cloud API simulator as a process, set up
// through its control API and used by the real KnoxClientImpl over loopback HTTP.

#include <set>

#include "adapters/samsung_knox/identifiers.h"
#include "adapters/samsung_knox/knox_client.h"
#include "events/base/clock.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class SimKnoxCli : public ::testing::Test {
 protected:
  void SetUp() override {
    auto api = sim_.Start({"sim", "knox", "--listen", "127.0.0.1:0"}, "listening on ");
    ASSERT_THAT(api, IsOk());
    api_url_ = *api;
    auto control = sim_.ReadLine("control on ");
    ASSERT_THAT(control, IsOk());
    ASSERT_THAT(*control, StartsWith("http://127.0.0.1:"));
    ASSERT_THAT(api_url_, StartsWith("http://127.0.0.1:"));
    control_port_ = PortOf(*control);
    ASSERT_NE(PortOf(api_url_), control_port_);
  }

  HttpAnswer Control(const std::string& method, const std::string& path, const json& body = {}) {
    return CallLoopback(control_port_, method, path, body.is_null() ? "" : body.dump());
  }

  // A client for credentials issued through the control API.
  std::unique_ptr<knox::KnoxClientImpl> Client() {
    auto c = Control("POST", "/sim/credentials", {{"scopes", "kme"}});
    EXPECT_EQ(c.status, 201) << c.body;
    knox::KnoxClientOptions o;
    o.base_url = c.json.value("api_url", "");
    o.token_url = c.json.value("token_url", "");
    o.credential_public_key = c.json.value("credential_public_key", "");
    o.retry = {.base_ms = 10, .max_ms = 100, .deadline_ms = 10'000};
    EXPECT_EQ(o.base_url, api_url_);
    auto client = knox::KnoxClientImpl::Create(
        o, {c.json.value("client_id", ""), c.json.value("client_secret", "")}, Clock::Real(),
        http::Sleeper::Real(), http::Random::Real());
    EXPECT_THAT(client, IsOk());
    return client.ok() ? std::move(client).value() : nullptr;
  }

  ChildProcess sim_;
  std::string api_url_;
  int control_port_ = 0;
};

TEST_F(SimKnoxCli, AResellerUploadIsApprovedListedAndAssignedThroughTheApi) {
  auto client = Client();
  ASSERT_NE(client, nullptr);
  auto profile = Control("POST", "/sim/profiles", {{"name", "Corp DO"}});
  ASSERT_EQ(profile.status, 201) << profile.body;
  const std::string profile_id = profile.json["id"];
  auto up = Control("POST", "/sim/devices", {{"count", 250}, {"prefix", "E2"}});
  ASSERT_EQ(up.status, 201) << up.body;
  EXPECT_EQ(up.json["status"], "Pending");
  ASSERT_EQ(up.json["devices"].size(), 250u);
  for (const json& d : up.json["devices"]) {
    EXPECT_TRUE(kme::IsLuhnValid(d["imei"].get<std::string>())) << d.dump();
    EXPECT_FALSE(d["serial"].get<std::string>().empty());
  }
  const std::string upload_id = up.json["upload_id"];

  auto uploads = client->ListUploads(0, 100);
  ASSERT_THAT(uploads, IsOk());
  ASSERT_EQ(uploads->uploads.size(), 1u);
  EXPECT_TRUE(uploads->uploads[0].pending);
  auto approved = client->ApproveUploads({upload_id});
  ASSERT_THAT(approved, IsOk());
  EXPECT_EQ(approved->at(upload_id).outcome, knox::DeviceOutcome::kSuccess);

  std::set<std::string> ids;
  ASSERT_THAT(client->ForEachDevicePage({.page_size = 100},
                                        [&](const knox::DevicePage& page) -> Status {
                                          for (const auto& d : page.devices) ids.insert(d.id);
                                          return Status::Ok();
                                        }),
              IsOk());
  EXPECT_EQ(ids.size(), 250u);

  const std::string imei0 = up.json["devices"][0]["imei"];
  const std::string imei1 = up.json["devices"][1]["imei"];
  ASSERT_EQ(Control("POST", "/sim/devices/" + imei1 + "/outcome", {{"outcome", "FAILED"}}).status, 200);
  auto assigned = client->AssignProfile(profile_id, {{imei0, "ann@example.com", "pw-1"},
                                                     {.device_id = imei1}});
  ASSERT_THAT(assigned, IsOk());
  EXPECT_EQ(assigned->at(imei0).outcome, knox::DeviceOutcome::kSuccess);
  EXPECT_EQ(assigned->at(imei1).outcome, knox::DeviceOutcome::kFailed);

  auto state = Control("POST", "/sim/devices/" + imei0 + "/state", {{"state", "Enrolled"}});
  ASSERT_EQ(state.status, 200) << state.body;
  auto device = Control("GET", "/sim/devices/" + imei0);
  ASSERT_EQ(device.status, 200) << device.body;
  EXPECT_EQ(device.json["state"], "Enrolled");
  EXPECT_EQ(device.json["status"], "ENROLLED");
  EXPECT_EQ(device.json["profileId"], profile_id);
  EXPECT_EQ(device.json["userName"], "ann@example.com");
  EXPECT_EQ(Control("GET", "/sim/devices/" + std::string(up.json["devices"][1]["serial"])).json["state"],
            "Failed to assign");
}

TEST_F(SimKnoxCli, FaultsAndExpiredTokensAreAbsorbedByTheClient) {
  auto client = Client();
  ASSERT_NE(client, nullptr);
  ASSERT_THAT(client->ListDevices({}), IsOk());
  auto fault = Control("POST", "/sim/faults",
                       {{"path", knox::kDevicesListPath}, {"count", 1}, {"status", 503},
                        {"retry_after", 0}});
  ASSERT_EQ(fault.status, 200) << fault.body;
  ASSERT_EQ(Control("POST", "/sim/tokens/expire").status, 200);
  ASSERT_THAT(client->ListDevices({}), IsOk());
  // Without a token the API answers Samsung's error shape.
  auto anonymous = CallLoopback(PortOf(api_url_), "GET", knox::kDevicesListPath);
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.json["message"], "AUTHORIZATION_FAIL");
}

TEST_F(SimKnoxCli, RejectsBadRequestsWithJsonErrors) {
  auto zero = Control("POST", "/sim/devices", {{"count", 0}});
  EXPECT_EQ(zero.status, 400);
  EXPECT_EQ(zero.json["error"]["code"], "sim.bad_request");
  EXPECT_EQ(zero.json["error"]["field"], "count");
  auto unknown = Control("GET", "/sim/devices/R58NOPE00001");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.json["error"]["code"], "sim.unknown_device");
  auto outcome = Control("POST", "/sim/devices/x/outcome", {{"outcome", "MAYBE"}});
  EXPECT_EQ(outcome.status, 400);
  auto dup = Control("POST", "/sim/profiles", {{"name", "P"}});
  EXPECT_EQ(dup.status, 201);
  EXPECT_EQ(Control("POST", "/sim/profiles", {{"name", "p"}}).status, 409);
  auto bad_json = CallLoopback(control_port_, "POST", "/sim/faults", "{not json");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(bad_json.json["error"]["code"], "sim.bad_json");
  auto no_route = Control("GET", "/sim/nothing");
  EXPECT_EQ(no_route.status, 404);
}

TEST_F(SimKnoxCli, StopsCleanlyOnSigterm) { EXPECT_EQ(sim_.Stop(SIGTERM), 0); }

TEST(SimKnoxCliUsage, RefusesNonLoopbackAddresses) {
  auto r = RunTool({"sim", "knox", "--listen", "0.0.0.0:0"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("127.0.0.1"));
}

}  // namespace
}  // namespace ae::testing
