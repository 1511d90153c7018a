#pragma once
// The dry run of an enrollment rule against the log's history: which devices the rule
// would have matched when they first appeared, and what it would change on them today.
// Reads the log once from `since` (never writes); bounded by `limit` on the listed
// changes (the counts stay whole). Memory: one small record per matched device.
//
// A device first appears with the first event of its stream: DepDeviceSynced at stream
// version 1 (dep-device/<serial>), KmeDeviceImported (kme-device/<id>). Its facts are that
// event's (domain::rules::FactsOf). After it, the device's assignments are followed:
// DeviceUserAssigned / DevicePolicyAssigned / DeviceRuleSetAssigned, and for a DEP device
// DepProfileAssignmentRequested and DepProfileRemoved. An assignment no rule made (rule_id
// empty: an administrator's, a bulk job's, an import's parameters or the row's own user)
// is manual: the rule never overrides it, so that field never changes. Any other field
// changes when its current value differs from the rule's.
//
// Thread-safety: a pure function of the log; safe from any thread.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "domain/rules/rules.h"
#include "events/event_log.h"

namespace ae::assign {

struct DryRunOptions {
  // Devices that first appeared at or after this position (in its partition) or, for
  // records of other partitions, this time (ms of recorded_at). Neither: the whole log.
  std::optional<LogPosition> since_position;
  int64_t since_ms = 0;
  size_t limit = 100;       // devices listed in would_change (the counts stay whole)
  size_t read_batch = 4096; // records per EventLog::Read
};

struct FieldChange {
  std::string field;  // profile_id | user | policy | ruleset
  std::string from;   // the current id ("" none)
  std::string to;     // the rule's id
};

struct DeviceChange {
  std::string device;  // serial number (DEP) or KME device id
  std::string source;  // dep | kme
  std::vector<FieldChange> changes;
};

struct DryRunReport {
  uint64_t events_read = 0;
  uint64_t devices_seen = 0;       // devices that first appeared since
  uint64_t matched = 0;            // of those, the rule matched
  uint64_t would_change_count = 0; // of those, the rule would change something
  std::vector<DeviceChange> would_change;  // the first `limit`, in order of appearance
  bool truncated = false;
  LogCursor head;                  // where the read ended
};

// `profiles`: the DEP profile the rule names (its account: a profile is requested only
// for devices of that account; nullopt: none is requested).
Result<DryRunReport> DryRunRule(const events::EventLog& log, const domain::rules::Rule& rule,
                                const std::optional<domain::rules::DepProfileRef>& profile,
                                const DryRunOptions& options);

}  // namespace ae::assign
