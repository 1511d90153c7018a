// DepClientImpl against AppleDepSimulator over real HTTP on 127.0.0.1.
//
// Time is one ManualClock shared by the client, its retry sleeper and the
// simulator: backoffs and Retry-After waits advance it instead of sleeping, so
// the tests are deterministic and fast, and "how long did the client wait" is
// an exact number.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <sstream>
#include <thread>

#include "adapters/apple_dep/dep_client.h"
#include "adapters/apple_dep/server_identity.h"
#include "adapters/apple_dep/token.h"
#include "adapters/simulators/apple_dep_simulator.h"
#include "events/base/logging.h"
#include "tests/support/test_support.h"

namespace ae::dep {
namespace {

using sim::AppleDepSimulator;
using sim::AppleDepSimulatorOptions;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Le;

constexpr char kServer[] = "MDM Server 1";
constexpr char kOtherServer[] = "MDM Server 2";

class DepClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ManualClock clock;
    identity_ = new ServerIdentity(std::move(ServerIdentity::Generate({}, clock)).value());
  }
  static void TearDownTestSuite() {
    delete identity_;
    identity_ = nullptr;
  }

  void SetUp() override { StartSimulator({}); }

  void StartSimulator(AppleDepSimulatorOptions options) {
    client_.reset();
    sim_.reset();
    options.clock = &clock_;
    sim_ = std::make_unique<AppleDepSimulator>(options);
    // The admin's flow: upload our certificate, download the token, upload it to us.
    auto p7m = sim_->IssueToken(identity_->CertificatePem(), kServer);
    ASSERT_THAT(p7m, IsOk());
    auto token = DecryptToken(*p7m, *identity_, clock_);
    ASSERT_THAT(token, IsOk());
    token_ = *token;
    client_ = MakeClient(token_);
  }

  std::unique_ptr<DepClientImpl> MakeClient(const DepToken& token,
                                            DepClientOptions options = DefaultOptions()) {
    if (options.base_url == DepClientOptions().base_url) options.base_url = sim_->base_url();
    auto c = DepClientImpl::Create(options, token, clock_, sleeper_, random_);
    EXPECT_THAT(c, IsOk());
    return c.ok() ? std::move(c).value() : nullptr;
  }

  static DepClientOptions DefaultOptions() {
    DepClientOptions o;
    o.user_agent = "autoenroll-test/1.0";
    o.retry = {.base_ms = 1'000, .max_ms = 8'000, .deadline_ms = 60'000};
    return o;
  }

  // Fetches every page; returns the serials and the final cursor.
  std::pair<std::vector<std::string>, std::string> FetchAll(int limit, int* pages = nullptr) {
    std::vector<std::string> serials;
    std::string cursor;
    int n = 0;
    for (;;) {
      auto page = client_->FetchDevices(cursor, limit);
      EXPECT_THAT(page, IsOk());
      if (!page.ok()) break;
      ++n;
      for (const Device& d : page->devices) serials.push_back(d.serial_number);
      EXPECT_NE(page->cursor, cursor) << "Apple repeated the cursor";
      cursor = page->cursor;
      if (!page->more_to_follow) break;
    }
    if (pages) *pages = n;
    return {serials, cursor};
  }

  std::vector<std::string> Serials(const std::vector<Device>& devices) {
    std::vector<std::string> out;
    for (const Device& d : devices) out.push_back(d.serial_number);
    return out;
  }

  static ServerIdentity* identity_;
  ManualClock clock_{1'700'000'000'000};
  http::ManualSleeper sleeper_{clock_};
  http::FixedRandom random_{0.5};
  std::unique_ptr<AppleDepSimulator> sim_;
  DepToken token_;
  std::unique_ptr<DepClientImpl> client_;
};
ServerIdentity* DepClientTest::identity_ = nullptr;

TEST_F(DepClientTest, ReadsTheAccountOfTheUploadedToken) {
  auto account = client_->GetAccount();
  ASSERT_THAT(account, IsOk());
  EXPECT_EQ(account->server_name, kServer);
  EXPECT_EQ(account->server_uuid, sim_->ServerUuid(kServer).value());
  EXPECT_EQ(account->org_name, "Example Org");
  EXPECT_EQ(account->MaxLimit("/server/devices"), 1000);
  EXPECT_EQ(sim_->CountRequests("GET", "/session"), 1u);
}

TEST_F(DepClientTest, EveryRequestCarriesUserAgentAndProtocolVersion) {
  ASSERT_THAT(sim_->AddDevices(kServer, AppleDepSimulator::MakeDevices("UA", 3)), IsOk());
  ASSERT_THAT(client_->GetAccount(), IsOk());
  ASSERT_THAT(client_->FetchDevices("", 10), IsOk());
  ASSERT_THAT(client_->RemoveProfile({"UA0000000001"}), IsOk());
  auto requests = sim_->Requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0].path, "/session");
  for (const auto& r : requests) {
    SCOPED_TRACE(r.method + " " + r.path);
    EXPECT_EQ(r.headers.find("User-Agent")->second, "autoenroll-test/1.0");
    EXPECT_EQ(r.headers.find("X-Server-Protocol-Version")->second, "10");
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_TRUE(requests[1].headers.count("X-ADM-Auth-Session"));
  EXPECT_FALSE(requests[0].headers.count("X-ADM-Auth-Session"));
}

TEST_F(DepClientTest, OneSessionServesManyCalls) {
  for (int i = 0; i < 5; ++i) ASSERT_THAT(client_->GetAccount(), IsOk());
  EXPECT_EQ(sim_->CountRequests("GET", "/session"), 1u);
  std::set<std::string> sessions;
  for (const auto& r : sim_->Requests()) {
    if (r.path == "/account") sessions.insert(r.headers.find("X-ADM-Auth-Session")->second);
  }
  EXPECT_EQ(sessions.size(), 1u);
}

TEST_F(DepClientTest, AdoptsTheSessionAppleRotates) {
  StartSimulator({.session_rotate_every = 2});
  for (int i = 0; i < 7; ++i) ASSERT_THAT(client_->GetAccount(), IsOk()) << i;
  // The simulator kills a session as soon as it rotates it: only a client that
  // adopts X-ADM-Auth-Session gets through on one /session.
  EXPECT_EQ(sim_->CountRequests("GET", "/session"), 1u);
  std::set<std::string> sessions;
  for (const auto& r : sim_->Requests()) {
    if (r.path == "/account") {
      EXPECT_EQ(r.status, 200);
      sessions.insert(r.headers.find("X-ADM-Auth-Session")->second);
    }
  }
  EXPECT_EQ(sessions.size(), 4u);
}

TEST_F(DepClientTest, ReauthenticatesOnceOn401AndReplaysTheSameBody) {
  ASSERT_THAT(sim_->AddDevices(kServer, AppleDepSimulator::MakeDevices("RA", 5)), IsOk());
  ASSERT_THAT(client_->GetAccount(), IsOk());
  sim_->ExpireSessions();
  auto page = client_->FetchDevices("", 3);
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(page->devices.size(), 3u);
  EXPECT_EQ(sim_->CountRequests("GET", "/session"), 2u);
  std::vector<sim::RecordedRequest> fetches;
  for (const auto& r : sim_->Requests()) {
    if (r.path == "/server/devices") fetches.push_back(r);
  }
  ASSERT_EQ(fetches.size(), 2u);
  EXPECT_EQ(fetches[0].status, 401);
  EXPECT_EQ(fetches[1].status, 200);
  EXPECT_EQ(fetches[0].body, fetches[1].body);
  EXPECT_TRUE(sleeper_.Sleeps().empty()) << "a re-auth is not a backoff";
}

TEST_F(DepClientTest, ReauthenticatesOn403ForbiddenLikeDepsim) {
  StartSimulator({.session_expiry_403_forbidden = true});
  ASSERT_THAT(client_->GetAccount(), IsOk());
  sim_->ExpireSessions();
  ASSERT_THAT(client_->GetAccount(), IsOk());
  EXPECT_EQ(sim_->CountRequests("GET", "/session"), 2u);
  EXPECT_EQ(sim_->CountRequests("GET", "/account"), 3u);
}

TEST_F(DepClientTest, RevokedTokenIsTokenRejectedAfterASingleReauth) {
  ASSERT_THAT(client_->GetAccount(), IsOk());
  ASSERT_THAT(sim_->RevokeToken(kServer), IsOk());
  EXPECT_THAT(client_->GetAccount(), StatusIs(StatusCode::kUnauthenticated, kTokenRejected));
  EXPECT_EQ(sim_->CountRequests("GET", "/session"), 2u);
  EXPECT_EQ(sim_->CountRequests("GET", "/account"), 2u);
  EXPECT_TRUE(sleeper_.Sleeps().empty());
}

TEST_F(DepClientTest, ReplacedTokenIsRejectedByTheSessionEndpoint) {
  // The admin downloads a newer token but does not upload it to us (Fleet #47700).
  ASSERT_THAT(sim_->IssueToken(identity_->CertificatePem(), kServer), IsOk());
  EXPECT_THAT(client_->GetAccount(), StatusIs(StatusCode::kUnauthenticated, kTokenRejected));
  EXPECT_EQ(sim_->CountRequests("GET", "/session"), 1u);
  EXPECT_EQ(sim_->CountRequests("GET", "/account"), 0u);
}

TEST_F(DepClientTest, WrongSecretFailsTheOAuthSignature) {
  DepToken forged = token_;
  forged.consumer_secret = "CS_not_the_right_one";
  auto client = MakeClient(forged);
  EXPECT_THAT(client->GetAccount(), StatusIs(StatusCode::kUnauthenticated, kTokenRejected));
  ASSERT_EQ(sim_->Requests().size(), 1u);
  EXPECT_EQ(sim_->Requests()[0].status, 401);
}

TEST_F(DepClientTest, ExpiredTokenFailsWithoutCallingApple) {
  clock_.Set(token_.access_token_expiry_ms + 1000);
  EXPECT_THAT(client_->GetAccount(), StatusIs(StatusCode::kUnprocessable, kTokenExpired));
  EXPECT_TRUE(sim_->Requests().empty());
}

TEST_F(DepClientTest, Retries429AfterRetryAfterThenSucceeds) {
  ASSERT_THAT(client_->GetAccount(), IsOk());
  sim_->InjectFailure("/account", 1, 429, "3", "\"TOO_MANY_REQUESTS\"");
  auto account = client_->GetAccount();
  ASSERT_THAT(account, IsOk());
  EXPECT_EQ(account->server_name, kServer);
  EXPECT_THAT(sleeper_.Sleeps(), ElementsAre(3'000));
  EXPECT_EQ(sim_->CountRequests("GET", "/account"), 3u);
}

TEST_F(DepClientTest, A503OnTheSessionEndpointIsRetriedToo) {
  sim_->InjectFailure("/session", 2, 503, "2");
  ASSERT_THAT(client_->GetAccount(), IsOk());
  EXPECT_THAT(sleeper_.Sleeps(), ElementsAre(2'000, 2'000));
  EXPECT_EQ(sim_->CountRequests("GET", "/session"), 3u);
}

TEST_F(DepClientTest, A503StormEndsAtTheDeadlineAsUnavailable) {
  ASSERT_THAT(client_->GetAccount(), IsOk());
  sim_->InjectFailure("/server/devices", 1'000'000, 503, "5", "\"SERVICE_UNAVAILABLE\"");
  const int64_t start = clock_.NowMs();
  auto page = client_->FetchDevices("", 100);
  EXPECT_THAT(page, StatusIs(StatusCode::kUnavailable, kDepUnavailable));
  EXPECT_LE(clock_.NowMs() - start, 60'000);
  EXPECT_THAT(sleeper_.Sleeps(), Each(5'000));
  // Attempts at 0, 5, ..., 60 s: the next wait would cross the 60 s deadline.
  EXPECT_EQ(sim_->CountRequests("POST", "/server/devices"), 13u);
}

TEST_F(DepClientTest, TransportErrorsAreRetriedWithJitteredBackoff) {
  // A port that is bound but not listening: every connect is refused, and no
  // other process can take the port while the test runs.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  DepClientOptions options = DefaultOptions();
  options.base_url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto client = MakeClient(token_, options);
  auto account = client->GetAccount();
  ::close(fd);
  EXPECT_THAT(account, StatusIs(StatusCode::kUnavailable, kDepUnavailable));
  EXPECT_NE(account.status().message().find("GET /account"), std::string::npos);
  EXPECT_THAT(sleeper_.Sleeps(), Each(Le(8'000)));
  // Equal jitter at 0.5: 750, 1500, 3000, 6000, then 6000 each until the 60 s deadline.
  EXPECT_EQ(sleeper_.Sleeps().size(), 12u);
  EXPECT_EQ(sleeper_.TotalMs(), 59'250);
  EXPECT_TRUE(sim_->Requests().empty());
}

TEST_F(DepClientTest, TermsNotSignedIsReportedWithoutRetry) {
  ASSERT_THAT(client_->GetAccount(), IsOk());
  sim_->RequireTermsSigning(true);
  EXPECT_THAT(client_->GetAccount(), StatusIs(StatusCode::kFailedPrecondition, kTermsNotSigned));
  EXPECT_EQ(sim_->CountRequests("GET", "/account"), 2u);
  EXPECT_EQ(sim_->CountRequests("GET", "/session"), 1u);
  // A fresh client meets it on /session already.
  auto fresh = MakeClient(token_);
  EXPECT_THAT(fresh->GetAccount(), StatusIs(StatusCode::kFailedPrecondition, kTermsNotSigned));
  EXPECT_EQ(sim_->CountRequests("GET", "/session"), 2u);
  EXPECT_TRUE(sleeper_.Sleeps().empty());
  sim_->RequireTermsSigning(false);
  EXPECT_THAT(fresh->GetAccount(), IsOk());
}

TEST_F(DepClientTest, FetchPagesThroughTheSnapshotThenSyncsChanges) {
  ASSERT_THAT(sim_->AddDevices(kServer, AppleDepSimulator::MakeDevices("C02", 2'500)), IsOk());
  int pages = 0;
  auto [serials, cursor] = FetchAll(1'000, &pages);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(serials.size(), 2'500u);
  EXPECT_EQ(std::set<std::string>(serials.begin(), serials.end()).size(), 2'500u);
  // The completed fetch cursor cannot be fetched again: switch to sync.
  EXPECT_THAT(client_->FetchDevices(cursor, 1'000),
              StatusIs(StatusCode::kFailedPrecondition, kExhaustedCursor));

  // Nothing changed yet.
  auto quiet = client_->SyncDevices(cursor, 1'000);
  ASSERT_THAT(quiet, IsOk());
  EXPECT_TRUE(quiet->devices.empty());
  EXPECT_FALSE(quiet->more_to_follow);

  // Changes in the portal and on devices.
  clock_.Advance(60'000);
  auto p7m2 = sim_->IssueToken(identity_->CertificatePem(), kOtherServer);
  ASSERT_THAT(p7m2, IsOk());
  ASSERT_THAT(sim_->AddDevices(kServer, AppleDepSimulator::MakeDevices("NEW", 2)), IsOk());
  ASSERT_THAT(sim_->MoveDevice("C02000000001", kOtherServer), IsOk());
  ASSERT_THAT(sim_->RemoveDevice("C02000000002"), IsOk());
  auto profile = client_->DefineProfile({.profile_name = "Corp", .url = "https://mdm.example/e"});
  ASSERT_THAT(profile, IsOk());
  ASSERT_THAT(client_->AssignProfile(profile->profile_uuid, {"C02000000003"}), IsOk());
  ASSERT_THAT(sim_->ActivateDevice("C02000000003"), IsOk());

  std::vector<Device> changes;
  std::string sync_cursor = quiet->cursor;
  for (int guard = 0; guard < 10; ++guard) {
    auto page = client_->SyncDevices(sync_cursor, 2);  // small pages: more_to_follow
    ASSERT_THAT(page, IsOk());
    changes.insert(changes.end(), page->devices.begin(), page->devices.end());
    sync_cursor = page->cursor;
    if (!page->more_to_follow) break;
  }
  ASSERT_EQ(changes.size(), 6u);
  auto expect = [&](size_t i, const char* serial, OpType op) {
    SCOPED_TRACE(i);
    EXPECT_EQ(changes[i].serial_number, serial);
    EXPECT_EQ(changes[i].op_type, op);
    EXPECT_EQ(changes[i].op_date_ms, 1'700'000'060'000);
  };
  expect(0, "NEW000000001", OpType::kAdded);
  expect(1, "NEW000000002", OpType::kAdded);
  expect(2, "C02000000001", OpType::kDeleted);
  expect(3, "C02000000002", OpType::kDeleted);
  expect(4, "C02000000003", OpType::kModified);
  EXPECT_EQ(changes[4].profile_status, ProfileStatus::kAssigned);
  EXPECT_EQ(changes[4].profile_uuid, profile->profile_uuid);
  expect(5, "C02000000003", OpType::kModified);
  EXPECT_EQ(changes[5].profile_status, ProfileStatus::kPushed);

  // The other server sees the move only as "modified" with profile_status removed.
  auto other_token = DecryptToken(*p7m2, *identity_, clock_);
  ASSERT_THAT(other_token, IsOk());
  auto other = MakeClient(*other_token);
  auto other_page = other->FetchDevices("", 100);
  ASSERT_THAT(other_page, IsOk());
  EXPECT_THAT(Serials(other_page->devices), ElementsAre("C02000000001"));
}

TEST_F(DepClientTest, MovedDeviceArrivesAsModifiedRemovedOnTheNewServer) {
  auto p7m2 = sim_->IssueToken(identity_->CertificatePem(), kOtherServer);
  ASSERT_THAT(p7m2, IsOk());
  auto other = MakeClient(*DecryptToken(*p7m2, *identity_, clock_));
  auto start = other->FetchDevices("", 100);
  ASSERT_THAT(start, IsOk());
  EXPECT_TRUE(start->devices.empty());
  ASSERT_THAT(sim_->AddDevices(kServer, AppleDepSimulator::MakeDevices("MV", 1)), IsOk());
  ASSERT_THAT(sim_->MoveDevice("MV0000000001", kOtherServer), IsOk());
  auto page = other->SyncDevices(start->cursor, 100);
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->devices.size(), 1u);
  EXPECT_EQ(page->devices[0].op_type, OpType::kModified);
  EXPECT_EQ(page->devices[0].profile_status, ProfileStatus::kRemoved);
}

TEST_F(DepClientTest, BadCursorsAskForARefetch) {
  ASSERT_THAT(sim_->AddDevices(kServer, AppleDepSimulator::MakeDevices("CU", 3)), IsOk());
  auto [serials, cursor] = FetchAll(100);
  ASSERT_EQ(serials.size(), 3u);
  std::string tampered = cursor;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_THAT(client_->SyncDevices(tampered, 100),
              StatusIs(StatusCode::kFailedPrecondition, kInvalidCursor));
  EXPECT_THAT(client_->FetchDevices("not-a-cursor", 100),
              StatusIs(StatusCode::kFailedPrecondition, kInvalidCursor));
  EXPECT_THAT(client_->SyncDevices("", 100),
              StatusIs(StatusCode::kFailedPrecondition, kCursorRequired));
  clock_.Advance(7LL * 24 * 3600 * 1000 + 1);
  EXPECT_THAT(client_->SyncDevices(cursor, 100),
              StatusIs(StatusCode::kFailedPrecondition, kExpiredCursor));
  // A full refetch starts over.
  auto again = FetchAll(100);
  EXPECT_EQ(again.first.size(), 3u);
}

TEST_F(DepClientTest, AssignReportsEverySerialsOutcome) {
  ASSERT_THAT(sim_->AddDevices(kServer, AppleDepSimulator::MakeDevices("AS", 3)), IsOk());
  ASSERT_THAT(sim_->IssueToken(identity_->CertificatePem(), kOtherServer), IsOk());
  ASSERT_THAT(sim_->AddDevices(kOtherServer, AppleDepSimulator::MakeDevices("OT", 1)), IsOk());
  sim_->SetSerialOutcome("AS0000000002", {"FAILED"});
  sim_->SetSerialOutcome("AS0000000003", {"THROTTLED", 3'600});
  auto profile = client_->DefineProfile({.profile_name = "Corp", .url = "https://mdm.example/e"});
  ASSERT_THAT(profile, IsOk());
  auto result = client_->AssignProfile(
      profile->profile_uuid,
      {"AS0000000001", "AS0000000002", "AS0000000003", "OT0000000001", "UNKNOWN00001"});
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->profile_uuid, profile->profile_uuid);
  EXPECT_EQ(result->devices.at("AS0000000001").status, SerialStatus::kSuccess);
  EXPECT_EQ(result->devices.at("AS0000000002").status, SerialStatus::kFailed);
  EXPECT_EQ(result->devices.at("AS0000000003").status, SerialStatus::kThrottled);
  EXPECT_EQ(result->devices.at("OT0000000001").status, SerialStatus::kNotAccessible);
  EXPECT_EQ(result->devices.at("UNKNOWN00001").status, SerialStatus::kNotAccessible);
  EXPECT_EQ(result->retry_after_seconds, 3'600);
  auto state = sim_->DeviceState("AS0000000001");
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->profile_uuid, profile->profile_uuid);
  EXPECT_EQ(state->profile_status, ProfileStatus::kAssigned);
  EXPECT_EQ(sim_->DeviceState("AS0000000002")->profile_uuid, "");
  EXPECT_TRUE(sleeper_.Sleeps().empty()) << "HTTP 200 with FAILED serials is not retried";
}

TEST_F(DepClientTest, AssignSplitsIntoCallsOfAtMost1000Serials) {
  ASSERT_THAT(sim_->AddDevices(kServer, AppleDepSimulator::MakeDevices("BT", 2'100)), IsOk());
  auto profile = client_->DefineProfile({.profile_name = "Corp", .url = "https://mdm.example/e"});
  ASSERT_THAT(profile, IsOk());
  std::vector<std::string> serials;
  for (const Device& d : AppleDepSimulator::MakeDevices("BT", 2'100)) {
    serials.push_back(d.serial_number);
  }
  auto result = client_->AssignProfile(profile->profile_uuid, serials);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->devices.size(), 2'100u);
  for (const auto& [serial, r] : result->devices) EXPECT_EQ(r.status, SerialStatus::kSuccess);
  std::vector<size_t> sizes;
  for (const auto& r : sim_->Requests()) {
    if (r.path == "/profile/devices") {
      EXPECT_EQ(r.method, "POST");
      sizes.push_back(nlohmann::json::parse(r.body)["devices"].size());
    }
  }
  EXPECT_THAT(sizes, ElementsAre(1'000, 1'000, 100));
}

TEST_F(DepClientTest, AssignWithPutForDepsimAndUnknownProfile) {
  ASSERT_THAT(sim_->AddDevices(kServer, AppleDepSimulator::MakeDevices("PU", 1)), IsOk());
  DepClientOptions options = DefaultOptions();
  options.assign_with_put = true;
  auto client = MakeClient(token_, options);
  EXPECT_THAT(client->AssignProfile("0123456789ABCDEF0123456789ABCDEF", {"PU0000000001"}),
              StatusIs(StatusCode::kNotFound, kProfileNotFound));
  EXPECT_EQ(sim_->CountRequests("PUT", "/profile/devices"), 1u);
  EXPECT_TRUE(sleeper_.Sleeps().empty());
}

TEST_F(DepClientTest, DefinesAndReadsBackAProfileWithEveryField) {
  ASSERT_THAT(sim_->AddDevices(kServer, AppleDepSimulator::MakeDevices("PF", 2)), IsOk());
  Profile p;
  p.profile_name = "Corp ADE";
  p.url = "https://mdm.example.com/mdm/dep/enroll";
  p.configuration_web_url = "https://mdm.example.com/web";
  p.is_supervised = true;
  p.is_mdm_removable = false;
  p.is_mandatory = true;
  p.allow_pairing = true;
  p.await_device_configured = true;
  p.is_multi_user = false;
  p.auto_advance_setup = false;
  p.is_return_to_service = false;
  p.do_not_use_profile_from_backup = false;
  p.org_magic = "6F0C1D6E-7B7A-4F9D-9C1E-2D0B6B1C1A11";
  p.department = "IT";
  p.support_phone_number = "+1 555 0100";
  p.support_email_address = "it@example.com";
  p.language = "en";
  p.region = "US";
  p.anchor_certs = {"MIIFanchor"};
  p.supervising_host_certs = {"MIIFhost"};
  p.skip_setup_items = {"AppleID", "Siri", "Diagnostics", "Privacy", "ScreenTime", "TOS"};
  p.devices = {"PF0000000001", "NOPE00000001"};
  auto defined = client_->DefineProfile(p);
  ASSERT_THAT(defined, IsOk());
  EXPECT_EQ(defined->profile_uuid.size(), 32u);
  EXPECT_EQ(defined->profile_uuid.find_first_not_of("0123456789ABCDEF"), std::string::npos);
  EXPECT_EQ(defined->devices.at("PF0000000001").status, SerialStatus::kSuccess);
  EXPECT_EQ(defined->devices.at("NOPE00000001").status, SerialStatus::kNotAccessible);

  auto got = client_->GetProfile(defined->profile_uuid);
  ASSERT_THAT(got, IsOk());
  Profile expected = p;
  expected.devices.clear();
  expected.profile_uuid = defined->profile_uuid;
  EXPECT_EQ(*got, expected);
  // Profiles are immutable: a second define is a new UUID.
  auto second = client_->DefineProfile({.profile_name = "Corp ADE", .url = p.url});
  ASSERT_THAT(second, IsOk());
  EXPECT_NE(second->profile_uuid, defined->profile_uuid);
}

TEST_F(DepClientTest, ProfileValidationErrorsCarryApplesCodeAndAreNotRetried) {
  EXPECT_THAT(client_->DefineProfile({.url = "https://mdm.example/e"}),
              StatusIs(StatusCode::kInvalidArgument, "dep.config_name_required"));
  EXPECT_THAT(client_->DefineProfile({.profile_name = "n"}),
              StatusIs(StatusCode::kInvalidArgument, "dep.config_url_required"));
  EXPECT_THAT(
      client_->DefineProfile({.profile_name = "n", .url = "https://x", .is_mdm_removable = false}),
      StatusIs(StatusCode::kInvalidArgument, "dep.flags_invalid"));
  EXPECT_EQ(sim_->CountRequests("POST", "/profile"), 3u);
  EXPECT_THAT(client_->GetProfile("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"),
              StatusIs(StatusCode::kNotFound, kProfileNotFound));
  EXPECT_TRUE(sleeper_.Sleeps().empty());
}

TEST_F(DepClientTest, RemoveProfileSendsItsSerialsInADeleteBody) {
  ASSERT_THAT(sim_->AddDevices(kServer, AppleDepSimulator::MakeDevices("RM", 1)), IsOk());
  auto profile = client_->DefineProfile(
      {.profile_name = "Corp", .url = "https://mdm.example/e", .devices = {"RM0000000001"}});
  ASSERT_THAT(profile, IsOk());
  auto removed = client_->RemoveProfile({"RM0000000001", "ZZ0000000001"});
  ASSERT_THAT(removed, IsOk());
  EXPECT_EQ(removed->at("RM0000000001").status, SerialStatus::kSuccess);
  EXPECT_EQ(removed->at("ZZ0000000001").status, SerialStatus::kNotAccessible);
  auto state = sim_->DeviceState("RM0000000001");
  EXPECT_EQ(state->profile_status, ProfileStatus::kRemoved);
  bool saw_delete = false;
  for (const auto& r : sim_->Requests()) {
    if (r.method == "DELETE" && r.path == "/profile/devices") {
      saw_delete = true;
      EXPECT_EQ(nlohmann::json::parse(r.body)["devices"].size(), 2u);
    }
  }
  EXPECT_TRUE(saw_delete);
  EXPECT_THAT(client_->RemoveProfile({}),
              StatusIs(StatusCode::kInvalidArgument, "dep.device_id_required"));
}

TEST_F(DepClientTest, DeviceDetailsAndDisown) {
  ASSERT_THAT(sim_->AddDevices(kServer, AppleDepSimulator::MakeDevices("DT", 2)), IsOk());
  auto details = client_->DeviceDetails({"DT0000000001", "XX0000000001"});
  ASSERT_THAT(details, IsOk());
  EXPECT_EQ(details->at("DT0000000001").response_status, "SUCCESS");
  EXPECT_EQ(details->at("DT0000000001").model, "iPhone 14");
  EXPECT_EQ(details->at("DT0000000001").profile_status, ProfileStatus::kEmpty);
  EXPECT_EQ(details->at("XX0000000001").response_status, "NOT_ACCESSIBLE");
  EXPECT_EQ(details->at("XX0000000001").serial_number, "XX0000000001");

  auto disowned = client_->DisownDevices({"DT0000000002"});
  ASSERT_THAT(disowned, IsOk());
  EXPECT_EQ(disowned->at("DT0000000002").status, SerialStatus::kSuccess);
  EXPECT_FALSE(sim_->DeviceState("DT0000000002").has_value());
  auto [serials, cursor] = FetchAll(100);
  EXPECT_THAT(serials, ElementsAre("DT0000000001"));
}

TEST_F(DepClientTest, ConcurrentCallersShareASingleSessionRequest) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 5; ++j) ok += client_->GetAccount().ok() ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(sim_->CountRequests("GET", "/session"), 1u);
}

TEST_F(DepClientTest, SecretsNeverReachTheLog) {
  static std::ostringstream captured;  // the sink outlives this test
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  log::AddSinkForTest(sink);
  log::Init("trace");
  ASSERT_THAT(client_->GetAccount(), IsOk());
  sim_->ExpireSessions();
  sim_->InjectFailure("/account", 1, 503, "1");
  ASSERT_THAT(client_->GetAccount(), IsOk());
  ASSERT_THAT(sim_->RevokeToken(kServer), IsOk());
  EXPECT_FALSE(client_->GetAccount().ok());
  log::Init("info");
  sink->flush();
  std::string text = captured.str();
  EXPECT_NE(text.find("new session"), std::string::npos) << "logging is under test here";
  for (const std::string& secret :
       {token_.consumer_secret, token_.access_secret, token_.access_token, token_.consumer_key}) {
    EXPECT_EQ(text.find(secret), std::string::npos);
  }
  for (const auto& r : sim_->Requests()) {
    auto s = r.headers.find("X-ADM-Auth-Session");
    if (s != r.headers.end()) {
      EXPECT_EQ(text.find(s->second), std::string::npos);
    }
  }
}

TEST(AppleDepSimulator, RefusesRequestsWithoutUserAgentOrSession) {
  ManualClock clock;
  AppleDepSimulator sim({.clock = &clock});
  httplib::Client http("127.0.0.1", sim.port());
  auto no_agent = http.Get("/account", {{"User-Agent", ""}});
  ASSERT_TRUE(no_agent);
  EXPECT_EQ(no_agent->status, 400);
  EXPECT_EQ(no_agent->body, "\"USER_AGENT_MISSING\"");
  auto no_session = http.Get("/account", {{"User-Agent", "t/1"}});
  ASSERT_TRUE(no_session);
  EXPECT_EQ(no_session->status, 401);
  auto no_oauth = http.Get("/session", {{"User-Agent", "t/1"}});
  ASSERT_TRUE(no_oauth);
  EXPECT_EQ(no_oauth->status, 400);
  EXPECT_EQ(sim.Requests().size(), 3u);
}

TEST(AppleDepSimulator, RejectsAReplayedOAuthNonce) {
  ManualClock clock;
  AppleDepSimulator sim({.clock = &clock});
  auto identity = ServerIdentity::Generate({}, clock);
  ASSERT_THAT(identity, IsOk());
  auto p7m = sim.IssueToken(identity->CertificatePem());
  ASSERT_THAT(p7m, IsOk());
  auto token = DecryptToken(*p7m, *identity, clock);
  ASSERT_THAT(token, IsOk());
  oauth1::Credentials creds{token->consumer_key, token->consumer_secret, token->access_token,
                            token->access_secret};
  std::string header = oauth1::AuthorizationHeader(creds, "GET", sim.base_url() + "/session",
                                                   clock.NowMs() / 1000, "nonce-1");
  httplib::Client http("127.0.0.1", sim.port());
  httplib::Headers headers{{"User-Agent", "t/1"}, {"Authorization", header}};
  auto first = http.Get("/session", headers);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_NE(nlohmann::json::parse(first->body)["auth_session_token"].get<std::string>(), "");
  auto replay = http.Get("/session", headers);
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->status, 401);
  EXPECT_EQ(replay->body, "\"nonce_used\"");
}

TEST_F(DepClientTest, SimulatorPagesAHundredThousandDevices) {
  ASSERT_THAT(sim_->AddDevices(kServer, AppleDepSimulator::MakeDevices("HK", 100'000)), IsOk());
  int pages = 0;
  auto [serials, cursor] = FetchAll(1'000, &pages);
  EXPECT_EQ(pages, 100);
  ASSERT_EQ(serials.size(), 100'000u);
  EXPECT_EQ(std::set<std::string>(serials.begin(), serials.end()).size(), 100'000u);
  // The whole add is in the change feed too, paged the same way.
  std::string sync_cursor = cursor;
  auto page = client_->SyncDevices(sync_cursor, 1'000);
  ASSERT_THAT(page, IsOk());
  EXPECT_TRUE(page->devices.empty()) << "the fetch snapshot already covered them";
  ASSERT_THAT(sim_->RemoveDevice("HK0000050000"), IsOk());
  page = client_->SyncDevices(page->cursor, 1'000);
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->devices.size(), 1u);
  EXPECT_EQ(page->devices[0].op_type, OpType::kDeleted);
}

}  // namespace
}  // namespace ae::dep
