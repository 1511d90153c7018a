// adapters/http retry loop: jittered exponential backoff inside a deadline,
// Retry-After honoured, only transport errors / 429 / 5xx retried. No sockets:
// attempts are scripted, time is a ManualClock advanced by a ManualSleeper.

#include <deque>

#include "adapters/http/retry.h"
#include "tests/support/test_support.h"

namespace ae::http {
namespace {

using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Le;

HttpResponse Answer(int status, std::string retry_after = "") {
  HttpResponse r;
  r.status = status;
  if (!retry_after.empty()) r.headers.emplace("Retry-After", retry_after);
  return r;
}

class DepHttpRetry : public ::testing::Test {
 protected:
  // Plays `script` one entry per attempt; the last entry repeats forever.
  Result<HttpResponse> Run(std::deque<Result<HttpResponse>> script, RetryPolicy policy = {}) {
    Retrier retrier(policy, clock_, sleeper_, random_);
    return retrier.Run("test.call", [&](int n) -> Result<HttpResponse> {
      attempts_ = n;
      Result<HttpResponse> r = script.front();
      if (script.size() > 1) script.pop_front();
      return r;
    });
  }

  ManualClock clock_{1'700'000'000'000};
  ManualSleeper sleeper_{clock_};
  FixedRandom random_{0.5};
  int attempts_ = 0;
};

TEST_F(DepHttpRetry, TransportErrorsAreRetriedUntilAnAnswer) {
  auto r = Run({Unavailable("http.transport", "connect refused"),
                Unavailable("http.transport", "read timeout"), Answer(200)});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(attempts_, 3);
  // base 1000: caps 1000 then 2000, equal jitter at 0.5 -> 750, 1500.
  EXPECT_THAT(sleeper_.Sleeps(), ElementsAre(750, 1500));
}

TEST_F(DepHttpRetry, RetryAfterSecondsReplacesTheBackoff) {
  auto r = Run({Answer(429, "7"), Answer(200)});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(sleeper_.Sleeps(), ElementsAre(7000));
}

TEST_F(DepHttpRetry, RetryAfterHttpDateIsHonoured) {
  std::string in_twelve_seconds = FormatHttpDate(clock_.NowMs() + 12'000);
  auto r = Run({Answer(503, in_twelve_seconds), Answer(204)});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status, 204);
  EXPECT_THAT(sleeper_.Sleeps(), ElementsAre(12'000));
}

TEST_F(DepHttpRetry, AStormOf503EndsAtTheDeadlineAsUnavailable) {
  RetryPolicy policy{.base_ms = 1'000, .max_ms = 8'000, .deadline_ms = 60'000};
  const int64_t start = clock_.NowMs();
  auto r = Run({Answer(503)}, policy);
  EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable, "http.unavailable"));
  EXPECT_NE(r.status().message().find("HTTP 503"), std::string::npos);
  EXPECT_LE(clock_.NowMs() - start, 60'000) << "slept past the deadline";
  EXPECT_THAT(sleeper_.Sleeps(), Each(Le(8'000)));
  // Waits 750, 1500, 3000, 6000, then 6000 each (cap 8000, jitter 0.5): 59250 ms after
  // 12 waits, and the 13th would cross the deadline.
  EXPECT_EQ(attempts_, 13);
  EXPECT_EQ(sleeper_.TotalMs(), 59'250);
}

TEST_F(DepHttpRetry, RetryAfterBeyondTheDeadlineGivesUpAtOnce) {
  auto r = Run({Answer(429, "3600"), Answer(200)}, {.deadline_ms = 60'000});
  EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable, "http.unavailable"));
  EXPECT_NE(r.status().message().find("3600000 ms"), std::string::npos);
  EXPECT_TRUE(sleeper_.Sleeps().empty());
  EXPECT_EQ(attempts_, 1);
}

TEST_F(DepHttpRetry, ClientErrorsAreReturnedWithoutRetry) {
  for (int status : {400, 401, 403, 404, 409}) {
    auto r = Run({Answer(status), Answer(200)});
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->status, status);
    EXPECT_EQ(attempts_, 1);
  }
  EXPECT_TRUE(sleeper_.Sleeps().empty());
}

TEST_F(DepHttpRetry, NonTransientStatusesAreFinal) {
  auto r = Run({FailedPrecondition("dep.terms_not_signed", "terms"), Answer(200)});
  EXPECT_THAT(r, StatusIs(StatusCode::kFailedPrecondition, "dep.terms_not_signed"));
  EXPECT_EQ(attempts_, 1);
}

TEST_F(DepHttpRetry, JitteredBackoffDoublesUpToTheCap) {
  RetryPolicy policy{.base_ms = 1'000, .max_ms = 16'000, .deadline_ms = 1};
  FixedRandom low(0.0), high(0.999999);
  Retrier lo(policy, clock_, sleeper_, low), hi(policy, clock_, sleeper_, high);
  const int64_t caps[] = {1'000, 2'000, 4'000, 8'000, 16'000, 16'000, 16'000};
  for (int n = 1; n <= 7; ++n) {
    SCOPED_TRACE(n);
    EXPECT_EQ(lo.BackoffMs(n), caps[n - 1] / 2);
    EXPECT_GE(hi.BackoffMs(n), caps[n - 1] - 1);
    EXPECT_LE(hi.BackoffMs(n), caps[n - 1]);
  }
  EXPECT_EQ(lo.BackoffMs(200), 8'000) << "no overflow on long storms";
}

TEST_F(DepHttpRetry, ParsesRetryAfterForms) {
  const int64_t now = 784'111'777'000;  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(ParseRetryAfter("120", now), 120'000);
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), 0);
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:47 GMT", now), 10'000);
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:27 GMT", now), 0) << "past dates: now";
  EXPECT_EQ(FormatHttpDate(now), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(ParseRetryAfter("", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("soon", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-5", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:47 PST", now), std::nullopt);
}

TEST_F(DepHttpRetry, PolicyValidation) {
  EXPECT_THAT(RetryPolicy{}.Validate(), IsOk());
  EXPECT_THAT((RetryPolicy{.base_ms = 0}).Validate(),
              StatusIs(StatusCode::kInvalidArgument, "http.bad_retry_policy"));
  EXPECT_THAT((RetryPolicy{.base_ms = 10, .max_ms = 5}).Validate(),
              StatusIs(StatusCode::kInvalidArgument, "http.bad_retry_policy"));
}

}  // namespace
}  // namespace ae::http
