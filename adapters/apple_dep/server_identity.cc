#include "adapters/apple_dep/server_identity.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>

#include "adapters/apple_dep/internal/openssl_util.h"
#include "events/base/crypto.h"

namespace ae::dep {

void ServerIdentity::KeyFree::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
void ServerIdentity::CertFree::operator()(X509* c) const { X509_free(c); }

ServerIdentity::ServerIdentity(std::unique_ptr<EVP_PKEY, KeyFree> key,
                               std::unique_ptr<X509, CertFree> cert)
    : key_(std::move(key)), cert_(std::move(cert)) {}
ServerIdentity::ServerIdentity(ServerIdentity&&) noexcept = default;
ServerIdentity& ServerIdentity::operator=(ServerIdentity&&) noexcept = default;
ServerIdentity::~ServerIdentity() = default;

namespace {

Status KeygenFailed(const char* what) {
  ossl::ClearErrors();
  return Internal("dep.keygen_failed", std::string("server identity: ") + what);
}

bool AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

}  // namespace

Result<ServerIdentity> ServerIdentity::Generate(const ServerIdentityOptions& options,
                                                const Clock& clock) {
  if (options.rsa_bits < 2048 || options.validity_days <= 0 || options.common_name.empty() ||
      options.common_name.size() > 64) {
    return InvalidArgument("dep.bad_identity_options",
                           "need rsa_bits >= 2048, validity_days > 0 and a 1..64 char CN");
  }
  // Key pair.
  std::unique_ptr<EVP_PKEY_CTX, ossl::Free> kctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw_key = nullptr;
  if (!kctx || EVP_PKEY_keygen_init(kctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(kctx.get(), options.rsa_bits) != 1 ||
      EVP_PKEY_generate(kctx.get(), &raw_key) != 1) {
    return KeygenFailed("RSA key generation failed");
  }
  std::unique_ptr<EVP_PKEY, KeyFree> key(raw_key);

  // Self-signed certificate.
  std::unique_ptr<X509, CertFree> cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) return KeygenFailed("X509_new failed");
  std::unique_ptr<BIGNUM, ossl::Free> serial(BN_new());
  if (!serial || BN_rand(serial.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return KeygenFailed("serial number");
  }
  const time_t now = static_cast<time_t>(clock.NowMs() / 1000);
  const time_t until = now + static_cast<time_t>(options.validity_days) * 86400;
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), now) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), until) == nullptr) {
    return KeygenFailed("validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(options.common_name.data()),
                                 static_cast<int>(options.common_name.size()), -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key.get()) != 1) {
    return KeygenFailed("subject");
  }
  if (!AddExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
      !AddExtension(cert.get(), NID_subject_key_identifier, "hash")) {
    return KeygenFailed("extensions");
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return KeygenFailed("signing");
  return ServerIdentity(std::move(key), std::move(cert));
}

Result<ServerIdentity> ServerIdentity::FromPem(std::string_view certificate_pem,
                                               std::string_view private_key_pem) {
  AE_ASSIGN_OR_RETURN(X509 * raw_cert, ossl::ReadCertificatePem(certificate_pem));
  std::unique_ptr<X509, CertFree> cert(raw_cert);
  std::unique_ptr<BIO, ossl::Free> kbio(
      BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())));
  std::unique_ptr<EVP_PKEY, KeyFree> key(
      kbio ? PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) {
    ossl::ClearErrors();
    return InvalidArgument("dep.bad_private_key", "not a PEM private key", "private_key");
  }
  if (!EVP_PKEY_is_a(key.get(), "RSA")) {
    return InvalidArgument("dep.bad_private_key", "the DEP key must be RSA", "private_key");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ossl::ClearErrors();
    return InvalidArgument("dep.key_mismatch", "the private key does not match the certificate");
  }
  return ServerIdentity(std::move(key), std::move(cert));
}

std::string ServerIdentity::CertificatePem() const {
  std::unique_ptr<BIO, ossl::Free> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert_.get()) != 1) return "";
  return ossl::BioToString(bio.get());
}

std::string ServerIdentity::PrivateKeyPem() const {
  std::unique_ptr<BIO, ossl::Free> bio(BIO_new(BIO_s_mem()));
  // OpenSSL 3 writes PKCS#8 ("BEGIN PRIVATE KEY") here.
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr,
                                            nullptr) != 1) {
    return "";
  }
  return ossl::BioToString(bio.get());
}

std::string ServerIdentity::PublicKeyFingerprint() const {
  return ossl::PublicKeyFingerprint(key_.get());
}

Result<std::string> CertificatePublicKeyFingerprint(std::string_view certificate_pem) {
  AE_ASSIGN_OR_RETURN(X509 * raw_cert, ossl::ReadCertificatePem(certificate_pem));
  std::unique_ptr<X509, ossl::Free> cert(raw_cert);
  return ossl::PublicKeyFingerprint(X509_get0_pubkey(cert.get()));
}

Result<std::string> CertificateSha256Fingerprint(std::string_view certificate_pem) {
  AE_ASSIGN_OR_RETURN(X509 * raw_cert, ossl::ReadCertificatePem(certificate_pem));
  std::unique_ptr<X509, ossl::Free> cert(raw_cert);
  unsigned char* der = nullptr;
  int len = i2d_X509(cert.get(), &der);
  if (len <= 0) {
    ossl::ClearErrors();
    return InvalidArgument("dep.bad_certificate", "cannot encode the certificate", "certificate");
  }
  const std::string hex = crypto::Hex(
      crypto::Sha256(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(len))));
  OPENSSL_free(der);
  std::string out;
  out.reserve(hex.size() / 2 * 3);
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i) out.push_back(':');
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i]))));
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i + 1]))));
  }
  return out;
}

}  // namespace ae::dep
