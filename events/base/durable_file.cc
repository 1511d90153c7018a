#include "events/base/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace ae {

Status WriteFileDurably(const std::string& path, std::string_view content,
                        const std::string& reason) {
  namespace fs = std::filesystem;
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable(reason, "cannot write " + tmp + ": " + std::strerror(errno));
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) &&
            ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(ok ? errno : saved);
    ::unlink(tmp.c_str());
    return Unavailable(reason, "cannot write " + path + ": " + why);
  }
  const fs::path dir = fs::path(path).parent_path();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Unavailable(reason, "cannot open " + dir.string() + " to sync it");
  ok = ::fsync(dfd) == 0;
  ::close(dfd);
  return ok ? Status::Ok() : Unavailable(reason, "cannot sync " + dir.string());
}

}  // namespace ae
