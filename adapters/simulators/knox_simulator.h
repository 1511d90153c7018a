#pragma once
// KnoxSimulator: a stand-in for Samsung's Knox Cloud API (KME part) and its OAuth 2.0
// token service (samsung-kme.md §8), served by cpp-httplib on 127.0.0.1 (port 0), for
// integration tests and the demo.
//
// What it implements (Samsung's paths, bodies, status codes and §4.6 error bodies):
//   POST /ams/v1/oauth2/token            client_credentials (form or HTTP Basic), scopes
//                                        checked against the cloud app's grant (§3.2)
//   GET  /kcs/v1/kme/devices/list        pageNum/pageSize/totalCount, changedAfter (epoch
//                                        ms), ordered by updateTime desc then id (§8)
//   PUT  /kcs/v1/kme/devices/assignProfile  {profileId, devices:[{deviceId, userName?,
//                                        userToken?}]} or {profileId, deviceIds}; success /
//                                        failed / notFound lists; credentials must decrypt
//                                        with the simulator's key (else 500 5000006)
//   PUT  /kcs/v1/kme/devices/unassignProfile  v1: all or nothing (404 4040300)
//   POST|PUT /kcs/v2/kme/devices/unassignProfile  success / notFound / invalid lists
//   POST /kcs/v1/kme/devices/delete      {devices:{imeiOrSerials}}; not found is listed
//   GET  /kcs/v1/kme/devices/uploads/list, POST .../uploads/approvals
//   GET  /kcs/v1/kme/profiles/list
// Every KME call needs `Authorization: Bearer` with a live token (401 4010000 otherwise)
// holding the endpoint's scope (403 40300000 otherwise); a `customerId` other than the
// token's tenant is 400 4000904. Device lists above `max_devices_per_call` are 400
// 4000019; empty ones 400 4000000. A device is addressed by its id, either IMEI (14 or 15
// digits), its MEID or its serial.
//
// Statuses follow §6.2: a reseller upload creates PENDING devices (absent from the device
// list until approved, §4.3 D1); approval makes them Unassigned (Profile assigned with the
// reseller's default profile); assign -> Profile assigned; unassign -> Unassigned; a
// PENDING device fails to assign; a forced failure leaves "Failed to assign".
//
// Paging is O(log n + page): each tenant keeps its listed devices in an order-statistics
// tree keyed (updateTime desc, id).
//
// Test hooks (outside Samsung's API): issue OAuth client credentials, add reseller uploads
// and profiles, set a device's status, force per-device outcomes, inject faults (any
// status, Retry-After, body: a 200 with a truncated body too), expire tokens, read back
// every request.
//
// The server, the request log and injected failures are LoopbackServer's.
//
// Thread-safety: thread-safe. HTTP handlers run on the server's pool; all state sits
// behind one mutex. The destructor stops the server and joins.

#include <httplib.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "adapters/samsung_knox/knox_types.h"
#include "adapters/simulators/loopback_server.h"
#include "events/base/clock.h"
#include "events/base/status.h"

namespace ae::sim {

struct KnoxSimulatorOptions {
  const Clock* clock = nullptr;         // default Clock::Real(); must outlive the simulator
  int64_t token_ttl_s = 599;            // expires_in of issued tokens (§3.2 example)
  int default_page_size = 100;          // pageSize when the request gives none
  int max_page_size = 1000;             // larger pageSize values are clamped
  size_t max_devices_per_call = 1000;   // longer device lists: 400 4000019
  bool assign_unknown_device_404 = false;  // v1 style: 404 4040300 for the whole call
  bool assign_pending_400 = false;         // 400 4001703 instead of failedDeviceList
  bool unassign_v2_accept_post = true;     // else 405 (PUT is always accepted)
  bool list_pending_devices = false;       // devices/list shows PENDING devices too
  std::string default_customer_id = "1000000001";
  int threads = 4;  // HTTP worker threads
  int port = 0;     // port to bind on 127.0.0.1; 0 picks a free one
};

// One request as the simulator saw it.
using KnoxRecordedRequest = RecordedRequest;

// OAuth client credentials of a simulated Knox cloud app.
struct KnoxIssuedCredentials {
  std::string client_id;
  std::string client_secret;
  std::string customer_id;
  std::vector<std::string> scopes;  // what the app may request
};

// A device as a reseller uploads it.
struct KnoxSimDevice {
  std::string imei;    // 15 digits
  std::string imei2;   // optional second IMEI
  std::string meid;    // optional
  std::string serial;  // 11 characters, e.g. R58M0000001
  std::string model;   // SM-G991B, ...
  std::string order_id;
};

struct ResellerUploadOptions {
  std::string customer_id;  // "" = the default tenant
  std::string reseller_id = "2001234567";
  std::string reseller_name = "Example Reseller";
  bool auto_approve = false;       // the customer's per-reseller preference (§6.3)
  std::string default_profile_id;  // assigned on approval when set
};

struct ResellerUploadResult {
  std::string upload_id;
  std::vector<std::string> device_ids;  // Samsung's ids, in upload order
};

class KnoxSimulator : public LoopbackServer {
 public:
  // Binds 127.0.0.1 on options.port (a free port when 0) and returns once the server
  // accepts. When a chosen port cannot be bound, the server does not start and port() is
  // 0; with port 0 a bind failure aborts.
  explicit KnoxSimulator(KnoxSimulatorOptions options = {});
  ~KnoxSimulator() override;  // Stop()

  // port(), base_url() ("http://127.0.0.1:<port>": KnoxClientOptions::base_url): LoopbackServer's.
  std::string token_url() const;  // base_url() + "/ams/v1/oauth2/token"
  const std::string& default_customer_id() const { return options_.default_customer_id; }

  // ---- credentials --------------------------------------------------------------------
  // A cloud app of tenant `customer_id` ("" = default) allowed `scopes` (§3.2 names;
  // "kme" grants all KME endpoints).
  KnoxIssuedCredentials IssueCredentials(std::string customer_id = "",
                                         std::vector<std::string> scopes = {"kme"});
  // The token endpoint refuses this client id from now on (invalid_client).
  Status RevokeCredentials(std::string_view client_id);
  // The key clients must encrypt EMM credentials with (base64 DER
  // SubjectPublicKeyInfo): KnoxClientOptions::credential_public_key.
  std::string CredentialPublicKey() const;
  // Every issued access token dies (the next call gets 401).
  void ExpireTokens();

  // ---- devices, uploads, profiles -----------------------------------------------------
  // `n` plausible devices: IMEIs 35<prefix digits><index> with a valid Luhn digit, serials
  // "R58" + <prefix> + zero-padded index (11 characters), cycling phone and tablet models.
  // `prefix` holds up to 4 letters or digits ("" is fine).
  static std::vector<KnoxSimDevice> MakeDevices(std::string_view prefix, size_t n,
                                                size_t first_index = 1);
  // A reseller upload (§1.3, §6.3). kAlreadyExists "sim.device_exists" when an identifier
  // is already registered; kInvalidArgument "sim.bad_device" without IMEI/MEID/serial.
  Result<ResellerUploadResult> AddResellerUpload(std::vector<KnoxSimDevice> devices,
                                                 const ResellerUploadOptions& options = {});
  // A profile (as created in the console). kAlreadyExists "sim.profile_exists" when the
  // name is taken (case-insensitive, §5.1). Returns its id.
  Result<std::string> AddProfile(std::string_view name, std::string customer_id = "");
  // Sets a device's status, any §6.2 spelling ("Enrolled", "CANCELED_BY_USER", ...), as
  // the device's out-of-box setup would. kNotFound "sim.unknown_device".
  Status SetDeviceState(std::string_view device, std::string_view state);
  // Forces the outcome of assign / unassign for `device` (any identifier): "FAILED",
  // "NOT_FOUND", "INVALID", or "" to clear.
  void SetDeviceOutcome(std::string device, std::string outcome);
  // A device as devices/list shows it (any identifier), PENDING ones included.
  std::optional<knox::Device> DeviceState(std::string_view device) const;
  // Upload status by id: "Pending" / "Approved".
  std::optional<std::string> UploadStatus(std::string_view upload_id) const;

  // ---- faults ---------------------------------------------------------------------------
  // InjectFailure(path, count, status, retry_after, body): the next `count` requests to
  // `path` ("" = any path, the token endpoint included) answer `status` with `retry_after`
  // (omitted when "") and `body` (a §4.6 error body when "" and status >= 400).
  // ClearFailures(), DelayAnswers(): LoopbackServer's.

  // ---- inspection: Requests(), CountRequests(), ClearRequests() (LoopbackServer's).

 private:
  struct Tenant;
  struct SimDevice;
  struct Token {
    std::string client_id;
    std::string customer_id;
    std::vector<std::string> scopes;
    int64_t expires_ms = 0;
  };
  struct App {
    KnoxIssuedCredentials credentials;
    bool revoked = false;
  };

  Reply DispatchLocked(const httplib::Request& req) override;
  Reply FaultReplyLocked(const Fault& fault) const override;
  Reply HandleToken(const httplib::Request& req);
  Reply HandleKme(const httplib::Request& req, Tenant& t);
  Reply ListDevices(const httplib::Request& req, Tenant& t);
  Reply AssignProfile(const nlohmann::json& body, Tenant& t);
  Reply UnassignV1(const nlohmann::json& body, Tenant& t);
  Reply UnassignV2(const nlohmann::json& body, Tenant& t);
  Reply DeleteDevices(const nlohmann::json& body, Tenant& t);
  Reply ListUploads(const httplib::Request& req, Tenant& t);
  Reply ApproveUploads(const nlohmann::json& body, Tenant& t);
  Reply ListProfiles(const httplib::Request& req, Tenant& t);
  Reply Error(int status, int code, std::string_view symbol, std::string_view data) const;
  Reply OAuthError(int status, std::string_view error, std::string_view description) const;

  // All *Locked methods need mu_ held.
  Tenant& TenantLocked(const std::string& customer_id);
  SimDevice* FindLocked(Tenant& t, std::string_view identifier);
  const SimDevice* FindAnyLocked(std::string_view identifier) const;
  void TouchLocked(Tenant& t, SimDevice& d);
  void ListLocked(Tenant& t, SimDevice& d);
  knox::Device ToApiLocked(const Tenant& t, const SimDevice& d) const;
  std::string ForcedOutcomeLocked(const SimDevice& d) const;
  std::pair<int, int> PageParams(const httplib::Request& req) const;

  const KnoxSimulatorOptions options_;

  std::map<std::string, std::unique_ptr<Tenant>> tenants_;      // by customerId; guarded by mu_
  std::unordered_map<std::string, App> apps_;                   // by client_id; guarded by mu_
  std::unordered_map<std::string, Token> tokens_;               // by access token; guarded by mu_
  std::unordered_map<std::string, std::string> outcomes_;       // identifier key -> outcome
  uint64_t next_id_ = 3'520'000'001;                            // device ids; guarded by mu_
  uint64_t next_upload_ = 1;                                    // guarded by mu_
  uint64_t next_profile_ = 1'129'471'001;                       // guarded by mu_
};

}  // namespace ae::sim
