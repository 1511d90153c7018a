#include <csignal>
#include <mutex>
#include <cstdlib>
#include <iostream>
#include <pthread.h>
#include <thread>

#include "api/cli/commands.h"
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
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  std::thread([set] {
    int sig = 0;
    sigwait(&set, &sig);
    std::lock_guard lock(HookMu());
    StopRequested().store(true);
    if (Hook()) Hook()();
  }).detach();
}

void OnStop(std::function<void()> hook) {
  std::lock_guard lock(HookMu());
  Hook() = std::move(hook);
  if (StopRequested().load() && Hook()) Hook()();
}

int Serve(const ServeOptions& o, std::ostream& out) {
  auto logger = log::Get("api");
  ServeOptions options = o;
  auto colon = options.listen.rfind(':');
  if (colon == std::string::npos) {
    logger->error("--listen must be HOST:PORT, got '{}'", options.listen);
    return 2;
  }
  options.server.host = options.listen.substr(0, colon);
  options.server.port = std::atoi(options.listen.substr(colon + 1).c_str());

  auto app = api::App::Open(options.app);
  if (!app.ok()) {
    logger->error("cannot start: {}", app.status().ToString());
    return 1;
  }
  const char* seed = std::getenv("AUTOENROLL_ADMIN_TOKEN");
  if (options.app.kafka_brokers.empty() || options.app.kafka_writer) {
    Status boot = (*app)->BootstrapAdmin(seed ? seed : "");
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
  api::AddEventRoutes(server);
  api::AddDepRoutes(server);
  api::AddDeviceRoutes(server);
  api::AddAppleEnrollRoutes(server);
  api::AddKmeRoutes(server);
  api::AddAdminRoutes(server);  // last: its route list includes every route
  server.RateLimit("/enroll/apple");
  server.RateLimit("/enroll/android");
  auto port = server.Bind();
  if (!port.ok()) {
    logger->error("{}", port.status().ToString());
    return 1;
  }
  std::string scheme = options.server.tls_cert.empty() ? "http" : "https";
  server.DefaultPublicUrl(scheme + "://" + options.server.host + ":" + std::to_string(*port));
  out << "listening on " << scheme << "://" << options.server.host << ":" << *port << std::endl;
  logger->info("autoenroll serving on {}://{}:{} (log: {}, data dir: {})", scheme,
               options.server.host, *port, (*app)->log().Kind(), options.app.data_dir);
  OnStop([&server] { server.Stop(); });
  if (!StopRequested().load()) server.Run();
  OnStop(nullptr);
  logger->info("stopping");
  (*app)->Stop();
  return 0;
}

}  // namespace ae::cli
