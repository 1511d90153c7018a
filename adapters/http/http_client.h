#pragma once
// HttpClient: one keep-alive connection to one origin over cpp-httplib, tuned
// as PERFORMANCE.md says (TCP_NODELAY, explicit timeouts, no redirects), plus
// the shared retry loop of retry.h.
//
// Thread-safety: thread-safe. cpp-httplib serialises requests on the one
// connection, which is what a per-account vendor client wants.

#include <httplib.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "adapters/http/retry.h"
#include "events/base/clock.h"
#include "events/base/status.h"

namespace ae::http {

struct HttpClientOptions {
  // "https://host[:port][/prefix]" or "http://127.0.0.1:port". Paths given to
  // Send() are appended to the prefix.
  std::string base_url;
  int64_t connect_timeout_ms = 10'000;
  int64_t read_timeout_ms = 60'000;
  int64_t write_timeout_ms = 60'000;
  // Answers with a larger body fail with kUnavailable "http.response_too_large".
  size_t max_response_bytes = 64u << 20;
  RetryPolicy retry;
  // spdlog module for the attempt lines.
  std::string log_module = "adapters.http";
  // kInvalidArgument "http.bad_base_url" / "http.bad_retry_policy" when unusable.
  Status Validate() const;
};

struct HttpRequest {
  std::string method;        // "GET", "POST", "PUT", "DELETE"
  std::string path;          // below the base URL's prefix, with any query string
  httplib::Headers headers;  // sent as is (Content-Type included when there is a body)
  std::string body;          // sent whenever non-empty, DELETE included
};

// The parts of a base URL.
// An absolute URL taken apart by uriparser (RFC 3986), each part as written except the
// scheme and host (lower case; an IPv6 literal keeps its brackets). 400 "http.bad_url" when
// it is not a URL.
struct UrlParts {
  std::string scheme;
  bool has_userinfo = false;
  std::string host;
  bool has_port = false;
  std::string port;      // the digits as written ("" after a bare ':')
  std::string path;      // "/a/b" or ""
  bool has_query = false;
  bool has_fragment = false;
};
Result<UrlParts> SplitUrl(std::string_view url);

struct BaseUrl {
  std::string scheme;  // "http" or "https", lower case
  std::string host;    // lower case
  int port = 0;        // explicit or default
  std::string prefix;  // "" or "/prefix" (no trailing slash)
  // "scheme://host[:port]" with the default port omitted.
  std::string Origin() const;
};
Result<BaseUrl> ParseBaseUrl(std::string_view url);
// For a request body's URL field: OK when `url` is a base URL ParseBaseUrl accepts, else
// 400 `code` naming `field`, with ParseBaseUrl's reason.
Status CheckBaseUrlField(std::string_view url, const std::string& field, const std::string& code);

class HttpClient {
 public:
  // Collaborators must outlive the client.
  static Result<std::unique_ptr<HttpClient>> Create(HttpClientOptions options, const Clock& clock,
                                                    Sleeper& sleeper, Random& random);
  ~HttpClient();

  // One attempt, no retry. Transport failures (connect, read, write, timeout,
  // TLS) become kUnavailable "http.transport"; any HTTP answer is returned.
  Result<HttpResponse> SendOnce(const HttpRequest& request);

  // SendOnce under the retry policy: transport errors, 429 and 5xx are retried
  // (honouring Retry-After) until the deadline, then kUnavailable
  // `unavailable_reason`. Any other answer is returned as is.
  Result<HttpResponse> Call(std::string_view call, const HttpRequest& request,
                            std::string unavailable_reason = "http.unavailable");

  // The retry loop alone, for composite attempts (e.g. a session refresh plus
  // the call it guards).
  const Retrier& retrier() const { return retrier_; }
  const BaseUrl& base_url() const { return base_; }

 private:
  HttpClient(HttpClientOptions options, BaseUrl base, const Clock& clock, Sleeper& sleeper,
             Random& random);

  const HttpClientOptions options_;
  const BaseUrl base_;
  const Retrier retrier_;
  std::unique_ptr<httplib::Client> client_;  // internally synchronised
};

}  // namespace ae::http
