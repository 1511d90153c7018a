#include "projections/view_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>
#include <set>

#include "events/base/check.h"
#include "events/rocksdb_table.h"

namespace ae::proj {

namespace {
Status FromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Corruption("view.corruption", std::string(what) + ": " + s.ToString());
  return Unavailable("view.unavailable", std::string(what) + ": " + s.ToString());
}
}  // namespace

Result<std::unique_ptr<ViewStore>> ViewStore::Open(const ViewStoreOptions& options) {
  std::unique_ptr<ViewStore> store(new ViewStore());
  rocksdb::DBOptions dbo;
  dbo.create_if_missing = true;
  dbo.create_missing_column_families = true;
  dbo.atomic_flush = true;  // every family flushes together: a checkpoint never runs ahead
  rocksdb::BlockBasedTableOptions table = events::LookupTableOptions(options.block_cache_bytes);
  // One budget for the memtables of all families (there are many), charged to the cache:
  // a bulk import fills memtables, and 64 MB per family by default would not be bounded.
  dbo.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(
      options.write_buffer_bytes, table.block_cache);
  rocksdb::ColumnFamilyOptions cfo;
  cfo.write_buffer_size = std::max<size_t>(options.write_buffer_bytes / 4, 1 << 20);
  cfo.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName, "checkpoints"};
  for (const auto& n : options.column_families) names.push_back(n);
  rocksdb::ColumnFamilyOptions point_read = cfo;
  point_read.memtable_whole_key_filtering = true;
  point_read.memtable_prefix_bloom_size_ratio = 0.02;
  const std::set<std::string> bloomed(options.point_read_families.begin(),
                                      options.point_read_families.end());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, bloomed.count(n) ? point_read : cfo);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (options.read_only) {
    s = rocksdb::DB::OpenForReadOnly(dbo, options.path, cfs, &handles, &raw);
  } else {
    s = rocksdb::DB::Open(dbo, options.path, cfs, &handles, &raw);
  }
  AE_RETURN_IF_ERROR(FromRocks(s, "open view store"));
  store->path_ = options.path;
  store->db_.reset(raw);
  for (size_t i = 0; i < names.size(); ++i) store->handles_[names[i]] = handles[i];
  return store;
}

ViewStore::~ViewStore() {
  for (auto& [n, h] : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
}

rocksdb::ColumnFamilyHandle* ViewStore::cf(const std::string& name) const {
  std::shared_lock lock(swap_mu_);
  return CfLocked(name);
}

rocksdb::ColumnFamilyHandle* ViewStore::CfLocked(const std::string& name) const {
  auto it = handles_.find(name);
  AE_CHECK(it != handles_.end());
  return it->second;
}

std::vector<std::string> ViewStore::column_families() const {
  std::shared_lock lock(swap_mu_);
  std::vector<std::string> out;
  for (const auto& [n, h] : handles_) out.push_back(n);
  return out;
}

void ViewStore::SwapWith(ViewStore& other) {
  if (&other == this) return;
  std::scoped_lock lock(swap_mu_, other.swap_mu_);
  std::swap(path_, other.path_);
  std::swap(db_, other.db_);
  std::swap(handles_, other.handles_);
}

Status ViewStore::WithDb(const std::function<Status(rocksdb::DB*, const Handles&)>& fn) const {
  std::shared_lock lock(swap_mu_);
  return fn(db_.get(), handles_);
}

Result<std::optional<std::string>> ViewStore::Get(const std::string& cf_name,
                                                  const std::string& key) const {
  std::shared_lock lock(swap_mu_);
  std::string v;
  auto s = db_->Get({}, CfLocked(cf_name), key, &v);
  if (s.IsNotFound()) return std::optional<std::string>();
  AE_RETURN_IF_ERROR(FromRocks(s, "read view"));
  return std::optional<std::string>(std::move(v));
}

Status ViewStore::Scan(const std::string& cf_name, const std::string& prefix,
                       const std::string& start,
                       const std::function<bool(std::string_view, std::string_view)>& fn) const {
  std::shared_lock lock(swap_mu_);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, CfLocked(cf_name)));
  for (it->Seek(start.empty() ? prefix : std::max(start, prefix));
       it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (!fn(std::string_view(it->key().data(), it->key().size()),
            std::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return FromRocks(it->status(), "scan view");
}

Status ViewStore::Write(const ViewBatch& batch, bool sync) {
  AE_CHECK(!batch.isolated_);
  std::shared_lock lock(swap_mu_);
  // Each key once, its last value, in key order per family: a memtable insert in key
  // order reuses its search path (and a key rewritten in the batch is inserted once).
  rocksdb::WriteBatch wb;
  std::vector<const std::pair<const std::string, std::optional<std::string>>*> entries;
  for (const auto& [cf, table] : batch.tables_) {
    rocksdb::ColumnFamilyHandle* h = CfLocked(cf);
    entries.clear();
    entries.reserve(table.size());
    for (const auto& e : table) entries.push_back(&e);
    std::sort(entries.begin(), entries.end(),
              [](const auto* a, const auto* b) { return a->first < b->first; });
    for (const auto* e : entries) {
      rocksdb::Status s = e->second ? wb.Put(h, e->first, *e->second) : wb.Delete(h, e->first);
      AE_CHECK(s.ok());
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return FromRocks(db_->Write(wo, &wb), "write views");
}

ViewBatch::Table& ViewBatch::TableOf(const std::string& cf) {
  auto it = tables_.find(cf);
  if (it != tables_.end()) return it->second;
  store_.cf(cf);  // an unknown family is a programming error (aborts)
  return tables_[cf];
}

const std::optional<std::string>* ViewBatch::Staged(const std::string& cf,
                                                    const std::string& key) const {
  auto t = tables_.find(cf);
  if (t == tables_.end()) return nullptr;
  auto it = t->second.find(key);
  return it == t->second.end() ? nullptr : &it->second;
}

Result<std::optional<std::string>> ViewBatch::Get(const std::string& cf, const std::string& key) {
  if (const auto* v = Staged(cf, key)) return *v;
  if (under_) {
    if (const auto* v = under_->Staged(cf, key)) return *v;
  }
  if (isolated_) return std::optional<std::string>();
  return store_.Get(cf, key);
}

void ViewBatch::AfterWrite(Hook hook) {
  if (std::find(after_write_.begin(), after_write_.end(), hook) == after_write_.end()) {
    after_write_.push_back(hook);
  }
}

void ViewBatch::Put(const std::string& cf, std::string key, std::string value) {
  auto [it, added] = TableOf(cf).insert_or_assign(std::move(key), std::move(value));
  keys_ += added;
}

void ViewBatch::Delete(const std::string& cf, const std::string& key) {
  auto [it, added] = TableOf(cf).insert_or_assign(key, std::nullopt);
  keys_ += added;
}

}  // namespace ae::proj
