#include "projections/rules_projector.h"

#include "events/base/crypto.h"
#include "projections/json_record.h"
#include "projections/rules_records.h"

namespace ae::proj {

namespace {
using json_record::When;

Status OnRuleDefined(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.enrollment_rule_defined();
  RuleRecord rule;
  rule.id = p.rule_id();
  rule.name = p.name();
  rule.priority = p.priority();
  rule.disabled = p.disabled();
  rule.rule = crypto::Base64(p.SerializeAsString());
  rule.defined_at = When(r.envelope);
  rule.last_position = r.position.ToString();
  b.Put(RuleRecord::kTable, p.rule_id(), rule.Encode());
  return Status::Ok();
}

Status OnRuleDeleted(const RecordedEvent& r, ViewBatch& b) {
  b.Delete(RuleRecord::kTable, r.envelope.enrollment_rule_deleted().rule_id());
  return Status::Ok();
}

Status OnJobStarted(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.assignment_job_started();
  JobRecord job;
  job.id = p.job_id();
  job.total = p.total();
  job.then = crypto::Base64(p.then().SerializeAsString());
  job.selection = p.selection();
  job.started_at = When(r.envelope);
  job.last_position = r.position.ToString();
  job.state = job.StateOf();
  b.Put(JobRecord::kTable, p.job_id(), job.Encode());
  return Status::Ok();
}

// Records the batch's outcomes after the ones before it; the counts follow them.
Status OnJobProgressed(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.assignment_job_progressed();
  AE_ASSIGN_OR_RETURN(auto job, ReadRulesRecord<JobRecord>(b, p.job_id()));
  if (!job) return Status::Ok();
  const uint64_t first = p.done() >= static_cast<uint64_t>(p.outcomes_size())
                             ? p.done() - p.outcomes_size()
                             : 0;
  for (int i = 0; i < p.outcomes_size(); ++i) {
    const auto& o = p.outcomes(i);
    JobOutcomeRecord outcome{o.device_id(), o.outcome(), o.code()};
    b.Put(JobOutcomeRecord::kTable, JobOutcomeKey(p.job_id(), first + i), outcome.Encode());
    if (o.outcome() == "assigned") ++job->assigned;
    else if (o.outcome() == "unchanged") ++job->unchanged;
    else ++job->refused;
  }
  job->done = p.done();
  job->last_position = r.position.ToString();
  b.Put(JobRecord::kTable, p.job_id(), job->Encode());
  return Status::Ok();
}

Status OnJobCompleted(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.assignment_job_completed();
  AE_ASSIGN_OR_RETURN(auto job, ReadRulesRecord<JobRecord>(b, p.job_id()));
  if (!job) return Status::Ok();
  job->done = p.done();
  job->assigned = p.assigned();
  job->unchanged = p.unchanged();
  job->refused = p.refused();
  job->completed = true;
  job->cancelled = p.cancelled();
  job->completed_at = When(r.envelope);
  job->state = job->StateOf();
  job->last_position = r.position.ToString();
  b.Put(JobRecord::kTable, p.job_id(), job->Encode());
  return Status::Ok();
}
}  // namespace

Status RulesProjector::Apply(const RecordedEvent& r, ViewBatch& b) {
  switch (r.envelope.payload_case()) {
    case events::Envelope::kEnrollmentRuleDefined: return OnRuleDefined(r, b);
    case events::Envelope::kEnrollmentRuleDeleted: return OnRuleDeleted(r, b);
    case events::Envelope::kAssignmentJobStarted: return OnJobStarted(r, b);
    case events::Envelope::kAssignmentJobProgressed: return OnJobProgressed(r, b);
    case events::Envelope::kAssignmentJobCompleted: return OnJobCompleted(r, b);
    default: return Status::Ok();
  }
}

}  // namespace ae::proj
