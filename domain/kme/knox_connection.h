#pragma once
// The Knox Cloud API connection of Samsung KME (samsung-kme.md §3.2, §4.3 D1, §9 lesson 4):
// the OAuth client credentials the engine uses to read the tenant's device list, and the
// syncs made with them. Pure deciders: no I/O, no clock (time arrives in the commands).
//
// Stream: kme-knox/default  KmeKnoxConnected, KmeKnoxDisconnected, KmeSyncCompleted
//
// A connection has an id, new whenever a setting or the client secret changes: a sync
// belongs to the connection it used, and the state of a connection (ok, unauthorized,
// unavailable) and its incremental syncs only ever follow its own syncs. A new connection
// starts with a full sync.

#include <cstdint>
#include <string>
#include <vector>

#include "domain/command_bus.h"

namespace ae::domain::kme {

namespace v1 = autoenroll::events::v1;

inline constexpr const char* kKnoxStream = "kme-knox/default";

// Connection states (GET /v1/kme/knox `state`; KmeSyncCompleted.connection_state).
inline constexpr const char* kKnoxStateOk = "ok";
inline constexpr const char* kKnoxStateUnauthorized = "unauthorized";
inline constexpr const char* kKnoxStateUnavailable = "unavailable";
inline constexpr const char* kKnoxStateNeverSynced = "never_synced";

// The reason of a sync stopped because the engine is stopping.
inline constexpr const char* kKnoxSyncCancelled = "kme.knox_sync_cancelled";

struct KnoxConnection {
  std::string connection_id;
  std::string base_url;
  std::string token_url;
  std::string client_id;
  std::string customer_id;
  bool auto_approve_uploads = false;
  std::string client_secret_ref;     // the secret store's name of the client secret
  std::string client_secret_sha256;  // raw 32 bytes
  // Equal settings and secret (the connection id aside).
  bool SameSettings(const KnoxConnection& o) const;
};

struct KnoxState {
  bool connected = false;
  KnoxConnection connection;  // the current one (when connected)
  // Of the current connection: the start (epoch ms) of its last sync that completed
  // without error, and of its last such full sync; 0 when none.
  int64_t last_success_started_ms = 0;
  int64_t last_full_success_started_ms = 0;
};
// Total: events of other types leave `s` unchanged.
KnoxState EvolveKnox(KnoxState s, const Envelope& e);

// Connect (or change the connection). KmeKnoxConnected with `connection` (its
// connection_id must be set: the id the new connection gets), unless the current
// connection has the same settings and secret (then no event). kInvalidArgument
// "kme.knox_bad_connection" when base_url, token_url, client_id, the secret's reference
// or its 32-byte fingerprint is missing.
struct ConnectKnox {
  KnoxConnection connection;
};
Result<std::vector<Envelope>> Decide(const KnoxState& s, const ConnectKnox& c);

// Disconnect: KmeKnoxDisconnected; no event when not connected.
struct DisconnectKnox {};
Result<std::vector<Envelope>> Decide(const KnoxState& s, const DisconnectKnox& c);

// Record a sync's summary (a fact: recorded even when the connection changed meanwhile;
// it then updates nothing of the new connection). kInvalidArgument
// "kme.knox_bad_sync" without a sync id.
struct RecordKnoxSync {
  v1::KmeSyncCompleted summary;
};
Result<std::vector<Envelope>> Decide(const KnoxState& s, const RecordKnoxSync& c);

// The connection state a sync that ended with `reason` ("" = complete) leaves:
// "ok"; "unauthorized" for knox.unauthorized and knox.forbidden (the credentials are
// refused, or lack the KME scope or API access) and kme.knox_secret_missing; "" for a sync cancelled by a stop (the
// state stays as it was); "unavailable" for anything else.
std::string KnoxConnectionStateFor(const std::string& reason);

// What the next sync lists.
struct KnoxSyncPlan {
  bool full = true;
  int64_t changed_after_ms = 0;  // the lower bound when not full
};
struct KnoxSyncPolicy {
  int64_t full_every_ms = 24LL * 3600 * 1000;  // a full sync at least this often
  int64_t overlap_ms = 5LL * 60 * 1000;        // changedAfter starts this long before
};
// Full when `force_full`, when the connection never completed a sync, or when its last
// full sync started `full_every_ms` or more before `now_ms`; otherwise the devices changed
// after the last successful sync's start, minus `overlap_ms` (clock skew between us and
// Samsung, and devices changed while that sync was listing).
KnoxSyncPlan PlanKnoxSync(const KnoxState& s, bool force_full, int64_t now_ms,
                          const KnoxSyncPolicy& policy = {});

template <typename Cmd>
Decider<KnoxState> KnoxDecider(Cmd cmd) {
  return {EvolveKnox, [cmd = std::move(cmd)](const KnoxState& s) { return Decide(s, cmd); }};
}

}  // namespace ae::domain::kme
