// libFuzzer target: the Knox portal CSV reader (adapters/samsung_knox/csv_reader.h).
//
// Each input is read twice: whole, and fed in pseudo-random chunks (0 to 64 bytes, derived
// from the input so a crash reproduces) with Next() drained after every chunk. Invariants:
//  - both readings agree exactly (the streaming state machine is split-independent);
//  - line numbers strictly increase, start at 1 and never pass the file's line count;
//  - every record is a row or a rejection, and the counters add up to the records;
//  - a row has a non-empty, well-formed identity; a rejection has a "csv." code and a message;
//  - all text out is valid UTF-8; tags are non-empty, trimmed and unique ignoring case;
//  - the chunked reader's buffer stays bounded by the record limit and the chunk size.
// A violated invariant aborts (libFuzzer reports it as a crash).
//
// Also linked into the unit test knox_csv_corpus_test, which replays the seed corpus
// (fuzz_check.h).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/samsung_knox/csv_reader.h"
#include "tests/fuzz/fuzz_check.h"

namespace ae::fuzz {
const char* const kTarget = "knox_csv_fuzz";
}  // namespace ae::fuzz

namespace {

using ae::kme::DeviceIdentity;
using ae::kme::KnoxCsvOptions;
using ae::kme::KnoxCsvReader;
using ae::kme::KnoxCsvRecord;
using ae::kme::KnoxCsvRejection;
using ae::kme::KnoxCsvRow;

using ae::fuzz::Fnv1a;
using ae::fuzz::SplitMix64;
using ae::fuzz::ValidUtf8;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool AllOf(std::string_view s, bool (*pred)(char)) {
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpperHex(char c) { return IsDigit(c) || (c >= 'A' && c <= 'F'); }
bool IsUpperAlnum(char c) { return IsDigit(c) || (c >= 'A' && c <= 'Z'); }

struct Reading {
  std::string status;  // file-level outcome, ToString()
  std::vector<KnoxCsvRecord> records;
  ae::kme::KnoxCsvStats stats;
  bool done = false;
};

// Reads `input` in chunks: whole if `rng` is null, else of 0..64 bytes.
Reading Read(std::string_view input, const KnoxCsvOptions& options, uint64_t* rng) {
  Reading out;
  KnoxCsvReader reader(options);
  auto sink = [&](KnoxCsvRecord&& r) {
    out.records.push_back(std::move(r));
    return ae::Status::Ok();
  };
  ae::Status s;
  size_t at = 0;
  do {
    const size_t n = rng == nullptr ? input.size() : SplitMix64(*rng) % 65;
    const std::string_view chunk = input.substr(at, n);
    at += chunk.size();
    s = reader.Feed(chunk);
    if (s.ok()) s = reader.Drain(sink);
  } while (s.ok() && at < input.size());
  if (s.ok()) s = reader.Finish();
  if (s.ok()) s = reader.Drain(sink);
  out.status = s.ToString();
  out.stats = reader.stats();
  out.done = reader.done();
  AE_FUZZ_CHECK(s.ok() == out.done, out.status);
  return out;
}

void CheckIdentity(const DeviceIdentity& id) {
  AE_FUZZ_CHECK(!id.empty(), "accepted row without identifier");
  for (const std::string* imei : {&id.imei, &id.imei2}) {
    if (imei->empty()) continue;
    AE_FUZZ_CHECK(imei->size() == 15 && AllOf(*imei, IsDigit), *imei);
  }
  if (!id.imei.empty() && !id.imei2.empty()) {
    AE_FUZZ_CHECK(id.imei.substr(0, 14) != id.imei2.substr(0, 14), id.imei);
  }
  if (!id.meid.empty()) {
    AE_FUZZ_CHECK(id.meid.size() == 14 && AllOf(id.meid, IsUpperHex) && !AllOf(id.meid, IsDigit),
                  id.meid);
  }
  if (!id.serial.empty()) {
    AE_FUZZ_CHECK(id.serial.size() >= 8 && id.serial.size() <= 20 && AllOf(id.serial, IsUpperAlnum),
                  id.serial);
  }
}

void CheckRow(const KnoxCsvRow& row) {
  CheckIdentity(row.identifiers);
  for (const std::string* s :
       {&row.wifi_mac, &row.model, &row.os_version, &row.order_number, &row.order_date.raw,
        &row.user_id, &row.password, &row.submitted.raw, &row.profile_name, &row.status_raw,
        &row.reseller_id, &row.reseller_name, &row.modified_by, &row.modified_at.raw,
        &row.device_name}) {
    AE_FUZZ_CHECK(ValidUtf8(*s), *s);
  }
  for (size_t i = 0; i < row.tags.size(); ++i) {
    const std::string& t = row.tags[i];
    AE_FUZZ_CHECK(!t.empty() && ValidUtf8(t), t);
    AE_FUZZ_CHECK(t.front() != ' ' && t.back() != ' ' && t.find(',') == std::string::npos, t);
    for (size_t j = 0; j < i; ++j) {
      const std::string& u = row.tags[j];
      bool same = u.size() == t.size();
      for (size_t k = 0; same && k < t.size(); ++k) same = Lower(u[k]) == Lower(t[k]);
      AE_FUZZ_CHECK(!same, "duplicate tag " + t);
    }
  }
  for (const auto& [key, value] : row.attributes) {
    AE_FUZZ_CHECK(!key.empty() && ValidUtf8(key) && ValidUtf8(value), key);
  }
  for (const auto& w : row.warnings) {
    AE_FUZZ_CHECK(w.code.rfind("csv.", 0) == 0 && !w.message.empty() && ValidUtf8(w.message),
                  w.code);
  }
  if (row.order_date.ambiguous) AE_FUZZ_CHECK(!row.order_date.epoch_ms, row.order_date.raw);
}

void CheckRejection(const KnoxCsvRejection& r) {
  AE_FUZZ_CHECK(r.code.rfind("csv.", 0) == 0, r.code);
  AE_FUZZ_CHECK(!r.message.empty() && ValidUtf8(r.message), r.message);
}

void CheckReading(const Reading& reading) {
  uint64_t last = 0;
  uint64_t accepted = 0, rejected = 0;
  for (const KnoxCsvRecord& record : reading.records) {
    const uint64_t line = ae::kme::RecordLine(record);
    AE_FUZZ_CHECK(line > last, "line " + std::to_string(line) + " after " + std::to_string(last));
    last = line;
    if (const auto* row = std::get_if<KnoxCsvRow>(&record)) {
      CheckRow(*row);
      ++accepted;
    } else {
      CheckRejection(std::get<KnoxCsvRejection>(record));
      ++rejected;
    }
  }
  AE_FUZZ_CHECK(reading.stats.rows_accepted == accepted, reading.status);
  AE_FUZZ_CHECK(reading.stats.rows_rejected == rejected, reading.status);
  if (reading.done) {
    AE_FUZZ_CHECK(last <= reading.stats.lines,
                  "line " + std::to_string(last) + " of " + std::to_string(reading.stats.lines));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  uint64_t rng = Fnv1a(input);
  KnoxCsvOptions options;
  options.max_record_bytes = (SplitMix64(rng) & 1) ? 1024 : 4096;
  options.reject_duplicates = (SplitMix64(rng) & 3) != 0;
  options.reject_bad_check_digit = (SplitMix64(rng) & 3) == 0;

  const Reading whole = Read(input, options, nullptr);
  CheckReading(whole);
  const Reading split = Read(input, options, &rng);
  CheckReading(split);

  AE_FUZZ_CHECK(whole.status == split.status, whole.status + " vs " + split.status);
  AE_FUZZ_CHECK(
      whole.records.size() == split.records.size(),
      std::to_string(whole.records.size()) + " vs " + std::to_string(split.records.size()));
  for (size_t i = 0; i < whole.records.size(); ++i) {
    AE_FUZZ_CHECK(whole.records[i] == split.records[i],
                  "record " + std::to_string(i) + " differs between whole and chunked reading");
  }
  AE_FUZZ_CHECK(whole.stats.lines == split.stats.lines, "line counts differ");
  // Bounded memory: a record (plus one run the fast path appends before it checks), a
  // 64-byte chunk, UTF-16 to UTF-8 growth.
  AE_FUZZ_CHECK(split.stats.peak_buffered_bytes <= 2 * options.max_record_bytes + 4 * 64 + 64,
                std::to_string(split.stats.peak_buffered_bytes));
  return 0;
}
