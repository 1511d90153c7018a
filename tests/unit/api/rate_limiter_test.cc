// Who a rate limit counts: client addresses behind trusted proxies, IPv6 /64s, device
// identities.

#include "api/rate_limiter.h"

#include "adapters/apple_mdm/internal/ossl.h"
#include "events/base/crypto.h"
#include "tests/support/test_support.h"

namespace ae::api {
namespace {

namespace o = ::ae::mdm::ossl;

IpAddress Ip(const std::string& text) {
  auto a = IpAddress::Parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress{});
}

Networks Nets(const std::vector<std::string>& cidrs) {
  auto n = Networks::Parse(cidrs);
  EXPECT_THAT(n, IsOk());
  return n.ok() ? *n : Networks{};
}

TEST(IpAddress, ParsesBothFamiliesAndTreatsMappedIpv4AsIpv4) {
  EXPECT_FALSE(Ip("192.0.2.7").v6);
  EXPECT_EQ(Ip("192.0.2.7").ToString(), "192.0.2.7");
  EXPECT_TRUE(Ip("2001:db8::1").v6);
  EXPECT_EQ(Ip("2001:DB8:0:0::1").ToString(), "2001:db8::1");
  EXPECT_EQ(Ip("::ffff:192.0.2.7"), Ip("192.0.2.7"));
  for (const char* bad : {"", "192.0.2", "192.0.2.7:80", "[2001:db8::1]", "example.com",
                          "2001:db8::1%eth0", "192.0.2.256", " 192.0.2.7"}) {
    EXPECT_FALSE(IpAddress::Parse(bad).has_value()) << bad;
  }
  EXPECT_TRUE(Ip("127.8.9.10").IsLoopback());
  EXPECT_TRUE(Ip("::1").IsLoopback());
  EXPECT_FALSE(Ip("::2").IsLoopback());
  EXPECT_FALSE(Ip("10.0.0.1").IsLoopback());
}

TEST(Networks, RefusesWhatIsNotANetworkNamingIt) {
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/8x", "10.0.0.0/-1", "x/8",
                          "2001:db8::/129", "10.0.0.0/8/8", "proxy.example.com"}) {
    auto n = Networks::Parse({"127.0.0.1/32", bad});
    EXPECT_THAT(n, StatusIs(StatusCode::kInvalidArgument, "server.bad_cidr")) << bad;
    EXPECT_NE(n.status().message().find(bad), std::string::npos) << n.status().message();
  }
}

TEST(Networks, MatchWholeAndPartialBytesOfTheirOwnFamily) {
  Networks n = Nets({"10.0.0.0/8", "172.16.0.0/12", "192.0.2.9", "2001:db8::/32"});
  EXPECT_TRUE(n.Contains(Ip("10.255.1.2")));
  EXPECT_FALSE(n.Contains(Ip("11.0.0.1")));
  EXPECT_TRUE(n.Contains(Ip("172.31.255.255")));
  EXPECT_FALSE(n.Contains(Ip("172.32.0.0")));
  EXPECT_TRUE(n.Contains(Ip("192.0.2.9")));  // a bare address is a /32
  EXPECT_FALSE(n.Contains(Ip("192.0.2.10")));
  EXPECT_TRUE(n.Contains(Ip("2001:db8:ffff::1")));
  EXPECT_FALSE(n.Contains(Ip("2001:db9::1")));
  EXPECT_TRUE(n.Contains(Ip("::ffff:10.1.2.3")));  // mapped IPv4 is IPv4
  EXPECT_FALSE(Nets({"0.0.0.0/0"}).Contains(Ip("2001:db8::1")));  // never across families
  EXPECT_TRUE(Nets({"::/0"}).Contains(Ip("2001:db8::1")));
}

TEST(ClientAddress, ForwardedForIsBelievedOnlyFromTrustedProxies) {
  Networks proxies = Nets({"10.0.0.0/8"});
  // Not from a proxy: the header is the client's own claim.
  EXPECT_EQ(ClientAddress("203.0.113.5", {"198.51.100.1"}, proxies)->ToString(), "203.0.113.5");
  // No trusted proxies at all: likewise.
  EXPECT_EQ(ClientAddress("10.0.0.2", {"198.51.100.1"}, Networks{})->ToString(), "10.0.0.2");
  // From a proxy: the hop it saw.
  EXPECT_EQ(ClientAddress("10.0.0.2", {"198.51.100.1"}, proxies)->ToString(), "198.51.100.1");
  // From a proxy without the header: the proxy.
  EXPECT_EQ(ClientAddress("10.0.0.2", {}, proxies)->ToString(), "10.0.0.2");
  EXPECT_FALSE(ClientAddress("not-an-address", {}, proxies).has_value());
}

TEST(ClientAddress, TheRightmostUntrustedHopIsTheClient) {
  Networks proxies = Nets({"10.0.0.0/8", "2001:db8:ff::/48"});
  // The client prepended a lie; the proxies appended what they saw.
  EXPECT_EQ(ClientAddress("10.0.0.2", {"1.1.1.1, 198.51.100.7, 10.9.9.9"}, proxies)->ToString(),
            "198.51.100.7");
  // Several header lines are one list, in order.
  EXPECT_EQ(ClientAddress("10.0.0.2", {"1.1.1.1", "198.51.100.7", "2001:db8:ff::1"}, proxies)
                ->ToString(),
            "198.51.100.7");
  // Every hop trusted: the leftmost.
  EXPECT_EQ(ClientAddress("10.0.0.2", {"10.1.1.1, 10.2.2.2"}, proxies)->ToString(), "10.1.1.1");
  // A hop that is not an address stops the walk at the last trusted hop.
  EXPECT_EQ(ClientAddress("10.0.0.2", {"198.51.100.7, garbage, 10.3.3.3"}, proxies)->ToString(),
            "10.3.3.3");
  // Proxies that add ports.
  EXPECT_EQ(ClientAddress("10.0.0.2", {"198.51.100.7:5555"}, proxies)->ToString(),
            "198.51.100.7");
  EXPECT_EQ(ClientAddress("10.0.0.2", {"[2001:db8:1::5]:443"}, proxies)->ToString(),
            "2001:db8:1::5");
}

TEST(SourceKey, Ipv6AddressesShareTheirSlash64) {
  EXPECT_EQ(SourceKey(Ip("192.0.2.7")), "192.0.2.7");
  EXPECT_EQ(SourceKey(Ip("2001:db8:1:2::1")), "2001:db8:1:2::/64");
  EXPECT_EQ(SourceKey(Ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")), SourceKey(Ip("2001:db8:1:2::1")));
  EXPECT_NE(SourceKey(Ip("2001:db8:1:3::1")), SourceKey(Ip("2001:db8:1:2::1")));
  EXPECT_EQ(SourceKey(Ip("::ffff:192.0.2.7")), "192.0.2.7");
}

// A detached CMS signature over `body` by a fresh self-signed identity.
struct Signer {
  o::Ptr<EVP_PKEY> key = o::GenerateRsaKey(2048);
  o::Ptr<X509> cert;
  explicit Signer(const std::string& cn) {
    o::CertSpec spec;
    spec.subject = {{"CN", cn}};
    spec.not_before = time(nullptr) - 60;
    spec.not_after = time(nullptr) + 3600;
    cert = o::MakeCertificate(spec, key.get(), nullptr, nullptr);
  }
  std::string Header(std::string_view body) const {
    return crypto::Base64(o::CmsSign(body, cert.get(), key.get(), {}, EVP_sha256(), true));
  }
};

TEST(MdmSignerKey, NamesTheSigningCertificateWhateverTheBody) {
  Signer a("device-a"), b("device-b");
  ASSERT_TRUE(a.cert && b.cert);
  const std::string ka = MdmSignerKey(a.Header("one body"));
  EXPECT_EQ(ka.rfind("device:", 0), 0u) << ka;
  EXPECT_EQ(MdmSignerKey(a.Header("another body")), ka);
  EXPECT_NE(MdmSignerKey(b.Header("one body")), ka);
  // Line breaks in the header, as some clients fold it.
  std::string folded = a.Header("x");
  folded.insert(40, "\r\n ");
  EXPECT_EQ(MdmSignerKey(folded), ka);
  for (const char* none : {"", "not base64 !!", "aGVsbG8="}) EXPECT_EQ(MdmSignerKey(none), "");
}

}  // namespace
}  // namespace ae::api
