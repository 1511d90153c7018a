#include "adapters/simulators/loopback_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "events/base/logging.h"

namespace ae::sim {

LoopbackServer::LoopbackServer(LoopbackServerOptions options)
    : clock_(options.clock ? *options.clock : Clock::Real()),
      options_(std::move(options)),
      http_(std::make_unique<httplib::Server>()) {
  const int threads = std::max(1, options_.threads);
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_tcp_nodelay(true);
  http_->set_keep_alive_max_count(1000);
  http_->set_keep_alive_timeout(5);
  http_->set_payload_max_length(options_.payload_max_length);
  http_->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);  // no SO_REUSEPORT
  });
  auto handler = [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); };
  http_->Get(".*", handler);
  http_->Post(".*", handler);
  http_->Put(".*", handler);
  http_->Delete(".*", handler);
  http_->Patch(".*", handler);
  http_->set_exception_handler([body = options_.exception_body, type = options_.content_type](
                                   const httplib::Request&, httplib::Response& res,
                                   std::exception_ptr) {
    res.status = 500;
    res.set_content(body, type);
  });
  if (options_.port != 0) {
    if (options_.port < 0 || options_.port > 65535 ||
        !http_->bind_to_port("127.0.0.1", options_.port)) {
      log::Get(options_.log_name)->error("cannot bind 127.0.0.1:{}", options_.port);
      port_ = 0;
      return;
    }
    port_ = options_.port;
  } else {
    port_ = http_->bind_to_any_port("127.0.0.1");
  }
  if (port_ <= 0) {
    log::Get(options_.log_name)->error("cannot bind 127.0.0.1");
    std::abort();
  }
}

LoopbackServer::~LoopbackServer() { Stop(); }

void LoopbackServer::Start() {
  if (port_ <= 0 || thread_.joinable()) return;
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  // cpp-httplib 0.11.4 has no wait_until_ready(); stop() is a no-op until the
  // accept loop runs, so wait for it before anyone can call Stop().
  while (!http_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void LoopbackServer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  http_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string LoopbackServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

// ---- faults and inspection -----------------------------------------------------

void LoopbackServer::InjectFailure(std::string path, int count, int status,
                                   std::string retry_after, std::string body) {
  std::lock_guard lock(mu_);
  faults_.push_back(Fault{std::move(path), count, status, std::move(retry_after), std::move(body)});
}

void LoopbackServer::ClearFailures() {
  std::lock_guard lock(mu_);
  faults_.clear();
  delays_.clear();
}

void LoopbackServer::DelayAnswers(std::string path, int count, int64_t delay_ms) {
  std::lock_guard lock(mu_);
  delays_.push_back(Delay{std::move(path), count, delay_ms});
}

std::vector<RecordedRequest> LoopbackServer::Requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

size_t LoopbackServer::CountRequests(std::string_view method, std::string_view path) const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(std::count_if(requests_.begin(), requests_.end(), [&](const auto& r) {
    return r.method == method && r.path == path;
  }));
}

void LoopbackServer::ClearRequests() {
  std::lock_guard lock(mu_);
  requests_.clear();
}

// ---- HTTP -------------------------------------------------------------------------

LoopbackServer::Reply LoopbackServer::FaultReplyLocked(const Fault& fault) const {
  Reply r;
  r.status = fault.status;
  r.body = fault.body;
  if (!fault.retry_after.empty()) r.headers.emplace("Retry-After", fault.retry_after);
  return r;
}

LoopbackServer::Reply LoopbackServer::Json(const nlohmann::json& j) {
  Reply r;
  r.status = 200;
  r.body = j.dump();
  return r;
}

void LoopbackServer::Handle(const httplib::Request& req, httplib::Response& res) {
  const int64_t arrived = clock_.NowMs();
  Reply reply;
  {
    std::lock_guard lock(mu_);
    auto fault = std::find_if(faults_.begin(), faults_.end(), [&](const Fault& f) {
      return f.remaining > 0 && (f.path.empty() || f.path == req.path);
    });
    if (fault != faults_.end()) {
      --fault->remaining;
      reply = FaultReplyLocked(*fault);
    } else {
      reply = DispatchLocked(req);
    }
  }
  res.status = reply.status;
  for (const auto& [k, v] : reply.headers) res.set_header(k.c_str(), v);
  res.set_content(reply.body, options_.content_type);
  std::unique_lock lock(mu_);
  requests_.push_back(RecordedRequest{req.method, req.path, req.params, req.headers, req.body,
                                      reply.status, arrived});
  for (Delay& d : delays_) {
    if (d.remaining > 0 && (d.path.empty() || d.path == req.path)) {
      --d.remaining;
      // Real time, whatever clock the simulator runs on: this is the wire.
      stop_cv_.wait_for(lock, std::chrono::milliseconds(d.delay_ms), [&] { return stopping_; });
      break;
    }
  }
}

}  // namespace ae::sim
