#pragma once
// Server: the HTTP front of the engine (cpp-httplib), tuned as PERFORMANCE.md
// says: TCP_NODELAY, a pool sized for the expected connections, bounded
// keep-alive, a real listen backlog, SO_REUSEPORT off so a port clash fails.
//
// Every route goes through Route(): authentication and role check, min_position
// wait for reads, the error mapping of http_errors.h, X-Log-Position for writes,
// and per-route metrics.

#include <httplib.h>

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/app.h"
#include "api/rate_limiter.h"
#include "domain/users/users.h"
#include "events/hash_chain.h"

namespace ae::api {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                          // 0 picks a free port
  std::string public_url;                   // default http://host:port
  size_t max_body_bytes = 10 << 20;         // larger bodies get 413
  size_t max_upload_bytes = 256 << 20;      // the limit of routes that take files (AllowLargeBody)
  int threads = 96;                         // HTTP worker threads
  int keep_alive_max_count = 10000;
  int keep_alive_timeout_s = 5;
  int listen_backlog = 1024;
  std::chrono::milliseconds min_position_wait{5000};
  std::string tls_cert, tls_key;            // HTTPS when both are set
  // Device-facing enrollment routes (RateLimit): requests per second per client address,
  // after a burst. 0 = no limit.
  double enroll_rate_per_s = 5;
  double enroll_burst = 50;
};

struct Principal {
  std::string user_id;
  domain::users::Role role = domain::users::Role::ROLE_UNSPECIFIED;
};

// What a handler sees.
struct Call {
  const httplib::Request& req;
  Principal who;
  std::string request_id;
  // Parses the JSON body; kInvalidArgument "request.bad_json" on failure.
  Result<nlohmann::json> Json() const;
  std::string Param(const std::string& name, const std::string& def = "") const;
  domain::CommandContext Context() const;
};

// What a handler answers.
struct Reply {
  int status = 200;
  nlohmann::json body;
  std::string raw;                          // used instead of `body` when content_type is set
  std::string content_type;
  LogPosition position;                     // set on writes: X-Log-Position
  static Reply Json(int status, nlohmann::json body) { return Reply{status, std::move(body)}; }
};

using Handler = std::function<Result<Reply>(Call&)>;

enum class Access {
  kPublic,            // no token (health, device-facing enrollment)
  kDeviceUser,
  kDeviceManager,
  kAdministrator,
};

class Server {
 public:
  Server(App& app, ServerOptions options);
  ~Server();

  // Registers a route. `pattern` is a cpp-httplib regex; `label` names the
  // route in metrics (e.g. "/v1/users/{username}").
  void Route(const std::string& method, const std::string& pattern, const std::string& label,
             Access access, Handler handler);

  // Lets the route labelled `label` take bodies up to max_upload_bytes (file
  // uploads such as the Knox CSV); every other route keeps max_body_bytes.
  // Call before Run().
  void AllowLargeBody(const std::string& label) { large_body_labels_.insert(label); }
  // Limits the route labelled `label` per client address (enroll_rate_per_s after
  // enroll_burst): beyond it, 429 request.rate_limited with Retry-After. Call before Run().
  void RateLimit(const std::string& label) { limited_labels_.insert(label); }

  // Every registered route, in registration order.
  struct RouteInfo {
    std::string method, label;
    Access access;
  };
  const std::vector<RouteInfo>& routes() const { return routes_; }

  // Binds; returns the bound port or an error (port in use, bad TLS files).
  Result<int> Bind();
  // Serves until Stop(); blocks.
  void Run();
  void Stop();

  App& app() { return app_; }
  const ServerOptions& options() const { return options_; }
  // Sets public_url when none was given (after Bind, when the port is known).
  // Call before Run().
  void DefaultPublicUrl(const std::string& url) {
    if (options_.public_url.empty()) options_.public_url = url;
    while (!options_.public_url.empty() && options_.public_url.back() == '/') {
      options_.public_url.pop_back();
    }
  }

  // Waits until the views cover `pos` (bounded by min_position_wait).
  Status WaitForViews(const LogPosition& pos);

 private:
  // token SHA-256 -> principal, valid while UsersViewGeneration() has not moved.
  struct CachedPrincipal {
    Principal principal;
    std::string token_id;
    uint64_t generation = 0;
  };
  Result<Principal> Authenticate(const httplib::Request& req);
  Result<CachedPrincipal> LookUpPrincipal(const std::string& token, const std::string& hash);
  App& app_;
  std::set<std::string> large_body_labels_;  // written before Run() only
  std::set<std::string> limited_labels_;     // written before Run() only
  std::vector<RouteInfo> routes_;            // written before Run() only
  std::unique_ptr<RateLimiter> enroll_limiter_;
  std::shared_mutex principals_mu_;
  std::unordered_map<std::string, CachedPrincipal> principals_;  // guarded by principals_mu_
  ServerOptions options_;
  std::unique_ptr<httplib::Server> http_;
};

// Route groups (api/routes_*.cc).
void AddOpsRoutes(Server& server);
void AddUserRoutes(Server& server);
void AddEventRoutes(Server& server);
void AddDepRoutes(Server& server);
void AddDeviceRoutes(Server& server);
void AddAppleEnrollRoutes(Server& server);
void AddKmeRoutes(Server& server);      // and AddKmeKnoxRoutes
void AddKmeKnoxRoutes(Server& server);  // the Knox Cloud API connection and sync
void AddAdminRoutes(Server& server);    // /v1/admin/views/rebuild, /v1/admin/routes

// {ok, records, head_hash, head_hashes, broken_at?, problem?}
nlohmann::json ChainReportJson(const events::ChainReport& report);

// Small helpers for handlers.
struct Page {
  size_t limit = 100;
  std::string cursor;
};
Result<Page> ParsePage(const Call& call);
nlohmann::json PageJson(nlohmann::json items, const std::optional<std::string>& next);

}  // namespace ae::api
