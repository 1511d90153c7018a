#include "events/base/logging.h"
#include "events/base/log_output.h"

#include <spdlog/cfg/env.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "events/base/crypto.h"

namespace ae::log {
namespace {

constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ [%n] %v";

thread_local std::string t_request_id;

// One JSON object per line: {"time","level","component","message"[,"request_id"]}.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto since_epoch = msg.time.time_since_epoch();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char time[96];
    std::snprintf(time, sizeof time, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    nlohmann::ordered_json j;
    j["time"] = time;
    auto level = spdlog::level::to_string_view(msg.level);
    j["level"] = std::string(level.data(), level.size());
    j["component"] = std::string(msg.logger_name.data(), msg.logger_name.size());
    j["message"] = std::string(msg.payload.data(), msg.payload.size());
    if (!t_request_id.empty()) j["request_id"] = t_request_id;
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line.push_back('\n');
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// Appends to a file it can reopen by name (logrotate moves the file, then sends SIGHUP).
// Each line is flushed, as on stderr.
class FileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit FileSink(std::string path) : path_(std::move(path)) {}
  ~FileSink() override {
    if (file_ != nullptr) std::fclose(file_);
  }
  Status Reopen() {
    std::lock_guard lock(mutex_);
    std::FILE* f = std::fopen(path_.c_str(), "ae");
    if (f == nullptr) {
      return Unavailable("log.file", "cannot open the log file " + path_ + ": " +
                                         std::strerror(errno));
    }
    if (file_ != nullptr) std::fclose(file_);
    file_ = f;
    return Status::Ok();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (file_ == nullptr) return;
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    std::fwrite(buf.data(), 1, buf.size(), file_);
    std::fflush(file_);
  }
  void flush_() override {
    if (file_ != nullptr) std::fflush(file_);
  }

 private:
  const std::string path_;
  std::FILE* file_ = nullptr;  // guarded by mutex_
};

std::mutex& Mu() {
  static std::mutex mu;
  return mu;
}
// [0] is where the lines go (stderr or the file); tests add theirs after it.
std::vector<spdlog::sink_ptr>& Sinks() {
  static std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_sink_mt>()};
  return sinks;
}
std::shared_ptr<FileSink>& File() {
  static std::shared_ptr<FileSink> file;
  return file;
}
spdlog::level::level_enum& Level() {
  static spdlog::level::level_enum level = spdlog::level::info;
  return level;
}
bool& Json() {
  static bool json = false;
  return json;
}

void ApplyFormat(spdlog::logger& l) {
  if (Json()) {
    l.set_formatter(std::make_unique<JsonFormatter>());
  } else {
    l.set_pattern(kTextPattern, spdlog::pattern_time_type::utc);
  }
}
}  // namespace

std::shared_ptr<spdlog::logger> Get(std::string_view module) {
  std::string name(module);
  std::lock_guard lock(Mu());
  if (auto l = spdlog::get(name)) return l;
  auto logger = std::make_shared<spdlog::logger>(name, Sinks().begin(), Sinks().end());
  logger->set_level(Level());
  ApplyFormat(*logger);
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

Status Init(const LogOptions& options) {
  if (!options.level.empty() && options.level != "off" &&
      spdlog::level::from_str(options.level) == spdlog::level::off) {
    return InvalidArgument("log.bad_level",
                           "log level must be trace, debug, info, warn, error, critical or off, "
                           "got '" + options.level + "'",
                           "log-level");
  }
  if (options.format != "text" && options.format != "json") {
    return InvalidArgument("log.bad_format",
                           "log format must be text or json, got '" + options.format + "'",
                           "log-format");
  }
  spdlog::sink_ptr out;
  std::shared_ptr<FileSink> file;
  if (!options.file.empty()) {
    file = std::make_shared<FileSink>(options.file);
    AE_RETURN_IF_ERROR(file->Reopen());
    out = file;
  }
  {
    std::lock_guard lock(Mu());
    Json() = options.format == "json";
    if (out) {
      spdlog::sink_ptr old = Sinks()[0];
      Sinks()[0] = out;
      File() = file;
      spdlog::apply_all([&](std::shared_ptr<spdlog::logger> l) {
        for (auto& s : l->sinks()) {
          if (s == old) s = out;
        }
      });
    }
    spdlog::apply_all([](std::shared_ptr<spdlog::logger> l) { ApplyFormat(*l); });
  }
  Init(options.level);
  return Status::Ok();
}

Status Reopen() {
  std::shared_ptr<FileSink> file;
  {
    std::lock_guard lock(Mu());
    file = File();
  }
  if (!file) return Status::Ok();
  return file->Reopen();
}

RequestScope::RequestScope(std::string_view request_id) : previous_(t_request_id) {
  t_request_id = request_id;
}
RequestScope::~RequestScope() { t_request_id = previous_; }

void AddSinkForTest(spdlog::sink_ptr sink) {
  std::lock_guard lock(Mu());
  Sinks().push_back(sink);
  spdlog::apply_all([&](std::shared_ptr<spdlog::logger> l) { l->sinks().push_back(sink); });
}

std::string Redacted(std::string_view secret) {
  return "sha256:" + crypto::Hex(crypto::Sha256(secret)).substr(0, 8);
}

}  // namespace ae::log
