#include "adapters/apple_mdm/machine_info.h"

#include <ctime>

#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "events/base/text.h"
#include "adapters/apple_mdm/apple_device_ca_pem.h"  // generated from apple_device_ca.pem
#include "adapters/apple_mdm/internal/ossl.h"
#include "adapters/apple_mdm/internal/plist.h"

namespace ae::mdm {

// ---- DeviceTrust -------------------------------------------------------------

struct DeviceTrust::Rep {
  std::vector<ossl::Ptr<X509>> anchors;
  ossl::Ptr<X509_STORE> store;  // holds every anchor; shared read-only
};

Result<DeviceTrust> DeviceTrust::FromPem(std::string_view pem_bundle) {
  auto rep = std::make_shared<Rep>();
  rep->anchors = ossl::ReadCertificatesPem(pem_bundle);
  if (rep->anchors.empty()) {
    return InvalidArgument("enroll.bad_device_trust", "no PEM certificate in the trust bundle");
  }
  rep->store.reset(X509_STORE_new());
  if (!rep->store) return Internal("enroll.trust_failed", "X509_STORE_new failed");
  for (const auto& cert : rep->anchors) {
    if (X509_STORE_add_cert(rep->store.get(), cert.get()) != 1) {
      ossl::ClearErrors();  // a duplicate is harmless
    }
  }
  return DeviceTrust(std::move(rep));
}

std::string_view BundledAppleDeviceCaPem() { return kAppleDeviceCaPem; }

Result<DeviceTrust> DeviceTrust::Bundled() { return FromPem(kAppleDeviceCaPem); }

std::vector<std::string> DeviceTrust::Subjects() const {
  std::vector<std::string> out;
  for (const auto& cert : rep_->anchors) out.push_back(ossl::NameText(X509_get_subject_name(cert.get())));
  return out;
}

size_t DeviceTrust::size() const { return rep_->anchors.size(); }

// ---- VerifyMachineInfo -------------------------------------------------------

namespace {

Status BadMachineInfo(std::string message) {
  return InvalidArgument("enroll.bad_machine_info", std::move(message));
}
Status BadSignature(std::string message) {
  return PermissionDenied("enroll.bad_signature", std::move(message));
}

constexpr size_t kMaxFieldBytes = 256;

bool IsIdentifier(std::string_view s, bool allow_dash) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (allow_dash && c == '-');
    if (!ok) return false;
  }
  return true;
}

// The chain of `leaf` against `trust`, time ignored, SHA-1 accepted; the
// certificates carried in the message help build the path. OK iff it
// verifies and the leaf's direct issuer is one of the anchors.
Status VerifySignerChain(X509* leaf, STACK_OF(X509) * carried, const DeviceTrust::Rep& trust) {
  ossl::Ptr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), trust.store.get(), leaf, carried) != 1) {
    ossl::ClearErrors();
    return Internal("enroll.verify_failed", "X509_STORE_CTX_init failed");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME | X509_V_FLAG_PARTIAL_CHAIN);
  X509_VERIFY_PARAM_set_auth_level(param, 0);  // RSA-1024 and SHA-1 in Apple's chain
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ossl::ClearErrors();
    return BadSignature(std::string("signer certificate does not chain to the device CA: ") +
                        X509_verify_cert_error_string(err));
  }
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  if (chain == nullptr || sk_X509_num(chain) < 2) {
    return BadSignature("the signer certificate is itself a trust anchor");
  }
  X509* issuer = sk_X509_value(chain, 1);
  for (const auto& anchor : trust.anchors) {
    if (X509_cmp(anchor.get(), issuer) == 0) return Status::Ok();
  }
  return BadSignature("the signer certificate is not issued by a device CA of the trust bundle");
}

// The signer certificate itself (not its CAs: Apple's expired long ago) must be valid at
// `now_ms`.
Status CheckSignerValidity(X509* leaf, int64_t now_ms) {
  time_t now = static_cast<time_t>(now_ms / 1000);
  const int starts = X509_cmp_time(X509_get0_notBefore(leaf), &now);  // -1: at or before now
  const int ends = X509_cmp_time(X509_get0_notAfter(leaf), &now);     // 1: after now
  if (starts == 0 || ends == 0) {
    ossl::ClearErrors();
    return BadSignature("the signer certificate's validity period does not parse");
  }
  if (starts > 0) {
    return BadSignature("the signer certificate is not valid before its start (now " +
                        FormatRfc3339(now_ms) + ")");
  }
  if (ends < 0) {
    return BadSignature("the signer certificate expired (now " + FormatRfc3339(now_ms) + ")");
  }
  return Status::Ok();
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The signer is the device the MachineInfo names: its CN is UDID (hex digits come in
// either case), and its serialNumber, when the certificate carries one, is SERIAL.
Status CheckSignerIsDevice(X509* signer, const MachineInfo& info) {
  const std::string cn = ossl::CommonName(signer);
  if (!EqualsIgnoringCase(cn, info.udid)) {
    return PermissionDenied("enroll.signer_mismatch",
                            "UDID " + info.udid + " is not the signer certificate's CN");
  }
  const std::string serial = ossl::SubjectEntry(signer, NID_serialNumber);
  if (!serial.empty() && serial != info.serial) {
    return PermissionDenied("enroll.signer_mismatch",
                            "SERIAL " + info.serial + " is not the signer certificate's serialNumber");
  }
  return Status::Ok();
}

Status ReadField(plist_t dict, const char* key, bool required, std::string* out) {
  switch (plist::GetString(dict, key, out)) {
    case plist::Lookup::kOk:
      if (out->size() > kMaxFieldBytes) return BadMachineInfo(std::string(key) + " is too long");
      if (!text::IsValidUtf8(*out)) return BadMachineInfo(std::string(key) + " is not UTF-8");
      if (required && out->empty()) return BadMachineInfo(std::string(key) + " is empty");
      return Status::Ok();
    case plist::Lookup::kWrongType:
      return BadMachineInfo(std::string(key) + " is not a string");
    case plist::Lookup::kMissing:
      break;
  }
  if (required) return BadMachineInfo(std::string(key) + " is missing");
  return Status::Ok();
}

Result<MachineInfo> ParseMachineInfoPlist(std::string_view content) {
  plist::Node root = plist::Parse(content);
  if (!root) return BadMachineInfo("the signed content is not a property list");
  if (!plist::IsDict(root.get())) return BadMachineInfo("the property list is not a dictionary");
  plist_t d = root.get();
  MachineInfo info;
  AE_RETURN_IF_ERROR(ReadField(d, "UDID", true, &info.udid));
  AE_RETURN_IF_ERROR(ReadField(d, "SERIAL", true, &info.serial));
  AE_RETURN_IF_ERROR(ReadField(d, "PRODUCT", false, &info.product));
  AE_RETURN_IF_ERROR(ReadField(d, "VERSION", false, &info.version));
  AE_RETURN_IF_ERROR(ReadField(d, "OS_VERSION", false, &info.os_version));
  AE_RETURN_IF_ERROR(ReadField(d, "IMEI", false, &info.imei));
  AE_RETURN_IF_ERROR(ReadField(d, "MEID", false, &info.meid));
  AE_RETURN_IF_ERROR(ReadField(d, "LANGUAGE", false, &info.language));
  if (!IsIdentifier(info.udid, /*allow_dash=*/true)) {
    return BadMachineInfo("UDID must be 1..64 letters, digits or dashes");
  }
  if (!IsIdentifier(info.serial, /*allow_dash=*/false)) {
    return BadMachineInfo("SERIAL must be 1..64 letters or digits");
  }
  if (plist::GetBool(d, "MDM_CAN_REQUEST_SOFTWARE_UPDATE", &info.mdm_can_request_software_update) ==
      plist::Lookup::kWrongType) {
    return BadMachineInfo("MDM_CAN_REQUEST_SOFTWARE_UPDATE is not a boolean");
  }
  return info;
}

}  // namespace

Result<MachineInfo> VerifyMachineInfo(std::string_view body, const DeviceTrust& trust,
                                      const Clock& clock) {
  if (body.empty()) return BadMachineInfo("empty body");
  if (body.size() > kMaxMachineInfoBytes) {
    return BadMachineInfo("body larger than " + std::to_string(kMaxMachineInfoBytes) + " bytes");
  }
  ossl::Ptr<CMS_ContentInfo> cms = ossl::ReadCms(body);
  if (!cms) return BadMachineInfo("body is not DER CMS");
  if (OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) {
    return BadMachineInfo("CMS is not SignedData");
  }
  ASN1_OCTET_STRING** content = CMS_get0_content(cms.get());
  if (content == nullptr || *content == nullptr || ASN1_STRING_length(*content) <= 0) {
    return BadMachineInfo("CMS SignedData carries no content");
  }
  STACK_OF(CMS_SignerInfo)* signer_infos = CMS_get0_SignerInfos(cms.get());
  if (signer_infos == nullptr || sk_CMS_SignerInfo_num(signer_infos) != 1) {
    return BadSignature("exactly one signer is required");
  }
  // Signature and signed attributes (messageDigest, contentType) over the
  // content; the signer certificate is checked below with our own rules.
  ossl::Ptr<BIO> out(BIO_new(BIO_s_mem()));
  if (!out) return Internal("enroll.verify_failed", "BIO_new failed");
  if (CMS_verify(cms.get(), nullptr, nullptr, nullptr, out.get(),
                 CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
    ossl::ClearErrors();
    return BadSignature("the CMS signature does not verify");
  }
  STACK_OF(X509)* signers = CMS_get0_signers(cms.get());
  X509* signer = (signers != nullptr && sk_X509_num(signers) == 1) ? sk_X509_value(signers, 0) : nullptr;
  if (signer == nullptr) {
    sk_X509_free(signers);
    return BadSignature("no signer certificate in the message");
  }
  ossl::Ptr<X509> signer_ref(signer);
  X509_up_ref(signer);
  sk_X509_free(signers);
  ossl::Ptr<STACK_OF(X509)> carried(CMS_get1_certs(cms.get()));
  AE_RETURN_IF_ERROR(VerifySignerChain(signer_ref.get(), carried.get(), trust.rep()));
  AE_RETURN_IF_ERROR(CheckSignerValidity(signer_ref.get(), clock.NowMs()));

  AE_ASSIGN_OR_RETURN(MachineInfo info, ParseMachineInfoPlist(ossl::BioToString(out.get())));
  AE_RETURN_IF_ERROR(CheckSignerIsDevice(signer_ref.get(), info));
  info.signer_subject = ossl::NameText(X509_get_subject_name(signer_ref.get()));
  info.signer_sha256 = crypto::Hex(crypto::Sha256(ossl::CertificateDer(signer_ref.get())));
  return info;
}

std::string MachineInfoPlist(const MachineInfo& info) {
  plist::Node root(plist_new_dict());
  plist_t d = root.get();
  plist::SetString(d, "UDID", info.udid);
  plist::SetString(d, "SERIAL", info.serial);
  if (!info.product.empty()) plist::SetString(d, "PRODUCT", info.product);
  if (!info.version.empty()) plist::SetString(d, "VERSION", info.version);
  if (!info.os_version.empty()) plist::SetString(d, "OS_VERSION", info.os_version);
  if (!info.imei.empty()) plist::SetString(d, "IMEI", info.imei);
  if (!info.meid.empty()) plist::SetString(d, "MEID", info.meid);
  if (!info.language.empty()) plist::SetString(d, "LANGUAGE", info.language);
  plist::SetBool(d, "MDM_CAN_REQUEST_SOFTWARE_UPDATE", info.mdm_can_request_software_update);
  return plist::ToXml(d);
}

// ---- TestDeviceAuthority -------------------------------------------------------

void TestDeviceAuthority::KeyFree::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
void TestDeviceAuthority::CertFree::operator()(X509* c) const { X509_free(c); }

TestDeviceAuthority::TestDeviceAuthority(std::unique_ptr<EVP_PKEY, KeyFree> key,
                                         std::unique_ptr<X509, CertFree> cert)
    : key_(std::move(key)), cert_(std::move(cert)) {}
TestDeviceAuthority::TestDeviceAuthority(TestDeviceAuthority&&) noexcept = default;
TestDeviceAuthority& TestDeviceAuthority::operator=(TestDeviceAuthority&&) noexcept = default;
TestDeviceAuthority::~TestDeviceAuthority() = default;

namespace {
constexpr time_t kDay = 86400;
}  // namespace

Result<TestDeviceAuthority> TestDeviceAuthority::Generate(std::string_view common_name) {
  if (common_name.empty() || common_name.size() > 64) {
    return InvalidArgument("enroll.bad_test_authority", "common name must be 1..64 characters");
  }
  ossl::Ptr<EVP_PKEY> key = ossl::GenerateRsaKey(2048);
  if (!key) return Internal("enroll.keygen_failed", "RSA key generation failed");
  const time_t now = time(nullptr);
  ossl::CertSpec spec;
  spec.subject = {{"C", "US"}, {"O", "Test Devices"}, {"OU", "Test iPhone"}, {"CN", std::string(common_name)}};
  // Expired, as Apple iPhone Device CA is: verification ignores the CAs' validity.
  spec.not_before = now - 8 * 365 * kDay;
  spec.not_after = now - 365 * kDay;
  spec.ca = true;
  spec.key_usage = "critical,keyCertSign,cRLSign,digitalSignature";
  ossl::Ptr<X509> cert = ossl::MakeCertificate(spec, key.get(), nullptr, nullptr);
  if (!cert) return Internal("enroll.keygen_failed", "CA certificate");
  return TestDeviceAuthority(std::unique_ptr<EVP_PKEY, KeyFree>(key.release()),
                             std::unique_ptr<X509, CertFree>(cert.release()));
}

Result<TestDeviceAuthority> TestDeviceAuthority::FromPem(std::string_view ca_certificate_pem,
                                                         std::string_view ca_private_key_pem) {
  std::vector<ossl::Ptr<X509>> certs = ossl::ReadCertificatesPem(ca_certificate_pem);
  ossl::Ptr<EVP_PKEY> key = ossl::ReadPrivateKeyPem(ca_private_key_pem);
  if (certs.size() != 1 || !key) {
    ossl::ClearErrors();
    return InvalidArgument("enroll.bad_test_authority",
                           "expected one PEM CA certificate and one PEM private key");
  }
  if (X509_check_private_key(certs.front().get(), key.get()) != 1) {
    ossl::ClearErrors();
    return InvalidArgument("enroll.bad_test_authority", "the key is not the CA certificate's");
  }
  return TestDeviceAuthority(std::unique_ptr<EVP_PKEY, KeyFree>(key.release()),
                             std::unique_ptr<X509, CertFree>(certs.front().release()));
}

std::string TestDeviceAuthority::CaPem() const { return ossl::CertificatePem(cert_.get()); }

std::string TestDeviceAuthority::PrivateKeyPem() const { return ossl::PrivateKeyPem(key_.get()); }

Result<DeviceCertificate> TestDeviceAuthority::IssueDeviceCertificate(std::string_view udid,
                                                                      std::string_view serial,
                                                                      bool expired,
                                                                      bool sha1) const {
  if (udid.empty() || udid.size() > 64 || serial.size() > 64) {
    return InvalidArgument("enroll.bad_device", "udid must be 1..64 characters, serial <= 64");
  }
  ossl::Ptr<EVP_PKEY> key = ossl::GenerateRsaKey(2048);
  if (!key) return Internal("enroll.keygen_failed", "RSA key generation failed");
  const time_t now = time(nullptr);
  ossl::CertSpec spec;
  spec.subject = {{"CN", std::string(udid)}, {"C", "US"}, {"O", "Test Devices"}, {"OU", "iPhone"}};
  if (!serial.empty()) spec.subject.emplace_back("serialNumber", std::string(serial));
  spec.not_before = expired ? now - 3 * 365 * kDay : now - kDay;
  spec.not_after = expired ? now - 365 * kDay : now + 3 * 365 * kDay;
  spec.key_usage = "critical,digitalSignature,keyEncipherment";
  spec.extended_key_usage = "serverAuth,clientAuth";
  spec.digest = sha1 ? EVP_sha1() : EVP_sha256();
  ossl::Ptr<X509> cert = ossl::MakeCertificate(spec, key.get(), cert_.get(), key_.get());
  if (!cert) return Internal("enroll.keygen_failed", "device certificate");
  return DeviceCertificate{ossl::CertificatePem(cert.get()), ossl::PrivateKeyPem(key.get())};
}

Result<std::string> TestDeviceAuthority::SignMachineInfo(const MachineInfo& info, bool sha1,
                                                         bool expired,
                                                         bool serial_in_certificate) const {
  AE_ASSIGN_OR_RETURN(DeviceCertificate device,
                      IssueDeviceCertificate(info.udid.empty() ? "UNKNOWN" : info.udid,
                                             serial_in_certificate ? info.serial : "", expired,
                                             sha1));
  return SignContent(MachineInfoPlist(info), device, sha1);
}

Result<std::string> TestDeviceAuthority::SignContent(std::string_view content,
                                                     const DeviceCertificate& device,
                                                     bool sha1) const {
  std::vector<ossl::Ptr<X509>> certs = ossl::ReadCertificatesPem(device.certificate_pem);
  ossl::Ptr<EVP_PKEY> key = ossl::ReadPrivateKeyPem(device.private_key_pem);
  if (certs.empty() || !key) {
    return InvalidArgument("enroll.bad_device", "device certificate or key is not PEM");
  }
  std::string der = ossl::CmsSign(content, certs.front().get(), key.get(), {cert_.get()},
                                  sha1 ? EVP_sha1() : EVP_sha256(), /*detached=*/false);
  if (der.empty()) return Internal("enroll.sign_failed", "CMS signing failed");
  return der;
}

}  // namespace ae::mdm
