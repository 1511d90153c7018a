#pragma once
// ServerIdentity: the RSA key pair and self-signed certificate that an MDM
// server hands to the admin for upload to Apple Business/School Manager
// (apple-dep.md §1.1). Apple encrypts the server token (.p7m) to this
// certificate, so only the holder of the private key can open it.
//
// The private key never touches the disk here: PrivateKeyPem() hands it to the
// caller, which stores it sealed in the secret store and restores it with
// FromPem().
//
// Thread-safety: immutable after construction; const methods are thread-safe.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "events/base/clock.h"
#include "events/base/status.h"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;

namespace ae::dep {

struct ServerIdentityOptions {
  std::string common_name = "autoenroll-dep";  // any subject works (§1.1)
  int validity_days = 365;                     // prefer >= 1 year (§1.1)
  int rsa_bits = 2048;                         // Apple's key transport needs RSA
};

class ServerIdentity {
 public:
  // Generates a fresh RSA key pair and a self-signed X.509 v3 certificate
  // (SHA-256, keyUsage digitalSignature+keyEncipherment, random positive
  // serial) valid from `clock` now for `validity_days`.
  // kInvalidArgument "dep.bad_identity_options"; kInternal "dep.keygen_failed".
  static Result<ServerIdentity> Generate(const ServerIdentityOptions& options, const Clock& clock);

  // Restores an identity from its PEM certificate and PEM private key (PKCS#8
  // or traditional). kInvalidArgument "dep.bad_certificate" / "dep.bad_private_key",
  // or "dep.key_mismatch" when the key is not the certificate's.
  static Result<ServerIdentity> FromPem(std::string_view certificate_pem,
                                        std::string_view private_key_pem);

  ServerIdentity(ServerIdentity&&) noexcept;
  ServerIdentity& operator=(ServerIdentity&&) noexcept;
  ~ServerIdentity();

  // "-----BEGIN CERTIFICATE-----" PEM, for the admin to upload (served as
  // application/x-pem-file).
  std::string CertificatePem() const;

  // Unencrypted PKCS#8 "-----BEGIN PRIVATE KEY-----" PEM. A secret: seal it
  // before storing, never log it.
  std::string PrivateKeyPem() const;

  // Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo: safe for events
  // and logs, equal for the certificate and the key.
  std::string PublicKeyFingerprint() const;

  // Borrowed OpenSSL handles, valid for the lifetime of this object.
  EVP_PKEY* key() const { return key_.get(); }
  X509* certificate() const { return cert_.get(); }

 private:
  struct KeyFree {
    void operator()(EVP_PKEY* k) const;
  };
  struct CertFree {
    void operator()(X509* c) const;
  };
  ServerIdentity(std::unique_ptr<EVP_PKEY, KeyFree> key, std::unique_ptr<X509, CertFree> cert);

  std::unique_ptr<EVP_PKEY, KeyFree> key_;
  std::unique_ptr<X509, CertFree> cert_;
};

// Fingerprint (as PublicKeyFingerprint) of the public key in a PEM certificate.
Result<std::string> CertificatePublicKeyFingerprint(std::string_view certificate_pem);

// SHA-256 of the DER of the (first) certificate in a PEM, as Samsung Knox and most tools
// show it: upper-case hex bytes joined by colons (AB:CD:...).
// kInvalidArgument "dep.bad_certificate" when it is not a PEM certificate.
Result<std::string> CertificateSha256Fingerprint(std::string_view certificate_pem);

}  // namespace ae::dep
