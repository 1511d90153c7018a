#pragma once
// The server's connections, under cpp-httplib's request parser and router.
//
// cpp-httplib 0.11 gives each connection a pool thread for as long as it stays open, and its
// read timeout counts per receive: a client that sends nothing, or one byte every few
// seconds, holds a worker indefinitely, and a hundred of them hold the pool. GatedHttpServer
// keeps waiting connections off the workers:
//
//  - The gate, one thread on epoll, owns every connection that is waiting for a request: new
//    ones (their TLS handshake included), and kept-alive ones between requests. It reads the
//    request head (request line and headers, at most `gate_buffer_bytes`) and, when the
//    declared body fits in that buffer too, the body. The whole head must arrive within
//    `head_timeout` of the connection's acceptance or of the request's first byte, else the
//    connection is closed (408 when part of a head had come). An idle kept-alive connection
//    is closed after `idle_timeout`.
//  - Only a complete head goes to a worker, which serves that request and gives the
//    connection back to the gate (after waiting up to 10 ms for a next whole request, when
//    no other connection waits for a worker). A body that did not fit the gate buffer is
//    read on the worker with `read_timeout` per receive, and must keep up at least
//    `min_body_rate` bytes per second after its first `read_timeout`. Answers are written with
//    `write_timeout` per send.
//  - At most `max_waiting` connections wait in the gate, and at most
//    `max_waiting_per_client` from one client address (an IPv6 /64; trusted proxies are not
//    capped): beyond, a new connection is closed at once.
//  - A connection whose request body was not read (refused first) is closed after the answer
//    with a lingering close in the gate (what arrives is discarded for up to 5 s or 64 MiB),
//    so that a client still sending its body reads the answer rather than a reset.

#include <httplib.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "api/rate_limiter.h"
#include "events/base/status.h"

namespace ae::api {

class Metrics;

struct ConnectionOptions {
  int threads = 96;                                  // workers
  std::chrono::milliseconds head_timeout{10'000};    // a whole request head
  std::chrono::milliseconds idle_timeout{5'000};     // between kept-alive requests
  std::chrono::milliseconds read_timeout{5'000};     // per receive, on a worker
  std::chrono::milliseconds write_timeout{5'000};    // per send
  size_t min_body_rate = 16 << 10;                   // bytes/s of a body read on a worker
  size_t gate_buffer_bytes = 64 << 10;               // a head, and a body that fits with it
  size_t max_waiting = 8192;                         // connections in the gate
  size_t max_waiting_per_client = 256;
  size_t keep_alive_max_count = 10000;               // requests per connection
  Networks trusted_proxies;                          // not capped per client
};

// The TLS context of the server: TLS 1.2 at least (1.3 preferred, as OpenSSL negotiates the
// highest common version), AEAD suites with forward secrecy only (ECDHE with AES-GCM or
// ChaCha20-Poly1305: no CBC, no SHA-1 MAC, no static RSA), no renegotiation, no compression.
// kInvalidArgument "server.tls" when the certificate chain or key cannot be used.
Result<std::shared_ptr<SSL_CTX>> MakeServerTlsContext(const std::string& cert_chain_file,
                                                      const std::string& key_file);

// What the request being served on this thread has done with its connection. Called by
// the route layer (server.cc) from a handler; no effect off a worker.
// The request's body, if any, has been read whole: the connection may carry another request.
void MarkRequestComplete();
// Bytes of the current request already received (head excluded) and not yet read.
size_t BufferedRequestBytes();

class GatedHttpServer : public httplib::Server {
 public:
  // `tls` null: plain HTTP. `metrics` may be null.
  GatedHttpServer(ConnectionOptions options, std::shared_ptr<SSL_CTX> tls, Metrics* metrics);
  ~GatedHttpServer() override;

  // Serves until stop(), after bind_to_port()/bind_to_any_port(); blocks. Waiting
  // connections are closed on the way out; requests being served finish first.
  bool Serve();

  class Gate;
  struct Conn;

 private:
  // cpp-httplib's accept loop calls this for each new socket: it joins the gate.
  bool process_and_close_socket(socket_t sock) override;
  void ServeOne(std::unique_ptr<Conn> conn);

  ConnectionOptions options_;
  std::shared_ptr<SSL_CTX> tls_;
  Metrics* metrics_;
  std::unique_ptr<Gate> gate_;
  std::unique_ptr<httplib::ThreadPool> workers_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> queued_{0};  // requests waiting for a worker
};

}  // namespace ae::api
