#pragma once
// The enrollment profile (apple-dep.md §6.5): the configuration profile the
// enrollment endpoint answers with (Content-Type application/x-apple-aspen-config).
//
// PayloadContent holds, in install order:
//   1. com.apple.security.root (optional): the CA certificate, DER, so the
//      device trusts a private CA;
//   2. com.apple.security.pkcs12: the device identity (PKCS#12 as <data>, and
//      its Password);
//   3. com.apple.mdm: IdentityCertificateUUID = the PKCS#12 payload's
//      PayloadUUID, Topic, ServerURL, CheckInURL, SignMessage, AccessRights,
//      CheckOutWhenRemoved, ServerCapabilities.
// Every PayloadUUID is a fresh random UUID.
//
// Thread-safety: free functions without shared state.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/apple_mdm/mdm_ca.h"
#include "events/base/status.h"

namespace ae::mdm {

struct EnrollmentProfileOptions {
  std::string organization;  // PayloadOrganization and display names
  std::string server_url;    // ServerURL: the command channel (http or https)
  std::string checkin_url;   // CheckInURL; empty means the device checks in at ServerURL
  std::string topic;         // APNs topic of the push certificate (com.apple.mgmt.External.<uuid>)
  std::string payload_identifier_prefix = "com.autoenroll";  // PayloadIdentifier prefix
  DeviceIdentity identity;          // from MdmCa::IssueDeviceIdentity
  std::string ca_certificate_pem;   // optional: adds a com.apple.security.root payload
  bool sign_message = true;         // SignMessage: devices add Mdm-Signature
  bool check_out_when_removed = true;
  int access_rights = 8191;         // 1..8191; 8191 grants every right
  // ServerCapabilities (empty: none).
  std::vector<std::string> server_capabilities = {"com.apple.mdm.per-user-connections"};
};

// The XML plist of the profile. kInvalidArgument "enroll.bad_profile_options"
// (field set) when a URL is not http(s), the topic, organization or identity is
// missing, or access_rights is out of range; "enroll.bad_certificate" when
// ca_certificate_pem is not PEM.
Result<std::string> BuildEnrollmentProfile(const EnrollmentProfileOptions& options);

// What a device reads back from the profile.
struct ParsedEnrollmentProfile {
  std::string payload_identifier;
  std::string organization;
  std::string server_url;
  std::string checkin_url;  // ServerURL when the profile has no CheckInURL
  std::string topic;
  std::string pkcs12_der;
  std::string password;
  bool sign_message = false;
  bool check_out_when_removed = false;
  int64_t access_rights = 0;
  std::string identity_certificate_uuid;  // from the com.apple.mdm payload
  std::string pkcs12_payload_uuid;        // the com.apple.security.pkcs12 payload's PayloadUUID
  std::string root_certificate_der;       // com.apple.security.root, when present
  std::vector<std::string> server_capabilities;
};

// Parses an enrollment profile (XML or binary plist, <= 1 MiB). Unsigned
// profiles only. kInvalidArgument "enroll.bad_profile" naming what is wrong:
// not a Configuration profile, no com.apple.mdm payload, no identity payload
// matching IdentityCertificateUUID, a required key missing.
Result<ParsedEnrollmentProfile> ParseEnrollmentProfile(std::string_view xml);

// A random (version 4) UUID, upper case as Apple writes them.
std::string NewPayloadUuid();

}  // namespace ae::mdm
