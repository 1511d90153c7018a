#include "projections/policy_records.h"

#include "projections/record_fields.h"

namespace ae::proj {

namespace {
using nlohmann::json;
using namespace record_fields;

void ReadNamed(const json& j, NamedRecord& r) {
  r.id = Str(j, "id");
  r.name = Str(j, "name");
  r.version = Number<uint32_t>(j, "version", 1u);
  r.description = Str(j, "description");
  r.created_at = Str(j, "created_at");
  r.updated_at = Str(j, "updated_at");
  r.last_position = Str(j, "last_position");
}

json HandedJson(const PolicyHanded& h) {
  return {{"policy_id", h.policy_id},
          {"policy_version", h.policy_version},
          {"ruleset_id", h.ruleset_id},
          {"ruleset_version", h.ruleset_version}};
}
PolicyHanded ReadHanded(const json& j) {
  return {Str(j, "policy_id"), Number<uint32_t>(j, "policy_version"), Str(j, "ruleset_id"),
          Number<uint32_t>(j, "ruleset_version")};
}

json HandedAtJson(const PolicyHandedAt& h) {
  json j = HandedJson(h);
  if (h.channel) j["channel"] = *h.channel;
  if (h.status) j["status"] = *h.status;
  if (h.error) j["error"] = *h.error;
  j["command_uuid"] = h.command_uuid;
  j["at"] = h.at;
  return j;
}
std::optional<PolicyHandedAt> ReadHandedAt(const json& j, const char* key) {
  const json* o = Object(j, key);
  if (!o) return std::nullopt;
  PolicyHandedAt h;
  static_cast<PolicyHanded&>(h) = ReadHanded(*o);
  h.channel = OptStr(*o, "channel");
  h.status = OptStr(*o, "status");
  h.error = OptStr(*o, "error");
  h.command_uuid = Str(*o, "command_uuid");
  h.at = Str(*o, "at");
  return h;
}
}  // namespace

// ---- policies and rule sets ----

json NamedRecord::ToJson() const {
  return {{"id", id},
          {"name", name},
          {"version", version},
          {"description", description},
          {"created_at", created_at},
          {"updated_at", updated_at},
          {"last_position", last_position}};
}

std::string NamedRecord::Encode() const { return ToJson().dump(); }

Result<PolicyRecord> PolicyRecord::FromJson(const json& j) {
  return ReadRecord<PolicyRecord>(kTable, j, [&](PolicyRecord& p) { ReadNamed(j, p); });
}

Result<PolicyRecord> PolicyRecord::Decode(std::string_view bytes) {
  return DecodeRecord<PolicyRecord>(bytes);
}

Result<RuleSetRecord> RuleSetRecord::FromJson(const json& j) {
  return ReadRecord<RuleSetRecord>(kTable, j, [&](RuleSetRecord& r) { ReadNamed(j, r); });
}

Result<RuleSetRecord> RuleSetRecord::Decode(std::string_view bytes) {
  return DecodeRecord<RuleSetRecord>(bytes);
}

// ---- policy versions ----

json PolicyVersionRecord::ToJson() const {
  return {{"id", id},
          {"name", name},
          {"version", version},
          {"description", description},
          {"apple_payloads", apple_payloads},
          {"android_config", android_config},
          {"sign", sign},
          {"at", at}};
}

std::string PolicyVersionRecord::Encode() const { return ToJson().dump(); }

Result<PolicyVersionRecord> PolicyVersionRecord::FromJson(const json& j) {
  return ReadRecord<PolicyVersionRecord>(kTable, j, [&](PolicyVersionRecord& v) {
    v.id = Str(j, "id");
    v.name = Str(j, "name");
    v.version = Number<uint32_t>(j, "version", 1u);
    v.description = Str(j, "description");
    if (const json* p = Array(j, "apple_payloads")) v.apple_payloads = *p;
    if (const json* c = Object(j, "android_config")) v.android_config = *c;
    v.sign = Bool(j, "sign");
    v.at = Str(j, "at");
  });
}

Result<PolicyVersionRecord> PolicyVersionRecord::Decode(std::string_view bytes) {
  return DecodeRecord<PolicyVersionRecord>(bytes);
}

// ---- rule set versions ----

json RuleSetVersionRecord::RulesJson() const {
  json out = json::array();
  for (const auto& r : rules) {
    out.push_back({{"condition", r.condition}, {"action", r.action},
                   {"description", r.description}});
  }
  return out;
}

json RuleSetVersionRecord::ToJson() const {
  return {{"id", id},
          {"name", name},
          {"version", version},
          {"description", description},
          {"rules", RulesJson()},
          {"at", at}};
}

std::string RuleSetVersionRecord::Encode() const { return ToJson().dump(); }

Result<RuleSetVersionRecord> RuleSetVersionRecord::FromJson(const json& j) {
  return ReadRecord<RuleSetVersionRecord>(kTable, j, [&](RuleSetVersionRecord& v) {
    v.id = Str(j, "id");
    v.name = Str(j, "name");
    v.version = Number<uint32_t>(j, "version", 1u);
    v.description = Str(j, "description");
    if (const json* rules = Array(j, "rules")) {
      for (const auto& r : *rules) {
        (void)r.get_ref<const json::object_t&>();  // throws when it is not an object
        v.rules.push_back({Str(r, "condition"), Str(r, "action"), Str(r, "description")});
      }
    }
    v.at = Str(j, "at");
  });
}

Result<RuleSetVersionRecord> RuleSetVersionRecord::Decode(std::string_view bytes) {
  return DecodeRecord<RuleSetVersionRecord>(bytes);
}

// ---- what each device was handed ----

json DevicePolicyRecord::ToJson() const {
  json j = {{"policy_id", policy_id}, {"ruleset_id", ruleset_id}};
  if (delivered) j["delivered"] = HandedAtJson(*delivered);
  if (acknowledged) j["acknowledged"] = HandedAtJson(*acknowledged);
  if (last_error) j["last_error"] = HandedAtJson(*last_error);
  if (!pending.empty()) {
    json p = json::object();
    for (const auto& [uuid, what] : pending) p[uuid] = HandedJson(what);
    j["pending"] = std::move(p);
  }
  return j;
}

std::string DevicePolicyRecord::Encode() const { return ToJson().dump(); }

Result<DevicePolicyRecord> DevicePolicyRecord::FromJson(const json& j) {
  return ReadRecord<DevicePolicyRecord>(kTable, j, [&](DevicePolicyRecord& d) {
    d.policy_id = Str(j, "policy_id");
    d.ruleset_id = Str(j, "ruleset_id");
    d.delivered = ReadHandedAt(j, "delivered");
    d.acknowledged = ReadHandedAt(j, "acknowledged");
    d.last_error = ReadHandedAt(j, "last_error");
    if (const json* p = Object(j, "pending")) {
      for (auto it = p->begin(); it != p->end(); ++it) {
        (void)it->get_ref<const json::object_t&>();  // throws when it is not an object
        d.pending[it.key()] = ReadHanded(*it);
      }
    }
  });
}

Result<DevicePolicyRecord> DevicePolicyRecord::Decode(std::string_view bytes) {
  return DecodeRecord<DevicePolicyRecord>(bytes);
}

}  // namespace ae::proj
