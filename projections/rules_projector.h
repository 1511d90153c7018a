#pragma once
// RulesProjector: the enrollment rules and the bulk assignment jobs.
//
// Tables (JSON values, keys sorted, so bytes are deterministic):
//   rules         rule_id -> {id, name, priority, disabled, rule (base64 of the
//                             EnrollmentRuleDefined), defined_at, last_position};
//                 a deleted rule's record is removed
//   jobs          job_id  -> {id, state (running | done | cancelled | failed), total, done,
//                             assigned, unchanged, refused, then (base64 AssignmentAction),
//                             selection, started_at, completed_at?, last_position}
//                 failed: completed with fewer devices done than selected, not cancelled
//   job_outcomes  job_id + "/" + 12-digit index -> {device, outcome, code?}, in the order the
//                 job decided them

#include <string>

#include "projections/projector.h"

namespace ae::proj {

class RulesProjector : public Projector {
 public:
  std::string name() const override { return "rules"; }
  std::vector<std::string> column_families() const override {
    return {"rules", "jobs", "job_outcomes"};
  }
  Status Apply(const RecordedEvent& record, ViewBatch& batch) override;
};

// The key of a job's outcome number `index` (0-based) in job_outcomes.
std::string JobOutcomeKey(const std::string& job_id, uint64_t index);

}  // namespace ae::proj
