#include "events/base/clock.h"

#include <cstdio>
#include <optional>
#include <ctime>
#include <string>
#include <string_view>

namespace ae {
namespace {
class RealClock : public Clock {
 public:
  int64_t NowMs() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};
}  // namespace

Clock& Clock::Real() {
  static RealClock clock;
  return clock;
}

std::string FormatRfc3339(int64_t ms) {
  // The events of one batch share their time, and a projector formats it once per event:
  // the last answer of this thread is kept.
  thread_local std::optional<int64_t> last_ms;
  thread_local std::string last;
  if (last_ms == ms) return last;
  time_t secs = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int frac = static_cast<int>(ms - static_cast<int64_t>(secs) * 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  last_ms = ms;
  last = buf;
  return last;
}

bool ParseRfc3339(std::string_view t, int64_t* out) {
  auto digits = [&](size_t pos, size_t n, int* v) {
    if (pos + n > t.size()) return false;
    int r = 0;
    for (size_t i = 0; i < n; ++i) {
      char c = t[pos + i];
      if (c < '0' || c > '9') return false;
      r = r * 10 + (c - '0');
    }
    *v = r;
    return true;
  };
  int Y, M, D, h, m, s;
  if (!digits(0, 4, &Y) || t.size() < 20 || t[4] != '-' || !digits(5, 2, &M) || t[7] != '-' ||
      !digits(8, 2, &D) || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') || !digits(11, 2, &h) ||
      t[13] != ':' || !digits(14, 2, &m) || t[16] != ':' || !digits(17, 2, &s)) {
    return false;
  }
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || s > 60) return false;
  size_t pos = 19;
  int64_t frac_ms = 0;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    int n = 0;
    int64_t scale = 100;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      if (n < 3) frac_ms += (t[pos] - '0') * scale, scale /= 10;
      ++pos, ++n;
    }
    if (n == 0) return false;
  }
  int64_t offset_s = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    ++pos;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    int oh, om;
    if (!digits(pos + 1, 2, &oh) || pos + 3 >= t.size() || t[pos + 3] != ':' ||
        !digits(pos + 4, 2, &om))
      return false;
    offset_s = (oh * 3600 + om * 60) * (t[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return false;
  }
  if (pos != t.size()) return false;
  // days from civil (Howard Hinnant)
  int y = Y - (M <= 2);
  int era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = static_cast<unsigned>(y - era * 400);
  unsigned doy = (153 * (M + (M > 2 ? -3 : 9)) + 2) / 5 + D - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = static_cast<int64_t>(era) * 146097 + static_cast<int64_t>(doe) - 719468;
  int64_t secs = days * 86400 + h * 3600 + m * 60 + s - offset_s;
  *out = secs * 1000 + frac_ms;
  return true;
}

}  // namespace ae
