#pragma once
// Samsung device identifiers (spec samsung-kme.md §0, §1.4 step 4, §9 lesson 1).
//
// A device is known by a set of identifiers: up to two IMEIs (dual SIM), an MEID and a
// serial number. Two records are the same device when ANY normalised identifier matches,
// so every identifier is normalised once, here:
//   IMEI    15 decimal digits; the 15th is a Luhn check digit. A 14-digit IMEI gets its
//           check digit computed. Matching uses the first 14 digits.
//   MEID    14 hexadecimal digits with at least one of A-F, upper case.
//   serial  8-20 letters and digits, upper case (Samsung: 11, e.g. R58M12ABCDE).
// A value a spreadsheet turned into scientific notation (3.50925E+14) is never
// reconstructed: it is rejected with reason "csv.imei_scientific_notation".
//
// Pure functions and value types; thread-safe.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "events/base/status.h"

namespace ae::kme {

enum class IdentifierKind : uint8_t { kImei, kMeid, kSerial };

// "IMEI", "MEID" or "serial number" (for messages).
std::string_view IdentifierKindName(IdentifierKind kind);

// One normalised identifier.
struct Identifier {
  IdentifierKind kind = IdentifierKind::kSerial;
  std::string value;                  // normalised form (see the file comment)
  bool check_digit_computed = false;  // kImei only: the input had 14 digits
  bool check_digit_valid = true;      // kImei only: false if the 15th digit fails Luhn
  bool operator==(const Identifier&) const = default;
};

// What an identifier column may hold.
enum class IdentifierColumn : uint8_t {
  kAny,         // "IMEI/MEID", "Device IMEI or serial number", headerless column 1
  kImeiOnly,    // "IMEI2"
  kSerialOnly,  // "Serial number"
};

// True iff `digits` is all decimal digits and passes the Luhn check (IMEI, 15 digits).
bool IsLuhnValid(std::string_view digits);

// The Luhn check digit ('0'..'9') for the first 14 digits of an IMEI.
// Precondition: `first14` is exactly 14 decimal digits.
char ImeiCheckDigit(std::string_view first14);

// True iff `text` is a number in spreadsheet scientific notation: a digit, optionally a
// '.' or ',' followed by digits, then 'E+' and digits (any case). "3.50925E+14", "3,5E+14".
bool IsScientificNotation(std::string_view text);

// Parses one cell of an identifier column (spec §1.4 step 4):
//  - trims, drops a leading ' or a ="..." wrapper (Excel text protection);
//  - rejects scientific notation            -> kInvalidArgument "csv.imei_scientific_notation";
//  - two IMEIs separated by / ; , or |      -> both (kAny only; more than two:
//                                              "csv.too_many_imeis");
//  - removes spaces, '-' and '/', then classifies (kAny) or validates the value;
//    not an identifier -> "csv.identifier_invalid" (kAny), "csv.imei_invalid" (kImeiOnly),
//    "csv.serial_invalid" (kSerialOnly).
// A blank cell yields an empty vector. Messages quote the value but name no column: the
// caller prefixes the column.
Result<std::vector<Identifier>> ParseIdentifierCell(std::string_view cell, IdentifierColumn column);

// The identity of one device: every identifier a row gave, normalised. Empty strings are
// absent identifiers.
struct DeviceIdentity {
  std::string imei;    // 15 digits
  std::string imei2;   // 15 digits, never the same device number as `imei`
  std::string meid;    // 14 upper-case hex digits
  std::string serial;  // 8-20 upper-case letters and digits

  bool empty() const { return imei.empty() && imei2.empty() && meid.empty() && serial.empty(); }

  // The 14-digit form of an IMEI (the key some clients and the console search use).
  static std::string_view Imei14(std::string_view imei) { return imei.substr(0, 14); }

  // Adds `id` to its slot. An IMEI fills `imei` (or `imei2` first if `second_imei`), then
  // the other slot; an IMEI already present (same first 14 digits) is a no-op. Fails with
  // kInvalidArgument "csv.identifier_conflict" when the slot already holds another value
  // (a third IMEI, a second MEID or serial); the identity is then unchanged.
  Status Add(const Identifier& id, bool second_imei = false);

  // Keys under which this device must be found, one per identifier: "imei:<14 digits>",
  // "meid:<MEID>", "serial:<serial>". Two identities are the same device iff their key
  // sets intersect. Contains no personal data.
  std::vector<std::string> MatchKeys() const;

  bool operator==(const DeviceIdentity&) const = default;
};

}  // namespace ae::kme
