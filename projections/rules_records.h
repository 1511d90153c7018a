#pragma once
// The records of the rules view (RulesProjector writes them, the API reads them): one type
// per table, with its one encoding. A record is a JSON object with sorted keys, so a replay
// writes the same bytes; Encode gives exactly those bytes, and Decode reads them back
// (kCorruption "view.corruption" for anything else). Times are RFC 3339 UTC with
// milliseconds.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "projections/view_store.h"

namespace ae::proj {

// ---- rules: rule id -> RuleRecord (a deleted rule has none) ----

struct RuleRecord {
  static constexpr const char* kTable = "rules";

  std::string id, name;
  int32_t priority = 0;  // lower first
  bool disabled = false;
  std::string rule;  // base64 of the EnrollmentRuleDefined that defined it
  std::string defined_at, last_position;

  nlohmann::json ToJson() const;
  std::string Encode() const;
  static Result<RuleRecord> FromJson(const nlohmann::json& j);
  static Result<RuleRecord> Decode(std::string_view bytes);
};

// ---- jobs: job id -> JobRecord ----

// A bulk assignment job. Every key is present from the start but completed_at, which comes
// with the completion.
struct JobRecord {
  static constexpr const char* kTable = "jobs";

  std::string id;
  std::string state;  // running | done | cancelled | failed (StateOf)
  uint64_t total = 0, done = 0, assigned = 0, unchanged = 0, refused = 0;
  bool completed = false, cancelled = false;
  std::string then;       // base64 of the AssignmentAction
  std::string selection;  // the filter as given (JSON), or "ids"
  std::string started_at;
  std::optional<std::string> completed_at;
  std::string last_position;

  // The state its counts and flags make: running until completed; then cancelled, or
  // failed with fewer devices done than selected, else done.
  std::string StateOf() const;

  nlohmann::json ToJson() const;
  std::string Encode() const;
  static Result<JobRecord> FromJson(const nlohmann::json& j);
  static Result<JobRecord> Decode(std::string_view bytes);
};

// ---- job_outcomes: JobOutcomeKey(job id, index) -> JobOutcomeRecord ----

// What a job did to one device, in the order the job decided them.
struct JobOutcomeRecord {
  static constexpr const char* kTable = "job_outcomes";

  std::string device;
  std::string outcome;  // assigned | unchanged | refused
  std::string code;     // the reason code of a refusal; "" (absent) otherwise

  nlohmann::json ToJson() const;  // as the record holds it (and the API shows it)
  std::string Encode() const;
  static Result<JobOutcomeRecord> FromJson(const nlohmann::json& j);
  static Result<JobOutcomeRecord> Decode(std::string_view bytes);
};

// The key of a job's outcome number `index` (0-based) in job_outcomes: job id, "/", the
// index in 12 digits.
std::string JobOutcomeKey(const std::string& job_id, uint64_t index);

// The record `key` of Record's table (std::nullopt when there is none), read from the
// views or through a batch (its own writes first).
template <typename Record, typename Views>
Result<std::optional<Record>> ReadRulesRecord(Views& views, const std::string& key) {
  AE_ASSIGN_OR_RETURN(auto raw, views.Get(Record::kTable, key));
  if (!raw) return std::optional<Record>();
  AE_ASSIGN_OR_RETURN(Record r, Record::Decode(*raw));
  return std::optional<Record>(std::move(r));
}

}  // namespace ae::proj
