#include "events/rocksdb_backup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rocksdb/utilities/checkpoint.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "events/base/crypto.h"

namespace ae::events {

namespace fs = std::filesystem;

namespace {

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Corruption("backup.corruption", what + ": " + s.ToString());
  return Unavailable("backup.unavailable", what + ": " + s.ToString());
}

Status SyncPath(const fs::path& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return Unavailable("backup.io", "cannot open " + path.string() + " to sync it");
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::Ok() : Unavailable("backup.io", "cannot sync " + path.string());
}

// A read-only handle on a RocksDB directory with every column family it has.
struct ReadOnlyDb {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::vector<std::string> names;
  ~ReadOnlyDb() {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  }
};

Result<std::unique_ptr<ReadOnlyDb>> OpenReadOnly(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    return NotFound("backup.missing", path + " is not a RocksDB directory (missing)");
  }
  auto out = std::make_unique<ReadOnlyDb>();
  rocksdb::DBOptions dbo;
  AE_RETURN_IF_ERROR(FromRocks(rocksdb::DB::ListColumnFamilies(dbo, path, &out->names),
                               "list the column families of " + path));
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : out->names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  rocksdb::DB* raw = nullptr;
  AE_RETURN_IF_ERROR(FromRocks(rocksdb::DB::OpenForReadOnly(dbo, path, cfs, &out->handles, &raw),
                               "open " + path));
  out->db.reset(raw);
  return out;
}

}  // namespace

Status CheckpointRocksDb(rocksdb::DB* db, const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  AE_RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db, &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: the memtables are flushed first (the views flush all their
  // families together), and the WAL written since is copied with the files.
  AE_RETURN_IF_ERROR(FromRocks(checkpoint->CreateCheckpoint(dir, 0), "checkpoint into " + dir));
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file()) AE_RETURN_IF_ERROR(SyncPath(entry.path(), false));
  }
  if (ec) return Unavailable("backup.io", "cannot list " + dir + ": " + ec.message());
  AE_RETURN_IF_ERROR(SyncPath(dir, true));
  return SyncPath(fs::path(dir).parent_path(), true);
}

Status VerifyRocksDbChecksums(const std::string& path) {
  AE_ASSIGN_OR_RETURN(auto db, OpenReadOnly(path));
  return FromRocks(db->db->VerifyChecksum(), "verify the checksums of " + path);
}

Result<std::optional<std::string>> ReadRocksDbValue(const std::string& path,
                                                    const std::string& cf,
                                                    const std::string& key) {
  AE_ASSIGN_OR_RETURN(auto db, OpenReadOnly(path));
  for (size_t i = 0; i < db->names.size(); ++i) {
    if (db->names[i] != cf) continue;
    std::string v;
    auto s = db->db->Get({}, db->handles[i], key, &v);
    if (s.IsNotFound()) return std::optional<std::string>();
    AE_RETURN_IF_ERROR(FromRocks(s, "read " + path));
    return std::optional<std::string>(std::move(v));
  }
  return std::optional<std::string>();
}

Result<size_t> VerifySecretsOpen(const std::string& path, const std::string& master_key) {
  AE_ASSIGN_OR_RETURN(auto db, OpenReadOnly(path));
  size_t n = 0;
  std::unique_ptr<rocksdb::Iterator> it(db->db->NewIterator({}));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string name = it->key().ToString();
    auto plain = crypto::Open(master_key,
                              std::string_view(it->value().data(), it->value().size()), name);
    if (!plain.ok()) {
      return FailedPrecondition("secrets.wrong_master_key",
                                "the master key does not open the secret " + name);
    }
    ++n;
  }
  AE_RETURN_IF_ERROR(FromRocks(it->status(), "read " + path));
  return n;
}

Status CopyFileDurably(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return Unavailable("backup.io", "cannot copy " + from + " to " + to + ": " + ec.message());
  fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write, ec);
  return SyncPath(to, false);
}

Status CopyDirDurably(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return Unavailable("backup.io", "cannot create " + to + ": " + ec.message());
  fs::permissions(to, fs::perms::owner_all, ec);
  for (const auto& entry : fs::directory_iterator(from, ec)) {
    if (!entry.is_regular_file()) continue;
    AE_RETURN_IF_ERROR(
        CopyFileDurably(entry.path().string(), (fs::path(to) / entry.path().filename()).string()));
  }
  if (ec) return Unavailable("backup.io", "cannot list " + from + ": " + ec.message());
  AE_RETURN_IF_ERROR(SyncPath(to, true));
  return SyncPath(fs::path(to).parent_path(), true);
}

}  // namespace ae::events
