#pragma once
// Online backup and restore of the embedded mode: the log, the views and the secret
// store of a data dir, copied together while the engine serves.
//
// A backup directory holds:
//   log/, views/, secrets/       RocksDB checkpoints (events/rocksdb_backup.h)
//   dep-adapter.checkpoint       the DEP assignment adapter's cursor, when there is one
//   master-key                   only when asked (include_master_key)
//   backup.json                  what it covers; written last, so a backup without it is
//                                incomplete
//
// Consistency: the parts are copied in the order in which the engine writes them, so the
// copy is one the engine could have crashed into. The DEP adapter's cursor and the views
// are copied before the log (they follow the log: never ahead of it, possibly behind,
// and the engine catches up at start); the secret store after the log (every secret is
// written before the event that names it, so the store holds every key an event of the
// copied log needs).
//
// While `serve` holds the data dir, only the server can take a backup: POST
// /v1/admin/backups (routes_backup.cc); `autoenroll backup --url` asks it. Without a
// server, `autoenroll backup --data-dir` opens the data dir itself.

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "events/base/clock.h"
#include "events/base/status.h"

namespace CLI {
class App;
}  // namespace CLI

namespace ae::api {

class App;

struct BackupRequest {
  std::string to;                   // absolute; must not exist, or be an empty directory
  bool include_master_key = false;  // also copy the master key (then guard the backup like it)
};

struct BackupInfo {
  std::string path;
  std::string position;        // the last record of the log the backup holds ("" when empty)
  std::string cursor;          // the log's head cursor in the backup
  uint64_t records = 0;
  std::string head_hash;       // hex SHA-256 of the last record ("" when empty)
  std::string views_position;  // the views' checkpoint (a cursor; "" when never applied)
  bool master_key_included = false;
  int64_t started_ms = 0, finished_ms = 0;
  nlohmann::json ToJson() const;
};

// Takes a backup of `app`'s data dir into request.to. kFailedPrecondition
// "backup.kafka_mode" in Kafka mode (the topic is the log there); kAlreadyExists
// "backup.exists" when the target is not empty; kInvalidArgument "backup.bad_target"
// (field "to") when it is not an absolute path. A failed backup removes what it wrote.
Result<BackupInfo> TakeBackup(App& app, const BackupRequest& request);

// The default target of a server's backup: <data_dir>/backups/<UTC time>-<random>.
std::string DefaultBackupDir(const std::string& data_dir, const Clock& clock);

// Checks a backup directory: its backup.json, RocksDB's checksums of every block of the
// three stores, the log's hash chain from the first record to the head backup.json names,
// the views not ahead of the log, and, when the backup holds the master key, that it opens
// every secret. {ok, problems: [...], records, position, head_hash, views_position,
// master_key_included, seconds}.
Result<nlohmann::json> VerifyBackup(const std::string& dir);

// Rebuilds a data dir from a backup (verified first). `data_dir` must not exist or be
// empty. The master key comes from the backup or from `master_key_file` (checked against
// the secrets); kFailedPrecondition "restore.no_master_key" when neither has it.
Result<nlohmann::json> RestoreBackup(const std::string& from, const std::string& data_dir,
                                     const std::string& master_key_file);

// The backups of one server: one at a time, and the last one's outcome for /metrics and
// GET /v1/admin/backups. Thread-safe.
class Backups {
 public:
  explicit Backups(App& app) : app_(app) {}
  // kConflict "backup.running" while another backup runs.
  Result<BackupInfo> Take(BackupRequest request);
  nlohmann::json Summary() const;
  // Prometheus text: autoenroll_backup_last_success_timestamp_seconds, ...
  std::string MetricsText() const;

 private:
  App& app_;
  std::mutex run_mu_;          // held while a backup runs
  mutable std::mutex mu_;
  nlohmann::json last_;        // guarded by mu_: the last successful backup (null: none)
  nlohmann::json last_error_;  // guarded by mu_
  uint64_t succeeded_ = 0, failed_ = 0;  // guarded by mu_
  double last_seconds_ = 0;    // guarded by mu_
  int64_t last_success_ms_ = 0;  // guarded by mu_
};

}  // namespace ae::api

namespace ae::cli {

struct BackupOptions {
  std::string data_dir = "./data";
  std::string master_key_file;    // the data dir's key, when not <data_dir>/master-key
  std::string to;
  bool include_master_key = false;
  std::string url;                // a running server: ask it (POST /v1/admin/backups)
  std::string token;              // an administrator's token (with url)
};
// Without `url`, opens the data dir itself: refused while a server holds it.
int Backup(const BackupOptions& options, std::ostream& out, std::ostream& err);
int BackupVerify(const std::string& dir, std::ostream& out, std::ostream& err);

struct RestoreOptions {
  std::string from;
  std::string data_dir;
  std::string master_key_file;    // when the backup holds no master key
};
int Restore(const RestoreOptions& options, std::ostream& out, std::ostream& err);

// `backup`, `backup verify` and `restore` on the command line (main.cc adds them).
struct BackupCommands {
  CLI::App* backup = nullptr;
  CLI::App* verify = nullptr;
  CLI::App* restore = nullptr;
  BackupOptions backup_options;
  std::string token_file;
  std::string verify_dir;
  RestoreOptions restore_options;
  // The exit code of the command given, after parsing; nullopt when none of these was.
  std::optional<int> Run(std::ostream& out, std::ostream& err);
};
std::unique_ptr<BackupCommands> AddBackupCommands(CLI::App& cli);

}  // namespace ae::cli
