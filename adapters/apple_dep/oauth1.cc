#include "adapters/apple_dep/oauth1.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include "adapters/http/http_client.h"
#include "events/base/crypto.h"

namespace ae::dep::oauth1 {
namespace {

bool Unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string PercentEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (Unreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) {
      return InvalidArgument("oauth.bad_encoding", "truncated percent escape");
    }
    int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return InvalidArgument("oauth.bad_encoding", "bad percent escape");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string NormalizeUrl(std::string_view url) {
  // RFC 5849 §3.4.1.2: lower-case scheme and host, the default port left out, no query.
  auto u = http::SplitUrl(url);
  if (!u.ok() || u->scheme.empty() || u->host.empty()) return std::string(url);
  const bool default_port = !u->has_port || (u->scheme == "http" && u->port == "80") ||
                            (u->scheme == "https" && u->port == "443");
  return u->scheme + "://" + u->host + (default_port ? "" : ":" + u->port) +
         (u->path.empty() ? std::string("/") : u->path);
}

std::string SignatureBaseString(std::string_view method, std::string_view url,
                                const std::multimap<std::string, std::string>& params) {
  // Sort by encoded name, then encoded value (RFC 5849 §3.4.1.3.2).
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& [k, v] : params) encoded.emplace_back(PercentEncode(k), PercentEncode(v));
  std::sort(encoded.begin(), encoded.end());
  std::string normalized;
  for (const auto& [k, v] : encoded) {
    if (!normalized.empty()) normalized += '&';
    normalized += k + "=" + v;
  }
  std::string m(method);
  for (char& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return m + "&" + PercentEncode(NormalizeUrl(url)) + "&" + PercentEncode(normalized);
}

std::string HmacSha1Signature(const Credentials& credentials, std::string_view base_string) {
  std::string key =
      PercentEncode(credentials.consumer_secret) + "&" + PercentEncode(credentials.access_secret);
  return crypto::Base64(crypto::HmacSha1(key, base_string));
}

std::multimap<std::string, std::string> OAuthParams(const Credentials& credentials,
                                                    int64_t timestamp_s, std::string_view nonce) {
  return {
      {"oauth_consumer_key", credentials.consumer_key},
      {"oauth_nonce", std::string(nonce)},
      {"oauth_signature_method", "HMAC-SHA1"},
      {"oauth_timestamp", std::to_string(timestamp_s)},
      {"oauth_token", credentials.access_token},
      {"oauth_version", "1.0"},
  };
}

std::string AuthorizationHeader(const Credentials& credentials, std::string_view method,
                                std::string_view url, int64_t timestamp_s, std::string_view nonce,
                                std::string_view realm) {
  auto params = OAuthParams(credentials, timestamp_s, nonce);
  std::string signature = HmacSha1Signature(credentials, SignatureBaseString(method, url, params));
  auto quoted = [](std::string_view name, std::string_view value) {
    return std::string(name) + "=\"" + PercentEncode(value) + "\"";
  };
  std::string h = "OAuth ";
  if (!realm.empty()) h += "realm=\"" + std::string(realm) + "\", ";
  h += quoted("oauth_consumer_key", credentials.consumer_key) + ", ";
  h += quoted("oauth_token", credentials.access_token) + ", ";
  h += quoted("oauth_signature_method", "HMAC-SHA1") + ", ";
  h += quoted("oauth_signature", signature) + ", ";
  h += quoted("oauth_timestamp", std::to_string(timestamp_s)) + ", ";
  h += quoted("oauth_nonce", nonce) + ", ";
  h += quoted("oauth_version", "1.0");
  return h;
}

Result<std::map<std::string, std::string>> ParseAuthorizationHeader(std::string_view header) {
  auto bad = [](const char* why) { return InvalidArgument("oauth.bad_header", why); };
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  if (header.size() < 6 || Lower(header.substr(0, 6)) != "oauth ") {
    return bad("not an OAuth Authorization header");
  }
  std::string_view rest = header.substr(6);
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == ',' || rest[i] == '\t')) ++i;
    if (i >= rest.size()) break;
    size_t eq = rest.find('=', i);
    if (eq == std::string_view::npos) return bad("parameter without '='");
    std::string name(rest.substr(i, eq - i));
    while (!name.empty() && name.back() == ' ') name.pop_back();
    i = eq + 1;
    std::string_view raw;
    if (i < rest.size() && rest[i] == '"') {
      size_t close = rest.find('"', i + 1);
      if (close == std::string_view::npos) return bad("unterminated quoted value");
      raw = rest.substr(i + 1, close - i - 1);
      i = close + 1;
    } else {
      size_t comma = rest.find(',', i);
      raw = rest.substr(i, comma == std::string_view::npos ? std::string_view::npos : comma - i);
      i = comma == std::string_view::npos ? rest.size() : comma;
    }
    AE_ASSIGN_OR_RETURN(std::string value, PercentDecode(raw));
    if (!out.emplace(name, std::move(value)).second) {
      return InvalidArgument("oauth.duplicate_parameter", "duplicated OAuth parameter " + name);
    }
  }
  return out;
}

}  // namespace ae::dep::oauth1
