// adapters/http AuthenticatedCall: the shared authenticated, retrying vendor call of the DEP
// and Knox clients, against a real vendor-like server on loopback (a LoopbackServer with a
// token endpoint and one API path). Time is a ManualClock advanced by a ManualSleeper, so the
// waits are exact and nothing sleeps.

#include <memory>
#include <mutex>
#include <string>

#include "adapters/http/authenticated_call.h"
#include "adapters/simulators/loopback_server.h"
#include "tests/support/test_support.h"

namespace ae::http {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kTokenPath[] = "/token";
constexpr char kApiPath[] = "/api";

// POST /token issues "tok-<n>" (one live token at a time); GET /api answers 200 {"ok":true}
// with the live token as `Authorization: Bearer`, 401 otherwise.
class TokenServer : public sim::LoopbackServer {
 public:
  TokenServer() : LoopbackServer(sim::LoopbackServerOptions{.log_name = "sim.test"}) { Start(); }
  ~TokenServer() override { Stop(); }

  void ExpireToken() {
    std::lock_guard lock(mu_);
    live_.clear();
  }
  // Every token, the new ones included, is refused from now on.
  void RefuseAll() {
    std::lock_guard lock(mu_);
    refuse_all_ = true;
  }

 private:
  Reply DispatchLocked(const httplib::Request& req) override {
    Reply r;
    if (req.path == kTokenPath && req.method == "POST") {
      live_ = "tok-" + std::to_string(++issued_);
      return Json({{"access_token", live_}});
    }
    if (req.path == kApiPath && req.method == "GET") {
      if (refuse_all_ || live_.empty() ||
          req.get_header_value("Authorization") != "Bearer " + live_) {
        r.status = 401;
        r.body = R"({"error":"invalid_token"})";
        return r;
      }
      return Json({{"ok", true}});
    }
    r.status = 404;
    return r;
  }

  std::string live_;         // guarded by mu_
  int issued_ = 0;           // guarded by mu_
  bool refuse_all_ = false;  // guarded by mu_
};

class AuthenticatedCallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpClientOptions options;
    options.base_url = server_.base_url();
    options.retry.base_ms = 1'000;
    options.retry.deadline_ms = 60'000;
    auto client = HttpClient::Create(options, clock_, sleeper_, random_);
    ASSERT_THAT(client.status(), IsOk());
    client_ = std::move(*client);

    // The client side of the credential, as the vendor clients keep it: cached, fetched
    // when missing or refused.
    auth_.credential = [this](const std::string& stale,
                              HttpResponse* retry) -> Result<std::string> {
      std::lock_guard lock(mu_);
      if (!token_.empty() && token_ != stale) return token_;
      HttpRequest req{.method = "POST", .path = kTokenPath, .headers = {}, .body = "grant"};
      req.headers.emplace("Content-Type", "application/x-www-form-urlencoded");
      AE_ASSIGN_OR_RETURN(HttpResponse resp, client_->SendOnce(req));
      if (IsRetryableHttpStatus(resp.status)) {
        *retry = std::move(resp);
        return Unavailable("test.unavailable", "token: retryable answer");
      }
      if (resp.status != 200) return Unauthenticated("test.token_refused", "token refused");
      token_ = nlohmann::json::parse(resp.body).at("access_token").get<std::string>();
      return token_;
    };
    auth_.attach = [](HttpRequest& req, const std::string& token) {
      req.headers.emplace("Authorization", "Bearer " + token);
    };
    auth_.refused = [](const HttpResponse& resp) { return resp.status == 401; };
    auth_.refused_again = [](const HttpResponse& resp) {
      return Unauthenticated("test.unauthorized",
                             "refused again: " + std::to_string(resp.status));
    };
  }

  Result<HttpResponse> Call(AuthenticatedCallOutcome* outcome = nullptr) {
    HttpRequest req{.method = "GET", .path = kApiPath, .headers = {}, .body = ""};
    return AuthenticatedCall(*client_, "GET /api", req, auth_, "test.unavailable", outcome);
  }

  TokenServer server_;
  ManualClock clock_{1'700'000'000'000};
  ManualSleeper sleeper_{clock_};
  FixedRandom random_{0.5};
  std::unique_ptr<HttpClient> client_;
  Authentication auth_;
  std::mutex mu_;
  std::string token_;  // guarded by mu_
};

TEST_F(AuthenticatedCallTest, FetchesACredentialOnceAndSendsItWithEachCall) {
  ASSERT_THAT(Call().status(), IsOk());
  auto second = Call();
  ASSERT_THAT(second.status(), IsOk());
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(second->body, R"({"ok":true})");
  EXPECT_EQ(server_.CountRequests("POST", kTokenPath), 1u);
  EXPECT_EQ(server_.CountRequests("GET", kApiPath), 2u);
  EXPECT_THAT(sleeper_.Sleeps(), IsEmpty());
}

TEST_F(AuthenticatedCallTest, RetriesA503AfterTheServersRetryAfter) {
  server_.InjectFailure(kApiPath, 1, 503, "7");
  auto r = Call();
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(server_.CountRequests("GET", kApiPath), 2u);
  EXPECT_EQ(server_.CountRequests("POST", kTokenPath), 1u);  // the token stays good
  EXPECT_THAT(sleeper_.Sleeps(), ElementsAre(7'000));
}

TEST_F(AuthenticatedCallTest, RetriesWhenTheCredentialEndpointIsThrottled) {
  server_.InjectFailure(kTokenPath, 1, 429, "3");
  auto r = Call();
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(server_.CountRequests("POST", kTokenPath), 2u);
  EXPECT_EQ(server_.CountRequests("GET", kApiPath), 1u);
  EXPECT_THAT(sleeper_.Sleeps(), ElementsAre(3'000));
}

TEST_F(AuthenticatedCallTest, AuthenticatesAgainOnceWhenTheCredentialExpired) {
  ASSERT_THAT(Call().status(), IsOk());
  server_.ExpireToken();
  auto r = Call();
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(server_.CountRequests("POST", kTokenPath), 2u);
  auto requests = server_.Requests();
  ASSERT_EQ(requests.size(), 5u);  // token, api | api (401), token, api
  EXPECT_EQ(requests[2].status, 401);
  EXPECT_EQ(requests[2].headers.find("Authorization")->second, "Bearer tok-1");
  EXPECT_EQ(requests[4].headers.find("Authorization")->second, "Bearer tok-2");
  EXPECT_EQ(requests[4].status, 200);
  EXPECT_THAT(sleeper_.Sleeps(), IsEmpty());  // a refusal is not a back-off
}

TEST_F(AuthenticatedCallTest, AFreshCredentialRefusedTooEndsTheCall) {
  server_.RefuseAll();
  auto r = Call();
  EXPECT_THAT(r.status(), StatusIs(StatusCode::kUnauthenticated, "test.unauthorized"));
  EXPECT_EQ(server_.CountRequests("POST", kTokenPath), 2u);  // one re-authentication only
  EXPECT_EQ(server_.CountRequests("GET", kApiPath), 2u);
  EXPECT_THAT(sleeper_.Sleeps(), IsEmpty());
}

TEST_F(AuthenticatedCallTest, DoesNotRetryA400) {
  server_.InjectFailure(kApiPath, 1, 400, "", R"({"error":"bad_request"})");
  AuthenticatedCallOutcome outcome;
  auto r = Call(&outcome);
  ASSERT_THAT(r.status(), IsOk());  // the answer is the client's to map
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body, R"({"error":"bad_request"})");
  EXPECT_EQ(server_.CountRequests("GET", kApiPath), 1u);
  EXPECT_EQ(outcome.last_status, 400);
  EXPECT_THAT(sleeper_.Sleeps(), IsEmpty());
}

TEST_F(AuthenticatedCallTest, AScreenedAnswerEndsTheCallWithoutRetries) {
  server_.InjectFailure(kApiPath, 5, 500, "", R"({"code":"ours"})");
  auth_.screen = [](const HttpResponse& resp) {
    return resp.body.find("ours") != std::string::npos
               ? FailedPrecondition("test.ours", "our own fault")
               : Status::Ok();
  };
  auto r = Call();
  EXPECT_THAT(r.status(), StatusIs(StatusCode::kFailedPrecondition, "test.ours"));
  EXPECT_EQ(server_.CountRequests("GET", kApiPath), 1u);
}

TEST_F(AuthenticatedCallTest, AStormPastTheDeadlineIsUnavailableWithTheLastStatus) {
  server_.InjectFailure(kApiPath, 1'000, 429, "20");
  AuthenticatedCallOutcome outcome;
  auto r = Call(&outcome);
  EXPECT_THAT(r.status(), StatusIs(StatusCode::kUnavailable, "test.unavailable"));
  EXPECT_EQ(outcome.last_status, 429);
  EXPECT_EQ(outcome.server_retry_after_ms, -1);
  // Three waits fill the 60 s deadline; a fourth would pass it.
  EXPECT_THAT(sleeper_.Sleeps(), ElementsAre(20'000, 20'000, 20'000));
  EXPECT_EQ(server_.CountRequests("GET", kApiPath), 4u);
}

TEST_F(AuthenticatedCallTest, ARetryAfterLongerThanTheCallMayWaitIsReported) {
  HttpClientOptions options;
  options.base_url = server_.base_url();
  options.retry.max_retry_after_ms = 10'000;
  auto client = HttpClient::Create(options, clock_, sleeper_, random_);
  ASSERT_THAT(client.status(), IsOk());
  client_ = std::move(*client);
  server_.InjectFailure(kApiPath, 1, 503, "120");
  AuthenticatedCallOutcome outcome;
  auto r = Call(&outcome);
  EXPECT_THAT(r.status(), StatusIs(StatusCode::kUnavailable, "test.unavailable"));
  EXPECT_EQ(outcome.server_retry_after_ms, 120'000);
  EXPECT_EQ(outcome.last_status, 503);
  EXPECT_THAT(sleeper_.Sleeps(), IsEmpty());
}

}  // namespace
}  // namespace ae::http
