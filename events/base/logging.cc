#include "events/base/logging.h"

#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>
#include <vector>

#include "events/base/crypto.h"

namespace ae::log {
namespace {
std::mutex& Mu() {
  static std::mutex mu;
  return mu;
}
std::vector<spdlog::sink_ptr>& Sinks() {
  static std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_sink_mt>()};
  return sinks;
}
spdlog::level::level_enum& Level() {
  static spdlog::level::level_enum level = spdlog::level::info;
  return level;
}
}  // namespace

std::shared_ptr<spdlog::logger> Get(std::string_view module) {
  std::string name(module);
  std::lock_guard lock(Mu());
  if (auto l = spdlog::get(name)) return l;
  auto logger = std::make_shared<spdlog::logger>(name, Sinks().begin(), Sinks().end());
  logger->set_level(Level());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ [%n] %v", spdlog::pattern_time_type::utc);
  spdlog::register_logger(logger);
  return logger;
}

void Init(std::string_view level) {
  {
    std::lock_guard lock(Mu());
    if (!level.empty()) Level() = spdlog::level::from_str(std::string(level));
    spdlog::apply_all([](std::shared_ptr<spdlog::logger> l) { l->set_level(Level()); });
  }
  if (level.empty()) spdlog::cfg::load_env_levels();
}

void AddSinkForTest(spdlog::sink_ptr sink) {
  std::lock_guard lock(Mu());
  Sinks().push_back(sink);
  spdlog::apply_all([&](std::shared_ptr<spdlog::logger> l) { l->sinks().push_back(sink); });
}

std::string Redacted(std::string_view secret) {
  return "sha256:" + crypto::Hex(crypto::Sha256(secret)).substr(0, 8);
}

}  // namespace ae::log
