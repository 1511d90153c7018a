// The MDM CA dates what it issues by the clock it is given, not the machine's.

#include <openssl/x509.h>

#include <gtest/gtest.h>

#include "adapters/apple_mdm/internal/ossl.h"
#include "adapters/apple_mdm/mdm_ca.h"
#include "tests/support/test_support.h"

namespace ae::mdm {
namespace {

constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 86400;

// notBefore and notAfter of a PEM certificate, in seconds since the epoch.
std::pair<int64_t, int64_t> Validity(const std::string& pem) {
  auto certs = ossl::ReadCertificatesPem(pem);
  EXPECT_EQ(certs.size(), 1u);
  if (certs.empty()) return {0, 0};
  auto seconds = [](const ASN1_TIME* t) {
    struct tm tm {};
    EXPECT_EQ(ASN1_TIME_to_tm(t, &tm), 1);
    return static_cast<int64_t>(timegm(&tm));
  };
  return {seconds(X509_get0_notBefore(certs.front().get())),
          seconds(X509_get0_notAfter(certs.front().get()))};
}

TEST(MdmCaClock, TheCaAndEachDeviceIdentityAreValidFromTheInjectedClock) {
  // Years away from the machine's own time, in either direction.
  for (int64_t now_s : {int64_t{1'300'000'000}, int64_t{2'200'000'000}}) {
    ManualClock clock(now_s * 1000 + 999);
    auto ca = MdmCa::Generate("autoenroll MDM CA", clock);
    ASSERT_THAT(ca, IsOk());
    auto [ca_from, ca_until] = Validity(ca->CertificatePem());
    EXPECT_EQ(ca_from, now_s - kHour);
    EXPECT_EQ(ca_until, now_s + 10 * 365 * kDay);

    clock.Advance(5 * kDay * 1000);
    auto identity = ca->IssueDeviceIdentity("C02XK1ABCD", clock);
    ASSERT_THAT(identity, IsOk());
    auto [from, until] = Validity(identity->certificate_pem);
    EXPECT_EQ(from, now_s + 5 * kDay - kHour);
    EXPECT_EQ(until, now_s + 5 * kDay + 365 * kDay);
  }
}

}  // namespace
}  // namespace ae::mdm
