#include "adapters/samsung_knox/csv_reader.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_set>

#include "events/base/text.h"

namespace ae::kme {
namespace {

constexpr size_t kNpos = std::string::npos;
constexpr size_t kCellCost = 32;  // bytes a cell costs beyond its text (for the record limit)

// ---- text helpers -------------------------------------------------------------------------

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToLower(c);
  return out;
}

// Length of the blank (ASCII white space, U+00A0 or U+FEFF) at s[i], 0 if none.
size_t BlankAt(std::string_view s, size_t i) {
  const char c = s[i];
  if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f') return 1;
  if (c == '\xC2' && i + 1 < s.size() && s[i + 1] == '\xA0') return 2;
  if (c == '\xEF' && i + 2 < s.size() && s[i + 1] == '\xBB' && s[i + 2] == '\xBF') return 3;
  return 0;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && BlankAt(s, 0) > 0) s.remove_prefix(BlankAt(s, 0));
  while (!s.empty()) {
    if (BlankAt(s, s.size() - 1) == 1) {
      s.remove_suffix(1);
    } else if (s.size() >= 2 && BlankAt(s, s.size() - 2) == 2) {
      s.remove_suffix(2);
    } else if (s.size() >= 3 && BlankAt(s, s.size() - 3) == 3) {
      s.remove_suffix(3);
    } else {
      break;
    }
  }
  return s;
}

bool IsBlank(std::string_view s) { return Trim(s).empty(); }

// ---- encodings ----------------------------------------------------------------------------

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// Windows-1252 0x80..0x9F (WHATWG: the five unassigned bytes map to C1 controls).
constexpr std::array<uint16_t, 32> kCp1252High = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

std::string Cp1252ToUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 2);
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else if (c < 0xA0) {
      AppendUtf8(out, kCp1252High[c - 0x80]);
    } else {
      AppendUtf8(out, c);
    }
  }
  return out;
}

// ---- header synonyms (§1.1) ---------------------------------------------------------------

// Lower case; drops white space, U+00A0, U+FEFF and ':' '*' '_' '-' '/' '.'.
std::string NormalizeHeader(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (size_t n = BlankAt(s, i); n > 0) {
      i += n;
      continue;
    }
    const char c = s[i++];
    if (std::strchr(":*_-/.", c) != nullptr) continue;
    out.push_back(ToLower(c));
  }
  return out;
}

struct Synonym {
  std::string_view normalized;
  KnoxCsvField field;
};

// Every synonym of §1.1 in NormalizeHeader form, plus the canonical names.
constexpr Synonym kSynonyms[] = {
    {"imeimeid", KnoxCsvField::kImei},
    {"imei", KnoxCsvField::kImei},
    {"imei1", KnoxCsvField::kImei},
    {"meid", KnoxCsvField::kImei},
    {"deviceid", KnoxCsvField::kImei},
    {"deviceimei", KnoxCsvField::kImei},
    {"deviceimeiorserialnumber", KnoxCsvField::kImei},
    {"imeiorserial", KnoxCsvField::kImei},
    {"imeiorserialnumber", KnoxCsvField::kImei},
    {"deviceimeiserialnumber", KnoxCsvField::kImei},
    {"deviceuid", KnoxCsvField::kImei},
    {"imei2", KnoxCsvField::kImei2},
    {"secondimei", KnoxCsvField::kImei2},
    {"serialnumber", KnoxCsvField::kSerial},
    {"serial", KnoxCsvField::kSerial},
    {"sn", KnoxCsvField::kSerial},
    {"wifidevicemacaddress", KnoxCsvField::kWifiMac},
    {"wifiphonemacaddress", KnoxCsvField::kWifiMac},
    {"wifimac", KnoxCsvField::kWifiMac},
    {"wifimacaddress", KnoxCsvField::kWifiMac},
    {"macaddress", KnoxCsvField::kWifiMac},
    {"model", KnoxCsvField::kModel},
    {"modelname", KnoxCsvField::kModel},
    {"osversion", KnoxCsvField::kOsVersion},
    {"androidversion", KnoxCsvField::kOsVersion},
    {"ordernumber", KnoxCsvField::kOrderNumber},
    {"orderno", KnoxCsvField::kOrderNumber},
    {"orderid", KnoxCsvField::kOrderNumber},
    {"orderdate", KnoxCsvField::kOrderDate},
    {"emmuserid", KnoxCsvField::kUserId},
    {"userid", KnoxCsvField::kUserId},
    {"username", KnoxCsvField::kUserId},
    {"emmpassword", KnoxCsvField::kPassword},
    {"password", KnoxCsvField::kPassword},
    {"tags", KnoxCsvField::kTags},
    {"tag", KnoxCsvField::kTags},
    {"submitted", KnoxCsvField::kSubmitted},
    {"submitteddate", KnoxCsvField::kSubmitted},
    {"addedon", KnoxCsvField::kSubmitted},
    {"uploaddate", KnoxCsvField::kSubmitted},
    {"reselleruploadtime", KnoxCsvField::kSubmitted},
    {"enrollmentprofile", KnoxCsvField::kProfile},
    {"profile", KnoxCsvField::kProfile},
    {"profilename", KnoxCsvField::kProfile},
    {"mdmprofile", KnoxCsvField::kProfile},
    {"status", KnoxCsvField::kStatus},
    {"devicestatus", KnoxCsvField::kStatus},
    {"state", KnoxCsvField::kStatus},
    {"resellerid", KnoxCsvField::kResellerId},
    {"resellername", KnoxCsvField::kResellerName},
    {"reseller", KnoxCsvField::kResellerName},
    {"lastmodifiedadmin", KnoxCsvField::kModifiedBy},
    {"modifiedby", KnoxCsvField::kModifiedBy},
    {"lastmodifiedtime", KnoxCsvField::kModifiedAt},
    {"lastmodified", KnoxCsvField::kModifiedAt},
    {"updated", KnoxCsvField::kModifiedAt},
    {"modifiedat", KnoxCsvField::kModifiedAt},
    {"emmautoenrollment", KnoxCsvField::kEmmAutoEnroll},
    {"emmautoenroll", KnoxCsvField::kEmmAutoEnroll},
    {"devicename", KnoxCsvField::kDeviceName},
};

bool IsIdentifierField(KnoxCsvField f) {
  return f == KnoxCsvField::kImei || f == KnoxCsvField::kImei2 || f == KnoxCsvField::kSerial;
}

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

// ---- the duplicate index ------------------------------------------------------------------

// A 64-bit key per identifier: the kind in the top two bits, then the 14 IMEI digits or the
// 14 MEID hex digits as a number (exact), or 62 bits of a serial's hash.
uint64_t SeenKey(IdentifierKind kind, std::string_view value) {
  uint64_t v = 0;
  switch (kind) {
    case IdentifierKind::kImei:
      for (char c : DeviceIdentity::Imei14(value)) v = v * 10 + static_cast<uint64_t>(c - '0');
      return (uint64_t{1} << 62) | v;
    case IdentifierKind::kMeid:
      for (char c : value) v = v * 16 + static_cast<uint64_t>(IsDigit(c) ? c - '0' : c - 'A' + 10);
      return (uint64_t{2} << 62) | v;
    case IdentifierKind::kSerial:
      break;
  }
  return (uint64_t{3} << 62) | (std::hash<std::string_view>{}(value) >> 2);
}

// Open-addressing map from SeenKey to the line that first named it: 12 bytes per slot, at
// most 80% full, so about 15-30 bytes per identifier (100,000 dual-keyed rows: ~3 MB).
// IMEI and MEID keys are exact; two different serials could share a key with probability
// ~2^-62 per pair, which would report a false duplicate.
class SeenIndex {
 public:
  // The line recorded for `key` (never 0), or 0.
  uint64_t Find(uint64_t key) const {
    if (keys_.empty()) return 0;
    const size_t mask = keys_.size() - 1;
    for (size_t i = Mix(key) & mask;; i = (i + 1) & mask) {
      if (keys_[i] == 0) return 0;
      if (keys_[i] == key) return lines_[i];
    }
  }
  void Insert(uint64_t key, uint64_t line) {
    if ((size_ + 1) * 5 > keys_.size() * 4) Grow();
    const size_t mask = keys_.size() - 1;
    for (size_t i = Mix(key) & mask;; i = (i + 1) & mask) {
      if (keys_[i] == key) return;
      if (keys_[i] == 0) {
        keys_[i] = key;
        lines_[i] = static_cast<uint32_t>(std::min<uint64_t>(line, UINT32_MAX));
        ++size_;
        return;
      }
    }
  }

 private:
  static size_t Mix(uint64_t k) {  // the IMEI keys are sequential numbers: spread them
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDULL;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }
  void Grow() {
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<uint32_t> old_lines = std::move(lines_);
    const size_t n = old_keys.empty() ? 64 : old_keys.size() * 2;
    keys_.assign(n, 0);
    lines_.assign(n, 0);
    size_ = 0;
    for (size_t i = 0; i < old_keys.size(); ++i) {
      if (old_keys[i] != 0) Insert(old_keys[i], old_lines[i]);
    }
  }

  std::vector<uint64_t> keys_;  // 0: empty slot (no SeenKey is 0)
  std::vector<uint32_t> lines_;
  size_t size_ = 0;
};

}  // namespace

// ---- public free functions ----------------------------------------------------------------

std::string_view KnoxCsvFieldName(KnoxCsvField field) {
  switch (field) {
    case KnoxCsvField::kImei:
      return "imei";
    case KnoxCsvField::kImei2:
      return "imei2";
    case KnoxCsvField::kSerial:
      return "serial";
    case KnoxCsvField::kWifiMac:
      return "wifi_mac";
    case KnoxCsvField::kModel:
      return "model";
    case KnoxCsvField::kOsVersion:
      return "os_version";
    case KnoxCsvField::kOrderNumber:
      return "order_number";
    case KnoxCsvField::kOrderDate:
      return "order_date";
    case KnoxCsvField::kUserId:
      return "user_id";
    case KnoxCsvField::kPassword:
      return "password";
    case KnoxCsvField::kTags:
      return "tags";
    case KnoxCsvField::kSubmitted:
      return "submitted";
    case KnoxCsvField::kProfile:
      return "profile";
    case KnoxCsvField::kStatus:
      return "status";
    case KnoxCsvField::kResellerId:
      return "reseller_id";
    case KnoxCsvField::kResellerName:
      return "reseller_name";
    case KnoxCsvField::kModifiedBy:
      return "modified_by";
    case KnoxCsvField::kModifiedAt:
      return "modified_at";
    case KnoxCsvField::kEmmAutoEnroll:
      return "emm_auto_enroll";
    case KnoxCsvField::kDeviceName:
      return "device_name";
    case KnoxCsvField::kAttribute:
      return "attribute";
  }
  return "attribute";
}

std::optional<KnoxCsvField> MatchKnoxCsvHeader(std::string_view header) {
  const std::string key = NormalizeHeader(header);
  if (key.empty()) return std::nullopt;
  for (const Synonym& s : kSynonyms) {
    if (s.normalized == key) return s.field;
  }
  return std::nullopt;
}

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

std::string_view KnoxCsvEncodingName(KnoxCsvEncoding encoding) {
  switch (encoding) {
    case KnoxCsvEncoding::kUndetected:
      return "undetected";
    case KnoxCsvEncoding::kUtf8:
      return "UTF-8";
    case KnoxCsvEncoding::kUtf8Bom:
      return "UTF-8 with BOM";
    case KnoxCsvEncoding::kUtf16Le:
      return "UTF-16LE";
    case KnoxCsvEncoding::kUtf16Be:
      return "UTF-16BE";
  }
  return "undetected";
}

Status KnoxCsvOptions::Validate() const {
  if (max_record_bytes < 1024) {
    return InvalidArgument("csv.options_invalid", "max_record_bytes must be at least 1024",
                           "max_record_bytes");
  }
  return Status::Ok();
}

// ---- the reader ---------------------------------------------------------------------------

class KnoxCsvReader::Impl {
 public:
  explicit Impl(KnoxCsvOptions options) : options_(options), error_(options.Validate()) {}

  Status Feed(std::string_view chunk) {
    if (!error_.ok()) return error_;
    if (finished_) {
      return FailedPrecondition("csv.reader_finished", "Feed() called after Finish()");
    }
    Compact();
    if (encoding_ == KnoxCsvEncoding::kUndetected) {
      sniff_.append(chunk);
      if (sniff_.size() >= 4) DetectEncodingAndFlush();
    } else {
      Transcode(chunk);
    }
    stats_.peak_buffered_bytes = std::max(stats_.peak_buffered_bytes, buf_.size() + sniff_.size());
    return Status::Ok();
  }

  Status Finish() {
    if (!error_.ok()) return error_;
    if (finished_) return Status::Ok();
    if (encoding_ == KnoxCsvEncoding::kUndetected) DetectEncodingAndFlush();
    if (high_surrogate_ != 0 || carry_ >= 0) {
      if (high_surrogate_ != 0) AppendUtf8(buf_, 0xFFFD);  // a lone high surrogate
      if (carry_ >= 0) AppendUtf8(buf_, 0xFFFD);           // an odd byte at the end
      last_byte_ = static_cast<unsigned char>(buf_.back());
    }
    carry_ = -1;
    high_surrogate_ = 0;
    finished_ = true;
    return Status::Ok();
  }

  Result<std::optional<KnoxCsvRecord>> Next() {
    if (!error_.ok()) return error_;
    while (true) {
      if (encoding_ == KnoxCsvEncoding::kUndetected) return std::optional<KnoxCsvRecord>();
      if (delim_ == 0 && !DetectDelimiter()) return std::optional<KnoxCsvRecord>();
      const Scan scan = ScanRecord();
      if (scan == Scan::kNeedMore) {
        if (!finished_) return std::optional<KnoxCsvRecord>();
        if (!in_record_) return End();
        if (tok_ == Tok::kQuoted && restart_offset_ != kNpos && header_decided_) {
          return Reject(UnterminatedQuote(/*at_eof=*/true));
        }
        EndField();  // the last line has no line break (or a quote left open on it)
        in_record_ = false;
      } else if (scan == Scan::kOversize) {
        std::optional<KnoxCsvRecord> rejected = Oversize();
        if (!error_.ok()) return error_;
        return rejected;
      }
      Result<std::optional<KnoxCsvRecord>> out = ProcessRecord();
      if (!out.ok()) return Fail(out.status());
      if (out->has_value()) return out;
    }
  }

  bool done() const { return done_; }
  const std::vector<KnoxCsvColumn>& columns() const { return columns_; }
  bool has_header() const { return has_header_; }
  char delimiter() const { return delim_; }
  KnoxCsvEncoding encoding() const { return encoding_; }
  const KnoxCsvStats& stats() const { return stats_; }

 private:
  enum class Tok : uint8_t { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };
  enum class Scan : uint8_t { kRecord, kNeedMore, kOversize };

  // ---- bytes in -------------------------------------------------------------------------

  // Drops consumed input, keeping the current record (a restart may re-read it).
  void Compact() {
    const size_t keep_from = in_record_ ? record_start_ : pos_;
    if (keep_from == 0) return;
    buf_.erase(0, keep_from);
    pos_ -= keep_from;
    if (in_record_) {
      record_start_ -= keep_from;
      if (restart_offset_ != kNpos) restart_offset_ -= keep_from;
    }
  }

  void DetectEncodingAndFlush() {
    const auto b = [&](size_t i) {
      return i < sniff_.size() ? static_cast<unsigned char>(sniff_[i]) : 0x100u;
    };
    size_t bom = 0;
    if (b(0) == 0xEF && b(1) == 0xBB && b(2) == 0xBF) {
      encoding_ = KnoxCsvEncoding::kUtf8Bom;
      bom = 3;
    } else if (b(0) == 0xFF && b(1) == 0xFE) {
      encoding_ = KnoxCsvEncoding::kUtf16Le;
      bom = 2;
    } else if (b(0) == 0xFE && b(1) == 0xFF) {
      encoding_ = KnoxCsvEncoding::kUtf16Be;
      bom = 2;
    } else if (sniff_.size() >= 4 && b(0) != 0 && b(1) == 0 && b(2) != 0 && b(3) == 0) {
      encoding_ = KnoxCsvEncoding::kUtf16Le;  // "I\0M\0": UTF-16LE without BOM
    } else if (sniff_.size() >= 4 && b(0) == 0 && b(1) != 0 && b(2) == 0 && b(3) != 0) {
      encoding_ = KnoxCsvEncoding::kUtf16Be;
    } else {
      encoding_ = KnoxCsvEncoding::kUtf8;
    }
    std::string rest = std::move(sniff_);
    sniff_.clear();
    sniff_.shrink_to_fit();
    Transcode(std::string_view(rest).substr(bom));
  }

  bool utf16() const {
    return encoding_ == KnoxCsvEncoding::kUtf16Le || encoding_ == KnoxCsvEncoding::kUtf16Be;
  }

  // Appends `bytes` to buf_ as UTF-8 (UTF-16 is transcoded; UTF-8/1252 stay as they are:
  // every byte CSV cares about is ASCII, and cells are decoded once complete).
  void Transcode(std::string_view bytes) {
    if (bytes.empty()) return;
    if (!utf16()) {
      buf_.append(bytes);
      last_byte_ = static_cast<unsigned char>(bytes.back());
      return;
    }
    const bool le = encoding_ == KnoxCsvEncoding::kUtf16Le;
    auto unit = [le](unsigned char first, unsigned char second) {
      return static_cast<uint16_t>(le ? (second << 8 | first) : (first << 8 | second));
    };
    size_t i = 0;
    if (carry_ >= 0) {
      EmitUnit(unit(static_cast<unsigned char>(carry_), static_cast<unsigned char>(bytes[0])));
      carry_ = -1;
      i = 1;
    }
    for (; i + 1 < bytes.size(); i += 2) {
      EmitUnit(
          unit(static_cast<unsigned char>(bytes[i]), static_cast<unsigned char>(bytes[i + 1])));
    }
    if (i < bytes.size()) carry_ = static_cast<unsigned char>(bytes[i]);
    if (!buf_.empty()) last_byte_ = static_cast<unsigned char>(buf_.back());
  }

  void EmitUnit(uint16_t u) {
    if (high_surrogate_ != 0) {
      if (u >= 0xDC00 && u <= 0xDFFF) {
        AppendUtf8(buf_, 0x10000 + ((high_surrogate_ - 0xD800u) << 10) + (u - 0xDC00u));
        high_surrogate_ = 0;
        return;
      }
      AppendUtf8(buf_, 0xFFFD);
      high_surrogate_ = 0;
    }
    if (u >= 0xD800 && u <= 0xDBFF) {
      high_surrogate_ = u;
    } else if (u >= 0xDC00 && u <= 0xDFFF) {
      AppendUtf8(buf_, 0xFFFD);
    } else {
      AppendUtf8(buf_, u);
    }
  }

  // ---- dialect ---------------------------------------------------------------------------

  // Picks the delimiter from the first non-blank line. False: more input is needed.
  bool DetectDelimiter() {
    size_t i = pos_;
    const size_t n = buf_.size();
    // Skip blank lines.
    size_t line_start = i;
    while (i < n) {
      const char c = buf_[i];
      if (c == '\r' || c == '\n') {
        line_start = ++i;
      } else if (c == ' ' || c == '\t') {
        ++i;
      } else {
        break;
      }
    }
    i = line_start;
    size_t counts[3] = {0, 0, 0};  // , ; TAB
    bool quoted = false;
    bool line_end = false;
    for (; i < n && i - line_start <= options_.max_record_bytes; ++i) {
      const char c = buf_[i];
      if (c == '"') {
        quoted = !quoted;
      } else if (!quoted && (c == '\r' || c == '\n')) {
        line_end = true;
        break;
      } else if (!quoted) {
        if (c == ',') ++counts[0];
        if (c == ';') ++counts[1];
        if (c == '\t') ++counts[2];
      }
    }
    if (!line_end && !finished_ && i - line_start <= options_.max_record_bytes) return false;
    delim_ = ',';
    if (counts[1] > counts[0] && counts[1] >= counts[2]) delim_ = ';';
    if (counts[2] > counts[0] && counts[2] > counts[1]) delim_ = '\t';
    return true;
  }

  // ---- records ---------------------------------------------------------------------------

  void EndField() {
    if (ncells_ < cells_.size()) {
      cells_[ncells_].swap(field_);
    } else {
      cells_.push_back(std::move(field_));
    }
    ++ncells_;
    field_.clear();
  }

  void EndLine(char c) {
    ++line_;
    after_cr_ = c == '\r';
  }

  // Advances through buf_ until a record is complete (cells_[0, ncells_)), the input runs
  // out, or the record outgrows max_record_bytes.
  Scan ScanRecord() {
    const char* data = buf_.data();
    const size_t n = buf_.size();
    const char d = delim_;
    while (pos_ < n) {
      const char c = data[pos_];
      if (after_cr_) {
        after_cr_ = false;
        if (c == '\n') {  // the LF of a CRLF
          ++pos_;
          continue;
        }
      }
      if (skipping_) {  // discarding the rest of an oversized line
        ++pos_;
        if (c == '\r' || c == '\n') {
          EndLine(c);
          skipping_ = false;
        }
        continue;
      }
      if (!in_record_) {
        in_record_ = true;
        record_start_ = pos_;
        record_line_ = line_;
        tok_ = Tok::kFieldStart;
        ncells_ = 0;
        field_.clear();
        restart_offset_ = kNpos;
      }
      ++pos_;
      switch (tok_) {
        case Tok::kFieldStart:
          if (c == '"') {
            field_.clear();  // spaces before an opening quote are not data
            tok_ = Tok::kQuoted;
          } else if (c == d) {
            EndField();
          } else if (c == '\r' || c == '\n') {
            EndField();
            EndLine(c);
            in_record_ = false;
            return Scan::kRecord;
          } else {
            field_.push_back(c);
            if (c != ' ') tok_ = Tok::kUnquoted;
          }
          break;
        case Tok::kUnquoted: {
          if (c == d) {
            EndField();
            tok_ = Tok::kFieldStart;
          } else if (c == '\r' || c == '\n') {
            EndField();
            EndLine(c);
            in_record_ = false;
            return Scan::kRecord;
          } else {
            // Fast path: take the run up to the next delimiter or line break.
            size_t end = pos_;
            while (end < n && data[end] != d && data[end] != '\r' && data[end] != '\n') ++end;
            field_.push_back(c);
            field_.append(data + pos_, end - pos_);
            pos_ = end;
          }
          break;
        }
        case Tok::kQuoted: {
          if (c == '"') {
            tok_ = Tok::kQuoteInQuoted;
          } else if (c == '\r' || c == '\n') {
            field_.push_back('\n');  // line breaks inside quotes read as LF
            EndLine(c);
            if (restart_offset_ == kNpos) {
              restart_offset_ = pos_;
              restart_line_ = line_;
              restart_after_cr_ = after_cr_;
            }
          } else {
            size_t end = pos_;
            while (end < n && data[end] != '"' && data[end] != '\r' && data[end] != '\n') ++end;
            field_.push_back(c);
            field_.append(data + pos_, end - pos_);
            pos_ = end;
          }
          break;
        }
        case Tok::kQuoteInQuoted:
          if (c == '"') {
            field_.push_back('"');
            tok_ = Tok::kQuoted;
          } else if (c == d) {
            EndField();
            tok_ = Tok::kFieldStart;
          } else if (c == '\r' || c == '\n') {
            EndField();
            EndLine(c);
            in_record_ = false;
            return Scan::kRecord;
          } else {
            field_.push_back(c);  // "abc"def: lenient, read as abcdef
            tok_ = Tok::kUnquoted;
          }
          break;
      }
      if (pos_ - record_start_ + ncells_ * kCellCost > options_.max_record_bytes) {
        return Scan::kOversize;
      }
    }
    return Scan::kNeedMore;
  }

  // Restarts reading at the line after the current record's first line.
  void RestartAfterFirstLine() {
    pos_ = restart_offset_;
    line_ = restart_line_;
    after_cr_ = restart_after_cr_;
    in_record_ = false;
    restart_offset_ = kNpos;
  }

  KnoxCsvRejection UnterminatedQuote(bool at_eof) {
    KnoxCsvRejection r;
    r.line = record_line_;
    r.code = "csv.unterminated_quote";
    r.message =
        "a quoted cell opened on line " + std::to_string(record_line_) +
        (at_eof ? " is never closed"
                : " is not closed within " + std::to_string(options_.max_record_bytes) + " bytes") +
        "; the row was skipped and reading resumed at line " + std::to_string(restart_line_);
    RestartAfterFirstLine();
    return r;
  }

  std::optional<KnoxCsvRecord> Oversize() {
    if (!header_decided_) {
      Fail(Unprocessable("csv.record_too_large",
                         "the first row is longer than " +
                             std::to_string(options_.max_record_bytes) + " bytes",
                         "header"))
          .IgnoreError();
      return std::nullopt;
    }
    if (restart_offset_ != kNpos) {
      if (tok_ == Tok::kQuoted) return Reject(UnterminatedQuote(/*at_eof=*/false));
      KnoxCsvRejection r;
      r.line = record_line_;
      r.code = "csv.record_too_large";
      r.message = "the row starting on line " + std::to_string(record_line_) + " is longer than " +
                  std::to_string(options_.max_record_bytes) +
                  " bytes; it was skipped and reading resumed at line " +
                  std::to_string(restart_line_);
      RestartAfterFirstLine();
      return Reject(std::move(r));
    }
    KnoxCsvRejection r;
    r.line = record_line_;
    r.code = "csv.record_too_large";
    r.message = "line " + std::to_string(record_line_) + " is longer than " +
                std::to_string(options_.max_record_bytes) + " bytes; it was skipped";
    in_record_ = false;
    skipping_ = true;
    return Reject(std::move(r));
  }

  Status Fail(Status s) {
    error_ = s;
    return s;
  }

  Result<std::optional<KnoxCsvRecord>> End() {
    if (!header_decided_) {
      return Fail(Unprocessable("csv.empty_file", "the file has no rows", "file"));
    }
    stats_.lines = line_ - 1 + (last_byte_ >= 0 && last_byte_ != '\r' && last_byte_ != '\n');
    done_ = true;
    return std::optional<KnoxCsvRecord>();
  }

  std::optional<KnoxCsvRecord> Reject(KnoxCsvRejection r) {
    ++stats_.rows_rejected;
    return KnoxCsvRecord(std::move(r));
  }

  // Decodes a complete cell to UTF-8 (Windows-1252 if it is not valid UTF-8).
  void DecodeCell(std::string& cell) {
    if (utf16() || IsAscii(cell) || text::IsValidUtf8(cell)) return;
    ++stats_.windows1252_cells;
    cell = Cp1252ToUtf8(cell);
  }

  // ---- header ----------------------------------------------------------------------------

  static bool LooksLikeDeviceIdentifier(std::string_view cell) {
    Result<std::vector<Identifier>> ids = ParseIdentifierCell(cell, IdentifierColumn::kAny);
    if (!ids.ok()) return ids.status().reason() == "csv.imei_scientific_notation";
    if (ids->empty()) return false;
    for (const Identifier& id : *ids) {
      if (std::none_of(id.value.begin(), id.value.end(), IsDigit)) return false;  // "HOSTNAME"
    }
    return true;
  }

  // Decides header vs headerless from the first non-blank record. Returns true if the
  // record was the header (consumed), false if it is data.
  Result<bool> DecideHeader() {
    header_decided_ = true;
    std::vector<std::optional<KnoxCsvField>> fields;
    size_t matches = 0;
    bool any_identifier = false;
    for (size_t i = 0; i < ncells_; ++i) {
      fields.push_back(MatchKnoxCsvHeader(cells_[i]));
      if (fields.back()) {
        ++matches;
        any_identifier = any_identifier || IsIdentifierField(*fields.back());
      }
    }
    const bool first_is_identifier_header = fields[0] && IsIdentifierField(*fields[0]);
    const bool first_is_identifier = LooksLikeDeviceIdentifier(cells_[0]);
    if (matches >= 2 || first_is_identifier_header || (any_identifier && !first_is_identifier)) {
      has_header_ = true;
      bool seen[static_cast<size_t>(KnoxCsvField::kAttribute) + 1] = {};
      for (size_t i = 0; i < ncells_; ++i) {
        KnoxCsvColumn col;
        col.header = std::string(Trim(cells_[i]));
        if (col.header.empty()) col.header = "column " + std::to_string(i + 1);
        if (fields[i]) {
          const auto f = static_cast<size_t>(*fields[i]);
          // Identifier columns all feed the identity; other fields: the first column wins.
          if (IsIdentifierField(*fields[i]) || !seen[f]) col.field = *fields[i];
          seen[f] = true;
        }
        columns_.push_back(std::move(col));
      }
      if (!any_identifier) {
        std::string found;
        for (const KnoxCsvColumn& c : columns_) found += (found.empty() ? "" : ", ") + c.header;
        return Fail(Unprocessable(
            "csv.no_identifier_column",
            "the header has no device identifier column (IMEI/MEID, IMEI2 or Serial number); "
            "found: " +
                found,
            "header"));
      }
      return true;
    }
    if (!first_is_identifier) {
      return Fail(Unprocessable(
          "csv.header_unrecognised",
          "the first row names no known column (such as IMEI/MEID, Serial number, Model, "
          "Profile) and its first cell is not a device identifier",
          "header"));
    }
    // Headerless (§1.4 step 3): column 1 is the identifier; 5 columns: the §1.2 assign layout.
    has_header_ = false;
    static constexpr KnoxCsvField kAssignLayout[] = {KnoxCsvField::kImei, KnoxCsvField::kProfile,
                                                     KnoxCsvField::kUserId, KnoxCsvField::kPassword,
                                                     KnoxCsvField::kTags};
    for (size_t i = 0; i < ncells_; ++i) {
      KnoxCsvColumn col;
      col.header = "column " + std::to_string(i + 1);
      if (i == 0) {
        col.field = KnoxCsvField::kImei;
      } else if (ncells_ == 5) {
        col.field = kAssignLayout[i];
      }
      columns_.push_back(std::move(col));
    }
    return false;
  }

  // ---- rows ------------------------------------------------------------------------------

  static KnoxCsvRejection Rejection(uint64_t line, const Status& s, const KnoxCsvColumn& col) {
    KnoxCsvRejection r;
    r.line = line;
    r.code = s.reason();
    r.field = std::string(KnoxCsvFieldName(col.field));
    r.message = col.header + ": " + s.message();
    return r;
  }

  static void Warn(KnoxCsvRow& row, std::string code, const KnoxCsvColumn& col,
                   std::string message) {
    row.warnings.push_back(KnoxCsvWarning{std::move(code), std::string(KnoxCsvFieldName(col.field)),
                                          col.header + ": " + std::move(message)});
  }

  static KnoxCsvDate Date(KnoxCsvRow& row, std::string_view value, const KnoxCsvColumn& col) {
    KnoxCsvDate date = ParseKnoxCsvDate(value);
    if (date.ambiguous) {
      Warn(row, "csv.date_ambiguous", col,
           "\"" + date.raw + "\" could be read with day and month swapped; kept as text");
    } else if (!date.raw.empty() && !date.epoch_ms) {
      Warn(row, "csv.date_unparsed", col, "\"" + date.raw + "\" is not a known date format");
    }
    return date;
  }

  Result<std::optional<KnoxCsvRecord>> ProcessRecord() {
    stats_.lines = line_ - 1;
    bool blank = true;
    for (size_t i = 0; i < ncells_; ++i) {
      DecodeCell(cells_[i]);
      blank = blank && IsBlank(cells_[i]);
    }
    if (blank) {
      ++stats_.blank_rows;
      return std::optional<KnoxCsvRecord>();
    }
    if (!header_decided_) {
      Result<bool> is_header = DecideHeader();
      if (!is_header.ok()) return is_header.status();
      if (*is_header) return std::optional<KnoxCsvRecord>();
    }

    KnoxCsvRow row;
    row.line = record_line_;
    for (size_t i = 0; i < ncells_; ++i) {
      const std::string_view value = Trim(cells_[i]);
      if (i >= columns_.size()) {
        if (!value.empty()) {
          row.attributes.emplace_back("column " + std::to_string(i + 1), std::string(value));
        }
        continue;
      }
      const KnoxCsvColumn& col = columns_[i];
      switch (col.field) {
        case KnoxCsvField::kImei:
        case KnoxCsvField::kImei2:
        case KnoxCsvField::kSerial: {
          const IdentifierColumn kind = col.field == KnoxCsvField::kImei ? IdentifierColumn::kAny
                                        : col.field == KnoxCsvField::kImei2
                                            ? IdentifierColumn::kImeiOnly
                                            : IdentifierColumn::kSerialOnly;
          Result<std::vector<Identifier>> ids = ParseIdentifierCell(value, kind);
          if (!ids.ok()) return Reject(Rejection(row.line, ids.status(), col));
          for (const Identifier& id : *ids) {
            if (id.kind == IdentifierKind::kImei && !id.check_digit_valid) {
              const std::string what = "IMEI " + id.value + " fails the Luhn check digit";
              if (options_.reject_bad_check_digit) {
                return Reject(Rejection(
                    row.line, InvalidArgument("csv.imei_check_digit_mismatch", what), col));
              }
              Warn(row, "csv.imei_check_digit_mismatch", col, what + "; kept as written");
            }
            Status added = row.identifiers.Add(id, col.field == KnoxCsvField::kImei2);
            if (!added.ok()) return Reject(Rejection(row.line, added, col));
          }
          break;
        }
        case KnoxCsvField::kWifiMac:
          if (!value.empty()) {
            if (std::optional<std::string> mac = NormalizeMac(value)) {
              row.wifi_mac = std::move(*mac);
            } else {
              row.wifi_mac = std::string(value);
              Warn(row, "csv.wifi_mac_invalid", col,
                   "\"" + row.wifi_mac + "\" is not a MAC address; kept as written");
            }
          }
          break;
        case KnoxCsvField::kModel:
          row.model = std::string(value);
          break;
        case KnoxCsvField::kOsVersion:
          row.os_version = std::string(value);
          break;
        case KnoxCsvField::kOrderNumber:
          row.order_number = std::string(value);
          break;
        case KnoxCsvField::kOrderDate:
          row.order_date = Date(row, value, col);
          break;
        case KnoxCsvField::kUserId:
          row.user_id = std::string(value);
          break;
        case KnoxCsvField::kPassword:
          row.password = std::string(value);
          break;
        case KnoxCsvField::kTags:
          row.tags = SplitKnoxTags(value, /*split_on_semicolon=*/delim_ != ';');
          row.added_by_deployment_app =
              std::any_of(row.tags.begin(), row.tags.end(),
                          [](const std::string& t) { return Lower(t) == "nfc"; });
          break;
        case KnoxCsvField::kSubmitted:
          row.submitted = Date(row, value, col);
          break;
        case KnoxCsvField::kProfile:
          row.profile_name = std::string(value);
          break;
        case KnoxCsvField::kStatus:
          row.status_raw = std::string(value);
          row.status = ParseKmeDeviceStatus(value);
          if (row.status == KmeDeviceStatus::kUnknown) {
            Warn(row, "csv.status_unknown", col,
                 "\"" + row.status_raw + "\" is not a known KME status; kept as written");
          }
          break;
        case KnoxCsvField::kResellerId:
          row.reseller_id = std::string(value);
          break;
        case KnoxCsvField::kResellerName:
          row.reseller_name = std::string(value);
          break;
        case KnoxCsvField::kModifiedBy:
          row.modified_by = std::string(value);
          break;
        case KnoxCsvField::kModifiedAt:
          row.modified_at = Date(row, value, col);
          break;
        case KnoxCsvField::kEmmAutoEnroll: {
          const std::string v = Lower(value);
          if (v == "on" || v == "yes" || v == "true" || v == "enabled" || v == "1") {
            row.emm_auto_enroll = true;
          } else if (v == "off" || v == "no" || v == "false" || v == "disabled" || v == "0") {
            row.emm_auto_enroll = false;
          } else if (!v.empty() && v != "-") {
            Warn(row, "csv.emm_auto_enroll_unrecognised", col,
                 "\"" + std::string(value) + "\" is neither On nor Off");
          }
          break;
        }
        case KnoxCsvField::kDeviceName:
          row.device_name = std::string(value);
          break;
        case KnoxCsvField::kAttribute:
          row.attributes.emplace_back(col.header, std::string(value));
          break;
      }
    }

    if (row.identifiers.empty()) {
      std::string names;
      for (const KnoxCsvColumn& c : columns_) {
        if (IsIdentifierField(c.field)) names += (names.empty() ? "" : ", ") + c.header;
      }
      KnoxCsvRejection r;
      r.line = row.line;
      r.code = "csv.identifier_missing";
      r.field = "imei";
      r.message = "the row has no device identifier: " + names + " empty";
      return Reject(std::move(r));
    }

    if (options_.reject_duplicates) {
      struct Named {
        const char* field;
        IdentifierKind kind;
        const std::string* value;
      };
      const DeviceIdentity& id = row.identifiers;
      const Named named[] = {{"imei", IdentifierKind::kImei, &id.imei},
                             {"imei2", IdentifierKind::kImei, &id.imei2},
                             {"meid", IdentifierKind::kMeid, &id.meid},
                             {"serial", IdentifierKind::kSerial, &id.serial}};
      uint64_t keys[4] = {0, 0, 0, 0};
      for (size_t i = 0; i < 4; ++i) {
        if (named[i].value->empty()) continue;
        keys[i] = SeenKey(named[i].kind, *named[i].value);
        if (const uint64_t first = seen_.Find(keys[i]); first != 0) {
          KnoxCsvRejection r;
          r.line = row.line;
          r.code = "csv.duplicate_device";
          r.field = named[i].field;
          r.message = "the device with " + std::string(IdentifierKindName(named[i].kind)) + " " +
                      *named[i].value + " is already on line " + std::to_string(first) +
                      "; this row was ignored";
          return Reject(std::move(r));
        }
      }
      for (uint64_t key : keys) {
        if (key != 0) seen_.Insert(key, row.line);
      }
    }
    ++stats_.rows_accepted;
    return std::optional<KnoxCsvRecord>(KnoxCsvRecord(std::move(row)));
  }

  // Constant after construction.
  const KnoxCsvOptions options_;

  Status error_;  // sticky: options or file-level error
  bool finished_ = false;
  bool done_ = false;

  // Decoding.
  KnoxCsvEncoding encoding_ = KnoxCsvEncoding::kUndetected;
  std::string sniff_;            // the first bytes, until the encoding is known
  int carry_ = -1;               // UTF-16: an odd trailing byte of the last chunk
  uint16_t high_surrogate_ = 0;  // UTF-16: a high surrogate waiting for its pair
  int last_byte_ = -1;           // last byte appended to buf_, -1 if none (line count)

  // Input not yet consumed (UTF-8 or raw 1252 bytes), and the scan position in it.
  std::string buf_;
  size_t pos_ = 0;

  // Tokeniser.
  char delim_ = 0;
  Tok tok_ = Tok::kFieldStart;
  bool in_record_ = false;
  bool skipping_ = false;
  bool after_cr_ = false;
  size_t record_start_ = 0;
  uint64_t record_line_ = 0;
  uint64_t line_ = 1;
  size_t restart_offset_ = kNpos;  // just after the record's first line break, if any
  uint64_t restart_line_ = 0;
  bool restart_after_cr_ = false;
  std::vector<std::string> cells_;  // reused; the record is cells_[0, ncells_)
  size_t ncells_ = 0;
  std::string field_;

  // Header and rows.
  bool header_decided_ = false;
  bool has_header_ = false;
  std::vector<KnoxCsvColumn> columns_;
  SeenIndex seen_;
  KnoxCsvStats stats_;
};

KnoxCsvReader::KnoxCsvReader(KnoxCsvOptions options) : impl_(std::make_unique<Impl>(options)) {}
KnoxCsvReader::~KnoxCsvReader() = default;
KnoxCsvReader::KnoxCsvReader(KnoxCsvReader&&) noexcept = default;
KnoxCsvReader& KnoxCsvReader::operator=(KnoxCsvReader&&) noexcept = default;

Status KnoxCsvReader::Feed(std::string_view chunk) { return impl_->Feed(chunk); }
Status KnoxCsvReader::Finish() { return impl_->Finish(); }
Result<std::optional<KnoxCsvRecord>> KnoxCsvReader::Next() { return impl_->Next(); }
bool KnoxCsvReader::done() const { return impl_->done(); }
const std::vector<KnoxCsvColumn>& KnoxCsvReader::columns() const { return impl_->columns(); }
bool KnoxCsvReader::has_header() const { return impl_->has_header(); }
char KnoxCsvReader::delimiter() const { return impl_->delimiter(); }
KnoxCsvEncoding KnoxCsvReader::encoding() const { return impl_->encoding(); }
const KnoxCsvStats& KnoxCsvReader::stats() const { return impl_->stats(); }

Status KnoxCsvReader::Drain(const std::function<Status(KnoxCsvRecord&&)>& sink) {
  while (true) {
    Result<std::optional<KnoxCsvRecord>> next = Next();
    if (!next.ok()) return next.status();
    if (!next->has_value()) return Status::Ok();
    AE_RETURN_IF_ERROR(sink(std::move(**next)));
  }
}

Status ReadKnoxCsv(std::string_view file, const std::function<Status(KnoxCsvRecord&&)>& sink,
                   const KnoxCsvOptions& options) {
  KnoxCsvReader reader(options);
  AE_RETURN_IF_ERROR(reader.Feed(file));
  AE_RETURN_IF_ERROR(reader.Finish());
  return reader.Drain(sink);
}

}  // namespace ae::kme
