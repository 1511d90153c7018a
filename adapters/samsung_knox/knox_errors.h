#pragma once
// How the Knox Cloud API client reports Samsung's answers as Status (samsung-kme.md
// §3.2, §4.6). Reasons are stable; the engine keys tenant and device states on them.
//
//   reason                  code                 meaning / what to do
//   knox.unauthorized       kUnauthenticated     the token endpoint refused the client
//                                                credentials (invalid_client), or a call still
//                                                got 401 (or 403 AUTHENTICATION_FAIL 4030000)
//                                                after one fresh token: rotate the credentials
//   knox.forbidden          kPermissionDenied    403 AUTHORIZATION_FAIL 40300000, another 403
//                                                without a known code, or OAuth invalid_scope:
//                                                the cloud app lacks the scope, or the admin
//                                                lacks API access (KBA-1027, §3.4)
//   knox.rate_limited       kUnavailable         429 until the deadline (or a Retry-After that
//                                                does not fit in it)
//   knox.unavailable        kUnavailable         transport errors, 5xx until the deadline
//   knox.bad_response       kInternal            a 2xx whose body is not as documented
//   knox.method_not_allowed kInvalidArgument     405 (the client falls back where §4.1 says so)
//   knox.<code>             by HTTP status       any answer carrying Samsung's numeric code:
//                                                400 kInvalidArgument, 404 kNotFound, 409
//                                                kAlreadyExists, 422 kUnprocessable, 403
//                                                kPermissionDenied, 5000006 (credentials not
//                                                encrypted with Samsung's key)
//                                                kFailedPrecondition; e.g. knox.4000019
//                                                TOO_MANY_DEVICES, knox.4040400 PROFILE_NOT_FOUND
//   knox.not_found          kNotFound            404 without a code
//   knox.request_rejected   kInvalidArgument     any other 4xx without a code
//
// Messages name the call, the HTTP status, Samsung's code, symbol and human text: never a
// token, a client secret or an encrypted credential.

#include <optional>
#include <string>
#include <string_view>

#include "events/base/status.h"

namespace ae::knox {

inline constexpr char kUnauthorized[] = "knox.unauthorized";
inline constexpr char kForbidden[] = "knox.forbidden";
inline constexpr char kRateLimited[] = "knox.rate_limited";
inline constexpr char kKnoxUnavailable[] = "knox.unavailable";
inline constexpr char kBadResponse[] = "knox.bad_response";
inline constexpr char kMethodNotAllowed[] = "knox.method_not_allowed";
inline constexpr char kNotFoundNoCode[] = "knox.not_found";
inline constexpr char kRequestRejected[] = "knox.request_rejected";

// Samsung's codes (§4.6) the client and the engine look for.
inline constexpr char kInvalidParam[] = "knox.4000000";       // RESOURCE_INVALID_PARAM
inline constexpr char kTooManyDevices[] = "knox.4000019";     // TOO_MANY_DEVICES
inline constexpr char kTenantMismatch[] = "knox.4000904";     // TENANT_MISMATCH
inline constexpr char kDeviceInvalid[] = "knox.4001703";      // BULK_ENROLL_DEVICE_INVALID
inline constexpr char kDeviceNotFound[] = "knox.4040300";     // DEVICE_NOT_FOUND
inline constexpr char kProfileNotFound[] = "knox.4040400";    // PROFILE_NOT_FOUND
inline constexpr char kRsaDecryptionFail[] = "knox.5000006";  // RSA_DECRYPTION_FAIL

// Samsung's numeric codes as the simulator and the parser use them.
inline constexpr int kCodeInvalidParam = 4000000;
inline constexpr int kCodeTooManyDevices = 4000019;
inline constexpr int kCodeTenantMismatch = 4000904;
inline constexpr int kCodeDeviceInvalid = 4001703;
inline constexpr int kCodeAuthorizationFail = 4010000;   // 401: not authenticated
inline constexpr int kCodeAuthenticationFail = 4030000;  // 403: e.g. expired access token
inline constexpr int kCodeNotPermitted = 40300000;       // 403: scope / permission missing
inline constexpr int kCodeResourceNotFound = 4040000;
inline constexpr int kCodeDeviceNotFound = 4040300;
inline constexpr int kCodeProfileNotFound = 4040400;
inline constexpr int kCodeInternal = 5000000;
inline constexpr int kCodeRsaDecryptionFail = 5000006;

// One error body, §4.6: {"errorId", "code", "message" (the SYMBOL), "data" (human text)}.
// Each member may be a string, a number, or a one-element array of either. An OAuth error
// ({"error": "invalid_client", "error_description": ...}) fills `code` with the OAuth code.
struct KnoxError {
  std::string error_id;
  std::string code;     // "4000019", "invalid_client", or "" when absent
  std::string symbol;   // "TOO_MANY_DEVICES"
  std::string data;     // "Device ID list cannot be empty"
};

// nullopt when `body` is not a JSON object carrying at least a code or a symbol.
std::optional<KnoxError> ParseKnoxError(std::string_view body);

// True when a 401, or a 403 with code 4030000 (AUTHENTICATION_FAIL: the token expired),
// says the access token is no longer good: get a new one and replay the call once.
bool IsTokenFailure(int http_status, std::string_view body);

// The Status for a non-2xx answer of `call` (e.g. "PUT /kcs/v1/kme/devices/assignProfile")
// that is not retried, per the table above.
Status StatusForKnoxError(std::string_view call, int http_status, std::string_view body);

// The Status for a refused OAuth token request (§3.2).
Status StatusForTokenError(int http_status, std::string_view body);

}  // namespace ae::knox
