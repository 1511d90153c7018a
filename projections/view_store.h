#pragma once
// ViewStore: the RocksDB instance holding every read model, one column family
// per view table, plus "checkpoints". Views are derived data: the log is the
// source of truth, so a view store can be dropped and rebuilt by replay.
//
// ViewBatch: the unit of one projection step. It wraps a WriteBatchWithIndex,
// so a handler's reads see writes staged earlier in the same batch (two events
// of one device in one batch see each other).
//
// Thread-safety: ViewStore reads are safe from any thread; a ViewBatch belongs
// to one thread.

#include <rocksdb/db.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "events/base/status.h"

namespace ae::proj {

struct ViewStoreOptions {
  std::string path;
  std::vector<std::string> column_families;  // besides "default" and "checkpoints"
  // Memory budget: the block cache, and the memtables of every column family together
  // (charged to that cache, so the views stay within block_cache_bytes plus a little).
  size_t block_cache_bytes = 128 << 20;
  size_t write_buffer_bytes = 48 << 20;
  bool read_only = false;
};

class ViewStore {
 public:
  static Result<std::unique_ptr<ViewStore>> Open(const ViewStoreOptions& options);
  ~ViewStore();

  rocksdb::DB* db() { return db_.get(); }
  // The handle of `name`; aborts on an unknown name (a programming error).
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) const;
  std::vector<std::string> column_families() const;

  Result<std::optional<std::string>> Get(const std::string& cf, const std::string& key) const;
  // Calls fn(key, value) for keys >= start with `prefix`, in order, while fn returns true.
  Status Scan(const std::string& cf, const std::string& prefix, const std::string& start,
              const std::function<bool(std::string_view, std::string_view)>& fn) const;
  Status Write(rocksdb::WriteBatchBase* batch, bool sync = false);

 private:
  ViewStore() = default;
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> handles_;  // destroyed before db_
};

class ViewBatch {
 public:
  explicit ViewBatch(ViewStore& store) : store_(store), batch_() {}
  // A scratch batch that sees only its own writes (never the store): for
  // applying a few events to an empty view, e.g. a record as it was at a point
  // in the past. Never written to the store.
  struct Isolated {};
  ViewBatch(ViewStore& store, Isolated) : store_(store), batch_(), isolated_(true) {}
  // Reads through this batch's own writes, then the store.
  Result<std::optional<std::string>> Get(const std::string& cf, const std::string& key);
  void Put(const std::string& cf, const std::string& key, const std::string& value);
  void Delete(const std::string& cf, const std::string& key);
  rocksdb::WriteBatchWithIndex* batch() { return &batch_; }
  size_t count() { return static_cast<size_t>(batch_.GetWriteBatch()->Count()); }

 private:
  ViewStore& store_;
  rocksdb::WriteBatchWithIndex batch_;
  bool isolated_ = false;
};

}  // namespace ae::proj
