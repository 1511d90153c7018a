#pragma once
// Implementation-only OpenSSL helpers for adapters/apple_dep. Not part of the
// public surface: include only from adapters/apple_dep/*.cc.

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <string>
#include <string_view>

#include "events/base/crypto.h"
#include "events/base/status.h"

namespace ae::dep::ossl {

// One deleter for the OpenSSL types we hold in unique_ptr.
struct Free {
  void operator()(BIO* p) const { BIO_free_all(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(CMS_ContentInfo* p) const { CMS_ContentInfo_free(p); }
  void operator()(STACK_OF(X509) * p) const { sk_X509_pop_free(p, X509_free); }
};

// Drops OpenSSL's thread-local error queue after a handled failure, so a
// stale entry never leaks into an unrelated later call.
inline void ClearErrors() { ERR_clear_error(); }

inline std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

// Caller owns the result. kInvalidArgument "dep.bad_certificate".
inline Result<X509*> ReadCertificatePem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = bio ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (cert == nullptr) {
    ClearErrors();
    return InvalidArgument("dep.bad_certificate", "not a PEM X.509 certificate", "certificate");
  }
  return cert;
}

// Hex SHA-256 of the DER SubjectPublicKeyInfo.
inline std::string PublicKeyFingerprint(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = key ? i2d_PUBKEY(key, &der) : -1;
  if (len <= 0) return "";
  std::string out = crypto::Hex(
      crypto::Sha256(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(len))));
  OPENSSL_free(der);
  return out;
}

}  // namespace ae::dep::ossl
