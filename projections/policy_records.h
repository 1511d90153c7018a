#pragma once
// The records of the policies views (PoliciesProjector writes them, the API reads them):
// one type per table, with its one encoding. A record is a JSON object with sorted keys, so
// a replay writes the same bytes; Encode gives exactly those bytes, and Decode reads them
// back (kCorruption "view.corruption" for anything else). Times are RFC 3339 UTC with
// milliseconds. policy_devices and ruleset_devices hold empty values (see
// policies_projector.h), not records.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "projections/view_store.h"

namespace ae::proj {

// ---- policies: id -> PolicyRecord, rulesets: id -> RuleSetRecord ----

// The current version of a policy or rule set (without its content).
struct NamedRecord {
  std::string id, name;
  uint32_t version = 1;
  std::string description, created_at, updated_at, last_position;

  nlohmann::json ToJson() const;
  std::string Encode() const;
};

struct PolicyRecord : NamedRecord {
  static constexpr const char* kTable = "policies";
  static constexpr const char* kVersionsTable = "policy_versions";
  static Result<PolicyRecord> FromJson(const nlohmann::json& j);
  static Result<PolicyRecord> Decode(std::string_view bytes);
};

struct RuleSetRecord : NamedRecord {
  static constexpr const char* kTable = "rulesets";
  static constexpr const char* kVersionsTable = "ruleset_versions";
  static Result<RuleSetRecord> FromJson(const nlohmann::json& j);
  static Result<RuleSetRecord> Decode(std::string_view bytes);
};

// ---- policy_versions: PolicyVersionKey -> PolicyVersionRecord ----

struct PolicyVersionRecord {
  static constexpr const char* kTable = "policy_versions";

  std::string id, name;
  uint32_t version = 1;
  std::string description;
  // Free-form content as the policy gave it: a JSON array of payload dictionaries, and a
  // JSON object (the agent's managed configuration).
  nlohmann::json apple_payloads = nlohmann::json::array();
  nlohmann::json android_config = nlohmann::json::object();
  bool sign = false;
  std::string at;

  nlohmann::json ToJson() const;
  std::string Encode() const;
  static Result<PolicyVersionRecord> FromJson(const nlohmann::json& j);
  static Result<PolicyVersionRecord> Decode(std::string_view bytes);
};

// ---- ruleset_versions: PolicyVersionKey -> RuleSetVersionRecord ----

struct ComplianceRuleRecord {
  std::string condition, action, description;
};

struct RuleSetVersionRecord {
  static constexpr const char* kTable = "ruleset_versions";

  std::string id, name;
  uint32_t version = 1;
  std::string description;
  std::vector<ComplianceRuleRecord> rules;
  std::string at;

  // [{action, condition, description}]: as the record and the API show them.
  nlohmann::json RulesJson() const;
  nlohmann::json ToJson() const;
  std::string Encode() const;
  static Result<RuleSetVersionRecord> FromJson(const nlohmann::json& j);
  static Result<RuleSetVersionRecord> Decode(std::string_view bytes);
};

// ---- device_policies: device id -> DevicePolicyRecord ----

// What a device was (or is to be) handed: policy and rule set versions.
struct PolicyHanded {
  std::string policy_id;
  uint32_t policy_version = 0;
  std::string ruleset_id;
  uint32_t ruleset_version = 0;
};

// A delivery (channel set) or an answer of the device (status and error set).
struct PolicyHandedAt : PolicyHanded {
  std::optional<std::string> channel;        // delivered: apple_mdm | android_agent
  std::optional<std::string> status, error;  // answered: Acknowledged | Error, its error
  std::string command_uuid, at;
};

struct DevicePolicyRecord {
  static constexpr const char* kTable = "device_policies";

  std::string policy_id, ruleset_id;  // "" none (always present)
  std::optional<PolicyHandedAt> delivered, acknowledged, last_error;  // absent until set
  std::map<std::string, PolicyHanded> pending;  // command uuid -> what; absent when empty

  nlohmann::json ToJson() const;
  std::string Encode() const;
  static Result<DevicePolicyRecord> FromJson(const nlohmann::json& j);
  static Result<DevicePolicyRecord> Decode(std::string_view bytes);
};

// The record `key` of Record's table (std::nullopt when there is none), read from the
// views or through a batch (its own writes first).
template <typename Record, typename Views>
Result<std::optional<Record>> ReadPolicyRecord(Views& views, const std::string& key) {
  AE_ASSIGN_OR_RETURN(auto raw, views.Get(Record::kTable, key));
  if (!raw) return std::optional<Record>();
  AE_ASSIGN_OR_RETURN(Record r, Record::Decode(*raw));
  return std::optional<Record>(std::move(r));
}

}  // namespace ae::proj
