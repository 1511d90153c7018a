#include "api/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include "api/http_errors.h"
#include "api/request_body.h"
#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"
#include "projections/users_projector.h"

namespace ae::api {

namespace {
std::atomic<uint64_t> g_request_seq{0};

std::string NewRequestId() {
  static const std::string prefix = crypto::Hex(crypto::RandomBytes(6)) + "-";
  return prefix + std::to_string(++g_request_seq);
}

// cpp-httplib listens with a backlog of 5, and its socket hook runs before
// bind. Listening again on the bound socket raises the backlog.
void RaiseListenBacklog(int port, int backlog) {
  for (int fd = 0; fd < 4096; ++fd) {
    int accepting = 0;
    socklen_t len = sizeof accepting;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || !accepting) continue;
    sockaddr_storage addr{};
    socklen_t alen = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) continue;
    int p = addr.ss_family == AF_INET
                ? ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port)
                : addr.ss_family == AF_INET6
                      ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                      : -1;
    if (p == port) ::listen(fd, backlog);
  }
}

void WriteError(httplib::Response& res, const Status& s) {
  res.status = HttpStatusFor(s.code());
  res.set_content(ErrorBody(s).dump(), "application/json");
}
}  // namespace

Result<nlohmann::json> Call::Json() const { return ParseJsonBody(req.body); }

std::string Call::Param(const std::string& name, const std::string& def) const {
  return req.has_param(name) ? req.get_param_value(name) : def;
}

domain::CommandContext Call::Context() const {
  domain::CommandContext ctx;
  if (!who.user_id.empty()) {
    ctx.actor.set_kind(autoenroll::events::v1::Actor::KIND_USER);
    ctx.actor.set_id(who.user_id);
  } else {
    ctx.actor.set_kind(autoenroll::events::v1::Actor::KIND_SYSTEM);
    ctx.actor.set_id("api");
  }
  ctx.correlation_id = request_id;
  return ctx;
}

Server::Server(App& app, ServerOptions options) : app_(app), options_(std::move(options)) {
  enroll_limiter_ =
      std::make_unique<RateLimiter>(options_.enroll_rate_per_s, options_.enroll_burst);
  if (!options_.tls_cert.empty() && !options_.tls_key.empty()) {
    http_ = std::make_unique<httplib::SSLServer>(options_.tls_cert.c_str(),
                                                 options_.tls_key.c_str());
  } else {
    http_ = std::make_unique<httplib::Server>();
  }
  int threads = options_.threads;
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_tcp_nodelay(true);
  http_->set_keep_alive_max_count(options_.keep_alive_max_count);
  http_->set_keep_alive_timeout(options_.keep_alive_timeout_s);
  http_->set_payload_max_length(std::max(options_.max_body_bytes, options_.max_upload_bytes));
  http_->set_read_timeout(30, 0);
  http_->set_write_timeout(30, 0);
  http_->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    // SO_REUSEPORT stays off: a second engine on the same port must fail loudly.
  });
  httplib::Server::HandlerWithResponse on_error = [](const httplib::Request&,
                                                     httplib::Response& res) {
    if (res.body.empty()) {
      res.set_content(ErrorBody(StatusForHttp(res.status)).dump(), "application/json");
    }
    return httplib::Server::HandlerResponse::Handled;
  };
  http_->set_error_handler(on_error);
  http_->set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        std::string id = NewRequestId();
        log::Get("api")->error("request {} {} failed: {} (request id {})", req.method, req.path,
                               what, id);
        WriteError(res, Internal("internal", "internal error (request id " + id + ")"));
      });
}

Server::~Server() { Stop(); }

Result<Principal> Server::Authenticate(const httplib::Request& req) {
  std::string auth = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (auth.size() <= prefix.size() || auth.compare(0, prefix.size(), prefix) != 0) {
    return Unauthenticated("auth.required", "send Authorization: Bearer <token>");
  }
  std::string token = auth.substr(prefix.size());
  std::string hash = crypto::Sha256(token);  // the cache's key, in memory only
  // Read the generation before the lookup: a change committed meanwhile makes
  // the entry stale at once.
  const uint64_t generation = proj::UsersViewGeneration().load(std::memory_order_acquire);
  CachedPrincipal found;
  bool cached = false;
  {
    std::shared_lock lock(principals_mu_);
    auto it = principals_.find(hash);
    if (it != principals_.end() && it->second.generation == generation) {
      found = it->second;
      cached = true;
    }
  }
  if (!cached) {
    AE_ASSIGN_OR_RETURN(found, LookUpPrincipal(token, hash));
    found.generation = generation;
    std::unique_lock lock(principals_mu_);
    if (principals_.size() >= 10'000) principals_.clear();  // bounded
    principals_[hash] = found;
  }
  app_.tokens().Touch(found.token_id, Clock::Real().NowMs());
  return found.principal;
}

Result<Server::CachedPrincipal> Server::LookUpPrincipal(const std::string& token,
                                                        const std::string& hash) {
  const Status invalid = Unauthenticated("auth.invalid_token", "the token is not valid");
  // The token's row in the views, by its id: keyed (issued by this build, or the seed),
  // or SHA-256-derived (issued before keyed hashes).
  const std::string legacy_id = crypto::Hex(hash).substr(0, 16);
  std::string token_id, user_id;
  for (const std::string& id : {app_.tokens().IdFor(token), legacy_id}) {
    AE_ASSIGN_OR_RETURN(auto rec, app_.views().Get("tokens", id));
    if (!rec) continue;
    auto t = nlohmann::json::parse(*rec, nullptr, false);
    if (!t.is_object()) return Internal("internal", "token record unreadable");
    token_id = id;
    user_id = t.value("user_id", "");
    break;
  }
  if (token_id.empty()) {
    // Views of format 2, live while they are rebuilt after an upgrade, key those by SHA-256.
    AE_ASSIGN_OR_RETURN(auto rec, app_.views().Get("tokens", hash));
    auto t = rec ? nlohmann::json::parse(*rec, nullptr, false) : nlohmann::json();
    if (!t.is_object() || t.value("token_id", "") != legacy_id) return invalid;
    token_id = legacy_id;
    user_id = t.value("user_id", "");
  }
  // What proves the token: its verifier in the token store (keyed, constant-time).
  AE_ASSIGN_OR_RETURN(bool matches, app_.tokens().Matches(token_id, user_id, hash));
  if (!matches) return invalid;
  AE_ASSIGN_OR_RETURN(auto user, app_.views().Get("users", user_id));
  if (!user) return invalid;
  auto u = nlohmann::json::parse(*user, nullptr, false);
  if (!u.is_object() || u.value("deleted", false)) return invalid;
  bool listed = false;
  for (const auto& id : u.value("token_ids", nlohmann::json::array())) {
    listed = listed || id == token_id;
  }
  for (const auto& h : u.value("token_hashes", nlohmann::json::array())) {  // format 2
    listed = listed || (token_id == legacy_id && h == crypto::Hex(hash));
  }
  if (!listed) return invalid;
  CachedPrincipal found;
  found.token_id = token_id;
  found.principal.user_id = user_id;
  found.principal.role = domain::users::ParseRole(u.value("role", "")).value_or(
      domain::users::Role::ROLE_UNSPECIFIED);
  return found;
}

Status Server::WaitForViews(const LogPosition& pos) {
  if (!pos.valid()) return Status::Ok();
  if (app_.runner().WaitUntilCovers(pos, std::chrono::milliseconds(0))) return Status::Ok();
  auto started = std::chrono::steady_clock::now();
  bool covered = app_.runner().WaitUntilCovers(pos, options_.min_position_wait);
  app_.metrics().view_waits++;
  app_.metrics().view_wait_micros += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                            started).count());
  if (covered) return Status::Ok();
  return Unavailable("view.lagging", "the views have not reached position " + pos.ToString() +
                                         " yet; retry later");
}

void Server::Route(const std::string& method, const std::string& pattern,
                   const std::string& label, Access access, Handler handler) {
  routes_.push_back({method, label, access});
  auto wrapped = [this, method, label, access, handler](const httplib::Request& req,
                                                        httplib::Response& res) {
    thread_local bool named = false;
    if (!named) {  // once per worker thread: names in top -H, perf and gdb
      named = true;
      pthread_setname_np(pthread_self(), "ae-http");
    }
    auto started = std::chrono::steady_clock::now();
    Call call{req, {}, NewRequestId()};
    Status failed;
    Result<Reply> reply = Internal("internal", "not handled");
    int retry_after_s = 0;
    do {
      if (limited_labels_.count(label) &&
          !enroll_limiter_->Allow(req.remote_addr, Clock::Real().NowMs(), &retry_after_s)) {
        failed = ResourceExhausted("request.rate_limited",
                                   "too many requests from this address; retry in " +
                                       std::to_string(retry_after_s) + " s");
        break;
      }
      if (req.body.size() > options_.max_body_bytes && !large_body_labels_.count(label)) {
        failed = Status(StatusCode::kPayloadTooLarge, "request.too_large",
                        "the request body exceeds the limit of " +
                            std::to_string(options_.max_body_bytes) + " bytes");
        break;
      }
      if (access != Access::kPublic) {
        auto who = Authenticate(req);
        if (!who.ok()) {
          failed = who.status();
          break;
        }
        call.who = *who;
        using R = domain::users::Role;
        R need = access == Access::kAdministrator   ? R::ROLE_ADMINISTRATOR
                 : access == Access::kDeviceManager ? R::ROLE_DEVICE_MANAGER
                                                    : R::ROLE_DEVICE_USER;
        if (!domain::users::RoleAtLeast(call.who.role, need)) {
          failed = PermissionDenied("auth.forbidden", "this needs the role " +
                                                          domain::users::RoleName(need));
          break;
        }
      }
      if (req.has_param("min_position")) {
        auto pos = LogPosition::Parse(req.get_param_value("min_position"));
        if (!pos) {
          failed = InvalidArgument("request.bad_min_position",
                                   "min_position must be a log position like 42 or 1:42",
                                   "min_position");
          break;
        }
        failed = WaitForViews(*pos);
        if (!failed.ok()) break;
      }
      reply = handler(call);
      if (!reply.ok()) failed = reply.status();
    } while (false);
    if (!failed.ok()) {
      WriteError(res, failed);
      if (retry_after_s > 0) res.set_header("Retry-After", std::to_string(retry_after_s));
      if (HttpStatusFor(failed.code()) >= 500) {
        log::Get("api")->warn("{} {} -> {}", req.method, label, failed.ToString());
      }
    } else {
      Reply& r = *reply;
      res.status = r.status;
      if (r.position.valid()) {
        res.set_header("X-Log-Position", r.position.ToString());
        if (r.body.is_object() && !r.body.contains("position")) {
          r.body["position"] = r.position.ToString();
        }
      }
      if (!r.content_type.empty()) {
        res.set_content(r.raw, r.content_type.c_str());
      } else if (r.status != 204) {
        res.set_content(r.body.dump(), "application/json");
      }
    }
    double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    app_.metrics().CountRequest(method, label, res.status, secs);
  };
  if (method == "GET") http_->Get(pattern, wrapped);
  else if (method == "POST") http_->Post(pattern, wrapped);
  else if (method == "PUT") http_->Put(pattern, wrapped);
  else if (method == "PATCH") http_->Patch(pattern, wrapped);
  else if (method == "DELETE") http_->Delete(pattern, wrapped);
}

Result<int> Server::Bind() {
  if (!http_->is_valid()) {
    return InvalidArgument("server.tls", "cannot load the TLS certificate or key");
  }
  int port = options_.port == 0 ? http_->bind_to_any_port(options_.host)
                                : (http_->bind_to_port(options_.host, options_.port)
                                       ? options_.port
                                       : -1);
  if (port < 0) {
    return Unavailable("server.bind", "cannot listen on " + options_.host + ":" +
                                          std::to_string(options_.port) +
                                          " (address in use?)");
  }
  RaiseListenBacklog(port, options_.listen_backlog);
  return port;
}

void Server::Run() { http_->listen_after_bind(); }

void Server::Stop() {
  if (http_ && http_->is_running()) http_->stop();
}

Result<Page> ParsePage(const Call& call) {
  Page p;
  if (call.req.has_param("limit")) {
    std::string l = call.req.get_param_value("limit");
    char* end = nullptr;
    long v = std::strtol(l.c_str(), &end, 10);
    if (l.empty() || *end != '\0' || v < 1 || v > 1000) {
      return InvalidArgument("request.bad_limit", "limit must be between 1 and 1000", "limit");
    }
    p.limit = static_cast<size_t>(v);
  }
  p.cursor = call.Param("cursor");
  return p;
}

nlohmann::json PageJson(nlohmann::json items, const std::optional<std::string>& next) {
  return {{"items", std::move(items)},
          {"next_cursor", next ? nlohmann::json(*next) : nlohmann::json(nullptr)}};
}

}  // namespace ae::api
