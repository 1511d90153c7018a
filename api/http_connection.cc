// A connection of the gate: its non-blocking reads and writes (TLS or plain), what its
// request head announces, and whether a whole request is buffered.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>

#include "api/http_connection_parts.h"

namespace ae::api {

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

namespace {

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

}  // namespace

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

Io GatedHttpServer::Conn::Read(char* buf, size_t n, size_t* got) {
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

Io GatedHttpServer::Conn::Write(const char* buf, size_t n, size_t* put) {
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

bool GatedHttpServer::Conn::WaitFor(Io io, SteadyClock::time_point deadline) const {
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

void GatedHttpServer::Conn::SendBestEffort(std::string_view data) {
  while (!data.empty()) {
    size_t put = 0;
    if (Write(data.data(), data.size(), &put) != Io::kOk || put == 0) return;
    data.remove_prefix(put);
  }
}

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

}  // namespace ae::api
