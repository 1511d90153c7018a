// The Knox CSV cell parsers: device statuses (spec samsung-kme.md §6.2), dates, Wi-Fi MAC
// addresses and tags.

#include <unordered_set>

#include "adapters/samsung_knox/csv_parts.h"

namespace ae::kme {

using namespace csv_parts;

namespace {

// ---- statuses (§6.2) ----------------------------------------------------------------------

struct StatusSpelling {
  std::string_view normalized;  // lower case letters and digits only
  KmeDeviceStatus status;
};

constexpr StatusSpelling kStatusSpellings[] = {
    {"pending", KmeDeviceStatus::kPending},
    {"unassigned", KmeDeviceStatus::kUnassigned},
    {"assignfailed", KmeDeviceStatus::kAssignFailed},
    {"failedtoassign", KmeDeviceStatus::kAssignFailed},
    {"profileassigned", KmeDeviceStatus::kProfileAssigned},
    {"canceledbyuser", KmeDeviceStatus::kCanceledByUser},
    {"cancelledbyuser", KmeDeviceStatus::kCanceledByUser},
    {"enrollfailed", KmeDeviceStatus::kEnrollFailed},
    {"failedtoenroll", KmeDeviceStatus::kEnrollFailed},
    {"failedtoprovision", KmeDeviceStatus::kEnrollFailed},
    {"enrolled", KmeDeviceStatus::kEnrolled},
    {"provisioned", KmeDeviceStatus::kEnrolled},
    {"enrolledrestricted", KmeDeviceStatus::kEnrolledRestricted},
    {"provisionedrestricted", KmeDeviceStatus::kEnrolledRestricted},
    {"provisionrestricted", KmeDeviceStatus::kEnrolledRestricted},
    {"expired", KmeDeviceStatus::kLicenseExpired},
    {"licenseexpired", KmeDeviceStatus::kLicenseExpired},
    {"lockedtimeout", KmeDeviceStatus::kLockedTimeout},
    {"lockedduetotimeout", KmeDeviceStatus::kLockedTimeout},
    {"lockedattestation", KmeDeviceStatus::kLockedAttestation},
    {"lockedduetoattestation", KmeDeviceStatus::kLockedAttestation},
    {"lockedduetoattestationfailure", KmeDeviceStatus::kLockedAttestation},
};

// ---- dates --------------------------------------------------------------------------------

int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {  // H. Hinnant's algorithm
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool ValidDate(int y, int m, int d) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[m - 1] + (m == 2 && leap ? 1 : 0);
}

struct Cursor {
  std::string_view s;
  size_t i = 0;

  bool End() const { return i == s.size(); }
  bool Peek(char c) const { return i < s.size() && s[i] == c; }
  bool Eat(char c) {
    if (!Peek(c)) return false;
    ++i;
    return true;
  }
  bool EatAnyOf(std::string_view set, char* got) {
    if (i >= s.size() || set.find(s[i]) == std::string_view::npos) return false;
    *got = s[i++];
    return true;
  }
  // Between `min` and `max` digits; false if fewer.
  bool Number(size_t min, size_t max, int* out) {
    size_t n = 0;
    int v = 0;
    while (i < s.size() && n < max && IsDigit(s[i])) {
      v = v * 10 + (s[i++] - '0');
      ++n;
    }
    *out = v;
    return n >= min;
  }
  void SkipSpaces() {
    while (Peek(' ')) ++i;
  }
  bool EatWord(std::string_view w) {  // case-insensitive
    if (s.size() - i < w.size()) return false;
    for (size_t k = 0; k < w.size(); ++k) {
      if (ToLower(s[i + k]) != w[k]) return false;
    }
    i += w.size();
    return true;
  }
};

// [T or space] HH:MM[:SS[.fff]] [AM|PM] [Z|UTC|GMT|+HH[:MM]]. Fills ms of the day and the
// zone offset in minutes. True if the rest of the text is such a time (or nothing).
bool ParseTimeOfDay(Cursor& c, bool allow_ampm, int64_t* ms, int* offset_min) {
  *ms = 0;
  *offset_min = 0;
  if (c.End()) return true;
  if (!c.Eat('T') && !c.Eat('t')) {
    if (!c.Peek(' ')) return false;
    c.SkipSpaces();
  }
  int h = 0, m = 0, s = 0, frac = 0;
  if (!c.Number(1, 2, &h) || !c.Eat(':') || !c.Number(2, 2, &m)) return false;
  if (c.Eat(':')) {
    if (!c.Number(2, 2, &s)) return false;
    if (c.Eat('.') || c.Eat(',')) {
      const size_t start = c.i;
      int digits = 0;
      if (!c.Number(1, 9, &digits)) return false;
      const size_t n = c.i - start;
      frac = digits;
      for (size_t k = n; k < 3; ++k) frac *= 10;
      for (size_t k = 3; k < n; ++k) frac /= 10;
    }
  }
  c.SkipSpaces();
  if (allow_ampm) {
    const bool am = c.EatWord("am");
    const bool pm = !am && c.EatWord("pm");
    if (am || pm) {
      if (h < 1 || h > 12) return false;
      h = (h % 12) + (pm ? 12 : 0);
      c.SkipSpaces();
    }
  }
  if (h > 23 || m > 59 || s > 59) return false;
  *ms = ((h * 60 + m) * 60 + s) * 1000LL + frac;
  if (c.Eat('Z') || c.Eat('z') || c.EatWord("utc") || c.EatWord("gmt")) {
    return c.End();
  }
  char sign = 0;
  if (c.EatAnyOf("+-", &sign)) {
    int oh = 0, om = 0;
    if (!c.Number(2, 2, &oh)) return false;
    c.Eat(':');
    if (!c.End() && !c.Number(2, 2, &om)) return false;
    if (oh > 14 || om > 59) return false;
    *offset_min = (sign == '-' ? -1 : 1) * (oh * 60 + om);
  }
  return c.End();
}

std::optional<int64_t> EpochMs(int y, int m, int d, int64_t ms_of_day, int offset_min) {
  if (!ValidDate(y, m, d)) return std::nullopt;
  return DaysFromCivil(y, m, d) * 86'400'000LL + ms_of_day - offset_min * 60'000LL;
}

}  // namespace

namespace csv_parts {

// ---- Wi-Fi MAC ----------------------------------------------------------------------------

std::optional<std::string> NormalizeMac(std::string_view s) {
  std::string hex;
  for (char c : s) {
    if (c == ':' || c == '-' || c == '.' || c == ' ') continue;
    const char u = (c >= 'a' && c <= 'f') ? static_cast<char>(c - 'a' + 'A') : c;
    if (!IsDigit(u) && !(u >= 'A' && u <= 'F')) return std::nullopt;
    hex.push_back(u);
  }
  if (hex.size() != 12) return std::nullopt;
  return hex;
}

}  // namespace csv_parts

std::string_view KmeDeviceStatusName(KmeDeviceStatus status) {
  switch (status) {
    case KmeDeviceStatus::kUnspecified:
      return "UNSPECIFIED";
    case KmeDeviceStatus::kUnknown:
      return "UNKNOWN";
    case KmeDeviceStatus::kPending:
      return "PENDING";
    case KmeDeviceStatus::kUnassigned:
      return "UNASSIGNED";
    case KmeDeviceStatus::kAssignFailed:
      return "ASSIGN_FAILED";
    case KmeDeviceStatus::kProfileAssigned:
      return "PROFILE_ASSIGNED";
    case KmeDeviceStatus::kCanceledByUser:
      return "CANCELED_BY_USER";
    case KmeDeviceStatus::kEnrollFailed:
      return "ENROLL_FAILED";
    case KmeDeviceStatus::kEnrolled:
      return "ENROLLED";
    case KmeDeviceStatus::kEnrolledRestricted:
      return "ENROLLED_RESTRICTED";
    case KmeDeviceStatus::kLicenseExpired:
      return "LICENSE_EXPIRED";
    case KmeDeviceStatus::kLockedTimeout:
      return "LOCKED_TIMEOUT";
    case KmeDeviceStatus::kLockedAttestation:
      return "LOCKED_ATTESTATION";
  }
  return "UNKNOWN";
}

KmeDeviceStatus ParseKmeDeviceStatus(std::string_view text) {
  std::string key;
  for (char c : text) {
    const char l = ToLower(c);
    if (IsDigit(l) || (l >= 'a' && l <= 'z')) key.push_back(l);
  }
  if (key.empty()) return KmeDeviceStatus::kUnspecified;
  for (const StatusSpelling& s : kStatusSpellings) {
    if (s.normalized == key) return s.status;
  }
  return KmeDeviceStatus::kUnknown;
}

KnoxCsvDate ParseKnoxCsvDate(std::string_view text) {
  KnoxCsvDate out;
  out.raw = std::string(Trim(text));
  const std::string_view s = out.raw;
  if (s.empty()) return out;

  // All digits: epoch milliseconds or YYYYMMDD / YYYYDDMM.
  if (std::all_of(s.begin(), s.end(), IsDigit)) {
    if (s.size() == 12 || s.size() == 13) {
      int64_t v = 0;
      for (char c : s) v = v * 10 + (c - '0');
      out.epoch_ms = v;
    } else if (s.size() == 8) {
      const int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
      const int a = (s[4] - '0') * 10 + (s[5] - '0');
      const int b = (s[6] - '0') * 10 + (s[7] - '0');
      const std::optional<int64_t> ymd = EpochMs(y, a, b, 0, 0);
      const std::optional<int64_t> ydm = EpochMs(y, b, a, 0, 0);
      if (ymd && ydm && *ymd != *ydm) {
        out.ambiguous = true;
      } else {
        out.epoch_ms = ymd ? ymd : ydm;
      }
    }
    return out;
  }

  Cursor c{s};
  int a = 0, b = 0, y = 0;
  char sep = 0, sep2 = 0;
  int64_t ms = 0;
  int offset = 0;
  // YYYY-MM-DD or YYYY/MM/DD, then an optional time.
  if (c.Number(4, 4, &y) && c.EatAnyOf("-/", &sep) && c.Number(1, 2, &a) && c.Eat(sep) &&
      c.Number(1, 2, &b) && ParseTimeOfDay(c, /*allow_ampm=*/false, &ms, &offset)) {
    out.epoch_ms = EpochMs(y, a, b, ms, offset);
    return out;
  }
  // A/B/YYYY, A-B-YYYY or D.M.YYYY, then an optional time.
  c = Cursor{s};
  if (c.Number(1, 2, &a) && c.EatAnyOf("/-.", &sep) && c.Number(1, 2, &b) &&
      c.EatAnyOf("/-.", &sep2) && sep2 == sep && c.Number(4, 4, &y) &&
      ParseTimeOfDay(c, /*allow_ampm=*/true, &ms, &offset)) {
    int month = a, day = b;  // US order unless told otherwise
    if (sep == '.' || a > 12) {
      month = b;
      day = a;
    } else if (b <= 12 && a != b) {
      out.ambiguous = true;  // 03/04/2024: March 4 or April 3
      return out;
    }
    out.epoch_ms = EpochMs(y, month, day, ms, offset);
  }
  return out;
}

std::vector<std::string> SplitKnoxTags(std::string_view cell, bool split_on_semicolon) {
  std::vector<std::string> tags;
  std::unordered_set<std::string> seen;  // lower-cased, used past a few tags
  constexpr size_t kLinearMax = 8;
  const std::string_view seps = split_on_semicolon ? ",;\n\r" : ",\n\r";
  size_t start = 0;
  while (start <= cell.size()) {
    size_t end = cell.find_first_of(seps, start);
    if (end == std::string_view::npos) end = cell.size();
    const std::string_view tag = Trim(cell.substr(start, end - start));
    start = end + 1;
    if (tag.empty()) continue;
    std::string key = Lower(tag);
    bool dup = false;
    if (tags.size() < kLinearMax) {
      dup = std::any_of(tags.begin(), tags.end(),
                        [&](const std::string& t) { return Lower(t) == key; });
    } else {
      if (seen.empty()) {
        for (const std::string& t : tags) seen.insert(Lower(t));
      }
      dup = !seen.insert(key).second;
    }
    if (!dup) tags.emplace_back(tag);
  }
  return tags;
}

}  // namespace ae::kme
