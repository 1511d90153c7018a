#include <condition_variable>
#include <csignal>
#include <mutex>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <pthread.h>
#include <sys/stat.h>
#include <thread>

#include "api/cli/commands.h"
#include "api/rate_limiter.h"
#include "events/base/log_output.h"
#include "events/base/logging.h"

namespace ae::cli {

std::atomic<bool>& StopRequested() {
  static std::atomic<bool> stop{false};
  return stop;
}

namespace {
std::mutex& HookMu() {
  static std::mutex mu;
  return mu;
}
std::function<void()>& Hook() {
  static std::function<void()> hook;
  return hook;
}
}  // namespace

void InstallSignalHandling() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  std::thread([set] {
    pthread_setname_np(pthread_self(), "ae-signals");
    while (true) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGHUP) {
        Status reopened = log::Reopen();
        if (!reopened.ok()) {
          log::Get("api")->error("SIGHUP: {}", reopened.ToString());
        } else {
          log::Get("api")->info("SIGHUP: log file reopened");
        }
        continue;
      }
      std::lock_guard lock(HookMu());
      if (StopRequested().exchange(true)) continue;  // already stopping
      if (Hook()) Hook()();
    }
  }).detach();
}

void OnStop(std::function<void()> hook) {
  std::lock_guard lock(HookMu());
  Hook() = std::move(hook);
  if (StopRequested().load() && Hook()) Hook()();
}

namespace {

namespace fs = std::filesystem;

// The entries under `root` (itself included) that group or others may read, write or
// enter, as "path (mode 0755)"; at most `max` named, all counted in *count.
std::vector<std::string> OpenToOthers(const fs::path& root, size_t max, size_t* count) {
  std::vector<std::string> named;
  *count = 0;
  auto check = [&](const fs::path& p) {
    struct stat st{};
    if (::lstat(p.c_str(), &st) != 0 || S_ISLNK(st.st_mode) || (st.st_mode & 077) == 0) return;
    ++*count;
    if (named.size() < max) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
      named.push_back(p.string() + " (mode " + mode + ")");
    }
  };
  std::error_code ec;
  if (!fs::exists(root, ec)) return named;
  check(root);
  if (!fs::is_directory(root, ec)) return named;
  for (fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied,
                                           ec), end;
       !ec && it != end; it.increment(ec)) {
    check(it->path());
  }
  return named;
}

// Everything the engine creates is created private (main() sets umask 077); what an earlier
// run or an operator left open to other local users is named at start.
void WarnAboutOpenDataFiles(const api::AppOptions& app) {
  std::vector<fs::path> roots = {app.data_dir};
  if (!app.master_key_file.empty()) roots.emplace_back(app.master_key_file);
  for (const auto& root : roots) {
    size_t count = 0;
    auto named = OpenToOthers(root, 3, &count);
    if (count == 0) continue;
    std::string list;
    for (const auto& n : named) list += (list.empty() ? "" : ", ") + n;
    log::Get("api")->warn(
        "{} entries of {} are open to other local users (serial numbers, IMEIs, token hashes, "
        "sealed secrets): {}{}; make them private with: chmod -R go= {}",
        count, root.string(), list, count > named.size() ? ", ..." : "", root.string());
  }
}

// Devices get the public URL: over plain HTTP beyond loopback, enrollment tokens and
// MachineInfo travel in clear.
void WarnAboutPlainPublicUrl(const std::string& url) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0) return;
  std::string host = url.substr(scheme.size());
  host = host.substr(0, host.find('/'));
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (host.find(':') != std::string::npos) {
    host = host.substr(0, host.rfind(':'));
  }
  auto ip = api::IpAddress::Parse(host);
  if (host == "localhost" || (ip && ip->IsLoopback())) return;
  log::Get("api")->error(
      "THE PUBLIC URL {} IS PLAIN HTTP: devices would send their enrollment token and "
      "MachineInfo in clear, and /v1/kme/settings gives Knox no certificate fingerprint. Serve "
      "HTTPS (--tls-cert and --tls-key), or put a TLS proxy in front and give --public-url "
      "https://...",
      url);
}

// Set once serve has stopped; the shutdown watchdog waits for it.
class StopWatch {
 public:
  void Done() {
    std::lock_guard lock(mu_);
    done_ = true;
    cv_.notify_all();
  }
  bool WaitFor(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return done_; });
  }
  // Runs `fn` unless Done() was called (what it touches lives until then).
  template <typename F>
  void UnlessDone(F fn) {
    std::lock_guard lock(mu_);
    if (!done_) fn();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

}  // namespace

int Serve(const ServeOptions& o, std::ostream& out) {
  auto logger = log::Get("api");
  ServeOptions options = o;
  auto colon = options.listen.rfind(':');
  if (colon == std::string::npos) {
    logger->error("--listen must be HOST:PORT, got '{}'", options.listen);
    return 2;
  }
  if (options.server.tls_cert.empty() != options.server.tls_key.empty()) {
    logger->error("--tls-cert and --tls-key go together: give both to serve HTTPS (refusing "
                  "to serve plain HTTP with half a TLS configuration)");
    return 2;
  }
  options.server.host = options.listen.substr(0, colon);
  options.server.port = std::atoi(options.listen.substr(colon + 1).c_str());

  auto app = api::App::Open(options.app);
  if (!app.ok()) {
    logger->error("cannot start: {}", app.status().ToString());
    return 1;
  }
  WarnAboutOpenDataFiles(options.app);
  std::string seed = options.admin_token;
  if (seed.empty()) {
    if (const char* env = std::getenv("AUTOENROLL_ADMIN_TOKEN")) seed = env;
  }
  if (options.app.kafka_brokers.empty() || options.app.kafka_writer) {
    Status boot = (*app)->BootstrapAdmin(seed);
    if (!boot.ok()) {
      logger->error("cannot bootstrap the administrator: {}", boot.ToString());
      return 1;
    }
  }
  Status started = (*app)->Start();
  if (!started.ok()) {
    logger->error("cannot start: {}", started.ToString());
    return 1;
  }
  api::Server server(**app, options.server);
  api::AddOpsRoutes(server);
  api::AddUserRoutes(server);
  api::AddPolicyRoutes(server);
  api::AddEventRoutes(server);
  api::AddDepRoutes(server);
  api::AddDeviceRoutes(server);
  api::AddAppleEnrollRoutes(server);
  api::AddKmeRoutes(server);
  api::AddEnrollmentRoutes(server);
  api::AddReconciliationRoutes(server);
  api::AddRuleRoutes(server);
  api::AddAssignRoutes(server);
  api::AddAdminRoutes(server);  // last: its route list includes every route
  server.RateLimit("/enroll/apple");
  server.RateLimit("/enroll/android");
  server.RateLimit("/enroll/android/policy");
  server.RateLimit("/enroll/android/policy/ack");
  server.RateLimitPerDevice("/mdm/apple/checkin");
  server.RateLimitPerDevice("/mdm/apple/server");
  auto port = server.Bind();
  if (!port.ok()) {
    logger->error("{}", port.status().ToString());
    return 1;
  }
  std::string scheme = options.server.tls_cert.empty() ? "http" : "https";
  server.DefaultPublicUrl(scheme + "://" + options.server.host + ":" + std::to_string(*port));
  WarnAboutPlainPublicUrl(server.options().public_url);
  out << "listening on " << scheme << "://" << options.server.host << ":" << *port << std::endl;
  logger->info("autoenroll serving on {}://{}:{} (log: {}, data dir: {})", scheme,
               options.server.host, *port, (*app)->log().Kind(), options.app.data_dir);
  // SIGTERM: no new connection is accepted, requests in flight finish (Run() returns once
  // the workers are idle), then the parts stop in reverse order. A watchdog bounds it all.
  auto stopped = std::make_shared<StopWatch>();
  const int timeout_s = options.shutdown_timeout_s;
  OnStop([&server, stopped, timeout_s, logger] {
    logger->info("stopping: requests in flight have {} s to finish (--shutdown-timeout)",
                 timeout_s);
    std::thread([&server, stopped, timeout_s, logger] {
      // cpp-httplib ignores a stop() that comes before its accept loop runs (a signal
      // right after the "listening on" line): stop once it runs.
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
      bool asked = false;
      do {
        stopped->UnlessDone([&server, &asked, logger] {
          if (!asked && server.Running()) {
            server.Stop();  // closes the listening socket before it returns
            asked = true;
            logger->info("stopping: no new connections");
          }
        });
        if (stopped->WaitFor(std::chrono::milliseconds(asked ? 1000 : 10))) return;
      } while (std::chrono::steady_clock::now() < deadline);
      logger->error("still stopping after --shutdown-timeout ({} s): exiting with requests "
                    "in flight (appends are durable; their clients see the connection close)",
                    timeout_s);
      logger->flush();
      std::_Exit(1);
    }).detach();
  });
  if (!StopRequested().load()) server.Run();
  OnStop(nullptr);
  logger->info("stopping: requests drained");
  (*app)->Stop();
  stopped->Done();
  logger->info("stopped");
  return 0;
}

}  // namespace ae::cli
