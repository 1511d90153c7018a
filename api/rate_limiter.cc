#include "api/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace ae::api {

bool RateLimiter::Allow(const std::string& source, int64_t now_ms, int* retry_after_s) {
  if (per_second_ <= 0) return true;
  std::lock_guard lock(mu_);
  auto refill = [&](Bucket& b) {
    double elapsed = static_cast<double>(std::max<int64_t>(0, now_ms - b.at_ms)) / 1000.0;
    b.tokens = std::min(burst_, b.tokens + elapsed * per_second_);
    b.at_ms = now_ms;
  };
  auto it = buckets_.find(source);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_sources_) {
      for (auto b = buckets_.begin(); b != buckets_.end();) {
        refill(b->second);
        b = b->second.tokens >= burst_ ? buckets_.erase(b) : std::next(b);
      }
      if (buckets_.size() >= max_sources_) buckets_.clear();
    }
    it = buckets_.emplace(source, Bucket{burst_, now_ms}).first;
  }
  Bucket& b = it->second;
  refill(b);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  if (retry_after_s) {
    *retry_after_s = std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) / per_second_)));
  }
  return false;
}

}  // namespace ae::api
