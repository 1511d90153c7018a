#include "api/data_dir_format.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "events/base/durable_file.h"
#include "events/base/logging.h"

namespace ae::api {

namespace fs = std::filesystem;

namespace {

std::string Supported() {
  return "formats " + std::to_string(kOldestUpgradableDataDirFormat) + " to " +
         std::to_string(kDataDirFormat);
}

// One step from format `from` to from + 1. Format 1 -> 2 moves no file: FORMAT, written
// after the last step, is all that format 2 adds.
struct UpgradeStep {
  int from;
  const char* what;
  Status (*run)(const fs::path& data_dir);
};
constexpr UpgradeStep kSteps[] = {
    {1, "record the directory's format in FORMAT", [](const fs::path&) { return Status::Ok(); }},
};

}  // namespace

Result<int> ReadDataDirFormat(const std::string& data_dir) {
  std::error_code ec;
  const fs::path dir(data_dir);
  if (!fs::exists(dir, ec)) return 0;
  const fs::path file = dir / kDataDirFormatFile;
  if (!fs::exists(file, ec)) {
    if (fs::is_directory(dir, ec) && fs::directory_iterator(dir, ec) == fs::directory_iterator()) {
      return 0;
    }
    return 1;
  }
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (!in.good() && !in.eof()) {
    return Internal("data_dir.bad_format_file",
                       "cannot read " + file.string() + ": " + std::strerror(errno));
  }
  if (text.empty() || text.size() > 9 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return Corruption("data_dir.bad_format_file",
                      file.string() + " should hold the data directory's format (a number), "
                      "holds '" + text.substr(0, 40) + "'");
  }
  return std::stoi(text);
}

Result<int> CheckDataDirFormat(const std::string& data_dir) {
  AE_ASSIGN_OR_RETURN(int format, ReadDataDirFormat(data_dir));
  if (format > kDataDirFormat) {
    return FailedPrecondition(
        "data_dir.too_new",
        "the data directory " + data_dir + " is of format " + std::to_string(format) +
            ", written by a newer autoenroll; this one (" AE_VERSION ") reads " + Supported() +
            " and leaves it untouched: run the newer autoenroll on it, or restore a backup "
            "taken before that one upgraded it");
  }
  if (format != 0 && format < kOldestUpgradableDataDirFormat) {
    return FailedPrecondition(
        "data_dir.too_old",
        "the data directory " + data_dir + " is of format " + std::to_string(format) +
            "; this autoenroll (" AE_VERSION ") upgrades " + Supported() +
            ": first open it with an autoenroll that upgrades format " +
            std::to_string(format) + " to format " +
            std::to_string(kOldestUpgradableDataDirFormat) + ", then with this one");
  }
  return format;
}

Status UpgradeDataDir(const std::string& data_dir, int from) {
  if (from == kDataDirFormat) return Status::Ok();
  const fs::path dir(data_dir);
  if (from != 0) {
    for (const auto& step : kSteps) {
      if (step.from < from) continue;
      log::Get("api")->info("data directory {}: format {} to {}: {}", data_dir, step.from,
                            step.from + 1, step.what);
      Status s = step.run(dir);
      if (!s.ok()) {
        return s.WithContext("upgrading the data directory " + data_dir + " from format " +
                             std::to_string(step.from));
      }
    }
  }
  AE_RETURN_IF_ERROR(WriteFileDurably((dir / kDataDirFormatFile).string(),
                                     std::to_string(kDataDirFormat) + "\n", "data_dir.write"));
  if (from != 0) {
    log::Get("api")->info("upgraded the data directory {} from format {} to format {}",
                          data_dir, from, kDataDirFormat);
  }
  return Status::Ok();
}

}  // namespace ae::api
