#pragma once
// KnoxSync: the engine's side of the Knox Cloud API (samsung-kme.md §3.2, §4.3 D1/D6/D7,
// §9 lesson 4): a periodic or on-demand sync that imports the tenant's devices through the
// same decision path and the same events as the portal CSV (KmeDeviceIngest, source
// KME_SOURCE_KNOX_API), so that downstream consumers see one stream whatever the source.
// A service over ports, like the DEP adapter: the command bus (the only writer; the
// connection's stream is read through its log), the secret store, the KME ingest and a
// hook that waits for the views. It knows no HTTP and no App.
//
// One sync (SyncNow):
//  1. reads the connection (stream kme-knox/default, domain/kme/knox_connection.h); none:
//     kFailedPrecondition "kme.knox_not_connected", nothing recorded;
//  2. plans it (PlanKnoxSync): full for a new connection, on request, or once
//     `policy.full_every_ms` has passed since the last full one; otherwise the devices
//     changed after the last successful sync's start (minus `policy.overlap_ms`);
//  3. approves the pending reseller uploads when the connection says
//     auto_approve_uploads (§4.3 D6, D7), so their devices show in the list;
//  4. pages through GET devices/list (ForEachDevicePage) and feeds every device into
//     KmeDeviceIngest: identifiers, device, state, user match by userName, sealed Knox user
//     id, decision, batched appends. Samsung's own id, profile id, order, upload, reseller
//     and times are kept as attributes (knox_device_id, knox_profile_id, order_number,
//     upload_id, reseller_id, reseller_name, submitted, modified_at). A device that did not
//     change appends nothing;
//  5. then, as offset paging can skip a device that changed while the list was read (the
//     list is ordered by last update), lists once more with changedAfter = the sync's
//     start minus the overlap. A device already seen in this sync with the same updateTime
//     is skipped (not counted twice);
//  6. records KmeSyncCompleted (counts, uploads approved, and the error reason when it
//     stopped): knox.unauthorized / knox.forbidden make the connection "unauthorized",
//     other failures "unavailable". The devices appended before a failure stay recorded;
//     the next sync lists from the last successful one's start, so nothing is lost.
// A device Samsung sends without a usable identifier is counted as rejected
// (kme.bad_identifier / kme.no_identifier) and never stops the sync.
//
// Bounded and cancellable: every HTTP call is bounded by the retry deadline and the
// client's timeouts; Stop() wakes every backoff wait, makes every retry loop give up at once
// and stops the device loop between two devices (the summary then says
// kme.knox_sync_cancelled and leaves the connection's state as it was).
//
// The client secret is read from the secret store (never logged, never in an event). One
// sync runs at a time.
//
// Thread-safety: public methods are thread-safe.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "adapters/http/retry.h"
#include "adapters/samsung_knox/kme_ingest.h"
#include "domain/command_bus.h"
#include "domain/kme/knox_connection.h"
#include "events/base/clock.h"
#include "events/event_log.h"
#include "events/secret_store.h"

namespace ae::knox {

class KnoxClientImpl;

struct KnoxSyncOptions {
  // --knox-api-url: the default base URL of a connection ("" = Samsung's Americas host),
  // and, with it, the default token URL (<url>/ams/v1/oauth2/token).
  std::string default_base_url;
  // Between two periodic syncs (0: only on request).
  std::chrono::milliseconds interval{30 * 60 * 1000};
  domain::kme::KnoxSyncPolicy policy;
  int page_size = 100;               // devices per devices/list page (§4.2)
  uint64_t progress_every = 1000;    // devices between two progress log lines
  size_t max_reported_errors = 100;  // rejected devices listed in KmeSyncCompleted
  int max_upload_pages = 100;        // bound of the uploads/list paging (100 per page)
  size_t max_seen_remembered = 1'000'000;  // devices remembered for the catch-up pass
  http::RetryPolicy retry{.base_ms = 1'000, .max_ms = 30'000, .deadline_ms = 120'000};
  int64_t connect_timeout_ms = 10'000;
  int64_t read_timeout_ms = 30'000;
  std::chrono::milliseconds view_wait{60'000};  // before the catch-up pass
  bool run_background = true;  // false: only SyncNow (tools, query replicas)
};

struct KnoxSyncReport {
  std::string sync_id;
  std::string connection_id;
  bool full = true;
  int64_t started_ms = 0;
  int64_t changed_after_ms = 0;  // when not full
  uint64_t devices_seen = 0, events_written = 0;
  uint64_t created = 0, updated = 0, unchanged = 0, rejected = 0, users_matched = 0;
  uint64_t uploads_approved = 0;
  Status error;           // OK when the sync completed
  LogPosition position;   // of KmeSyncCompleted
};

// The defaults of a connection's URLs: `knox_api_url` (--knox-api-url) or Samsung's API
// host; the token URL is <base_url>/ams/v1/oauth2/token when base_url is the
// --knox-api-url one, else Samsung's token endpoint.
// Trailing slashes are dropped.
std::string WithoutTrailingSlash(std::string url);
std::string KnoxDefaultBaseUrl(const std::string& knox_api_url);
std::string KnoxDefaultTokenUrl(const std::string& knox_api_url, const std::string& base_url);

// The secret store's name of a client secret, by its SHA-256 (hex).
std::string KnoxClientSecretName(const std::string& sha256_hex);

// The connection as the log has it (stream kme-knox/default).
Result<domain::kme::KnoxState> LoadKnoxState(const events::EventLog& log);

struct KnoxSyncHooks {
  // Blocks until the views have applied everything before `cursor` (true) or `timeout`
  // passed (false): the catch-up pass decides against views that have applied the first.
  std::function<bool(const LogCursor& cursor, std::chrono::milliseconds timeout)>
      wait_for_views;
};

class KnoxSync {
 public:
  // `clock` is the time a sync plans by and records (its start, the incremental window) and
  // the client's retry deadlines are measured on.
  KnoxSync(domain::CommandBus& bus, events::SecretStore& secrets, KmeIngest& ingest,
           const Clock& clock, KnoxSyncOptions options, KnoxSyncHooks hooks);
  ~KnoxSync();
  KnoxSync(const KnoxSync&) = delete;
  KnoxSync& operator=(const KnoxSync&) = delete;

  // Starts the loop (when run_background): a sync at once when connected, then every
  // `interval`, and on RequestSync.
  Status Start();
  // Stops the loop and any sync in progress (bounded).
  void Stop();
  bool running() const { return thread_.joinable(); }

  // Wakes the loop for one sync (full when asked; requests made during a sync run one
  // more sync after it).
  void RequestSync(bool full);
  // One sync now, on the caller's thread. The report's `error` says how it ended; the
  // Result fails only when nothing was synced (not connected, the log unavailable).
  Result<KnoxSyncReport> SyncNow(bool full);
  // Forgets the cached client (the connection changed or was removed).
  void ConnectionChanged();

  const KnoxSyncOptions& options() const { return options_; }

 private:
  class StopClock;
  class StopSleeper;
  struct Run;

  void Loop();
  Result<std::shared_ptr<KnoxClientImpl>> ClientFor(
      const domain::kme::KnoxConnection& connection);
  Status Sync(Run& run);
  Status ApproveUploads(KnoxClientImpl& client, Run& run);
  Status ListPass(KnoxClientImpl& client, Run& run, std::optional<int64_t> changed_after,
                  const char* pass);
  domain::CommandContext SystemContext() const;

  domain::CommandBus& bus_;
  events::SecretStore& secrets_;
  KmeIngest& ingest_;
  const Clock& time_;
  const KnoxSyncOptions options_;
  const KnoxSyncHooks hooks_;
  std::unique_ptr<StopClock> clock_;      // the client's clock: past every deadline once stopping
  std::unique_ptr<StopSleeper> sleeper_;  // the client's backoff waits: woken by Stop()

  std::mutex clients_mu_;
  std::shared_ptr<KnoxClientImpl> client_;  // guarded by clients_mu_
  std::string client_connection_id_;              // guarded by clients_mu_

  std::mutex sync_mu_;  // one sync at a time (held by SyncNow)
  std::mutex mu_;
  std::condition_variable cv_;
  bool wanted_ = false;       // guarded by mu_
  bool wanted_full_ = false;  // guarded by mu_
  bool stop_ = false;         // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace ae::knox
