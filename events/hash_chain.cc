#include "events/hash_chain.h"

#include "events/base/crypto.h"

namespace ae::events {

Result<ChainReport> VerifyChain(const EventLog& log,
                                const std::function<void(uint64_t)>& progress,
                                const std::atomic<bool>* cancel) {
  ChainReport report;
  std::map<int32_t, std::string> last;  // raw hash per partition
  LogCursor cursor;
  while (true) {
    if (cancel && cancel->load()) return Cancelled("audit.cancelled", "verification cancelled");
    auto batch = log.Read(cursor, 4096);
    if (!batch.ok()) {
      if (batch.status().code() == StatusCode::kCorruption) {
        report.ok = false;
        report.problem = batch.status().message();
        // Name the first undecodable record: the one after the cursor.
        report.broken_at = LogPosition{0, cursor.Next(0)};
        break;
      }
      return batch.status();
    }
    if (batch->empty()) break;
    for (const RecordedEvent& r : *batch) {
      const std::string& expected = last[r.position.partition];
      if (r.envelope.prev_hash() != expected) {
        report.ok = false;
        report.broken_at = r.position;
        report.problem = "record " + r.position.ToString() +
                         " does not chain to the record before it (prev_hash mismatch)";
        break;
      }
      last[r.position.partition] = crypto::Sha256(r.raw);
      cursor.Advance(r.position);
      ++report.records;
      if (progress && report.records % 100000 == 0) progress(report.records);
    }
    if (!report.ok) break;
  }
  for (const auto& [p, h] : last) report.head_hash[p] = crypto::Hex(h);
  return report;
}

}  // namespace ae::events
