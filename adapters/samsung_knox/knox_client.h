#pragma once
// KnoxClient: the Knox Cloud API, KME part, for one Knox tenant (samsung-kme.md §2-§4).
//
// KnoxClientImpl speaks HTTP through adapters/http:
//  - Knox OAuth 2.0, the scheme §3.2 recommends for new integrations: a 2-legged
//    client-credentials token from `POST {token_url}` (form-urlencoded grant_type,
//    client_id, client_secret, scope), sent as `Authorization: Bearer`. The token is
//    acquired lazily, shared by all callers, fetched by a single caller at a time, and
//    renewed before `expires_in` runs out (token_refresh_margin_ms early) without
//    waiting for a 401;
//  - on 401, or 403 AUTHENTICATION_FAIL (4030000), one new token and one replay of the
//    same request; a second refusal is knox.unauthorized;
//  - `customerId` is sent when configured (optional with OAuth, §3.2), and
//    `x-wsm-managed-tenantid` for an MSP (§3.3);
//  - transport errors, 429 and 5xx (token endpoint included) are retried with jittered
//    exponential backoff honouring Retry-After, inside the per-call deadline, then
//    knox.rate_limited (the last answer was 429) or knox.unavailable;
//  - device lists longer than `max_devices_per_call` (1000, §4.2) are split into several
//    calls whose per-device results are merged;
//  - EMM credentials are RSA-encrypted with Samsung's public key (§3.5) before they leave.
// Secrets (client secret, access tokens, credentials) are never logged: log::Redacted().
// The client credentials live in memory only.
//
// Every call is safe to repeat: listing reads; assigning the same profile again, clearing
// a cleared device, approving an approved upload and deleting a deleted device (reported
// kNotFound) leave the same state. Per-device partial failures come back per device in
// DeviceResults, never as a whole-call error.
//
// Thread-safety: KnoxClientImpl is thread-safe. Requests are serialised on one
// keep-alive connection per origin; a token refresh is done by one caller while the
// others wait for it.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/http/http_client.h"
#include "adapters/samsung_knox/knox_errors.h"
#include "adapters/samsung_knox/knox_types.h"
#include "events/base/clock.h"
#include "events/base/status.h"

namespace ae::knox {

// The KME API paths (§4.1), below the base URL.
inline constexpr char kDevicesListPath[] = "/kcs/v1/kme/devices/list";
inline constexpr char kAssignProfilePath[] = "/kcs/v1/kme/devices/assignProfile";
inline constexpr char kUnassignProfileV1Path[] = "/kcs/v1/kme/devices/unassignProfile";
inline constexpr char kUnassignProfilePath[] = "/kcs/v2/kme/devices/unassignProfile";
inline constexpr char kDeleteDevicesPath[] = "/kcs/v1/kme/devices/delete";
inline constexpr char kUploadsListPath[] = "/kcs/v1/kme/devices/uploads/list";
inline constexpr char kUploadsApprovalsPath[] = "/kcs/v1/kme/devices/uploads/approvals";
inline constexpr char kProfilesListPath[] = "/kcs/v1/kme/profiles/list";
inline constexpr char kOAuthTokenPath[] = "/ams/v1/oauth2/token";

// Samsung's credential-encryption key as a public port embeds it (§3.5): base64 DER
// SubjectPublicKeyInfo, RSA 2048. Verify against the official JAR before production.
extern const char kSamsungCredentialKey[];

class KnoxClient {
 public:
  virtual ~KnoxClient() = default;

  // GET /kcs/v1/kme/devices/list: one page of the tenant's approved devices (§4.3 D1),
  // `pageNum` 0-based. Offset paging: a device changed during a scan can move between
  // pages (the list is ordered by last update), so a full scan is followed by a
  // `changed_after_ms` pass from the scan's start, and consumers upsert.
  virtual Result<DevicePage> ListDevices(const ListDevicesRequest& request) = 0;

  // PUT /kcs/v1/kme/devices/assignProfile (§4.3 D2): `profile_id` (an id from
  // ListProfiles) to each device, with its EMM credentials when given. Batches of at most
  // max_devices_per_call. Unknown profile: knox.4040400. A device that is still PENDING
  // (upload not approved) comes back kFailed; one not in the tenant kNotFound. If a later
  // batch fails as a whole, the call fails; earlier batches stay applied (repeat the call).
  // knox.4000000 when `devices` is empty.
  virtual Result<DeviceResults> AssignProfile(std::string_view profile_id,
                                              const std::vector<AssignDevice>& devices) = 0;

  // {POST, then PUT on 405} /kcs/v2/kme/devices/unassignProfile (§4.3 D4): clears the
  // profile of every valid device even if others in the batch are invalid (kInvalid) or
  // unknown (kNotFound). knox.4000000 when `device_ids` is empty.
  virtual Result<DeviceResults> UnassignProfile(const std::vector<std::string>& device_ids) = 0;

  // POST /kcs/v1/kme/devices/delete (§4.3 D5): PERMANENT removal from KME (only a
  // reseller re-upload brings a device back); keep it behind an explicit admin action.
  // kNotFound means "already gone", a success for an idempotent delete.
  virtual Result<DeviceResults> DeleteDevices(const std::vector<std::string>& device_ids) = 0;

  // GET /kcs/v1/kme/devices/uploads/list (§4.3 D6): reseller uploads, Pending or Approved.
  virtual Result<UploadPage> ListUploads(int page_num, int page_size) = 0;

  // POST /kcs/v1/kme/devices/uploads/approvals (§4.3 D7): approves uploads; their devices
  // leave PENDING (Unassigned, or Profile assigned with the reseller's default profile).
  // KME has no API to reject an upload (§4.1). knox.4000000 when `upload_ids` is empty.
  virtual Result<UploadResults> ApproveUploads(const std::vector<std::string>& upload_ids) = 0;

  // GET /kcs/v1/kme/profiles/list (§4.4 P1).
  virtual Result<ProfilePage> ListProfiles(int page_num, int page_size) = 0;

  // Pages through ListDevices from `first.page_num` until the tenant's `totalCount` is
  // reached or a page comes back empty, calling `page_fn` for each page; stops at the
  // first error (of the call or of `page_fn`).
  Status ForEachDevicePage(ListDevicesRequest first,
                           const std::function<Status(const DevicePage&)>& page_fn);
};

// The OAuth client credentials of a Knox cloud app (§3.2). Kept in memory only.
struct KnoxCredentials {
  std::string client_id;
  std::string client_secret;
};

struct KnoxClientOptions {
  // The tenant's regional Knox Cloud API host, optionally with a path prefix (§2):
  // https://us-kcs-api.samsungknox.com (Americas) or https://eu-kcs-api.samsungknox.com.
  std::string base_url = "https://us-kcs-api.samsungknox.com";
  // The OAuth 2.0 token endpoint (§2, §3.2).
  std::string token_url = "https://api.samsungknox.com/ams/v1/oauth2/token";
  // Space-separated scopes requested with the token (§3.2 table).
  std::string scope = "kme";
  // Sent as `customerId` when set (required by the legacy scheme, optional with OAuth).
  std::string customer_id;
  // MSP acting for a managed customer: sent as `x-wsm-managed-tenantid` when set (§3.3).
  std::string managed_tenant_id;
  // Base64 DER SubjectPublicKeyInfo used to encrypt EMM credentials (§3.5).
  std::string credential_public_key = kSamsungCredentialKey;
  std::string user_agent = "autoenroll/0.1";
  int64_t connect_timeout_ms = 10'000;
  int64_t read_timeout_ms = 60'000;
  http::RetryPolicy retry;
  // Devices per assign / unassign / delete call (§4.2: undocumented limit, 1000 advised).
  size_t max_devices_per_call = 1000;
  // pageSize when a request gives none (§4.2: 100).
  int default_page_size = 100;
  // A token is renewed this long before it expires (at most half its lifetime).
  int64_t token_refresh_margin_ms = 60'000;
  // The tenant's name, for log lines only.
  std::string tenant_name = "default";
  // kInvalidArgument "knox.bad_options" (or an http.* reason) when unusable.
  Status Validate() const;
};

class KnoxClientImpl : public KnoxClient {
 public:
  // The collaborators must outlive the client. Fails on invalid options or an unusable
  // credential key.
  static Result<std::unique_ptr<KnoxClientImpl>> Create(KnoxClientOptions options,
                                                        KnoxCredentials credentials,
                                                        const Clock& clock,
                                                        http::Sleeper& sleeper,
                                                        http::Random& random);
  ~KnoxClientImpl() override;

  Result<DevicePage> ListDevices(const ListDevicesRequest& request) override;
  Result<DeviceResults> AssignProfile(std::string_view profile_id,
                                      const std::vector<AssignDevice>& devices) override;
  Result<DeviceResults> UnassignProfile(const std::vector<std::string>& device_ids) override;
  Result<DeviceResults> DeleteDevices(const std::vector<std::string>& device_ids) override;
  Result<UploadPage> ListUploads(int page_num, int page_size) override;
  Result<UploadResults> ApproveUploads(const std::vector<std::string>& upload_ids) override;
  Result<ProfilePage> ListProfiles(int page_num, int page_size) override;

  // Replaces the credentials (rotated in the Knox portal) and drops the current token.
  void UpdateCredentials(KnoxCredentials credentials);
  // Drops the token so the next call fetches a new one.
  void ResetToken();
  // Whether a token is currently held (never the token itself).
  bool HasTokenForTest() const;

 private:
  struct CredentialKey;  // the parsed RSA public key

  KnoxClientImpl(KnoxClientOptions options, KnoxCredentials credentials, const Clock& clock,
                 std::unique_ptr<http::HttpClient> api, std::unique_ptr<http::HttpClient> auth,
                 std::shared_ptr<CredentialKey> key);

  // One logical call: token, request, one re-auth, retries. Returns the 2xx answer
  // parsed as JSON, or the classified Status.
  Result<nlohmann::json> Do(std::string_view method, std::string path,
                            const nlohmann::json* body);
  // The current token, fetching one (single flight) when there is none, it is due for
  // renewal, or it equals `stale`. A retryable token answer comes back in `retry`.
  Result<std::string> EnsureToken(const std::string& stale, http::HttpResponse* retry);
  // POST token_url, with mu_ NOT held. Sets *retry on 429/5xx.
  Status FetchToken(http::HttpResponse* retry);
  httplib::Headers CommonHeaders() const;
  // "?pageNum=..&pageSize=..[&customerId=..]"
  std::string PageQuery(int page_num, int page_size) const;
  // Runs `fn` on consecutive slices of at most max_devices_per_call.
  template <typename T, typename Fn>
  Status ForEachBatch(const std::vector<T>& items, Fn fn) const;
  Result<std::string> Encrypt(std::string_view plaintext, const char* field) const;

  const KnoxClientOptions options_;
  const Clock& clock_;
  const std::unique_ptr<http::HttpClient> api_;
  const std::unique_ptr<http::HttpClient> auth_;
  const std::shared_ptr<CredentialKey> key_;
  std::atomic<bool> unassign_with_put_{false};  // the v2 endpoint answered 405 to POST

  std::mutex auth_mu_;  // held by the one caller fetching a token
  mutable std::mutex mu_;
  KnoxCredentials credentials_;  // guarded by mu_
  std::string token_;            // guarded by mu_; "" when none
  int64_t renew_at_ms_ = 0;      // guarded by mu_
};

// RSA PKCS#1 v1.5 encryption of `plaintext` (UTF-8, at most 245 bytes) with the base64 DER
// SubjectPublicKeyInfo `public_key`, as KnoxEncryptionUtility does (§3.5); the result is
// standard base64. kInvalidArgument "knox.bad_credential_key" / "knox.credential_too_long".
Result<std::string> EncryptCredential(std::string_view public_key, std::string_view plaintext);

}  // namespace ae::knox
