#include "adapters/http/retry.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include "events/base/logging.h"

namespace ae::http {
namespace {

class RealRandom : public Random {
 public:
  double Uniform01() override {
    std::lock_guard lock(mu_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(gen_);
  }

 private:
  std::mutex mu_;
  std::mt19937_64 gen_{std::random_device{}()};  // guarded by mu_
};

class RealSleeper : public Sleeper {
 public:
  void SleepMs(int64_t ms) override {
    if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
};

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

Random& Random::Real() {
  static RealRandom random;
  return random;
}

Sleeper& Sleeper::Real() {
  static RealSleeper sleeper;
  return sleeper;
}

void ManualSleeper::SleepMs(int64_t ms) {
  {
    std::lock_guard lock(mu_);
    sleeps_.push_back(ms);
  }
  if (ms > 0) clock_.Advance(ms);
}

std::vector<int64_t> ManualSleeper::Sleeps() const {
  std::lock_guard lock(mu_);
  return sleeps_;
}

int64_t ManualSleeper::TotalMs() const {
  std::lock_guard lock(mu_);
  int64_t total = 0;
  for (int64_t s : sleeps_) total += s;
  return total;
}

Status RetryPolicy::Validate() const {
  if (base_ms <= 0 || max_ms < base_ms || deadline_ms < 0 || max_retry_after_ms < 0) {
    return InvalidArgument("http.bad_retry_policy",
                           "retry policy needs 0 < base_ms <= max_ms, deadline_ms >= 0 and "
                           "max_retry_after_ms >= 0");
  }
  return Status::Ok();
}

std::string HttpResponse::Header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

std::optional<int64_t> ParseRetryAfter(std::string_view value, int64_t now_ms) {
  value = Trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return std::nullopt;  // > 31 years: nonsense
    int64_t secs = 0;
    for (char c : value) secs = secs * 10 + (c - '0');
    return secs * 1000;
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  char wday[4] = {}, mon[4] = {}, zone[4] = {};
  int day = 0, year = 0, h = 0, m = 0, s = 0;
  std::string v(value);
  if (std::sscanf(v.c_str(), "%3s, %d %3s %d %d:%d:%d %3s", wday, &day, mon, &year, &h, &m, &s,
                  zone) != 8) {
    return std::nullopt;
  }
  if (std::string_view(zone) != "GMT") return std::nullopt;
  int month = -1;
  for (int i = 0; i < 12; ++i) {
    if (std::string_view(mon) == kMonths[i]) month = i;
  }
  if (month < 0 || day < 1 || day > 31 || h > 23 || m > 59 || s > 60 || year < 1970) {
    return std::nullopt;
  }
  struct tm tm = {};
  tm.tm_year = year - 1900;
  tm.tm_mon = month;
  tm.tm_mday = day;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = s;
  int64_t at_ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  return std::max<int64_t>(0, at_ms - now_ms);
}

std::string FormatHttpDate(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

bool IsRetryableHttpStatus(int status) { return status == 429 || status >= 500; }

Retrier::Retrier(RetryPolicy policy, const Clock& clock, Sleeper& sleeper, Random& random,
                 std::string log_module)
    : policy_(policy),
      clock_(clock),
      sleeper_(sleeper),
      random_(random),
      log_module_(std::move(log_module)) {}

int64_t Retrier::BackoffMs(int retry) const {
  int64_t cap = policy_.base_ms;
  for (int i = 1; i < retry && cap < policy_.max_ms; ++i) cap *= 2;
  cap = std::min(cap, policy_.max_ms);
  int64_t half = cap / 2;
  return half + static_cast<int64_t>(random_.Uniform01() * static_cast<double>(cap - half));
}

Result<HttpResponse> Retrier::Run(std::string_view call, const Attempt& attempt,
                                  std::string unavailable_reason,
                                  int64_t* server_retry_after_ms) const {
  auto logger = log::Get(log_module_);
  const int64_t deadline = clock_.NowMs() + policy_.deadline_ms;
  for (int n = 1;; ++n) {
    Result<HttpResponse> r = attempt(n);
    std::string failure;
    std::optional<int64_t> retry_after;
    if (!r.ok()) {
      if (r.status().code() != StatusCode::kUnavailable) return r;
      failure = r.status().message();
    } else if (IsRetryableHttpStatus(r->status)) {
      failure = "HTTP " + std::to_string(r->status);
      retry_after = ParseRetryAfter(r->Header("Retry-After"), clock_.NowMs());
    } else {
      if (n > 1) logger->info("[call={} attempt={}] succeeded after retries", call, n);
      return r;
    }
    const int64_t wait = retry_after ? *retry_after : BackoffMs(n);
    const int64_t now = clock_.NowMs();
    const bool too_long = retry_after && policy_.max_retry_after_ms > 0 &&
                          *retry_after > policy_.max_retry_after_ms;
    if (too_long || now + wait > deadline) {
      std::string msg = std::string(call) + ": still failing after " + std::to_string(n) +
                        " attempt(s) (" + failure + ")";
      if (retry_after)
        msg += "; server asked to retry after " + std::to_string(*retry_after) + " ms";
      if (too_long && server_retry_after_ms != nullptr) *server_retry_after_ms = *retry_after;
      logger->warn("[call={} attempt={}] giving up: {}{}", call, n, failure,
                   too_long ? " (Retry-After longer than this call may wait)" : "");
      return Unavailable(std::move(unavailable_reason), std::move(msg));
    }
    logger->warn("[call={} attempt={}] {}; retrying in {} ms{}", call, n, failure, wait,
                 retry_after ? " (Retry-After)" : "");
    sleeper_.SleepMs(wait);
  }
}

}  // namespace ae::http
