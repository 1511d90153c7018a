#include "tests/bench/bench_kme.h"

#include <fstream>
#include <sstream>

#include "adapters/samsung_knox/csv_reader.h"
#include "tests/bench/bench.h"

namespace ae::bench {

namespace {
std::string Imei(uint64_t k) {
  std::string d = std::to_string(35000000000000ULL + k);  // 14 digits
  d.push_back(ae::kme::ImeiCheckDigit(d));
  return d;
}

std::string Serial(uint64_t k) {  // R58M + 7 digits: 11 characters like Samsung's
  std::string n = std::to_string(k % 10000000);
  return "R58M" + std::string(7 - n.size(), '0') + n;
}
}  // namespace

int KmeCsv(const KmeCsvOptions& o) {
  static const char* kModels[] = {"SM-G991B", "SM-A536B", "SM-S918B", "SM-X200", "SM-G781V"};
  static const char* kStatus[] = {"Profile assigned", "Unassigned", "Enrolled", "Pending"};
  Stopwatch watch;
  std::ofstream out(o.out, std::ios::binary | std::ios::trunc);
  if (!out) return Fail("kme-csv", "cannot write " + o.out);
  out << "\xEF\xBB\xBF"
      << "IMEI/MEID,Serial number,Order number,Model,User ID,Tags,Submitted date,Profile,Status\r\n";
  uint64_t bytes = 0;
  std::string line;
  for (uint64_t k = o.first; k < o.first + o.rows; ++k) {
    line.clear();
    line += Imei(k);
    line += ',';
    line += Serial(k);
    line += ",PO-";
    line += std::to_string(1000 + k / 500);
    line += ',';
    line += kModels[k % 5];
    line += ",bench-user-";
    line += std::to_string(Mix64(k) % (2 * std::max<uint64_t>(o.users, 1)));
    line += (k % 3 == 0) ? ",\"Sales,Berlin\"" : ",Fleet";
    line += ",2024-03-16 10:20:30,Default Profile,";
    line += kStatus[k % 4];
    line += "\r\n";
    bytes += line.size();
    out << line;
  }
  out.close();
  if (!out) return Fail("kme-csv", "cannot write " + o.out);
  PrintResult({{"figure", "kme_csv"}, {"rows", o.rows}, {"bytes", bytes},
               {"seconds", watch.Seconds()}});
  return 0;
}

int RawKmeRead(const RawKmeReadOptions& o) {
  std::ifstream in(o.file, std::ios::binary);
  if (!in) return Fail("raw-kme-read", "cannot read " + o.file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string file = ss.str();
  Stopwatch watch;
  ae::kme::KnoxCsvReader reader;
  uint64_t rows = 0, rejected = 0;
  auto sink = [&](ae::kme::KnoxCsvRecord&& r) {
    if (std::holds_alternative<ae::kme::KnoxCsvRow>(r)) ++rows;
    else ++rejected;
    return Status::Ok();
  };
  const size_t chunk = std::max<size_t>(o.chunk_bytes, 1024);
  for (size_t at = 0; at < file.size(); at += chunk) {
    Status s = reader.Feed(std::string_view(file).substr(at, chunk));
    if (s.ok()) s = reader.Drain(sink);
    if (!s.ok()) return Fail("raw-kme-read", s);
  }
  Status s = reader.Finish();
  if (s.ok()) s = reader.Drain(sink);
  if (!s.ok()) return Fail("raw-kme-read", s);
  double secs = watch.Seconds();
  PrintResult({{"figure", "raw_kme_read"}, {"rows", rows}, {"rejected", rejected},
               {"bytes", file.size()}, {"seconds", secs},
               {"per_sec", static_cast<double>(rows + rejected) / secs}});
  return 0;
}

}  // namespace ae::bench
