#pragma once
// The KME figures of scripts/bench (section kme): a generated Knox portal export and the
// raw CSV reader over it. The engine figure is the HTTP import itself, timed by the script.

#include <cstdint>
#include <string>

namespace ae::bench {

struct KmeCsvOptions {
  std::string out;          // file to write
  uint64_t rows = 100'000;  // data rows
  uint64_t users = 10'000;  // User IDs name bench-user-<k> for k < 2 * users: half exist
  uint64_t first = 0;       // device numbers first .. first + rows - 1 (disjoint files)
};
// Writes a portal export ("Download devices as CSV" columns, UTF-8 BOM, CRLF) of `rows`
// distinct devices with valid IMEIs and serials (device k: IMEI 35000000000000 + k with its
// check digit, serial R58M + k as 7 digits). Prints {rows, bytes, seconds}.
int KmeCsv(const KmeCsvOptions& o);

struct RawKmeReadOptions {
  std::string file;
  size_t chunk_bytes = 64 << 10;
};
// The raw library figure: ae::kme::KnoxCsvReader alone over the file (read into memory
// first, then fed in chunks). Prints {rows, rejected, seconds, per_sec}.
int RawKmeRead(const RawKmeReadOptions& o);

}  // namespace ae::bench
