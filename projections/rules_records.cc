#include "projections/rules_records.h"

#include <cstdio>

#include "projections/record_fields.h"

namespace ae::proj {

namespace {
using nlohmann::json;
using namespace record_fields;
}  // namespace

// ---- rules ----

json RuleRecord::ToJson() const {
  return {{"id", id},
          {"name", name},
          {"priority", priority},
          {"disabled", disabled},
          {"rule", rule},
          {"defined_at", defined_at},
          {"last_position", last_position}};
}

std::string RuleRecord::Encode() const { return ToJson().dump(); }

Result<RuleRecord> RuleRecord::FromJson(const json& j) {
  return ReadRecord<RuleRecord>(kTable, j, [&](RuleRecord& r) {
    r.id = Str(j, "id");
    r.name = Str(j, "name");
    r.priority = Number<int32_t>(j, "priority");
    r.disabled = Bool(j, "disabled");
    r.rule = Str(j, "rule");
    r.defined_at = Str(j, "defined_at");
    r.last_position = Str(j, "last_position");
  });
}

Result<RuleRecord> RuleRecord::Decode(std::string_view bytes) {
  return DecodeRecord<RuleRecord>(bytes);
}

// ---- jobs ----

std::string JobRecord::StateOf() const {
  if (!completed) return "running";
  if (cancelled) return "cancelled";
  return done < total ? "failed" : "done";
}

json JobRecord::ToJson() const {
  json j = {{"id", id},
            {"state", state},
            {"total", total},
            {"done", done},
            {"assigned", assigned},
            {"unchanged", unchanged},
            {"refused", refused},
            {"completed", completed},
            {"cancelled", cancelled},
            {"then", then},
            {"selection", selection},
            {"started_at", started_at},
            {"last_position", last_position}};
  if (completed_at) j["completed_at"] = *completed_at;
  return j;
}

std::string JobRecord::Encode() const { return ToJson().dump(); }

Result<JobRecord> JobRecord::FromJson(const json& j) {
  return ReadRecord<JobRecord>(kTable, j, [&](JobRecord& r) {
    r.id = Str(j, "id");
    r.state = Str(j, "state");
    r.total = Number<uint64_t>(j, "total");
    r.done = Number<uint64_t>(j, "done");
    r.assigned = Number<uint64_t>(j, "assigned");
    r.unchanged = Number<uint64_t>(j, "unchanged");
    r.refused = Number<uint64_t>(j, "refused");
    r.completed = Bool(j, "completed");
    r.cancelled = Bool(j, "cancelled");
    r.then = Str(j, "then");
    r.selection = Str(j, "selection");
    r.started_at = Str(j, "started_at");
    r.completed_at = OptStr(j, "completed_at");
    r.last_position = Str(j, "last_position");
  });
}

Result<JobRecord> JobRecord::Decode(std::string_view bytes) {
  return DecodeRecord<JobRecord>(bytes);
}

// ---- job outcomes ----

json JobOutcomeRecord::ToJson() const {
  json j = {{"device", device}, {"outcome", outcome}};
  if (!code.empty()) j["code"] = code;
  return j;
}

std::string JobOutcomeRecord::Encode() const { return ToJson().dump(); }

Result<JobOutcomeRecord> JobOutcomeRecord::FromJson(const json& j) {
  return ReadRecord<JobOutcomeRecord>(kTable, j, [&](JobOutcomeRecord& r) {
    r.device = Str(j, "device");
    r.outcome = Str(j, "outcome");
    r.code = Str(j, "code");
  });
}

Result<JobOutcomeRecord> JobOutcomeRecord::Decode(std::string_view bytes) {
  return DecodeRecord<JobOutcomeRecord>(bytes);
}

std::string JobOutcomeKey(const std::string& job_id, uint64_t index) {
  char n[16];
  std::snprintf(n, sizeof n, "%012llu", static_cast<unsigned long long>(index));
  return job_id + "/" + n;
}

}  // namespace ae::proj
