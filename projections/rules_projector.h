#pragma once
// RulesProjector: the enrollment rules and the bulk assignment jobs.
//
// Tables (the records of rules_records.h, one type per table):
//   rules         rule_id -> RuleRecord (the rule's event, its name, priority and whether it
//                 is disabled); a deleted rule's record is removed
//   jobs          job_id  -> JobRecord (state running | done | cancelled | failed, the
//                 counts, the action and the selection); failed: completed with fewer
//                 devices done than selected, not cancelled
//   job_outcomes  JobOutcomeKey(job_id, index) -> JobOutcomeRecord, in the order the job
//                 decided them
// One handler per event type (OnRuleDefined, ...).

#include <string>

#include "projections/projector.h"
#include "projections/rules_records.h"

namespace ae::proj {

class RulesProjector : public Projector {
 public:
  std::string name() const override { return "rules"; }
  std::vector<std::string> column_families() const override {
    return {RuleRecord::kTable, JobRecord::kTable, JobOutcomeRecord::kTable};
  }
  Status Apply(const RecordedEvent& record, ViewBatch& batch) override;
};

}  // namespace ae::proj
