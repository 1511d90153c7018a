#pragma once
// KmeIngest: the Knox portal CSV import (POST /v1/kme/imports) and the one decision path
// every device a Knox source reports goes through (KmeDeviceIngest: a CSV row and a Knox
// Cloud API device alike). A service over ports, like the DEP adapter: the command bus (the
// only writer), the person keys, and hooks that read the views (KmeIngestHooks). It knows
// no HTTP and no App.
//
// KmeDeviceIngest decides each device in memory (domain::kme::Decide) against the KME
// view: its identifiers find the device (kme_ids), the view gives its state and stream
// version (kme_devices, kme_versions), the source's user id names a user (match_user), the
// Knox user id is sealed under that user's key. The decided devices go to the command bus
// as DecidedCommands with the view's stream version as the expected version, through a
// domain::GroupCommit: batches appended with one EventLog::AppendBatch each (a group
// commit for many devices) while the next batch is decided. When the view was stale
// (kConflict) the bus decides the device again against the stream itself.
//
// KmeIngest::ImportCsv streams the file through ae::kme::KnoxCsvReader in chunks into a
// KmeDeviceIngest (source KME_SOURCE_CSV). The answer comes once every append is done,
// the KmeImportCompleted summary is appended and the views have applied it. The Knox
// Cloud API sync (knox_sync.h) feeds the devices it lists into the same path
// (source KME_SOURCE_KNOX_API).
//
// A device matches an existing device when any of its identifiers does (kme_ids); one
// whose identifiers name two different devices is rejected (kme.identifier_conflict).
// A User ID (userName) that names an existing user (not deleted) assigns that user to a
// device that has none, or whose user the Knox Deployment App bound (the source wins; the
// conflict is recorded as KmeDeploymentUserOverridden and counted in `conflicts`). The Knox
// user id is sealed under that user's key in KmeDeviceImported; an unmatched one is not
// recorded. The password column is never read.
//
// A device the ingest creates is also given the import's parameters (KmeImportOptions::
// defaults: policy, rule set, and a user when its row matched none) and then what the
// first matching enrollment rule gives on top (domain/rules: it never replaces the row's
// user or a parameter), in the same append as its KmeDeviceImported.
//
// Memory: the reader's buffer, one chunk, at most max_pending_batches + 1 decided batches,
// and a cache of the User IDs seen (bounded). Nothing is kept per device.
//
// Thread-safety: KmeIngest is thread-safe (ImportCsv may run concurrently with itself and
// with other writers). A KmeDeviceIngest is used by one thread (plus its group commit's).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/samsung_knox/csv_reader.h"
#include "domain/command_bus.h"
#include "domain/kme/kme.h"
#include "domain/rules/rules.h"
#include "events/secret_store.h"

namespace ae::knox {

struct KmeImportOptions {
  bool dry_run = false;                       // decide and report, append nothing
  size_t chunk_bytes = 64 << 10;              // bytes fed to the reader at a time
  size_t batch_rows = 1000;                   // devices per EventLog::AppendBatch
  size_t batch_events = 2000;                 // events per EventLog::AppendBatch
  size_t max_pending_batches = 2;             // decided batches waiting to be appended
  size_t max_reported_errors = 1000;          // errors listed in the answer and the event
  uint64_t progress_every = 20000;            // rows between two progress log lines
  size_t user_cache_entries = 100000;         // User IDs remembered per import
  std::chrono::milliseconds view_wait{60000}; // wait for the views before answering
  const std::atomic<bool>* cancel = nullptr;  // stops the import between rows when true
  // The import's parameters: given to every device it creates (a user only to a device
  // whose row matched none); recorded in KmeImportCompleted.
  domain::rules::CreationDefaults defaults;
};

struct KmeImportError {
  uint64_t line = 0;           // the CSV line (0 for a Knox Cloud API device)
  std::string code;
  std::string message;
  std::string field;
  std::string knox_device_id;  // Samsung's id of a Knox Cloud API device
};

struct KmeImportReport {
  std::string import_id;
  bool dry_run = false;
  uint64_t rows = 0;  // data rows (blank rows are not counted)
  uint64_t created = 0, updated = 0, unchanged = 0, rejected = 0, users_matched = 0;
  // Devices whose user the Knox Deployment App had bound and the source's user replaced
  // (each recorded as KmeDeploymentUserOverridden; counted in `updated` too).
  uint64_t conflicts = 0;
  std::vector<KmeImportError> errors;  // CSV: in line order; at most max_reported_errors
  bool errors_truncated = false;
  std::string file_sha256;       // hex
  uint64_t events_appended = 0;  // device events and the summary
  LogPosition position;          // the summary's position (invalid on a dry run)
  bool views_caught_up = true;   // false when the views had not applied `position` in time
  double seconds = 0;
};

// One device as a Knox source reports it: a row of the portal CSV or a device of the Knox
// Cloud API.
struct KmeSourceDevice {
  domain::kme::DeviceObservation observed;
  std::string knox_user_id;    // the source's User ID / userName ("" none); personal data
  uint64_t line = 0;           // the CSV line (0 for the API)
  std::string knox_device_id;  // Samsung's id (API); names the device in errors
};

// ---- the KME view, as the projections have applied it ----------------------------------

// Reads one value of the views' plain-string tables (column family, key): kme_ids (an
// identifier key -> the device id) and kme_versions (a device id -> its stream version in
// decimal); nullopt when absent. Records are read through their own typed ports
// (KmeDeviceLookup, ...), never through this one.
using ViewGet = std::function<Result<std::optional<std::string>>(const std::string& cf,
                                                                 const std::string& key)>;

// A KME device as the views have it (kme_devices), as much of it as the decider needs.
struct KmeViewDevice {
  std::string id;
  std::string imei, imei2, meid, serial_number;
  std::string model, profile_name, knox_status;
  std::vector<std::string> tags;
  std::map<std::string, std::string> attributes;
  std::string source;  // csv | knox_api | knox_deployment ("" unknown)
  std::string user_id;
  bool user_by_deployment = false;
  std::string policy_id, ruleset_id;
};

// The KME device `device_id` of the views: nullopt when there is none; kCorruption
// "view.corruption" when its record is not one.
using KmeDeviceLookup =
    std::function<Result<std::optional<KmeViewDevice>>(const std::string& device_id)>;

// The device id the identifiers index names (kme_ids), "" when none does.
// kFailedPrecondition "kme.identifier_conflict" when they name two different devices.
Result<std::string> FindKmeDevice(const ViewGet& views, const domain::kme::Identifiers& ids);
// The decider's state as the view has it (not exists for none).
domain::kme::DeviceState KmeDeviceStateFromView(const std::optional<KmeViewDevice>& device);
// The device's stream version as the view has applied it (0: none; kme_versions).
Result<StreamVersion> KmeDeviceVersion(const ViewGet& views, const std::string& device_id);

// The knox_status text of a device status (§6.2): the canonical name, the raw text of an
// unknown status, "" when none was given.
std::string KmeStatusText(ae::kme::KmeDeviceStatus status, const std::string& raw);

// ---- the service -------------------------------------------------------------------------

// What the ingest reads besides the log.
struct KmeIngestHooks {
  // The views: kme_ids and kme_versions.
  ViewGet views;
  // The KME devices of the views (kme_devices).
  KmeDeviceLookup kme_device;
  // The id of the user a source's User ID names, "" when no user (not deleted, role
  // device_user or above) has it. An error stops the ingest.
  std::function<Result<std::string>(const std::string& knox_user_id)> match_user;
  // Blocks until the views have applied `position` (true) or `timeout` passed (false).
  std::function<bool(const LogPosition& position, std::chrono::milliseconds timeout)>
      wait_for_views;
  // The enrollment rules a created device is given by (read once per import or sync);
  // none: null.
  domain::rules::RuleSource* rules = nullptr;
};

class KmeDeviceIngest;

class KmeIngest {
 public:
  KmeIngest(domain::CommandBus& bus, events::PersonKeys& person_keys, KmeIngestHooks hooks)
      : bus_(bus), person_keys_(person_keys), hooks_(std::move(hooks)) {}

  // Imports one Knox portal CSV file. File-level failures, before anything is appended:
  //   kInvalidArgument "kme.import_empty"     the body is empty or has only blank lines;
  //   kUnprocessable   "kme.import_unreadable" no recognisable header or identifier column
  //                                            (the reader's message).
  // options.cancel turned true stops it between rows (kCancelled "kme.import_cancelled").
  // A failing append (log unavailable) stops the import with that status; the devices
  // appended until then stay recorded and a new import of the same file completes it.
  Result<KmeImportReport> ImportCsv(std::string_view file, const KmeImportOptions& options,
                                    const domain::CommandContext& ctx);

  domain::CommandBus& bus() { return bus_; }
  const KmeIngestHooks& hooks() const { return hooks_; }

 private:
  friend class KmeDeviceIngest;
  domain::CommandBus& bus_;
  events::PersonKeys& person_keys_;
  const KmeIngestHooks hooks_;
};

// The shared decision path (see above). Counts into its report; `run_id` is the import or
// sync id the device events carry (import_id).
class KmeDeviceIngest {
 public:
  KmeDeviceIngest(KmeIngest& service, const KmeImportOptions& options,
                  const domain::CommandContext& ctx, domain::kme::KmeSource source,
                  std::string run_id, std::string label = "import");
  ~KmeDeviceIngest();
  KmeDeviceIngest(const KmeDeviceIngest&) = delete;
  KmeDeviceIngest& operator=(const KmeDeviceIngest&) = delete;

  // Decides one device and queues its events (counts it in `rows`). A problem of the
  // device itself (no or conflicting identifiers) is counted as rejected, with its error,
  // and answers OK. An error return stops the caller: a failing view read or append
  // (kme.import_aborted), or options.cancel turned true (kCancelled
  // "kme.import_cancelled").
  Status Add(KmeSourceDevice device);
  // Counts a device rejected before it could be decided (an unreadable CSV row, a Knox
  // device without a usable identifier), in `rows` too.
  void Reject(uint64_t line, const std::string& knox_device_id, std::string code,
              std::string message, std::string field = "");
  // Appends what is queued and waits for it; returns the first failed append. Add may be
  // called again afterwards.
  Status Flush();
  // The counts so far (a copy; thread-safe).
  KmeImportReport Snapshot() const;
  // The report itself; only between Flush() and the next Add().
  KmeImportReport& report() { return report_; }

 private:
  // What a decided device counts once appended.
  struct Note {
    domain::kme::ImportOutcome outcome = domain::kme::ImportOutcome::kUnchanged;
    size_t events = 0;
    bool conflict = false;
  };
  using Commit = domain::GroupCommit<domain::kme::DeviceState, Note>;

  void Count(domain::kme::ImportOutcome outcome, size_t events, bool conflict);
  // Counts a rejection (not the row: the caller has).
  void Rejected(uint64_t line, const std::string& knox_device_id, std::string code,
                std::string message, std::string field);
  void Progress(uint64_t rows);
  Result<std::string> MatchUser(const std::string& knox_user_id);
  std::string Where(uint64_t line, const std::string& knox_device_id) const;

  KmeIngest& service_;
  const KmeImportOptions& options_;
  const domain::kme::KmeSource source_;
  const std::string label_;
  mutable std::mutex report_mu_;
  KmeImportReport report_;  // guarded by report_mu_ while appends run
  std::unique_ptr<Commit> commit_;  // null on a dry run
  std::shared_ptr<const domain::rules::RuleBook> rules_;  // read at construction
  Status rules_status_;  // why the rules could not be read (Add fails with it)
  std::unordered_map<std::string, std::string> users_;  // User ID -> user id ("" none)
};

}  // namespace ae::knox
