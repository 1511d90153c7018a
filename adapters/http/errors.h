#pragma once
// Reason catalogue of the outgoing HTTP client (URLs, timeouts, retries): `http.`.
// Each entry is a reason code raised in the source tree, with the HTTP status it is answered
// with and its meaning; api/ERRORS.md shows them all. See events/base/reason_info.h.

#include "events/base/reason_info.h"

namespace ae::http {

inline constexpr ReasonInfo kReasons[] = {
    {"http.bad_base_url", 400, "a base URL is not an http(s) URL"},
    {"http.bad_retry_policy", 400, "the retry policy's times do not fit together"},
    {"http.bad_timeout", 400, "timeouts must be positive"},
    {"http.bad_url", 400, "the URL is not valid"},
    {"http.response_too_large", 503, "the remote answer is larger than the client accepts"},
    {"http.transport", 503, "the remote server cannot be reached"},
    {"http.unavailable", 503,
     "the remote server cannot be reached or keeps answering 429 or 5xx: retry later"},
};

}  // namespace ae::http
