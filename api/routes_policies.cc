// Policies and rule sets (API.md "Policies and rule sets"): named, versioned content that
// devices reference. Decided by domain/policies, read from the policies views
// (projections/policies_projector.h). The id of a policy or rule set is its lower-cased
// name; `{id}` in a path may also be the name.

#include <algorithm>

#include "api/history.h"
#include "api/http_errors.h"
#include "api/policy_delivery.h"
#include "api/request_body.h"
#include "api/server.h"
#include "domain/policies/policies.h"
#include "domain/users/users.h"
#include "projections/policies_projector.h"
#include "projections/policy_records.h"

namespace ae::api {

namespace pol = domain::policies;
namespace users = domain::users;
namespace pb = autoenroll::events::v1;
using nlohmann::json;

namespace {

constexpr size_t kMaxListedDevices = 100;

// The current record of a policy / rule set (Record) from its bytes.
template <typename Record>
Result<proj::NamedRecord> DecodeCurrent(std::string_view bytes) {
  AE_ASSIGN_OR_RETURN(Record r, Record::Decode(bytes));
  return proj::NamedRecord(std::move(r));
}

// The current record of policy / rule set (Record) `id`; nullopt when there is none.
template <typename Record>
Result<std::optional<proj::NamedRecord>> ReadCurrent(App& app, const std::string& id) {
  AE_ASSIGN_OR_RETURN(auto r, proj::ReadPolicyRecord<Record>(app.views(), id));
  if (!r) return std::optional<proj::NamedRecord>();
  return std::optional<proj::NamedRecord>(std::move(*r));
}

// The row of a version (Version: PolicyVersionRecord or RuleSetVersionRecord) as JSON, its
// stored keys; null when there is none.
template <typename Version>
Result<json> ReadVersionJson(App& app, const std::string& id, uint32_t version) {
  AE_ASSIGN_OR_RETURN(auto row,
                      proj::ReadPolicyRecord<Version>(app.views(), proj::PolicyVersionKey(id, version)));
  return row ? row->ToJson() : json();
}

// What a route serves: "policy" or "ruleset" with its tables, records and codes.
struct Kind {
  std::string kind;      // policy | ruleset (stream type and error code prefix)
  std::string cf;        // policies | rulesets
  std::string usage_cf;  // policy_devices | ruleset_devices
  std::string label;     // "policy" | "rule set" in messages
  Result<proj::NamedRecord> (*decode_current)(std::string_view bytes);
  Result<std::optional<proj::NamedRecord>> (*read_current)(App& app, const std::string& id);
  Result<json> (*read_version)(App& app, const std::string& id, uint32_t version);
};
const Kind kPolicy{"policy",
                   proj::PolicyRecord::kTable,
                   "policy_devices",
                   "policy",
                   &DecodeCurrent<proj::PolicyRecord>,
                   &ReadCurrent<proj::PolicyRecord>,
                   &ReadVersionJson<proj::PolicyVersionRecord>};
const Kind kRuleSet{"ruleset",
                    proj::RuleSetRecord::kTable,
                    "ruleset_devices",
                    "rule set",
                    &DecodeCurrent<proj::RuleSetRecord>,
                    &ReadCurrent<proj::RuleSetRecord>,
                    &ReadVersionJson<proj::RuleSetVersionRecord>};

// The id a path names (the id, or the name), when it is one.
Result<std::string> PathId(const Kind& k, const std::string& text) {
  if (!users::ValidateRecordName(text).ok()) {
    return NotFound(k.kind + ".not_found", "no " + k.label + " " + text);
  }
  return users::RecordKey(text);
}

Result<proj::NamedRecord> LoadCurrent(App& app, const Kind& k, const std::string& id) {
  AE_ASSIGN_OR_RETURN(auto rec, k.read_current(app, id));
  if (!rec) return NotFound(k.kind + ".not_found", "no " + k.label + " " + id);
  return std::move(*rec);
}

// The version `?version=N` names, or the current one.
Result<uint32_t> VersionParam(const Call& call, const Kind& k, uint32_t current) {
  std::string text = call.Param("version");
  if (text.empty()) return current;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || v > UINT32_MAX) {
      return InvalidArgument("request.bad_param", "version must be a positive number", "version");
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v == 0 || v > UINT32_MAX) {
    return InvalidArgument("request.bad_param", "version must be a positive number", "version");
  }
  if (v > current) {
    return NotFound(k.kind + ".version_not_found",
                    "this " + k.label + " has versions 1 to " + std::to_string(current));
  }
  return static_cast<uint32_t>(v);
}

// A version row as the API answers it.
json RenderVersion(const json& row, const proj::NamedRecord& current) {
  json out = row;
  out.erase("at");
  out["updated_at"] = row.value("at", "");
  out["created_at"] = current.created_at;
  out["current_version"] = current.version;
  return out;
}

Status CheckKnownFields(const json& body, std::initializer_list<const char*> known) {
  for (const auto& [key, value] : body.items()) {
    (void)value;
    if (std::find_if(known.begin(), known.end(), [&](const char* k) { return key == k; }) ==
        known.end()) {
      std::string list;
      for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
      return InvalidArgument("request.unknown_field", "unknown field " + key + " (" + list + ")",
                             key);
    }
  }
  return Status::Ok();
}

// The name of a body: required on POST, the current name when absent on PUT.
Result<std::string> NameOf(const json& body, const std::string& current) {
  AE_ASSIGN_OR_RETURN(std::string name, StringField(body, "name", current.empty(), 128));
  if (name.empty()) name = current;
  AE_RETURN_IF_ERROR(users::ValidateRecordName(name));
  return name;
}

Result<pb::PolicyContent> PolicyContentOf(const json& body) {
  AE_RETURN_IF_ERROR(CheckKnownFields(body, {"name", "description", "apple_payloads",
                                             "android_config", "sign"}));
  pb::PolicyContent c;
  AE_ASSIGN_OR_RETURN(std::string description, StringField(body, "description", false, 1024));
  c.set_description(description);
  json payloads = body.contains("apple_payloads") && !body["apple_payloads"].is_null()
                      ? body["apple_payloads"]
                      : json::array();
  AE_RETURN_IF_ERROR(pol::ValidateApplePayloads(payloads));
  json config = body.contains("android_config") && !body["android_config"].is_null()
                    ? body["android_config"]
                    : json::object();
  AE_RETURN_IF_ERROR(pol::ValidateAndroidConfig(config));
  AE_ASSIGN_OR_RETURN(bool sign, BoolField(body, "sign", false));
  // Dumped with sorted keys (nlohmann's objects are ordered maps): the same content is
  // the same text, so an identical PUT decides nothing.
  c.set_apple_payloads_json(payloads.empty() ? "" : payloads.dump());
  c.set_android_config_json(config.empty() ? "" : config.dump());
  c.set_sign_apple_profile(sign);
  return c;
}

struct RuleSetBody {
  std::string description;
  std::vector<pb::ComplianceRule> rules;
};

Result<RuleSetBody> RuleSetBodyOf(const json& body) {
  AE_RETURN_IF_ERROR(CheckKnownFields(body, {"name", "description", "rules"}));
  RuleSetBody out;
  AE_ASSIGN_OR_RETURN(out.description, StringField(body, "description", false, 1024));
  json rules = body.contains("rules") && !body["rules"].is_null() ? body["rules"] : json::array();
  if (!rules.is_array()) {
    return InvalidArgument("ruleset.invalid_rule", "rules must be an array", "rules");
  }
  for (size_t i = 0; i < rules.size(); ++i) {
    const std::string at = "rules[" + std::to_string(i) + "]";
    if (!rules[i].is_object()) {
      return InvalidArgument("ruleset.invalid_rule", at + " must be an object", at);
    }
    pb::ComplianceRule r;
    for (const char* f : {"condition", "action", "description"}) {
      auto it = rules[i].find(f);
      if (it == rules[i].end() || it->is_null()) continue;
      if (!it->is_string()) {
        return InvalidArgument("ruleset.invalid_rule", at + "." + f + " must be a string",
                               at + "." + f);
      }
    }
    r.set_condition(rules[i].value("condition", ""));
    r.set_action(rules[i].value("action", ""));
    r.set_description(rules[i].value("description", ""));
    out.rules.push_back(std::move(r));
  }
  AE_RETURN_IF_ERROR(pol::ValidateRules(out.rules));
  return out;
}

// The current version as the API answers it (the version's content with the record's times).
Result<json> RenderCurrent(App& app, const Kind& k, const proj::NamedRecord& current,
                           uint32_t version) {
  AE_ASSIGN_OR_RETURN(json row, k.read_version(app, current.id, version));
  if (!row.is_object()) {
    return NotFound(k.kind + ".version_not_found",
                    "this " + k.label + " has no version " + std::to_string(version));
  }
  return RenderVersion(row, current);
}

// The devices using `id`: the first kMaxListedDevices, and how many there are.
Result<std::pair<json, uint64_t>> DevicesUsing(App& app, const Kind& k, const std::string& id) {
  json listed = json::array();
  uint64_t count = 0;
  const std::string prefix = proj::UsagePrefix(id);
  AE_RETURN_IF_ERROR(app.views().Scan(k.usage_cf, prefix, "", [&](std::string_view key,
                                                                  std::string_view) {
    if (listed.size() < kMaxListedDevices) listed.push_back(std::string(key.substr(prefix.size())));
    ++count;
    return true;
  }));
  return std::make_pair(std::move(listed), count);
}

Reply Answer(int status, json body, const LogPosition& position) {
  Reply r = Reply::Json(status, std::move(body));
  r.position = position;
  return r;
}

template <typename State>
Result<domain::CommandResult> Execute(App& app, const Kind& k, const std::string& id,
                                      const domain::Decider<State>& decider, const Call& call) {
  return app.bus().Execute(StreamId(k.kind, id), decider, call.Context());
}

void AddKindRoutes(Server& server, const Kind& k) {
  App& app = server.app();
  const std::string base = "/v1/" + k.cf;
  const bool policy = k.kind == "policy";

  server.Route("POST", base, base, Access::kDeviceManager,
               [&server, &app, k, policy](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(json body, call.Json());
    AE_ASSIGN_OR_RETURN(std::string name, NameOf(body, ""));
    const std::string id = users::RecordKey(name);
    domain::CommandResult res;
    if (policy) {
      AE_ASSIGN_OR_RETURN(pb::PolicyContent content, PolicyContentOf(body));
      AE_ASSIGN_OR_RETURN(res, Execute(app, k, id,
                                       pol::PolicyDecider(pol::CreatePolicy{id, name, content}),
                                       call));
    } else {
      AE_ASSIGN_OR_RETURN(RuleSetBody rs, RuleSetBodyOf(body));
      AE_ASSIGN_OR_RETURN(res, Execute(app, k, id,
                                       pol::RuleSetDecider(pol::CreateRuleSet{
                                           id, name, rs.description, rs.rules}),
                                       call));
    }
    AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
    AE_ASSIGN_OR_RETURN(proj::NamedRecord current, LoadCurrent(app, k, id));
    AE_ASSIGN_OR_RETURN(json out, RenderCurrent(app, k, current, current.version));
    return Answer(201, std::move(out), res.position);
  });

  server.Route("GET", base, base, Access::kDeviceManager, [&app, k](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(Page page, ParsePage(call));
    json items = json::array();
    std::optional<std::string> next;
    std::string last;
    AE_RETURN_IF_ERROR(app.views().Scan(k.cf, "", page.cursor, [&](std::string_view key,
                                                                   std::string_view v) {
      if (!page.cursor.empty() && key == page.cursor) return true;  // cursor is exclusive
      if (items.size() == page.limit) {
        next = last;
        return false;
      }
      auto rec = k.decode_current(v);
      if (rec.ok()) {
        json j = rec->ToJson();
        j.erase("last_position");
        items.push_back(std::move(j));
      }
      last = std::string(key);
      return true;
    }));
    return Reply::Json(200, PageJson(std::move(items), next));
  });

  server.Route("GET", base + "/([^/]+)", base + "/{id}", Access::kDeviceManager,
               [&app, k](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(std::string id, PathId(k, call.req.matches[1]));
    AE_ASSIGN_OR_RETURN(proj::NamedRecord current, LoadCurrent(app, k, id));
    AE_ASSIGN_OR_RETURN(uint32_t version, VersionParam(call, k, current.version));
    AE_ASSIGN_OR_RETURN(json out, RenderCurrent(app, k, current, version));
    AE_ASSIGN_OR_RETURN(auto using_it, DevicesUsing(app, k, id));
    out["device_count"] = using_it.second;
    return Reply::Json(200, out);
  });

  server.Route("GET", base + "/([^/]+)/history", base + "/{id}/history", Access::kDeviceManager,
               [&app, k](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(std::string id, PathId(k, call.req.matches[1]));
    AE_ASSIGN_OR_RETURN(json h, History(app, {StreamId(k.kind, id)}));
    if (h["items"].empty()) return NotFound(k.kind + ".not_found", "no " + k.label + " " + id);
    h["id"] = id;
    return Reply::Json(200, h);
  });

  server.Route("PUT", base + "/([^/]+)", base + "/{id}", Access::kDeviceManager,
               [&server, &app, k, policy](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(std::string id, PathId(k, call.req.matches[1]));
    AE_ASSIGN_OR_RETURN(proj::NamedRecord current, LoadCurrent(app, k, id));
    AE_ASSIGN_OR_RETURN(json body, call.Json());
    AE_ASSIGN_OR_RETURN(std::string name,
                        NameOf(body, current.name.empty() ? id : current.name));
    domain::CommandResult res;
    if (policy) {
      AE_ASSIGN_OR_RETURN(pb::PolicyContent content, PolicyContentOf(body));
      AE_ASSIGN_OR_RETURN(res, Execute(app, k, id,
                                       pol::PolicyDecider(pol::UpdatePolicy{id, name, content}),
                                       call));
    } else {
      AE_ASSIGN_OR_RETURN(RuleSetBody rs, RuleSetBodyOf(body));
      AE_ASSIGN_OR_RETURN(res, Execute(app, k, id,
                                       pol::RuleSetDecider(pol::UpdateRuleSet{
                                           id, name, rs.description, rs.rules}),
                                       call));
    }
    AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
    AE_ASSIGN_OR_RETURN(current, LoadCurrent(app, k, id));
    AE_ASSIGN_OR_RETURN(json out, RenderCurrent(app, k, current, current.version));
    out["changed"] = !res.events.empty();
    return Answer(200, std::move(out), res.position);
  });

  server.Route("DELETE", base + "/([^/]+)", base + "/{id}", Access::kDeviceManager,
               [&server, &app, k, policy](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(std::string id, PathId(k, call.req.matches[1]));
    AE_RETURN_IF_ERROR(LoadCurrent(app, k, id).status());
    AE_ASSIGN_OR_RETURN(auto using_it, DevicesUsing(app, k, id));
    if (using_it.second > 0) {
      Status s = FailedPrecondition(k.kind + ".in_use",
                                    std::to_string(using_it.second) + " device(s) use this " +
                                        k.label + "; assign them another one first");
      json body = ErrorBody(s);
      body["devices"] = using_it.first;
      body["device_count"] = using_it.second;
      return Reply::Json(409, std::move(body));
    }
    domain::CommandResult res;
    if (policy) {
      AE_ASSIGN_OR_RETURN(res, Execute(app, k, id, pol::PolicyDecider(pol::DeletePolicy{id, using_it.second}),
                                       call));
    } else {
      AE_ASSIGN_OR_RETURN(res, Execute(app, k, id,
                                       pol::RuleSetDecider(pol::DeleteRuleSet{id, using_it.second}), call));
    }
    AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
    Reply r;
    r.status = 204;
    r.raw = "";
    r.content_type = "text/plain";
    r.position = res.position;
    return r;
  });
}

}  // namespace

void AddPolicyRoutes(Server& server) {
  AddKindRoutes(server, kPolicy);
  AddKindRoutes(server, kRuleSet);
  App& app = server.app();
  server.Route("GET", "/v1/mdm/signing-certificate", "/v1/mdm/signing-certificate",
               Access::kDeviceManager, [&app](Call&) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(std::string pem, SigningCertificatePem(app));
    Reply r;
    r.raw = std::move(pem);
    r.content_type = "application/x-pem-file";
    return r;
  });
}

}  // namespace ae::api
