// ServerIdentity: the key pair and certificate an admin uploads to the portal.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "adapters/apple_dep/server_identity.h"
#include "tests/support/test_support.h"

namespace ae::dep {
namespace {

struct X509Free {
  void operator()(X509* c) const { X509_free(c); }
};

std::unique_ptr<X509, X509Free> ParseCert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return std::unique_ptr<X509, X509Free>(cert);
}

class DepServerIdentity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ManualClock clock(1'700'000'000'000);
    auto id = ServerIdentity::Generate({}, clock);
    ASSERT_THAT(id, IsOk());
    identity_ = new ServerIdentity(std::move(id).value());
  }
  static void TearDownTestSuite() {
    delete identity_;
    identity_ = nullptr;
  }
  static ServerIdentity* identity_;
};
ServerIdentity* DepServerIdentity::identity_ = nullptr;

TEST_F(DepServerIdentity, CertificateIsSelfSignedRsa2048ForKeyEncipherment) {
  std::string pem = identity_->CertificatePem();
  ASSERT_EQ(pem.rfind("-----BEGIN CERTIFICATE-----", 0), 0u);
  auto cert = ParseCert(pem);
  ASSERT_NE(cert, nullptr);
  EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  ASSERT_NE(pub, nullptr);
  EXPECT_TRUE(EVP_PKEY_is_a(pub, "RSA"));
  EXPECT_EQ(EVP_PKEY_get_bits(pub), 2048);
  EXPECT_EQ(X509_verify(cert.get(), pub), 1) << "not self-signed";
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())), 0);
  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "autoenroll-dep");
  uint32_t usage = X509_get_key_usage(cert.get());
  EXPECT_TRUE(usage & KU_KEY_ENCIPHERMENT);
  EXPECT_TRUE(usage & KU_DIGITAL_SIGNATURE);
}

TEST_F(DepServerIdentity, ValidityStartsAtTheClockAndLastsAYear) {
  auto cert = ParseCert(identity_->CertificatePem());
  ASSERT_NE(cert, nullptr);
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert.get()), X509_get0_notAfter(cert.get()));
  EXPECT_EQ(days, 365);
  time_t t = 1'700'000'000;
  EXPECT_EQ(ASN1_TIME_cmp_time_t(X509_get0_notBefore(cert.get()), t), 0);
}

TEST_F(DepServerIdentity, PrivateKeyExportsAsPkcs8AndRestores) {
  std::string key_pem = identity_->PrivateKeyPem();
  EXPECT_EQ(key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  auto restored = ServerIdentity::FromPem(identity_->CertificatePem(), key_pem);
  ASSERT_THAT(restored, IsOk());
  EXPECT_EQ(restored->PublicKeyFingerprint(), identity_->PublicKeyFingerprint());
  EXPECT_EQ(restored->CertificatePem(), identity_->CertificatePem());
}

TEST_F(DepServerIdentity, FingerprintIsTheCertificatesPublicKeyHash) {
  std::string fp = identity_->PublicKeyFingerprint();
  EXPECT_EQ(fp.size(), 64u);
  EXPECT_EQ(fp.find_first_not_of("0123456789abcdef"), std::string::npos);
  auto from_cert = CertificatePublicKeyFingerprint(identity_->CertificatePem());
  ASSERT_THAT(from_cert, IsOk());
  EXPECT_EQ(*from_cert, fp);
  EXPECT_EQ(identity_->PrivateKeyPem().find(fp), std::string::npos);
}

TEST_F(DepServerIdentity, TwoIdentitiesNeverShareAKey) {
  ManualClock clock;
  auto other = ServerIdentity::Generate({.common_name = "other"}, clock);
  ASSERT_THAT(other, IsOk());
  EXPECT_NE(other->PublicKeyFingerprint(), identity_->PublicKeyFingerprint());
  EXPECT_THAT(ServerIdentity::FromPem(identity_->CertificatePem(), other->PrivateKeyPem()),
              StatusIs(StatusCode::kInvalidArgument, "dep.key_mismatch"));
}

TEST_F(DepServerIdentity, FromPemRejectsGarbage) {
  EXPECT_THAT(ServerIdentity::FromPem("not a cert", identity_->PrivateKeyPem()),
              StatusIs(StatusCode::kInvalidArgument, "dep.bad_certificate"));
  EXPECT_THAT(ServerIdentity::FromPem(identity_->CertificatePem(), "not a key"),
              StatusIs(StatusCode::kInvalidArgument, "dep.bad_private_key"));
  EXPECT_THAT(CertificatePublicKeyFingerprint(""),
              StatusIs(StatusCode::kInvalidArgument, "dep.bad_certificate"));
}

TEST_F(DepServerIdentity, GenerateRejectsWeakOrEmptyOptions) {
  ManualClock clock;
  EXPECT_THAT(ServerIdentity::Generate({.rsa_bits = 1024}, clock),
              StatusIs(StatusCode::kInvalidArgument, "dep.bad_identity_options"));
  EXPECT_THAT(ServerIdentity::Generate({.common_name = ""}, clock),
              StatusIs(StatusCode::kInvalidArgument, "dep.bad_identity_options"));
  EXPECT_THAT(ServerIdentity::Generate({.validity_days = 0}, clock),
              StatusIs(StatusCode::kInvalidArgument, "dep.bad_identity_options"));
}

}  // namespace
}  // namespace ae::dep
