// autoenroll: the engine's one executable. Subcommands:
//   serve | replay | audit verify | events export | dev-kafka
//   | sim apple-dep | sim apple-device | sim apple-device-ca | sim knox
// Exit codes: 0 success, 1 failure, 2 usage error.

#include <CLI/CLI.hpp>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "api/cli/backup.h"
#include "api/cli/commands.h"
#include "events/base/logging.h"

namespace {

void AddLogOptions(CLI::App* cmd, ae::api::AppOptions& app, std::vector<std::string>& props) {
  cmd->add_option("--data-dir", app.data_dir, "data directory (log, views, secrets)")
      ->capture_default_str();
  cmd->add_option("--master-key-file", app.master_key_file,
                  "32-byte master key of the secret store (default: generated in the data dir)");
  cmd->add_option("--kafka-brokers", app.kafka_brokers,
                  "use Kafka as the log (bootstrap servers); embedded RocksDB log otherwise");
  cmd->add_option("--kafka-topic", app.kafka_topic, "event topic")->capture_default_str();
  cmd->add_option("--kafka-partitions", app.kafka_partitions,
                  "partitions of the event topic (the writer creates it so, and refuses a topic "
                  "with another count)")->capture_default_str();
  cmd->add_option("--kafka-replication-factor", app.kafka_replication_factor,
                  "replication factor of the topics the writer creates, and the least it accepts "
                  "(capped to the brokers)")->capture_default_str();
  cmd->add_option("--kafka-min-insync-replicas", app.kafka_min_insync_replicas,
                  "min.insync.replicas of the topics the writer creates, and the least it accepts "
                  "(capped to the replication factor)")->capture_default_str();
  cmd->add_option("--kafka-transactional-id", app.kafka_transactional_id,
                  "transactional.id of the single writer")->capture_default_str();
  cmd->add_option("--kafka-append-timeout-ms", app.kafka_append_timeout_ms,
                  "an append the cluster does not confirm within this fails with 503 "
                  "log.unavailable")->capture_default_str();
  cmd->add_option("-X", props,
                  "librdkafka property key=value (repeatable), e.g. security.protocol=SSL");
}

bool ApplyProps(const std::vector<std::string>& props, ae::api::AppOptions& app) {
  for (const auto& p : props) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "-X expects key=value, got '" << p << "'\n";
      return false;
    }
    app.kafka_properties[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  // Everything autoenroll creates (the data dir, RocksDB's files, which it makes itself
  // with mode 0644, keys, exports) is private to its user, whatever umask it inherits.
  ::umask(077);
  CLI::App cli{"autoenroll: event-sourced auto-enrollment engine for Apple DEP and Samsung KME"};
  cli.require_subcommand(1);
  std::string log_level;
  cli.add_option("--log-level", log_level, "trace|debug|info|warn|error|off (or SPDLOG_LEVEL)");

  ae::cli::ServeOptions serve;
  std::vector<std::string> serve_props;
  std::string role = "writer";
  auto* serve_cmd = cli.add_subcommand("serve", "run the engine: HTTP API, views, adapters");
  AddLogOptions(serve_cmd, serve.app, serve_props);
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT (port 0 picks a free port)")
      ->capture_default_str();
  serve_cmd->add_option("--public-url", serve.server.public_url, "URL devices use to reach us");
  serve_cmd->add_option("--role", role, "Kafka mode: writer | reader (a query replica)")
      ->check(CLI::IsMember({"writer", "reader"}))->capture_default_str();
  serve_cmd->add_option("--max-body-bytes", serve.server.max_body_bytes, "request body limit")
      ->capture_default_str();
  serve_cmd->add_option("--max-upload-bytes", serve.server.max_upload_bytes,
                        "body limit of file uploads (the Knox CSV import)")
      ->capture_default_str();
  serve_cmd->add_option("--enroll-rate", serve.server.enroll_rate_per_s,
                        "enrollment requests per second per client address, after the burst "
                        "(0: no limit)")
      ->check(CLI::Range(0.0, 1e6))->capture_default_str();
  serve_cmd->add_option("--enroll-burst", serve.server.enroll_burst,
                        "enrollment requests a client address may make at once")
      ->check(CLI::Range(1.0, 1e6))->capture_default_str();
  serve_cmd->add_option("--http-threads", serve.server.threads, "HTTP worker threads")
      ->capture_default_str();
  serve_cmd->add_option("--tls-cert", serve.server.tls_cert,
                        "PEM certificate (chain) for HTTPS; needs --tls-key");
  serve_cmd->add_option("--tls-key", serve.server.tls_key, "PEM private key for HTTPS; needs "
                        "--tls-cert");
  serve_cmd->add_option("--trusted-proxy", serve.server.trusted_proxies,
                        "a reverse proxy (CIDR, repeatable) whose X-Forwarded-For names the "
                        "client for rate limits");
  serve_cmd->add_flag("--public-metrics", serve.server.public_metrics,
                      "serve /metrics without a token (default: a device_manager's token)");
  serve_cmd->add_option("--http-head-timeout", serve.server.head_timeout_s,
                        "seconds a request line and headers may take to arrive whole")
      ->check(CLI::Range(1, 300))->capture_default_str();
  serve_cmd->add_option("--http-read-timeout", serve.server.read_timeout_s,
                        "seconds a larger body may go without data, and an answer may wait "
                        "for the client to read")
      ->check(CLI::Range(1, 300))->capture_default_str();
  serve_cmd->add_option("--apple-dep-url", serve.app.apple_dep_url,
                        "Apple's DEP service (a simulator's URL in tests)")
      ->capture_default_str();
  int64_t dep_sync_s = serve.app.dep_sync_interval_ms / 1000;
  serve_cmd->add_option("--dep-sync-interval", dep_sync_s, "seconds between periodic DEP syncs")
      ->check(CLI::Range(int64_t{5}, int64_t{7 * 24 * 3600}))->capture_default_str();
  serve_cmd->add_option("--apple-device-ca", serve.app.apple_device_ca,
                        "PEM CA certificate(s) trusted for MachineInfo signatures instead of "
                        "Apple's device CA");
  serve_cmd->add_option("--apns-topic", serve.app.apns_topic,
                        "APNs topic of the MDM push certificate (com.apple.mgmt.External.<uuid>)");
  serve_cmd->add_option("--agent-manifest-url", serve.app.agent_manifest_url,
                        "manifest of the agent app installed after enrollment "
                        "(default <public-url>/agent/manifest.plist)");
  serve_cmd->add_option("--knox-api-url", serve.app.knox_api_url,
                        "default Knox Cloud API URL of the KME connection (a simulator's URL in "
                        "tests; its token URL is <url>/ams/v1/oauth2/token); default Samsung's");
  int64_t knox_sync_s = serve.app.knox_sync_interval_ms / 1000;
  serve_cmd->add_option("--knox-sync-interval", knox_sync_s,
                        "seconds between periodic Knox Cloud API syncs (0: only on request)")
      ->check(CLI::Range(int64_t{0}, int64_t{7 * 24 * 3600}))->capture_default_str();
  int64_t dep_retry_s = serve.app.dep_retry_tick_ms / 1000;
  serve_cmd->add_option("--dep-retry-tick", dep_retry_s,
                        "seconds between checks for DEP assignments due for a retry")
      ->check(CLI::Range(int64_t{1}, int64_t{3600}))->capture_default_str();
  int64_t dep_read_timeout_s = serve.app.dep_read_timeout_ms / 1000;
  serve_cmd->add_option("--dep-read-timeout", dep_read_timeout_s,
                        "seconds an answer from Apple's DEP service may take before the call "
                        "is retried")
      ->check(CLI::Range(int64_t{1}, int64_t{600}))->capture_default_str();

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

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = cli.exit(e);
    return rc == 0 ? 0 : 2;
  }
  ae::log::Init(log_level);
  ae::cli::InstallSignalHandling();

  if (*serve_cmd) {
    if (!ApplyProps(serve_props, serve.app)) return 2;
    serve.app.kafka_writer = role == "writer";
    serve.app.run_adapters = serve.app.kafka_brokers.empty() || serve.app.kafka_writer;
    serve.app.dep_sync_interval_ms = dep_sync_s * 1000;
    serve.app.dep_retry_tick_ms = dep_retry_s * 1000;
    serve.app.dep_read_timeout_ms = dep_read_timeout_s * 1000;
    serve.app.knox_sync_interval_ms = knox_sync_s * 1000;
    return ae::cli::Serve(serve, std::cout);
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
  if (*sim_dep_cmd) return ae::cli::SimAppleDep(sim_dep, std::cout, std::cerr);
  if (*sim_device_cmd) return ae::cli::SimAppleDevice(sim_device, std::cout, std::cerr);
  if (*sim_ca_cmd) return ae::cli::SimAppleDeviceCa(sim_ca_dir, std::cout, std::cerr);
  if (*sim_knox_cmd) return ae::cli::SimKnox(sim_knox, std::cout, std::cerr);
  if (*dev_kafka_cmd) {
    return ae::cli::DevKafka(brokers, dev_partitions, std::cout, std::cerr);
  }
  return 2;
}
