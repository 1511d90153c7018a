#include "adapters/apple_mdm/mdm_ca.h"

#include <ctime>

#include "adapters/apple_mdm/internal/ossl.h"
#include "events/base/crypto.h"

namespace ae::mdm {

void MdmCa::KeyFree::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
void MdmCa::CertFree::operator()(X509* c) const { X509_free(c); }
void MdmCa::StoreFree::operator()(X509_STORE* s) const { X509_STORE_free(s); }

MdmCa::MdmCa(std::unique_ptr<EVP_PKEY, KeyFree> key, std::unique_ptr<X509, CertFree> cert,
             std::unique_ptr<X509_STORE, StoreFree> store)
    : key_(std::move(key)), cert_(std::move(cert)), store_(std::move(store)) {}
MdmCa::MdmCa(MdmCa&&) noexcept = default;
MdmCa& MdmCa::operator=(MdmCa&&) noexcept = default;
MdmCa::~MdmCa() = default;

namespace {

constexpr time_t kDay = 86400;
constexpr size_t kMaxSignatureHeaderBytes = 64 * 1024;

Status BadSignature(std::string message) {
  return Unauthenticated("mdm.bad_signature", std::move(message));
}

std::unique_ptr<X509_STORE, void (*)(X509_STORE*)> NewStore(X509* cert) {
  std::unique_ptr<X509_STORE, void (*)(X509_STORE*)> store(X509_STORE_new(), X509_STORE_free);
  if (store && X509_STORE_add_cert(store.get(), cert) != 1) store.reset();
  return store;
}

bool ValidCommonName(std::string_view cn) {
  if (cn.empty() || cn.size() > 64) return false;
  for (char c : cn) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

Result<MdmCa> MdmCa::Generate(std::string_view common_name, const Clock& clock) {
  if (!ValidCommonName(common_name)) {
    return InvalidArgument("mdm.bad_ca_options", "common name must be 1..64 printable characters");
  }
  ossl::Ptr<EVP_PKEY> key = ossl::GenerateRsaKey(2048);
  if (!key) return Internal("mdm.keygen_failed", "RSA key generation failed");
  const time_t now = static_cast<time_t>(clock.NowMs() / 1000);
  ossl::CertSpec spec;
  spec.subject = {{"CN", std::string(common_name)}};
  spec.not_before = now - 3600;  // tolerate devices whose clocks run a little slow
  spec.not_after = now + 10 * 365 * kDay;
  spec.ca = true;
  spec.key_usage = "critical,keyCertSign,cRLSign";
  ossl::Ptr<X509> cert = ossl::MakeCertificate(spec, key.get(), nullptr, nullptr);
  if (!cert) return Internal("mdm.keygen_failed", "CA certificate");
  auto store = NewStore(cert.get());
  if (!store) {
    ossl::ClearErrors();
    return Internal("mdm.keygen_failed", "X509_STORE");
  }
  return MdmCa(std::unique_ptr<EVP_PKEY, KeyFree>(key.release()),
               std::unique_ptr<X509, CertFree>(cert.release()),
               std::unique_ptr<X509_STORE, StoreFree>(store.release()));
}

Result<MdmCa> MdmCa::FromPem(std::string_view certificate_pem, std::string_view private_key_pem) {
  std::vector<ossl::Ptr<X509>> certs = ossl::ReadCertificatesPem(certificate_pem);
  if (certs.empty()) {
    return InvalidArgument("mdm.bad_certificate", "not a PEM X.509 certificate", "certificate");
  }
  ossl::Ptr<X509> cert = std::move(certs.front());
  ossl::Ptr<EVP_PKEY> key = ossl::ReadPrivateKeyPem(private_key_pem);
  if (!key) return InvalidArgument("mdm.bad_private_key", "not a PEM private key", "private_key");
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ossl::ClearErrors();
    return InvalidArgument("mdm.key_mismatch", "the private key does not match the certificate");
  }
  if (X509_check_ca(cert.get()) == 0) {
    return InvalidArgument("mdm.not_a_ca", "the certificate is not a CA certificate");
  }
  auto store = NewStore(cert.get());
  if (!store) {
    ossl::ClearErrors();
    return Internal("enroll.trust_failed", "X509_STORE");
  }
  return MdmCa(std::unique_ptr<EVP_PKEY, KeyFree>(key.release()),
               std::unique_ptr<X509, CertFree>(cert.release()),
               std::unique_ptr<X509_STORE, StoreFree>(store.release()));
}

std::string MdmCa::CertificatePem() const { return ossl::CertificatePem(cert_.get()); }
std::string MdmCa::PrivateKeyPem() const { return ossl::PrivateKeyPem(key_.get()); }

Result<DeviceIdentity> MdmCa::IssueDeviceIdentity(std::string_view common_name,
                                                  const Clock& clock) const {
  if (!ValidCommonName(common_name)) {
    return InvalidArgument("mdm.bad_common_name", "common name must be 1..64 printable characters");
  }
  ossl::Ptr<EVP_PKEY> key = ossl::GenerateRsaKey(2048);
  if (!key) return Internal("mdm.issue_failed", "RSA key generation failed");
  const time_t now = static_cast<time_t>(clock.NowMs() / 1000);
  ossl::CertSpec spec;
  spec.subject = {{"CN", std::string(common_name)}};
  spec.not_before = now - 3600;
  spec.not_after = now + 365 * kDay;
  spec.key_usage = "critical,digitalSignature,keyEncipherment";
  spec.extended_key_usage = "clientAuth";
  ossl::Ptr<X509> cert = ossl::MakeCertificate(spec, key.get(), cert_.get(), key_.get());
  if (!cert) return Internal("mdm.issue_failed", "identity certificate");

  DeviceIdentity identity;
  identity.password = crypto::Base64Url(crypto::RandomBytes(18));  // 24 characters
  ossl::Ptr<STACK_OF(X509)> chain(sk_X509_new_null());
  if (!chain || sk_X509_push(chain.get(), cert_.get()) <= 0) {
    return Internal("mdm.issue_failed", "certificate stack");
  }
  X509_up_ref(cert_.get());
  std::string friendly(common_name);
  // nid 0 / iter 0: OpenSSL 3 defaults (AES-256-CBC, PBKDF2, 2048 iterations, SHA-256 MAC).
  ossl::Ptr<PKCS12> p12(PKCS12_create(identity.password.c_str(), friendly.c_str(), key.get(),
                                      cert.get(), chain.get(), 0, 0, 0, 0, 0));
  if (!p12) {
    ossl::ClearErrors();
    return Internal("mdm.issue_failed", "PKCS12_create failed");
  }
  unsigned char* der = nullptr;
  int len = i2d_PKCS12(p12.get(), &der);
  if (len <= 0) {
    ossl::ClearErrors();
    return Internal("mdm.issue_failed", "i2d_PKCS12 failed");
  }
  identity.pkcs12_der.assign(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  identity.certificate_pem = ossl::CertificatePem(cert.get());
  identity.certificate_sha256_hex = crypto::Hex(crypto::Sha256(ossl::CertificateDer(cert.get())));
  return identity;
}

Result<MdmSigner> MdmCa::VerifyMdmSignature(std::string_view body,
                                            std::string_view mdm_signature_header) const {
  if (mdm_signature_header.empty()) return BadSignature("Mdm-Signature is missing");
  if (mdm_signature_header.size() > kMaxSignatureHeaderBytes) {
    return BadSignature("Mdm-Signature is too large");
  }
  std::string compact;
  compact.reserve(mdm_signature_header.size());
  for (char c : mdm_signature_header) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') compact.push_back(c);
  }
  Result<std::string> der = crypto::FromBase64(compact);
  if (!der.ok() || der->empty()) return BadSignature("Mdm-Signature is not base64");
  ossl::Ptr<CMS_ContentInfo> cms = ossl::ReadCms(*der);
  if (!cms || OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) {
    return BadSignature("Mdm-Signature is not CMS SignedData");
  }
  STACK_OF(CMS_SignerInfo)* signer_infos = CMS_get0_SignerInfos(cms.get());
  if (signer_infos == nullptr || sk_CMS_SignerInfo_num(signer_infos) != 1) {
    return BadSignature("exactly one signer is required");
  }
  ossl::Ptr<BIO> content = ossl::MemBio(body);
  if (!content) return Internal("mdm.verify_failed", "BIO_new failed");
  if (CMS_verify(cms.get(), nullptr, nullptr, content.get(), nullptr,
                 CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY | CMS_DETACHED) != 1) {
    ossl::ClearErrors();
    return BadSignature("the signature does not verify over the body");
  }
  STACK_OF(X509)* signers = CMS_get0_signers(cms.get());
  X509* signer = (signers != nullptr && sk_X509_num(signers) == 1) ? sk_X509_value(signers, 0) : nullptr;
  sk_X509_free(signers);  // the certificates stay owned by `cms`
  if (signer == nullptr) return BadSignature("no signer certificate in the signature");

  // Issued directly by this CA, valid now, allowed for client authentication.
  ossl::Ptr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store_.get(), signer, nullptr) != 1) {
    ossl::ClearErrors();
    return Internal("mdm.verify_failed", "X509_STORE_CTX_init failed");
  }
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ossl::ClearErrors();
    return BadSignature(std::string("the signer is not a device identity of this CA: ") +
                        X509_verify_cert_error_string(err));
  }
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  if (chain == nullptr || sk_X509_num(chain) != 2 || X509_cmp(sk_X509_value(chain, 1), cert_.get()) != 0) {
    return BadSignature("the signer is not a device identity of this CA");
  }
  MdmSigner out;
  out.common_name = ossl::CommonName(signer);
  if (out.common_name.empty()) return BadSignature("the signer certificate has no common name");
  out.certificate_sha256_hex = crypto::Hex(crypto::Sha256(ossl::CertificateDer(signer)));
  return out;
}

Result<std::string> CertificateSha256Hex(std::string_view certificate_pem) {
  std::vector<ossl::Ptr<X509>> certs = ossl::ReadCertificatesPem(certificate_pem);
  if (certs.empty()) {
    return InvalidArgument("mdm.bad_certificate", "not a PEM X.509 certificate", "certificate");
  }
  return crypto::Hex(crypto::Sha256(ossl::CertificateDer(certs.front().get())));
}

}  // namespace ae::mdm
