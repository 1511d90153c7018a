// OAuth 1.0a HMAC-SHA1 for GET /session (apple-dep.md §2.1).

#include "adapters/apple_dep/oauth1.h"
#include "events/base/crypto.h"
#include "tests/support/test_support.h"

namespace ae::dep::oauth1 {
namespace {

const Credentials kSpec{"CK_example", "CS_example", "AT_example", "AS_example"};
constexpr char kUrl[] = "https://mdmenrollment.apple.com/session";

TEST(DepOAuth1, MatchesTheSpecTestVectorByteForByte) {
  auto params = OAuthParams(kSpec, 1700000000, "0123456789abcdef");
  std::string base = SignatureBaseString("GET", kUrl, params);
  EXPECT_EQ(base,
            "GET&https%3A%2F%2Fmdmenrollment.apple.com%2Fsession&oauth_consumer_key%3DCK_example%"
            "26oauth_nonce%3D0123456789abcdef%26oauth_signature_method%3DHMAC-SHA1%26oauth_"
            "timestamp%3D1700000000%26oauth_token%3DAT_example%26oauth_version%3D1.0");
  EXPECT_EQ(HmacSha1Signature(kSpec, base), "e0cqUGzCgo8BrmBxkrq3RAkcaIk=");
}

TEST(DepOAuth1, HeaderCarriesEveryParameterAndTheEncodedSignature) {
  std::string h = AuthorizationHeader(kSpec, "GET", kUrl, 1700000000, "0123456789abcdef");
  EXPECT_EQ(h.rfind("OAuth realm=\"ADM\", ", 0), 0u) << h;
  EXPECT_NE(h.find("oauth_signature=\"e0cqUGzCgo8BrmBxkrq3RAkcaIk%3D\""), std::string::npos);
  EXPECT_NE(h.find("oauth_consumer_key=\"CK_example\""), std::string::npos);
  EXPECT_NE(h.find("oauth_token=\"AT_example\""), std::string::npos);
  EXPECT_NE(h.find("oauth_signature_method=\"HMAC-SHA1\""), std::string::npos);
  EXPECT_NE(h.find("oauth_timestamp=\"1700000000\""), std::string::npos);
  EXPECT_NE(h.find("oauth_nonce=\"0123456789abcdef\""), std::string::npos);
  EXPECT_NE(h.find("oauth_version=\"1.0\""), std::string::npos);
  EXPECT_EQ(h.find("CS_example"), std::string::npos) << "a secret leaked into the header";
  EXPECT_EQ(h.find("AS_example"), std::string::npos) << "a secret leaked into the header";
  EXPECT_EQ(AuthorizationHeader(kSpec, "GET", kUrl, 1, "n", "").rfind("OAuth oauth_", 0), 0u);
}

TEST(DepOAuth1, ParsedHeaderVerifiesAgainstTheRebuiltBaseString) {
  std::string h = AuthorizationHeader(kSpec, "GET", kUrl, 1700000000, "0123456789abcdef");
  auto p = ParseAuthorizationHeader(h);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->at("realm"), "ADM");
  EXPECT_EQ(p->at("oauth_signature"), "e0cqUGzCgo8BrmBxkrq3RAkcaIk=");
  std::multimap<std::string, std::string> signed_params;
  for (const auto& [k, v] : *p) {
    if (k != "realm" && k != "oauth_signature") signed_params.emplace(k, v);
  }
  EXPECT_EQ(HmacSha1Signature(kSpec, SignatureBaseString("GET", kUrl, signed_params)),
            p->at("oauth_signature"));
}

TEST(DepOAuth1, ParseRejectsNonOAuthAndDuplicatedParameters) {
  EXPECT_THAT(ParseAuthorizationHeader("Bearer abc"),
              StatusIs(StatusCode::kInvalidArgument, "oauth.bad_header"));
  EXPECT_THAT(ParseAuthorizationHeader("OAuth oauth_nonce=\"a\", oauth_nonce=\"b\""),
              StatusIs(StatusCode::kInvalidArgument, "oauth.duplicate_parameter"));
  EXPECT_THAT(ParseAuthorizationHeader("OAuth oauth_nonce=\"%4\""),
              StatusIs(StatusCode::kInvalidArgument, "oauth.bad_encoding"));
}

TEST(DepOAuth1, PercentEncodesPerRfc3986) {
  EXPECT_EQ(PercentEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(PercentEncode("a b+c/d=e&f*"), "a%20b%2Bc%2Fd%3De%26f%2A");
  EXPECT_EQ(PercentEncode("\xc3\xa9"), "%C3%A9");
  EXPECT_EQ(*PercentDecode("a%20b%2bc"), "a b+c");
}

TEST(DepOAuth1, SignsTheOverriddenBaseUrl) {
  EXPECT_EQ(NormalizeUrl("HTTPS://MdmEnrollment.Apple.COM:443/session?x=1"), kUrl);
  EXPECT_EQ(NormalizeUrl("http://127.0.0.1:9000/session"), "http://127.0.0.1:9000/session");
  EXPECT_EQ(NormalizeUrl("http://LOCALHOST:80/session"), "http://localhost/session");
  auto params = OAuthParams(kSpec, 1700000000, "0123456789abcdef");
  EXPECT_NE(HmacSha1Signature(kSpec, SignatureBaseString("GET", kUrl, params)),
            HmacSha1Signature(kSpec,
                              SignatureBaseString("GET", "http://127.0.0.1:9000/session", params)));
}

TEST(DepOAuth1, EncodesTheKeyFromBothSecrets) {
  Credentials odd{"ck", "c&s", "at", "a s"};
  // Key = enc("c&s") & enc("a s"): a raw '&' in a secret must not split the key.
  auto params = OAuthParams(odd, 1, "n");
  std::string base = SignatureBaseString("GET", kUrl, params);
  EXPECT_EQ(HmacSha1Signature(odd, base), crypto::Base64(crypto::HmacSha1("c%26s&a%20s", base)));
}

}  // namespace
}  // namespace ae::dep::oauth1
