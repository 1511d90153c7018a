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
// Blocks SIGINT/SIGTERM/SIGHUP (call it first in main, before any thread starts, so
// every thread inherits the mask) and starts a thread that turns the first SIGINT or
// SIGTERM into StopRequested() and calls the hook set by OnStop(), and each SIGHUP into
// log::Reopen() (logrotate moved the log file).
void InstallSignalHandling();
// Sets the hook called once when a stop is requested (immediately if it already was).
void OnStop(std::function<void()> hook);

struct ServeOptions {
  api::AppOptions app;
  api::ServerOptions server;
  std::string listen = "127.0.0.1:8080";
  // The administrator's seed (BootstrapAdmin); empty: AUTOENROLL_ADMIN_TOKEN, if set.
  std::string admin_token;
  // After SIGTERM, requests in flight have this long to finish; then the process exits
  // with status 1 whatever still runs (appends are durable: a restart loses nothing).
  int shutdown_timeout_s = 30;
};
int Serve(const ServeOptions& options, std::ostream& out);

struct ReplayOptions {
  api::AppOptions app;
  std::string out_dir;  // empty: rebuild the live views in place (server stopped)
  std::string until;    // a log position or cursor, or an RFC 3339 time (needs out_dir)
};
int Replay(const ReplayOptions& options, std::ostream& out, std::ostream& err);
// The cursor just after the last record at or before `text` (a position, a cursor
// "p:o,...", or an RFC 3339 time matched against recorded_at).
Result<LogCursor> ResolveUntil(const events::EventLog& log, const std::string& text);

struct DiffOptions {
  api::AppOptions app;
  std::string from, to;  // a log position or an RFC 3339 time
};
// One JSON line per device whose status, profile or user differs between `from` and
// `to`, then a summary line.
int Diff(const DiffOptions& options, std::ostream& out, std::ostream& err);

struct ViewsRebuildOptions {
  std::string url = "http://127.0.0.1:8080";  // the running server
  std::string token;                          // an administrator's token
  bool require_identical = false;
};
// Starts a rebuild on a running server (POST /v1/admin/views/rebuild), prints its progress
// and waits for the swap. Exit 0 when the new views are live.
int ViewsRebuild(const ViewsRebuildOptions& options, std::ostream& out, std::ostream& err);

int AuditVerify(const api::AppOptions& app, std::ostream& out, std::ostream& err);

struct ReconcileCliOptions {
  api::AppOptions app;        // the data dir, opened read-only (a server may run on it)
  std::string url;            // instead: ask the server at this URL (GET /v1/reconciliation)
  std::string token;          // with url: a device manager's token
  int days = 14;              // DEP devices assigned this long ago and never enrolled
  bool json = false;          // one JSON document instead of a line per finding
};
// Prints the reconciliation report (api/reconciliation.h). Exit 1 when it found anything,
// 0 when nothing, 2 on an error (the data dir cannot be read, the server cannot be asked).
int Reconcile(const ReconcileCliOptions& options, std::ostream& out, std::ostream& err);

struct RotateMasterKeyOptions {
  api::AppOptions app;          // data_dir, master_key_file
  std::string new_key_file;     // the new key (32 bytes or 64 hex); empty: a random one
};
// Re-seals the secret store under a new master key and replaces the key file (server
// stopped). Crash-safe: the new key is written to <key file>.new first.
int RotateMasterKey(const RotateMasterKeyOptions& options, std::ostream& out, std::ostream& err);

struct AuditExportOptions {
  api::AppOptions app;
  std::string stream;  // <type>/<id>
  std::string out;     // a file; empty: standard output
};
// Writes the records of one stream with the hash chain from them to the head, in a
// text file whose header holds the procedure that checks it with bash, coreutils and
// openssl only.
int AuditExport(const AuditExportOptions& options, std::ostream& out, std::ostream& err);

struct ExportOptions {
  api::AppOptions app;
  std::string after;           // a log position; empty: from the start
  std::string format = "json"; // json (one record per line) | proto (length-delimited Envelopes)
};
int EventsExport(const ExportOptions& options, std::ostream& out, std::ostream& err);

// Runs librdkafka's mock cluster with the engine's topics (events with
// `partitions` partitions, and the person-key topic) until stopped.
int DevKafka(int brokers, int partitions, std::ostream& out, std::ostream& err);

struct SimAppleDepOptions {
  std::string listen = "127.0.0.1:0";          // Apple's DEP service (loopback; port 0: free port)
  std::string control_listen = "127.0.0.1:0";  // the control API (loopback; port 0: free port)
};
// Runs the Apple DEP simulator until stopped. Prints "listening on <url>" and
// "control on <url>"; the control API (POST /sim/tokens, /sim/devices, ...)
// drives the simulator's test hooks with JSON.
int SimAppleDep(const SimAppleDepOptions& options, std::ostream& out, std::ostream& err);

struct SimAppleDeviceOptions {
  std::string url;             // the engine's public URL; the device posts to <url>/enroll/apple
  std::string serial;          // required
  std::string udid;            // empty: derived from the serial
  std::string model = "iPhone14,2";
  std::string os_version = "17.4";
  std::string device_ca_dir;   // the device CA (created on first use); required
  std::string tls_ca_file;     // https: PEM CA certificates that sign the engine's certificate
  bool await_configured = false;  // TokenUpdate with AwaitingConfiguration
  int max_commands = 100;         // at most this many commands before giving up
};
// Plays one Apple device through enrollment, check-in and the command loop
// against a running engine, one line per step on `out`. 0 when the server has
// no more commands; 1 with the failing step otherwise.
int SimAppleDevice(const SimAppleDeviceOptions& options, std::ostream& out, std::ostream& err);
// Creates (or loads) the device CA in `device_ca_dir` and prints the path of
// its certificate, for `serve --apple-device-ca`.
int SimAppleDeviceCa(const std::string& device_ca_dir, std::ostream& out, std::ostream& err);

struct SimKnoxOptions {
  std::string listen = "127.0.0.1:0";          // the Knox Cloud API + OAuth token endpoint
  std::string control_listen = "127.0.0.1:0";  // the control API (loopback; port 0: free port)
};
// Runs the Samsung Knox Cloud API simulator until stopped. Prints "listening on <url>" and
// "control on <url>"; the control API (POST /sim/credentials, /sim/devices, /sim/faults,
// ...) drives the simulator's test hooks with JSON.
int SimKnox(const SimKnoxOptions& options, std::ostream& out, std::ostream& err);

}  // namespace ae::cli
