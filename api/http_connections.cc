#include "api/http_connections.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "api/http_errors.h"
#include "api/metrics.h"
#include "events/base/logging.h"

namespace ae::api {

namespace {

using SteadyClock = std::chrono::steady_clock;

// TLS 1.2: ECDHE key exchange with an AEAD cipher, ECDSA or RSA certificates.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

// A connection answered without its body read is drained (read and discarded, in the
// gate) for this long or this many bytes before it is closed: a client that sends its whole
// body before reading then reads the answer rather than a reset.
constexpr std::chrono::milliseconds kLingerTime{5000};
constexpr size_t kLingerBytes = 64 << 20;
// How often the gate looks for connections past their deadline.
constexpr std::chrono::milliseconds kSweepEvery{100};

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

void AddressOf(const sockaddr_storage& a, std::string& ip, int& port) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
    port = ntohs(v4->sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
    port = ntohs(v6->sin6_port);
  }
  ip = buf;
}

// What a request head announces about its body.
struct HeadInfo {
  bool chunked = false;                 // any Transfer-Encoding
  bool bad_length = false;              // a Content-Length that is not one number
  std::optional<uint64_t> content_length;
  bool expect_continue = false;
};

bool NameIs(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  }
  return true;
}

std::string_view ValueOf(std::string_view line, size_t name_size) {
  std::string_view v = line.substr(name_size + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r')) v.remove_suffix(1);
  return v;
}

HeadInfo ScanHead(std::string_view head) {
  HeadInfo h;
  size_t at = head.find("\r\n");  // past the request line
  while (at != std::string_view::npos && at + 2 < head.size()) {
    size_t next = head.find("\r\n", at + 2);
    std::string_view line = head.substr(at + 2, next == std::string_view::npos
                                                    ? std::string_view::npos
                                                    : next - at - 2);
    if (NameIs(line, "transfer-encoding")) {
      h.chunked = true;
    } else if (NameIs(line, "content-length")) {
      std::string_view v = ValueOf(line, 14);
      uint64_t n = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (v.empty() || ec != std::errc() || end != v.data() + v.size() ||
          (h.content_length && *h.content_length != n)) {
        h.bad_length = true;
      } else {
        h.content_length = n;
      }
    } else if (NameIs(line, "expect")) {
      std::string_view v = ValueOf(line, 6);
      h.expect_continue = v.size() == 12 && std::equal(v.begin(), v.end(), "100-continue",
                                                       [](char a, char b) {
                                                         return std::tolower(
                                                                    static_cast<unsigned char>(a)) == b;
                                                       });
    }
    at = next;
  }
  return h;
}

enum class Io { kOk, kWantRead, kWantWrite, kEof, kError };

}  // namespace

struct GatedHttpServer::Conn {
  enum class State { kHandshake, kIdle, kHead, kLinger };
  int fd = -1;
  SSL* ssl = nullptr;
  State state = State::kHead;
  std::string peer_ip, local_ip;
  int peer_port = 0, local_port = 0;
  std::string client;           // the per-client cap's key; "" when not capped
  bool counted = false;         // in the gate's per-client count
  std::string in;               // received and not yet read from in_off on
  size_t in_off = 0;
  SteadyClock::time_point deadline;
  uint32_t events = 0;          // registered with epoll
  bool want_write = false;      // TLS needs the socket writable to go on
  size_t requests = 0;
  bool continue_sent = false;   // the gate answered Expect: 100-continue
  bool complete = false;        // the current request's body was read whole
  size_t lingered = 0;

  ~Conn() {
    if (ssl != nullptr) SSL_free(ssl);
    if (fd >= 0) ::close(fd);
  }
  size_t buffered() const { return in.size() - in_off; }
  void Consume(size_t n) {
    in_off += n;
    if (in_off == in.size()) {
      in.clear();
      in_off = 0;
    }
  }

  // Without blocking.
  Io Read(char* buf, size_t n, size_t* got) {
    if (ssl != nullptr) {
      ERR_clear_error();
      int r = SSL_read(ssl, buf, static_cast<int>(std::min<size_t>(n, INT_MAX)));
      if (r > 0) {
        *got = static_cast<size_t>(r);
        return Io::kOk;
      }
      switch (SSL_get_error(ssl, r)) {
        case SSL_ERROR_WANT_READ: return Io::kWantRead;
        case SSL_ERROR_WANT_WRITE: return Io::kWantWrite;
        case SSL_ERROR_ZERO_RETURN: return Io::kEof;
        default: ERR_clear_error(); return Io::kError;
      }
    }
    while (true) {
      ssize_t r = ::recv(fd, buf, n, 0);
      if (r > 0) {
        *got = static_cast<size_t>(r);
        return Io::kOk;
      }
      if (r == 0) return Io::kEof;
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? Io::kWantRead : Io::kError;
    }
  }
  Io Write(const char* buf, size_t n, size_t* put) {
    if (ssl != nullptr) {
      ERR_clear_error();
      int r = SSL_write(ssl, buf, static_cast<int>(std::min<size_t>(n, INT_MAX)));
      if (r > 0) {
        *put = static_cast<size_t>(r);
        return Io::kOk;
      }
      switch (SSL_get_error(ssl, r)) {
        case SSL_ERROR_WANT_READ: return Io::kWantRead;
        case SSL_ERROR_WANT_WRITE: return Io::kWantWrite;
        default: ERR_clear_error(); return Io::kError;
      }
    }
    while (true) {
      ssize_t r = ::send(fd, buf, n, MSG_NOSIGNAL);
      if (r >= 0) {
        *put = static_cast<size_t>(r);
        return Io::kOk;
      }
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? Io::kWantWrite : Io::kError;
    }
  }
  // Waits until the socket is ready for `io` (kWantRead or kWantWrite) or `deadline`.
  bool WaitFor(Io io, SteadyClock::time_point deadline) const {
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                        SteadyClock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd, static_cast<short>(io == Io::kWantWrite ? POLLOUT : POLLIN), 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), INT_MAX)));
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) return false;
    }
  }
  // Writes a short answer from the gate, if the socket takes it now.
  void SendBestEffort(std::string_view data) {
    while (!data.empty()) {
      size_t put = 0;
      if (Write(data.data(), data.size(), &put) != Io::kOk || put == 0) return;
      data.remove_prefix(put);
    }
  }
};

namespace {

// What the buffered bytes of a connection hold.
enum class Held {
  kPart,            // not yet a request a worker can serve without waiting
  kRequest,         // a whole head, and its body when that fits the buffer
  kAwaitsContinue,  // a head whose client waits for 100 Continue to send its body
  kHeadTooLarge,
};

Held Examine(const GatedHttpServer::Conn& c, size_t cap) {
  std::string_view data(c.in.data() + c.in_off, c.buffered());
  if (data.empty()) return Held::kPart;
  size_t end = data.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    return data.size() < cap ? Held::kPart : Held::kHeadTooLarge;
  }
  const size_t head = end + 4;
  HeadInfo h = ScanHead(data.substr(0, head));
  // Bodies of unknown length, or longer than the buffer, are read by the worker, which
  // refuses what it does not want before reading it.
  if (h.chunked || h.bad_length || !h.content_length) return Held::kRequest;
  if (*h.content_length > cap - std::min(head, cap)) return Held::kRequest;
  if (data.size() >= head + *h.content_length) return Held::kRequest;
  return h.expect_continue ? Held::kAwaitsContinue : Held::kPart;
}

// A worker that has answered a kept-alive connection waits this long for its next request
// before giving it back to the gate, unless other connections wait for a worker: a client
// that sends requests back to back is then served without two thread hand-offs per request
// (which cost about a third of the keep-alive throughput on loopback). A client that does
// not send a whole request in this time cannot hold the worker longer.
constexpr std::chrono::microseconds kStayFor{10000};

// Whether a whole next request arrives within kStayFor. *closed when the client closed.
bool NextRequestArrives(GatedHttpServer::Conn& c, size_t cap, bool* closed) {
  const auto deadline = SteadyClock::now() + kStayFor;
  char buf[16 << 10];
  while (true) {
    Held held = Examine(c, cap);
    if (held == Held::kRequest) return true;
    if (held != Held::kPart || c.buffered() >= cap) return false;  // the gate's to handle
    size_t got = 0;
    Io io = c.Read(buf, std::min(sizeof buf, cap - c.buffered()), &got);
    if (io == Io::kOk) {
      c.in.append(buf, got);
      continue;
    }
    if (io == Io::kEof || io == Io::kError) {
      *closed = true;
      return false;
    }
    if (!c.WaitFor(io, deadline)) return false;
  }
}

thread_local GatedHttpServer::Conn* t_conn = nullptr;

// The request being served on a worker reads and writes through this.
class ConnStream final : public httplib::Stream {
 public:
  ConnStream(GatedHttpServer::Conn& c, const ConnectionOptions& o) : c_(c), o_(o) {}

  // The head has been read: what is read from now on is the body.
  void StartBody() {
    in_body_ = true;
    body_started_ = SteadyClock::now();
    body_bytes_ = 0;
  }

  bool is_readable() const override {
    return c_.buffered() > 0 || (c_.ssl != nullptr && SSL_pending(c_.ssl) > 0) ||
           c_.WaitFor(Io::kWantRead, SteadyClock::now() + o_.read_timeout);
  }
  bool is_writable() const override {
    return c_.WaitFor(Io::kWantWrite, SteadyClock::now() + o_.write_timeout);
  }

  ssize_t read(char* ptr, size_t size) override {
    if (size == 0) return 0;
    if (c_.buffered() > 0) {
      size_t n = std::min(size, c_.buffered());
      std::memcpy(ptr, c_.in.data() + c_.in_off, n);
      c_.Consume(n);
      body_bytes_ += in_body_ ? n : 0;
      return static_cast<ssize_t>(n);
    }
    auto deadline = SteadyClock::now() + o_.read_timeout;
    if (in_body_ && o_.min_body_rate > 0) {
      // After its first read_timeout, a body keeps up min_body_rate on average.
      auto allowed = body_started_ + o_.read_timeout +
                     std::chrono::milliseconds(body_bytes_ * 1000 / o_.min_body_rate);
      deadline = std::min(deadline, allowed);
    }
    while (true) {
      size_t got = 0;
      Io io = c_.Read(ptr, size, &got);
      if (io == Io::kOk) {
        body_bytes_ += in_body_ ? got : 0;
        return static_cast<ssize_t>(got);
      }
      if (io == Io::kEof) return 0;
      if (io == Io::kError || !c_.WaitFor(io, deadline)) return -1;
    }
  }

  ssize_t write(const char* ptr, size_t size) override {
    auto deadline = SteadyClock::now() + o_.write_timeout;
    while (true) {
      size_t put = 0;
      Io io = c_.Write(ptr, size, &put);
      if (io == Io::kOk) return static_cast<ssize_t>(put);
      if (io == Io::kError || io == Io::kEof || !c_.WaitFor(io, deadline)) return -1;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = c_.peer_ip;
    port = c_.peer_port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = c_.local_ip;
    port = c_.local_port;
  }
  socket_t socket() const override { return c_.fd; }

 private:
  GatedHttpServer::Conn& c_;
  const ConnectionOptions& o_;
  bool in_body_ = false;
  SteadyClock::time_point body_started_;
  size_t body_bytes_ = 0;
};

// The accept loop's task queue: each task only hands a socket to the gate, so it runs at once.
class InlineQueue final : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

}  // namespace

// ---- the gate -----------------------------------------------------------------------------

class GatedHttpServer::Gate {
 public:
  using Dispatch = std::function<void(std::unique_ptr<Conn>)>;
  Gate(const ConnectionOptions& o, SSL_CTX* tls, Metrics* m, Dispatch dispatch)
      : o_(o), tls_(tls), metrics_(m), dispatch_(std::move(dispatch)) {}
  ~Gate() { Stop(); }

  bool Start() {
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

  void Stop() {
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

  // A new connection (the accept loop's thread).
  void Admit(int fd) {
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

  // A kept-alive connection back from a worker: it waits for its next request.
  void Return(std::unique_ptr<Conn> c) {
    c->state = c->buffered() > 0 ? Conn::State::kHead : Conn::State::kIdle;
    c->deadline = SteadyClock::now() + (c->buffered() > 0 ? o_.head_timeout : o_.idle_timeout);
    Post(std::move(c));
  }

  // A connection answered without reading its request's body: drained briefly, then closed.
  void Linger(std::unique_ptr<Conn> c) {
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

 private:
  enum class Next { kWait, kDispatch, kClose };

  // Under mu_.
  void Wake() {
    uint64_t one = 1;
    if (wake_ >= 0) (void)!::write(wake_, &one, sizeof one);
  }

  void Post(std::unique_ptr<Conn> c) {
    std::lock_guard lock(mu_);
    if (stopped_) return;  // closed by ~Conn
    incoming_.push_back(std::move(c));
    Wake();
  }

  void Run() {
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

  void Add(std::unique_ptr<Conn> c) {
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

  void Refuse() {
    if (metrics_ != nullptr) metrics_->http_connections_refused++;
  }

  void Register(Conn& c) {
    uint32_t want = c.want_write ? EPOLLOUT : EPOLLIN;
    if (want == c.events) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.fd = c.fd;
    ::epoll_ctl(epoll_, c.events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev);
    c.events = want;
  }

  std::unique_ptr<Conn> Remove(Conn* c) {
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

  void Act(Conn* c, Next next) {
    switch (next) {
      case Next::kWait: Register(*c); break;
      case Next::kClose: Remove(c); break;
      case Next::kDispatch: dispatch_(Remove(c)); break;
    }
  }

  void Gauge() {
    if (metrics_ != nullptr) metrics_->http_waiting = static_cast<int64_t>(conns_.size());
  }

  Next Step(Conn& c) {
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

  // Whether the buffered bytes hold a request a worker can serve without waiting.
  Next Decide(Conn& c) {
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

  // 408 or 431, then the connection closes.
  void Answer(Conn& c, int status, const Status& s) {
    std::string body = ErrorBody(s).dump();
    const char* reason = status == 408 ? "Request Timeout" : "Request Header Fields Too Large";
    c.SendBestEffort("HTTP/1.1 " + std::to_string(status) + " " + reason +
                     "\r\nContent-Type: application/json\r\nConnection: close\r\n"
                     "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  }

  void Sweep(SteadyClock::time_point now) {
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

  const ConnectionOptions& o_;
  SSL_CTX* const tls_;
  Metrics* const metrics_;
  const Dispatch dispatch_;
  int epoll_ = -1, wake_ = -1;
  std::thread thread_;
  std::mutex mu_;
  bool stopped_ = false;                              // guarded by mu_
  std::deque<std::unique_ptr<Conn>> incoming_;        // guarded by mu_
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;      // gate thread only
  std::unordered_map<std::string, size_t> per_client_;        // gate thread only
};

// ---- the server ---------------------------------------------------------------------------

Result<std::shared_ptr<SSL_CTX>> MakeServerTlsContext(const std::string& cert_chain_file,
                                                      const std::string& key_file) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  auto fail = [](const std::string& what) {
    return InvalidArgument("server.tls", what + ": " + OpenSslError());
  };
  if (!ctx) return fail("cannot make a TLS context");
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx.get(), kTls12Ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(ctx.get(), kTls13Suites) != 1) {
    return fail("cannot set the TLS versions and suites");
  }
  uint64_t opts = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                  SSL_OP_CIPHER_SERVER_PREFERENCE;
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
  opts |= SSL_OP_IGNORE_UNEXPECTED_EOF;  // a client that just closes has ended its stream
#endif
  SSL_CTX_set_options(ctx.get(), opts);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_chain_file.c_str()) != 1) {
    return fail("cannot use the TLS certificate " + cert_chain_file);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail("cannot use the TLS key " + key_file);
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return fail("the TLS key does not match the certificate");
  }
  return ctx;
}

void MarkRequestComplete() {
  if (t_conn != nullptr) t_conn->complete = true;
}

size_t BufferedRequestBytes() { return t_conn != nullptr ? t_conn->buffered() : 0; }

GatedHttpServer::GatedHttpServer(ConnectionOptions options, std::shared_ptr<SSL_CTX> tls,
                                 Metrics* metrics)
    : options_(std::move(options)), tls_(std::move(tls)), metrics_(metrics) {
  new_task_queue = [] { return new InlineQueue(); };
  set_keep_alive_max_count(options_.keep_alive_max_count);
  set_keep_alive_timeout(
      std::max<time_t>(1, std::chrono::duration_cast<std::chrono::seconds>(options_.idle_timeout)
                              .count()));
  // A response to a request whose body stayed unread closes the connection.
  set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    if (t_conn == nullptr || t_conn->complete) return;
    res.headers.erase("Keep-Alive");
    res.headers.erase("Connection");
    res.set_header("Connection", "close");
  });
  gate_ = std::make_unique<Gate>(options_, tls_.get(), metrics_,
                                 [this](std::unique_ptr<Conn> c) {
                                   queued_++;
                                   workers_->enqueue([this, raw = c.release()] {
                                     queued_--;
                                     ServeOne(std::unique_ptr<Conn>(raw));
                                   });
                                 });
}

GatedHttpServer::~GatedHttpServer() {
  stop();
  gate_.reset();
}

bool GatedHttpServer::process_and_close_socket(socket_t sock) {
  gate_->Admit(sock);
  return true;
}

bool GatedHttpServer::Serve() {
  workers_ = std::make_unique<httplib::ThreadPool>(static_cast<size_t>(options_.threads));
  if (!gate_->Start()) {
    log::Get("api")->error("cannot start the connection gate: {}", std::strerror(errno));
    workers_->shutdown();
    return false;
  }
  bool ok = listen_after_bind();
  stopping_ = true;
  gate_->Stop();
  workers_->shutdown();
  return ok;
}

void GatedHttpServer::ServeOne(std::unique_ptr<Conn> c) {
  while (true) {
    ++c->requests;
    c->complete = false;
    const bool last = c->requests >= options_.keep_alive_max_count || stopping_;
    bool closed = false;
    bool written = false;
    {
      ConnStream strm(*c, options_);
      t_conn = c.get();
      written = process_request(strm, last, closed, [&](httplib::Request& req) {
        strm.StartBody();
        if (c->continue_sent) req.headers.erase("Expect");  // the gate has answered it
        // No body: nothing is left unread.
        c->complete = !req.has_header("Transfer-Encoding") &&
                      (!req.has_header("Content-Length") ||
                       req.get_header_value("Content-Length") == "0");
      });
      t_conn = nullptr;
    }
    c->continue_sent = false;
    if (!written || stopping_) return;                     // closed
    if (!c->complete) return gate_->Linger(std::move(c));  // the answer, then close
    if (closed || last) return;
    bool eof = false;
    if (queued_.load() > 0 || !NextRequestArrives(*c, options_.gate_buffer_bytes, &eof)) {
      if (eof) return;
      break;
    }
  }
  gate_->Return(std::move(c));
}

}  // namespace ae::api
