// KnoxClientImpl against KnoxSimulator over real HTTP on 127.0.0.1.
//
// Time is one ManualClock shared by the client, its retry sleeper and the simulator:
// token lifetimes, backoffs and Retry-After waits advance it instead of sleeping, so the
// tests are deterministic and fast, and "how long did the client wait" is exact.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <sstream>
#include <thread>

#include "adapters/samsung_knox/identifiers.h"
#include "adapters/samsung_knox/knox_client.h"
#include "adapters/simulators/knox_simulator.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"
#include "tests/support/test_support.h"

namespace ae::knox {
namespace {

using nlohmann::json;
using sim::KnoxSimulator;
using sim::KnoxSimulatorOptions;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Le;

constexpr int64_t kStart = 1'700'000'000'000;

class KnoxClientTest : public ::testing::Test {
 protected:
  void SetUp() override { StartSimulator({}); }

  void StartSimulator(KnoxSimulatorOptions options) {
    client_.reset();
    sim_.reset();
    options.clock = &clock_;
    sim_ = std::make_unique<KnoxSimulator>(options);
    issued_ = sim_->IssueCredentials();
    client_ = MakeClient(Options());
  }

  KnoxClientOptions Options() const {
    KnoxClientOptions o;
    o.base_url = sim_->base_url();
    o.token_url = sim_->token_url();
    o.credential_public_key = sim_->CredentialPublicKey();
    o.user_agent = "autoenroll-test/1.0";
    o.retry = {.base_ms = 1'000, .max_ms = 8'000, .deadline_ms = 60'000};
    return o;
  }

  std::unique_ptr<KnoxClientImpl> MakeClient(KnoxClientOptions options,
                                             std::optional<KnoxCredentials> creds = {}) {
    auto c = KnoxClientImpl::Create(
        std::move(options), creds.value_or(KnoxCredentials{issued_.client_id, issued_.client_secret}),
        clock_, sleeper_, random_);
    EXPECT_THAT(c, IsOk());
    return c.ok() ? std::move(c).value() : nullptr;
  }

  // A reseller upload of `n` devices, approved unless `approve` is false.
  std::vector<sim::KnoxSimDevice> Upload(std::string_view prefix, size_t n, bool approve = true,
                                         std::string* upload_id = nullptr) {
    auto devices = KnoxSimulator::MakeDevices(prefix, n);
    auto up = sim_->AddResellerUpload(devices, {.auto_approve = approve});
    EXPECT_THAT(up, IsOk());
    if (upload_id != nullptr && up.ok()) *upload_id = up->upload_id;
    return devices;
  }

  std::string Profile(std::string_view name = "Corp DO") {
    auto id = sim_->AddProfile(name);
    EXPECT_THAT(id, IsOk());
    return id.ok() ? *id : "";
  }

  size_t TokenRequests() const { return sim_->CountRequests("POST", kOAuthTokenPath); }

  std::vector<sim::KnoxRecordedRequest> RequestsTo(std::string_view path) const {
    std::vector<sim::KnoxRecordedRequest> out;
    for (auto& r : sim_->Requests()) {
      if (r.path == path) out.push_back(r);
    }
    return out;
  }

  ManualClock clock_{kStart};
  http::ManualSleeper sleeper_{clock_};
  http::FixedRandom random_{0.5};
  std::unique_ptr<KnoxSimulator> sim_;
  sim::KnoxIssuedCredentials issued_;
  std::unique_ptr<KnoxClientImpl> client_;
};

// ---- authentication -----------------------------------------------------------------------

TEST_F(KnoxClientTest, AcquiresOneOAuthTokenAndReusesIt) {
  Upload("TK", 3);
  for (int i = 0; i < 4; ++i) ASSERT_THAT(client_->ListDevices({}), IsOk());
  ASSERT_THAT(client_->ListProfiles(0, 10), IsOk());
  EXPECT_EQ(TokenRequests(), 1u);
  auto token = RequestsTo(kOAuthTokenPath);
  ASSERT_EQ(token.size(), 1u);
  EXPECT_EQ(token[0].headers.find("Content-Type")->second, "application/x-www-form-urlencoded");
  EXPECT_NE(token[0].body.find("grant_type=client_credentials"), std::string::npos);
  EXPECT_NE(token[0].body.find("client_id=" + issued_.client_id), std::string::npos);
  EXPECT_NE(token[0].body.find("scope=kme"), std::string::npos);
  std::set<std::string> bearers;
  for (const auto& r : sim_->Requests()) {
    if (r.path == kOAuthTokenPath) continue;
    EXPECT_EQ(r.status, 200) << r.path;
    EXPECT_EQ(r.headers.find("User-Agent")->second, "autoenroll-test/1.0");
    bearers.insert(r.headers.find("Authorization")->second);
  }
  ASSERT_EQ(bearers.size(), 1u);
  EXPECT_EQ(bearers.begin()->rfind("Bearer ", 0), 0u);
  EXPECT_TRUE(client_->HasTokenForTest());
}

TEST_F(KnoxClientTest, RenewsTheTokenBeforeItExpires) {
  ASSERT_THAT(client_->ListDevices({}), IsOk());
  clock_.Advance(599'000 - 60'000 - 1);  // still inside the token's life minus the margin
  ASSERT_THAT(client_->ListDevices({}), IsOk());
  EXPECT_EQ(TokenRequests(), 1u);
  clock_.Advance(2);  // inside the renewal margin: a new token, no 401 on the way
  ASSERT_THAT(client_->ListDevices({}), IsOk());
  EXPECT_EQ(TokenRequests(), 2u);
  for (const auto& r : sim_->Requests()) EXPECT_EQ(r.status, 200) << r.path;
}

TEST_F(KnoxClientTest, ExpiredTokenIsRefreshedOnceAndTheCallReplayed) {
  Upload("EX", 2);
  const std::string profile = Profile();
  ASSERT_THAT(client_->ListDevices({}), IsOk());
  sim_->ExpireTokens();
  auto assigned = client_->AssignProfile(profile, {{.device_id = KnoxSimulator::MakeDevices("EX", 1)[0].imei}});
  ASSERT_THAT(assigned, IsOk());
  EXPECT_EQ(TokenRequests(), 2u);
  auto puts = RequestsTo(kAssignProfilePath);
  ASSERT_EQ(puts.size(), 2u);
  EXPECT_EQ(puts[0].status, 401);
  EXPECT_EQ(puts[1].status, 200);
  EXPECT_EQ(puts[0].body, puts[1].body);
  EXPECT_NE(puts[0].headers.find("Authorization")->second,
            puts[1].headers.find("Authorization")->second);
  EXPECT_TRUE(sleeper_.Sleeps().empty()) << "a refresh is not a backoff";
}

TEST_F(KnoxClientTest, RevokedCredentialsAreUnauthorizedWithoutRetry) {
  ASSERT_THAT(client_->ListDevices({}), IsOk());
  ASSERT_THAT(sim_->RevokeCredentials(issued_.client_id), IsOk());
  EXPECT_THAT(client_->ListDevices({}), StatusIs(StatusCode::kUnauthenticated, kUnauthorized));
  EXPECT_EQ(TokenRequests(), 2u);
  EXPECT_EQ(sim_->CountRequests("GET", kDevicesListPath), 2u);
  EXPECT_TRUE(sleeper_.Sleeps().empty());
  // A wrong secret never gets a token.
  auto forged = MakeClient(Options(), KnoxCredentials{issued_.client_id, "not-the-secret"});
  EXPECT_THAT(forged->ListDevices({}), StatusIs(StatusCode::kUnauthenticated, kUnauthorized));
}

TEST_F(KnoxClientTest, ATokenThatKeepsBeingRefusedIsUnauthorizedAfterOneRefresh) {
  ASSERT_THAT(client_->ListDevices({}), IsOk());
  // Samsung answers 401 twice in a row: refresh once, then give up.
  sim_->InjectFailure(kDevicesListPath, 2, 401);
  EXPECT_THAT(client_->ListDevices({}), StatusIs(StatusCode::kUnauthenticated, kUnauthorized));
  EXPECT_EQ(TokenRequests(), 2u);
  EXPECT_EQ(sim_->CountRequests("GET", kDevicesListPath), 3u);
}

TEST_F(KnoxClientTest, MissingScopesAreForbidden) {
  sim::KnoxIssuedCredentials viewer = sim_->IssueCredentials("", {"kme.devices:view"});
  KnoxClientOptions o = Options();
  o.scope = "kme.devices:view";
  auto client = MakeClient(o, KnoxCredentials{viewer.client_id, viewer.client_secret});
  ASSERT_THAT(client->ListDevices({}), IsOk());
  EXPECT_THAT(client->UnassignProfile({"R58TEST00001"}),
              StatusIs(StatusCode::kPermissionDenied, kForbidden));
  EXPECT_THAT(client->ListProfiles(0, 10), StatusIs(StatusCode::kPermissionDenied, kForbidden));
  // Asking the token endpoint for more than the app was granted.
  o.scope = "kme";
  auto greedy = MakeClient(o, KnoxCredentials{viewer.client_id, viewer.client_secret});
  EXPECT_THAT(greedy->ListDevices({}), StatusIs(StatusCode::kPermissionDenied, kForbidden));
  EXPECT_TRUE(sleeper_.Sleeps().empty());
}

TEST_F(KnoxClientTest, ACustomerIdOfAnotherTenantIsRejected) {
  KnoxClientOptions o = Options();
  o.customer_id = sim_->default_customer_id();
  auto same = MakeClient(o);
  ASSERT_THAT(same->ListDevices({}), IsOk());
  EXPECT_EQ(RequestsTo(kDevicesListPath).back().params.find("customerId")->second,
            sim_->default_customer_id());
  o.customer_id = "9999999999";
  auto other = MakeClient(o);
  EXPECT_THAT(other->ListDevices({}), StatusIs(StatusCode::kInvalidArgument, kTenantMismatch));
  o.managed_tenant_id = "5550001";
  o.customer_id.clear();
  auto msp = MakeClient(o);
  ASSERT_THAT(msp->ListDevices({}), IsOk());
  EXPECT_EQ(RequestsTo(kDevicesListPath).back().headers.find("x-wsm-managed-tenantid")->second,
            "5550001");
}

// ---- devices ------------------------------------------------------------------------------

TEST_F(KnoxClientTest, Paging5000DevicesReturnsEachExactlyOnce) {
  auto uploaded = Upload("PG", 5'000);
  std::multiset<std::string> ids;
  std::set<std::string> imeis;
  int pages = 0;
  ASSERT_THAT(client_->ForEachDevicePage({.page_size = 100},
                                         [&](const DevicePage& page) -> Status {
                                           ++pages;
                                           EXPECT_EQ(page.total_count, 5'000);
                                           EXPECT_EQ(page.devices.size(), 100u);
                                           for (const Device& d : page.devices) {
                                             ids.insert(d.id);
                                             imeis.insert(d.imei);
                                           }
                                           return Status::Ok();
                                         }),
              IsOk());
  EXPECT_EQ(pages, 50);
  EXPECT_EQ(ids.size(), 5'000u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 5'000u);
  ASSERT_EQ(imeis.size(), 5'000u);
  for (const auto& d : uploaded) EXPECT_EQ(imeis.count(d.imei), 1u) << d.imei;
  for (const auto& r : RequestsTo(kDevicesListPath)) {
    EXPECT_EQ(r.params.find("pageSize")->second, "100");
  }
  EXPECT_EQ(RequestsTo(kDevicesListPath).back().params.find("pageNum")->second, "49");
}

TEST_F(KnoxClientTest, DevicesCarryIdentifiersStatusProfileAndReseller) {
  auto devices = KnoxSimulator::MakeDevices("ID", 2);
  devices[1].imei2 = KnoxSimulator::MakeDevices("I2", 1)[0].imei;
  ASSERT_THAT(sim_->AddResellerUpload(devices, {.reseller_id = "2009",
                                                .reseller_name = "Acme Mobile",
                                                .auto_approve = true}),
              IsOk());
  const std::string profile = Profile("Corp DO");
  clock_.Advance(1'000);
  ASSERT_THAT(client_->AssignProfile(profile, {{.device_id = devices[0].serial}}), IsOk());
  auto page = client_->ListDevices({});
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->devices.size(), 2u);
  // Most recently updated first (§8).
  const Device& a = page->devices[0];
  EXPECT_EQ(a.imei, devices[0].imei);
  EXPECT_TRUE(kme::IsLuhnValid(a.imei));
  EXPECT_EQ(a.serial, devices[0].serial);
  EXPECT_EQ(a.model, devices[0].model);
  EXPECT_EQ(a.state, KmeDeviceStatus::kProfileAssigned);
  EXPECT_EQ(a.state_raw, "Profile assigned");
  EXPECT_EQ(a.profile_id, profile);
  EXPECT_EQ(a.profile_name, "Corp DO");
  EXPECT_EQ(a.reseller_id, "2009");
  EXPECT_EQ(a.reseller_name, "Acme Mobile");
  EXPECT_FALSE(a.upload_id.empty());
  EXPECT_EQ(a.create_time_ms, kStart);
  const Device& b = page->devices[1];
  EXPECT_EQ(b.state, KmeDeviceStatus::kUnassigned);
  EXPECT_EQ(b.imei2, devices[1].imei2);
  EXPECT_TRUE(b.profile_id.empty());
}

TEST_F(KnoxClientTest, ChangedAfterListsOnlyDevicesChangedSince) {
  auto devices = Upload("CA", 10);
  const std::string profile = Profile();
  clock_.Advance(60'000);
  const int64_t since = clock_.NowMs() - 1;
  ASSERT_THAT(client_->AssignProfile(profile, {{.device_id = devices[3].imei},
                                               {.device_id = devices[7].imei}}),
              IsOk());
  ASSERT_THAT(sim_->SetDeviceState(devices[5].serial, "Provisioned"), IsOk());
  auto page = client_->ListDevices({.changed_after_ms = since});
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(page->total_count, 3);
  std::set<std::string> imeis;
  for (const Device& d : page->devices) imeis.insert(d.imei);
  EXPECT_EQ(imeis, (std::set<std::string>{devices[3].imei, devices[5].imei, devices[7].imei}));
  EXPECT_EQ(sim_->DeviceState(devices[5].imei)->state, KmeDeviceStatus::kEnrolled);
}

TEST_F(KnoxClientTest, PendingUploadsAreApprovedThroughTheApi) {
  std::string upload_id;
  auto devices = Upload("UP", 4, /*approve=*/false, &upload_id);
  auto before = client_->ListDevices({});
  ASSERT_THAT(before, IsOk());
  EXPECT_EQ(before->total_count, 0) << "PENDING devices are not listed";
  EXPECT_EQ(sim_->DeviceState(devices[0].imei)->state, KmeDeviceStatus::kPending);
  // A pending device cannot take a profile.
  const std::string profile = Profile();
  auto early = client_->AssignProfile(profile, {{.device_id = devices[0].imei}});
  ASSERT_THAT(early, IsOk());
  EXPECT_EQ(early->at(devices[0].imei).outcome, DeviceOutcome::kFailed);

  auto uploads = client_->ListUploads(0, 10);
  ASSERT_THAT(uploads, IsOk());
  ASSERT_EQ(uploads->uploads.size(), 1u);
  EXPECT_EQ(uploads->uploads[0].upload_id, upload_id);
  EXPECT_TRUE(uploads->uploads[0].pending);
  EXPECT_EQ(uploads->uploads[0].device_count, 4);
  EXPECT_EQ(uploads->uploads[0].reseller_name, "Example Reseller");

  auto approved = client_->ApproveUploads({upload_id, "UP-unknown"});
  ASSERT_THAT(approved, IsOk());
  EXPECT_EQ(approved->at(upload_id).outcome, DeviceOutcome::kSuccess);
  EXPECT_EQ(approved->at("UP-unknown").outcome, DeviceOutcome::kNotFound);
  EXPECT_EQ(sim_->UploadStatus(upload_id), "Approved");
  auto after = client_->ListDevices({});
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->total_count, 4);
  for (const Device& d : after->devices) EXPECT_EQ(d.state, KmeDeviceStatus::kUnassigned);
  // Approving again is harmless.
  auto again = client_->ApproveUploads({upload_id});
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->at(upload_id).outcome, DeviceOutcome::kSuccess);
  EXPECT_THAT(client_->ApproveUploads({}), StatusIs(StatusCode::kInvalidArgument, kInvalidParam));
}

TEST_F(KnoxClientTest, AssignAndClearReportEveryDevicesOutcome) {
  auto devices = Upload("AS", 3);
  auto pending = Upload("PE", 1, /*approve=*/false);
  const std::string profile = Profile();
  sim_->SetDeviceOutcome(devices[1].serial, "FAILED");
  const std::string unknown = "R58ZZZ999999";
  auto assigned = client_->AssignProfile(profile, {{.device_id = devices[0].imei},
                                                   {.device_id = devices[1].imei},
                                                   {.device_id = pending[0].serial},
                                                   {.device_id = unknown}});
  ASSERT_THAT(assigned, IsOk()) << "per-device failures are not a call failure";
  EXPECT_EQ(assigned->at(devices[0].imei).outcome, DeviceOutcome::kSuccess);
  EXPECT_EQ(assigned->at(devices[1].imei).outcome, DeviceOutcome::kFailed);
  EXPECT_EQ(assigned->at(pending[0].serial).outcome, DeviceOutcome::kFailed);
  EXPECT_EQ(assigned->at(unknown).outcome, DeviceOutcome::kNotFound);
  EXPECT_EQ(sim_->DeviceState(devices[0].imei)->state, KmeDeviceStatus::kProfileAssigned);
  EXPECT_EQ(sim_->DeviceState(devices[1].imei)->state, KmeDeviceStatus::kAssignFailed);
  EXPECT_EQ(sim_->DeviceState(pending[0].imei)->state, KmeDeviceStatus::kPending);

  // Repeating the assignment changes nothing.
  const int64_t updated = *sim_->DeviceState(devices[0].imei)->update_time_ms;
  clock_.Advance(1'000);
  auto repeat = client_->AssignProfile(profile, {{.device_id = devices[0].imei}});
  ASSERT_THAT(repeat, IsOk());
  EXPECT_EQ(repeat->at(devices[0].imei).outcome, DeviceOutcome::kSuccess);
  EXPECT_EQ(*sim_->DeviceState(devices[0].imei)->update_time_ms, updated);

  ASSERT_THAT(client_->AssignProfile(profile, {{.device_id = devices[2].serial}}), IsOk());
  sim_->SetDeviceOutcome(devices[2].imei, "FAILED");
  auto cleared = client_->UnassignProfile(
      {devices[0].serial, devices[2].serial, unknown, "not an id!", devices[0].serial});
  ASSERT_THAT(cleared, IsOk());
  EXPECT_EQ(cleared->size(), 4u) << "duplicates are sent once";
  EXPECT_EQ(cleared->at(devices[0].serial).outcome, DeviceOutcome::kSuccess);
  EXPECT_EQ(cleared->at(devices[2].serial).outcome, DeviceOutcome::kFailed);
  EXPECT_EQ(cleared->at(unknown).outcome, DeviceOutcome::kNotFound);
  EXPECT_EQ(cleared->at("not an id!").outcome, DeviceOutcome::kInvalid);
  auto a = sim_->DeviceState(devices[0].imei);
  EXPECT_EQ(a->state, KmeDeviceStatus::kUnassigned);
  EXPECT_TRUE(a->profile_id.empty());
  EXPECT_EQ(sim_->DeviceState(devices[2].imei)->state, KmeDeviceStatus::kProfileAssigned);
  auto posts = RequestsTo(kUnassignProfilePath);
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].method, "POST");
  EXPECT_TRUE(sleeper_.Sleeps().empty()) << "per-device failures are not retried";
  EXPECT_THAT(client_->UnassignProfile({}), StatusIs(StatusCode::kInvalidArgument, kInvalidParam));
  EXPECT_THAT(client_->AssignProfile(profile, {}),
              StatusIs(StatusCode::kInvalidArgument, kInvalidParam));
}

TEST_F(KnoxClientTest, AssignSendsCredentialsEncryptedWithTheConfiguredKey) {
  auto devices = Upload("CR", 2);
  const std::string profile = Profile();
  auto r = client_->AssignProfile(profile,
                                  {{devices[0].imei, "alex_doe@example.com", "one-time-Secret-1"},
                                   {.device_id = devices[1].imei}});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->at(devices[0].imei).outcome, DeviceOutcome::kSuccess);
  EXPECT_EQ(sim_->DeviceState(devices[0].imei)->user_name, "alex_doe@example.com");
  auto put = RequestsTo(kAssignProfilePath);
  ASSERT_EQ(put.size(), 1u);
  EXPECT_EQ(put[0].body.find("one-time-Secret-1"), std::string::npos);
  EXPECT_EQ(put[0].body.find("alex_doe"), std::string::npos);
  json body = json::parse(put[0].body);
  EXPECT_EQ(body["profileId"], profile);
  EXPECT_TRUE(body["devices"][0]["userToken"].is_string());
  EXPECT_FALSE(body["devices"][1].contains("userToken"));

  // Samsung's production key is not the simulator's: RSA_DECRYPTION_FAIL, never retried.
  KnoxClientOptions o = Options();
  o.credential_public_key = kSamsungCredentialKey;
  auto wrong_key = MakeClient(o);
  EXPECT_THAT(wrong_key->AssignProfile(profile, {{devices[1].imei, "u", "p"}}),
              StatusIs(StatusCode::kFailedPrecondition, kRsaDecryptionFail));
  EXPECT_EQ(RequestsTo(kAssignProfilePath).size(), 2u);
  EXPECT_TRUE(sleeper_.Sleeps().empty());
  EXPECT_THAT(client_->AssignProfile(profile, {{devices[1].imei, std::string(300, 'u'), ""}}),
              StatusIs(StatusCode::kInvalidArgument, "knox.credential_too_long"));
}

TEST_F(KnoxClientTest, LongDeviceListsAreSplitIntoCallsOf1000) {
  auto devices = Upload("BT", 2'100);
  const std::string profile = Profile();
  std::vector<AssignDevice> assign;
  std::vector<std::string> ids;
  for (const auto& d : devices) {
    assign.push_back({.device_id = d.imei});
    ids.push_back(d.serial);
  }
  auto assigned = client_->AssignProfile(profile, assign);
  ASSERT_THAT(assigned, IsOk());
  EXPECT_EQ(assigned->size(), 2'100u);
  for (const auto& [id, r] : *assigned) EXPECT_EQ(r.outcome, DeviceOutcome::kSuccess) << id;
  auto cleared = client_->UnassignProfile(ids);
  ASSERT_THAT(cleared, IsOk());
  EXPECT_EQ(cleared->size(), 2'100u);
  std::vector<size_t> sizes;
  for (const auto& r : RequestsTo(kAssignProfilePath)) {
    sizes.push_back(json::parse(r.body)["devices"].size());
  }
  EXPECT_THAT(sizes, ElementsAre(1'000, 1'000, 100));
  sizes.clear();
  for (const auto& r : RequestsTo(kUnassignProfilePath)) {
    sizes.push_back(json::parse(r.body)["deviceIds"].size());
  }
  EXPECT_THAT(sizes, ElementsAre(1'000, 1'000, 100));
}

TEST_F(KnoxClientTest, SamsungsOwnLimitAndUnknownProfileComeBackWithTheirCodes) {
  StartSimulator({.max_devices_per_call = 500});
  auto devices = Upload("LM", 600);
  const std::string profile = Profile();
  std::vector<std::string> ids;
  for (const auto& d : devices) ids.push_back(d.imei);
  EXPECT_THAT(client_->UnassignProfile(ids),
              StatusIs(StatusCode::kInvalidArgument, kTooManyDevices));
  KnoxClientOptions o = Options();
  o.max_devices_per_call = 500;
  auto small = MakeClient(o);
  ASSERT_THAT(small->UnassignProfile(ids), IsOk());
  EXPECT_THAT(client_->AssignProfile("424242", {{.device_id = ids[0]}}),
              StatusIs(StatusCode::kNotFound, kProfileNotFound));
  EXPECT_TRUE(sleeper_.Sleeps().empty());
}

TEST_F(KnoxClientTest, UnassignFallsBackToPutWhenPostIsRefused) {
  StartSimulator({.unassign_v2_accept_post = false});
  auto devices = Upload("PU", 1);
  for (int i = 0; i < 2; ++i) {
    auto r = client_->UnassignProfile({devices[0].imei});
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->at(devices[0].imei).outcome, DeviceOutcome::kSuccess);
  }
  EXPECT_EQ(sim_->CountRequests("POST", kUnassignProfilePath), 1u);
  EXPECT_EQ(sim_->CountRequests("PUT", kUnassignProfilePath), 2u);
}

TEST_F(KnoxClientTest, DeleteTreatsAlreadyDeletedAsNotFound) {
  auto devices = Upload("DL", 2);
  auto deleted = client_->DeleteDevices({devices[0].serial, "R58GONE00001"});
  ASSERT_THAT(deleted, IsOk());
  EXPECT_EQ(deleted->at(devices[0].serial).outcome, DeviceOutcome::kSuccess);
  EXPECT_EQ(deleted->at("R58GONE00001").outcome, DeviceOutcome::kNotFound);
  EXPECT_FALSE(sim_->DeviceState(devices[0].imei).has_value());
  auto again = client_->DeleteDevices({devices[0].serial});
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->at(devices[0].serial).outcome, DeviceOutcome::kNotFound);
  auto page = client_->ListDevices({});
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(page->total_count, 1);
  json body = json::parse(RequestsTo(kDeleteDevicesPath)[0].body);
  EXPECT_EQ(body["devices"]["imeiOrSerials"].size(), 2u);
}

TEST_F(KnoxClientTest, ListsProfiles) {
  const std::string a = Profile("Corp DO");
  const std::string b = Profile("Kiosk");
  EXPECT_THAT(sim_->AddProfile("corp do"), StatusIs(StatusCode::kAlreadyExists, "sim.profile_exists"));
  auto page = client_->ListProfiles(0, 100);
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(page->total_count, 2);
  ASSERT_EQ(page->profiles.size(), 2u);
  EXPECT_EQ(page->profiles[0].id, a);
  EXPECT_EQ(page->profiles[0].name, "Corp DO");
  EXPECT_EQ(page->profiles[1].id, b);
  EXPECT_EQ(page->profiles[0].extra["doEnabled"], true);
}

// ---- retries --------------------------------------------------------------------------------

TEST_F(KnoxClientTest, Retries429AfterRetryAfterThenSucceeds) {
  ASSERT_THAT(client_->ListDevices({}), IsOk());
  sim_->InjectFailure(kDevicesListPath, 1, 429, "3");
  ASSERT_THAT(client_->ListDevices({}), IsOk());
  EXPECT_THAT(sleeper_.Sleeps(), ElementsAre(3'000));
  EXPECT_EQ(sim_->CountRequests("GET", kDevicesListPath), 3u);
}

TEST_F(KnoxClientTest, A429StormEndsRateLimited) {
  ASSERT_THAT(client_->ListDevices({}), IsOk());
  sim_->InjectFailure(kDevicesListPath, 1'000'000, 429, "10");
  const int64_t start = clock_.NowMs();
  EXPECT_THAT(client_->ListDevices({}), StatusIs(StatusCode::kUnavailable, kRateLimited));
  EXPECT_LE(clock_.NowMs() - start, 60'000);
  EXPECT_THAT(sleeper_.Sleeps(), Each(10'000));
  // A Retry-After beyond the deadline gives up at once.
  sim_->ClearFailures();
  sim_->InjectFailure(kDevicesListPath, 1, 429, "3600");
  const size_t slept = sleeper_.Sleeps().size();
  EXPECT_THAT(client_->ListDevices({}), StatusIs(StatusCode::kUnavailable, kRateLimited));
  EXPECT_EQ(sleeper_.Sleeps().size(), slept);
}

TEST_F(KnoxClientTest, A503StormEndsUnavailableWithinTheDeadline) {
  ASSERT_THAT(client_->ListDevices({}), IsOk());
  sim_->InjectFailure(kDevicesListPath, 1'000'000, 503, "5");
  const int64_t start = clock_.NowMs();
  EXPECT_THAT(client_->ListDevices({}), StatusIs(StatusCode::kUnavailable, kKnoxUnavailable));
  EXPECT_LE(clock_.NowMs() - start, 60'000);
  EXPECT_THAT(sleeper_.Sleeps(), Each(5'000));
  // Attempts at 0, 5, ..., 60 s: the next wait would cross the 60 s deadline.
  EXPECT_EQ(sim_->CountRequests("GET", kDevicesListPath), 1u + 13u);
}

TEST_F(KnoxClientTest, TheTokenEndpointIsRetriedToo) {
  sim_->InjectFailure(kOAuthTokenPath, 2, 503, "2");
  ASSERT_THAT(client_->ListDevices({}), IsOk());
  EXPECT_THAT(sleeper_.Sleeps(), ElementsAre(2'000, 2'000));
  EXPECT_EQ(TokenRequests(), 3u);
}

TEST_F(KnoxClientTest, TransportErrorsAreRetriedWithJitteredBackoff) {
  // A port that is bound but not listening: every connect is refused.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  KnoxClientOptions o = Options();
  o.base_url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto client = MakeClient(o);
  auto page = client->ListDevices({});
  ::close(fd);
  EXPECT_THAT(page, StatusIs(StatusCode::kUnavailable, kKnoxUnavailable));
  EXPECT_NE(page.status().message().find("GET /kcs/v1/kme/devices/list"), std::string::npos);
  EXPECT_THAT(sleeper_.Sleeps(), Each(Le(8'000)));
  // Equal jitter at 0.5: 750, 1500, 3000, 6000, then 6000 each until the 60 s deadline.
  EXPECT_EQ(sleeper_.TotalMs(), 59'250);
  EXPECT_EQ(TokenRequests(), 1u) << "the token came from the live token endpoint";
}

TEST_F(KnoxClientTest, MalformedAnswersAreBadResponsesNotCrashes) {
  ASSERT_THAT(client_->ListDevices({}), IsOk());
  for (const char* body : {R"({"totalCount": 5, "deviceList": [ {"id": )",  // truncated
                           "<html>gateway</html>",
                           R"({"totalCount": "many", "deviceList": []})",
                           R"({"totalCount": 1, "deviceList": [ 42 ]})",
                           R"({"totalCount": 1, "deviceList": {"id": "x"}})",
                           R"([1, 2, 3])"}) {
    SCOPED_TRACE(body);
    sim_->InjectFailure(kDevicesListPath, 1, 200, "", body);
    EXPECT_THAT(client_->ListDevices({}), StatusIs(StatusCode::kInternal, kBadResponse));
  }
  sim_->InjectFailure(kUnassignProfilePath, 1, 200, "", R"({"successDeviceList": "all"})");
  EXPECT_THAT(client_->UnassignProfile({"R58X00000001"}),
              StatusIs(StatusCode::kInternal, kBadResponse));
  client_->ResetToken();
  sim_->InjectFailure(kOAuthTokenPath, 1, 200, "", R"({"token_type": "Bearer"})");
  EXPECT_THAT(client_->ListDevices({}), StatusIs(StatusCode::kInternal, kBadResponse));
  EXPECT_TRUE(sleeper_.Sleeps().empty());
  ASSERT_THAT(client_->ListDevices({}), IsOk());
}

TEST_F(KnoxClientTest, ConcurrentCallersShareASingleTokenRequest) {
  Upload("CC", 5);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 5; ++j) ok += client_->ListDevices({}).ok() ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(TokenRequests(), 1u);
}

TEST_F(KnoxClientTest, SecretsNeverReachTheLog) {
  static std::ostringstream captured;  // the sink outlives this test
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  log::AddSinkForTest(sink);
  log::Init("trace");
  auto devices = Upload("LG", 1);
  const std::string profile = Profile();
  ASSERT_THAT(client_->ListDevices({}), IsOk());
  sim_->ExpireTokens();
  sim_->InjectFailure(kAssignProfilePath, 1, 503, "1");
  ASSERT_THAT(client_->AssignProfile(profile, {{devices[0].imei, "alex_doe@example.com", "pw-Secret-77"}}),
              IsOk());
  ASSERT_THAT(sim_->RevokeCredentials(issued_.client_id), IsOk());
  EXPECT_FALSE(client_->ListDevices({}).ok());
  log::Init("info");
  sink->flush();
  const std::string text = captured.str();
  EXPECT_NE(text.find("new access token"), std::string::npos) << "logging is under test here";
  EXPECT_EQ(text.find(issued_.client_secret), std::string::npos);
  EXPECT_EQ(text.find("pw-Secret-77"), std::string::npos);
  EXPECT_EQ(text.find("alex_doe"), std::string::npos);
  // Every access token the client used is only ever logged as a fingerprint.
  for (const auto& r : sim_->Requests()) {
    auto auth = r.headers.find("Authorization");
    if (auth != r.headers.end()) {
      EXPECT_EQ(text.find(auth->second.substr(7)), std::string::npos);
    }
  }
  EXPECT_EQ(text.find("Bearer "), std::string::npos);
}

// ---- the simulator on its own ------------------------------------------------------------

TEST_F(KnoxClientTest, SimulatorPagesAHundredThousandDevices) {
  Upload("HK", 100'000);
  std::set<std::string> ids;
  int pages = 0;
  ASSERT_THAT(client_->ForEachDevicePage({.page_size = 1'000},
                                         [&](const DevicePage& page) -> Status {
                                           ++pages;
                                           for (const Device& d : page.devices) ids.insert(d.id);
                                           return Status::Ok();
                                         }),
              IsOk());
  EXPECT_EQ(pages, 100);
  EXPECT_EQ(ids.size(), 100'000u);
}

TEST(KnoxSimulator, SpeaksSamsungsErrorShapes) {
  ManualClock clock;
  KnoxSimulator sim({.clock = &clock});
  httplib::Client http("127.0.0.1", sim.port());
  auto anonymous = http.Get(kDevicesListPath);
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  json e = json::parse(anonymous->body);
  EXPECT_EQ(e["code"], kCodeAuthorizationFail);
  EXPECT_EQ(e["message"], "AUTHORIZATION_FAIL");

  auto creds = sim.IssueCredentials();
  auto token = http.Post(kOAuthTokenPath,
                         "grant_type=client_credentials&client_id=" + creds.client_id +
                             "&client_secret=" + creds.client_secret,
                         "application/x-www-form-urlencoded");
  ASSERT_TRUE(token);
  ASSERT_EQ(token->status, 200) << token->body;
  json t = json::parse(token->body);
  EXPECT_EQ(t["token_type"], "Bearer");
  EXPECT_EQ(t["expires_in"], 599);
  EXPECT_EQ(t["scope"], "kme");
  httplib::Headers auth{{"Authorization", "Bearer " + t["access_token"].get<std::string>()}};

  auto empty = http.Put(kUnassignProfileV1Path, auth, R"({"deviceIds": []})", "application/json");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);
  e = json::parse(empty->body);
  EXPECT_EQ(e["code"], kCodeInvalidParam);
  EXPECT_EQ(e["data"], "Device ID list cannot be empty");
  EXPECT_TRUE(e["errorId"].is_string());

  // v1 unassign is all or nothing.
  auto devices = KnoxSimulator::MakeDevices("V1", 1);
  ASSERT_THAT(sim.AddResellerUpload(devices, {.auto_approve = true}), IsOk());
  auto v1 = http.Put(kUnassignProfileV1Path, auth,
                     json{{"deviceIds", {devices[0].imei, "R58NOPE00001"}}}.dump(),
                     "application/json");
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->status, 404);
  EXPECT_EQ(json::parse(v1->body)["code"], kCodeDeviceNotFound);

  auto wrong_method = http.Delete(kDevicesListPath, auth);
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  auto basic = http.Post(kOAuthTokenPath,
                         {{"Authorization", "Basic " + crypto::Base64(creds.client_id + ":" +
                                                                      creds.client_secret)}},
                         "grant_type=client_credentials&scope=kme.devices", 
                         "application/x-www-form-urlencoded");
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->status, 200) << basic->body;
  auto bad = http.Post(kOAuthTokenPath, "grant_type=client_credentials&client_id=x&client_secret=y",
                       "application/x-www-form-urlencoded");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 401);
  EXPECT_EQ(json::parse(bad->body)["error"], "invalid_client");
  // A second upload of a registered device is refused (§1.3).
  EXPECT_THAT(sim.AddResellerUpload(devices), StatusIs(StatusCode::kAlreadyExists, "sim.device_exists"));
}

}  // namespace
}  // namespace ae::knox
