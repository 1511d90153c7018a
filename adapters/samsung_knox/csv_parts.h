#pragma once
// The parts of the Knox CSV reader beside its tokenizer and row pipeline (csv_reader.cc):
// the text and encoding helpers and the duplicate index (here, inline: they run per byte or
// per cell), the header synonyms (csv_header.cc) and the cell parsers (csv_fields.cc).
// Internal to ae_knox_csv.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/samsung_knox/csv_reader.h"

namespace ae::kme::csv_parts {

// ---- text helpers -------------------------------------------------------------------------

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToLower(c);
  return out;
}

// Length of the blank (ASCII white space, U+00A0 or U+FEFF) at s[i], 0 if none.
inline size_t BlankAt(std::string_view s, size_t i) {
  const char c = s[i];
  if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f') return 1;
  if (c == '\xC2' && i + 1 < s.size() && s[i + 1] == '\xA0') return 2;
  if (c == '\xEF' && i + 2 < s.size() && s[i + 1] == '\xBB' && s[i + 2] == '\xBF') return 3;
  return 0;
}

inline std::string_view Trim(std::string_view s) {
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

inline bool IsBlank(std::string_view s) { return Trim(s).empty(); }

// ---- encodings ----------------------------------------------------------------------------

inline void AppendUtf8(std::string& out, uint32_t cp) {
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

inline bool IsAscii(std::string_view s) {
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

inline std::string Cp1252ToUtf8(std::string_view s) {
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

// ---- the duplicate index ------------------------------------------------------------------

// A 64-bit key per identifier: the kind in the top two bits, then the 14 IMEI digits or the
// 14 MEID hex digits as a number (exact), or 62 bits of a serial's hash.
inline uint64_t SeenKey(IdentifierKind kind, std::string_view value) {
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

// True for the fields that identify a device (IMEI, IMEI2, serial number).
bool IsIdentifierField(KnoxCsvField f);

// A Wi-Fi MAC address in canonical form (upper case, colon-separated), or nullopt.
std::optional<std::string> NormalizeMac(std::string_view s);

}  // namespace ae::kme::csv_parts
