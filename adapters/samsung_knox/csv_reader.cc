#include "adapters/samsung_knox/csv_reader.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_set>

#include "adapters/samsung_knox/csv_parts.h"
#include "adapters/samsung_knox/csv_tokenizer.h"
#include "events/base/text.h"

namespace ae::kme {
using namespace csv_parts;

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
  explicit Impl(KnoxCsvOptions options)
      : options_(options), error_(options.Validate()), in_(options.max_record_bytes) {}

  Status Feed(std::string_view chunk) {
    if (!error_.ok()) return error_;
    if (in_.finished()) {
      return FailedPrecondition("csv.reader_finished", "Feed() called after Finish()");
    }
    in_.Feed(chunk);
    stats_.peak_buffered_bytes = std::max(stats_.peak_buffered_bytes, in_.buffered_bytes());
    return Status::Ok();
  }

  Status Finish() {
    if (!error_.ok()) return error_;
    in_.Finish();
    return Status::Ok();
  }

  Result<std::optional<KnoxCsvRecord>> Next() {
    if (!error_.ok()) return error_;
    while (true) {
      if (in_.encoding() == KnoxCsvEncoding::kUndetected) return std::optional<KnoxCsvRecord>();
      if (in_.delimiter() == 0 && !in_.DetectDelimiter()) return std::optional<KnoxCsvRecord>();
      const CsvTokenizer::Scan scan = in_.ScanRecord();
      if (scan == CsvTokenizer::Scan::kNeedMore) {
        if (!in_.finished()) return std::optional<KnoxCsvRecord>();
        if (!in_.in_record()) return End();
        if (in_.in_open_quote() && in_.has_restart() && header_decided_) {
          return Reject(UnterminatedQuote(/*at_eof=*/true));
        }
        in_.EndLastRecord();  // the last line has no line break (or a quote left open on it)
      } else if (scan == CsvTokenizer::Scan::kOversize) {
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
  char delimiter() const { return in_.delimiter(); }
  KnoxCsvEncoding encoding() const { return in_.encoding(); }
  const KnoxCsvStats& stats() const { return stats_; }

 private:

  KnoxCsvRejection UnterminatedQuote(bool at_eof) {
    KnoxCsvRejection r;
    r.line = in_.record_line();
    r.code = "csv.unterminated_quote";
    r.message =
        "a quoted cell opened on line " + std::to_string(in_.record_line()) +
        (at_eof ? " is never closed"
                : " is not closed within " + std::to_string(options_.max_record_bytes) + " bytes") +
        "; the row was skipped and reading resumed at line " + std::to_string(in_.restart_line());
    in_.RestartAfterFirstLine();
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
    if (in_.has_restart()) {
      if (in_.in_open_quote()) return Reject(UnterminatedQuote(/*at_eof=*/false));
      KnoxCsvRejection r;
      r.line = in_.record_line();
      r.code = "csv.record_too_large";
      r.message = "the row starting on line " + std::to_string(in_.record_line()) +
                  " is longer than " + std::to_string(options_.max_record_bytes) +
                  " bytes; it was skipped and reading resumed at line " +
                  std::to_string(in_.restart_line());
      in_.RestartAfterFirstLine();
      return Reject(std::move(r));
    }
    KnoxCsvRejection r;
    r.line = in_.record_line();
    r.code = "csv.record_too_large";
    r.message = "line " + std::to_string(in_.record_line()) + " is longer than " +
                std::to_string(options_.max_record_bytes) + " bytes; it was skipped";
    in_.SkipRestOfLine();
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
    stats_.lines = in_.line() - 1 + (in_.last_byte() >= 0 && in_.last_byte() != '\r' &&
                                     in_.last_byte() != '\n');
    done_ = true;
    return std::optional<KnoxCsvRecord>();
  }

  std::optional<KnoxCsvRecord> Reject(KnoxCsvRejection r) {
    ++stats_.rows_rejected;
    return KnoxCsvRecord(std::move(r));
  }

  // Decodes a complete cell to UTF-8 (Windows-1252 if it is not valid UTF-8).
  void DecodeCell(std::string& cell) {
    if (in_.utf16() || IsAscii(cell) || text::IsValidUtf8(cell)) return;
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
    for (size_t i = 0; i < in_.ncells(); ++i) {
      fields.push_back(MatchKnoxCsvHeader(in_.cell(i)));
      if (fields.back()) {
        ++matches;
        any_identifier = any_identifier || IsIdentifierField(*fields.back());
      }
    }
    const bool first_is_identifier_header = fields[0] && IsIdentifierField(*fields[0]);
    const bool first_is_identifier = LooksLikeDeviceIdentifier(in_.cell(0));
    if (matches >= 2 || first_is_identifier_header || (any_identifier && !first_is_identifier)) {
      has_header_ = true;
      bool seen[static_cast<size_t>(KnoxCsvField::kAttribute) + 1] = {};
      for (size_t i = 0; i < in_.ncells(); ++i) {
        KnoxCsvColumn col;
        col.header = std::string(Trim(in_.cell(i)));
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
    for (size_t i = 0; i < in_.ncells(); ++i) {
      KnoxCsvColumn col;
      col.header = "column " + std::to_string(i + 1);
      if (i == 0) {
        col.field = KnoxCsvField::kImei;
      } else if (in_.ncells() == 5) {
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
    stats_.lines = in_.line() - 1;
    bool blank = true;
    for (size_t i = 0; i < in_.ncells(); ++i) {
      DecodeCell(in_.cell(i));
      blank = blank && IsBlank(in_.cell(i));
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
    row.line = in_.record_line();
    for (size_t i = 0; i < in_.ncells(); ++i) {
      const std::string_view value = Trim(in_.cell(i));
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
          row.tags = SplitKnoxTags(value, /*split_on_semicolon=*/in_.delimiter() != ';');
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
  bool done_ = false;

  CsvTokenizer in_;  // bytes in, records of cells out

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
