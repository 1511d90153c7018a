#pragma once
// Reason catalogue of the Knox Cloud API client and the Knox portal CSV import: `knox.`, `csv.`.
// Each entry is a reason code raised in the source tree, with the HTTP status it is answered
// with and its meaning; api/ERRORS.md shows them all. See events/base/reason_info.h.

#include "events/base/reason_info.h"

namespace ae::knox {

inline constexpr ReasonInfo kReasons[] = {
    {"knox.4000000", 400,
     "Samsung rejected a parameter (RESOURCE_INVALID_PARAM), such as an empty device list"},
    {"knox.bad_credential_key", 400, "credential_public_key is not Samsung's RSA public key"},
    {"knox.bad_credentials", 400, "client_id and client_secret are required"},
    {"knox.bad_options", 400, "a Knox client option is invalid; `field` names it"},
    {"knox.bad_response", 500, "an answer of Samsung is not as documented"},
    {"knox.credential_too_long", 400, "a credential is longer than Samsung's key can encrypt"},
    {"knox.encrypt_failed", 500, "the credentials cannot be encrypted"},
    {"knox.forbidden", 403,
     "Samsung denied access: the cloud app lacks the scope, or the admin lacks API access"},
    {"knox.method_not_allowed", 400, "Samsung answered 405"},
    {"knox.not_found", 404, "Samsung answered 404 without a code"},
    {"knox.rate_limited", 503, "Samsung keeps answering 429: retry later"},
    {"knox.request_rejected", 400, "Samsung rejected the request without a code"},
    {"knox.unauthorized", 401, "Samsung refused the client credentials: rotate them"},
    {"knox.unavailable", 503, "Samsung cannot be reached or keeps answering 5xx: retry later"},
    {"csv.empty_file", 422, "the CSV file has no rows"},
    {"csv.header_unrecognised", 422,
     "the first row names no known column and does not start with a device identifier"},
    {"csv.identifier_conflict", 400, "the row names two different identifiers of the same kind"},
    {"csv.identifier_invalid", 400,
     "a cell is not a device identifier (IMEI, MEID or serial number)"},
    {"csv.imei_check_digit_mismatch", 400, "the IMEI's check digit is wrong"},
    {"csv.imei_invalid", 400, "an IMEI must have 14 or 15 digits"},
    {"csv.imei_scientific_notation", 400,
     "a spreadsheet turned the IMEI into scientific notation, which destroys it"},
    {"csv.no_identifier_column", 422,
     "the header has no device identifier column (IMEI/MEID, IMEI2 or Serial number)"},
    {"csv.options_invalid", 400, "a CSV reader option is invalid"},
    {"csv.reader_finished", 409, "the CSV reader was fed after it finished"},
    {"csv.record_too_large", 422, "a row is longer than the reader accepts"},
    {"csv.serial_invalid", 400, "a serial number has 8 to 20 letters and digits"},
    {"csv.too_many_imeis", 400, "a device has at most two IMEIs"},
};

}  // namespace ae::knox
