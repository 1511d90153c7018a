#pragma once
// AuthenticatedCall: one call to a vendor API that needs a credential of its own (Apple's
// DEP session, Samsung's OAuth 2.0 access token), under the client's retry policy.
//
// Each attempt takes the current credential (fetching one when there is none), sends the
// request with it and looks at the answer:
//   - the credential is refused (401, an expired session): a fresh credential is fetched and
//     the request sent again, at most once per call (a second refusal ends the call with
//     `refused_again`);
//   - the credential endpoint answers 429 or 5xx: the attempt ends with that answer, so the
//     retry loop backs off (honouring Retry-After) and tries again;
//   - 429, 5xx or a transport failure of the request itself: the same;
//   - any other answer ends the call and is returned as is (a `screen` hook may turn one into
//     a final Status first).
// What the answer means (the vendor's error codes) is the client's to map.
//
// Thread-safety: as thread-safe as the hooks (the clients' hooks lock their own state).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "adapters/http/http_client.h"
#include "events/base/status.h"

namespace ae::http {

struct Authentication {
  // The credential to send: the cached one, or a new one when there is none or the cached
  // one equals `stale` (the one just refused; "" on the first try). A 429/5xx answer of the
  // credential endpoint goes into `*retry` (whose status stays 0 otherwise): the attempt
  // then ends with it. Any other failure is returned as the call's Status.
  std::function<Result<std::string>(const std::string& stale, HttpResponse* retry)> credential;
  // Puts `credential` on the request (a header).
  std::function<void(HttpRequest& request, const std::string& credential)> attach;
  // True when the answer refuses the credential.
  std::function<bool(const HttpResponse& response)> refused;
  // The call's Status when a fresh credential is refused too.
  std::function<Status(const HttpResponse& response)> refused_again;
  // Optional: sees every answer to a request sent with `credential` (a rotated session).
  std::function<void(const HttpResponse& response, const std::string& credential)> observe;
  // Optional: called when the credential was refused, before a fresh one is fetched.
  std::function<void(const HttpResponse& response)> on_refused;
  // Optional: a non-OK Status for an answer that must end the call as that Status (never
  // retried); OK lets the answer through.
  std::function<Status(const HttpResponse& response)> screen;
};

// What the loop saw, for the client's own error mapping.
struct AuthenticatedCallOutcome {
  // The server's Retry-After (ms) when the retry loop stopped because it was longer than
  // RetryPolicy::max_retry_after_ms; -1 otherwise.
  int64_t server_retry_after_ms = -1;
  // The HTTP status of the last answer of the last attempt (the credential endpoint's or
  // the request's), 0 when that attempt ended without one (a transport failure).
  int last_status = 0;
};

// Runs `request` on `client` with `auth` under the client's retry policy (see above).
// kUnavailable `unavailable_reason` when the retries run out.
Result<HttpResponse> AuthenticatedCall(HttpClient& client, std::string_view call,
                                       const HttpRequest& request, const Authentication& auth,
                                       std::string unavailable_reason,
                                       AuthenticatedCallOutcome* outcome = nullptr);

}  // namespace ae::http
