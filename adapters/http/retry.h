#pragma once
// Deadline-bounded retries with jittered exponential backoff for outbound HTTP
// calls (STYLE.md §3 "Errors at boundaries", §4.3).
//
// The policy: an attempt that fails with a transport error (reported by the
// attempt as a kUnavailable Status), or answers 429 or any 5xx, is retried. The
// wait before retry N (N = 1, 2, ...) is drawn uniformly from [cap/2, cap] with
// cap = min(max_ms, base_ms * 2^(N-1)) ("equal jitter": never a hot loop, never
// a herd). A `Retry-After` header (delta-seconds or HTTP-date) replaces the
// computed wait. No wait ever crosses the deadline: when the next wait would,
// the loop stops and answers kUnavailable. Every other answer (2xx, 3xx, 4xx
// other than 429) and every other Status ends the loop at once.
//
// Time and randomness are injected (Clock, Sleeper, Random), so a test with a
// ManualClock and a ManualSleeper runs a one-minute 503 storm in microseconds
// and knows exactly how long the client waited.

#include <httplib.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "events/base/clock.h"
#include "events/base/status.h"

namespace ae::http {

// A source of uniform doubles in [0, 1). Thread-safe.
class Random {
 public:
  virtual ~Random() = default;
  virtual double Uniform01() = 0;
  // A process-wide generator seeded from std::random_device.
  static Random& Real();
};

// Always answers `value` (clamped to [0, 1)); for deterministic tests.
class FixedRandom : public Random {
 public:
  explicit FixedRandom(double value) : value_(value < 0 ? 0 : (value >= 1 ? 0.999999 : value)) {}
  double Uniform01() override { return value_; }

 private:
  const double value_;
};

// Blocks the calling thread. Thread-safe.
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual void SleepMs(int64_t ms) = 0;
  // std::this_thread::sleep_for.
  static Sleeper& Real();
};

// Does not block: advances `clock` by the requested time and records it.
// Thread-safe; for tests that pair it with the same ManualClock.
class ManualSleeper : public Sleeper {
 public:
  explicit ManualSleeper(ManualClock& clock) : clock_(clock) {}
  void SleepMs(int64_t ms) override;
  // Every requested sleep, in order.
  std::vector<int64_t> Sleeps() const;
  int64_t TotalMs() const;

 private:
  ManualClock& clock_;
  mutable std::mutex mu_;
  std::vector<int64_t> sleeps_;  // guarded by mu_
};

struct RetryPolicy {
  int64_t base_ms = 1'000;        // first backoff cap
  int64_t max_ms = 60'000;        // backoff cap (not applied to Retry-After)
  int64_t deadline_ms = 120'000;  // total budget of one logical call, waits included
  // > 0: a Retry-After longer than this is not waited for inside the call; the
  // loop stops at once (kUnavailable) and reports the server's wait, so that a
  // caller serving many accounts from one thread can schedule the retry instead.
  int64_t max_retry_after_ms = 0;
  // Validates the numbers; kInvalidArgument "http.bad_retry_policy" otherwise.
  Status Validate() const;
};

// One HTTP answer, fully buffered.
struct HttpResponse {
  int status = 0;
  httplib::Headers headers;  // case-insensitive multimap
  std::string body;
  // First value of header `name` (case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

// Parses a Retry-After value: delta-seconds ("120") or an IMF-fixdate HTTP-date
// ("Sun, 06 Nov 1994 08:49:37 GMT"), relative to `now_ms`. Returns the wait in
// milliseconds (0 for a date in the past), or nullopt when absent/unparsable.
std::optional<int64_t> ParseRetryAfter(std::string_view value, int64_t now_ms);

// Formats `ms` as an IMF-fixdate (for servers and tests).
std::string FormatHttpDate(int64_t ms);

// True for the answers the loop retries: 429 and every 5xx.
bool IsRetryableHttpStatus(int status);

// Runs attempts under a RetryPolicy. Thread-safe (stateless apart from the
// injected collaborators, which must outlive it).
class Retrier {
 public:
  // `log_module` names the spdlog logger used for the "attempt=N" lines.
  Retrier(RetryPolicy policy, const Clock& clock, Sleeper& sleeper, Random& random,
          std::string log_module = "adapters.http");

  // One attempt. `attempt` counts from 1. Report a transport failure as a
  // kUnavailable Status; any other Status is final.
  using Attempt = std::function<Result<HttpResponse>(int attempt)>;

  // Runs `attempt` until it yields a non-retryable answer (returned as is,
  // whatever its HTTP status) or a non-kUnavailable Status (returned as is).
  // When the deadline leaves no room for the next wait, or the server's
  // Retry-After exceeds policy().max_retry_after_ms, returns kUnavailable
  // with reason `unavailable_reason` and a message naming `call`, the attempt
  // count and the last failure (never a body that could hold secrets). When it
  // stopped because of max_retry_after_ms, `*server_retry_after_ms` (if given)
  // receives the server's wait in milliseconds; it is left alone otherwise.
  Result<HttpResponse> Run(std::string_view call, const Attempt& attempt,
                           std::string unavailable_reason = "http.unavailable",
                           int64_t* server_retry_after_ms = nullptr) const;

  // The jittered wait before retry number `retry` (1-based), without Retry-After.
  int64_t BackoffMs(int retry) const;

  const RetryPolicy& policy() const { return policy_; }

 private:
  const RetryPolicy policy_;
  const Clock& clock_;
  Sleeper& sleeper_;
  Random& random_;
  const std::string log_module_;
};

}  // namespace ae::http
