#pragma once
// The configuration of `serve`: its command-line options, one environment variable per
// option, and a TOML file (--config), with the precedence
//   flag > environment > file > default.
// Each key of the file is an option's long name without the leading "--" (listen,
// data-dir, kafka-property, log-format, ...); its variable is AUTOENROLL_ and the name in
// upper case with '-' as '_' (AUTOENROLL_LISTEN, AUTOENROLL_DATA_DIR, ...). The
// administrator's seed (admin-token, AUTOENROLL_ADMIN_TOKEN) is read from the file or the
// environment only: other local users can read a process's command line.
//
// config.cc defines the options (AddLogOptions, AddLoggingOptions, AddServeOptions, -X);
// config_file.cc their environment variables, the TOML file and `config show`
// (AddEnvNames, ApplyConfigFile, EffectiveConfig, IsSecretKey).

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "api/cli/commands.h"

namespace ae::cli {

// The options of every subcommand that opens a data dir or a log: --data-dir, the master
// key, Kafka, -X (--kafka-property).
void AddLogOptions(CLI::App* cmd, api::AppOptions& app, std::vector<std::string>& props);
// -X key=value into app.kafka_properties; false (with a message on stderr) on a malformed one.
bool ApplyProps(const std::vector<std::string>& props, api::AppOptions& app);

// The process's logging (options of the top level, before the subcommand, or keys of
// serve's configuration file).
struct LoggingFlags {
  std::string level;            // trace|debug|info|warn|error|off; empty: SPDLOG_LEVEL
  std::string format = "text";  // text | json
  std::string file;             // empty: standard error
};
void AddLoggingOptions(CLI::App* cli, LoggingFlags& flags);

// Every option of `serve`, bound to where its value goes.
struct ServeFlags {
  ServeOptions serve;
  std::string config_file;  // --config
  std::vector<std::string> props;
  std::string role = "writer";
  int64_t dep_sync_s = serve.app.dep_sync_interval_ms / 1000;
  int64_t knox_sync_s = serve.app.knox_sync_interval_ms / 1000;
  int64_t dep_retry_s = serve.app.dep_retry_tick_ms / 1000;
  int64_t dep_read_timeout_s = serve.app.dep_read_timeout_ms / 1000;
  // Completes `serve` from the flags (the role, seconds to milliseconds, -X); false with a
  // message on stderr when a -X is malformed.
  bool Finish();
};
void AddServeOptions(CLI::App* cmd, ServeFlags& flags);

// Gives each option of `cmd` that has a long name its environment variable
// (AUTOENROLL_<NAME>). Repeatable options take one value per line of the variable.
void AddEnvNames(CLI::App* cmd);

// Once CLI11 has parsed the flags and the environment: reads the TOML file at `path` and
// sets every option of `serve_cmd` (or of its parent: the logging options) that neither a
// flag nor the environment set. Every key and value of the file is checked, even those a
// flag or a variable overrides: an unknown key or a bad value is refused
// (config.unknown_key, config.bad_value), as is a file that is not TOML (config.bad_file)
// or cannot be read (config.unreadable); the message names the file, the line and the key.
Status ApplyConfigFile(const std::string& path, CLI::App* serve_cmd);

// The effective configuration of `serve_cmd` and its parent's logging options, as a TOML
// file with the same keys, in the order of `serve --help`. Secrets are shown as "***":
// the administrator's seed, Kafka properties that hold a password, secret, key or token,
// and the password of a URL.
std::string EffectiveConfig(CLI::App* serve_cmd);

// Whether a key (an option or a librdkafka property) names a secret.
bool IsSecretKey(const std::string& key);

}  // namespace ae::cli
