#include "tests/support/engine_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/test_support.h"

extern char** environ;

namespace ae::testing {

namespace {

std::atomic<int> g_engine_seq{0};

std::vector<std::string> BuildEnv(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos && extra.count(kv.substr(0, eq))) continue;
    out.push_back(kv);
  }
  for (const auto& [k, v] : extra) out.push_back(k + "=" + v);
  return out;
}

// Spawns the binary; stdout to a pipe (returned in *out_fd), stderr to `err_path`.
pid_t Spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            int* out_fd, const std::string& err_path, int* err_fd) {
  int out_pipe[2];
  if (pipe(out_pipe) != 0) return -1;
  int err_pipe[2] = {-1, -1};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_addclose(&fa, out_pipe[0]);
  if (!err_path.empty()) {
    posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
  } else if (err_fd) {
    if (pipe(err_pipe) != 0) return -1;
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
    posix_spawn_file_actions_addclose(&fa, err_pipe[0]);
  }
  std::vector<std::string> full = {BinaryPath()};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  auto envs = BuildEnv(env);
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, full[0].c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(out_pipe[1]);
  if (err_pipe[1] >= 0) close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    if (err_pipe[0] >= 0) close(err_pipe[0]);
    return -1;
  }
  *out_fd = out_pipe[0];
  if (err_fd) *err_fd = err_pipe[0];
  return pid;
}

}  // namespace

std::string HttpAnswer::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

ToolResult RunTool(const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& env, int timeout_s) {
  ToolResult r;
  int out_fd = -1, err_fd = -1;
  pid_t pid = Spawn(args, env, &out_fd, "", &err_fd);
  if (pid < 0) {
    r.err = "spawn failed";
    return r;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  bool out_open = true, err_open = true;
  char buf[65536];
  while ((out_open || err_open) && std::chrono::steady_clock::now() < deadline) {
    pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    if (poll(fds, 2, 200) <= 0) continue;
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP))) {
      ssize_t n = read(out_fd, buf, sizeof buf);
      if (n <= 0) out_open = false;
      else r.out.append(buf, static_cast<size_t>(n));
    }
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP))) {
      ssize_t n = read(err_fd, buf, sizeof buf);
      if (n <= 0) err_open = false;
      else r.err.append(buf, static_cast<size_t>(n));
    }
  }
  if (out_open || err_open) kill(pid, SIGKILL);
  close(out_fd);
  close(err_fd);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return r;
}

ChildProcess::~ChildProcess() { Stop(SIGKILL); }

Result<std::string> ChildProcess::Start(const std::vector<std::string>& args,
                                        const std::string& prefix, int timeout_s) {
  pid_ = Spawn(args, {}, &out_fd_, "/dev/null", nullptr);
  if (pid_ < 0) return Internal("test.spawn", "cannot start " + BinaryPath());
  out_.clear();
  auto line = ReadLine(prefix, timeout_s);
  if (!line.ok()) Stop(SIGKILL);
  return line;
}

Result<std::string> ChildProcess::ReadLine(const std::string& prefix, int timeout_s) {
  char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (out_fd_ >= 0) {
    auto at = out_.find(prefix);
    auto nl = at == std::string::npos ? std::string::npos : out_.find('\n', at);
    if (nl != std::string::npos) {
      std::string rest = out_.substr(at + prefix.size(), nl - at - prefix.size());
      out_.erase(0, nl + 1);
      return rest;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n <= 0) break;
    out_.append(buf, static_cast<size_t>(n));
  }
  return Unavailable("test.child_not_started", "no '" + prefix + "' line; got: " + out_);
}

int ChildProcess::Stop(int sig) {
  if (pid_ <= 0) return 0;
  kill(pid_, sig);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  if (out_fd_ >= 0) close(out_fd_);
  out_fd_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

EngineProcess::EngineProcess(std::string data_dir, std::vector<std::string> extra_args,
                             std::map<std::string, std::string> env)
    : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)), env_(std::move(env)) {
  log_path_ = (std::filesystem::path(data_dir_).parent_path() /
               ("engine-" + std::to_string(getpid()) + "-" + std::to_string(++g_engine_seq) +
                ".log"))
                  .string();
}

EngineProcess::~EngineProcess() {
  if (pid_ > 0) Stop(SIGKILL);
}

Status EngineProcess::Start(int timeout_s) {
  std::vector<std::string> args = {"serve", "--data-dir", data_dir_};
  bool has_listen = false;
  for (const auto& a : extra_args_) has_listen = has_listen || a == "--listen";
  if (!has_listen) args.insert(args.end(), {"--listen", "127.0.0.1:0"});
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  int out_fd = -1;
  pid_ = Spawn(args, env_, &out_fd, log_path_, nullptr);
  if (pid_ < 0) return Internal("test.spawn", "cannot start " + BinaryPath());
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{out_fd, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      ssize_t n = read(out_fd, buf, sizeof buf);
      if (n <= 0) break;  // exited
      out.append(buf, static_cast<size_t>(n));
      auto at = out.find("listening on http");
      auto nl = at == std::string::npos ? std::string::npos : out.find('\n', at);
      if (nl != std::string::npos) {
        std::string line = out.substr(at, nl - at);
        port_ = std::stoi(line.substr(line.rfind(':') + 1));
        close(out_fd);  // the engine writes nothing else to stdout
        return Status::Ok();
      }
    }
  }
  close(out_fd);
  int code = Stop(SIGKILL);
  return Unavailable("test.engine_not_started", "engine did not start (exit " +
                                                    std::to_string(code) + "): " + LogText());
}

int EngineProcess::Stop(int sig) {
  if (pid_ <= 0) return 0;
  kill(pid_, sig);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

std::string EngineProcess::AdminToken() const {
  std::ifstream in(data_dir_ + "/admin-token");
  std::string t;
  std::getline(in, t);
  return t;
}

std::string EngineProcess::LogText() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

HttpAnswer CallLoopback(int port, const std::string& method, const std::string& path,
                        const std::string& body, const httplib::Headers& headers,
                        const std::string& content_type) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(30, 0);
  auto res = [&]() -> httplib::Result {
    if (method == "POST") return cli.Post(path, headers, body, content_type.c_str());
    if (method == "PUT") return cli.Put(path, headers, body, content_type.c_str());
    if (method == "PATCH") return cli.Patch(path, headers, body, content_type.c_str());
    if (method == "DELETE") return cli.Delete(path, headers);
    return cli.Get(path, headers);
  }();
  HttpAnswer a;
  if (!res) {
    a.status = -1;
    a.body = httplib::to_string(res.error());
    return a;
  }
  a.status = res->status;
  a.body = res->body;
  a.headers = res->headers;
  a.json = nlohmann::json::parse(a.body, nullptr, false);
  if (a.json.is_discarded()) a.json = nullptr;
  return a;
}

int PortOf(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

HttpAnswer EngineProcess::Send(const std::string& method, const std::string& path,
                               const std::string& body, const std::string& token,
                               const std::string& content_type) {
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  return CallLoopback(port_, method, path, body, headers, content_type);
}

HttpAnswer EngineProcess::Get(const std::string& path, const std::string& token) {
  return Send("GET", path, "", token, "");
}
HttpAnswer EngineProcess::Post(const std::string& path, const std::string& body,
                               const std::string& token, const std::string& content_type) {
  return Send("POST", path, body, token, content_type);
}
HttpAnswer EngineProcess::Delete(const std::string& path, const std::string& token) {
  return Send("DELETE", path, "", token, "");
}

}  // namespace ae::testing
