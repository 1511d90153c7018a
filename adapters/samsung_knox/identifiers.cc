#include "adapters/samsung_knox/identifiers.h"

#include <algorithm>
#include <cstddef>

namespace ae::kme {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpperHexLetter(char c) { return c >= 'A' && c <= 'F'; }
bool IsAlnum(char c) { return IsDigit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
char ToUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsDigit);
}

// Length of the blank (ASCII white space or U+00A0 NO-BREAK SPACE) at s[i], 0 if none.
size_t BlankAt(std::string_view s, size_t i) {
  const char c = s[i];
  if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f') return 1;
  if (c == '\xC2' && i + 1 < s.size() && s[i + 1] == '\xA0') return 2;
  return 0;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && BlankAt(s, 0) > 0) s.remove_prefix(BlankAt(s, 0));
  while (!s.empty()) {
    if (BlankAt(s, s.size() - 1) == 1) {
      s.remove_suffix(1);
    } else if (s.size() >= 2 && BlankAt(s, s.size() - 2) == 2) {
      s.remove_suffix(2);
    } else {
      break;
    }
  }
  return s;
}

// Drops what spreadsheets add to keep a number as text: ="..." and a leading '.
std::string_view Unwrap(std::string_view s) {
  s = Trim(s);
  if (s.size() >= 3 && s.substr(0, 2) == "=\"" && s.back() == '"') {
    s = Trim(s.substr(2, s.size() - 3));
  }
  if (!s.empty() && s.front() == '\'') s = Trim(s.substr(1));
  return s;
}

// Removes blanks, '-' and '/' (how people format IMEIs: "35-209900-176148-1").
std::string Compact(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (size_t n = BlankAt(s, i); n > 0) {
      i += n;
      continue;
    }
    if (s[i] != '-' && s[i] != '/') out.push_back(s[i]);
    ++i;
  }
  return out;
}

// For messages: the value as given, shortened; printable ASCII only.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 40;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    out.push_back(c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?');
  }
  if (s.size() > kMax) out += "...";
  out += "\"";
  return out;
}

Identifier MakeImei(std::string digits) {
  Identifier id;
  id.kind = IdentifierKind::kImei;
  if (digits.size() == 14) {
    digits.push_back(ImeiCheckDigit(digits));
    id.check_digit_computed = true;
  } else {
    id.check_digit_valid = IsLuhnValid(digits);
  }
  id.value = std::move(digits);
  return id;
}

bool IsImeiShaped(std::string_view s) { return AllDigits(s) && (s.size() == 14 || s.size() == 15); }

bool IsMeidShaped(std::string_view s) {
  if (s.size() != 14) return false;
  bool letter = false;
  for (char c : s) {
    const char u = ToUpper(c);
    if (IsUpperHexLetter(u)) {
      letter = true;
    } else if (!IsDigit(u)) {
      return false;
    }
  }
  return letter;
}

bool IsSerialShaped(std::string_view s) {
  return s.size() >= 8 && s.size() <= 20 && std::all_of(s.begin(), s.end(), IsAlnum);
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToUpper(c);
  return out;
}

Status ScientificError(std::string_view raw) {
  return InvalidArgument(
      "csv.imei_scientific_notation",
      Quote(raw) +
          " was turned into scientific notation by a spreadsheet, which destroys "
          "the last digits; re-export the column formatted as text");
}

}  // namespace

std::string_view IdentifierKindName(IdentifierKind kind) {
  switch (kind) {
    case IdentifierKind::kImei:
      return "IMEI";
    case IdentifierKind::kMeid:
      return "MEID";
    case IdentifierKind::kSerial:
      return "serial number";
  }
  return "identifier";
}

bool IsLuhnValid(std::string_view digits) {
  if (!AllDigits(digits)) return false;
  int sum = 0;
  bool twice = false;  // from the right: the check digit as is, its left neighbour doubled
  for (size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

char ImeiCheckDigit(std::string_view first14) {
  int sum = 0;
  for (size_t i = 0; i < first14.size(); ++i) {
    int d = first14[i] - '0';
    if (i % 2 == 1) {  // every second digit from the left (the check digit will be 15th)
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return static_cast<char>('0' + (10 - sum % 10) % 10);
}

bool IsScientificNotation(std::string_view text) {
  size_t i = 0;
  auto digits = [&] {
    const size_t start = i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    return i - start;
  };
  if (i >= text.size() || !IsDigit(text[i])) return false;
  ++i;  // exactly one leading digit
  if (i < text.size() && (text[i] == '.' || text[i] == ',')) {
    ++i;
    if (digits() == 0) return false;
  }
  if (i + 1 >= text.size() || (text[i] != 'E' && text[i] != 'e') || text[i + 1] != '+') {
    return false;
  }
  i += 2;
  return digits() > 0 && i == text.size();
}

Result<std::vector<Identifier>> ParseIdentifierCell(std::string_view cell,
                                                    IdentifierColumn column) {
  std::vector<Identifier> out;
  const std::string_view raw = Unwrap(cell);
  if (raw.empty()) return out;
  if (IsScientificNotation(Compact(raw))) return ScientificError(raw);

  // Dual IMEI: "350925370583126/350925370583134" (also ; , |).
  if (column == IdentifierColumn::kAny && raw.find_first_of("/;,|\n") != std::string_view::npos) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= raw.size()) {
      size_t end = raw.find_first_of("/;,|\n", start);
      if (end == std::string_view::npos) end = raw.size();
      std::string part = Compact(raw.substr(start, end - start));
      if (!part.empty()) parts.push_back(std::move(part));
      start = end + 1;
    }
    const bool all_imeis =
        parts.size() >= 2 && std::all_of(parts.begin(), parts.end(),
                                         [](const std::string& p) { return IsImeiShaped(p); });
    if (all_imeis) {
      if (parts.size() > 2) {
        return InvalidArgument("csv.too_many_imeis", Quote(raw) + " holds " +
                                                         std::to_string(parts.size()) +
                                                         " IMEIs; a device has at most two");
      }
      for (std::string& p : parts) out.push_back(MakeImei(std::move(p)));
      return out;
    }
  }

  std::string value = Compact(raw);
  switch (column) {
    case IdentifierColumn::kImeiOnly:
      if (!IsImeiShaped(value)) {
        return InvalidArgument("csv.imei_invalid",
                               Quote(raw) + " is not an IMEI (14 or 15 digits)");
      }
      out.push_back(MakeImei(std::move(value)));
      return out;
    case IdentifierColumn::kSerialOnly:
      if (!IsSerialShaped(value)) {
        return InvalidArgument("csv.serial_invalid",
                               Quote(raw) + " is not a serial number (8 to 20 letters and digits)");
      }
      out.push_back(Identifier{IdentifierKind::kSerial, Upper(value)});
      return out;
    case IdentifierColumn::kAny:
      break;
  }
  if (IsImeiShaped(value)) {
    out.push_back(MakeImei(std::move(value)));
  } else if (IsMeidShaped(value)) {
    out.push_back(Identifier{IdentifierKind::kMeid, Upper(value)});
  } else if (IsSerialShaped(value)) {
    out.push_back(Identifier{IdentifierKind::kSerial, Upper(value)});
  } else {
    return InvalidArgument("csv.identifier_invalid",
                           Quote(raw) +
                               " is not a device identifier: expected an IMEI (14 or 15 digits), "
                               "an MEID (14 hex digits) or a serial number (8 to 20 letters and "
                               "digits)");
  }
  return out;
}

Status DeviceIdentity::Add(const Identifier& id, bool second_imei) {
  auto conflict = [&](const std::string& held) {
    return InvalidArgument("csv.identifier_conflict", "the row names two different " +
                                                          std::string(IdentifierKindName(id.kind)) +
                                                          "s: " + held + " and " + id.value);
  };
  auto fill = [&](std::string& slot) -> Status {
    if (slot.empty()) {
      slot = id.value;
    } else if (slot != id.value) {
      return conflict(slot);
    }
    return Status::Ok();
  };
  switch (id.kind) {
    case IdentifierKind::kImei: {
      const std::string_view key = Imei14(id.value);
      if ((!imei.empty() && Imei14(imei) == key) || (!imei2.empty() && Imei14(imei2) == key)) {
        return Status::Ok();
      }
      std::string& first = second_imei ? imei2 : imei;
      std::string& other = second_imei ? imei : imei2;
      if (first.empty()) {
        first = id.value;
      } else if (other.empty()) {
        other = id.value;
      } else {
        return InvalidArgument("csv.too_many_imeis", "the row names more than two IMEIs: " + imei +
                                                         ", " + imei2 + " and " + id.value);
      }
      return Status::Ok();
    }
    case IdentifierKind::kMeid:
      return fill(meid);
    case IdentifierKind::kSerial:
      return fill(serial);
  }
  return Status::Ok();
}

std::vector<std::string> DeviceIdentity::MatchKeys() const {
  std::vector<std::string> keys;
  if (!imei.empty()) keys.push_back("imei:" + std::string(Imei14(imei)));
  if (!imei2.empty()) keys.push_back("imei:" + std::string(Imei14(imei2)));
  if (!meid.empty()) keys.push_back("meid:" + meid);
  if (!serial.empty()) keys.push_back("serial:" + serial);
  return keys;
}

}  // namespace ae::kme
