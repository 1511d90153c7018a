#pragma once
// OAuth 1.0a HMAC-SHA1 (RFC 5849) as Apple's `GET /session` wants it
// (apple-dep.md §2.1): both the client side (sign, build the Authorization
// header) and the server side (parse the header, rebuild the base string) used
// by the simulator. Thread-safety: free functions, thread-safe.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "events/base/status.h"

namespace ae::dep::oauth1 {

// The four OAuth secrets of a DEP token (sensitive).
struct Credentials {
  std::string consumer_key;
  std::string consumer_secret;
  std::string access_token;
  std::string access_secret;
};

// RFC 3986 percent-encoding: keeps A-Z a-z 0-9 - . _ ~, encodes every other
// byte as %XX with upper-case hex.
std::string PercentEncode(std::string_view s);

// Inverse of PercentEncode (also accepts lower-case hex). kInvalidArgument
// "oauth.bad_encoding" on a truncated or non-hex escape.
Result<std::string> PercentDecode(std::string_view s);

// The base string URI (RFC 5849 §3.4.1.2): scheme and host in lower case, the
// port only when not the scheme's default, the path, no query or fragment.
// "HTTP://Example.COM:80/session?x=1" -> "http://example.com/session".
std::string NormalizeUrl(std::string_view url);

// RFC 5849 §3.4.1: METHOD & enc(normalized URL) & enc(sorted name=value pairs).
// `params` holds every parameter that is signed (never oauth_signature, realm).
std::string SignatureBaseString(std::string_view method, std::string_view url,
                                const std::multimap<std::string, std::string>& params);

// base64(HMAC-SHA1(enc(consumer_secret) & enc(access_secret), base string)).
std::string HmacSha1Signature(const Credentials& credentials, std::string_view base_string);

// The oauth_* parameters (without the signature) of one request.
std::multimap<std::string, std::string> OAuthParams(const Credentials& credentials,
                                                    int64_t timestamp_s, std::string_view nonce);

// The full header value: `OAuth realm="ADM", oauth_consumer_key="...", ...,
// oauth_signature="<percent-encoded>", ...`. `realm` is omitted when empty.
std::string AuthorizationHeader(const Credentials& credentials, std::string_view method,
                                std::string_view url, int64_t timestamp_s, std::string_view nonce,
                                std::string_view realm = "ADM");

// Parses an `Authorization: OAuth ...` value into decoded name -> value pairs
// (realm included as given). kInvalidArgument "oauth.bad_header" when it is not
// an OAuth header, "oauth.duplicate_parameter" on a repeated name.
Result<std::map<std::string, std::string>> ParseAuthorizationHeader(std::string_view header);

}  // namespace ae::dep::oauth1
