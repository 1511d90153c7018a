#pragma once
// Reason catalogue of Samsung Knox Mobile Enrollment: devices, imports, tokens and the Knox Cloud
// API connection: `kme.`.
// Each entry is a reason code raised in the source tree, with the HTTP status it is answered
// with and its meaning; api/ERRORS.md shows them all. See events/base/reason_info.h.

#include "events/base/reason_info.h"

namespace ae::domain::kme {

inline constexpr ReasonInfo kReasons[] = {
    {"kme.already_imported", 409, "the device is registered in Knox Mobile Enrollment already"},
    {"kme.bad_identifier", 400,
     "a device identifier (IMEI, MEID or serial number) is not valid; `field` names it"},
    {"kme.bad_source", 400, "source must be \"kme\" or \"knox_deployment\""},
    {"kme.bad_token_hash", 400, "an enrollment token needs its SHA-256 and secret reference"},
    {"kme.bad_user_id", 400, "user_id must be 1 to 64 letters, digits and . _ - @ +"},
    {"kme.certificate", 500, "the server certificate cannot be read"},
    {"kme.device_not_found", 404, "no KME device has this identifier"},
    {"kme.device_not_imported", 403,
     "the device is not imported: import it from the Knox portal CSV before it enrolls"},
    {"kme.identifier_conflict", 409, "the identifiers name two different devices"},
    {"kme.import_aborted", 503, "the import stopped because an append failed"},
    {"kme.import_cancelled", 503, "the import was cancelled because the server is stopping"},
    {"kme.import_empty", 400, "the body is empty: send the CSV file exported from the Knox portal"},
    {"kme.import_recorded", 409, "this import is already recorded"},
    {"kme.import_unreadable", 422, "the CSV file cannot be read as a Knox export"},
    {"kme.knox_bad_connection", 400,
     "the Knox Cloud API connection lacks base_url, token_url, client_id or the secret"},
    {"kme.knox_bad_sync", 400, "a Knox sync summary needs its sync id"},
    {"kme.knox_bad_url", 400, "base_url and token_url must be http(s) URLs"},
    {"kme.knox_not_connected", 409,
     "there is no Knox Cloud API connection: PUT /v1/kme/knox first"},
    {"kme.knox_secret_missing", 409,
     "the Knox client secret is missing from the secret store: connect again"},
    {"kme.knox_sync_cancelled", 503, "the Knox sync stopped because the engine is stopping"},
    {"kme.knox_sync_not_running", 503,
     "this server does not sync with Knox (a query replica): ask the writer"},
    {"kme.missing_identifiers", 400, "send at least one of imei, imei2, meid, serial_number"},
    {"kme.no_device_id", 400, "a new device needs its device id"},
    {"kme.no_identifier", 400, "the device has no IMEI, MEID or serial number"},
    {"kme.no_user", 403,
     "the device has no user: assign one, or give user_id when the Knox Deployment App enrolls it"},
    {"kme.token_secret_missing", 500,
     "the enrollment token's secret is missing from the secret store: rotate the token"},
    {"kme.user_creation_disabled", 403,
     "the Knox Deployment App may not create users (knox_deployment_creates_users is off)"},
    {"kme.user_exists", 403,
     "the Knox Deployment App cannot bind a device to an existing user: assign the device instead"},
    {"kme.user_role_not_allowed", 403,
     "the Knox Deployment App never binds a device to a user above device_user"},
};

}  // namespace ae::domain::kme
