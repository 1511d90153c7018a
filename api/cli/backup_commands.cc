// autoenroll backup, backup verify, restore (the backups themselves: backup.cc).

#include <CLI/CLI.hpp>
#include <httplib.h>

#include <filesystem>
#include <iostream>

#include "api/app.h"
#include "api/cli/backup.h"
#include "api/cli/commands.h"
#include "events/base/logging.h"

namespace ae::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Asks the server at `url` for the backup.
int BackupThroughServer(const BackupOptions& o, const std::string& to, std::ostream& out,
                        std::ostream& err) {
  if (o.token.empty()) {
    err << "backup: an administrator's token is needed with --url (--token-file or "
           "AUTOENROLL_TOKEN)\n";
    return 2;
  }
  httplib::Client client(o.url);
  client.set_connection_timeout(5);
  client.set_read_timeout(24 * 3600);  // the server answers when the backup is complete
  client.set_bearer_token_auth(o.token);
  json body = {{"include_master_key", o.include_master_key}};
  if (!to.empty()) body["to"] = to;
  auto r = client.Post("/v1/admin/backups", body.dump(), "application/json");
  if (!r) {
    err << "backup: cannot reach " << o.url << ": " << httplib::to_string(r.error()) << "\n";
    return 1;
  }
  if (r->status != 201) {
    err << "backup: the server answered " << r->status << ": " << r->body << "\n";
    return 1;
  }
  out << json::parse(r->body, nullptr, false).dump() << std::endl;
  return 0;
}

}  // namespace

int Backup(const BackupOptions& o, std::ostream& out, std::ostream& err) {
  if (o.to.empty() && o.url.empty()) {
    err << "backup: --to DIR is required (with --url, the server's default is "
           "<data-dir>/backups/<time>)\n";
    return 2;
  }
  std::error_code ec;
  const std::string to = o.to.empty() ? "" : fs::absolute(o.to, ec).lexically_normal().string();
  if (o.include_master_key) {
    err << "backup: WARNING: the backup will hold the master key: whoever can read it can open "
           "every secret of the engine. Keep it as safe as the key itself.\n";
  }
  if (!o.url.empty()) return BackupThroughServer(o, to, out, err);
  if (!fs::exists(fs::path(o.data_dir) / "log", ec)) {
    err << "backup: " << o.data_dir << " holds no embedded event log\n";
    return 1;
  }
  api::AppOptions opts;
  opts.data_dir = o.data_dir;
  opts.master_key_file = o.master_key_file;
  auto app = api::App::Open(opts);
  if (!app.ok()) {
    err << "backup: " << app.status().ToString()
        << "\nbackup: while a server runs on this data dir, it takes the backup: autoenroll "
           "backup --url http://HOST:PORT --to DIR (an administrator's token in "
           "AUTOENROLL_TOKEN)\n";
    return 1;
  }
  auto info = api::TakeBackup(**app, {to, o.include_master_key});
  if (!info.ok()) {
    err << "backup: " << info.status().ToString() << "\n";
    return 1;
  }
  out << info->ToJson().dump() << std::endl;
  return 0;
}

int BackupVerify(const std::string& dir, std::ostream& out, std::ostream& err) {
  auto report = api::VerifyBackup(dir);
  if (!report.ok()) {
    err << "backup verify: " << report.status().ToString() << "\n";
    return 1;
  }
  out << report->dump() << std::endl;
  if (!report->value("ok", false)) {
    for (const auto& p : (*report)["problems"]) err << "backup verify: " << p.get<std::string>() << "\n";
    return 1;
  }
  return 0;
}

int Restore(const RestoreOptions& o, std::ostream& out, std::ostream& err) {
  if (o.from.empty() || o.data_dir.empty()) {
    err << "restore: --from DIR and --data-dir DIR are required\n";
    return 2;
  }
  auto restored = api::RestoreBackup(o.from, o.data_dir, o.master_key_file);
  if (!restored.ok()) {
    err << "restore: " << restored.status().ToString() << "\n";
    return restored.status().reason() == "restore.no_master_key" ? 2 : 1;
  }
  out << restored->dump() << std::endl;
  return 0;
}

std::unique_ptr<BackupCommands> AddBackupCommands(CLI::App& cli) {
  auto c = std::make_unique<BackupCommands>();
  BackupOptions& b = c->backup_options;
  c->backup = cli.add_subcommand(
      "backup", "take a consistent backup of the embedded log, views and secrets (online)");
  c->backup->require_subcommand(0, 1);
  c->backup->add_option("--data-dir", b.data_dir, "data directory (no server running on it)")
      ->capture_default_str();
  c->backup->add_option("--master-key-file", b.master_key_file,
                        "the data dir's master key (default: <data-dir>/master-key)");
  c->backup->add_option("--to", b.to, "the backup directory (new, or empty)");
  c->backup->add_flag("--include-master-key", b.include_master_key,
                      "also copy the master key into the backup (then guard it like the key)");
  c->backup->add_option("--url", b.url,
                        "a running server on the data dir: it takes the backup "
                        "(POST /v1/admin/backups)");
  c->backup->add_option("--token-file", c->token_file,
                        "with --url: a file holding an administrator's token (default: "
                        "$AUTOENROLL_TOKEN)");
  c->verify = c->backup->add_subcommand(
      "verify", "check a backup: RocksDB checksums, the log's hash chain, what backup.json says");
  c->verify->add_option("dir", c->verify_dir, "the backup directory")->required();
  RestoreOptions& r = c->restore_options;
  c->restore = cli.add_subcommand("restore", "rebuild a data dir from a backup (verified first)");
  r.data_dir.clear();
  c->restore->add_option("--from", r.from, "the backup directory")->required();
  c->restore->add_option("--data-dir", r.data_dir, "the new data dir (must not exist, or be empty)")
      ->required();
  c->restore->add_option("--master-key-file", r.master_key_file,
                         "the master key, when the backup holds none (it stays in its file)");
  return c;
}

std::optional<int> BackupCommands::Run(std::ostream& out, std::ostream& err) {
  if (verify && *verify) return BackupVerify(verify_dir, out, err);
  if (backup && *backup) {
    if (!token_file.empty()) {
      std::ifstream in(token_file);
      if (!in || !std::getline(in, backup_options.token)) {
        err << "backup: cannot read " << token_file << "\n";
        return 2;
      }
    } else if (const char* t = std::getenv("AUTOENROLL_TOKEN")) {
      backup_options.token = t;
    }
    return Backup(backup_options, out, err);
  }
  if (restore && *restore) return Restore(restore_options, out, err);
  return std::nullopt;
}

}  // namespace ae::cli
