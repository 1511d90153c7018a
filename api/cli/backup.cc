// The backups of a data dir (api/cli/backup.h): take one from a running App or a stopped
// data dir, verify one, restore one; the server's record of them. The commands that run
// them: backup_commands.cc.

#include "api/cli/backup.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "api/app.h"
#include "api/cli/commands.h"
#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "events/base/durable_file.h"
#include "events/base/logging.h"
#include "events/hash_chain.h"
#include "events/log_store.h"
#include "events/rocksdb_backup.h"
#include "events/rocksdb_event_log.h"
#include "events/secret_store.h"

namespace ae::api {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr char kManifest[] = "backup.json";
constexpr char kFormat[] = "autoenroll-backup/1";
constexpr char kDepCheckpoint[] = "dep-adapter.checkpoint";
constexpr const char* kStores[] = {"log", "views", "secrets"};

std::string KeyFileOf(const AppOptions& o) {
  return o.master_key_file.empty() ? (fs::path(o.data_dir) / "master-key").string()
                                   : o.master_key_file;
}

// Empty, or not there at all.
bool Vacant(const fs::path& p, bool* existed) {
  std::error_code ec;
  *existed = fs::exists(p, ec);
  return !*existed || (fs::is_directory(p, ec) && fs::is_empty(p, ec));
}

// Removes what was written into `dir`: `dir` itself when it was created.
void RemoveWritten(const fs::path& dir, bool existed) {
  std::error_code ec;
  if (!existed) {
    fs::remove_all(dir, ec);
    return;
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) fs::remove_all(entry.path(), ec);
}

Status MakePrivateDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Unavailable("backup.io", "cannot create " + dir.string() + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, ec);
  return Status::Ok();
}

Result<json> ReadManifest(const fs::path& dir) {
  std::ifstream in(dir / kManifest);
  if (!in) {
    return FailedPrecondition("backup.incomplete",
                              dir.string() + " holds no " + kManifest +
                                  ": not a backup, or one that did not finish");
  }
  std::stringstream text;
  text << in.rdbuf();
  json j = json::parse(text.str(), nullptr, false);
  if (!j.is_object() || j.value("format", "") != kFormat) {
    return FailedPrecondition("backup.bad_manifest",
                              (dir / kManifest).string() + " is not an autoenroll backup manifest");
  }
  return j;
}

}  // namespace

json BackupInfo::ToJson() const {
  return {{"path", path},
          {"position", position.empty() ? json(nullptr) : json(position)},
          {"cursor", cursor},
          {"records", records},
          {"head_hash", head_hash.empty() ? json(nullptr) : json(head_hash)},
          {"views_position", views_position},
          {"master_key_included", master_key_included},
          {"started_at", FormatRfc3339(started_ms)},
          {"finished_at", FormatRfc3339(finished_ms)},
          {"seconds", static_cast<double>(finished_ms - started_ms) / 1000.0}};
}

std::string DefaultBackupDir(const std::string& data_dir, const Clock& clock) {
  std::string stamp;
  for (char c : FormatRfc3339(clock.NowMs())) {
    if (std::isdigit(static_cast<unsigned char>(c))) stamp.push_back(c);
  }
  std::error_code ec;
  fs::path data = fs::absolute(data_dir, ec);
  return (data.lexically_normal() / "backups" / (stamp + "-" + crypto::Hex(crypto::RandomBytes(3))))
      .string();
}

Result<BackupInfo> TakeBackup(App& app, const BackupRequest& request) {
  const AppOptions& o = app.options();
  auto* log = dynamic_cast<events::RocksDbEventLog*>(&app.raw_log());
  if (!o.kafka_brokers.empty() || log == nullptr) {
    return FailedPrecondition("backup.kafka_mode",
                              "backups are of the embedded mode; in Kafka mode the topic is the "
                              "log (back the cluster up) and the views are rebuilt from it");
  }
  const fs::path to(request.to);
  if (to.empty() || !to.is_absolute()) {
    return InvalidArgument("backup.bad_target",
                           "the backup directory must be an absolute path, not '" + request.to +
                               "'", "to");
  }
  bool existed = false;
  if (!Vacant(to, &existed)) {
    return AlreadyExists("backup.exists", to.string() + " exists and is not an empty directory");
  }
  AE_RETURN_IF_ERROR(MakePrivateDir(to));
  BackupInfo info;
  info.path = to.string();
  info.started_ms = app.clock().NowMs();
  auto logger = log::Get("api");
  Status done = [&]() -> Status {
    // What follows the log first (never ahead of it in the copy) ...
    std::error_code ec;
    const fs::path dep = fs::path(o.data_dir) / kDepCheckpoint;
    if (fs::exists(dep, ec)) {
      AE_RETURN_IF_ERROR(events::CopyFileDurably(dep.string(), (to / kDepCheckpoint).string()));
    }
    AE_RETURN_IF_ERROR(app.views().WithDb([&](rocksdb::DB* db, const proj::ViewStore::Handles&) {
      return events::CheckpointRocksDb(db, (to / "views").string());
    }));
    // ... then the log ...
    AE_RETURN_IF_ERROR(log->store().Checkpoint((to / "log").string()));
    // ... then what the log's events refer to, written before them.
    AE_RETURN_IF_ERROR(app.secrets().Checkpoint((to / "secrets").string()));
    if (request.include_master_key) {
      AE_ASSIGN_OR_RETURN(std::string key, events::LoadOrCreateMasterKey(KeyFileOf(o), false));
      AE_RETURN_IF_ERROR(events::WriteMasterKeyFile((to / "master-key").string(), key));
      info.master_key_included = true;
      logger->warn("backup {} holds the master key: whoever can read it can open every secret; "
                   "keep it as safe as the key itself", to.string());
    }
    // What the copy holds, read from the copy itself.
    {
      events::LogStoreOptions so;
      so.path = (to / "log").string();
      so.read_only = true;
      AE_ASSIGN_OR_RETURN(auto copy, events::LogStore::Open(so));
      info.cursor = copy->HeadCursor().ToString();
      for (const auto& [p, h] : copy->Heads()) {
        info.records += h.records;
        if (h.last_offset >= 0) {
          info.position = LogPosition{p, h.last_offset}.ToString();
          info.head_hash = crypto::Hex(h.last_hash);
        }
      }
    }
    AE_ASSIGN_OR_RETURN(auto views_at,
                        events::ReadRocksDbValue((to / "views").string(), "checkpoints", "views"));
    info.views_position = views_at.value_or("");
    info.finished_ms = app.clock().NowMs();
    json manifest = info.ToJson();
    manifest.erase("path");
    manifest["format"] = kFormat;
    manifest["source_data_dir"] = fs::absolute(o.data_dir, ec).lexically_normal().string();
    return WriteFileDurably((to / kManifest).string(), manifest.dump(2) + "\n", "backup.io");
  }();
  if (!done.ok()) {
    RemoveWritten(to, existed);
    return done;
  }
  logger->info("backup {} taken in {:.3f} s: {} records up to position {}, views at {}",
               info.path, (info.finished_ms - info.started_ms) / 1000.0, info.records,
               info.position.empty() ? "-" : info.position, info.views_position);
  return info;
}

Result<json> VerifyBackup(const std::string& dir_text) {
  const fs::path dir(dir_text);
  auto started = std::chrono::steady_clock::now();
  AE_ASSIGN_OR_RETURN(json manifest, ReadManifest(dir));
  std::vector<std::string> problems;
  for (const char* store : kStores) {
    Status s = events::VerifyRocksDbChecksums((dir / store).string());
    if (!s.ok()) problems.push_back(s.message());
  }
  uint64_t records = 0;
  std::string head_hash, cursor;
  LogCursor head;
  events::RocksDbEventLogOptions lo;
  lo.path = (dir / "log").string();
  lo.read_only = true;
  if (auto log = events::RocksDbEventLog::Open(lo); !log.ok()) {
    problems.push_back("the log does not open: " + log.status().message());
  } else {
    head = (*log)->store().HeadCursor();
    cursor = head.ToString();
    auto chain = events::VerifyChain(**log, nullptr, &cli::StopRequested());
    if (!chain.ok()) {
      if (chain.status().code() == StatusCode::kCancelled) return chain.status();
      problems.push_back("the log does not read: " + chain.status().message());
      chain = events::ChainReport{};
    }
    records = chain->records;
    if (!chain->ok) problems.push_back("the hash chain is broken: " + chain->problem);
    if (!chain->head_hash.empty()) head_hash = chain->head_hash.rbegin()->second;
    if (records != manifest.value("records", uint64_t{0}) ||
        cursor != manifest.value("cursor", "")) {
      problems.push_back("the log holds " + std::to_string(records) + " records up to " + cursor +
                         ", " + kManifest + " says " +
                         std::to_string(manifest.value("records", uint64_t{0})) + " up to " +
                         manifest.value("cursor", ""));
    }
    const json& expected_hash = manifest["head_hash"];
    if ((expected_hash.is_string() ? expected_hash.get<std::string>() : "") != head_hash) {
      problems.push_back("the log's last record does not hash to the head_hash of " +
                         std::string(kManifest));
    }
  }
  auto views_at = events::ReadRocksDbValue((dir / "views").string(), "checkpoints", "views");
  std::string views_position;
  if (views_at.ok() && views_at->has_value()) {
    views_position = **views_at;
    auto views = LogCursor::Parse(views_position);
    if (!views) {
      problems.push_back("the views' checkpoint '" + views_position + "' does not parse");
    } else {
      for (const auto& [p, next] : views->next_offsets()) {
        if (next > head.Next(p)) {
          problems.push_back("the views (at " + views_position + ") are ahead of the log (at " +
                             cursor + ")");
          break;
        }
      }
    }
  }
  std::error_code ec;
  const bool has_key = fs::exists(dir / "master-key", ec);
  if (has_key) {
    auto key = events::LoadOrCreateMasterKey((dir / "master-key").string(), false);
    if (!key.ok()) {
      problems.push_back("the master key does not load: " + key.status().message());
    } else if (auto opened = events::VerifySecretsOpen((dir / "secrets").string(), *key);
               !opened.ok()) {
      problems.push_back(opened.status().message());
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return json{{"ok", problems.empty()},
              {"problems", problems},
              {"records", records},
              {"position", manifest["position"]},
              {"cursor", cursor},
              {"head_hash", head_hash.empty() ? json(nullptr) : json(head_hash)},
              {"views_position", views_position},
              {"master_key_included", has_key},
              {"seconds", secs}};
}

Result<json> RestoreBackup(const std::string& from_text, const std::string& data_dir_text,
                           const std::string& master_key_file) {
  const fs::path from(from_text), data(data_dir_text);
  bool existed = false;
  if (data.empty() || !Vacant(data, &existed)) {
    return AlreadyExists("restore.not_empty",
                         data.string() + " exists and is not empty: restore into a new data dir");
  }
  auto started = std::chrono::steady_clock::now();
  AE_ASSIGN_OR_RETURN(json report, VerifyBackup(from.string()));
  if (!report.value("ok", false)) {
    std::string all;
    for (const auto& p : report["problems"]) all += (all.empty() ? "" : "; ") + p.get<std::string>();
    return FailedPrecondition("restore.bad_backup", from.string() + " does not verify: " + all);
  }
  std::error_code ec;
  const bool backup_has_key = fs::exists(from / "master-key", ec);
  std::string key;
  if (!master_key_file.empty()) {
    AE_ASSIGN_OR_RETURN(key, events::LoadOrCreateMasterKey(master_key_file, false));
  } else if (backup_has_key) {
    AE_ASSIGN_OR_RETURN(key, events::LoadOrCreateMasterKey((from / "master-key").string(), false));
  } else {
    return FailedPrecondition(
        "restore.no_master_key",
        "the backup holds no master key: give --master-key-file, the key of the data dir it was "
        "taken from (without it the restored secrets could not be opened)");
  }
  AE_ASSIGN_OR_RETURN(size_t secrets, events::VerifySecretsOpen((from / "secrets").string(), key));
  AE_RETURN_IF_ERROR(MakePrivateDir(data));
  Status copied = [&]() -> Status {
    for (const char* store : kStores) {
      AE_RETURN_IF_ERROR(events::CopyDirDurably((from / store).string(), (data / store).string()));
    }
    if (fs::exists(from / kDepCheckpoint, ec)) {
      AE_RETURN_IF_ERROR(events::CopyFileDurably((from / kDepCheckpoint).string(),
                                                 (data / kDepCheckpoint).string()));
    }
    // The key goes into the data dir only when it came from the backup; a key given by file
    // stays where it is (serve the restored data dir with the same --master-key-file).
    if (master_key_file.empty()) {
      AE_RETURN_IF_ERROR(events::WriteMasterKeyFile((data / "master-key").string(), key));
    }
    return Status::Ok();
  }();
  if (!copied.ok()) {
    RemoveWritten(data, existed);
    return copied;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return json{{"data_dir", data.string()},
              {"records", report["records"]},
              {"position", report["position"]},
              {"head_hash", report["head_hash"]},
              {"views_position", report["views_position"]},
              {"secrets", secrets},
              {"master_key", master_key_file.empty() ? (data / "master-key").string()
                                                     : master_key_file},
              {"seconds", secs}};
}

Result<BackupInfo> Backups::Take(BackupRequest request) {
  std::unique_lock run(run_mu_, std::try_to_lock);
  if (!run.owns_lock()) return Conflict("backup.running", "a backup is running; try again later");
  auto started = std::chrono::steady_clock::now();
  auto info = TakeBackup(app_, request);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::lock_guard lock(mu_);
  if (info.ok()) {
    ++succeeded_;
    last_ = info->ToJson();
    last_seconds_ = secs;
    last_success_ms_ = info->finished_ms;
  } else {
    ++failed_;
    last_error_ = {{"at", FormatRfc3339(app_.clock().NowMs())},
                   {"code", info.status().reason()},
                   {"message", info.status().message()}};
  }
  return info;
}

json Backups::Summary() const {
  std::lock_guard lock(mu_);
  return {{"last", last_}, {"last_error", last_error_}, {"succeeded", succeeded_},
          {"failed", failed_}};
}

std::string Backups::MetricsText() const {
  std::lock_guard lock(mu_);
  std::ostringstream out;
  out << "# HELP autoenroll_backup_last_success_timestamp_seconds When the last successful "
         "backup finished (Unix time; 0: none since start).\n"
      << "# TYPE autoenroll_backup_last_success_timestamp_seconds gauge\n"
      << "autoenroll_backup_last_success_timestamp_seconds " << last_success_ms_ / 1000 << "\n"
      << "# HELP autoenroll_backup_last_duration_seconds How long the last successful backup "
         "took.\n"
      << "# TYPE autoenroll_backup_last_duration_seconds gauge\n"
      << "autoenroll_backup_last_duration_seconds " << last_seconds_ << "\n"
      << "# HELP autoenroll_backups_total Backups taken since start.\n"
      << "# TYPE autoenroll_backups_total counter\n"
      << "autoenroll_backups_total " << succeeded_ << "\n"
      << "# HELP autoenroll_backup_failures_total Backups that failed since start.\n"
      << "# TYPE autoenroll_backup_failures_total counter\n"
      << "autoenroll_backup_failures_total " << failed_ << "\n";
  return out.str();
}

}  // namespace ae::api
