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

#include "api/http_connection_parts.h"
#include "api/http_errors.h"
#include "api/metrics.h"
#include "events/base/logging.h"
namespace ae::api {

namespace {

// TLS 1.2: ECDHE key exchange with an AEAD cipher, ECDSA or RSA certificates.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

thread_local GatedHttpServer::Conn* t_conn = nullptr;

namespace {

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
