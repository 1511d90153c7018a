// libFuzzer target: the DEP server token reader (adapters/apple_dep/token.h), which
// PUT /v1/dep/accounts/{id}/token feeds with the uploaded body.
//
// Two kinds of input, told apart by their first non-blank byte:
//  - '{': token JSON. ParseTokenJson reads it; then the same JSON is sealed into a .p7m
//    for the fixed server key below (ProduceTokenP7m, layout picked from the input) and
//    DecryptToken must give exactly the same token or the same error;
//  - anything else: a token file (S/MIME, bare base64 or DER/BER CMS) for DecryptToken.
// Invariants:
//  - a token has five non-empty fields, an expiry at or after the clock, and round-trips:
//    ToJson() parses back to the same token (same fingerprints), and sealing ToJson()
//    into a new .p7m decrypts to it again;
//  - every error is a 422 with one of the three dep.token_* codes, a message from the
//    closed set token.cc writes (so no part of a secret is ever quoted), and an error
//    body that serialises (fuzz_check.h CheckRefusal).
//
// The server key and certificate are tests/fixtures/apple_dep/test_dep_{key,cert}.pem
// (a throw-away key that protects nothing); make_seeds.sh seals the seeds to them.
// Also linked into the unit test dep_token_corpus_test, which replays the seed corpus.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "adapters/apple_dep/server_identity.h"
#include "adapters/apple_dep/token.h"
#include "events/base/clock.h"
#include "tests/fuzz/fuzz_check.h"

namespace ae::fuzz {
const char* const kTarget = "dep_token_fuzz";
}  // namespace ae::fuzz

namespace {

using ae::fuzz::CheckRefusal;
using ae::dep::DepToken;

// tests/fixtures/apple_dep/test_dep_cert.pem
constexpr char kServerCertPem[] = R"pem(
-----BEGIN CERTIFICATE-----
MIIDLzCCAhegAwIBAgIUWWhVuAGcmPfJx2qPYCjPYo41JxQwDQYJKoZIhvcNAQEL
BQAwHjEcMBoGA1UEAwwTYXV0b2Vucm9sbC10ZXN0LWRlcDAgFw0yNjExMjQyMjQ1
NDJaGA8yMTI2MTAzMTIyNDU0MlowHjEcMBoGA1UEAwwTYXV0b2Vucm9sbC10ZXN0
LWRlcDCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBALj6RPg1TGKHbfZw
p43MEehvL1iLqLoee7y2ouBji2sbbYI4Cvq0XTvsWB6AsAd7uuPz2gWnsHKsArfC
VrVWMltRia9tc3u+fbyok9bxesvTWWHIfCto9XMZI1e1K6GYoMaJxwNIehr0pIii
VEMUrKzEJYSc6m1etFoiNajNj5D0zAlg/ixwUpJsU9P+M3+4Oosef4fucl7K26VM
f9OSgvepTobhUXgSCADz1znCm8QacCn95pO+H2pFFrg4A7Z+9U/BaXxEdx7Y0DTY
1HyS+Gdi5Ij1fpNnN9CQP8n9HJG660pl8iHnzKUWmM7uQbT40yY52DZpfgorOkux
egyzG4sCAwEAAaNjMGEwHQYDVR0OBBYEFFC6ZMWW3Hbko9/geacbVMXa327YMB8G
A1UdIwQYMBaAFFC6ZMWW3Hbko9/geacbVMXa327YMA8GA1UdEwEB/wQFMAMBAf8w
DgYDVR0PAQH/BAQDAgWgMA0GCSqGSIb3DQEBCwUAA4IBAQBk133VxabV0GROIocw
uufFijezawu5bCUR/DGi0chd8X4sAjWVB3/36iremT9qnTX8QhJePzWb5vBjBWI8
zfn7Y7eShNX9KoyB4q5JtU010R83+kiTtlXSMVWw0fhWHo6IwqmZHyaKl7SPckhv
3J9d+yqARoh3o1UKb8CoLk+Hcd/8m+dbBAQ+fV9n0elybDLtJ0AJU0ejZB31ujmo
dGFkmI7IKFaqd8HWCMyqcZEyduh/TAHq+sQRbKNHqWepNV2G590aPNcgWwFY1EiI
ZthKvC/61EVMFxF/IwO04ZOKz7lctwe49YDAe2m9ihXC+LnGpxaSsbeebWX1/st/
QwFY
-----END CERTIFICATE-----
)pem";

// tests/fixtures/apple_dep/test_dep_key.pem
constexpr char kServerKeyPem[] = R"pem(
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC4+kT4NUxih232
cKeNzBHoby9Yi6i6Hnu8tqLgY4trG22COAr6tF077FgegLAHe7rj89oFp7ByrAK3
wla1VjJbUYmvbXN7vn28qJPW8XrL01lhyHwraPVzGSNXtSuhmKDGiccDSHoa9KSI
olRDFKysxCWEnOptXrRaIjWozY+Q9MwJYP4scFKSbFPT/jN/uDqLHn+H7nJeytul
TH/TkoL3qU6G4VF4EggA89c5wpvEGnAp/eaTvh9qRRa4OAO2fvVPwWl8RHce2NA0
2NR8kvhnYuSI9X6TZzfQkD/J/RyRuutKZfIh58ylFpjO7kG0+NMmOdg2aX4KKzpL
sXoMsxuLAgMBAAECggEAPDDn73J8dBVIkWgQBaKRczZ2zBPJ6CJSNlKhxm1t6QDo
TfbJj9HQAtdBx08tuImpA1MOr0dlMbNKQRxiVaiCQ1fRez2c1ffi91hNnyQ9xoRz
8c8opIGHWRgleX1RAMjnDCO6GBXl8c6ImZNk4t0f4SoEYVYkLEmkWy4FkvOs00he
x2vxr/EzvSkw3V3TtvCzyu9Zh2fi2+7O1htlLJ/SDIFhvOgOWuYz3wdW40foWN3w
dRJh4aZtqhJSwhqpVceAUWgK54ls8CcvBEPtW+q4scSclPJt2pvZlt6+vmMTRLLs
+E2weNPjJ4lWRO7A7FufzmgtHZARsZ7K8tk3q7bk/QKBgQDuLVaD+hYc14TDHtR/
otWLkERRzJajl3AXpiCysj9dELRKAmIUY0MTmI+ftvJnAbkWmGHPrqHixWcBVqBD
OUHiYGdhX5JPaPWdvb+Xq82vW+A2+nJm4DV2V9gFPHqDR6XKLLZEWgz7nS2YRT1j
VqdUMkznU7CW7C8WGBZyHBVg/QKBgQDG0c98gkdwVlal0p6SDiJyuNzBB2FDlvye
KO6A3zdyIFIsyGuh29vbMJMPHV3TmSv01Wsl5OJukHjgW87ANr0YA5Gbvcj84LlI
HaR1Cj8tP7bF2+FfIDEimLmyqUpf0KM6wS8yxv370MYmTnX7lG8DRWM+f0yvnMss
svJETg05JwKBgQChClas9bNt3OsPYxEbG+Z3bxxCkqpoAkTwOItzR8JAEsNUJzhZ
wKPh5A14WCKeMzQKaw33doRO6Fo1NXU2/sflYHmGBTDQMI+iEGIzEx8Hqn93rO8d
UAvV8J9HKxVLHm6ivIigvqJ4nlXt1yMiv7xz2W7WGmgUI63SqobCsOpjoQKBgH6W
UbQlwtR8tFiKHJpD050VpMBmMYB2XstYplp5RPUuLQQEa7s3n+kUKV3jRb0W9kzB
oaIT9DOPWtcGvUHW2Fi01P3DPXf8oRuQfAhlCMqHmZiqofkOJxqvAPUHIqqUzYj4
PVPoLQgq6i6zoB0ZagE8Ka8+IBZkD1ybZvMkevjbAoGAF/P7OXY3nRZUXnzBn+bb
Yc/XQM6o/M9GoHZ7DknS8eXQxd72uw5qVGJhfGpWmbANenmSyv3IBb0GYY8wp5mQ
k7E29tyv6o5uXSVN3fePVTGpsE5k0OTl7yDcDG7zsgFBmHI3hJiJd2PyGo4YX8uQ
TqOLwN+RJAaqhltOJWj9/9k=
-----END PRIVATE KEY-----
)pem";

// 2023-11-14T22:13:20Z: the seeds' tokens expire in 2031, one of them in 2020.
constexpr int64_t kNowMs = 1'700'000'000'000;

const ae::dep::ServerIdentity& Identity() {
  static const ae::dep::ServerIdentity* identity = [] {
    auto r = ae::dep::ServerIdentity::FromPem(kServerCertPem, kServerKeyPem);
    AE_FUZZ_CHECK(r.ok(), r.status().ToString());
    return new ae::dep::ServerIdentity(std::move(r).value());
  }();
  return *identity;
}

const ae::ManualClock& Now() {
  static const ae::ManualClock clock(kNowMs);
  return clock;
}

bool SameToken(const DepToken& a, const DepToken& b) {
  return a.consumer_key == b.consumer_key && a.consumer_secret == b.consumer_secret &&
         a.access_token == b.access_token && a.access_secret == b.access_secret &&
         a.access_token_expiry == b.access_token_expiry &&
         a.access_token_expiry_ms == b.access_token_expiry_ms &&
         a.Fingerprint() == b.Fingerprint() &&
         a.ConsumerKeyFingerprint() == b.ConsumerKeyFingerprint();
}

ae::dep::TokenP7mOptions LayoutFrom(uint64_t& rng) {
  ae::dep::TokenP7mOptions o;
  const uint64_t r = ae::fuzz::SplitMix64(rng);
  o.header = (r & 1) ? ae::dep::TokenP7mOptions::Header::kOpenSsl
                     : ae::dep::TokenP7mOptions::Header::kApple;
  o.message_markers = (r & 2) != 0;
  o.crlf = (r & 4) != 0;
  o.wrap_json_at = (r & 8) ? static_cast<int>(1 + (r >> 8) % 97) : 0;
  return o;
}

// A decrypted token is complete, unexpired, and survives ToJson() and a new seal.
void CheckToken(const DepToken& t, uint64_t& rng, bool reseal) {
  ae::fuzz::Note("token expiring " + t.access_token_expiry);
  for (const std::string* f : {&t.consumer_key, &t.consumer_secret, &t.access_token,
                               &t.access_secret, &t.access_token_expiry}) {
    AE_FUZZ_CHECK(!f->empty() && ae::fuzz::ValidUtf8(*f), "empty or non-UTF-8 token field");
  }
  AE_FUZZ_CHECK(t.access_token_expiry_ms >= kNowMs, t.access_token_expiry);
  AE_FUZZ_CHECK(t.Fingerprint().size() == 64 && t.ConsumerKeyFingerprint().size() == 64,
                "fingerprint");
  const std::string json = t.ToJson();
  auto again = ae::dep::ParseTokenJson(json, Now());
  AE_FUZZ_CHECK(again.ok(), "ToJson() does not parse back: " + again.status().ToString());
  AE_FUZZ_CHECK(SameToken(t, *again), "ToJson() round trip changed the token");
  if (!reseal) return;
  auto p7m = ae::dep::ProduceTokenP7m(kServerCertPem, json, LayoutFrom(rng));
  AE_FUZZ_CHECK(p7m.ok(), p7m.status().ToString());
  auto opened = ae::dep::DecryptToken(*p7m, Identity(), Now());
  AE_FUZZ_CHECK(opened.ok(), "a resealed token does not open: " + opened.status().ToString());
  AE_FUZZ_CHECK(SameToken(t, *opened), "a resealed token opened to another token");
}

// The only messages token.cc writes; `json` (when it is an object) gives the expiry that
// the kTokenExpired message quotes.
void CheckTokenError(const ae::Status& s, const nlohmann::json& json) {
  CheckRefusal(s, 422, {ae::dep::kTokenMalformed, ae::dep::kTokenNotForThisAccount,
                        ae::dep::kTokenExpired});
  const std::string& m = s.message();
  if (s.reason() == ae::dep::kTokenExpired) {
    constexpr std::string_view kPrefix = "server token expired at ";
    constexpr std::string_view kSuffix = "; download a new one from the portal";
    AE_FUZZ_CHECK(m.rfind(kPrefix, 0) == 0 && m.size() >= kPrefix.size() + kSuffix.size() &&
                      m.compare(m.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0,
                  m);
    if (json.is_object()) {
      const std::string expiry = m.substr(kPrefix.size(), m.size() - kPrefix.size() - kSuffix.size());
      AE_FUZZ_CHECK(json.value("access_token_expiry", "") == expiry, m);
    }
    return;
  }
  static const char* const kMessages[] = {
      "larger than 1 MiB",
      "the MIME header block has no end",
      "the body is not base64",
      "not a CMS structure (garbage or truncated)",
      "not CMS EnvelopedData",
      ("it is encrypted to another certificate; upload the certificate of this server to the "
       "portal and download the token again"),
      "key unusable",
      "our private key does not open it",
      "the encrypted content does not decrypt (corrupt or truncated)",
      "the content is not a JSON object",
      "field consumer_key is missing or empty",
      "field consumer_secret is missing or empty",
      "field access_token is missing or empty",
      "field access_secret is missing or empty",
      "field access_token_expiry is missing or empty",
      "access_token_expiry is not an RFC 3339 time",
  };
  bool known = false;
  for (const char* k : kMessages) known = known || m == std::string("server token: ") + k;
  AE_FUZZ_CHECK(known, "unexpected message: " + ae::fuzz::Printable(m));
}

bool LooksLikeJson(std::string_view in) {
  const size_t at = in.find_first_not_of(" \t\r\n");
  return at != std::string_view::npos && in[at] == '{';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  uint64_t rng = ae::fuzz::Fnv1a(input);

  if (!LooksLikeJson(input)) {
    auto token = ae::dep::DecryptToken(input, Identity(), Now());
    if (token.ok()) {
      CheckToken(*token, rng, /*reseal=*/true);
    } else {
      CheckTokenError(token.status(), nlohmann::json());
    }
    return 0;
  }

  const nlohmann::json json = nlohmann::json::parse(input, nullptr, /*allow_exceptions=*/false);
  auto parsed = ae::dep::ParseTokenJson(input, Now());
  if (parsed.ok()) {
    CheckToken(*parsed, rng, /*reseal=*/false);
  } else {
    CheckTokenError(parsed.status(), json);
  }
  // Sealed as the portal would seal it, the same JSON must read the same. The unwrapping
  // joins lines and drops -----BEGIN/END MESSAGE----- markers, so only JSON without line
  // breaks and dashes survives the trip unchanged.
  if (input.size() > 4096 || input.find_first_of("\r\n") != std::string_view::npos ||
      input.find("-----") != std::string_view::npos) {
    return 0;
  }
  auto p7m = ae::dep::ProduceTokenP7m(kServerCertPem, input, LayoutFrom(rng));
  AE_FUZZ_CHECK(p7m.ok(), p7m.status().ToString());
  auto opened = ae::dep::DecryptToken(*p7m, Identity(), Now());
  AE_FUZZ_CHECK(opened.ok() == parsed.ok(),
                "sealed: " + opened.status().ToString() + ", bare: " + parsed.status().ToString());
  if (opened.ok()) {
    AE_FUZZ_CHECK(SameToken(*opened, *parsed), "the sealed JSON opened to another token");
  } else {
    AE_FUZZ_CHECK(opened.status().reason() == parsed.status().reason() &&
                      opened.status().message() == parsed.status().message(),
                  "sealed: " + opened.status().ToString() + ", bare: " + parsed.status().ToString());
  }
  return 0;
}
