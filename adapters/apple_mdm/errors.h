#pragma once
// Reason catalogue of Apple device enrollment and MDM: profiles, the MDM CA, device messages:
// `mdm.`, `enroll.`.
// Each entry is a reason code raised in the source tree, with the HTTP status it is answered
// with and its meaning; api/ERRORS.md shows them all. See events/base/reason_info.h.

#include "events/base/reason_info.h"

namespace ae::mdm {

inline constexpr ReasonInfo kReasons[] = {
    {"mdm.bad_ca_options", 400, "the MDM CA needs a common name of 1 to 64 printable characters"},
    {"mdm.bad_certificate", 400, "the certificate is not a PEM X.509 certificate"},
    {"mdm.bad_checkin", 400, "the device's check-in message is malformed"},
    {"mdm.bad_command", 400, "the MDM command is malformed"},
    {"mdm.bad_command_result", 400, "the device's command result is malformed"},
    {"mdm.bad_common_name", 400, "a common name must be 1 to 64 printable characters"},
    {"mdm.bad_private_key", 400, "the private key is not a PEM private key"},
    {"mdm.bad_profile", 400, "the configuration profile is not valid"},
    {"mdm.bad_profile_payload", 400,
     "a payload of the configuration profile is not valid; `field` names it"},
    {"mdm.bad_signature", 401, "the Mdm-Signature of the device message does not verify"},
    {"mdm.identity_revoked", 401, "this device identity was revoked: the device must enroll again"},
    {"mdm.issue_failed", 500, "the device certificate cannot be issued"},
    {"mdm.key_mismatch", 400, "the private key does not match the certificate"},
    {"mdm.keygen_failed", 500, "a key cannot be generated"},
    {"mdm.not_a_ca", 400, "the certificate is not a CA certificate"},
    {"mdm.not_enrolled", 403, "the device is not enrolled"},
    {"mdm.sign_failed", 500, "the configuration profile cannot be signed"},
    {"mdm.signature_required", 401, "device messages need the Mdm-Signature header"},
    {"mdm.verify_failed", 500, "the device signature cannot be checked"},
    {"enroll.bad_certificate", 400, "ca_certificate_pem is not PEM"},
    {"enroll.bad_device", 400, "udid must be 1 to 64 characters and the serial at most 64"},
    {"enroll.bad_device_ca", 400, "the --apple-device-ca file cannot be read"},
    {"enroll.bad_device_trust", 400, "the device trust bundle holds no PEM certificate"},
    {"enroll.bad_machine_info", 400,
     "the device's MachineInfo is too big, not CMS SignedData or malformed"},
    {"enroll.bad_profile", 400, "the enrollment profile is not valid"},
    {"enroll.bad_profile_options", 400,
     "an enrollment profile option is invalid; `field` names it"},
    {"enroll.bad_signature", 403, "the device's signature does not verify against the device CA"},
    {"enroll.bad_test_authority", 400,
     "the test device authority needs a common name of 1 to 64 characters"},
    {"enroll.keygen_failed", 500, "a key cannot be generated"},
    {"enroll.no_profile", 403, "this device has no DEP profile assigned"},
    {"enroll.no_user", 403, "this device has no user assigned"},
    {"enroll.not_allowed", 403, "this device may not enroll here; the administrator can see why"},
    {"enroll.not_assigned", 403, "this device is no longer assigned to this server at Apple"},
    {"enroll.profile_failed", 500, "the enrollment profile cannot be serialised"},
    {"enroll.sign_failed", 500, "the enrollment profile cannot be signed"},
    {"enroll.signer_mismatch", 403, "the UDID is not the signer certificate's common name"},
    {"enroll.trust_failed", 500, "the device trust store cannot be built"},
    {"enroll.unavailable", 503, "device enrollment is not available on this server"},
    {"enroll.unknown_device", 403, "this device is not in any synced DEP account"},
    {"enroll.verify_failed", 500, "the device signature cannot be checked"},
};

}  // namespace ae::mdm
