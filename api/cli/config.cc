#include "api/cli/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

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

namespace {

std::string EnvName(const std::string& long_name) {
  std::string env = "AUTOENROLL_";
  for (char c : long_name) {
    env.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return env;
}

bool Repeatable(const CLI::Option* opt) { return opt->get_items_expected_max() > 1; }
bool IsFlag(const CLI::Option* opt) { return opt->get_expected_max() == 0; }

// The TOML type an option's values take: "string", "integer", "float" or "boolean".
std::string TomlType(const CLI::Option* opt) {
  if (IsFlag(opt)) return "boolean";
  std::string t = opt->get_type_name();
  t = t.substr(0, t.find_first_of(": "));
  if (t == "INT" || t == "UINT") return "integer";
  if (t == "FLOAT") return "float";
  if (t == "BOOLEAN") return "boolean";
  return "string";
}

// The options a configuration file may set: serve's, then its parent's logging options.
CLI::Option* FindKey(CLI::App* serve_cmd, const std::string& key) {
  if (key.empty() || key == "config" || key == "help") return nullptr;
  if (auto* o = serve_cmd->get_option_no_throw("--" + key)) return o;
  if (key.rfind("log-", 0) != 0) return nullptr;
  for (CLI::App* up = serve_cmd->get_parent(); up != nullptr; up = up->get_parent()) {
    if (auto* o = up->get_option_no_throw("--" + key)) return o;
  }
  return nullptr;
}

struct Entry {
  std::string key;
  int line = 0;
  std::vector<std::string> values;
  std::vector<std::string> types;  // TOML type of each value
  bool array = false;
};

std::string Where(const std::string& path, int line) {
  return line > 0 ? path + ":" + std::to_string(line) : path;
}

Status ScalarOf(const toml::node& n, std::string* value, std::string* type) {
  if (auto s = n.as_string()) {
    *value = s->get();
    *type = "string";
  } else if (auto i = n.as_integer()) {
    *value = std::to_string(i->get());
    *type = "integer";
  } else if (auto d = n.as_floating_point()) {
    std::ostringstream os;
    os.precision(17);
    os << d->get();
    *value = os.str();
    *type = "float";
  } else if (auto b = n.as_boolean()) {
    *value = b->get() ? "true" : "false";
    *type = "boolean";
  } else {
    return InvalidArgument("config.bad_value", "not a string, number or boolean");
  }
  return Status::Ok();
}

Result<std::vector<Entry>> ReadFile(const std::string& path) {
  {
    std::ifstream probe(path);
    if (!probe) {
      return InvalidArgument("config.unreadable",
                             "cannot read the configuration file " + path + ": " +
                                 std::strerror(errno));
    }
  }
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    return InvalidArgument("config.bad_file", Where(path, static_cast<int>(at.line)) +
                                                  ": not valid TOML: " +
                                                  std::string(e.description()));
  }
  std::vector<Entry> entries;
  for (auto&& [k, node] : table) {
    Entry e;
    e.key = std::string(k.str());
    e.line = static_cast<int>(k.source().begin.line);
    if (e.line == 0) e.line = static_cast<int>(node.source().begin.line);
    if (auto arr = node.as_array()) {
      e.array = true;
      for (const auto& item : *arr) {
        std::string v, t;
        Status s = ScalarOf(item, &v, &t);
        if (!s.ok()) {
          return InvalidArgument("config.bad_value", Where(path, e.line) + ": " + e.key +
                                                         ": an element is " + s.message(),
                                 e.key);
        }
        e.values.push_back(v);
        e.types.push_back(t);
      }
    } else if (node.is_table()) {
      return InvalidArgument("config.unknown_key",
                             Where(path, e.line) + ": unknown key '" + e.key +
                                 "' (a table: the keys of the file are serve's long options "
                                 "without the leading --, at the top level)",
                             e.key);
    } else {
      std::string v, t;
      Status s = ScalarOf(node, &v, &t);
      if (!s.ok()) {
        return InvalidArgument("config.bad_value",
                               Where(path, e.line) + ": " + e.key + ": " + s.message(), e.key);
      }
      e.values.push_back(v);
      e.types.push_back(t);
    }
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.line < b.line; });
  return entries;
}

// Checks `e` against its option and, unless the option already has a value (a flag or
// the environment gave one) and `only_unset`, sets it.
Status ApplyEntry(const Entry& e, CLI::App* serve_cmd, const std::string& path,
                  bool only_unset) {
  CLI::Option* opt = FindKey(serve_cmd, e.key);
  const std::string where = Where(path, e.line);
  if (opt == nullptr) {
    return InvalidArgument("config.unknown_key",
                           where + ": unknown key '" + e.key +
                               "' (the keys are serve's long options without the leading --: "
                               "autoenroll serve --help)",
                           e.key);
  }
  const std::string want = TomlType(opt);
  if (e.array && !Repeatable(opt)) {
    return InvalidArgument("config.bad_value",
                           where + ": " + e.key + ": takes one " + want + ", not an array",
                           e.key);
  }
  for (const auto& t : e.types) {
    bool ok = t == want || (want == "float" && t == "integer");
    if (!ok) {
      return InvalidArgument("config.bad_value",
                             where + ": " + e.key + ": expected " +
                                 (want == "integer" ? "an " : "a ") + want + ", got a " + t,
                             e.key);
    }
  }
  if (only_unset && opt->count() > 0) return Status::Ok();
  if (e.values.empty()) return Status::Ok();  // [] : none, as by default
  try {
    opt->add_result(e.values);
    opt->run_callback();
  } catch (const CLI::Error& err) {
    return InvalidArgument("config.bad_value", where + ": " + e.key + ": " + err.what(), e.key);
  }
  return Status::Ok();
}

std::string Quoted(const std::string& s) { return nlohmann::json(s).dump(); }

// "https://user:pass@host/..." -> "https://user:***@host/...".
std::string MaskUrlPassword(const std::string& v) {
  auto scheme = v.find("://");
  if (scheme == std::string::npos) return v;
  auto at = v.find('@', scheme + 3);
  auto slash = v.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return v;
  auto colon = v.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return v;
  return v.substr(0, colon + 1) + "***" + v.substr(at);
}

}  // namespace

bool IsSecretKey(const std::string& key) {
  std::string k = key;
  std::transform(k.begin(), k.end(), k.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* word : {"password", "secret", "token", "jaas", "key.pem", "ssl_key",
                           "credential", "private"}) {
    if (k.find(word) != std::string::npos) return true;
  }
  return false;
}

void AddEnvNames(CLI::App* cmd) {
  for (CLI::Option* opt : cmd->get_options()) {
    const auto& names = opt->get_lnames();
    if (names.empty() || names.front() == "help") continue;
    opt->envname(EnvName(names.front()));
    if (Repeatable(opt)) opt->delimiter('\n');
  }
}

Status ApplyConfigFile(const std::string& path, CLI::App* serve_cmd) {
  AE_ASSIGN_OR_RETURN(std::vector<Entry> entries, ReadFile(path));
  {
    // Every entry is checked on fresh options, so a bad value is refused even where a
    // flag or a variable overrides it.
    CLI::App scratch;
    LoggingFlags logging;
    ServeFlags flags;
    AddLoggingOptions(&scratch, logging);
    CLI::App* scratch_serve = scratch.add_subcommand("serve");
    AddServeOptions(scratch_serve, flags);
    for (const auto& e : entries) AE_RETURN_IF_ERROR(ApplyEntry(e, scratch_serve, path, false));
  }
  for (const auto& e : entries) AE_RETURN_IF_ERROR(ApplyEntry(e, serve_cmd, path, true));
  return Status::Ok();
}

std::string EffectiveConfig(CLI::App* serve_cmd) {
  std::ostringstream out;
  out << "# The effective configuration of autoenroll serve (flag > AUTOENROLL_* variable > "
         "file > default).\n";
  std::vector<CLI::Option*> options;
  for (CLI::App* up = serve_cmd->get_parent(); up != nullptr; up = up->get_parent()) {
    for (auto* o : up->get_options()) {
      if (!o->get_lnames().empty() && o->get_lnames().front().rfind("log-", 0) == 0) {
        options.push_back(o);
      }
    }
  }
  for (auto* o : serve_cmd->get_options()) {
    if (o->get_lnames().empty()) continue;
    const std::string& name = o->get_lnames().front();
    if (name == "help" || name == "config") continue;
    options.push_back(o);
  }
  for (CLI::Option* o : options) {
    const std::string key = o->get_lnames().front();
    std::vector<std::string> values;
    if (o->count() > 0) {
      values = o->results();
    } else if (!o->get_default_str().empty() && o->get_default_str() != "[]") {
      values = {o->get_default_str()};
    }
    const std::string type = TomlType(o);
    const bool secret = IsSecretKey(key);
    auto render = [&](std::string v) {
      if (type == "boolean") {
        bool b = false;
        if (!v.empty()) CLI::detail::lexical_cast(v, b);
        return std::string(b ? "true" : "false");
      }
      if (type == "integer" || type == "float") return v.empty() ? std::string("0") : v;
      if (secret && !v.empty()) return Quoted("***");
      if (key == "kafka-property") {
        auto eq = v.find('=');
        if (eq != std::string::npos && IsSecretKey(v.substr(0, eq))) {
          v = v.substr(0, eq + 1) + "***";
        }
      }
      return Quoted(MaskUrlPassword(v));
    };
    out << key << " = ";
    if (Repeatable(o)) {
      out << "[";
      for (size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << render(values[i]);
      out << "]\n";
    } else {
      out << render(values.empty() ? "" : values.back()) << "\n";
    }
  }
  return out.str();
}

}  // namespace ae::cli
