#include "api/cli/config.h"

#include <iostream>

namespace ae::cli {

void AddLogOptions(CLI::App* cmd, api::AppOptions& app, std::vector<std::string>& props) {
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
  cmd->add_option("-X,--kafka-property", props,
                  "librdkafka property key=value (repeatable), e.g. security.protocol=SSL");
}

bool ApplyProps(const std::vector<std::string>& props, api::AppOptions& app) {
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

void AddLoggingOptions(CLI::App* cli, LoggingFlags& flags) {
  cli->add_option("--log-level", flags.level,
                  "trace|debug|info|warn|error|off (default: SPDLOG_LEVEL, else info)");
  cli->add_option("--log-format", flags.format,
                  "text, or json: one object per line {time, level, component, message, "
                  "request_id} for log shippers")
      ->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  cli->add_option("--log-file", flags.file,
                  "append the log to this file instead of standard error (SIGHUP reopens it: "
                  "logrotate)");
}

bool ServeFlags::Finish() {
  if (!ApplyProps(props, serve.app)) return false;
  serve.app.kafka_writer = role == "writer";
  serve.app.run_adapters = serve.app.kafka_brokers.empty() || serve.app.kafka_writer;
  serve.app.dep_sync_interval_ms = dep_sync_s * 1000;
  serve.app.dep_retry_tick_ms = dep_retry_s * 1000;
  serve.app.dep_read_timeout_ms = dep_read_timeout_s * 1000;
  serve.app.knox_sync_interval_ms = knox_sync_s * 1000;
  return true;
}

void AddServeOptions(CLI::App* cmd, ServeFlags& f) {
  ServeOptions& serve = f.serve;
  cmd->add_option("--config", f.config_file,
                  "a TOML file of options (keys: the long options without --); flags and "
                  "AUTOENROLL_* variables override it");
  AddLogOptions(cmd, serve.app, f.props);
  cmd->add_option("--listen", serve.listen, "HOST:PORT (port 0 picks a free port)")
      ->capture_default_str();
  cmd->add_option("--public-url", serve.server.public_url, "URL devices use to reach us");
  cmd->add_option("--role", f.role, "Kafka mode: writer | reader (a query replica)")
      ->check(CLI::IsMember({"writer", "reader"}))->capture_default_str();
  cmd->add_option("--max-body-bytes", serve.server.max_body_bytes, "request body limit")
      ->capture_default_str();
  cmd->add_option("--max-upload-bytes", serve.server.max_upload_bytes,
                  "body limit of file uploads (the Knox CSV import)")
      ->capture_default_str();
  cmd->add_option("--enroll-rate", serve.server.enroll_rate_per_s,
                  "enrollment requests per second per client address, after the burst "
                  "(0: no limit)")
      ->check(CLI::Range(0.0, 1e6))->capture_default_str();
  cmd->add_option("--enroll-burst", serve.server.enroll_burst,
                  "enrollment requests a client address may make at once")
      ->check(CLI::Range(1.0, 1e6))->capture_default_str();
  cmd->add_option("--http-threads", serve.server.threads, "HTTP worker threads")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--tls-cert", serve.server.tls_cert,
                  "PEM certificate (chain) for HTTPS; needs --tls-key");
  cmd->add_option("--tls-key", serve.server.tls_key, "PEM private key for HTTPS; needs "
                  "--tls-cert");
  cmd->add_option("--trusted-proxy", serve.server.trusted_proxies,
                  "a reverse proxy (CIDR, repeatable) whose X-Forwarded-For names the "
                  "client for rate limits");
  cmd->add_flag("--public-metrics", serve.server.public_metrics,
                "serve /metrics without a token (default: a device_manager's token)");
  cmd->add_option("--http-head-timeout", serve.server.head_timeout_s,
                  "seconds a request line and headers may take to arrive whole")
      ->check(CLI::Range(1, 300))->capture_default_str();
  cmd->add_option("--http-read-timeout", serve.server.read_timeout_s,
                  "seconds a larger body may go without data, and an answer may wait "
                  "for the client to read")
      ->check(CLI::Range(1, 300))->capture_default_str();
  cmd->add_option("--shutdown-timeout", serve.shutdown_timeout_s,
                  "seconds SIGTERM waits for requests in flight before the process exits "
                  "anyway (status 1)")
      ->check(CLI::Range(1, 3600))->capture_default_str();
  cmd->add_option("--apple-dep-url", serve.app.apple_dep_url,
                  "Apple's DEP service (a simulator's URL in tests)")
      ->capture_default_str();
  cmd->add_option("--dep-sync-interval", f.dep_sync_s, "seconds between periodic DEP syncs")
      ->check(CLI::Range(int64_t{5}, int64_t{7 * 24 * 3600}))->capture_default_str();
  cmd->add_option("--apple-device-ca", serve.app.apple_device_ca,
                  "PEM CA certificate(s) trusted for MachineInfo signatures instead of "
                  "Apple's device CA");
  cmd->add_option("--apns-topic", serve.app.apns_topic,
                  "APNs topic of the MDM push certificate (com.apple.mgmt.External.<uuid>)");
  cmd->add_option("--agent-manifest-url", serve.app.agent_manifest_url,
                  "manifest of the agent app installed after enrollment "
                  "(default <public-url>/agent/manifest.plist)");
  cmd->add_option("--knox-api-url", serve.app.knox_api_url,
                  "default Knox Cloud API URL of the KME connection (a simulator's URL in "
                  "tests; its token URL is <url>/ams/v1/oauth2/token); default Samsung's");
  cmd->add_option("--knox-sync-interval", f.knox_sync_s,
                  "seconds between periodic Knox Cloud API syncs (0: only on request)")
      ->check(CLI::Range(int64_t{0}, int64_t{7 * 24 * 3600}))->capture_default_str();
  cmd->add_option("--dep-retry-tick", f.dep_retry_s,
                  "seconds between checks for DEP assignments due for a retry")
      ->check(CLI::Range(int64_t{1}, int64_t{3600}))->capture_default_str();
  cmd->add_option("--dep-read-timeout", f.dep_read_timeout_s,
                  "seconds an answer from Apple's DEP service may take before the call "
                  "is retried")
      ->check(CLI::Range(int64_t{1}, int64_t{600}))->capture_default_str();
  // Not shown in --help, and refused on the command line by main(): the file or
  // AUTOENROLL_ADMIN_TOKEN only.
  cmd->add_option("--admin-token", serve.admin_token,
                  "the administrator's seed token (file or AUTOENROLL_ADMIN_TOKEN only)")
      ->group("");
}

}  // namespace ae::cli
