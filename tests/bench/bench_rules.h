#pragma once
// The enrollment rules' figures of scripts/bench (section rules): the dry run of a rule over
// a log of device events beside the raw read of the same log (EventLog::Read, the scan every
// reader of the log does).

#include <cstdint>
#include <string>

namespace ae::bench {

struct RulesBenchOptions {
  std::string data_dir;           // the log is <data_dir>/log
  uint64_t events = 1'000'000;    // prefill-devices: events to write
};
// Fills a fresh log with `events` device events: KME devices (KmeDeviceImported, a third of
// them tagged "north", every fourth followed by a DevicePolicyAssigned by hand) and DEP
// devices (DepDeviceSynced), appended in batches of 1000 (sync=false: prefill only).
// Prints {events, seconds}.
int PrefillDevices(const RulesBenchOptions& o);
// Engine: assign::DryRunRule of {when: {knox_tags: [north]}, then: {policy}} over the log.
// Prints {events, matched, would_change, seconds, per_sec}.
int RuleDryRun(const RulesBenchOptions& o);
// Raw: EventLog::Read of the whole log in batches of 4096. Prints {events, seconds, per_sec}.
int RawLogRead(const RulesBenchOptions& o);

}  // namespace ae::bench
