#pragma once
// Where the module loggers (logging.h) write, and how: standard error (default) or a file
// (--log-file), as text or as one JSON object per line (--log-format json: time, level,
// component, message, and request_id when the line was written while serving an HTTP
// request). Reopen() reopens the file after logrotate moved it (serve calls it on SIGHUP).

#include <string>
#include <string_view>

#include "events/base/status.h"

namespace ae::log {

struct LogOptions {
  std::string level;            // "trace".."off"; empty: SPDLOG_LEVEL, else info
  std::string format = "text";  // text | json (one object per line)
  std::string file;             // append to this file instead of stderr (created 0600 under
                                // the process's umask 077)
};
// As Init(level) in logging.h, with the format and the destination. Fails (nothing
// changed) on an unknown level or format, or a file that cannot be opened for appending.
Status Init(const LogOptions& options);

// Reopens the log file by its path (a file moved away by logrotate is closed and a new
// one created). A no-op when logging to stderr. Thread-safe.
Status Reopen();

// Names the HTTP request the calling thread serves while it lives: JSON lines written
// on this thread meanwhile carry it as request_id.
class RequestScope {
 public:
  explicit RequestScope(std::string_view request_id);
  ~RequestScope();
  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;

 private:
  std::string previous_;
};

}  // namespace ae::log
