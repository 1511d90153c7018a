#include "projections/policies_projector.h"

#include <google/protobuf/util/time_util.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "events/base/clock.h"
#include "projections/json_record.h"

namespace ae::proj {

namespace {
using nlohmann::json;
namespace v1 = autoenroll::events::v1;

using json_record::Load;
using json_record::When;

// A JSON text kept in an event, or `empty` when there is none (or it does not parse:
// the API validated it before the event was written).
json Parsed(const std::string& text, json empty) {
  if (text.empty()) return empty;
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? empty : j;
}

json RulesJson(const google::protobuf::RepeatedPtrField<v1::ComplianceRule>& rules) {
  json out = json::array();
  for (const auto& r : rules) {
    out.push_back({{"condition", r.condition()}, {"action", r.action()},
                   {"description", r.description()}});
  }
  return out;
}

// One version of a policy: the record of the policies table (without content) and the
// version's row (with it).
void PutPolicyVersion(ViewBatch& b, const RecordedEvent& r, const std::string& id,
                      uint32_t version, const std::string& name, const v1::PolicyContent& c,
                      const json& old) {
  const std::string at = When(r.envelope);
  json current = {{"id", id},
                  {"name", name},
                  {"version", version},
                  {"description", c.description()},
                  {"created_at", version == 1 || !old.is_object() ? at
                                                                  : old.value("created_at", at)},
                  {"updated_at", at},
                  {"last_position", r.position.ToString()}};
  b.Put("policies", id, current.dump());
  json row = {{"id", id},
              {"name", name},
              {"version", version},
              {"description", c.description()},
              {"apple_payloads", Parsed(c.apple_payloads_json(), json::array())},
              {"android_config", Parsed(c.android_config_json(), json::object())},
              {"sign", c.sign_apple_profile()},
              {"at", at}};
  b.Put("policy_versions", PolicyVersionKey(id, version), row.dump());
}

void PutRuleSetVersion(ViewBatch& b, const RecordedEvent& r, const std::string& id,
                       uint32_t version, const std::string& name, const std::string& description,
                       const google::protobuf::RepeatedPtrField<v1::ComplianceRule>& rules,
                       const json& old) {
  const std::string at = When(r.envelope);
  json current = {{"id", id},
                  {"name", name},
                  {"version", version},
                  {"description", description},
                  {"created_at", version == 1 || !old.is_object() ? at
                                                                  : old.value("created_at", at)},
                  {"updated_at", at},
                  {"last_position", r.position.ToString()}};
  b.Put("rulesets", id, current.dump());
  json row = {{"id", id},          {"name", name},         {"version", version},
              {"description", description}, {"rules", RulesJson(rules)}, {"at", at}};
  b.Put("ruleset_versions", PolicyVersionKey(id, version), row.dump());
}

// Drops a deleted policy / rule set and its versions.
Status DropNamed(ViewBatch& b, const std::string& cf, const std::string& versions_cf,
                 const std::string& id) {
  AE_ASSIGN_OR_RETURN(json old, Load(b, cf, id));
  if (!old.is_object()) return Status::Ok();
  uint32_t n = old.value("version", 1u);
  for (uint32_t v = 1; v <= n; ++v) b.Delete(versions_cf, PolicyVersionKey(id, v));
  b.Delete(cf, id);
  return Status::Ok();
}

// Moves the device to `id` in the usage index of `field` ("policy_id" or "ruleset_id").
Status Use(ViewBatch& b, const std::string& device_id, const std::string& field,
           const std::string& index_cf, const std::string& id) {
  if (device_id.empty()) return Status::Ok();
  AE_ASSIGN_OR_RETURN(json d, Load(b, "device_policies", device_id));
  if (!d.is_object()) d = {{"policy_id", ""}, {"ruleset_id", ""}};
  const std::string before = d.value(field, "");
  if (before == id) return Status::Ok();
  if (!before.empty()) b.Delete(index_cf, UsagePrefix(before) + device_id);
  if (!id.empty()) b.Put(index_cf, UsagePrefix(id) + device_id, "");
  d[field] = id;
  b.Put("device_policies", device_id, d.dump());
  return Status::Ok();
}

json DeliveredJson(const std::string& policy_id, uint32_t policy_version,
                   const std::string& ruleset_id, uint32_t ruleset_version) {
  return {{"policy_id", policy_id}, {"policy_version", policy_version},
          {"ruleset_id", ruleset_id}, {"ruleset_version", ruleset_version}};
}
}  // namespace

std::string PolicyVersionKey(const std::string& id, uint32_t version) {
  char v[16];
  std::snprintf(v, sizeof v, "%010u", version);
  return UsagePrefix(id) + v;
}

std::string UsagePrefix(const std::string& id) { return id + "/"; }

Status PoliciesProjector::Apply(const RecordedEvent& r, ViewBatch& b) {
  const events::Envelope& e = r.envelope;
  switch (e.payload_case()) {
    case events::Envelope::kPolicyCreated: {
      const auto& p = e.policy_created();
      AE_RETURN_IF_ERROR(DropNamed(b, "policies", "policy_versions", p.policy_id()));
      PutPolicyVersion(b, r, p.policy_id(), 1, p.name(), p.content(), json());
      return Status::Ok();
    }
    case events::Envelope::kPolicyUpdated: {
      const auto& p = e.policy_updated();
      AE_ASSIGN_OR_RETURN(json old, Load(b, "policies", p.policy_id()));
      if (!old.is_object()) return Status::Ok();
      PutPolicyVersion(b, r, p.policy_id(), p.version(), p.name(), p.content(), old);
      return Status::Ok();
    }
    case events::Envelope::kPolicyDeleted:
      return DropNamed(b, "policies", "policy_versions", e.policy_deleted().policy_id());
    case events::Envelope::kRulesetCreated: {
      const auto& p = e.ruleset_created();
      AE_RETURN_IF_ERROR(DropNamed(b, "rulesets", "ruleset_versions", p.ruleset_id()));
      PutRuleSetVersion(b, r, p.ruleset_id(), 1, p.name(), p.description(), p.rules(), json());
      return Status::Ok();
    }
    case events::Envelope::kRulesetUpdated: {
      const auto& p = e.ruleset_updated();
      AE_ASSIGN_OR_RETURN(json old, Load(b, "rulesets", p.ruleset_id()));
      if (!old.is_object()) return Status::Ok();
      PutRuleSetVersion(b, r, p.ruleset_id(), p.version(), p.name(), p.description(), p.rules(),
                        old);
      return Status::Ok();
    }
    case events::Envelope::kRulesetDeleted:
      return DropNamed(b, "rulesets", "ruleset_versions", e.ruleset_deleted().ruleset_id());
    case events::Envelope::kDevicePolicyAssigned: {
      const auto& p = e.device_policy_assigned();
      return Use(b, p.device_id(), "policy_id", "policy_devices", p.policy_id());
    }
    case events::Envelope::kDeviceRulesetAssigned: {
      const auto& p = e.device_ruleset_assigned();
      return Use(b, p.device_id(), "ruleset_id", "ruleset_devices", p.ruleset_id());
    }
    case events::Envelope::kDeviceEnrolled: {
      const auto& p = e.device_enrolled();
      AE_RETURN_IF_ERROR(Use(b, p.device_id(), "policy_id", "policy_devices", p.policy_id()));
      AE_RETURN_IF_ERROR(Use(b, p.device_id(), "ruleset_id", "ruleset_devices", p.ruleset_id()));
      // A new enrollment starts from nothing handed to the device.
      AE_ASSIGN_OR_RETURN(json d, Load(b, "device_policies", p.device_id()));
      if (!d.is_object()) return Status::Ok();
      d.erase("delivered");
      d.erase("acknowledged");
      d.erase("pending");
      b.Put("device_policies", p.device_id(), d.dump());
      return Status::Ok();
    }
    case events::Envelope::kDevicePolicyDelivered: {
      const auto& p = e.device_policy_delivered();
      AE_ASSIGN_OR_RETURN(json d, Load(b, "device_policies", p.device_id()));
      if (!d.is_object()) d = {{"policy_id", ""}, {"ruleset_id", ""}};
      json what = DeliveredJson(p.policy_id(), p.policy_version(), p.ruleset_id(),
                                p.ruleset_version());
      json delivered = what;
      delivered["channel"] = p.channel();
      delivered["command_uuid"] = p.command_uuid();
      delivered["at"] = When(e);
      d["delivered"] = delivered;
      if (!p.command_uuid().empty()) d["pending"][p.command_uuid()] = what;
      b.Put("device_policies", p.device_id(), d.dump());
      return Status::Ok();
    }
    case events::Envelope::kDevicePolicyAcknowledged: {
      const auto& p = e.device_policy_acknowledged();
      AE_ASSIGN_OR_RETURN(json d, Load(b, "device_policies", p.device_id()));
      if (!d.is_object()) return Status::Ok();
      json ack = DeliveredJson(p.policy_id(), p.policy_version(), p.ruleset_id(),
                               p.ruleset_version());
      ack["status"] = p.status();
      ack["error"] = p.error();
      ack["command_uuid"] = p.command_uuid();
      ack["at"] = When(e);
      if (p.status() == "Acknowledged") {
        d["acknowledged"] = ack;
        d.erase("last_error");
      } else {
        d["last_error"] = ack;
      }
      if (d.contains("pending") && d["pending"].is_object()) {
        d["pending"].erase(p.command_uuid());
        if (d["pending"].empty()) d.erase("pending");
      }
      b.Put("device_policies", p.device_id(), d.dump());
      return Status::Ok();
    }
    default:
      return Status::Ok();
  }
}

}  // namespace ae::proj
