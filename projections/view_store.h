#pragma once
// ViewStore: the RocksDB instance holding every read model, one column family
// per view table, plus "checkpoints". Views are derived data: the log is the
// source of truth, so a view store can be dropped and rebuilt by replay.
//
// ViewBatch: the unit of one projection step. It stages writes in a hash table by
// family and key, so a handler's reads see writes staged earlier in the same batch
// (two events of one device in one batch see each other) in one lookup, and a key
// written many times in a batch (a count, an index head) is written to RocksDB once,
// with its last value: the stored bytes are those of applying every write in order.
//
// A batch may read through the batch before it (`under`) while that one is being written
// on another thread: the projection runner applies batch N+1 while batch N goes into
// RocksDB, and N+1 sees N's writes whether or not they have reached the store yet.
//
// Thread-safety: ViewStore reads are safe from any thread; a ViewBatch belongs
// to one thread (a batch that others read through is not changed any more). SwapWith() exchanges the RocksDB instance under the store's
// exclusive lock while readers wait (never fail); the one writer (the runner)
// must be stopped around it.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "events/base/status.h"

namespace ae::proj {

class ViewBatch;

struct ViewStoreOptions {
  std::string path;
  std::vector<std::string> column_families;  // besides "default" and "checkpoints"
  // Those of them read mostly for keys they do not hold: each of their memtables keeps a
  // bloom of whole keys (a few hundred KB each, charged to the memtable budget, which is why
  // it is not every family: with about 30 of them the blooms alone would fill the budget and
  // flush the views over and over).
  std::vector<std::string> point_read_families;
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

  const std::string& path() const { return path_; }
  // The handle of `name`; aborts on an unknown name (a programming error). Valid
  // until the next SwapWith().
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) const;
  std::vector<std::string> column_families() const;

  // Exchanges the RocksDB instances (and paths) of this store and `other`, under
  // both stores' exclusive locks: a reader sees the old views or the new ones,
  // never a mix. The writer of each store must be stopped.
  void SwapWith(ViewStore& other);
  // Runs fn(db, handles by family name) under the shared lock (no swap meanwhile);
  // fn must not call this store's other members.
  using Handles = std::map<std::string, rocksdb::ColumnFamilyHandle*>;
  Status WithDb(const std::function<Status(rocksdb::DB*, const Handles&)>& fn) const;

  Result<std::optional<std::string>> Get(const std::string& cf, const std::string& key) const;
  // Calls fn(key, value) for keys >= start with `prefix`, in order, while fn returns true.
  Status Scan(const std::string& cf, const std::string& prefix, const std::string& start,
              const std::function<bool(std::string_view, std::string_view)>& fn) const;
  // Writes what `batch` staged, atomically (each key once, in key order per family).
  Status Write(const ViewBatch& batch, bool sync = false);

 private:
  ViewStore() = default;
  rocksdb::ColumnFamilyHandle* CfLocked(const std::string& name) const;
  friend class ViewBatch;

  mutable std::shared_mutex swap_mu_;  // shared: every use of db_; exclusive: SwapWith
  std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> handles_;  // destroyed before db_
};

class ViewBatch {
 public:
  explicit ViewBatch(ViewStore& store) : store_(store) {}
  // Reads through `under` (staged, not yet written, no longer changed) before the store.
  ViewBatch(ViewStore& store, const ViewBatch* under) : store_(store), under_(under) {}
  // A scratch batch that sees only its own writes (never the store): for
  // applying a few events to an empty view, e.g. a record as it was at a point
  // in the past. Never written to the store. It holds no handle of the store, so a
  // swap of the store cannot invalidate it.
  struct Isolated {};
  ViewBatch(ViewStore& store, Isolated) : store_(store), isolated_(true) {}
  // Reads through this batch's own writes, then the batch under it, then the store.
  Result<std::optional<std::string>> Get(const std::string& cf, const std::string& key);
  // Key and value are taken (moved from when given as temporaries, e.g. an Encode()).
  void Put(const std::string& cf, std::string key, std::string value);
  void Delete(const std::string& cf, const std::string& key);
  // The keys staged (each counted once, however often it was written).
  size_t count() const { return keys_; }
  // The batch under this one was written: reads go to the store from now on.
  void ForgetUnder() { under_ = nullptr; }

  // Run once by the writer after this batch is in the store, in the order first asked
  // (each hook once per batch): e.g. telling caches that a view moved.
  using Hook = void (*)();
  void AfterWrite(Hook hook);
  const std::vector<Hook>& after_write() const { return after_write_; }

 private:
  friend class ViewStore;
  using Table = std::unordered_map<std::string, std::optional<std::string>>;  // nullopt: deleted
  Table& TableOf(const std::string& cf);
  // The staged value of cf/key: nullptr when not staged; a nullopt inside when deleted.
  const std::optional<std::string>* Staged(const std::string& cf, const std::string& key) const;

  ViewStore& store_;
  const ViewBatch* under_ = nullptr;
  bool isolated_ = false;
  std::vector<Hook> after_write_;
  std::unordered_map<std::string, Table> tables_;  // by family name
  size_t keys_ = 0;
};

}  // namespace ae::proj
