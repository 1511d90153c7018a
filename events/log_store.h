#pragma once
// LogStore: RocksDB storage of log records, shared by the embedded log (which
// appends to it) and the Kafka log (which mirrors its topic into it).
//
// Column families:
//   events   be32(partition) be64(offset)            -> the record's serialized Envelope
//   streams  stream '\0' be64(stream_version)        -> be32(partition) be64(offset)
//   meta     "head/" be32(partition)                 -> be64(next) be64(records) be64(last) hash[32]
//            other keys: owned by the user of the store (PutMeta)
//
// Thread-safety: reads are safe from any thread. Write() must be called by one
// thread at a time (the log's writer or mirror thread).

#include <rocksdb/db.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "events/event_log.h"

namespace ae::events {

struct LogStoreOptions {
  std::string path;                 // directory of the RocksDB instance
  bool sync = true;                 // fsync every Write (durable appends)
  rocksdb::Env* env = nullptr;      // test seam: fault-injecting env; null = default
  // Memory budget: the block cache, and the memtables of every column family together
  // (charged to that cache, so the store stays within block_cache_bytes plus a little).
  size_t block_cache_bytes = 32 << 20;
  size_t write_buffer_bytes = 16 << 20;
  bool read_only = false;           // open without the lock, beside a running writer; no Write()
};

struct PartitionHead {
  int64_t next_offset = 0;          // offset after the last record (or consumer position)
  uint64_t records = 0;             // records stored in the partition
  int64_t last_offset = -1;         // offset of the last record (-1 = none)
  std::string last_hash;            // SHA-256 of the last record's bytes ("" = none)
};

struct StagedRecord {
  LogPosition position;
  std::string stream;
  StreamVersion stream_version = 0;
  std::string raw;                  // serialized Envelope
  std::string hash;                 // SHA-256 of raw
};

class LogStore {
 public:
  static Result<std::unique_ptr<LogStore>> Open(const LogStoreOptions& options);
  ~LogStore();

  // Stores `records` (and `meta` key/values) in one atomic write, synced when
  // options.sync. `next_offsets` overrides the partitions' next offsets (the
  // Kafka mirror uses the consumer position, which skips control records).
  // On success updates the heads and wakes WaitForNew callers.
  Status Write(const std::vector<StagedRecord>& records,
               const std::map<int32_t, int64_t>& next_offsets = {},
               const std::map<std::string, std::string>& meta = {});

  PartitionHead Head(int32_t partition) const;
  std::map<int32_t, PartitionHead> Heads() const;
  LogCursor HeadCursor() const;

  Result<std::vector<RecordedEvent>> Read(const LogCursor& from, size_t max) const;
  // Read, decoding only the records whose payload is one of `cases` (all when null).
  Result<EventLog::MatchingRecords> ReadMatching(const LogCursor& from, size_t max,
                                                 const std::vector<int>* cases) const;
  Result<std::vector<RecordedEvent>> ReadStream(const std::string& stream, StreamVersion from,
                                                size_t max) const;
  Result<StreamVersion> GetStreamVersion(const std::string& stream) const;
  // Whether the store holds version `version` of `stream`: one point lookup, which the
  // stream index's bloom filters answer for a stream it never saw (GetStreamVersion seeks an
  // iterator through every level).
  Result<bool> HasStreamVersion(const std::string& stream, StreamVersion version) const;
  // Versions of many streams through one iterator on one snapshot: what a group commit
  // uses (an iterator per stream costs more than the lookup). Sees nothing written after
  // its creation.
  class VersionReader {
   public:
    Result<StreamVersion> Get(const std::string& stream);

   private:
    friend class LogStore;
    explicit VersionReader(std::unique_ptr<rocksdb::Iterator> it) : it_(std::move(it)) {}
    std::unique_ptr<rocksdb::Iterator> it_;
  };
  VersionReader NewVersionReader() const;
  Result<std::string> GetMeta(const std::string& key) const;  // "" when absent
  bool WaitForNew(const LogCursor& cursor, std::chrono::milliseconds timeout) const;

  // A consistent copy of the store in `dir` (events/rocksdb_backup.h), while it is written.
  Status Checkpoint(const std::string& dir) const;

  // Test seam: overwrite a stored record's bytes (to test tamper detection).
  Status CorruptRecordForTest(const LogPosition& pos, const std::string& raw);

 private:
  LogStore() = default;
  Result<RecordedEvent> Decode(const LogPosition& pos, std::string raw) const;
  bool HasNewLocked(const LogCursor& cursor) const;

  LogStoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // owned; destroyed before db_
  rocksdb::ColumnFamilyHandle* events_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;

  mutable std::mutex mu_;
  mutable std::condition_variable new_data_;
  std::map<int32_t, PartitionHead> heads_;  // guarded by mu_
};

// Key helpers (big-endian so RocksDB's bytewise order is numeric order).
std::string EncodeEventKey(const LogPosition& pos);
LogPosition DecodeEventKey(std::string_view key);
bool ValidStreamId(std::string_view stream);

}  // namespace ae::events
