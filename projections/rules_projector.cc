#include "projections/rules_projector.h"

#include <google/protobuf/util/time_util.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "projections/json_record.h"

namespace ae::proj {

namespace {
using nlohmann::json;

using json_record::Load;
using json_record::When;

std::string JobState(const json& j) {
  if (!j.value("completed", false)) return "running";
  if (j.value("cancelled", false)) return "cancelled";
  return j.value("done", uint64_t{0}) < j.value("total", uint64_t{0}) ? "failed" : "done";
}
}  // namespace

std::string JobOutcomeKey(const std::string& job_id, uint64_t index) {
  char n[16];
  std::snprintf(n, sizeof n, "%012llu", static_cast<unsigned long long>(index));
  return job_id + "/" + n;
}

Status RulesProjector::Apply(const RecordedEvent& r, ViewBatch& b) {
  const events::Envelope& e = r.envelope;
  switch (e.payload_case()) {
    case events::Envelope::kEnrollmentRuleDefined: {
      const auto& p = e.enrollment_rule_defined();
      json j = {{"id", p.rule_id()},
                {"name", p.name()},
                {"priority", p.priority()},
                {"disabled", p.disabled()},
                {"rule", crypto::Base64(p.SerializeAsString())},
                {"defined_at", When(e)},
                {"last_position", r.position.ToString()}};
      b.Put("rules", p.rule_id(), j.dump());
      return Status::Ok();
    }
    case events::Envelope::kEnrollmentRuleDeleted:
      b.Delete("rules", e.enrollment_rule_deleted().rule_id());
      return Status::Ok();
    case events::Envelope::kAssignmentJobStarted: {
      const auto& p = e.assignment_job_started();
      json j = {{"id", p.job_id()},
                {"total", p.total()},
                {"done", 0},
                {"assigned", 0},
                {"unchanged", 0},
                {"refused", 0},
                {"completed", false},
                {"cancelled", false},
                {"then", crypto::Base64(p.then().SerializeAsString())},
                {"selection", p.selection()},
                {"started_at", When(e)},
                {"last_position", r.position.ToString()}};
      j["state"] = JobState(j);
      b.Put("jobs", p.job_id(), j.dump());
      return Status::Ok();
    }
    case events::Envelope::kAssignmentJobProgressed: {
      const auto& p = e.assignment_job_progressed();
      AE_ASSIGN_OR_RETURN(json j, Load(b, "jobs", p.job_id()));
      if (!j.is_object()) return Status::Ok();
      const uint64_t first = p.done() >= static_cast<uint64_t>(p.outcomes_size())
                                 ? p.done() - p.outcomes_size()
                                 : 0;
      uint64_t assigned = j.value("assigned", uint64_t{0});
      uint64_t unchanged = j.value("unchanged", uint64_t{0});
      uint64_t refused = j.value("refused", uint64_t{0});
      for (int i = 0; i < p.outcomes_size(); ++i) {
        const auto& o = p.outcomes(i);
        json oj = {{"device", o.device_id()}, {"outcome", o.outcome()}};
        if (!o.code().empty()) oj["code"] = o.code();
        b.Put("job_outcomes", JobOutcomeKey(p.job_id(), first + i), oj.dump());
        if (o.outcome() == "assigned") ++assigned;
        else if (o.outcome() == "unchanged") ++unchanged;
        else ++refused;
      }
      j["done"] = p.done();
      j["assigned"] = assigned;
      j["unchanged"] = unchanged;
      j["refused"] = refused;
      j["last_position"] = r.position.ToString();
      b.Put("jobs", p.job_id(), j.dump());
      return Status::Ok();
    }
    case events::Envelope::kAssignmentJobCompleted: {
      const auto& p = e.assignment_job_completed();
      AE_ASSIGN_OR_RETURN(json j, Load(b, "jobs", p.job_id()));
      if (!j.is_object()) return Status::Ok();
      j["done"] = p.done();
      j["assigned"] = p.assigned();
      j["unchanged"] = p.unchanged();
      j["refused"] = p.refused();
      j["completed"] = true;
      j["cancelled"] = p.cancelled();
      j["completed_at"] = When(e);
      j["state"] = JobState(j);
      j["last_position"] = r.position.ToString();
      b.Put("jobs", p.job_id(), j.dump());
      return Status::Ok();
    }
    default:
      return Status::Ok();
  }
}

}  // namespace ae::proj
