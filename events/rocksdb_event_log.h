#pragma once
// RocksDbEventLog: the embedded default. One partition (0), offsets 0, 1, 2...
// Appends are durable (fsync) and group-committed: concurrent appenders share
// one synced WriteBatch. A failed write makes the log refuse every later
// append (sticky error), since what reached the disk is then indeterminate;
// reopening the log recovers from what RocksDB's WAL holds.

#include <atomic>
#include <memory>

#include "events/base/clock.h"
#include "events/event_log.h"
#include "events/internal/group_commit.h"
#include "events/log_store.h"

namespace ae::events {

struct RocksDbEventLogOptions {
  std::string path;                  // directory of the log's RocksDB instance
  bool sync = true;                  // fsync each group commit; false only for benchmarks of raw apply
  size_t max_group_events = 4096;    // cap of one group commit
  rocksdb::Env* env = nullptr;       // test seam (fault injection)
  Clock* clock = nullptr;            // null = real clock
  bool read_only = false;            // for tools beside a running server: appends refused
};

class RocksDbEventLog : public EventLog {
 public:
  static Result<std::unique_ptr<RocksDbEventLog>> Open(const RocksDbEventLogOptions& options);

  std::vector<Result<AppendResult>> AppendBatch(std::vector<AppendItem> items) override;
  Result<AppendResult> Append(const StreamId& stream, ExpectedVersion expected,
                              std::vector<Envelope> events) override;
  Result<std::vector<RecordedEvent>> Read(const LogCursor& from, size_t max) const override;
  Result<MatchingRecords> ReadMatching(const LogCursor& from, size_t max,
                                       const std::vector<int>& cases) const override;
  Result<std::vector<RecordedEvent>> ReadStream(const StreamId& stream, StreamVersion from_version,
                                                size_t max) const override;
  Result<StreamVersion> GetStreamVersion(const StreamId& stream) const override;
  Result<LogCursor> Head() const override;
  bool WaitForNew(const LogCursor& cursor, std::chrono::milliseconds timeout) const override;
  Status Health() const override;
  std::string Kind() const override { return "rocksdb"; }

  LogStore& store() { return *store_; }

 private:
  explicit RocksDbEventLog(const RocksDbEventLogOptions& options) : options_(options) {}
  void CommitGroup(const std::vector<internal::AppendRequest*>& group);

  RocksDbEventLogOptions options_;
  Clock* clock_ = nullptr;
  std::unique_ptr<LogStore> store_;
  internal::GroupCommitQueue queue_{4096};
  mutable std::mutex sticky_mu_;
  Status sticky_error_;  // guarded by sticky_mu_
};

}  // namespace ae::events
