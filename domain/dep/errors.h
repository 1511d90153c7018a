#pragma once
// Reason catalogue of Apple DEP: accounts, server tokens, profiles, devices and the calls to Apple:
// `dep.`.
// Each entry is a reason code raised in the source tree, with the HTTP status it is answered
// with and its meaning; api/ERRORS.md shows them all. See events/base/reason_info.h.

#include "events/base/reason_info.h"

namespace ae::domain::dep {

inline constexpr ReasonInfo kReasons[] = {
    {"dep.access_denied", 403, "Apple denied access (403 ACCESS_DENIED)"},
    {"dep.account_exists", 409, "a DEP account with this id exists"},
    {"dep.account_inactive", 409,
     "the DEP account is not active (disconnected, or its token expired or was rejected)"},
    {"dep.account_not_found", 404, "no DEP account has this id"},
    {"dep.bad_certificate", 400, "the certificate is not a PEM X.509 certificate"},
    {"dep.bad_device", 400, "a synced device has no serial number"},
    {"dep.bad_identity_options", 400,
     "the server identity needs rsa_bits of at least 2048, a positive validity and a 1 to 64 "
     "character CN"},
    {"dep.bad_options", 400, "a DEP client option is invalid"},
    {"dep.bad_private_key", 400, "the private key is not a PEM private key"},
    {"dep.bad_profile", 400, "the DEP profile is not a JSON object as Apple defines it"},
    {"dep.bad_response", 500, "an answer of Apple is not as documented"},
    {"dep.bad_serial", 400, "a serial number has 1 to 64 letters and digits"},
    {"dep.checkpoint", 500, "the DEP sync checkpoint cannot be written"},
    {"dep.config_name_required", 400, "profile_name is required"},
    {"dep.cursor_required", 409,
     "a sync needs the cursor of a fetch: the engine fetches again from the start"},
    {"dep.device_disowned", 409, "the device is already disowned"},
    {"dep.device_id_required", 400, "at least one serial number is required"},
    {"dep.device_not_assigned_to_server", 409,
     "the device is no longer assigned to this MDM server at Apple"},
    {"dep.device_not_found", 404, "no DEP device has this serial number"},
    {"dep.disown_not_confirmed", 400,
     "disown is permanent: repeat the device's serial number in confirm_serial_number"},
    {"dep.exhausted_cursor", 409, "Apple's fetch cursor is complete: the engine switches to sync"},
    {"dep.expired_cursor", 409,
     "Apple's cursor is older than 7 days: the engine fetches again from the start"},
    {"dep.flags_invalid", 400,
     "the profile's flags do not fit together (await_device_configured needs is_supervised)"},
    {"dep.invalid_cursor", 409,
     "Apple does not know the cursor: the engine fetches again from the start"},
    {"dep.key_mismatch", 400, "the private key does not match the certificate"},
    {"dep.key_missing", 500, "the account's private key is missing from the secret store"},
    {"dep.keygen_failed", 500, "the server identity cannot be generated"},
    {"dep.no_token", 409, "no server token was uploaded for this account"},
    {"dep.not_found", 404, "Apple answered 404 without a code"},
    {"dep.profile_delete_not_supported", 405,
     "Apple keeps DEP profiles forever: define a new profile and assign it instead"},
    {"dep.profile_exists", 409, "a DEP profile with this id exists"},
    {"dep.profile_not_defined", 409, "the profile can be assigned once Apple has accepted it"},
    {"dep.profile_not_found", 404, "no DEP profile has this id"},
    {"dep.profile_other_account", 422,
     "the profile belongs to another DEP account than the device"},
    {"dep.profile_uuid_required", 400, "a profile UUID is required"},
    {"dep.request_rejected", 400, "Apple rejected the request without a recognisable code"},
    {"dep.skip_item_invalid", 400,
     "an item of skip_setup_items is not one of Apple's keys (they are case-sensitive)"},
    {"dep.support_email_invalid", 400, "support_email_address must be an e-mail address"},
    {"dep.sync_cancelled", 503, "the DEP sync stopped because the engine is stopping"},
    {"dep.sync_incomplete", 503,
     "the DEP sync stopped before Apple said it was complete; it resumes from the committed "
     "cursor"},
    {"dep.terms_not_signed", 409,
     "Apple's new terms must be accepted in the Apple Business Manager portal"},
    {"dep.throttled", 503,
     "Apple asked to wait longer than the call may: do not call again before the time given"},
    {"dep.token_encrypt_failed", 500, "the server token cannot be encrypted for the account"},
    {"dep.token_expired", 422, "the server token has expired: download a new one from Apple and upload it"},
    {"dep.token_malformed", 422, "the uploaded server token (.p7m) is empty or does not decode"},
    {"dep.token_not_for_this_account", 422,
     "the server token was issued for another server identity or account"},
    {"dep.token_rejected", 401,
     "Apple refused the server token (revoked or replaced): upload a new one"},
    {"dep.too_many_devices", 400, "too many serial numbers in one call to Apple"},
    {"dep.unavailable", 503, "Apple cannot be reached or keeps answering 429 or 5xx: retry later"},
    {"dep.unknown_account", 422, "no DEP account has the id a field of the body names"},
    {"dep.unknown_profile", 422, "no DEP profile has the id a field of the body names"},
    {"dep.url_invalid", 400, "url must be an http(s) URL"},
};

}  // namespace ae::domain::dep
