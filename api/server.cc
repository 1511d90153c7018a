#include "api/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <optional>

#include "api/http_errors.h"
#include "api/request_body.h"
#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "events/base/log_output.h"
#include "events/base/logging.h"

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
  device_limiter_ =
      std::make_unique<RateLimiter>(options_.enroll_rate_per_s, options_.enroll_burst);
}

Server::~Server() { Stop(); }

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

namespace {

Status TooLarge(size_t limit) {
  return Status(StatusCode::kPayloadTooLarge, "request.too_large",
                "the request body exceeds the limit of " + std::to_string(limit) + " bytes");
}

// Whether the request announces a body (RFC 9112 6.3: without Content-Length or
// Transfer-Encoding, a request has none).
bool HasBody(const httplib::Request& req) {
  return req.has_header("Transfer-Encoding") ||
         (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
}

std::optional<uint64_t> ContentLength(const httplib::Request& req) {
  const std::string v = req.get_header_value("Content-Length");
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return n;
}

// The body, read through `reader` and counted as it arrives (decompressed, when it came
// compressed): 413 once it passes `limit`, before more is read or kept.
Result<std::string> ReadBody(const httplib::Request& req, const httplib::ContentReader& reader,
                             size_t limit) {
  if (!HasBody(req)) {
    MarkRequestComplete();
    return std::string();
  }
  if (!req.has_header("Transfer-Encoding")) {
    auto declared = ContentLength(req);
    if (!declared) {
      return InvalidArgument("request.bad_content_length",
                             "Content-Length must be a number of bytes", "Content-Length");
    }
    if (*declared > limit) return TooLarge(limit);
  }
  std::string body;
  bool over = false;
  bool read = reader([&](const char* data, size_t n) {
    if (body.size() + n > limit) {
      over = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  if (over) return TooLarge(limit);
  if (!read) {
    return InvalidArgument("request.bad_body",
                           "the request body could not be read: cut short, too slow, or "
                           "malformed");
  }
  MarkRequestComplete();
  return body;
}

// A refused request's body is skipped when it is here already (it fitted the connection's
// buffer), so the connection can carry the next request.
void SkipBufferedBody(const httplib::Request& req, const httplib::ContentReader& reader) {
  if (req.has_header("Transfer-Encoding")) return;
  auto declared = ContentLength(req);
  if (!declared || *declared > BufferedRequestBytes()) return;
  if (reader([](const char*, size_t) { return true; })) MarkRequestComplete();
}

}  // namespace

void Server::Route(const std::string& method, const std::string& pattern,
                   const std::string& label, Access access, Handler handler) {
  routes_.push_back({method, label, access});
  entries_.push_back({method, pattern, label, access, std::move(handler)});
}

void Server::Serve(const RouteEntry& route, const httplib::Request& req, httplib::Response& res,
                   const httplib::ContentReader* reader) {
  thread_local bool named = false;
  if (!named) {  // once per worker thread: names in top -H, perf and gdb
    named = true;
    pthread_setname_np(pthread_self(), "ae-http");
  }
  auto started = std::chrono::steady_clock::now();
  std::string request_id = NewRequestId();
  log::RequestScope log_scope(request_id);  // JSON log lines name the request
  Principal who;
  Status failed;
  Result<Reply> reply = Internal("internal", "not handled");
  int retry_after_s = 0;
  bool body_read = false;
  std::optional<httplib::Request> with_body;  // the request with its body, when it has one
  do {
    // Nothing of the body is read before the caller has passed these.
    failed = Admit(route, req, who, &retry_after_s);
    if (!failed.ok()) break;
    const httplib::Request* r = &req;
    if (reader != nullptr) {
      const size_t limit = large_body_labels_.count(route.label) ? options_.max_upload_bytes
                                                                 : options_.max_body_bytes;
      auto body = ReadBody(req, *reader, limit);
      body_read = true;
      if (!body.ok()) {
        failed = body.status();
        break;
      }
      // The copy's path matches still point into `req`, which outlives this call.
      with_body.emplace(req);
      with_body->body = std::move(*body);
      r = &*with_body;
    } else if (!HasBody(req)) {
      MarkRequestComplete();  // a GET with a body leaves it unread: the connection closes
    }
    // Public routes ignore min_position: an anonymous caller cannot make a worker wait.
    if (route.access != Access::kPublic) {
      failed = WaitForMinPosition(*r, who, &retry_after_s);
      if (!failed.ok()) break;
    }
    Call call{*r, who, request_id};
    reply = route.handler(call);
    if (!reply.ok()) failed = reply.status();
  } while (false);
  if (reader != nullptr && !body_read) SkipBufferedBody(req, *reader);
  if (!failed.ok()) {
    WriteError(res, failed);
    if (retry_after_s > 0) res.set_header("Retry-After", std::to_string(retry_after_s));
    if (HttpStatusFor(failed.code()) >= 500) {
      log::Get("api")->warn("{} {} -> {}", req.method, route.label, failed.ToString());
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
  app_.metrics().CountRequest(route.method, route.label, res.status, secs);
}

Result<int> Server::Bind() {
  if (options_.tls_cert.empty() != options_.tls_key.empty()) {
    return InvalidArgument("server.tls_incomplete",
                           "HTTPS needs both --tls-cert and --tls-key; refusing to start with "
                           "half a TLS configuration",
                           options_.tls_cert.empty() ? "tls_cert" : "tls_key");
  }
  std::shared_ptr<SSL_CTX> tls;
  if (!options_.tls_cert.empty()) {
    AE_ASSIGN_OR_RETURN(tls, MakeServerTlsContext(options_.tls_cert, options_.tls_key));
  }
  AE_ASSIGN_OR_RETURN(trusted_proxies_, Networks::Parse(options_.trusted_proxies));
  ConnectionOptions co;
  co.threads = options_.threads;
  co.head_timeout = std::chrono::seconds(options_.head_timeout_s);
  co.idle_timeout = std::chrono::seconds(options_.keep_alive_timeout_s);
  co.read_timeout = co.write_timeout = std::chrono::seconds(options_.read_timeout_s);
  co.min_body_rate = options_.min_body_bytes_per_s;
  co.max_waiting_per_client = options_.max_waiting_connections_per_client;
  co.keep_alive_max_count = static_cast<size_t>(std::max(1, options_.keep_alive_max_count));
  co.trusted_proxies = trusted_proxies_;
  http_ = std::make_unique<GatedHttpServer>(std::move(co), std::move(tls), &app_.metrics());
  http_->set_tcp_nodelay(true);
  // Every body is read by Serve() against its route's limit; cpp-httplib's own check
  // must let the largest of them through.
  http_->set_payload_max_length(std::max(options_.max_body_bytes, options_.max_upload_bytes));
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
  // cpp-httplib reads the body of a request no route takes (or reads until the client
  // closes, when it has no length) before answering 404: such a request is answered
  // at once, its body unread, and its connection closed.
  http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    using R = httplib::Server::HandlerResponse;
    if (req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS") {
      return R::Unhandled;
    }
    for (const auto& [method, re] : body_patterns_) {
      if (method == req.method && std::regex_match(req.path, re)) return R::Unhandled;
    }
    WriteError(res, StatusForHttp(404));
    return R::Handled;
  });
  for (size_t i = 0; i < entries_.size(); ++i) {
    const RouteEntry& e = entries_[i];
    if (e.method == "GET") {
      http_->Get(e.pattern, [this, i](const httplib::Request& req, httplib::Response& res) {
        Serve(entries_[i], req, res, nullptr);
      });
      continue;
    }
    body_patterns_.emplace_back(e.method, std::regex(e.pattern));
    httplib::Server::HandlerWithContentReader h =
        [this, i](const httplib::Request& req, httplib::Response& res,
                  const httplib::ContentReader& reader) { Serve(entries_[i], req, res, &reader); };
    if (e.method == "POST") http_->Post(e.pattern, h);
    else if (e.method == "PUT") http_->Put(e.pattern, h);
    else if (e.method == "PATCH") http_->Patch(e.pattern, h);
    else if (e.method == "DELETE") http_->Delete(e.pattern, h);
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

void Server::Run() {
  if (http_) http_->Serve();
}

void Server::Stop() {
  if (http_ && http_->is_running()) http_->stop();
}

bool Server::Running() const { return http_ && http_->is_running(); }

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
