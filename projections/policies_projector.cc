#include "projections/policies_projector.h"

#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <functional>

#include <nlohmann/json.hpp>

#include "events/base/clock.h"
#include "projections/json_record.h"
#include "projections/policy_records.h"

namespace ae::proj {

namespace {
using nlohmann::json;
namespace v1 = autoenroll::events::v1;

using json_record::When;

// A JSON text kept in an event, or `empty` when there is none (or it does not parse:
// the API validated it before the event was written).
json Parsed(const std::string& text, json empty) {
  if (text.empty()) return empty;
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? empty : j;
}

// The record of the current version: created at version 1 (or when there was none).
template <typename Record>
Record Current(const RecordedEvent& r, const std::string& id, uint32_t version,
               const std::string& name, const std::string& description,
               const std::optional<Record>& old) {
  const std::string at = When(r.envelope);
  Record current;
  current.id = id;
  current.name = name;
  current.version = version;
  current.description = description;
  const bool first = version == 1 || !old || old->created_at.empty();
  current.created_at = first ? at : old->created_at;
  current.updated_at = at;
  current.last_position = r.position.ToString();
  return current;
}

// One version of a policy: the record of the policies table (without content) and the
// version's row (with it).
void PutPolicyVersion(ViewBatch& b, const RecordedEvent& r, const std::string& id,
                      uint32_t version, const std::string& name, const v1::PolicyContent& c,
                      const std::optional<PolicyRecord>& old) {
  PolicyRecord current = Current(r, id, version, name, c.description(), old);
  b.Put(PolicyRecord::kTable, id, current.Encode());
  PolicyVersionRecord row;
  row.id = id;
  row.name = name;
  row.version = version;
  row.description = c.description();
  row.apple_payloads = Parsed(c.apple_payloads_json(), json::array());
  row.android_config = Parsed(c.android_config_json(), json::object());
  row.sign = c.sign_apple_profile();
  row.at = current.updated_at;
  b.Put(PolicyVersionRecord::kTable, PolicyVersionKey(id, version), row.Encode());
}

void PutRuleSetVersion(ViewBatch& b, const RecordedEvent& r, const std::string& id,
                       uint32_t version, const std::string& name, const std::string& description,
                       const google::protobuf::RepeatedPtrField<v1::ComplianceRule>& rules,
                       const std::optional<RuleSetRecord>& old) {
  RuleSetRecord current = Current(r, id, version, name, description, old);
  b.Put(RuleSetRecord::kTable, id, current.Encode());
  RuleSetVersionRecord row;
  row.id = id;
  row.name = name;
  row.version = version;
  row.description = description;
  for (const auto& rule : rules) {
    row.rules.push_back({rule.condition(), rule.action(), rule.description()});
  }
  row.at = current.updated_at;
  b.Put(RuleSetVersionRecord::kTable, PolicyVersionKey(id, version), row.Encode());
}

// Drops a deleted policy / rule set and its versions.
template <typename Record>
Status DropNamed(ViewBatch& b, const std::string& id) {
  AE_ASSIGN_OR_RETURN(auto old, ReadPolicyRecord<Record>(b, id));
  if (!old) return Status::Ok();
  for (uint32_t v = 1; v <= old->version; ++v) {
    b.Delete(Record::kVersionsTable, PolicyVersionKey(id, v));
  }
  b.Delete(Record::kTable, id);
  return Status::Ok();
}

// The device's record, or a new one naming nothing.
Result<DevicePolicyRecord> LoadDevice(ViewBatch& b, const std::string& device_id) {
  AE_ASSIGN_OR_RETURN(auto d, ReadPolicyRecord<DevicePolicyRecord>(b, device_id));
  return d.value_or(DevicePolicyRecord{});
}

void PutDevice(ViewBatch& b, const std::string& device_id, const DevicePolicyRecord& d) {
  b.Put(DevicePolicyRecord::kTable, device_id, d.Encode());
}

// Moves the device to `id` in the usage index `index_cf` and in the member `field` of its
// record (policy_id or ruleset_id).
Status Use(ViewBatch& b, const std::string& device_id, std::string DevicePolicyRecord::*field,
           const std::string& index_cf, const std::string& id) {
  if (device_id.empty()) return Status::Ok();
  AE_ASSIGN_OR_RETURN(DevicePolicyRecord d, LoadDevice(b, device_id));
  const std::string before = d.*field;
  if (before == id) return Status::Ok();
  if (!before.empty()) b.Delete(index_cf, UsagePrefix(before) + device_id);
  if (!id.empty()) b.Put(index_cf, UsagePrefix(id) + device_id, "");
  d.*field = id;
  PutDevice(b, device_id, d);
  return Status::Ok();
}

// ---- policies ----

Status OnPolicyCreated(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.policy_created();
  AE_RETURN_IF_ERROR(DropNamed<PolicyRecord>(b, p.policy_id()));
  PutPolicyVersion(b, r, p.policy_id(), 1, p.name(), p.content(), std::nullopt);
  return Status::Ok();
}

Status OnPolicyUpdated(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.policy_updated();
  AE_ASSIGN_OR_RETURN(auto old, ReadPolicyRecord<PolicyRecord>(b, p.policy_id()));
  if (!old) return Status::Ok();
  PutPolicyVersion(b, r, p.policy_id(), p.version(), p.name(), p.content(), old);
  return Status::Ok();
}

Status OnPolicyDeleted(const RecordedEvent& r, ViewBatch& b) {
  return DropNamed<PolicyRecord>(b, r.envelope.policy_deleted().policy_id());
}

// ---- rule sets ----

Status OnRuleSetCreated(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.ruleset_created();
  AE_RETURN_IF_ERROR(DropNamed<RuleSetRecord>(b, p.ruleset_id()));
  PutRuleSetVersion(b, r, p.ruleset_id(), 1, p.name(), p.description(), p.rules(), std::nullopt);
  return Status::Ok();
}

Status OnRuleSetUpdated(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.ruleset_updated();
  AE_ASSIGN_OR_RETURN(auto old, ReadPolicyRecord<RuleSetRecord>(b, p.ruleset_id()));
  if (!old) return Status::Ok();
  PutRuleSetVersion(b, r, p.ruleset_id(), p.version(), p.name(), p.description(), p.rules(),
                    old);
  return Status::Ok();
}

Status OnRuleSetDeleted(const RecordedEvent& r, ViewBatch& b) {
  return DropNamed<RuleSetRecord>(b, r.envelope.ruleset_deleted().ruleset_id());
}

// ---- devices ----

Status OnDevicePolicyAssigned(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.device_policy_assigned();
  return Use(b, p.device_id(), &DevicePolicyRecord::policy_id, "policy_devices", p.policy_id());
}

Status OnDeviceRulesetAssigned(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.device_ruleset_assigned();
  return Use(b, p.device_id(), &DevicePolicyRecord::ruleset_id, "ruleset_devices",
             p.ruleset_id());
}

Status OnDeviceEnrolled(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.device_enrolled();
  AE_RETURN_IF_ERROR(
      Use(b, p.device_id(), &DevicePolicyRecord::policy_id, "policy_devices", p.policy_id()));
  AE_RETURN_IF_ERROR(Use(b, p.device_id(), &DevicePolicyRecord::ruleset_id, "ruleset_devices",
                         p.ruleset_id()));
  // A new enrollment starts from nothing handed to the device.
  AE_ASSIGN_OR_RETURN(auto d, ReadPolicyRecord<DevicePolicyRecord>(b, p.device_id()));
  if (!d) return Status::Ok();
  d->delivered.reset();
  d->acknowledged.reset();
  d->pending.clear();
  PutDevice(b, p.device_id(), *d);
  return Status::Ok();
}

Status OnDevicePolicyDelivered(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.device_policy_delivered();
  AE_ASSIGN_OR_RETURN(DevicePolicyRecord d, LoadDevice(b, p.device_id()));
  const PolicyHanded what{p.policy_id(), p.policy_version(), p.ruleset_id(),
                          p.ruleset_version()};
  PolicyHandedAt delivered;
  static_cast<PolicyHanded&>(delivered) = what;
  delivered.channel = p.channel();
  delivered.command_uuid = p.command_uuid();
  delivered.at = When(r.envelope);
  d.delivered = std::move(delivered);
  if (!p.command_uuid().empty()) d.pending[p.command_uuid()] = what;
  PutDevice(b, p.device_id(), d);
  return Status::Ok();
}

Status OnDevicePolicyAcknowledged(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.device_policy_acknowledged();
  AE_ASSIGN_OR_RETURN(auto d, ReadPolicyRecord<DevicePolicyRecord>(b, p.device_id()));
  if (!d) return Status::Ok();
  PolicyHandedAt ack;
  static_cast<PolicyHanded&>(ack) =
      PolicyHanded{p.policy_id(), p.policy_version(), p.ruleset_id(), p.ruleset_version()};
  ack.status = p.status();
  ack.error = p.error();
  ack.command_uuid = p.command_uuid();
  ack.at = When(r.envelope);
  if (p.status() == "Acknowledged") {
    d->acknowledged = std::move(ack);
    d->last_error.reset();
  } else {
    d->last_error = std::move(ack);
  }
  d->pending.erase(p.command_uuid());
  PutDevice(b, p.device_id(), *d);
  return Status::Ok();
}
}  // namespace

std::string PolicyVersionKey(const std::string& id, uint32_t version) {
  char v[16];
  std::snprintf(v, sizeof v, "%010u", version);
  return UsagePrefix(id) + v;
}

std::string UsagePrefix(const std::string& id) { return id + "/"; }

Status PoliciesProjector::Apply(const RecordedEvent& r, ViewBatch& b) {
  using E = events::Envelope;
  switch (r.envelope.payload_case()) {
    case E::kPolicyCreated: return OnPolicyCreated(r, b);
    case E::kPolicyUpdated: return OnPolicyUpdated(r, b);
    case E::kPolicyDeleted: return OnPolicyDeleted(r, b);
    case E::kRulesetCreated: return OnRuleSetCreated(r, b);
    case E::kRulesetUpdated: return OnRuleSetUpdated(r, b);
    case E::kRulesetDeleted: return OnRuleSetDeleted(r, b);
    case E::kDevicePolicyAssigned: return OnDevicePolicyAssigned(r, b);
    case E::kDeviceRulesetAssigned: return OnDeviceRulesetAssigned(r, b);
    case E::kDeviceEnrolled: return OnDeviceEnrolled(r, b);
    case E::kDevicePolicyDelivered: return OnDevicePolicyDelivered(r, b);
    case E::kDevicePolicyAcknowledged: return OnDevicePolicyAcknowledged(r, b);
    default: return Status::Ok();
  }
}

}  // namespace ae::proj
