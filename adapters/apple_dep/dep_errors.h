#pragma once
// How the DEP client reports Apple's answers as Status (apple-dep.md §2.2, §3,
// §7.6 lesson 3). Reasons are stable; the domain keys account states on them.
//
//   reason                  code                 meaning / what to do
//   dep.terms_not_signed    kFailedPrecondition  403 T_C_NOT_SIGNED: an admin must accept
//                                                Apple's new terms in the portal; never retried
//   dep.token_rejected      kUnauthenticated     /session refused the OAuth token (401, or
//                                                token_rejected / signature_invalid), or a
//                                                call still got 401 after one re-auth: the
//                                                token was revoked or replaced; upload a new one
//   dep.token_expired       kUnprocessable       access_token_expiry has passed (checked before
//                                                /session is ever called)
//   dep.access_denied       kPermissionDenied    403 ACCESS_DENIED or another 403
//   dep.unavailable         kUnavailable         transport errors, 429, 5xx until the deadline
//   dep.throttled           kUnavailable         429/5xx whose Retry-After is longer than the
//                                                call may wait (RetryPolicy::max_retry_after_ms):
//                                                do not call again before
//                                                DepClientImpl::ThrottledUntilMs()
//   dep.bad_response        kInternal            a 2xx whose body is not as documented
//   dep.exhausted_cursor    kFailedPrecondition  fetch cursor already complete: switch to sync
//   dep.expired_cursor      kFailedPrecondition  cursor older than 7 days: full refetch
//   dep.invalid_cursor      kFailedPrecondition  cursor unknown/tampered: full refetch
//   dep.cursor_required     kFailedPrecondition  sync without a cursor: full refetch
//   dep.profile_not_found   kNotFound            unknown profile UUID (GET 400 NOT_FOUND,
//                                                assign 404)
//   dep.<apple_code>        kInvalidArgument     any other 400 naming a code, lower-cased:
//                                                dep.config_name_required, dep.flags_invalid,
//                                                dep.device_id_required, ...
//   dep.request_rejected    kInvalidArgument     any other 4xx without a recognisable code
//
// Messages name the call, the HTTP status and Apple's code only: never a body,
// a session token or an OAuth value.

#include <string>
#include <string_view>

#include "events/base/status.h"

namespace ae::dep {

inline constexpr char kTermsNotSigned[] = "dep.terms_not_signed";
inline constexpr char kTokenRejected[] = "dep.token_rejected";
inline constexpr char kAccessDenied[] = "dep.access_denied";
inline constexpr char kDepUnavailable[] = "dep.unavailable";
inline constexpr char kThrottled[] = "dep.throttled";
inline constexpr char kBadResponse[] = "dep.bad_response";
inline constexpr char kExhaustedCursor[] = "dep.exhausted_cursor";
inline constexpr char kExpiredCursor[] = "dep.expired_cursor";
inline constexpr char kInvalidCursor[] = "dep.invalid_cursor";
inline constexpr char kCursorRequired[] = "dep.cursor_required";
inline constexpr char kProfileNotFound[] = "dep.profile_not_found";
inline constexpr char kRequestRejected[] = "dep.request_rejected";

// Apple's error code in an error body: the body trimmed of whitespace and
// quotes when it is a single code word (`INVALID_CURSOR`, `"INVALID_CURSOR"`,
// `token_rejected`), else the "code"/"error" field of a JSON object, else the
// first known code found by case-sensitive substring search (§2.2), else "".
std::string AppleErrorCode(std::string_view body);

// The Status for a non-2xx, non-retried answer of `call` (e.g. "POST /profile"),
// per the table above.
Status StatusForAppleError(std::string_view call, int http_status, std::string_view body);

}  // namespace ae::dep
