#pragma once
// The DEP server token (apple-dep.md §1.2-1.5): the S/MIME `.p7m` file the
// admin downloads from Apple Business/School Manager, encrypted to the
// certificate of our ServerIdentity, holding the OAuth 1.0a credentials.
//
// Errors never carry any part of the secrets: not in messages, not in logs.
// Thread-safety: free functions, thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

#include "adapters/apple_dep/server_identity.h"
#include "events/base/clock.h"
#include "events/base/status.h"

namespace ae::dep {

// Stable reasons (all with StatusCode::kUnprocessable).
inline constexpr char kTokenNotForThisAccount[] = "dep.token_not_for_this_account";
inline constexpr char kTokenMalformed[] = "dep.token_malformed";
inline constexpr char kTokenExpired[] = "dep.token_expired";

// The decrypted token. All four secrets are sensitive: keep them in the secret
// store, never in events or logs (use Fingerprint() / log::Redacted()).
struct DepToken {
  std::string consumer_key;
  std::string consumer_secret;
  std::string access_token;
  std::string access_secret;
  std::string access_token_expiry;  // as Apple wrote it, e.g. "2027-07-01T22:18:53Z"
  int64_t access_token_expiry_ms = 0;

  // Lower-case hex SHA-256 over the five fields (length-prefixed): identifies
  // the token in events without revealing it. Equal tokens, equal fingerprint.
  std::string Fingerprint() const;
  // Lower-case hex SHA-256 of consumer_key alone: stable across renewals of the
  // same MDM server, so the domain can refuse a token of another server
  // (nanodep's consumer-key mismatch guard, §1.3) without storing the key.
  std::string ConsumerKeyFingerprint() const;
  // The token JSON Apple would write (one line); sensitive.
  std::string ToJson() const;
};

// Decrypts a token file as the portal hands it out: a MIME header block (any
// order, folded lines, CRLF or LF) then base64, or bare base64, or raw DER/BER
// CMS; BER indefinite lengths and chunked OCTET STRINGs are accepted. The inner
// MIME entity may or may not carry `-----BEGIN MESSAGE-----` lines and the JSON
// may be wrapped anywhere, even inside a value.
//
// Errors (kUnprocessable):
//   kTokenNotForThisAccount  no recipient matches `identity`'s certificate, or
//                            its key does not open the content key
//   kTokenMalformed          not a CMS EnvelopedData, truncated, bad JSON, or a
//                            missing/empty field or unparsable expiry
//   kTokenExpired            access_token_expiry is before `clock` now
Result<DepToken> DecryptToken(std::string_view p7m, const ServerIdentity& identity,
                              const Clock& clock);

// Parses token JSON (already unwrapped). Same kTokenMalformed / kTokenExpired
// rules as DecryptToken.
Result<DepToken> ParseTokenJson(std::string_view json, const Clock& clock);

// How ProduceTokenP7m lays the file out; the defaults match Apple's portal.
struct TokenP7mOptions {
  enum class Header {
    kApple,    // Apple's four-line header of §1.2, then 76-column base64
    kOpenSsl,  // SMIME_write_CMS's header (MIME-Version, application/x-pkcs7-mime)
  };
  Header header = Header::kApple;
  bool message_markers = true;  // -----BEGIN/END MESSAGE----- around the JSON
  int wrap_json_at = 0;         // > 0: break the JSON every N chars, even mid-value
  bool crlf = true;             // CRLF line ends in the inner entity (LF otherwise)
};

// Builds a `.p7m` the way Apple does (§1.5): inner MIME entity, CMS
// EnvelopedData to `certificate_pem` with RSA PKCS#1 v1.5 key transport and
// AES-128-CBC, BER indefinite-length streaming encoding, MIME wrapper. For the
// simulator and tests. kInvalidArgument "dep.bad_certificate";
// kInternal "dep.token_encrypt_failed".
Result<std::string> ProduceTokenP7m(std::string_view certificate_pem, std::string_view token_json,
                                    const TokenP7mOptions& options = {});

}  // namespace ae::dep
