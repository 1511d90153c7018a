#pragma once
// Clock: injected wherever time matters, so tests can control it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace ae {

class Clock {  // Thread-safe.
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch, UTC.
  virtual int64_t NowMs() const = 0;
  static Clock& Real();
};

class ManualClock : public Clock {  // Thread-safe; for tests.
 public:
  explicit ManualClock(int64_t now_ms = 1'700'000'000'000) : now_(now_ms) {}
  int64_t NowMs() const override { return now_.load(); }
  void Set(int64_t ms) { now_.store(ms); }
  void Advance(int64_t ms) { now_.fetch_add(ms); }

 private:
  std::atomic<int64_t> now_;
};

// RFC 3339 UTC with milliseconds: 2026-11-24T21:37:19.123Z
std::string FormatRfc3339(int64_t ms);
// Parses RFC 3339 (Z or +hh:mm offset, optional fraction). Returns false on error.
bool ParseRfc3339(std::string_view text, int64_t* ms);

}  // namespace ae
