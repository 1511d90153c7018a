#pragma once
// RateLimiter: a token bucket per source (e.g. a client address). Each source may make
// `burst` requests at once, then `per_second` on average. Memory is bounded: at most
// `max_sources` buckets; when full, the buckets that are full again (idle sources) are
// dropped, and if none is, every bucket is (a flood of sources gets a fresh start rather
// than unbounded memory).
//
// Thread-safe.

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ae::api {

class RateLimiter {
 public:
  RateLimiter(double per_second, double burst, size_t max_sources = 100'000)
      : per_second_(per_second), burst_(burst), max_sources_(max_sources) {}

  // Takes one token of `source` at `now_ms`. False (and *retry_after_s, whole seconds >= 1)
  // when the bucket is empty. A rate <= 0 never limits.
  bool Allow(const std::string& source, int64_t now_ms, int* retry_after_s = nullptr);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t at_ms = 0;
  };
  const double per_second_;
  const double burst_;
  const size_t max_sources_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
};

}  // namespace ae::api
