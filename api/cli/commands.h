#pragma once
// The autoenroll subcommands. Each is library code called by main.cc, so tests
// can run them in-process. Exit codes: 0 success, 1 failure, 2 usage error.

#include <atomic>
#include <iosfwd>
#include <string>

#include "api/app.h"
#include "api/server.h"

namespace ae::cli {

// Set by SIGINT/SIGTERM; long-running commands stop when it turns true.
std::atomic<bool>& StopRequested();
// Blocks SIGINT/SIGTERM (call it first in main, before any thread starts, so
// every thread inherits the mask) and starts a thread that turns them into
// StopRequested() and calls the hook set by OnStop().
void InstallSignalHandling();
// Sets the hook called once when a stop is requested (immediately if it already was).
void OnStop(std::function<void()> hook);

struct ServeOptions {
  api::AppOptions app;
  api::ServerOptions server;
  std::string listen = "127.0.0.1:8080";
};
int Serve(const ServeOptions& options, std::ostream& out);

struct ReplayOptions {
  api::AppOptions app;
  std::string out_dir;  // empty: rebuild <data_dir>/views in place (server stopped)
};
int Replay(const ReplayOptions& options, std::ostream& out, std::ostream& err);

int AuditVerify(const api::AppOptions& app, std::ostream& out, std::ostream& err);

struct ExportOptions {
  api::AppOptions app;
  std::string after;           // a log position; empty: from the start
  std::string format = "json"; // json (one record per line) | proto (length-delimited Envelopes)
};
int EventsExport(const ExportOptions& options, std::ostream& out, std::ostream& err);

// Runs librdkafka's mock cluster with the engine's topics (events with
// `partitions` partitions, and the person-key topic) until stopped.
int DevKafka(int brokers, int partitions, std::ostream& out, std::ostream& err);

}  // namespace ae::cli
