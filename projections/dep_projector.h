#pragma once
// DepProjector: the Apple DEP views.
//
// Tables (JSON values with sorted keys, so replays are byte-identical; their types and
// their one encoding are in projections/dep_records.h):
//   dep_accounts  account_id -> {id, name, state, state_reason, certificate_pem,
//                   token_expires_at, token_fingerprint, server_name, server_uuid,
//                   org_*, last_sync_at, last_sync_error, sync{...},
//                   cursor_at, created_at, updated_at, last_position}
//   dep_counts    account_id -> {total, empty, assigned, pushed, removed, seq}
//   dep_counts_history  account_id NUL seq (8 bytes, big-endian) ->
//                 {total, empty, assigned, pushed, removed, position, recorded_ms}:
//                 the counts after each change, numbered 1..seq without gaps, so
//                 the counts as of a point are a binary search over seq
//   dep_profiles  profile_id -> {id, account_id, every profile field,
//                   profile_uuid, state: pending|defined|failed, error, ...}
//   dep_devices   serial -> {serial_number, account_id, Apple's attributes,
//                   profile_status, profile_uuid, profile_id, profile times,
//                   user_id, policy_id, ruleset_id, assigned_to_server,
//                   pending_request_id, last_assignment_error, enrollment,
//                   disowned, updated_at, last_position}
//   dep_retries   serial -> {due, profile_id, profile_uuid}: failed assignments
//                 and when to ask Apple again
// device_counts count the devices assigned to the server, by profile status.
// Apply hands each event type to its own handler (OnDepAccountCreated, ...).

#include "projections/projector.h"

namespace ae::proj {

class DepProjector : public Projector {
 public:
  std::string name() const override { return "dep"; }
  std::vector<std::string> column_families() const override {
    return {"dep_accounts", "dep_profiles", "dep_devices", "dep_retries", "dep_counts",
            "dep_counts_history"};
  }
  std::vector<std::string> point_read_families() const override { return {"dep_devices"}; }
  Status Apply(const RecordedEvent& record, ViewBatch& batch) override;
};

// The key of the seq-th change of an account's device counts in dep_counts_history.
std::string DepCountsHistoryKey(const std::string& account_id, uint64_t seq);

}  // namespace ae::proj
