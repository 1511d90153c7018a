#pragma once
// MdmCa: the engine's own certificate authority for device identities
// (apple-dep.md §6.5, §6.6). It issues each enrolling device an identity
// (key + certificate, delivered as PKCS#12 inside the enrollment profile) and
// later authenticates the device's check-in and command-channel messages by
// their Mdm-Signature header: a base64 detached CMS signature over the body,
// made with that identity.
//
// The CA's private key is a secret: PrivateKeyPem() hands it to the caller,
// which seals it in the secret store and restores the CA with FromPem().
//
// Thread-safety: immutable after construction; const methods are thread-safe.

#include <memory>
#include <string>
#include <string_view>

#include "events/base/clock.h"
#include "events/base/status.h"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;
typedef struct x509_store_st X509_STORE;

namespace ae::mdm {

// A device identity as the enrollment profile carries it.
struct DeviceIdentity {
  std::string pkcs12_der;              // key + certificate + CA certificate (PKCS#12, AES-256)
  std::string password;                // the PKCS#12 password (a secret)
  std::string certificate_pem;         // the identity certificate alone
  std::string certificate_sha256_hex;  // lower-case hex SHA-256 of its DER: safe for events
};

// Who signed a device message: the identity's common name (the serial number it
// was issued to) and its fingerprint, which the caller checks is the device's
// current identity.
struct MdmSigner {
  std::string common_name;
  std::string certificate_sha256_hex;  // lower-case hex SHA-256 of its DER
};

class MdmCa {
 public:
  // A fresh RSA-2048 key and self-signed CA certificate (SHA-256, CA:TRUE,
  // keyCertSign+cRLSign), valid from an hour before `clock`'s now for 10 years.
  // kInvalidArgument "mdm.bad_ca_options"; kInternal "mdm.keygen_failed".
  static Result<MdmCa> Generate(std::string_view common_name, const Clock& clock);

  // Restores a CA from its PEM certificate and PEM private key.
  // kInvalidArgument "mdm.bad_certificate" / "mdm.bad_private_key" /
  // "mdm.key_mismatch", or "mdm.not_a_ca" when the certificate is not a CA.
  static Result<MdmCa> FromPem(std::string_view certificate_pem, std::string_view private_key_pem);

  MdmCa(MdmCa&&) noexcept;
  MdmCa& operator=(MdmCa&&) noexcept;
  ~MdmCa();

  std::string CertificatePem() const;
  // Unencrypted PKCS#8 PEM. A secret: seal it before storing, never log it.
  std::string PrivateKeyPem() const;

  // A new identity for one device: RSA-2048 key, certificate with subject
  // CN=`common_name` (the device's serial number), clientAuth EKU, valid from an hour
  // before `clock`'s now for a year, random 159-bit serial, signed by this CA; packed as
  // PKCS#12 (OpenSSL 3 defaults: AES-256-CBC with PBKDF2, SHA-256 MAC) under a fresh
  // random password.
  // kInvalidArgument "mdm.bad_common_name"; kInternal "mdm.issue_failed".
  Result<DeviceIdentity> IssueDeviceIdentity(std::string_view common_name,
                                             const Clock& clock) const;

  // Authenticates a device message. `mdm_signature_header` is the base64 DER
  // CMS SignedData, detached, over `body`. Returns the signer certificate's
  // common name and fingerprint iff there is exactly one signer, the signature
  // verifies over `body`, and the signer certificate was issued by this CA, is
  // within its validity period and allows clientAuth. Whether that identity is
  // still the device's (not revoked) is the caller's to check.
  // Otherwise kUnauthenticated "mdm.bad_signature".
  Result<MdmSigner> VerifyMdmSignature(std::string_view body,
                                       std::string_view mdm_signature_header) const;

  // Borrowed handles, valid for the lifetime of this object.
  X509* certificate() const { return cert_.get(); }
  EVP_PKEY* key() const { return key_.get(); }

 private:
  struct KeyFree {
    void operator()(EVP_PKEY* k) const;
  };
  struct CertFree {
    void operator()(X509* c) const;
  };
  struct StoreFree {
    void operator()(X509_STORE* s) const;
  };
  MdmCa(std::unique_ptr<EVP_PKEY, KeyFree> key, std::unique_ptr<X509, CertFree> cert,
        std::unique_ptr<X509_STORE, StoreFree> store);

  std::unique_ptr<EVP_PKEY, KeyFree> key_;
  std::unique_ptr<X509, CertFree> cert_;
  std::unique_ptr<X509_STORE, StoreFree> store_;  // holds cert_ only
};

// Lower-case hex SHA-256 of a PEM certificate's DER; kInvalidArgument
// "mdm.bad_certificate".
Result<std::string> CertificateSha256Hex(std::string_view certificate_pem);

}  // namespace ae::mdm
