#include "adapters/samsung_knox/csv_tokenizer.h"

#include "adapters/samsung_knox/csv_parts.h"

namespace ae::kme::csv_parts {

// ---- bytes in ---------------------------------------------------------------------------

void CsvTokenizer::Feed(std::string_view chunk) {
  Compact();
  if (encoding_ == KnoxCsvEncoding::kUndetected) {
    sniff_.append(chunk);
    if (sniff_.size() >= 4) DetectEncodingAndFlush();
  } else {
    Transcode(chunk);
  }
}

void CsvTokenizer::Finish() {
  if (finished_) return;
  if (encoding_ == KnoxCsvEncoding::kUndetected) DetectEncodingAndFlush();
  if (high_surrogate_ != 0 || carry_ >= 0) {
    if (high_surrogate_ != 0) AppendUtf8(buf_, 0xFFFD);  // a lone high surrogate
    if (carry_ >= 0) AppendUtf8(buf_, 0xFFFD);           // an odd byte at the end
    last_byte_ = static_cast<unsigned char>(buf_.back());
  }
  carry_ = -1;
  high_surrogate_ = 0;
  finished_ = true;
}

// Drops consumed input, keeping the current record (a restart may re-read it).
void CsvTokenizer::Compact() {
  const size_t keep_from = in_record_ ? record_start_ : pos_;
  if (keep_from == 0) return;
  buf_.erase(0, keep_from);
  pos_ -= keep_from;
  if (in_record_) {
    record_start_ -= keep_from;
    if (restart_offset_ != kNpos) restart_offset_ -= keep_from;
  }
}

void CsvTokenizer::DetectEncodingAndFlush() {
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

// Appends `bytes` to buf_ as UTF-8 (UTF-16 is transcoded; UTF-8/1252 stay as they are:
// every byte CSV cares about is ASCII, and cells are decoded once complete).
void CsvTokenizer::Transcode(std::string_view bytes) {
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

void CsvTokenizer::EmitUnit(uint16_t u) {
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
bool CsvTokenizer::DetectDelimiter() {
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
  for (; i < n && i - line_start <= max_record_bytes_; ++i) {
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
  if (!line_end && !finished_ && i - line_start <= max_record_bytes_) return false;
  delim_ = ',';
  if (counts[1] > counts[0] && counts[1] >= counts[2]) delim_ = ';';
  if (counts[2] > counts[0] && counts[2] > counts[1]) delim_ = '\t';
  return true;
}

// ---- records ---------------------------------------------------------------------------

void CsvTokenizer::EndField() {
  if (ncells_ < cells_.size()) {
    cells_[ncells_].swap(field_);
  } else {
    cells_.push_back(std::move(field_));
  }
  ++ncells_;
  field_.clear();
}

void CsvTokenizer::EndLine(char c) {
  ++line_;
  after_cr_ = c == '\r';
}

// Advances through buf_ until a record is complete (cells_[0, ncells_)), the input runs
// out, or the record outgrows max_record_bytes.
CsvTokenizer::Scan CsvTokenizer::ScanRecord() {
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
    if (pos_ - record_start_ + ncells_ * kCellCost > max_record_bytes_) {
      return Scan::kOversize;
    }
  }
  return Scan::kNeedMore;
}

// Restarts reading at the line after the current record's first line.
void CsvTokenizer::RestartAfterFirstLine() {
  pos_ = restart_offset_;
  line_ = restart_line_;
  after_cr_ = restart_after_cr_;
  in_record_ = false;
  restart_offset_ = kNpos;
}

}  // namespace ae::kme::csv_parts
