#pragma once
// The tamper-evident chain: each record's prev_hash is the SHA-256 of the
// stored bytes of the previous record of the same partition ("" for the first).

#include <atomic>
#include <functional>
#include <map>

#include "events/event_log.h"

namespace ae::events {

struct ChainReport {
  bool ok = true;
  uint64_t records = 0;
  std::map<int32_t, std::string> head_hash;  // hex SHA-256 of each partition's last record
  LogPosition broken_at;                     // first record whose prev_hash does not match
  std::string problem;                       // human text when !ok
};

// Walks the whole log. `progress` (optional) is called every 100k records.
// `cancel` (optional) stops the walk early with kCancelled.
Result<ChainReport> VerifyChain(const EventLog& log,
                                const std::function<void(uint64_t)>& progress = nullptr,
                                const std::atomic<bool>* cancel = nullptr);

}  // namespace ae::events
