// The connection gate: one epoll thread that does the TLS handshakes and holds each
// connection until a whole request head (and a body that fits its buffer) has arrived,
// within the head timeout and the per-client caps, then hands it to a worker.

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "api/http_connection_parts.h"
#include "api/http_errors.h"
#include "api/metrics.h"
#include "events/base/logging.h"

namespace ae::api {

namespace {

// A connection answered without its body read is drained (read and discarded, in the
// gate) for this long or this many bytes before it is closed: a client that sends its whole
// body before reading then reads the answer rather than a reset.
constexpr std::chrono::milliseconds kLingerTime{5000};
constexpr size_t kLingerBytes = 64 << 20;
// How often the gate looks for connections past their deadline.
constexpr std::chrono::milliseconds kSweepEvery{100};

}  // namespace

bool GatedHttpServer::Gate::Start() {
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_ < 0 || wake_ < 0) return false;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_;
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &ev) != 0) return false;
  thread_ = std::thread([this] { Run(); });
  return true;
}

void GatedHttpServer::Gate::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    Wake();
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);  // no Post() wakes the gate from here on
  incoming_.clear();
  if (epoll_ >= 0) ::close(epoll_);
  if (wake_ >= 0) ::close(wake_);
  epoll_ = wake_ = -1;
}

void GatedHttpServer::Gate::Admit(int fd) {
  auto c = std::make_unique<Conn>();
  c->fd = fd;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  int yes = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    AddressOf(a, c->peer_ip, c->peer_port);
  }
  len = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    AddressOf(a, c->local_ip, c->local_port);
  }
  auto peer = IpAddress::Parse(c->peer_ip);
  if (peer && !o_.trusted_proxies.Contains(*peer)) c->client = SourceKey(*peer);
  if (tls_ != nullptr) {
    c->ssl = SSL_new(tls_);
    if (c->ssl == nullptr || SSL_set_fd(c->ssl, fd) != 1) {
      ERR_clear_error();
      return;  // closed by ~Conn
    }
    SSL_set_accept_state(c->ssl);
    c->state = Conn::State::kHandshake;
  }
  c->deadline = SteadyClock::now() + o_.head_timeout;
  Post(std::move(c));
}

void GatedHttpServer::Gate::Return(std::unique_ptr<Conn> c) {
  c->state = c->buffered() > 0 ? Conn::State::kHead : Conn::State::kIdle;
  c->deadline = SteadyClock::now() + (c->buffered() > 0 ? o_.head_timeout : o_.idle_timeout);
  Post(std::move(c));
}

void GatedHttpServer::Gate::Linger(std::unique_ptr<Conn> c) {
  if (c->ssl != nullptr) {
    ERR_clear_error();
    SSL_shutdown(c->ssl);  // close_notify, if the socket takes it now
    ERR_clear_error();
  }
  ::shutdown(c->fd, SHUT_WR);
  c->state = Conn::State::kLinger;
  c->lingered = 0;
  c->deadline = SteadyClock::now() + kLingerTime;
  Post(std::move(c));
}

void GatedHttpServer::Gate::Wake() {
  uint64_t one = 1;
  if (wake_ >= 0) (void)!::write(wake_, &one, sizeof one);
}

void GatedHttpServer::Gate::Post(std::unique_ptr<Conn> c) {
  std::lock_guard lock(mu_);
  if (stopped_) return;  // closed by ~Conn
  incoming_.push_back(std::move(c));
  Wake();
}

void GatedHttpServer::Gate::Run() {
  pthread_setname_np(pthread_self(), "ae-http-gate");
  std::vector<epoll_event> events(256);
  auto last_sweep = SteadyClock::now();
  while (true) {
    int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()),
                         static_cast<int>(kSweepEvery.count()));
    std::deque<std::unique_ptr<Conn>> arrived;
    {
      std::lock_guard lock(mu_);
      if (stopped_) break;
      arrived.swap(incoming_);
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_) {
        uint64_t v;
        (void)!::read(wake_, &v, sizeof v);
        continue;
      }
      auto it = conns_.find(fd);
      if (it != conns_.end()) Act(it->second.get(), Step(*it->second));
    }
    for (auto& c : arrived) Add(std::move(c));
    auto now = SteadyClock::now();
    if (now - last_sweep >= kSweepEvery) {
      last_sweep = now;
      Sweep(now);
    }
  }
  conns_.clear();
  per_client_.clear();
  if (metrics_ != nullptr) metrics_->http_waiting = 0;
}

void GatedHttpServer::Gate::Add(std::unique_ptr<Conn> c) {
  const bool is_new = c->requests == 0 && c->state != Conn::State::kLinger;
  if (is_new && conns_.size() >= o_.max_waiting) {
    Refuse();
    return;
  }
  if (!c->client.empty()) {
    size_t& count = per_client_[c->client];
    if (is_new && count >= o_.max_waiting_per_client) {
      if (count == 0) per_client_.erase(c->client);
      Refuse();
      return;
    }
    ++count;
    c->counted = true;
  }
  Conn* raw = c.get();
  conns_[raw->fd] = std::move(c);
  raw->events = 0;
  Register(*raw);
  Gauge();
  // Data may be there already: a pipelined request, or bytes TLS has decrypted.
  if (raw->state != Conn::State::kHandshake) Act(raw, Step(*raw));
}

void GatedHttpServer::Gate::Refuse() {
  if (metrics_ != nullptr) metrics_->http_connections_refused++;
}

void GatedHttpServer::Gate::Register(Conn& c) {
  uint32_t want = c.want_write ? EPOLLOUT : EPOLLIN;
  if (want == c.events) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.fd = c.fd;
  ::epoll_ctl(epoll_, c.events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev);
  c.events = want;
}

std::unique_ptr<GatedHttpServer::Conn> GatedHttpServer::Gate::Remove(Conn* c) {
  auto it = conns_.find(c->fd);
  std::unique_ptr<Conn> owned = std::move(it->second);
  conns_.erase(it);
  ::epoll_ctl(epoll_, EPOLL_CTL_DEL, owned->fd, nullptr);
  owned->events = 0;
  if (owned->counted) {
    auto pc = per_client_.find(owned->client);
    if (pc != per_client_.end() && --pc->second == 0) per_client_.erase(pc);
    owned->counted = false;
  }
  Gauge();
  return owned;
}

void GatedHttpServer::Gate::Act(Conn* c, Next next) {
  switch (next) {
    case Next::kWait: Register(*c); break;
    case Next::kClose: Remove(c); break;
    case Next::kDispatch: dispatch_(Remove(c)); break;
  }
}

void GatedHttpServer::Gate::Gauge() {
  if (metrics_ != nullptr) metrics_->http_waiting = static_cast<int64_t>(conns_.size());
}

GatedHttpServer::Gate::Next GatedHttpServer::Gate::Step(Conn& c) {
  if (c.state == Conn::State::kLinger) {
    char buf[16 << 10];
    while (true) {
      ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
      if (r > 0) {
        c.lingered += static_cast<size_t>(r);
        if (c.lingered > kLingerBytes) return Next::kClose;
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? Next::kWait : Next::kClose;
    }
  }
  if (c.state == Conn::State::kHandshake) {
    ERR_clear_error();
    int r = SSL_accept(c.ssl);
    if (r != 1) {
      int e = SSL_get_error(c.ssl, r);
      ERR_clear_error();
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c.want_write = e == SSL_ERROR_WANT_WRITE;
        return Next::kWait;
      }
      return Next::kClose;  // not TLS, or a version or suite we do not speak
    }
    c.state = Conn::State::kHead;
    c.want_write = false;
  }
  char buf[16 << 10];
  while (c.buffered() < o_.gate_buffer_bytes) {
    size_t got = 0;
    Io io = c.Read(buf, std::min(sizeof buf, o_.gate_buffer_bytes - c.buffered()), &got);
    if (io == Io::kOk) {
      c.in.append(buf, got);
      if (c.state == Conn::State::kIdle) {
        c.state = Conn::State::kHead;
        c.deadline = SteadyClock::now() + o_.head_timeout;
      }
      continue;
    }
    if (io == Io::kEof || io == Io::kError) return Next::kClose;
    c.want_write = io == Io::kWantWrite;
    break;
  }
  return Decide(c);
}

GatedHttpServer::Gate::Next GatedHttpServer::Gate::Decide(Conn& c) {
  switch (Examine(c, o_.gate_buffer_bytes)) {
    case Held::kRequest: return Next::kDispatch;
    case Held::kPart: return Next::kWait;
    case Held::kAwaitsContinue:
      if (!c.continue_sent) {
        c.SendBestEffort("HTTP/1.1 100 Continue\r\n\r\n");
        c.continue_sent = true;
      }
      return Next::kWait;
    case Held::kHeadTooLarge:
      Answer(c, 431, Status(StatusCode::kPayloadTooLarge, "request.head_too_large",
                            "the request line and headers exceed " +
                                std::to_string(o_.gate_buffer_bytes) + " bytes"));
      return Next::kClose;
  }
  return Next::kClose;
}

void GatedHttpServer::Gate::Answer(Conn& c, int status, const Status& s) {
  std::string body = ErrorBody(s).dump();
  const char* reason = status == 408 ? "Request Timeout" : "Request Header Fields Too Large";
  c.SendBestEffort("HTTP/1.1 " + std::to_string(status) + " " + reason +
                   "\r\nContent-Type: application/json\r\nConnection: close\r\n"
                   "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

void GatedHttpServer::Gate::Sweep(SteadyClock::time_point now) {
  std::vector<Conn*> late;
  for (auto& [fd, c] : conns_) {
    if (now >= c->deadline) late.push_back(c.get());
  }
  for (Conn* c : late) {
    if (c->state == Conn::State::kHead && c->buffered() > 0) {
      Answer(*c, 408, Status(StatusCode::kDeadlineExceeded, "request.timeout",
                             "the request head did not arrive within " +
                                 std::to_string(o_.head_timeout.count() / 1000) + " s"));
    }
    if (c->state == Conn::State::kHead || c->state == Conn::State::kHandshake) {
      if (metrics_ != nullptr) metrics_->http_head_timeouts++;
    }
    Remove(c);
  }
}

}  // namespace ae::api
