#pragma once
// AppleDepSimulator: a faithful stand-in for Apple's Device Assignment web
// service (apple-dep.md §9), served by cpp-httplib on 127.0.0.1 (port 0), for
// integration tests and the demo.
//
// What it implements (Apple's paths, bodies and error codes):
//   GET  /session                 OAuth 1.0a HMAC-SHA1 verified against the
//                                 issued token, timestamp window, nonce replay
//   GET  /account                 AccountDetail with page limits in `urls`
//   POST /server/devices          fetch: snapshot pages, cursor, more_to_follow,
//                                 EXHAUSTED_CURSOR when a completed cursor is reused
//   POST /devices/sync            change feed (op_type/op_date) after a cursor;
//                                 CURSOR_REQUIRED, EXPIRED_CURSOR (> 7 days), INVALID_CURSOR
//   POST /devices                 details with response_status per serial
//   POST /devices/disown          per-serial status, removes the devices
//   POST /profile, GET /profile   define (validated, §5.3) and read profiles
//   POST|PUT|DELETE /profile/devices  assign (<= 1000) / remove with per-serial
//                                 SUCCESS, NOT_ACCESSIBLE, FAILED, THROTTLED
// Every API call needs `User-Agent` (400 USER_AGENT_MISSING) and a live
// `X-ADM-Auth-Session` (else 401 UNAUTHORIZED, or 403 FORBIDDEN as depsim).
// Response shapes follow `X-Server-Protocol-Version` (§2.5).
//
// Paging is O(page + log n): fetch walks an ordered index of each server's
// devices, sync indexes an append-only per-server event log; cursors are
// HMAC-signed so tampering yields INVALID_CURSOR.
//
// Test hooks (outside Apple's API): issue tokens, add/move/remove/activate
// devices, inject 429/503 with Retry-After, expire sessions, revoke tokens,
// require terms signing, force per-serial outcomes, hold answers back (a client
// read timeout), and read back every request with its arrival time.
//
// The server, the request log, injected failures and held-back answers are
// LoopbackServer's.
//
// Thread-safety: thread-safe. HTTP handlers run on the server's pool; all
// state sits behind one mutex. The destructor stops the server and joins.

#include <httplib.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "adapters/apple_dep/token.h"
#include "adapters/apple_dep/types.h"
#include "adapters/simulators/loopback_server.h"
#include "events/base/clock.h"
#include "events/base/status.h"

namespace ae::sim {

struct AppleDepSimulatorOptions {
  const Clock* clock = nullptr;               // default Clock::Real(); must outlive the simulator
  int64_t session_ttl_ms = 5 * 60'000;        // idle time after which a session dies
  int session_rotate_every = 0;               // > 0: new X-ADM-Auth-Session every N calls
  bool session_expiry_403_forbidden = false;  // depsim style instead of 401 UNAUTHORIZED
  bool quoted_error_bodies = true;            // "INVALID_CURSOR" (depsim) vs INVALID_CURSOR
  int default_limit = 100;                    // page size when the request gives none
  int max_limit = 1000;                       // larger limits are clamped
  int64_t cursor_max_age_ms = 7LL * 24 * 3600 * 1000;  // sync: EXPIRED_CURSOR after this
  int64_t oauth_window_ms = 5 * 60'000;                // accepted oauth_timestamp skew
  bool accept_assign_post = true;                      // PUT is always accepted
  int threads = 4;                                     // HTTP worker threads
  int port = 0;  // port to bind on 127.0.0.1; 0 picks a free one
};

// Per-serial outcome forced on assign/define.
struct SerialOutcome {
  std::string status;               // "FAILED" or "THROTTLED"
  int64_t retry_after_seconds = 0;  // THROTTLED only (v10+)
};

struct IssueTokenOptions {
  int64_t expiry_ms = 0;  // 0: one year from now
  dep::TokenP7mOptions p7m;
};

class AppleDepSimulator : public LoopbackServer {
 public:
  // Binds 127.0.0.1 on options.port (a free port when 0) and returns once the
  // server accepts. When a chosen port cannot be bound, the server does not
  // start and port() is 0; with port 0 a bind failure aborts.
  explicit AppleDepSimulator(AppleDepSimulatorOptions options = {});
  ~AppleDepSimulator() override;  // Stop()

  // port(), base_url() ("http://127.0.0.1:<port>"): LoopbackServer's.

  // ---- tokens ---------------------------------------------------------------
  // Creates MDM server `server_name` (or renews it: new OAuth credentials, the
  // old token and its sessions die) and returns the `.p7m` encrypted to
  // `certificate_pem`, as the portal's "Download Token" does.
  Result<std::string> IssueToken(std::string_view certificate_pem,
                                 std::string_view server_name = "MDM Server 1",
                                 const IssueTokenOptions& options = {});
  // server_uuid of `server_name`, if it exists.
  std::optional<std::string> ServerUuid(std::string_view server_name) const;
  // The OAuth credentials inside the server's current token (tests look for them
  // where they must never appear: logs, events, answers).
  std::optional<dep::DepToken> IssuedToken(std::string_view server_name) const;
  // /session answers 401 "token_rejected" for this server's token from now on.
  Status RevokeToken(std::string_view server_name);
  // Organisation-wide: every call, /session included, answers 403 T_C_NOT_SIGNED.
  void RequireTermsSigning(bool required);

  // ---- devices --------------------------------------------------------------
  // `n` plausible devices with serials `<prefix><zero-padded index>` (12 chars
  // when the prefix allows), cycling iPhone / iPad / Mac.
  static std::vector<dep::Device> MakeDevices(std::string_view prefix, size_t n);
  // Assigns new devices to `server_name` ("added" events). kAlreadyExists
  // "sim.device_exists" if a serial is known; kNotFound "sim.unknown_server".
  Status AddDevices(std::string_view server_name, std::vector<dep::Device> devices);
  // Moves a device to another server: "deleted" on the old one, and on the new
  // one only "modified" with profile_status "removed" (Apple's quirk, §4.3).
  Status MoveDevice(std::string_view serial, std::string_view to_server_name);
  // Unassigns a device in the portal: "deleted" on its server.
  Status RemoveDevice(std::string_view serial);
  // The device fetched its profile during activation: profile_status "pushed".
  // kFailedPrecondition "sim.no_profile" when none is assigned.
  Status ActivateDevice(std::string_view serial);
  // Current state of a device (no op_type), if it exists.
  std::optional<dep::Device> DeviceState(std::string_view serial) const;
  std::optional<dep::Profile> ProfileState(std::string_view profile_uuid) const;

  // ---- faults ---------------------------------------------------------------
  // InjectFailure(path, count, status, retry_after, body): the next `count`
  // requests to `path` ("" = any path, /session included) answer `status` with
  // `retry_after` (omitted when "") and `body`. ClearFailures(), DelayAnswers():
  // LoopbackServer's.
  // Every session dies (the next call gets 401 UNAUTHORIZED / 403 FORBIDDEN).
  void ExpireSessions();
  // Assign/define answers `outcome` for `serial` until cleared (status "").
  void SetSerialOutcome(std::string serial, SerialOutcome outcome);

  // ---- inspection: Requests(), CountRequests(), ClearRequests() (LoopbackServer's).

 private:
  struct Event {
    int64_t time_ms;
    dep::OpType op;
    std::shared_ptr<const dep::Device> snapshot;
  };
  struct MdmServer {
    std::string name;
    std::string uuid;
    dep::DepToken token;
    bool revoked = false;
    std::map<uint64_t, std::string> assigned;  // fetch order -> serial
    std::vector<Event> events;                 // sync feed; seq = index + 1
  };
  struct SimDevice {
    std::shared_ptr<const dep::Device> current;  // copy-on-write snapshot
    std::string owner;                           // server uuid, "" when unassigned
    uint64_t fetch_key = 0;
  };
  struct Session {
    std::string server_uuid;
    int64_t last_used_ms = 0;
    int calls = 0;
  };
  struct Cursor {
    char kind = 0;  // 'f' fetch, 's' sync
    std::string server_uuid;
    uint64_t after_key = 0;  // fetch: last delivered fetch key
    uint64_t event_seq = 0;  // fetch: log length at snapshot; sync: events delivered
    bool done = false;       // fetch: snapshot fully delivered
    int64_t issued_ms = 0;
  };

  Reply DispatchLocked(const httplib::Request& req) override;
  Reply HandleSession(const httplib::Request& req);
  Reply HandleApi(const httplib::Request& req, MdmServer& server, int version);
  Reply Fetch(MdmServer& s, const nlohmann::json& body, int version);
  Reply Sync(MdmServer& s, const nlohmann::json& body, int version);
  Reply Details(MdmServer& s, const nlohmann::json& body, int version);
  Reply Disown(MdmServer& s, const nlohmann::json& body);
  Reply DefineProfile(MdmServer& s, const nlohmann::json& body, int version);
  Reply GetProfile(MdmServer& s, const httplib::Request& req);
  Reply AssignProfile(MdmServer& s, const nlohmann::json& body, int version);
  Reply RemoveProfile(MdmServer& s, const nlohmann::json& body);
  Reply Error(int status, std::string_view code) const;

  // All *Locked methods need mu_ held.
  MdmServer* ServerByNameLocked(std::string_view name);
  void AppendEventLocked(MdmServer& s, dep::OpType op, std::shared_ptr<const dep::Device> d);
  void AssignToServerLocked(MdmServer& s, const std::string& serial, SimDevice& d);
  void UnassignLocked(SimDevice& d, const std::string& serial);
  std::string AssignOneLocked(MdmServer& s, const std::string& serial, const std::string& uuid,
                              int version, int64_t* retry_after);
  std::string EncodeCursor(const Cursor& c) const;
  std::optional<Cursor> DecodeCursor(std::string_view text) const;
  nlohmann::json DeviceJson(const dep::Device& d, int version) const;
  std::string NewHex(size_t bytes, bool upper) const;

  const AppleDepSimulatorOptions options_;
  const std::string cursor_key_;  // HMAC key for cursors

  std::map<std::string, std::unique_ptr<MdmServer>> servers_;  // by uuid; guarded by mu_
  std::unordered_map<std::string, SimDevice> devices_;         // by serial; guarded by mu_
  std::unordered_map<std::string, Session> sessions_;          // guarded by mu_
  std::unordered_set<std::string> nonces_;                     // guarded by mu_
  std::map<std::string, std::pair<std::string, dep::Profile>> profiles_;  // uuid -> (server, p)
  std::unordered_map<std::string, SerialOutcome> outcomes_;               // guarded by mu_
  bool terms_required_ = false;                                           // guarded by mu_
  uint64_t next_fetch_key_ = 1;                                           // guarded by mu_
};

}  // namespace ae::sim
