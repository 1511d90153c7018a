#pragma once
// AppleDeviceSimulator: one Apple device going through automated enrollment
// against the engine over real HTTP (apple-dep.md §6), for integration tests
// and the demo.
//
//   Enroll(url)       POST the CMS-signed MachineInfo (application/pkcs7-signature);
//                     on 200 parse the enrollment profile and open its PKCS#12
//                     identity with the profile's password
//   Authenticate()    PUT check-in messages to the profile's CheckInURL
//   TokenUpdate(..)   (application/x-apple-aspen-mdm-checkin)
//   CheckOut()
//   Poll()            PUT Idle or the previous command's result to ServerURL
//                     (application/x-apple-aspen-mdm); returns the next command
//   RunCommandLoop()  acknowledges every command until the server answers empty
// An InstallProfile command is answered as a device would: its Payload is read (a signed
// profile's signature checked) and installed, replacing a profile of the same
// PayloadIdentifier (Acknowledged), or refused (Error, with the reason).
// Every check-in and command-channel message carries
// `Mdm-Signature: base64(detached CMS over the body)` made with the identity.
//
// Thread-safety: not thread-safe; one thread drives one device.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/apple_mdm/checkin.h"
#include "adapters/apple_mdm/configuration_profile.h"
#include "adapters/apple_mdm/enrollment_profile.h"
#include "adapters/apple_mdm/machine_info.h"
#include "events/base/status.h"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct x509_st X509;

namespace ae::sim {

struct AppleDeviceSimulatorOptions {
  std::string base_url;  // the engine's public URL, "http(s)://host:port"; relative URLs resolve here
  std::string serial = "C02SIMDEVICE";
  std::string udid = "00008030-000A1B2C3D4E5F60";
  std::string model = "iPhone14,2";      // MachineInfo PRODUCT and check-in Model
  std::string model_name = "iPhone";
  std::string os_version = "17.4";
  std::string build_version = "21E219";  // MachineInfo VERSION and check-in BuildVersion
  std::string topic_override;  // empty: use the profile's Topic in check-ins
  // Who signs the MachineInfo: the authority (a fresh device certificate per
  // enrollment, shaped like Apple's: CN = udid, serialNumber = serial; must
  // outlive the simulator), or the given device certificate (PEM, the signer
  // first; a test signs with another device's certificate this way).
  const mdm::TestDeviceAuthority* authority = nullptr;
  mdm::DeviceCertificate device_certificate;
  bool expired_cert = false;  // with `authority`: a device certificate that has expired
  bool sha1 = false;          // with `authority`: SHA-1, as real devices sign
  // With `authority`: the device certificate names the serial number too (some of
  // Apple's carry only the UDID).
  bool serial_in_certificate = true;
  // https: PEM CA certificates to trust for the server; empty trusts the system store.
  std::string tls_ca_pem;
  int timeout_ms = 10'000;
  // The status sent back for a command (default "Acknowledged").
  std::function<mdm::CommandResult(const mdm::Command&)> respond;
};

struct EnrollOutcome {
  int http_status = 0;
  std::string content_type;
  std::string error_body;  // the body when the status is not 200
  std::optional<mdm::ParsedEnrollmentProfile> profile;  // on 200
  std::string identity_certificate_pem;                  // from the PKCS#12, on 200
};

class AppleDeviceSimulator {
 public:
  explicit AppleDeviceSimulator(AppleDeviceSimulatorOptions options);
  ~AppleDeviceSimulator();
  AppleDeviceSimulator(const AppleDeviceSimulator&) = delete;
  AppleDeviceSimulator& operator=(const AppleDeviceSimulator&) = delete;

  // POSTs MachineInfo to `enroll_url` (absolute, or a path under base_url).
  // Transport failures are kUnavailable "sim.transport"; any HTTP status is an
  // outcome. A 200 whose profile or PKCS#12 does not open is kInvalidArgument
  // "sim.bad_profile".
  Result<EnrollOutcome> Enroll(std::string_view enroll_url);

  // Check-in messages; each returns the HTTP status. kFailedPrecondition
  // "sim.not_enrolled" before a successful Enroll().
  Result<int> Authenticate();
  Result<int> TokenUpdate(bool awaiting_configuration);
  Result<int> CheckOut();

  // One command-channel round trip: sends Idle, or the result of the command
  // received last; returns the next command, or nullopt on an empty 200.
  // A non-200 answer is kUnavailable "sim.http_status" with the status in the message.
  Result<std::optional<mdm::Command>> Poll();

  // Polls until the server answers empty (acknowledging every command), at
  // most `max_rounds` times; returns the commands received, in order.
  // kDeadlineExceeded "sim.too_many_commands" when the rounds run out.
  Result<std::vector<mdm::Command>> RunCommandLoop(int max_rounds);

  // What the device holds after Enroll().
  bool enrolled() const { return profile_.has_value(); }
  const std::optional<mdm::ParsedEnrollmentProfile>& profile() const { return profile_; }
  const std::string& push_token() const { return push_token_; }  // raw bytes sent in TokenUpdate
  const std::string& push_magic() const { return push_magic_; }
  const AppleDeviceSimulatorOptions& options() const { return options_; }
  // The configuration profiles installed by InstallProfile, by PayloadIdentifier.
  const std::map<std::string, mdm::ParsedConfigurationProfile>& installed_profiles() const {
    return installed_profiles_;
  }

  // Signs `body` as the device would for Mdm-Signature (tests tamper with it).
  Result<std::string> MdmSignatureForTest(std::string_view body) const;
  // PUTs a raw body with the given content type and signature header value.
  Result<int> PutForTest(std::string_view url, std::string_view content_type, std::string body,
                         std::optional<std::string> mdm_signature);

 private:
  struct Response {
    int status = 0;
    std::string content_type;
    std::string body;
  };
  Result<Response> Send(std::string_view method, std::string_view url,
                        std::string_view content_type, const std::string& body,
                        const std::optional<std::string>& mdm_signature);
  Result<int> Checkin(mdm::CheckinMessage message);
  mdm::CheckinMessage BaseCheckin(std::string_view type) const;

  struct KeyFree {
    void operator()(EVP_PKEY* k) const;
  };
  struct CertFree {
    void operator()(X509* c) const;
  };

  AppleDeviceSimulatorOptions options_;
  std::optional<mdm::ParsedEnrollmentProfile> profile_;
  std::unique_ptr<EVP_PKEY, KeyFree> identity_key_;
  std::unique_ptr<X509, CertFree> identity_cert_;
  std::string push_token_;
  std::string push_magic_;
  std::optional<mdm::CommandResult> pending_result_;  // sent with the next Poll()
  std::map<std::string, mdm::ParsedConfigurationProfile> installed_profiles_;
};

}  // namespace ae::sim
