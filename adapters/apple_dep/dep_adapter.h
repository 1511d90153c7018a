#pragma once
// DepAdapter: the engine's side of Apple DEP, per account (one Apple MDM server):
//
//  - Sync poller (apple-dep.md §4.3): GET /account into DepAccountDetailsSynced,
//    then fetch (snapshot) or sync (change feed) page by page. Each page's
//    device changes are decided against each device's stream and appended
//    together; only then is the page's cursor committed (DepSyncProgressed).
//    EXHAUSTED_CURSOR switches to sync; EXPIRED/INVALID_CURSOR and
//    CURSOR_REQUIRED start a fresh fetch; a repeated cursor with
//    more_to_follow stops the run; cursors older than 6 days are dropped.
//    Terms not signed, a rejected or expired token become the account's state
//    and stop syncing that account until a token is uploaded. A serial seen for
//    the first time is given what the first matching enrollment rule says
//    (domain/rules: profile, user, policy, rule set) in the same append as its
//    DepDeviceSynced; the profile request then goes to Apple like any other.
//  - Assignment adapter: a log subscriber with its own checkpoint (a file).
//    DepProfileDefined -> POST /profile; DepProfileAssignmentRequested ->
//    /profile/devices in batches of <= 1000 serials per profile; removal and
//    disown likewise. Each outcome is submitted back as a command keyed by the
//    request id, so a call repeated after a crash changes nothing twice.
//    THROTTLED / FAILED / NOT_ACCESSIBLE record a retry time (Apple's
//    retry_after_seconds, else a cool-down) and the retry tick requests the
//    assignment again when it is due.
//  - Throttling: a 429/5xx whose Retry-After exceeds max_inline_retry_after_ms
//    ends the call as dep.throttled. Until Apple's time the account is not
//    called: its sync fails with dep.throttled (last_sync_error) and runs again
//    when the time has come; its assignments fail with dep.throttled and a
//    retry time equal to Apple's, so the retry tick sends them then.
//
// Every loop is bounded and stops promptly on Stop().
// Thread-safety: public methods are thread-safe.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "adapters/apple_dep/dep_client.h"
#include "adapters/http/retry.h"
#include "domain/command_bus.h"
#include "domain/dep/dep.h"
#include "domain/rules/rules.h"
#include "events/event_log.h"
#include "events/secret_store.h"

namespace ae::dep {

struct DepAdapterOptions {
  std::string apple_dep_url = "https://mdmenrollment.apple.com";
  std::chrono::milliseconds sync_interval{30 * 60 * 1000};
  std::chrono::milliseconds retry_tick{30 * 1000};
  int64_t read_timeout_ms = 60'000;                // one HTTP answer from Apple
  int64_t retry_cooldown_ms = 24LL * 3600 * 1000;  // after FAILED / NOT_ACCESSIBLE
  int64_t unavailable_retry_ms = 5LL * 60 * 1000;  // after Apple could not be reached
  // A Retry-After up to this long is waited for inside the call; a longer one
  // ends it (dep.throttled): the account's syncs and assignments then wait
  // until Apple's time without holding the adapter's thread.
  int64_t max_inline_retry_after_ms = 1'000;
  int page_limit = 1000;
  size_t max_pages_per_run = 100'000;               // bound of one sync run
  int64_t cursor_max_age_ms = 6LL * 24 * 3600 * 1000;
  std::string checkpoint_path;                      // the assignment adapter's checkpoint
  bool run_background = true;                       // false: only explicit calls (tests)
  http::RetryPolicy retry;
};

// An assignment whose retry time has come (from the views).
struct DueRetry {
  std::string serial_number;
  std::string profile_id;
  std::string profile_uuid;
};

struct DepAdapterHooks {
  // Every DEP account id.
  std::function<std::vector<std::string>()> list_accounts;
  // Failed assignments due for a retry at `now_ms`.
  std::function<std::vector<DueRetry>(int64_t now_ms)> due_retries;
  // The enrollment rules a new serial is given by (read once per sync page); none: null.
  domain::rules::RuleSource* rules = nullptr;
};

struct SyncReport {
  std::string sync_id;
  std::string mode;
  uint64_t pages = 0;
  uint64_t devices_seen = 0;
  uint64_t events_written = 0;
};

// Secret-store names of an account's secrets.
std::string AccountKeySecret(const std::string& account_id);
std::string AccountTokenSecret(const std::string& account_id);

class DepAdapter {
 public:
  DepAdapter(events::EventLog& log, domain::CommandBus& bus, events::SecretStore& secrets,
             const Clock& clock, DepAdapterOptions options, DepAdapterHooks hooks);
  ~DepAdapter();

  // Starts the sync loop and the assignment subscription (when run_background).
  Status Start();
  void Stop();

  // Wakes the sync loop for `account_id` (the periodic sync runs anyway).
  void RequestSync(const std::string& account_id);
  // One sync run of `account_id`, now, on the caller's thread.
  Result<SyncReport> SyncNow(const std::string& account_id);
  // Forgets the cached client (a new token was uploaded).
  void TokenChanged(const std::string& account_id);
  // Requests every due retry now (the retry tick calls this).
  Status RetryDue();
  // Processes the log up to its head on the caller's thread (tests, tools).
  Status DrainAssignments();

  // The Apple client of an account with a usable token.
  Result<std::shared_ptr<DepClientImpl>> ClientFor(const std::string& account_id);

 private:
  // Acts on the records that concern Apple; true when there was any.
  // The payload cases HandleRecords acts on.
  static std::vector<int> HandledCases();
  Result<bool> HandleRecords(const std::vector<events::RecordedEvent>& records);
  // Saves cursor_ after records that were acted on; after records that were all
  // irrelevant (most of the log), at most every few seconds: re-reading those after
  // a crash costs nothing, and a durable file write per commit group does.
  Status Checkpoint(bool acted);
  Status DefineProfiles(const std::vector<events::RecordedEvent>& defined);
  Status Assign(const std::vector<events::RecordedEvent>& requests);
  Status RemoveOrDisown(const std::vector<events::RecordedEvent>& requests, bool disown);
  Status SaveCheckpoint(const LogCursor& cursor);
  LogCursor LoadCheckpoint() const;
  Status MarkAccount(const std::string& account_id, const Status& error);
  // Clock ms before which `account_id` must not call Apple (0: none).
  int64_t ThrottledUntil(const std::string& account_id);
  void NoteThrottle(const std::string& account_id, const DepClientImpl& client);
  void Loop();
  domain::CommandContext SystemContext(const std::string& causation = "") const;

  events::EventLog& log_;
  domain::CommandBus& bus_;
  events::SecretStore& secrets_;
  const Clock& clock_;
  const DepAdapterOptions options_;
  const DepAdapterHooks hooks_;

  std::mutex clients_mu_;
  std::map<std::string, std::shared_ptr<DepClientImpl>> clients_;  // guarded by clients_mu_

  std::mutex sync_mu_;  // one sync run per account at a time (held by runs)
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> wanted_;  // guarded by mu_
  std::map<std::string, int64_t> throttled_until_;  // account -> clock ms; guarded by mu_
  std::map<std::string, int64_t> deferred_;  // syncs refused as throttled -> when; guarded by mu_
  bool stop_ = false;             // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::thread thread_;

  std::mutex drain_mu_;  // serialises HandleRecords (subscription vs DrainAssignments)
  LogCursor cursor_;     // guarded by drain_mu_
  LogCursor saved_;      // what the checkpoint file holds; guarded by drain_mu_
  int64_t saved_at_ms_ = 0;  // clock_ ms of the last save; guarded by drain_mu_
  std::unique_ptr<events::Subscription> subscription_;
};

}  // namespace ae::dep
