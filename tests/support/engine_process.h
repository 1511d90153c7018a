#pragma once
// EngineProcess: the real `autoenroll` binary as a child process, for
// end-to-end tests. Starts `serve` on 127.0.0.1:0, reads the chosen port from
// its standard output, and talks HTTP to it. Its standard error goes to
// <data_dir>/../engine-<n>.log.

#include <httplib.h>
#include <signal.h>
#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "events/base/status.h"

namespace ae::testing {

struct HttpAnswer {
  int status = 0;
  nlohmann::json json;            // null when the body is not JSON
  std::string body;
  httplib::Headers headers;
  std::string Header(const std::string& name) const;
};

struct ToolResult {
  int exit_code = -1;
  std::string out, err;
};

// One HTTP call to 127.0.0.1:`port` (GET, POST, PUT, PATCH or DELETE; 30 s read
// timeout). A transport failure is status -1 with the error as the body.
HttpAnswer CallLoopback(int port, const std::string& method, const std::string& path,
                        const std::string& body = "", const httplib::Headers& headers = {},
                        const std::string& content_type = "application/json");
// The port of a URL "http://host:PORT".
int PortOf(const std::string& url);

// Runs the binary with `args` to completion (bounded by `timeout_s`).
ToolResult RunTool(const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& env = {}, int timeout_s = 120);

// A long-running subcommand (e.g. dev-kafka) as a child process: started,
// its first stdout line starting with `prefix` returned, killed on destruction.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  // Returns the rest of the first stdout line that starts with `prefix`.
  Result<std::string> Start(const std::vector<std::string>& args, const std::string& prefix,
                            int timeout_s = 30);
  // Returns the rest of the next stdout line, after those already returned,
  // that starts with `prefix`.
  Result<std::string> ReadLine(const std::string& prefix, int timeout_s = 30);
  int Stop(int sig = SIGTERM);
  // Sends `sig` (e.g. SIGSTOP / SIGCONT: a cluster that stops answering, then resumes).
  void Signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string out_;  // stdout read and not yet returned
};

class EngineProcess {
 public:
  explicit EngineProcess(std::string data_dir, std::vector<std::string> extra_args = {},
                         std::map<std::string, std::string> env = {});
  ~EngineProcess();  // SIGKILL if still running

  // Starts and waits for the "listening on" line (or the process's exit).
  Status Start(int timeout_s = 30);
  // Sends `sig` and waits for the exit; returns the exit status (or -signal).
  int Stop(int sig = SIGTERM);
  // Sends `sig` without waiting (SIGHUP: reopen the log file).
  void Signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string AdminToken() const;   // <data_dir>/admin-token
  std::string LogText() const;      // what it wrote to stderr so far

  HttpAnswer Get(const std::string& path, const std::string& token = "");
  HttpAnswer Post(const std::string& path, const std::string& body, const std::string& token = "",
                  const std::string& content_type = "application/json");
  HttpAnswer Delete(const std::string& path, const std::string& token = "");
  HttpAnswer Send(const std::string& method, const std::string& path, const std::string& body,
                  const std::string& token, const std::string& content_type);

 private:
  std::string data_dir_;
  std::vector<std::string> extra_args_;
  std::map<std::string, std::string> env_;
  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace ae::testing
