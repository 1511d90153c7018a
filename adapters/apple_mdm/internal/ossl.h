#pragma once
// Implementation-only OpenSSL utilities for adapters/apple_mdm. Not part of the
// public surface: include only from adapters/apple_mdm/*.cc and the device
// simulator.

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "events/base/crypto.h"
#include "events/base/status.h"

namespace ae::mdm::ossl {

// One deleter for the OpenSSL types held in unique_ptr.
struct Free {
  void operator()(BIO* p) const { BIO_free_all(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
  void operator()(CMS_ContentInfo* p) const { CMS_ContentInfo_free(p); }
  void operator()(PKCS12* p) const { PKCS12_free(p); }
  void operator()(STACK_OF(X509) * p) const { sk_X509_pop_free(p, X509_free); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Free>;

// Drops OpenSSL's thread-local error queue after a handled failure.
inline void ClearErrors() { ERR_clear_error(); }

inline Ptr<BIO> MemBio(std::string_view data) {
  return Ptr<BIO>(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

inline std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

// Every certificate of a PEM bundle, in order. Text outside PEM blocks is skipped.
inline std::vector<Ptr<X509>> ReadCertificatesPem(std::string_view pem) {
  std::vector<Ptr<X509>> out;
  Ptr<BIO> bio = MemBio(pem);
  while (bio) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (cert == nullptr) break;
    out.emplace_back(cert);
  }
  ClearErrors();  // the loop ends on "no start line"
  return out;
}

inline Ptr<EVP_PKEY> ReadPrivateKeyPem(std::string_view pem) {
  Ptr<BIO> bio = MemBio(pem);
  Ptr<EVP_PKEY> key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) ClearErrors();
  return key;
}

inline std::string CertificatePem(X509* cert) {
  Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return "";
  return BioToString(bio.get());
}

inline std::string PrivateKeyPem(EVP_PKEY* key) {
  Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                            nullptr) != 1) {
    return "";
  }
  return BioToString(bio.get());
}

inline std::string CertificateDer(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) return "";
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

// "C=US, O=Apple Inc., CN=..." (RFC 2253 order reversed to the familiar one).
inline std::string NameText(const X509_NAME* name) {
  Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    return "";
  }
  return BioToString(bio.get());
}

// The first entry `nid` (NID_commonName, NID_serialNumber, ...) of `cert`'s subject, UTF-8;
// "" when there is none.
inline std::string SubjectEntry(X509* cert, int nid) {
  X509_NAME* name = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

// The first commonName of `cert`'s subject, UTF-8.
inline std::string CommonName(X509* cert) { return SubjectEntry(cert, NID_commonName); }

inline Ptr<EVP_PKEY> GenerateRsaKey(int bits) {
  Ptr<EVP_PKEY_CTX> kctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!kctx || EVP_PKEY_keygen_init(kctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(kctx.get(), bits) != 1 ||
      EVP_PKEY_generate(kctx.get(), &raw) != 1) {
    ClearErrors();
    return nullptr;
  }
  return Ptr<EVP_PKEY>(raw);
}

inline bool AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

inline bool AddNameEntry(X509_NAME* name, const char* field, std::string_view value) {
  return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(value.data()),
                                    static_cast<int>(value.size()), -1, 0) == 1;
}

// What a new certificate looks like; `issuer`/`issuer_key` null means self-signed.
struct CertSpec {
  std::vector<std::pair<const char*, std::string>> subject;  // {"CN", "..."}, ...
  time_t not_before = 0;
  time_t not_after = 0;
  bool ca = false;
  const char* key_usage = nullptr;           // e.g. "critical,digitalSignature"
  const char* extended_key_usage = nullptr;  // e.g. "clientAuth"
  const EVP_MD* digest = nullptr;            // default SHA-256
};

// Builds and signs a certificate for `key`. Null on failure (errors cleared).
inline Ptr<X509> MakeCertificate(const CertSpec& spec, EVP_PKEY* key, X509* issuer,
                                 EVP_PKEY* issuer_key) {
  Ptr<X509> cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) return nullptr;
  Ptr<BIGNUM> serial(BN_new());
  // 159 random bits: positive, at most 20 octets (RFC 5280 §4.1.2.2).
  if (!serial || BN_rand(serial.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    ClearErrors();
    return nullptr;
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (const auto& [field, value] : spec.subject) {
    if (!AddNameEntry(name, field, value)) {
      ClearErrors();
      return nullptr;
    }
  }
  X509* signer_cert = issuer != nullptr ? issuer : cert.get();
  EVP_PKEY* signer_key = issuer_key != nullptr ? issuer_key : key;
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), spec.not_before) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), spec.not_after) == nullptr ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(signer_cert)) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    ClearErrors();
    return nullptr;
  }
  bool ok = AddExtension(cert.get(), signer_cert, NID_basic_constraints,
                         spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
            AddExtension(cert.get(), signer_cert, NID_subject_key_identifier, "hash") &&
            AddExtension(cert.get(), signer_cert, NID_authority_key_identifier, "keyid:always");
  if (ok && spec.key_usage != nullptr) {
    ok = AddExtension(cert.get(), signer_cert, NID_key_usage, spec.key_usage);
  }
  if (ok && spec.extended_key_usage != nullptr) {
    ok = AddExtension(cert.get(), signer_cert, NID_ext_key_usage, spec.extended_key_usage);
  }
  if (!ok || X509_sign(cert.get(), signer_key, spec.digest ? spec.digest : EVP_sha256()) <= 0) {
    ClearErrors();
    return nullptr;
  }
  return cert;
}

// Signs `content` as CMS SignedData (DER) with `cert`/`key`, adding `extra`
// certificates. `detached` leaves the content out. Empty on failure.
inline std::string CmsSign(std::string_view content, X509* cert, EVP_PKEY* key,
                           const std::vector<X509*>& extra, const EVP_MD* digest, bool detached) {
  unsigned int flags = CMS_BINARY | CMS_PARTIAL;
  if (detached) flags |= CMS_DETACHED;
  Ptr<CMS_ContentInfo> cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
  if (!cms || CMS_add1_signer(cms.get(), cert, key, digest, CMS_NOSMIMECAP) == nullptr) {
    ClearErrors();
    return "";
  }
  for (X509* c : extra) {
    if (CMS_add1_cert(cms.get(), c) != 1) {
      ClearErrors();
      return "";
    }
  }
  Ptr<BIO> in = MemBio(content);
  if (!in || CMS_final(cms.get(), in.get(), nullptr, flags) != 1) {
    ClearErrors();
    return "";
  }
  Ptr<BIO> out(BIO_new(BIO_s_mem()));
  if (!out || i2d_CMS_bio(out.get(), cms.get()) != 1) {
    ClearErrors();
    return "";
  }
  return BioToString(out.get());
}

// Parses DER (or BER) CMS. Null when it is not one (errors cleared).
inline Ptr<CMS_ContentInfo> ReadCms(std::string_view der) {
  Ptr<BIO> bio = MemBio(der);
  Ptr<CMS_ContentInfo> cms(bio ? d2i_CMS_bio(bio.get(), nullptr) : nullptr);
  if (!cms) ClearErrors();
  return cms;
}

}  // namespace ae::mdm::ossl
