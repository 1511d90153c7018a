#include "events/log_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>
#include <cstring>

#include "events/base/check.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"
#include "events/rocksdb_backup.h"
#include "events/rocksdb_table.h"
#include "events/upcast.h"

namespace ae::events {
namespace {

void PutBe32(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutBe64(std::string& s, uint64_t v) {
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t GetBe(std::string_view s, size_t at, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}

std::string StreamKey(const std::string& stream, StreamVersion v) {
  std::string k = stream;
  k.push_back('\0');
  PutBe64(k, v);
  return k;
}

std::string HeadKey(int32_t partition) {
  std::string k = "head/";
  PutBe32(k, static_cast<uint32_t>(partition));
  return k;
}

// The stream of a "streams" key (stream '\0' version(8)): the key less its version. With it the
// family keeps prefix blooms, in the memtable and in each table, so the version read of a stream
// that no table holds (every new device of an import) skips them instead of searching each one.
class StreamOfKey : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "ae.StreamOfKey"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key.size() - 8);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() > 8; }
};

Status FromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Corruption("log.corruption", std::string(what) + ": " + s.ToString());
  return Unavailable("log.unavailable", std::string(what) + ": " + s.ToString());
}

}  // namespace

std::string EncodeEventKey(const LogPosition& pos) {
  std::string k;
  PutBe32(k, static_cast<uint32_t>(pos.partition));
  PutBe64(k, static_cast<uint64_t>(pos.offset));
  return k;
}

LogPosition DecodeEventKey(std::string_view key) {
  AE_CHECK(key.size() == 12);
  return LogPosition{static_cast<int32_t>(GetBe(key, 0, 4)), static_cast<int64_t>(GetBe(key, 4, 8))};
}

bool ValidStreamId(std::string_view s) {
  if (s.empty() || s.size() > 512) return false;
  auto slash = s.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == s.size()) return false;
  return s.find('\0') == std::string_view::npos;
}

Result<std::unique_ptr<LogStore>> LogStore::Open(const LogStoreOptions& options) {
  std::unique_ptr<LogStore> store(new LogStore());
  store->options_ = options;
  rocksdb::Options db_opts;
  db_opts.create_if_missing = true;
  db_opts.create_missing_column_families = true;
  if (options.env) db_opts.env = options.env;
  rocksdb::BlockBasedTableOptions table = events::LookupTableOptions(options.block_cache_bytes);
  // One budget for the memtables of all column families, charged to the block cache.
  db_opts.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(
      options.write_buffer_bytes, table.block_cache);
  rocksdb::ColumnFamilyOptions cf_opts;
  cf_opts.write_buffer_size = std::max<size_t>(options.write_buffer_bytes / 2, 1 << 20);
  cf_opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Every read of "streams" stays within one stream (ReadStream, VersionReader), so the family
  // can take a prefix extractor: iterators in prefix mode, blooms of streams.
  rocksdb::ColumnFamilyOptions stream_opts = cf_opts;
  stream_opts.prefix_extractor = std::make_shared<StreamOfKey>();
  stream_opts.memtable_prefix_bloom_size_ratio = 0.05;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, cf_opts},
      {"events", cf_opts},
      {"streams", stream_opts},
      {"meta", cf_opts},
  };
  rocksdb::DB* raw = nullptr;
  rocksdb::DBOptions dbo(db_opts);
  auto s = options.read_only
               ? rocksdb::DB::OpenForReadOnly(dbo, options.path, cfs, &store->handles_, &raw)
               : rocksdb::DB::Open(dbo, options.path, cfs, &store->handles_, &raw);
  if (!s.ok()) return FromRocks(s, "open log store");
  store->db_.reset(raw);
  store->events_ = store->handles_[1];
  store->streams_ = store->handles_[2];
  store->meta_ = store->handles_[3];

  std::unique_ptr<rocksdb::Iterator> it(store->db_->NewIterator({}, store->meta_));
  for (it->Seek("head/"); it->Valid() && it->key().starts_with("head/"); it->Next()) {
    std::string_view k(it->key().data(), it->key().size());
    std::string_view v(it->value().data(), it->value().size());
    if (k.size() != 9 || v.size() != 56) return Corruption("log.corruption", "bad head record");
    PartitionHead h;
    h.next_offset = static_cast<int64_t>(GetBe(v, 0, 8));
    h.records = GetBe(v, 8, 8);
    h.last_offset = static_cast<int64_t>(GetBe(v, 16, 8));
    h.last_hash = std::string(v.substr(24, 32));
    if (h.last_hash == std::string(32, '\0')) h.last_hash.clear();
    store->heads_[static_cast<int32_t>(GetBe(k, 5, 4))] = h;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read heads");
  return store;
}

LogStore::~LogStore() {
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
}

Status LogStore::Write(const std::vector<StagedRecord>& records,
                       const std::map<int32_t, int64_t>& next_offsets,
                       const std::map<std::string, std::string>& meta) {
  if (options_.read_only) return Unavailable("log.read_only", "the log is open read-only");
  std::map<int32_t, PartitionHead> changed;
  {
    std::lock_guard lock(mu_);
    for (const auto& r : records) {
      if (!changed.count(r.position.partition)) {
        auto it = heads_.find(r.position.partition);
        changed[r.position.partition] = it == heads_.end() ? PartitionHead{} : it->second;
      }
    }
    for (const auto& [p, n] : next_offsets) {
      if (!changed.count(p)) {
        auto it = heads_.find(p);
        changed[p] = it == heads_.end() ? PartitionHead{} : it->second;
      }
    }
  }
  rocksdb::WriteBatch batch;
  for (const auto& r : records) {
    batch.Put(events_, EncodeEventKey(r.position), r.raw);
    std::string pos;
    PutBe32(pos, static_cast<uint32_t>(r.position.partition));
    PutBe64(pos, static_cast<uint64_t>(r.position.offset));
    batch.Put(streams_, StreamKey(r.stream, r.stream_version), pos);
    PartitionHead& h = changed[r.position.partition];
    h.next_offset = std::max(h.next_offset, r.position.offset + 1);
    h.records += 1;
    h.last_offset = std::max(h.last_offset, r.position.offset);
    h.last_hash = r.hash;
  }
  for (const auto& [p, n] : next_offsets) changed[p].next_offset = std::max(changed[p].next_offset, n);
  for (const auto& [p, h] : changed) {
    std::string v;
    PutBe64(v, static_cast<uint64_t>(h.next_offset));
    PutBe64(v, h.records);
    PutBe64(v, static_cast<uint64_t>(h.last_offset));
    v += h.last_hash.empty() ? std::string(32, '\0') : h.last_hash;
    batch.Put(meta_, HeadKey(p), v);
  }
  for (const auto& [k, v] : meta) batch.Put(meta_, k, v);
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  AE_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), "write log records"));
  {
    std::lock_guard lock(mu_);
    for (auto& [p, h] : changed) heads_[p] = std::move(h);
  }
  new_data_.notify_all();
  return Status::Ok();
}

PartitionHead LogStore::Head(int32_t partition) const {
  std::lock_guard lock(mu_);
  auto it = heads_.find(partition);
  return it == heads_.end() ? PartitionHead{} : it->second;
}

std::map<int32_t, PartitionHead> LogStore::Heads() const {
  std::lock_guard lock(mu_);
  return heads_;
}

LogCursor LogStore::HeadCursor() const {
  std::lock_guard lock(mu_);
  LogCursor c;
  for (const auto& [p, h] : heads_) {
    if (h.next_offset > 0) c.Advance(LogPosition{p, h.next_offset - 1});
  }
  return c;
}

Result<RecordedEvent> LogStore::Decode(const LogPosition& pos, std::string raw) const {
  RecordedEvent e;
  e.position = pos;
  if (!e.envelope.ParseFromString(raw)) {
    return Corruption("log.corruption", "record " + pos.ToString() + " does not decode");
  }
  Upcast(e.envelope);  // the stored bytes (raw, hashed by the chain) stay as written
  e.raw = std::move(raw);
  return e;
}

Result<std::vector<RecordedEvent>> LogStore::Read(const LogCursor& from, size_t max) const {
  AE_ASSIGN_OR_RETURN(auto read, ReadMatching(from, max, nullptr));
  return std::move(read.records);
}

Result<EventLog::MatchingRecords> LogStore::ReadMatching(const LogCursor& from, size_t max,
                                                         const std::vector<int>* cases) const {
  EventLog::MatchingRecords out;
  out.reached = from;
  if (max == 0) return out;
  auto heads = Heads();
  if (heads.empty()) return out;
  // Share `max` between partitions that have something to read, so a busy
  // partition cannot starve the others.
  std::vector<int32_t> pending;
  for (const auto& [p, h] : heads) {
    if (from.Next(p) <= h.last_offset) pending.push_back(p);
  }
  if (pending.empty()) return out;
  size_t share = std::max<size_t>(1, max / pending.size());
  size_t looked = 0;
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_));
  for (int32_t p : pending) {
    size_t taken = 0;
    for (it->Seek(EncodeEventKey(LogPosition{p, from.Next(p)})); it->Valid() && taken < share && looked < max;
         it->Next()) {
      LogPosition pos = DecodeEventKey(std::string_view(it->key().data(), it->key().size()));
      if (pos.partition != p) break;
      ++taken;
      ++looked;
      out.reached.Advance(pos);
      if (cases) {
        // Bytes that are not an envelope are decoded below, which reports them.
        auto c = PayloadCaseOf(std::string_view(it->value().data(), it->value().size()));
        if (c && std::find(cases->begin(), cases->end(), *c) == cases->end()) continue;
      }
      AE_ASSIGN_OR_RETURN(RecordedEvent e, Decode(pos, it->value().ToString()));
      out.records.push_back(std::move(e));
    }
    if (!it->status().ok()) return FromRocks(it->status(), "read log");
  }
  return out;
}

Result<std::vector<RecordedEvent>> LogStore::ReadStream(const std::string& stream,
                                                        StreamVersion from, size_t max) const {
  std::vector<RecordedEvent> out;
  std::string prefix = stream;
  prefix.push_back('\0');
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, streams_));
  std::vector<std::string> keys;
  for (it->Seek(StreamKey(stream, std::max<StreamVersion>(from, 1)));
       it->Valid() && it->key().starts_with(prefix) && keys.size() < max; it->Next()) {
    std::string_view v(it->value().data(), it->value().size());
    if (v.size() != 12) return Corruption("log.corruption", "bad stream index entry");
    keys.push_back(std::string(v));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read stream index");
  if (keys.empty()) return out;
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<std::string> values;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs(keys.size(), events_);
  auto statuses = db_->MultiGet({}, cfs, slices, &values);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!statuses[i].ok()) {
      return statuses[i].IsNotFound()
                 ? Corruption("log.corruption", "stream index points at a missing record")
                 : FromRocks(statuses[i], "read stream");
    }
    AE_ASSIGN_OR_RETURN(RecordedEvent e, Decode(DecodeEventKey(keys[i]), std::move(values[i])));
    out.push_back(std::move(e));
  }
  return out;
}

Result<StreamVersion> LogStore::GetStreamVersion(const std::string& stream) const {
  return NewVersionReader().Get(stream);
}

Result<bool> LogStore::HasStreamVersion(const std::string& stream, StreamVersion version) const {
  rocksdb::PinnableSlice value;
  auto s = db_->Get({}, streams_, StreamKey(stream, version), &value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return FromRocks(s, "read stream index");
  return true;
}

LogStore::VersionReader LogStore::NewVersionReader() const {
  return VersionReader(std::unique_ptr<rocksdb::Iterator>(db_->NewIterator({}, streams_)));
}

Result<StreamVersion> LogStore::VersionReader::Get(const std::string& stream) {
  std::string prefix = stream;
  prefix.push_back('\0');
  it_->SeekForPrev(StreamKey(stream, UINT64_MAX));
  if (!it_->status().ok()) return FromRocks(it_->status(), "read stream version");
  if (!it_->Valid() || !it_->key().starts_with(prefix)) return StreamVersion{0};
  std::string_view k(it_->key().data(), it_->key().size());
  if (k.size() != prefix.size() + 8) return Corruption("log.corruption", "bad stream key");
  return static_cast<StreamVersion>(GetBe(k, prefix.size(), 8));
}

Result<std::string> LogStore::GetMeta(const std::string& key) const {
  std::string v;
  auto s = db_->Get({}, meta_, key, &v);
  if (s.IsNotFound()) return std::string();
  AE_RETURN_IF_ERROR(FromRocks(s, "read meta"));
  return v;
}

bool LogStore::HasNewLocked(const LogCursor& cursor) const {
  for (const auto& [p, h] : heads_) {
    // next_offset may run past control records; only a record counts as new.
    if (h.last_offset >= cursor.Next(p)) return true;
  }
  return false;
}

bool LogStore::WaitForNew(const LogCursor& cursor, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return new_data_.wait_for(lock, timeout, [&] { return HasNewLocked(cursor); });
}

Status LogStore::Checkpoint(const std::string& dir) const {
  return CheckpointRocksDb(db_.get(), dir);
}

Status LogStore::CorruptRecordForTest(const LogPosition& pos, const std::string& raw) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Put(wo, events_, EncodeEventKey(pos), raw), "corrupt");
}

}  // namespace ae::events
