#include "adapters/http/http_client.h"

#include <uriparser/Uri.h>

#include <algorithm>
#include <cctype>
#include <memory>

namespace ae::http {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

time_t Secs(int64_t ms) { return static_cast<time_t>(ms / 1000); }
time_t Usecs(int64_t ms) { return static_cast<time_t>((ms % 1000) * 1000); }

}  // namespace

std::string BaseUrl::Origin() const {
  bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  return scheme + "://" + host + (default_port ? "" : ":" + std::to_string(port));
}

Status CheckBaseUrlField(std::string_view url, const std::string& field,
                         const std::string& code) {
  auto parsed = ParseBaseUrl(url);
  if (parsed.ok()) return Status::Ok();
  return InvalidArgument(code, field + " must be an http(s) URL: " + parsed.status().message(),
                         field);
}

Result<UrlParts> SplitUrl(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("http.bad_url", "URL: " + why, "url");
  };
  const std::string text(url);
  UriUriA uri;
  const char* error_at = nullptr;
  if (uriParseSingleUriExA(&uri, text.data(), text.data() + text.size(), &error_at) !=
      URI_SUCCESS) {
    return bad("not a URL (at character " +
               std::to_string(error_at ? error_at - text.data() + 1 : 1) + ")");
  }
  std::unique_ptr<UriUriA, void (*)(UriUriA*)> owned(&uri, [](UriUriA* u) {
    uriFreeUriMembersA(u);
  });
  auto part = [](const UriTextRangeA& r) {
    return r.first ? std::string(r.first, r.afterLast) : std::string();
  };
  UrlParts u;
  u.scheme = Lower(part(uri.scheme));
  u.has_userinfo = uri.userInfo.first != nullptr;
  if (uri.hostData.ipFuture.first) return bad("unsupported host");
  u.host = Lower(part(uri.hostText));
  // An IPv6 literal keeps its brackets: it is written so in an origin and a Host header.
  if (uri.hostData.ip6) u.host = "[" + u.host + "]";
  u.has_port = uri.portText.first != nullptr;
  u.port = part(uri.portText);
  for (const UriPathSegmentA* seg = uri.pathHead; seg; seg = seg->next) {
    u.path += "/" + part(seg->text);
  }
  u.has_query = uri.query.first != nullptr;
  u.has_fragment = uri.fragment.first != nullptr;
  return u;
}

Result<BaseUrl> ParseBaseUrl(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("http.bad_base_url", "base URL: " + why, "base_url");
  };
  auto split = SplitUrl(url);
  if (!split.ok()) return bad(split.status().message().substr(5));  // past "URL: "
  const UrlParts& u = *split;
  BaseUrl b;
  b.scheme = u.scheme;
  if (b.scheme.empty()) return bad("missing scheme");
  if (b.scheme != "http" && b.scheme != "https") return bad("scheme must be http or https");
  if (u.has_userinfo) return bad("no user name or password in the URL");
  if (u.has_query || u.has_fragment) return bad("no query or fragment");
  if (u.host.empty()) return bad("missing host");
  b.host = u.host;
  if (u.has_port) {
    if (u.port.empty() || u.port.size() > 5) return bad("bad port");
    b.port = std::stoi(u.port);  // uriparser admits digits only
    if (b.port <= 0 || b.port > 65535) return bad("bad port");
  } else {
    b.port = b.scheme == "https" ? 443 : 80;
  }
  b.prefix = u.path;
  while (!b.prefix.empty() && b.prefix.back() == '/') b.prefix.pop_back();  // trailing '/'
  return b;
}

Status HttpClientOptions::Validate() const {
  AE_RETURN_IF_ERROR(retry.Validate());
  auto base = ParseBaseUrl(base_url);
  if (!base.ok()) return base.status();
  if (connect_timeout_ms <= 0 || read_timeout_ms <= 0 || write_timeout_ms <= 0) {
    return InvalidArgument("http.bad_timeout", "timeouts must be positive");
  }
  return Status::Ok();
}

Result<std::unique_ptr<HttpClient>> HttpClient::Create(HttpClientOptions options,
                                                       const Clock& clock, Sleeper& sleeper,
                                                       Random& random) {
  AE_RETURN_IF_ERROR(options.Validate());
  AE_ASSIGN_OR_RETURN(BaseUrl base, ParseBaseUrl(options.base_url));
  return std::unique_ptr<HttpClient>(
      new HttpClient(std::move(options), std::move(base), clock, sleeper, random));
}

HttpClient::HttpClient(HttpClientOptions options, BaseUrl base, const Clock& clock,
                       Sleeper& sleeper, Random& random)
    : options_(std::move(options)),
      base_(std::move(base)),
      retrier_(options_.retry, clock, sleeper, random, options_.log_module),
      client_(std::make_unique<httplib::Client>(base_.Origin())) {
  client_->set_tcp_nodelay(true);
  client_->set_keep_alive(true);
  client_->set_follow_location(false);
  client_->set_connection_timeout(Secs(options_.connect_timeout_ms),
                                  Usecs(options_.connect_timeout_ms));
  client_->set_read_timeout(Secs(options_.read_timeout_ms), Usecs(options_.read_timeout_ms));
  client_->set_write_timeout(Secs(options_.write_timeout_ms), Usecs(options_.write_timeout_ms));
}

HttpClient::~HttpClient() = default;

Result<HttpResponse> HttpClient::SendOnce(const HttpRequest& request) {
  httplib::Request req;
  req.method = request.method;
  req.path = base_.prefix + request.path;
  req.headers = request.headers;
  req.body = request.body;
  std::string body;
  bool too_large = false;
  const size_t limit = options_.max_response_bytes;
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    if (body.size() + len > limit) {
      too_large = true;
      return false;
    }
    body.append(data, len);
    return true;
  };
  httplib::Result res = client_->send(req);
  if (too_large) {
    return Unavailable("http.response_too_large", request.method + " " + request.path +
                                                      ": response larger than " +
                                                      std::to_string(limit) + " bytes");
  }
  if (!res) {
    return Unavailable("http.transport", request.method + " " + request.path + ": " +
                                             httplib::to_string(res.error()));
  }
  HttpResponse out;
  out.status = res->status;
  out.headers = res->headers;
  out.body = std::move(body);
  if (out.body.empty() && !res->body.empty()) out.body = res->body;
  return out;
}

Result<HttpResponse> HttpClient::Call(std::string_view call, const HttpRequest& request,
                                      std::string unavailable_reason) {
  return retrier_.Run(
      call, [&](int) { return SendOnce(request); }, std::move(unavailable_reason));
}

}  // namespace ae::http
