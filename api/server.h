#pragma once
// Server: the HTTP front of the engine (cpp-httplib), tuned as PERFORMANCE.md
// says: TCP_NODELAY, a pool sized for the expected connections, bounded
// keep-alive, a real listen backlog, SO_REUSEPORT off so a port clash fails.
// Connections wait for their request head off the worker pool, in the gate of
// http_connections.h, which also does TLS.
//
// Every route goes through Route(): rate limit, authentication and role check
// (all before a byte of the body is read), the body read against the route's
// limit, min_position wait for reads, the error mapping of http_errors.h,
// X-Log-Position for writes, and per-route metrics.

#include <httplib.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/app.h"
#include "api/http_connections.h"
#include "api/rate_limiter.h"
#include "domain/users/users.h"
#include "events/hash_chain.h"

namespace ae::api {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                          // 0 picks a free port
  std::string public_url;                   // default http://host:port
  size_t max_body_bytes = 10 << 20;         // larger bodies get 413 (every JSON route)
  size_t max_upload_bytes = 256 << 20;      // the limit of routes that take files (AllowLargeBody)
  int threads = 96;                         // HTTP worker threads
  int keep_alive_max_count = 10000;
  int keep_alive_timeout_s = 5;             // an idle kept-alive connection is closed after it
  int listen_backlog = 1024;
  // Slow clients (http_connections.h): a request head (and a body up to 64 KiB) must
  // arrive whole within head_timeout_s; a larger body is read with read_timeout_s per
  // receive and at least min_body_bytes_per_s on average; answers are sent with
  // read_timeout_s per send.
  int head_timeout_s = 10;
  int read_timeout_s = 5;
  size_t min_body_bytes_per_s = 16 << 10;
  size_t max_waiting_connections_per_client = 256;  // connections waiting for a head
  std::chrono::milliseconds min_position_wait{5000};
  int max_view_waits_per_client = 8;        // concurrent min_position waits per user
  std::string tls_cert, tls_key;            // HTTPS when both are set; one alone is refused
  // Reverse proxies whose X-Forwarded-For is believed (CIDR); the client is the rightmost
  // hop that is not one of them.
  std::vector<std::string> trusted_proxies;
  bool public_metrics = false;              // /metrics without a token
  // Device-facing enrollment routes (RateLimit): requests per second per client address
  // (IPv6: per /64), or per device identity (RateLimitPerDevice), after a burst.
  // 0 = no limit.
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
  // uploads such as the Knox CSV); every other route keeps max_body_bytes. Every
  // body is counted as it arrives and refused (413) at the route's limit, before
  // it is buffered whole. Call before Bind().
  void AllowLargeBody(const std::string& label) { large_body_labels_.insert(label); }
  // Limits the route labelled `label` per client address (enroll_rate_per_s after
  // enroll_burst): beyond it, 429 request.rate_limited with Retry-After. Call before Run().
  void RateLimit(const std::string& label) { limited_labels_[label] = LimitBy::kClient; }
  // As RateLimit, per device identity: the certificate that signed the request's
  // Mdm-Signature (per client address when there is none). Call before Run().
  void RateLimitPerDevice(const std::string& label) { limited_labels_[label] = LimitBy::kDevice; }

  // Every registered route, in registration order.
  struct RouteInfo {
    std::string method, label;
    Access access;
  };
  const std::vector<RouteInfo>& routes() const { return routes_; }

  // Registers the routes and binds; returns the bound port or an error (port in
  // use, bad or half a TLS configuration, a bad trusted proxy).
  Result<int> Bind();
  // Serves until Stop(); blocks.
  void Run();
  // Ends Run() (its requests in flight finish first). A no-op until Run()'s accept loop
  // runs (Running()): cpp-httplib 0.11.4 ignores a stop before it.
  void Stop();
  bool Running() const;

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

  // The rate-limit source of a request: its client address (behind trusted
  // proxies, from X-Forwarded-For), an IPv6 address as its /64.
  std::string ClientSource(const httplib::Request& req) const;

 private:
  enum class LimitBy { kClient, kDevice };
  struct RouteEntry {
    std::string method, pattern, label;
    Access access;
    Handler handler;
  };
  // token SHA-256 (in memory only) -> principal, valid while UsersViewGeneration() has not moved.
  struct CachedPrincipal {
    Principal principal;
    std::string token_id;
    uint64_t generation = 0;
  };
  Result<Principal> Authenticate(const httplib::Request& req);
  Result<CachedPrincipal> LookUpPrincipal(const std::string& token, const std::string& hash);
  // Serves one request of `route`; `reader` reads its body (routes that take one).
  void Serve(const RouteEntry& route, const httplib::Request& req, httplib::Response& res,
             const httplib::ContentReader* reader);
  // The checks made before a body is read: rate limit, token, role.
  Status Admit(const RouteEntry& route, const httplib::Request& req, Principal& who,
               int* retry_after_s);
  // Waits for min_position, at most max_view_waits_per_client at once per user.
  Status WaitForMinPosition(const httplib::Request& req, const Principal& who,
                            int* retry_after_s);
  App& app_;
  std::set<std::string> large_body_labels_;  // written before Run() only
  std::map<std::string, LimitBy> limited_labels_;  // written before Run() only
  std::vector<RouteInfo> routes_;            // written before Run() only
  std::vector<RouteEntry> entries_;          // written before Bind() only
  std::vector<std::pair<std::string, std::regex>> body_patterns_;  // method, path: set in Bind()
  Networks trusted_proxies_;                 // set in Bind()
  std::unique_ptr<RateLimiter> enroll_limiter_;
  std::unique_ptr<RateLimiter> device_limiter_;
  std::mutex waits_mu_;
  std::unordered_map<std::string, int> waits_;  // user id -> min_position waits; guarded by waits_mu_
  std::shared_mutex principals_mu_;
  std::unordered_map<std::string, CachedPrincipal> principals_;  // guarded by principals_mu_
  ServerOptions options_;
  std::unique_ptr<GatedHttpServer> http_;    // made in Bind()
};

// Route groups (api/routes_*.cc).
void AddOpsRoutes(Server& server);
void AddUserRoutes(Server& server);
void AddPolicyRoutes(Server& server);  // policies, rule sets, the profile-signing certificate
void AddEventRoutes(Server& server);
void AddDepRoutes(Server& server);
void AddDeviceRoutes(Server& server);
void AddAppleEnrollRoutes(Server& server);
void AddKmeRoutes(Server& server);      // and AddAndroidEnrollRoutes, AddKmeKnoxRoutes
void AddKmeKnoxRoutes(Server& server);  // the Knox Cloud API connection and sync
void AddAndroidEnrollRoutes(Server& server);  // /enroll/android*
void AddAdminRoutes(Server& server);    // /v1/admin/views/rebuild, /v1/admin/routes
void AddBackupRoutes(Server& server);   // /v1/admin/backups (called by AddAdminRoutes)
void AddEnrollmentRoutes(Server& server);     // GET /v1/enrollments (the Auto Enrollments list)
void AddReconciliationRoutes(Server& server); // GET /v1/reconciliation
void AddRuleRoutes(Server& server);     // /v1/rules, /v1/rules/dry-run
void AddAssignRoutes(Server& server);   // /v1/enrollments/assign, /v1/jobs/{id}

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
