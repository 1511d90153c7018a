// adapters/http base URLs (the vendor hosts an administrator configures): parsed as RFC 3986
// URLs, refused with the reason when they hold what a base URL must not.

#include "adapters/http/http_client.h"
#include "tests/support/test_support.h"

namespace ae::http {
namespace {

TEST(HttpBaseUrl, AHostPortAndPrefixAreTakenApartAndTheOriginOmitsTheDefaultPort) {
  auto u = ParseBaseUrl("HTTPS://Knox.Example.COM/api/v1/");
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "knox.example.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->prefix, "/api/v1");
  EXPECT_EQ(u->Origin(), "https://knox.example.com");

  auto local = ParseBaseUrl("http://127.0.0.1:8080");
  ASSERT_THAT(local, IsOk());
  EXPECT_EQ(local->port, 8080);
  EXPECT_EQ(local->prefix, "");
  EXPECT_EQ(local->Origin(), "http://127.0.0.1:8080");
}

TEST(HttpBaseUrl, AnIpv6LiteralKeepsItsBracketsAndItsPort) {
  auto u = ParseBaseUrl("http://[::1]:9443/dep");
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->host, "[::1]");
  EXPECT_EQ(u->port, 9443);
  EXPECT_EQ(u->prefix, "/dep");
  EXPECT_EQ(u->Origin(), "http://[::1]:9443");
  auto plain = ParseBaseUrl("https://[2001:DB8::1]");
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(plain->host, "[2001:db8::1]");
  EXPECT_EQ(plain->port, 443);
}

TEST(HttpBaseUrl, CredentialsInTheUrlAreRefusedNotTakenAsTheHost) {
  for (const char* url : {"https://user:secret@knox.example.com", "http://admin@127.0.0.1:80"}) {
    auto u = ParseBaseUrl(url);
    EXPECT_THAT(u, StatusIs(StatusCode::kInvalidArgument, "http.bad_base_url")) << url;
    ASSERT_FALSE(u.ok());
    EXPECT_THAT(u.status().message(), ::testing::HasSubstr("no user name or password")) << url;
  }
}

TEST(HttpBaseUrl, WhatIsNotABaseUrlIsRefusedWithTheReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"knox.example.com", "missing scheme"},
      {"ftp://knox.example.com", "scheme must be http or https"},
      {"https://", "missing host"},
      {"https://knox.example.com:0", "bad port"},
      {"https://knox.example.com:99999", "bad port"},
      {"https://knox.example.com:", "bad port"},
      {"https://knox.example.com/api?x=1", "no query or fragment"},
      {"https://knox.example.com/#top", "no query or fragment"},
      {"https://knox example.com", "not a URL"},
  };
  for (const auto& [url, why] : cases) {
    auto u = ParseBaseUrl(url);
    ASSERT_FALSE(u.ok()) << url;
    EXPECT_EQ(u.status().reason(), "http.bad_base_url") << url;
    EXPECT_THAT(u.status().message(), ::testing::HasSubstr(why)) << url;
  }
}

}  // namespace
}  // namespace ae::http
