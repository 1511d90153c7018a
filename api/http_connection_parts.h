#pragma once
// The connection gate's parts (internal to api/http_connections*.cc): a connection and its
// non-blocking I/O (http_connection.cc), what a request head announces, and the gate that
// holds connections until a whole request has arrived (http_gate.cc). The server that hands
// them to its workers is in http_connections.cc.

#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "api/http_connections.h"

namespace ae::api {

using SteadyClock = std::chrono::steady_clock;

enum class Io { kOk, kWantRead, kWantWrite, kEof, kError };

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
  Io Read(char* buf, size_t n, size_t* got);
  Io Write(const char* buf, size_t n, size_t* put);
  // Waits until the socket is ready for `io` (kWantRead or kWantWrite) or `deadline`.
  bool WaitFor(Io io, SteadyClock::time_point deadline) const;
  // Writes a short answer from the gate, if the socket takes it now.
  void SendBestEffort(std::string_view data);
};

// The IP address and port of a socket address.
void AddressOf(const sockaddr_storage& a, std::string& ip, int& port);

// What a request head announces about its body.
struct HeadInfo {
  bool chunked = false;                 // any Transfer-Encoding
  bool bad_length = false;              // a Content-Length that is not one number
  std::optional<uint64_t> content_length;
  bool expect_continue = false;
};

HeadInfo ScanHead(std::string_view head);

// What the buffered bytes of a connection hold.
enum class Held {
  kPart,            // not yet a request a worker can serve without waiting
  kRequest,         // a whole head, and its body when that fits the buffer
  kAwaitsContinue,  // a head whose client waits for 100 Continue to send its body
  kHeadTooLarge,
};
Held Examine(const GatedHttpServer::Conn& c, size_t cap);

// Whether a whole next request arrives within a short stay on the worker (kStayFor in
// http_connection.cc). *closed when the client closed.
bool NextRequestArrives(GatedHttpServer::Conn& c, size_t cap, bool* closed);

class GatedHttpServer::Gate {
 public:
  using Dispatch = std::function<void(std::unique_ptr<Conn>)>;
  Gate(const ConnectionOptions& o, SSL_CTX* tls, Metrics* m, Dispatch dispatch)
      : o_(o), tls_(tls), metrics_(m), dispatch_(std::move(dispatch)) {}
  ~Gate() { Stop(); }

  bool Start();
  void Stop();

  // A new connection (the accept loop's thread).
  void Admit(int fd);

  // A kept-alive connection back from a worker: it waits for its next request.
  void Return(std::unique_ptr<Conn> c);

  // A connection answered without reading its request's body: drained briefly, then closed.
  void Linger(std::unique_ptr<Conn> c);

 private:
  enum class Next { kWait, kDispatch, kClose };

  // Under mu_.
  void Wake();
  void Post(std::unique_ptr<Conn> c);
  void Run();
  void Add(std::unique_ptr<Conn> c);
  void Refuse();
  void Register(Conn& c);
  std::unique_ptr<Conn> Remove(Conn* c);
  void Act(Conn* c, Next next);
  void Gauge();
  Next Step(Conn& c);

  // Whether the buffered bytes hold a request a worker can serve without waiting.
  Next Decide(Conn& c);

  // 408 or 431, then the connection closes.
  void Answer(Conn& c, int status, const Status& s);
  void Sweep(SteadyClock::time_point now);

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

}  // namespace ae::api
