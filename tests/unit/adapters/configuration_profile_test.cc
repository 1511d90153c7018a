// A policy's configuration profile: written by libplist, read back as a device reads it,
// and signed so that OpenSSL verifies it against the signing certificate alone.

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "adapters/apple_dep/server_identity.h"
#include "adapters/apple_mdm/configuration_profile.h"
#include "events/base/clock.h"
#include "tests/support/test_support.h"

namespace ae::mdm {
namespace {

using nlohmann::json;

ConfigurationProfileOptions Office() {
  ConfigurationProfileOptions o;
  o.identifier = "com.autoenroll.policy.office";
  o.uuid_seed = "policy/office/1";
  o.display_name = "Office <&> \"Wi-Fi\"";
  o.payloads = json::parse(R"([
    {"PayloadType":"com.apple.wifi.managed","PayloadIdentifier":"com.x.wifi","SSID_STR":"Office & Co",
     "AutoJoin":true,"Priority":-3,"Ratio":0.5,"Nested":{"List":[1,"two"]}},
    {"PayloadType":"com.apple.mobiledevice.passwordpolicy","PayloadIdentifier":"com.x.pin","minLength":6}])");
  return o;
}

// OpenSSL's own verification of a CMS SignedData with `cert_pem` as the only trust anchor;
// the content on success.
std::optional<std::string> VerifyWith(const std::string& der, const std::string& cert_pem) {
  BIO* in = BIO_new_mem_buf(der.data(), static_cast<int>(der.size()));
  CMS_ContentInfo* cms = d2i_CMS_bio(in, nullptr);
  BIO* cb = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, cert);
  BIO* out = BIO_new(BIO_s_mem());
  std::optional<std::string> content;
  if (cms != nullptr && CMS_verify(cms, nullptr, store, nullptr, out, CMS_BINARY) == 1) {
    char* data = nullptr;
    long len = BIO_get_mem_data(out, &data);
    content = std::string(data, static_cast<size_t>(len));
  }
  BIO_free(out);
  X509_STORE_free(store);
  X509_free(cert);
  BIO_free(cb);
  CMS_ContentInfo_free(cms);
  BIO_free(in);
  return content;
}

TEST(ConfigurationProfile, IsAPlistADeviceReadsBackTheSameWayEveryTime) {
  auto xml = BuildConfigurationProfile(Office());
  ASSERT_THAT(xml, IsOk());
  EXPECT_NE(xml->find("Office &amp; Co"), std::string::npos);  // escaped by libplist
  EXPECT_NE(xml->find("<integer>-3</integer>"), std::string::npos);
  auto parsed = ParseConfigurationProfile(*xml);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->identifier, "com.autoenroll.policy.office");
  EXPECT_FALSE(parsed->is_signed);
  EXPECT_EQ(parsed->payload_types,
            (std::vector<std::string>{"com.apple.wifi.managed",
                                      "com.apple.mobiledevice.passwordpolicy"}));
  EXPECT_EQ(*BuildConfigurationProfile(Office()), *xml);  // UUIDs derive from the version
  ConfigurationProfileOptions v2 = Office();
  v2.uuid_seed = "policy/office/2";
  auto other = ParseConfigurationProfile(*BuildConfigurationProfile(v2));
  ASSERT_THAT(other, IsOk());
  EXPECT_EQ(other->identifier, parsed->identifier);  // the device replaces the old version
  EXPECT_NE(other->uuid, parsed->uuid);

  ConfigurationProfileOptions bad = Office();
  bad.payloads[1]["Oops"] = nullptr;
  auto refused = BuildConfigurationProfile(bad);
  EXPECT_THAT(refused, StatusIs(StatusCode::kInvalidArgument, "mdm.bad_profile_payload"));
  EXPECT_EQ(refused.status().field(), "apple_payloads[1].Oops");
}

TEST(ConfigurationProfile, ASignedProfileVerifiesWithOpenSslAgainstTheSigningCertificate) {
  dep::ServerIdentityOptions io;
  io.common_name = "autoenroll profile signing";
  auto identity = dep::ServerIdentity::Generate(io, Clock::Real());
  ASSERT_THAT(identity, IsOk());
  auto xml = BuildConfigurationProfile(Office());
  ASSERT_THAT(xml, IsOk());
  auto der = SignProfile(*xml, identity->key(), identity->certificate());
  ASSERT_THAT(der, IsOk());

  auto content = VerifyWith(*der, identity->CertificatePem());
  ASSERT_TRUE(content.has_value());
  EXPECT_EQ(*content, *xml);
  auto stranger = dep::ServerIdentity::Generate(io, Clock::Real());
  ASSERT_THAT(stranger, IsOk());
  EXPECT_FALSE(VerifyWith(*der, stranger->CertificatePem()).has_value());

  auto parsed = ParseConfigurationProfile(*der);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_TRUE(parsed->is_signed);
  EXPECT_EQ(parsed->identifier, "com.autoenroll.policy.office");
  std::string tampered = *der;
  size_t at = tampered.find("Office &amp; Co");
  ASSERT_NE(at, std::string::npos);
  tampered[at] = 'X';
  EXPECT_THAT(ParseConfigurationProfile(tampered),
              StatusIs(StatusCode::kInvalidArgument, "mdm.bad_profile"));
}

}  // namespace
}  // namespace ae::mdm
