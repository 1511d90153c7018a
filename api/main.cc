// autoenroll: the engine's one executable. Subcommands:
//   serve | config show | replay | audit verify | events export | dev-kafka
//   | sim apple-dep | sim apple-device | sim apple-device-ca | sim knox | reconcile
// Exit codes: 0 success, 1 failure, 2 usage error.

#include <CLI/CLI.hpp>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "api/cli/backup.h"
#include "api/cli/commands.h"
#include "api/cli/config.h"
#include "events/base/log_output.h"
#include "events/base/logging.h"

namespace {

using ae::cli::AddLogOptions;
using ae::cli::ApplyProps;

// A secret on the command line is readable by every local user (ps, /proc/PID/cmdline).
bool SecretOnCommandLine(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--admin-token" || a.rfind("--admin-token=", 0) == 0) {
      std::cerr << "autoenroll: the administrator's seed is not taken on the command line "
                   "(other local users can read it there): set admin-token in the --config "
                   "file or AUTOENROLL_ADMIN_TOKEN\n";
      return true;
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  // Everything autoenroll creates (the data dir, RocksDB's files, which it makes itself
  // with mode 0644, keys, exports) is private to its user, whatever umask it inherits.
  ::umask(077);
  CLI::App cli{"autoenroll: event-sourced auto-enrollment engine for Apple DEP and Samsung KME"};
  cli.require_subcommand(1);
  ae::cli::LoggingFlags logging;
  ae::cli::AddLoggingOptions(&cli, logging);
  ae::cli::AddEnvNames(&cli);

  ae::cli::ServeFlags serve;
  auto* serve_cmd = cli.add_subcommand("serve", "run the engine: HTTP API, views, adapters");
  ae::cli::AddServeOptions(serve_cmd, serve);
  ae::cli::AddEnvNames(serve_cmd);
  serve_cmd->fallthrough();  // the log options after "serve" too

  ae::cli::ServeFlags config_flags;
  auto* config_cmd = cli.add_subcommand("config", "serve's configuration");
  config_cmd->require_subcommand(1);
  auto* config_show_cmd = config_cmd->add_subcommand(
      "show", "print the configuration serve would run with (flags, AUTOENROLL_* variables, "
              "--config file, defaults), secrets masked");
  ae::cli::AddServeOptions(config_show_cmd, config_flags);
  ae::cli::AddEnvNames(config_show_cmd);
  config_cmd->fallthrough();
  config_show_cmd->fallthrough();

  ae::cli::ReplayOptions replay;
  std::vector<std::string> replay_props;
  auto* replay_cmd = cli.add_subcommand("replay", "rebuild every view from the log");
  AddLogOptions(replay_cmd, replay.app, replay_props);
  replay_cmd->add_option("--out", replay.out_dir,
                         "build the views into this new directory (beside a running server) "
                         "instead of replacing the live views");
  replay_cmd->add_option("--until", replay.until,
                         "stop at this log position or RFC 3339 time: the views as they were "
                         "then (needs --out)");

  ae::cli::DiffOptions diff;
  std::vector<std::string> diff_props;
  auto* diff_cmd = cli.add_subcommand(
      "diff", "list the devices whose status, profile or user changed between two points");
  AddLogOptions(diff_cmd, diff.app, diff_props);
  diff_cmd->add_option("--from", diff.from, "a log position or an RFC 3339 time")->required();
  diff_cmd->add_option("--to", diff.to, "a log position or an RFC 3339 time")->required();

  ae::cli::ViewsRebuildOptions rebuild;
  std::string rebuild_token_file;
  auto* views_cmd = cli.add_subcommand("views", "the views of a running server");
  views_cmd->require_subcommand(1);
  auto* rebuild_cmd = views_cmd->add_subcommand(
      "rebuild", "rebuild every view beside the live ones and swap them in, without downtime");
  rebuild_cmd->add_option("--url", rebuild.url, "the server")->capture_default_str();
  rebuild_cmd->add_option("--token-file", rebuild_token_file,
                          "a file holding an administrator's token (default: $AUTOENROLL_TOKEN)");
  rebuild_cmd->add_flag("--require-identical", rebuild.require_identical,
                        "refuse the swap when the live views differ from the rebuilt ones");

  ae::api::AppOptions audit;
  std::vector<std::string> audit_props;
  auto* audit_cmd = cli.add_subcommand("audit", "tamper evidence");
  audit_cmd->require_subcommand(1);
  auto* verify_cmd = audit_cmd->add_subcommand("verify", "walk the hash chain of the log");
  AddLogOptions(verify_cmd, audit, audit_props);
  ae::cli::AuditExportOptions audit_export;
  std::vector<std::string> audit_export_props;
  auto* audit_export_cmd = audit_cmd->add_subcommand(
      "export", "write one stream's records with their hash chain, checkable without autoenroll");
  AddLogOptions(audit_export_cmd, audit_export.app, audit_export_props);
  audit_export_cmd->add_option("--stream", audit_export.stream, "<type>/<id>")->required();
  audit_export_cmd->add_option("--out", audit_export.out, "the file (default: standard output)");

  ae::cli::RotateMasterKeyOptions rotate;
  auto* secrets_cmd = cli.add_subcommand("secrets", "the secret store");
  secrets_cmd->require_subcommand(1);
  auto* rotate_cmd = secrets_cmd->add_subcommand(
      "rotate-master-key", "re-seal every secret under a new master key (server stopped)");
  rotate_cmd->add_option("--data-dir", rotate.app.data_dir, "data directory")
      ->capture_default_str();
  rotate_cmd->add_option("--master-key-file", rotate.app.master_key_file,
                         "the current key file (default: <data-dir>/master-key)");
  rotate_cmd->add_option("--new-master-key-file", rotate.new_key_file,
                         "the new key (32 bytes or 64 hex characters; default: a random key)");

  ae::cli::ExportOptions exp;
  std::vector<std::string> exp_props;
  auto* events_cmd = cli.add_subcommand("events", "the event log");
  events_cmd->require_subcommand(1);
  auto* export_cmd = events_cmd->add_subcommand("export", "write the log to standard output");
  AddLogOptions(export_cmd, exp.app, exp_props);
  export_cmd->add_option("--after", exp.after, "only records after this position");
  export_cmd->add_option("--format", exp.format, "json | proto")
      ->check(CLI::IsMember({"json", "proto"}))->capture_default_str();

  auto backup_cmds = ae::cli::AddBackupCommands(cli);  // backup, backup verify, restore

  ae::cli::ReconcileCliOptions reconcile;
  std::vector<std::string> reconcile_props;
  std::string reconcile_token_file;
  auto* reconcile_cmd = cli.add_subcommand(
      "reconcile", "list what is out of order (exit 1 when anything is, 0 when nothing)");
  AddLogOptions(reconcile_cmd, reconcile.app, reconcile_props);
  reconcile_cmd->add_option("--days", reconcile.days,
                            "DEP devices assigned this many days ago and never enrolled")
      ->capture_default_str();
  reconcile_cmd->add_flag("--json", reconcile.json, "one JSON document instead of lines");
  reconcile_cmd->add_option("--url", reconcile.url,
                            "ask the server at this URL instead of reading --data-dir");
  reconcile_cmd->add_option("--token-file", reconcile_token_file,
                            "with --url: a file holding a device manager's token (default: "
                            "$AUTOENROLL_TOKEN)");

  int brokers = 3;
  auto* dev_kafka_cmd =
      cli.add_subcommand("dev-kafka", "run librdkafka's mock Kafka cluster for trying Kafka mode");
  dev_kafka_cmd->add_option("--brokers", brokers, "number of brokers")->capture_default_str();
  int dev_partitions = 1;
  dev_kafka_cmd->add_option("--partitions", dev_partitions, "partitions of the event topic")
      ->capture_default_str();

  auto* sim_cmd = cli.add_subcommand("sim", "run a vendor simulator (tests, demo)");
  sim_cmd->require_subcommand(1);
  ae::cli::SimAppleDepOptions sim_dep;
  auto* sim_dep_cmd = sim_cmd->add_subcommand(
      "apple-dep", "Apple's DEP web service, plus a control API for its test hooks");
  sim_dep_cmd->add_option("--listen", sim_dep.listen, "127.0.0.1:PORT (0 picks a free port)")
      ->capture_default_str();
  sim_dep_cmd->add_option("--control-listen", sim_dep.control_listen,
                          "127.0.0.1:PORT of the control API (0 picks a free port)")
      ->capture_default_str();
  ae::cli::SimAppleDeviceOptions sim_device;
  auto* sim_device_cmd = sim_cmd->add_subcommand(
      "apple-device", "play one Apple device through enrollment against a running engine");
  sim_device_cmd->add_option("--url", sim_device.url, "the engine's public URL")->required();
  sim_device_cmd->add_option("--serial", sim_device.serial, "serial number")->required();
  sim_device_cmd->add_option("--udid", sim_device.udid, "UDID (default: derived from the serial)");
  sim_device_cmd->add_option("--model", sim_device.model, "product, e.g. iPhone14,2")
      ->capture_default_str();
  sim_device_cmd->add_option("--os-version", sim_device.os_version, "OS version")
      ->capture_default_str();
  sim_device_cmd->add_option("--device-ca-dir", sim_device.device_ca_dir,
                             "directory of the device CA (created on first use)")->required();
  sim_device_cmd->add_option("--tls-ca", sim_device.tls_ca_file,
                             "https: PEM CA certificates to trust for the engine");
  sim_device_cmd->add_flag("--await-configured", sim_device.await_configured,
                           "TokenUpdate with AwaitingConfiguration (Setup Assistant waits)");
  sim_device_cmd->add_option("--max-commands", sim_device.max_commands,
                             "give up after this many commands")
      ->check(CLI::Range(1, 10000))->capture_default_str();
  std::string sim_ca_dir;
  auto* sim_ca_cmd = sim_cmd->add_subcommand(
      "apple-device-ca", "create the device CA and print its certificate's path");
  sim_ca_cmd->add_option("--device-ca-dir", sim_ca_dir, "directory of the device CA")->required();
  ae::cli::SimKnoxOptions sim_knox;
  auto* sim_knox_cmd = sim_cmd->add_subcommand(
      "knox", "Samsung's Knox Cloud API (KME) and OAuth token service, plus a control API");
  sim_knox_cmd->add_option("--listen", sim_knox.listen, "127.0.0.1:PORT (0 picks a free port)")
      ->capture_default_str();
  sim_knox_cmd->add_option("--control-listen", sim_knox.control_listen,
                           "127.0.0.1:PORT of the control API (0 picks a free port)")
      ->capture_default_str();

  if (SecretOnCommandLine(argc, argv)) return 2;
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = cli.exit(e);
    return rc == 0 ? 0 : 2;
  }
  // serve's configuration file fills what neither a flag nor a variable set.
  for (auto [cmd, flags] :
       {std::pair{serve_cmd, &serve}, std::pair{config_show_cmd, &config_flags}}) {
    if (!*cmd || flags->config_file.empty()) continue;
    ae::Status loaded = ae::cli::ApplyConfigFile(flags->config_file, cmd);
    if (!loaded.ok()) {
      std::cerr << "autoenroll: " << loaded.message() << "\n";
      return 2;
    }
  }
  if (*config_show_cmd) {
    if (!config_flags.Finish()) return 2;
    std::cout << ae::cli::EffectiveConfig(config_show_cmd);
    return 0;
  }
  ae::Status logging_ok = ae::log::Init(ae::log::LogOptions{logging.level, logging.format,
                                                            logging.file});
  if (!logging_ok.ok()) {
    std::cerr << "autoenroll: " << logging_ok.message() << "\n";
    return 2;
  }
  ae::cli::InstallSignalHandling();

  if (*serve_cmd) {
    if (!serve.Finish()) return 2;
    return ae::cli::Serve(serve.serve, std::cout);
  }
  if (*replay_cmd) {
    if (!ApplyProps(replay_props, replay.app)) return 2;
    return ae::cli::Replay(replay, std::cout, std::cerr);
  }
  if (*diff_cmd) {
    if (!ApplyProps(diff_props, diff.app)) return 2;
    return ae::cli::Diff(diff, std::cout, std::cerr);
  }
  if (*rebuild_cmd) {
    if (!rebuild_token_file.empty()) {
      std::ifstream in(rebuild_token_file);
      if (!in || !std::getline(in, rebuild.token)) {
        std::cerr << "views rebuild: cannot read " << rebuild_token_file << "\n";
        return 2;
      }
    } else if (const char* t = std::getenv("AUTOENROLL_TOKEN")) {
      rebuild.token = t;
    }
    return ae::cli::ViewsRebuild(rebuild, std::cout, std::cerr);
  }
  if (*verify_cmd) {
    if (!ApplyProps(audit_props, audit)) return 2;
    return ae::cli::AuditVerify(audit, std::cout, std::cerr);
  }
  if (*rotate_cmd) return ae::cli::RotateMasterKey(rotate, std::cout, std::cerr);
  if (*audit_export_cmd) {
    if (!ApplyProps(audit_export_props, audit_export.app)) return 2;
    return ae::cli::AuditExport(audit_export, std::cout, std::cerr);
  }
  if (*export_cmd) {
    if (!ApplyProps(exp_props, exp.app)) return 2;
    return ae::cli::EventsExport(exp, std::cout, std::cerr);
  }
  if (auto rc = backup_cmds->Run(std::cout, std::cerr)) return *rc;
  if (*reconcile_cmd) {
    if (!ApplyProps(reconcile_props, reconcile.app)) return 2;
    if (!reconcile_token_file.empty()) {
      std::ifstream in(reconcile_token_file);
      if (!in || !std::getline(in, reconcile.token)) {
        std::cerr << "reconcile: cannot read " << reconcile_token_file << "\n";
        return 2;
      }
    } else if (const char* t = std::getenv("AUTOENROLL_TOKEN")) {
      reconcile.token = t;
    }
    return ae::cli::Reconcile(reconcile, std::cout, std::cerr);
  }
  if (*sim_dep_cmd) return ae::cli::SimAppleDep(sim_dep, std::cout, std::cerr);
  if (*sim_device_cmd) return ae::cli::SimAppleDevice(sim_device, std::cout, std::cerr);
  if (*sim_ca_cmd) return ae::cli::SimAppleDeviceCa(sim_ca_dir, std::cout, std::cerr);
  if (*sim_knox_cmd) return ae::cli::SimKnox(sim_knox, std::cout, std::cerr);
  if (*dev_kafka_cmd) {
    return ae::cli::DevKafka(brokers, dev_partitions, std::cout, std::cerr);
  }
  return 2;
}
