// 100,000 rows (the §1.2 per-operation maximum) streamed through the reader in 64 KiB
// chunks, as the importer will: every row is read, and the reader's buffer stays bounded.
// The reader's CPU time is printed for information; nothing here asserts on time.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <string>

#include "adapters/samsung_knox/csv_reader.h"
#include "adapters/samsung_knox/identifiers.h"
#include "tests/support/test_support.h"

namespace ae::kme {
namespace {

constexpr int kRows = 100'000;
constexpr size_t kChunk = 64 * 1024;

std::string Imei(int i) {
  char first14[15];
  std::snprintf(first14, sizeof first14, "35%012d", i);
  return std::string(first14) + ImeiCheckDigit(first14);
}

std::string Row(int i) {
  char serial[16];
  std::snprintf(serial, sizeof serial, "R58M%07d", i);
  return Imei(i) + ",14," + serial + ",PO-" + std::to_string(i / 100) +
         ",A1:B2:C3:D4:E5:F6,SM-G991B,user" + std::to_string(i) +
         ",\"sales, berlin\",2024-03-15 10:20:30,Field Sales,Enrolled,On\r\n";
}

TEST(KnoxCsvBulk, HundredThousandRowsStreamWithBoundedMemory) {
  KnoxCsvReader reader;
  int64_t accepted = 0;
  uint64_t last_line = 0;
  std::string first_imei, last_imei;
  auto sink = [&](KnoxCsvRecord&& record) {
    const auto* row = std::get_if<KnoxCsvRow>(&record);
    if (row == nullptr)
      return Internal("test.rejected", std::get<KnoxCsvRejection>(record).message);
    if (accepted == 0) first_imei = row->identifiers.imei;
    last_imei = row->identifiers.imei;
    last_line = row->line;
    ++accepted;
    return Status::Ok();
  };

  // CPU time spent inside the reader only (the machine may be shared; wall time is noisy).
  std::clock_t reader_cpu = 0;
  auto timed = [&reader_cpu](auto&& call) {
    const std::clock_t t0 = std::clock();
    ae::Status s = call();
    reader_cpu += std::clock() - t0;
    return s;
  };
  size_t bytes = 0;
  std::string pending =
      "\xEF\xBB\xBFIMEI/MEID,OS Version,Serial number,Order number,Wi-Fi: Device MAC address,"
      "Model,EMM User ID,Tags,Submitted,Enrollment profile,Status,EMM auto-enrollment\r\n";
  for (int i = 0; i < kRows; ++i) {
    pending += Row(i);
    if (pending.size() >= kChunk) {
      const std::string_view chunk = std::string_view(pending).substr(0, kChunk);
      ASSERT_THAT(timed([&] { return reader.Feed(chunk); }), IsOk());
      ASSERT_THAT(timed([&] { return reader.Drain(sink); }), IsOk());
      bytes += kChunk;
      pending.erase(0, kChunk);
    }
  }
  ASSERT_THAT(timed([&] { return reader.Feed(pending); }), IsOk());
  bytes += pending.size();
  ASSERT_THAT(timed([&] { return reader.Finish(); }), IsOk());
  ASSERT_THAT(timed([&] { return reader.Drain(sink); }), IsOk());
  const double seconds = static_cast<double>(reader_cpu) / CLOCKS_PER_SEC;

  EXPECT_TRUE(reader.done());
  EXPECT_EQ(accepted, kRows);
  EXPECT_EQ(first_imei, Imei(0));
  EXPECT_EQ(last_imei, Imei(kRows - 1));
  EXPECT_EQ(last_line, static_cast<uint64_t>(kRows) + 1);
  EXPECT_EQ(reader.stats().lines, static_cast<uint64_t>(kRows) + 1);
  // The reader held at most one chunk plus an unfinished record, never the file.
  EXPECT_LT(reader.stats().peak_buffered_bytes, kChunk + 1024);
  std::printf(
      "[ INFO     ] %d rows, %.1f MB read in %.3f s of CPU: %.0f rows/s; "
      "peak reader buffer %zu bytes\n",
      kRows, bytes / 1e6, seconds, kRows / seconds, reader.stats().peak_buffered_bytes);
}

}  // namespace
}  // namespace ae::kme
