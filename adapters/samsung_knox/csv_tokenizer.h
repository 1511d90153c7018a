#pragma once
// The byte level of the Knox CSV reader: the encoding (UTF-8, UTF-8 with BOM, UTF-16 LE/BE
// with or without BOM; Windows-1252 cells are decoded later, per cell), the delimiter
// (, ; or TAB, from the first non-blank line), and records of cells under RFC 4180 with the
// portal's leniencies: "abc"def reads as abcdef, line breaks inside quotes read as LF, CR,
// LF and CRLF all end a line. A record that outgrows the limit, or a quote left open, can be
// restarted at the line after its first one. Internal to ae_knox_csv (csv_reader.cc).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/samsung_knox/csv_reader.h"

namespace ae::kme::csv_parts {

class CsvTokenizer {
 public:
  enum class Scan : uint8_t { kRecord, kNeedMore, kOversize };

  explicit CsvTokenizer(size_t max_record_bytes) : max_record_bytes_(max_record_bytes) {}

  // Bytes in. The first bytes decide the encoding; UTF-16 is transcoded to UTF-8 as it comes.
  void Feed(std::string_view chunk);
  // The end of the input (idempotent): a lone surrogate or odd byte becomes U+FFFD.
  void Finish();
  bool finished() const { return finished_; }
  KnoxCsvEncoding encoding() const { return encoding_; }
  bool utf16() const {
    return encoding_ == KnoxCsvEncoding::kUtf16Le || encoding_ == KnoxCsvEncoding::kUtf16Be;
  }
  size_t buffered_bytes() const { return buf_.size() + sniff_.size(); }

  // Picks the delimiter from the first non-blank line. False: more input is needed.
  bool DetectDelimiter();
  char delimiter() const { return delim_; }

  // Advances until a record is complete (cell(0) .. cell(ncells() - 1)), the input runs out
  // (kNeedMore), or the record outgrows max_record_bytes (kOversize).
  Scan ScanRecord();
  size_t ncells() const { return ncells_; }
  std::string& cell(size_t i) { return cells_[i]; }

  // At the end of the input, inside a record: its last line has no line break (or a quote
  // left open on it); ends it as it stands.
  void EndLastRecord() {
    EndField();
    in_record_ = false;
  }
  bool in_record() const { return in_record_; }
  bool in_open_quote() const { return tok_ == Tok::kQuoted; }
  // The record spans more than one line: it can be restarted after its first.
  bool has_restart() const { return restart_offset_ != std::string::npos; }
  // Restarts reading at the line after the current record's first line.
  void RestartAfterFirstLine();
  // Drops the current record and the rest of its line.
  void SkipRestOfLine() {
    in_record_ = false;
    skipping_ = true;
  }
  uint64_t record_line() const { return record_line_; }  // first line of the record
  uint64_t restart_line() const { return restart_line_; }
  uint64_t line() const { return line_; }                // the line being read (1-based)
  int last_byte() const { return last_byte_; }           // -1 before any input

 private:
  enum class Tok : uint8_t { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };
  static constexpr size_t kNpos = std::string::npos;
  static constexpr size_t kCellCost = 32;  // bytes a cell costs beyond its text (the limit)

  void Compact();
  void DetectEncodingAndFlush();
  void Transcode(std::string_view bytes);
  void EmitUnit(uint16_t u);
  void EndField();
  void EndLine(char c);

  const size_t max_record_bytes_;
  bool finished_ = false;

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
};

}  // namespace ae::kme::csv_parts
