#include "adapters/http/authenticated_call.h"

#include <utility>

namespace ae::http {

Result<HttpResponse> AuthenticatedCall(HttpClient& client, std::string_view call,
                                       const HttpRequest& request, const Authentication& auth,
                                       std::string unavailable_reason,
                                       AuthenticatedCallOutcome* outcome) {
  AuthenticatedCallOutcome seen;
  bool reauthed = false;  // one fresh credential per call, whatever the attempt
  auto attempt = [&](int) -> Result<HttpResponse> {
    std::string stale;
    for (;;) {
      HttpResponse retry;
      seen.last_status = 0;
      Result<std::string> credential = auth.credential(stale, &retry);
      if (retry.status != 0) {  // 429/5xx from the credential endpoint: back off, try again
        seen.last_status = retry.status;
        return retry;
      }
      if (!credential.ok()) return credential.status();
      HttpRequest sent = request;
      auth.attach(sent, *credential);
      AE_ASSIGN_OR_RETURN(HttpResponse resp, client.SendOnce(sent));
      seen.last_status = resp.status;
      if (auth.observe) auth.observe(resp, *credential);
      if (!auth.refused(resp)) {
        if (auth.screen) AE_RETURN_IF_ERROR(auth.screen(resp));
        return resp;
      }
      if (reauthed) return auth.refused_again(resp);
      if (auth.on_refused) auth.on_refused(resp);
      reauthed = true;
      stale = *credential;
    }
  };
  Result<HttpResponse> answer = client.retrier().Run(call, attempt, std::move(unavailable_reason),
                                                     &seen.server_retry_after_ms);
  if (outcome != nullptr) *outcome = seen;
  return answer;
}

}  // namespace ae::http
