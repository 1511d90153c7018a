#pragma once
// Online backups of the engine's RocksDB instances (the log, the views, the secret store):
// point-in-time copies taken while the instance is open and written to, their checks, and
// the copy that restores them.
//
// A copy is RocksDB's Checkpoint: the live SST files hard-linked when the target is on the
// same file system (copied otherwise), the MANIFEST and the live WAL copied, so it holds
// every write acknowledged before the call and opens as an ordinary RocksDB directory.
// Thread-safe: each function stands alone.

#include <rocksdb/db.h>

#include <optional>
#include <string>

#include "events/base/status.h"

namespace ae::events {

// Writes a consistent point-in-time copy of the open `db` into `dir`, which must not
// exist (its parent must). The copy is synced before this returns.
Status CheckpointRocksDb(rocksdb::DB* db, const std::string& dir);

// Opens the RocksDB directory at `path` read-only, with every column family it has, and
// reads every block of every table against its checksum (DB::VerifyChecksum).
// kCorruption "backup.corruption" naming the directory when a check fails.
Status VerifyRocksDbChecksums(const std::string& path);

// The value of `key` in column family `cf` of the RocksDB directory at `path`, opened
// read-only; nullopt when absent.
Result<std::optional<std::string>> ReadRocksDbValue(const std::string& path,
                                                    const std::string& cf,
                                                    const std::string& key);

// Opens every value of the secret store directory at `path` with `master_key`
// (AES-256-GCM, the name as associated data). kFailedPrecondition
// "secrets.wrong_master_key" naming the first one that does not open. Returns how many.
Result<size_t> VerifySecretsOpen(const std::string& path, const std::string& master_key);

// Copies the regular files of directory `from` into `to` (created, mode 0700), syncing
// every file and `to` itself.
Status CopyDirDurably(const std::string& from, const std::string& to);

// Copies one file durably (mode 0600).
Status CopyFileDurably(const std::string& from, const std::string& to);

}  // namespace ae::events
