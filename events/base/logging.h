#pragma once
// One named spdlog logger per module. Levels from SPDLOG_LEVEL or --log-level.
// Secrets go through Redacted(), which prints a short fingerprint instead.

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace ae::log {

// Modules: "events", "domain", "projections", "adapters.dep", "adapters.knox",
// "api", "kafka". Unknown names get a logger created on first use.
std::shared_ptr<spdlog::logger> Get(std::string_view module);

// Sends every module logger to stderr (default) with the given level name
// ("trace".."off"); also honours SPDLOG_LEVEL when `level` is empty.
void Init(std::string_view level);

// Adds a sink (for tests that assert on logging) to every module logger.
void AddSinkForTest(spdlog::sink_ptr sink);

// "sha256:ab12cd34" of the secret, never the secret.
std::string Redacted(std::string_view secret);

}  // namespace ae::log
