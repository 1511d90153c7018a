#pragma once
// MachineInfo: what Setup Assistant posts to the enrollment URL of a DEP
// profile (apple-dep.md §6.2), and how it is verified.
//
// The body is DER CMS SignedData with the XML plist attached, signed by the
// device identity certificate that "Apple iPhone Device CA" issued to this
// device (its subject's CN is the device's UDID; some carry the serial number
// too). That CA expired in 2014 and signs with SHA-1, so the path ignores the
// CAs' validity periods and accepts SHA-1. The trust rules:
//   1. exactly one signer; its signature (and its signed attributes, when
//      present) must verify over the attached content;
//   2. the signer certificate must be issued directly by a certificate of the
//      DeviceTrust bundle, and its path must verify up to the bundle (every
//      bundle certificate is a trust anchor; their validity periods are
//      ignored); so a certificate that merely chains to Apple Root CA through
//      another Apple intermediate (a developer certificate, say) is refused;
//   3. the signer certificate itself must be valid at the verifier's clock;
//   4. the signer is the device the MachineInfo names: its CN equals UDID
//      (letter case aside), and its serialNumber, when it has one, equals SERIAL.
//
// TestDeviceAuthority plays Apple's part in tests and in the device
// simulator: a CA of its own, device certificates, and the signed MachineInfo
// exactly as a device sends it.
//
// Thread-safety: DeviceTrust and TestDeviceAuthority are immutable after
// construction; their const methods and VerifyMachineInfo are thread-safe.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "events/base/clock.h"
#include "events/base/status.h"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;

namespace ae::mdm {

// The MachineInfo plist keys the engine uses (strings unless noted).
struct MachineInfo {
  std::string udid;        // UDID (required)
  std::string serial;      // SERIAL (required)
  std::string product;     // PRODUCT, e.g. "iPhone14,2"
  std::string version;     // VERSION: the OS build, e.g. "21E219"
  std::string os_version;  // OS_VERSION, e.g. "17.4" (iOS 17+)
  std::string imei;        // IMEI (cellular devices)
  std::string meid;        // MEID (cellular devices)
  std::string language;    // LANGUAGE, e.g. "en"
  bool mdm_can_request_software_update = false;  // MDM_CAN_REQUEST_SOFTWARE_UPDATE
  // Set by VerifyMachineInfo, from the signer certificate: its subject, one line, and
  // the lower-case hex SHA-256 of its DER.
  std::string signer_subject;
  std::string signer_sha256;
};

// Larger bodies are refused before parsing.
inline constexpr size_t kMaxMachineInfoBytes = 64 * 1024;

// The trust anchors for MachineInfo signatures. Cheap to copy (shared).
class DeviceTrust {
 public:
  // One or more PEM certificates; text between them is ignored.
  // kInvalidArgument "enroll.bad_device_trust" when there is none.
  static Result<DeviceTrust> FromPem(std::string_view pem_bundle);

  // Apple's public chain shipped in adapters/apple_mdm/apple_device_ca.pem:
  // Apple iPhone Device CA, Apple iPhone Certification Authority, Apple Root CA.
  static Result<DeviceTrust> Bundled();

  // One-line subjects of the anchors, in bundle order.
  std::vector<std::string> Subjects() const;
  size_t size() const;

  struct Rep;  // implementation detail
  const Rep& rep() const { return *rep_; }

 private:
  explicit DeviceTrust(std::shared_ptr<const Rep> rep) : rep_(std::move(rep)) {}
  std::shared_ptr<const Rep> rep_;
};

// The PEM bundle DeviceTrust::Bundled() loads (apple_device_ca.pem).
std::string_view BundledAppleDeviceCaPem();

// Verifies `body` (DER CMS SignedData, content attached; <= 64 KiB) at the time
// `clock` gives and returns its MachineInfo with the signer fields set.
// kInvalidArgument "enroll.bad_machine_info": too big, not CMS SignedData, no
// content, not a plist dictionary, UDID or SERIAL missing (the route answers 400).
// kPermissionDenied "enroll.bad_signature": not exactly one signer, the
// signature or the signer's chain does not verify against `trust`, or the signer
// certificate is not valid now.
// kPermissionDenied "enroll.signer_mismatch": the signer certificate is another
// device's (its CN is not UDID, or its serialNumber is not SERIAL).
Result<MachineInfo> VerifyMachineInfo(std::string_view body, const DeviceTrust& trust,
                                      const Clock& clock);

// The XML plist of `info` (without the signer fields), as a device writes it.
std::string MachineInfoPlist(const MachineInfo& info);

// A device certificate and its key, PEM.
struct DeviceCertificate {
  std::string certificate_pem;
  std::string private_key_pem;
};

// Apple's part, for tests and the device simulator: a self-signed RSA-2048
// CA ("Test iPhone Device CA") that issues device certificates and signs
// MachineInfo as a device does.
class TestDeviceAuthority {
 public:
  // Like Apple iPhone Device CA, the generated CA is past its validity period
  // (it expired a year ago), while the device certificates it issues are valid.
  static Result<TestDeviceAuthority> Generate(std::string_view common_name = "Test iPhone Device CA");
  // Restores an authority saved with CaPem() and PrivateKeyPem().
  // kInvalidArgument "enroll.bad_test_authority" when either does not parse
  // or the key is not the certificate's.
  static Result<TestDeviceAuthority> FromPem(std::string_view ca_certificate_pem,
                                             std::string_view ca_private_key_pem);

  TestDeviceAuthority(TestDeviceAuthority&&) noexcept;
  TestDeviceAuthority& operator=(TestDeviceAuthority&&) noexcept;
  ~TestDeviceAuthority();

  // The CA certificate: what DeviceTrust::FromPem takes.
  std::string CaPem() const;
  // The CA's unencrypted PKCS#8 private key, PEM: a secret, for storing with
  // mode 0600 only; never log it.
  std::string PrivateKeyPem() const;

  // A device certificate shaped like Apple's (RSA-2048, CN = udid, and
  // serialNumber = serial unless `serial` is empty; valid from a day ago for three
  // years) issued by this CA. `expired` makes one that expired a year ago; `sha1`
  // signs the certificate with SHA-1 as Apple's CA does.
  Result<DeviceCertificate> IssueDeviceCertificate(std::string_view udid, std::string_view serial,
                                                   bool expired = false, bool sha1 = false) const;

  // What a device posts: the MachineInfo XML plist in DER CMS SignedData,
  // attached, signed by a fresh device certificate for info.udid (and
  // info.serial, unless `serial_in_certificate` is false), with the signer and CA
  // certificates included. `sha1` uses SHA-1 for both the certificate and the CMS
  // signature.
  Result<std::string> SignMachineInfo(const MachineInfo& info, bool sha1 = false,
                                      bool expired = false,
                                      bool serial_in_certificate = true) const;

  // The same with a given device certificate (from IssueDeviceCertificate or
  // any other CA), over arbitrary `content` (tests use non-plist content).
  Result<std::string> SignContent(std::string_view content, const DeviceCertificate& device,
                                  bool sha1 = false) const;

 private:
  struct KeyFree {
    void operator()(EVP_PKEY* k) const;
  };
  struct CertFree {
    void operator()(X509* c) const;
  };
  TestDeviceAuthority(std::unique_ptr<EVP_PKEY, KeyFree> key, std::unique_ptr<X509, CertFree> cert);

  std::unique_ptr<EVP_PKEY, KeyFree> key_;
  std::unique_ptr<X509, CertFree> cert_;
};

}  // namespace ae::mdm
