#pragma once
// DepClient: Apple's Device Assignment (DEP/ADE) web service for one DEP name
// (one "MDM server" in Apple Business/School Manager), apple-dep.md §2-§5.
//
// DepClientImpl speaks HTTP through adapters/http:
//  - a session from `GET /session` (OAuth 1.0a HMAC-SHA1), acquired lazily,
//    shared by all callers, refreshed by a single caller at a time;
//  - any `X-ADM-Auth-Session` response header replaces the session (§2.3);
//  - on 401, or 403 whose body says FORBIDDEN, the session is refreshed ONCE
//    and the request replayed with the same body; a second 401 surfaces as
//    dep.token_rejected;
//  - 403 T_C_NOT_SIGNED, token_rejected, signature_invalid, ACCESS_DENIED are
//    never retried (distinct reasons, see dep_errors.h);
//  - transport errors, 429 and 5xx are retried with jittered exponential
//    backoff honouring Retry-After, inside the per-call deadline, then
//    dep.unavailable; a Retry-After longer than the call may wait
//    (retry.max_retry_after_ms) ends the call at once
//    as dep.throttled, and ThrottledUntilMs() says when Apple may be called;
//  - `User-Agent` and `X-Server-Protocol-Version` go on every request,
//    /session included;
//  - serial lists longer than `max_serials_per_call` (1000) are split into
//    several calls whose results are merged.
// Secrets (OAuth values, session tokens) are never logged: log::Redacted().
//
// Every call is safe to repeat: the adapter that drives it keys the call by the
// event that caused it and may replay it after a crash (ARCHITECTURE.md).
//
// Thread-safety: DepClientImpl is thread-safe. Requests are serialised on one
// keep-alive connection; a session refresh is done by one caller while the
// others wait for it.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/apple_dep/dep_errors.h"
#include "adapters/apple_dep/oauth1.h"
#include "adapters/apple_dep/token.h"
#include "adapters/apple_dep/types.h"
#include "adapters/http/http_client.h"
#include "events/base/clock.h"
#include "events/base/status.h"

namespace ae::dep {

class DepClient {
 public:
  virtual ~DepClient() = default;

  // GET /account. Read the page limits from here (AccountDetail::MaxLimit).
  virtual Result<AccountDetail> GetAccount() = 0;

  // POST /server/devices: the devices currently assigned to this server, one
  // page. Empty `cursor` starts a new snapshot; `limit` <= 0 lets Apple choose.
  // dep.exhausted_cursor when `cursor` ended a completed fetch: switch to sync.
  virtual Result<DevicePage> FetchDevices(std::string_view cursor, int limit) = 0;

  // POST /devices/sync: changes since `cursor` (op_type/op_date set).
  // dep.expired_cursor / dep.invalid_cursor / dep.cursor_required: refetch.
  virtual Result<DevicePage> SyncDevices(std::string_view cursor, int limit) = 0;

  // POST /devices: details per serial; unknown serials map to a Device with
  // only `response_status` (e.g. NOT_ACCESSIBLE). dep.device_id_required when
  // `serials` is empty.
  virtual Result<std::map<std::string, Device>> DeviceDetails(
      const std::vector<std::string>& serials) = 0;

  // POST /profile: defines an immutable profile (and assigns it to
  // `profile.devices` in the same call when set, at most max_serials_per_call).
  // Apple's validation codes surface as dep.config_name_required etc.
  virtual Result<DefineProfileResult> DefineProfile(const Profile& profile) = 0;

  // GET /profile?profile_uuid=: dep.profile_not_found for an unknown UUID.
  virtual Result<Profile> GetProfile(std::string_view profile_uuid) = 0;

  // Assigns `profile_uuid` to `serials` (batches of <= max_serials_per_call).
  // HTTP 200 does not mean success: inspect every serial's result (FAILED,
  // NOT_ACCESSIBLE, THROTTLED + retry_after_seconds). If a later batch fails,
  // the call fails; earlier batches stay applied (assigning is idempotent, so
  // repeat the whole call).
  virtual Result<AssignProfileResult> AssignProfile(std::string_view profile_uuid,
                                                    const std::vector<std::string>& serials) = 0;

  // DELETE /profile/devices with a JSON body: the serials keep no profile.
  virtual Result<SerialResults> RemoveProfile(const std::vector<std::string>& serials) = 0;

  // POST /devices/disown: PERMANENT removal from the organisation; keep it
  // behind an explicit admin action.
  virtual Result<SerialResults> DisownDevices(const std::vector<std::string>& serials) = 0;
};

struct DepClientOptions {
  std::string base_url = "https://mdmenrollment.apple.com";
  // Apple rejects requests without a plain "name/version" agent (§2.4).
  std::string user_agent = "autoenroll/0.1";
  // 10: THROTTLED + retry_after_seconds on assign, v10 device fields (§2.5).
  int protocol_version = 10;
  int64_t connect_timeout_ms = 10'000;
  int64_t read_timeout_ms = 60'000;
  http::RetryPolicy retry;
  // Apple documents 1000 serials per assign call (§3.9); used for every list.
  size_t max_serials_per_call = 1000;
  // PUT /profile/devices (depsim requires it, Apple accepts it) instead of POST.
  bool assign_with_put = false;
  // The DEP name, for log lines only.
  std::string dep_name = "default";
  // kInvalidArgument when unusable.
  Status Validate() const;
};

class DepClientImpl : public DepClient {
 public:
  // `token` holds the OAuth secrets (kept in memory only). The collaborators
  // must outlive the client. Fails on invalid options.
  static Result<std::unique_ptr<DepClientImpl>> Create(DepClientOptions options, DepToken token,
                                                       const Clock& clock, http::Sleeper& sleeper,
                                                       http::Random& random);
  ~DepClientImpl() override;

  Result<AccountDetail> GetAccount() override;
  Result<DevicePage> FetchDevices(std::string_view cursor, int limit) override;
  Result<DevicePage> SyncDevices(std::string_view cursor, int limit) override;
  Result<std::map<std::string, Device>> DeviceDetails(
      const std::vector<std::string>& serials) override;
  Result<DefineProfileResult> DefineProfile(const Profile& profile) override;
  Result<Profile> GetProfile(std::string_view profile_uuid) override;
  Result<AssignProfileResult> AssignProfile(std::string_view profile_uuid,
                                            const std::vector<std::string>& serials) override;
  Result<SerialResults> RemoveProfile(const std::vector<std::string>& serials) override;
  Result<SerialResults> DisownDevices(const std::vector<std::string>& serials) override;

  // Replaces the token (renewal uploaded) and drops the current session.
  void UpdateToken(DepToken token);

  // Drops the session so the next call authenticates again.
  void ResetSession();

  // Whether a session is currently held (never the session itself).
  bool HasSessionForTest() const;

  // When a call ended with dep.throttled: the time (clock ms) before which
  // Apple asked not to be called again; 0 when Apple never throttled us.
  int64_t ThrottledUntilMs() const;

 private:
  DepClientImpl(DepClientOptions options, DepToken token, const Clock& clock,
                std::unique_ptr<http::HttpClient> http);

  // One logical Apple call: session, request, re-auth once, retries.
  // Returns the 2xx answer parsed as JSON, or the classified Status.
  Result<nlohmann::json> Do(std::string_view method, std::string path, const nlohmann::json* body);
  // Returns the current session, acquiring one (single flight) if none.
  // A retryable /session answer comes back as that HttpResponse in `retry`.
  Result<std::string> EnsureSession(const std::string& stale, http::HttpResponse* retry);
  // GET /session, with mu_ NOT held. Sets *retry on 429/5xx.
  Result<std::string> Authenticate(http::HttpResponse* retry);
  void AdoptSession(const http::HttpResponse& response, const std::string& used);
  httplib::Headers CommonHeaders() const;

  // Serial batching helper.
  template <typename Fn>
  Status ForEachBatch(const std::vector<std::string>& serials, Fn fn);

  const DepClientOptions options_;
  const Clock& clock_;
  const std::unique_ptr<http::HttpClient> http_;
  const std::string session_url_;  // what /session is signed against

  std::mutex auth_mu_;  // held by the one caller refreshing the session
  mutable std::mutex mu_;
  DepToken token_;       // guarded by mu_
  std::string session_;  // guarded by mu_; "" when none
  int64_t throttled_until_ms_ = 0;  // guarded by mu_
};

}  // namespace ae::dep
