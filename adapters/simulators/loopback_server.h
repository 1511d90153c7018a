#pragma once
// LoopbackServer: what the vendor simulators (AppleDepSimulator, KnoxSimulator) share. A
// cpp-httplib server on 127.0.0.1 (port 0 picks a free port) with its own accept thread,
// started by the simulator once its state is ready and stopped before that state dies; the
// log of every request (with its arrival time on the injected clock); injected failures (the
// next N requests to a path answer a given status, Retry-After and body) and held-back
// answers (a client read timeout); JSON answers.
//
// A simulator derives from it, answers requests in DispatchLocked() (called with mu_ held:
// the simulator keeps its own state behind the same mutex), may shape injected failures in
// FaultReplyLocked(), calls Start() at the end of its constructor and Stop() first in its
// destructor.
//
// Thread-safety: thread-safe. HTTP handlers run on the server's pool; all state sits behind
// mu_.

#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "events/base/clock.h"

namespace ae::sim {

// One request as a simulator saw it.
struct RecordedRequest {
  std::string method;
  std::string path;  // without the query string
  httplib::Params params;
  httplib::Headers headers;
  std::string body;
  int status = 0;        // what the simulator answered
  int64_t time_ms = 0;   // when it arrived (the simulator's clock)
};

struct LoopbackServerOptions {
  std::string log_name;                // logger of bind failures ("sim.apple")
  const Clock* clock = nullptr;        // default Clock::Real(); must outlive the server
  int threads = 4;                     // HTTP worker threads (at least 1)
  int port = 0;                        // port to bind on 127.0.0.1; 0 picks a free one
  size_t payload_max_length = 16u << 20;  // larger request bodies are refused by cpp-httplib
  std::string content_type = "application/json";  // of every answer
  std::string exception_body;          // the 500 answer's body when a handler throws
};

class LoopbackServer {
 public:
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  int port() const { return port_; }
  std::string base_url() const;  // "http://127.0.0.1:<port>"

  // ---- faults ---------------------------------------------------------------
  // The next `count` requests to `path` ("" = any path) answer `status` with
  // `retry_after` (omitted when "") and `body` (as the simulator shapes it).
  void InjectFailure(std::string path, int count, int status, std::string retry_after = "",
                     std::string body = "");
  // Clears injected failures and held-back answers.
  void ClearFailures();
  // The next `count` requests to `path` ("" = any path) are handled as usual
  // (their effect applies), but their answer is held back `delay_ms` before it
  // is sent: a client with a shorter read timeout loses the answer. Cleared by
  // ClearFailures(); stopping releases held answers at once.
  void DelayAnswers(std::string path, int count, int64_t delay_ms);

  // ---- inspection -----------------------------------------------------------
  std::vector<RecordedRequest> Requests() const;  // copy, in arrival order
  size_t CountRequests(std::string_view method, std::string_view path) const;
  void ClearRequests();

 protected:
  struct Reply {
    int status = 200;
    std::string body;
    httplib::Headers headers;
  };
  struct Fault {
    std::string path;
    int remaining;
    int status;
    std::string retry_after;
    std::string body;
  };

  // Binds 127.0.0.1 on options.port (a free port when 0). When a chosen port cannot be
  // bound, the server will not start and port() is 0; with port 0 a bind failure aborts.
  explicit LoopbackServer(LoopbackServerOptions options);
  virtual ~LoopbackServer();  // Stop()

  // Serves on the bound port and returns once the server accepts (nothing when unbound).
  void Start();
  // Stops the server and joins its thread; held answers are released at once. Idempotent.
  void Stop();

  // The answer to a request that no injected failure took. Called with mu_ held.
  virtual Reply DispatchLocked(const httplib::Request& req) = 0;
  // The answer of an injected failure: by default its status, body and Retry-After as given.
  // Called with mu_ held.
  virtual Reply FaultReplyLocked(const Fault& fault) const;

  static Reply Json(const nlohmann::json& j);

  const Clock& clock_;
  mutable std::mutex mu_;  // guards this class's state and the simulator's

 private:
  struct Delay {
    std::string path;
    int remaining;
    int64_t delay_ms;
  };

  void Handle(const httplib::Request& req, httplib::Response& res);

  const LoopbackServerOptions options_;
  std::vector<Fault> faults_;              // guarded by mu_
  std::vector<Delay> delays_;              // guarded by mu_
  std::vector<RecordedRequest> requests_;  // guarded by mu_
  bool stopping_ = false;                  // guarded by mu_
  std::condition_variable stop_cv_;        // wakes held answers when stopping_

  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace ae::sim
