#pragma once
// Streaming reader of the Knox portal device CSV (spec samsung-kme.md §1.1, §1.2, §1.4).
//
// Input: the bytes of "Download devices as CSV" (or an admin's bulk-assign file), in any
// chunking. Output: one KnoxCsvRecord per data row, in file order: a normalised
// KnoxCsvRow or a KnoxCsvRejection {line, code, field, message}. A rejected row never
// stops the rows after it. Only file-level problems (empty file, no recognisable header,
// no identifier column) fail the reader, as a Status.
//
// What it accepts:
//  - encodings: UTF-8 with or without BOM, UTF-16 LE/BE with BOM (or recognisable from
//    NUL bytes in the first four), Windows-1252 for any cell that is not valid UTF-8.
//    Output text is always valid UTF-8;
//  - dialect: ',' ';' or TAB, whichever occurs most (outside quotes) in the first non-blank
//    line; RFC 4180 quoting with "" and line breaks inside quotes; CRLF, LF or CR;
//  - header: header-driven through the synonym table of §1.1, never positional. The first
//    non-blank row is a header if two cells name known columns, or cell 1 names an
//    identifier column (IMEI, IMEI2, serial), or some cell names one while cell 1 is not a
//    device identifier. Otherwise the file is headerless (§1.4 step 3): column 1 is the
//    identifier and a 5-column file follows the §1.2 assign layout (identifier, profile,
//    user id, password, tags). Unknown columns become attributes.
//
// Line numbers are physical: the line where a record starts, 1-based, the header being
// line 1; blank lines and line breaks inside quotes count.
//
// Memory is bounded: the reader keeps the bytes of the current record, the unparsed rest of
// the last chunk, and (when reject_duplicates) 15 to 30 bytes per identifier seen (about
// 3 MB for 100,000 rows with IMEI and serial). A record longer than max_record_bytes is
// rejected and reading resumes at the next line.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "adapters/samsung_knox/identifiers.h"
#include "events/base/status.h"

namespace ae::kme {

// The canonical fields of §1.1. kAttribute: any other column.
enum class KnoxCsvField : uint8_t {
  kImei,
  kImei2,
  kSerial,
  kWifiMac,
  kModel,
  kOsVersion,
  kOrderNumber,
  kOrderDate,
  kUserId,
  kPassword,
  kTags,
  kSubmitted,
  kProfile,
  kStatus,
  kResellerId,
  kResellerName,
  kModifiedBy,
  kModifiedAt,
  kEmmAutoEnroll,
  kDeviceName,
  kAttribute,
};

// The canonical name of §1.1 ("imei", "wifi_mac", ...; "attribute").
std::string_view KnoxCsvFieldName(KnoxCsvField field);

// Looks a header cell up in the §1.1 synonym table (and the canonical names). Comparison
// ignores case, white space, ':', '*', '_', '-' and '/'. std::nullopt: not a known column.
std::optional<KnoxCsvField> MatchKnoxCsvHeader(std::string_view header);

// Device status (§6.2). Unknown strings map to kUnknown; the raw text is kept beside it.
enum class KmeDeviceStatus : uint8_t {
  kUnspecified,  // empty cell or no status column
  kUnknown,      // a value not in the table (e.g. "Exempted"): keep the raw text
  kPending,
  kUnassigned,
  kAssignFailed,
  kProfileAssigned,
  kCanceledByUser,
  kEnrollFailed,
  kEnrolled,
  kEnrolledRestricted,
  kLicenseExpired,
  kLockedTimeout,
  kLockedAttestation,
};

// "PENDING", "CANCELED_BY_USER", ... ("UNSPECIFIED", "UNKNOWN").
std::string_view KmeDeviceStatusName(KmeDeviceStatus status);

// Maps any spelling of §6.2 ("Cancelled by user", "Canceled by user", "Provisioned",
// "CANCELED_BY_USER") to the canonical status.
KmeDeviceStatus ParseKmeDeviceStatus(std::string_view text);

// A date cell: the raw text, and the instant when it could be read unambiguously.
struct KnoxCsvDate {
  std::string raw;                  // trimmed cell text ("" if absent)
  std::optional<int64_t> epoch_ms;  // UTC milliseconds since 1970 (no zone given: UTC)
  bool ambiguous = false;           // e.g. 03/04/2024: day and month could be swapped
  bool operator==(const KnoxCsvDate&) const = default;
};

// Reads ISO 8601 (2024-03-15, 2024-03-15T10:20:30Z, ...+02:00), "YYYY-MM-DD HH:mm[:ss]",
// "YYYY/MM/DD", "MM/DD/YYYY[ HH:mm[:ss][ AM|PM]]" and "DD/MM/YYYY..." (decided by a part
// > 12, else ambiguous), "DD.MM.YYYY", YYYYMMDD (or YYYYDDMM, §1.3; ambiguous if both
// read) and epoch milliseconds (12-13 digits). Anything else: raw only.
KnoxCsvDate ParseKnoxCsvDate(std::string_view text);

// Splits a tags cell (§1.4 step 5): on ',' and line breaks, and on ';' if
// `split_on_semicolon`; trims; drops empties; de-duplicates ignoring the case of ASCII
// letters, keeping the first spelling and the first-seen order.
std::vector<std::string> SplitKnoxTags(std::string_view cell, bool split_on_semicolon);

// A non-fatal remark on an accepted row.
struct KnoxCsvWarning {
  std::string code;     // "csv.imei_check_digit_mismatch", "csv.date_ambiguous", ...
  std::string field;    // canonical field name ("imei", "order_date", ...)
  std::string message;  // names the column as written in the header
  bool operator==(const KnoxCsvWarning&) const = default;
};

// One accepted device row, normalised. Unset fields are empty.
struct KnoxCsvRow {
  uint64_t line = 0;           // physical line where the record starts (header = line 1)
  DeviceIdentity identifiers;  // never empty
  std::string wifi_mac;        // 12 upper-case hex digits when readable, else as written
  std::string model;           // "SM-G991B"
  std::string os_version;
  std::string order_number;
  KnoxCsvDate order_date;
  std::string user_id;   // EMM user id: personal data, match it to a user, never log it
  std::string password;  // EMM password (admin-authored files only): a secret, never log it
  std::vector<std::string> tags;         // split, trimmed, de-duplicated, in order
  bool added_by_deployment_app = false;  // tags contain "NFC" (Knox Deployment App)
  KnoxCsvDate submitted;
  std::string profile_name;  // the profile's name, as written
  KmeDeviceStatus status = KmeDeviceStatus::kUnspecified;
  std::string status_raw;  // the status cell as written
  std::string reseller_id;
  std::string reseller_name;
  std::string modified_by;
  KnoxCsvDate modified_at;
  std::optional<bool> emm_auto_enroll;  // "On" / "Off"; "-" or empty: std::nullopt
  std::string device_name;
  // Unknown columns, in file order: the header text as written -> the trimmed cell.
  // Cells beyond the header's width are named "column N" (1-based).
  std::vector<std::pair<std::string, std::string>> attributes;
  std::vector<KnoxCsvWarning> warnings;
  bool operator==(const KnoxCsvRow&) const = default;
};

// One rejected row. `message` names the column as written in the header.
struct KnoxCsvRejection {
  uint64_t line = 0;    // physical line where the record starts
  std::string code;     // stable: "csv.imei_scientific_notation", "csv.duplicate_device", ...
  std::string field;    // canonical field name of the offending column, "" for the record
  std::string message;  // for people
  bool operator==(const KnoxCsvRejection&) const = default;
};

using KnoxCsvRecord = std::variant<KnoxCsvRow, KnoxCsvRejection>;

inline uint64_t RecordLine(const KnoxCsvRecord& record) {
  return std::visit([](const auto& r) { return r.line; }, record);
}

enum class KnoxCsvEncoding : uint8_t {
  kUndetected,  // fewer than 4 bytes seen and not finished
  kUtf8,        // no BOM; cells that are not valid UTF-8 are read as Windows-1252
  kUtf8Bom,
  kUtf16Le,
  kUtf16Be,
};
std::string_view KnoxCsvEncodingName(KnoxCsvEncoding encoding);

// A column of the file as understood by the reader.
struct KnoxCsvColumn {
  std::string header;  // as written (decoded, trimmed); "column N" in a headerless file
  KnoxCsvField field = KnoxCsvField::kAttribute;
  bool operator==(const KnoxCsvColumn&) const = default;
};

struct KnoxCsvOptions {
  // A record (including its quoted line breaks) longer than this is rejected
  // ("csv.record_too_large" or "csv.unterminated_quote") and reading resumes at the line
  // after the one it started on. Bounds memory per record. Minimum 1 KiB.
  size_t max_record_bytes = 64 * 1024;
  // Reject a row naming a device (any identifier) already named by an earlier accepted
  // row of the same file ("csv.duplicate_device"). Costs 15 to 30 bytes per identifier.
  bool reject_duplicates = true;
  // Reject a 15-digit IMEI whose check digit fails ("csv.imei_check_digit_mismatch").
  // The spec says warn only (some test devices fail the check), hence false.
  bool reject_bad_check_digit = false;

  Status Validate() const;
};

// Counters so far; final once Next() has returned std::nullopt after Finish().
struct KnoxCsvStats {
  uint64_t lines = 0;          // physical lines ended so far; once done(), all lines of the file
  uint64_t rows_accepted = 0;  // KnoxCsvRow records returned
  uint64_t rows_rejected = 0;  // KnoxCsvRejection records returned
  uint64_t blank_rows = 0;     // records with only empty cells (skipped, not rejected)
  uint64_t windows1252_cells = 0;  // cells that were not UTF-8 and were read as Windows-1252
  size_t peak_buffered_bytes = 0;  // high-water mark of input bytes held by the reader
};

// Reads one file. Usage:
//
//   KnoxCsvReader reader;
//   while (body has chunk) {
//     AE_RETURN_IF_ERROR(reader.Feed(chunk));
//     AE_RETURN_IF_ERROR(reader.Drain(handle));   // or loop on Next()
//   }
//   AE_RETURN_IF_ERROR(reader.Finish());
//   AE_RETURN_IF_ERROR(reader.Drain(handle));
//
// The reader holds only unparsed input, so memory stays bounded if records are drained
// after every Feed(). Not thread-safe: one thread owns an instance. Movable; a moved-from
// reader must not be used.
class KnoxCsvReader {
 public:
  // `options` must pass Validate(); otherwise every call returns that error.
  explicit KnoxCsvReader(KnoxCsvOptions options = {});
  ~KnoxCsvReader();
  KnoxCsvReader(KnoxCsvReader&&) noexcept;
  KnoxCsvReader& operator=(KnoxCsvReader&&) noexcept;

  // Appends the next bytes of the file. A chunk may split anywhere: inside a character,
  // a CRLF or a quoted field. Fails with kFailedPrecondition "csv.reader_finished" after
  // Finish(), and with the file-level error once one occurred.
  Status Feed(std::string_view chunk);

  // Marks the end of the input. Idempotent.
  Status Finish();

  // Returns the next record, or std::nullopt when every fed byte has been consumed: before
  // Finish() that means "feed more", after it "end of file". A file-level error is
  // returned as kUnprocessable with reason
  //   "csv.empty_file"            no non-blank line at all;
  //   "csv.header_unrecognised"   the first row names no known column and its first cell
  //                               is not a device identifier;
  //   "csv.no_identifier_column"  the header has no IMEI/MEID, IMEI2 or serial column;
  //   "csv.record_too_large"      the header row exceeds max_record_bytes;
  // and from then on by every call (sticky).
  Result<std::optional<KnoxCsvRecord>> Next();

  // Calls `sink` with every record available now, in order. Stops at the first non-OK
  // status of `sink` or of Next() and returns it.
  Status Drain(const std::function<Status(KnoxCsvRecord&&)>& sink);

  // True once Finish() was called and Next() has returned std::nullopt.
  bool done() const;

  // The file's columns once the first non-blank row was read; empty before.
  const std::vector<KnoxCsvColumn>& columns() const;
  bool has_header() const;
  // The delimiter in use (',' ';' '\t'), or '\0' before it is known.
  char delimiter() const;
  KnoxCsvEncoding encoding() const;
  const KnoxCsvStats& stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a whole in-memory file: Feed(file), Finish(), Drain(sink).
Status ReadKnoxCsv(std::string_view file, const std::function<Status(KnoxCsvRecord&&)>& sink,
                   const KnoxCsvOptions& options = {});

}  // namespace ae::kme
