#pragma once
// The Knox portal CSV import (POST /v1/kme/imports) and the KME view lookups the KME routes
// share.
//
// ImportKmeCsv streams the file through ae::kme::KnoxCsvReader in chunks. Each row is
// decided in memory (domain::kme::Decide) against the KME view, then its events are
// appended to the device's own stream, with the view's stream version as the expected
// version: rows are gathered into batches that one thread appends with
// EventLog::AppendBatch (a group commit for many devices) while the next batch is decided.
// When the view was stale (kConflict) the row is decided again through the CommandBus
// against the stream itself. The answer comes once every append is
// done, the KmeImportCompleted summary is appended and the views have applied it.
//
// A row matches an existing device when any of its identifiers does (kme_ids); a row
// whose identifiers name two different devices is rejected (kme.identifier_conflict).
// A row's User ID that names an existing user (not deleted) assigns that user to a device
// that has none. The Knox user id is sealed under that user's key in KmeDeviceImported;
// an unmatched one is not recorded. The password column is never read.
//
// Memory: the reader's buffer, one chunk, at most max_pending_batches + 1 decided batches,
// and a cache of the User IDs seen (bounded). Nothing is kept per row.
//
// Thread-safety: ImportKmeCsv may run concurrently with itself and with other writers.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/app.h"
#include "domain/kme/kme.h"

namespace ae::api {

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
};

struct KmeImportError {
  uint64_t line = 0;
  std::string code;
  std::string message;
  std::string field;
};

struct KmeImportReport {
  std::string import_id;
  bool dry_run = false;
  uint64_t rows = 0;  // data rows (blank rows are not counted)
  uint64_t created = 0, updated = 0, unchanged = 0, rejected = 0, users_matched = 0;
  std::vector<KmeImportError> errors;  // in line order, at most max_reported_errors
  bool errors_truncated = false;
  std::string file_sha256;       // hex
  uint64_t events_appended = 0;  // device events and the summary
  LogPosition position;          // the summary's position (invalid on a dry run)
  bool views_caught_up = true;   // false when the views had not applied `position` in time
  double seconds = 0;

  nlohmann::json ToJson() const;
};

// Imports one Knox portal CSV file. File-level failures, before anything is appended:
//   kInvalidArgument "kme.import_empty"     the body is empty or has only blank lines;
//   kUnprocessable   "kme.import_unreadable" no recognisable header or identifier column
//                                            (the reader's message).
// A failing append (log unavailable) stops the import with that status; the devices
// appended until then stay recorded and a new import of the same file completes it.
Result<KmeImportReport> ImportKmeCsv(App& app, std::string_view file,
                                     const KmeImportOptions& options,
                                     const domain::CommandContext& ctx);

// ---- KME view lookups ------------------------------------------------------------

// The device id the identifiers index names, "" when none does. kFailedPrecondition
// "kme.identifier_conflict" when they name two different devices.
Result<std::string> FindKmeDevice(App& app, const domain::kme::Identifiers& ids);

// The kme_devices record of `device_id` (null json when absent).
Result<nlohmann::json> LoadKmeDevice(App& app, const std::string& device_id);

// The decider's state as the view has it (not exists for a null record).
domain::kme::DeviceState KmeDeviceStateFromView(const nlohmann::json& record);

// The device's stream version as the view has applied it (0: none).
Result<StreamVersion> KmeDeviceVersion(App& app, const std::string& device_id);

// Parses a device id or any identifier (IMEI, IMEI2, MEID, serial) a client sends and
// returns the device id; kNotFound "kme.device_not_found" when no device has it.
Result<std::string> ResolveKmeDeviceRef(App& app, const std::string& ref);

// Normalises identifiers a device or a client sends (spec §1.4 step 4). Fields: the
// request field names. kInvalidArgument "kme.bad_identifier" (field set) when one is not
// an identifier; an empty result when none is given.
Result<domain::kme::Identifiers> ParseKmeIdentifiers(const std::string& imei,
                                                     const std::string& imei2,
                                                     const std::string& meid,
                                                     const std::string& serial);

}  // namespace ae::api
