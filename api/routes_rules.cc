// Enrollment rules (/v1/rules) and their dry run against the log's history.

#include <algorithm>
#include <cctype>

#include "adapters/assignment/rule_dry_run.h"
#include "api/lookup.h"
#include "api/routes_rules.h"
#include "api/rules_view.h"
#include "api/server.h"
#include "domain/rules/rules.h"
#include "events/base/crypto.h"
#include "projections/as_of.h"
#include "projections/rules_records.h"

namespace ae::api {

namespace rules = domain::rules;
namespace users = domain::users;
namespace pb = autoenroll::events::v1;
using nlohmann::json;

namespace {

constexpr size_t kMaxListItems = 100;
constexpr size_t kMaxDryRunLimit = 1000;

bool ValidRuleId(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
  });
}

// A string list field of `when` (absent: empty).
Status StringList(const json& when, const char* name,
                  google::protobuf::RepeatedPtrField<std::string>* out) {
  auto it = when.find(name);
  const std::string field = std::string("when.") + name;
  if (it == when.end() || it->is_null()) return Status::Ok();
  if (!it->is_array() || it->size() > kMaxListItems) {
    return InvalidArgument("request.bad_field",
                           field + " must be a list of at most 100 strings", field);
  }
  for (const auto& v : *it) {
    if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 128) {
      return InvalidArgument("request.bad_field",
                             field + " must hold strings of 1 to 128 characters", field);
    }
    AE_RETURN_IF_ERROR(CheckText(v.get<std::string>(), field.c_str()));
    out->Add(v.get<std::string>());
  }
  return Status::Ok();
}

// A string field of `obj` (absent or null: ""), named `prefix.name` in refusals.
Result<std::string> Str(const json& obj, const char* prefix, const char* name) {
  auto it = obj.find(name);
  const std::string field = std::string(prefix) + "." + name;
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string() || it->get<std::string>().size() > 128) {
    return InvalidArgument("request.bad_field", field + " must be a string of at most 128 "
                                                        "characters", field);
  }
  AE_RETURN_IF_ERROR(CheckText(it->get<std::string>(), field.c_str()));
  return it->get<std::string>();
}

Result<pb::RuleCondition> ParseCondition(const json& when) {
  pb::RuleCondition c;
  if (when.is_null()) return c;
  if (!when.is_object()) {
    return InvalidArgument("request.bad_field", "when must be an object", "when");
  }
  static const char* kFields[] = {"source",       "account_id", "models",    "os",
                                  "serial_prefix", "order_number", "knox_tags", "reseller",
                                  "device_family", "profile_names"};
  for (const auto& [k, v] : when.items()) {
    if (std::find_if(std::begin(kFields), std::end(kFields),
                     [&](const char* f) { return k == f; }) == std::end(kFields)) {
      return InvalidArgument("request.unknown_field", "unknown field when." + k, "when." + k);
    }
  }
  AE_ASSIGN_OR_RETURN(*c.mutable_source(), Str(when, "when", "source"));
  AE_ASSIGN_OR_RETURN(*c.mutable_account_id(), Str(when, "when", "account_id"));
  AE_RETURN_IF_ERROR(StringList(when, "models", c.mutable_models()));
  AE_ASSIGN_OR_RETURN(*c.mutable_os(), Str(when, "when", "os"));
  AE_ASSIGN_OR_RETURN(*c.mutable_serial_prefix(), Str(when, "when", "serial_prefix"));
  AE_ASSIGN_OR_RETURN(*c.mutable_order_number(), Str(when, "when", "order_number"));
  AE_RETURN_IF_ERROR(StringList(when, "knox_tags", c.mutable_knox_tags()));
  AE_ASSIGN_OR_RETURN(*c.mutable_reseller(), Str(when, "when", "reseller"));
  AE_ASSIGN_OR_RETURN(*c.mutable_device_family(), Str(when, "when", "device_family"));
  AE_RETURN_IF_ERROR(StringList(when, "profile_names", c.mutable_profile_names()));
  return c;
}

json RenderCondition(const pb::RuleCondition& c) {
  json out = json::object();
  auto str = [&](const char* name, const std::string& v) {
    if (!v.empty()) out[name] = v;
  };
  auto list = [&](const char* name, const auto& v) {
    if (!v.empty()) out[name] = std::vector<std::string>(v.begin(), v.end());
  };
  str("source", c.source());
  str("account_id", c.account_id());
  list("models", c.models());
  str("os", c.os());
  str("serial_prefix", c.serial_prefix());
  str("order_number", c.order_number());
  list("knox_tags", c.knox_tags());
  str("reseller", c.reseller());
  str("device_family", c.device_family());
  list("profile_names", c.profile_names());
  return out;
}

}  // namespace

Result<pb::AssignmentAction> ParseAssignmentAction(App& app, const json& then,
                                                   const std::string& prefix) {
  pb::AssignmentAction a;
  if (!then.is_object()) {
    return InvalidArgument("request.bad_field", prefix + " must be an object", prefix);
  }
  auto field = [&](const char* name) { return prefix.empty() ? std::string(name) : prefix + "." + name; };
  for (const auto& [k, v] : then.items()) {
    if (k != "profile_id" && k != "user" && k != "policy" && k != "ruleset") {
      return InvalidArgument("request.unknown_field",
                             "unknown field " + field(k.c_str()) +
                                 " (profile_id, user, policy, ruleset)",
                             field(k.c_str()));
    }
  }
  auto str = [&](const char* name) -> Result<std::string> {
    auto it = then.find(name);
    if (it == then.end() || it->is_null()) return std::string();
    if (!it->is_string() || it->get<std::string>().size() > 128) {
      return InvalidArgument("request.bad_field", field(name) + " must be a string",
                             field(name));
    }
    return it->get<std::string>();
  };
  AE_ASSIGN_OR_RETURN(std::string profile, str("profile_id"));
  AE_ASSIGN_OR_RETURN(std::string user, str("user"));
  AE_ASSIGN_OR_RETURN(std::string policy, str("policy"));
  AE_ASSIGN_OR_RETURN(std::string ruleset, str("ruleset"));
  if (!profile.empty()) {
    AE_RETURN_IF_ERROR(CheckText(profile, field("profile_id").c_str()));
    AE_ASSIGN_OR_RETURN(auto ref, app.rules().DepProfile(profile));
    if (!ref) {
      return Unprocessable("dep.unknown_profile", "no DEP profile " + profile,
                           field("profile_id"));
    }
    a.set_profile_id(profile);
  }
  if (!user.empty()) {
    auto id = ResolveUserId(app, user, users::Role::ROLE_DEVICE_USER, field("user"));
    if (!id.ok()) return id.status();
    a.set_user_id(*id);
  }
  if (!policy.empty()) {
    auto id = ResolvePolicyId(app, policy, field("policy"));
    if (!id.ok()) return id.status();
    a.set_policy_id(*id);
  }
  if (!ruleset.empty()) {
    auto id = ResolveRuleSetId(app, ruleset, field("ruleset"));
    if (!id.ok()) return id.status();
    a.set_ruleset_id(*id);
  }
  return a;
}

json RenderAssignmentAction(App& app, const pb::AssignmentAction& a) {
  json out = json::object();
  if (!a.profile_id().empty()) out["profile_id"] = a.profile_id();
  if (!a.user_id().empty()) out["user"] = UsernameOf(app, a.user_id());
  if (!a.policy_id().empty()) out["policy"] = PolicyName(app, a.policy_id());
  if (!a.ruleset_id().empty()) out["ruleset"] = RuleSetName(app, a.ruleset_id());
  return out;
}

namespace {

json RenderRule(App& app, const rules::Rule& r) {
  return {{"id", r.id},
          {"name", r.name},
          {"priority", r.priority},
          {"disabled", r.disabled},
          {"when", RenderCondition(r.when)},
          {"then", RenderAssignmentAction(app, r.then)}};
}

// A rule from a request body (POST, PUT: every field; priority 0 and disabled false when
// absent).
Result<rules::Rule> ParseRule(App& app, const json& body) {
  if (!body.is_object()) return InvalidArgument("request.bad_json", "the body must be an object");
  for (const auto& [k, v] : body.items()) {
    if (k != "name" && k != "priority" && k != "when" && k != "then" && k != "disabled") {
      return InvalidArgument("request.unknown_field",
                             "unknown field " + k + " (name, priority, when, then, disabled)", k);
    }
  }
  rules::Rule r;
  AE_ASSIGN_OR_RETURN(r.name, StringField(body, "name", true, 128));
  AE_RETURN_IF_ERROR(CheckText(r.name, "name"));
  if (auto p = body.find("priority"); p != body.end() && !p->is_null()) {
    if (!p->is_number_integer() || p->get<int64_t>() < -1'000'000 ||
        p->get<int64_t>() > 1'000'000) {
      return InvalidArgument("request.bad_field",
                             "priority must be an integer between -1000000 and 1000000",
                             "priority");
    }
    r.priority = static_cast<int32_t>(p->get<int64_t>());
  }
  AE_ASSIGN_OR_RETURN(r.disabled, BoolField(body, "disabled", false));
  AE_ASSIGN_OR_RETURN(r.when, ParseCondition(body.value("when", json())));
  if (!body.contains("then")) {
    return InvalidArgument("request.missing_field", "then is required", "then");
  }
  AE_ASSIGN_OR_RETURN(r.then, ParseAssignmentAction(app, body["then"], "then"));
  AE_RETURN_IF_ERROR(rules::Validate(r));
  return r;
}

Result<rules::Rule> LoadRule(App& app, const std::string& id) {
  if (!ValidRuleId(id)) return NotFound("rule.not_found", "no enrollment rule " + id);
  AE_ASSIGN_OR_RETURN(auto raw, app.views().Get(proj::RuleRecord::kTable, id));
  if (!raw) return NotFound("rule.not_found", "no enrollment rule " + id);
  return RuleFromRecord(*raw);
}

Reply Written(int status, json body, const LogPosition& pos) {
  Reply r = Reply::Json(status, std::move(body));
  r.position = pos;
  return r;
}

Result<Reply> DryRun(App& app, Call& call) {
  AE_ASSIGN_OR_RETURN(json body, call.Json());
  if (!body.is_object()) return InvalidArgument("request.bad_json", "the body must be an object");
  for (const auto& [k, v] : body.items()) {
    if (k != "rule" && k != "since" && k != "limit") {
      return InvalidArgument("request.unknown_field",
                             "unknown field " + k + " (rule, since, limit)", k);
    }
  }
  auto rule_body = body.find("rule");
  if (rule_body == body.end() || !rule_body->is_object()) {
    return InvalidArgument("request.missing_field", "rule {when, then} is required", "rule");
  }
  for (const auto& [k, v] : rule_body->items()) {
    if (k != "when" && k != "then") {
      return InvalidArgument("request.unknown_field", "unknown field rule." + k + " (when, then)",
                             "rule." + k);
    }
  }
  rules::Rule rule;
  rule.id = "dry-run";
  rule.name = "dry run";
  AE_ASSIGN_OR_RETURN(rule.when, ParseCondition(rule_body->value("when", json())));
  if (!rule_body->contains("then")) {
    return InvalidArgument("request.missing_field", "rule.then is required", "rule.then");
  }
  AE_ASSIGN_OR_RETURN(rule.then, ParseAssignmentAction(app, (*rule_body)["then"], "rule.then"));
  if (Status s = rules::Validate(rule); !s.ok()) {
    return Status(s.code(), s.reason(), s.message(), s.field().empty() ? "" : "rule." + s.field());
  }
  assign::DryRunOptions o;
  AE_ASSIGN_OR_RETURN(std::string since, StrField(body, "since", 64));
  auto at = proj::ParseAsOf(since);
  if (!at.ok()) {
    return InvalidArgument("request.bad_since",
                           "since must be a log position or an RFC 3339 time", "since");
  }
  if (*at) {
    AE_RETURN_IF_ERROR(app.as_of().Resolve(&**at));
    o.since_position = (*at)->position;
    o.since_ms = (*at)->time_ms;
  }
  if (auto l = body.find("limit"); l != body.end() && !l->is_null()) {
    if (!l->is_number_unsigned() || l->get<uint64_t>() > kMaxDryRunLimit) {
      return InvalidArgument("request.bad_field", "limit must be an integer from 0 to 1000",
                             "limit");
    }
    o.limit = l->get<size_t>();
  }
  std::optional<rules::DepProfileRef> profile;
  if (!rule.then.profile_id().empty()) {
    AE_ASSIGN_OR_RETURN(profile, app.rules().DepProfile(rule.then.profile_id()));
  }
  AE_ASSIGN_OR_RETURN(auto report, assign::DryRunRule(app.log(), rule, profile, o));
  json items = json::array();
  for (const auto& d : report.would_change) {
    json changes = json::object();
    for (const auto& c : d.changes) {
      auto name = [&](const std::string& id) -> json {
        if (id.empty()) return nullptr;
        if (c.field == "user") return UsernameOf(app, id);
        if (c.field == "policy") return PolicyName(app, id);
        if (c.field == "ruleset") return RuleSetName(app, id);
        return id;
      };
      changes[c.field] = {{"from", name(c.from)}, {"to", name(c.to)}};
    }
    items.push_back({{"device", d.device}, {"source", d.source}, {"changes", std::move(changes)}});
  }
  return Reply::Json(200, {{"matched", report.matched},
                           {"devices_seen", report.devices_seen},
                           {"would_change_count", report.would_change_count},
                           {"would_change", std::move(items)},
                           {"truncated", report.truncated},
                           {"events_read", report.events_read},
                           {"until", report.head.ToString()}});
}

}  // namespace

void AddRuleRoutes(Server& server) {
  App& app = server.app();

  server.Route("POST", "/v1/rules", "/v1/rules", Access::kDeviceManager,
               [&server, &app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(json body, call.Json());
    AE_ASSIGN_OR_RETURN(rules::Rule rule, ParseRule(app, body));
    rule.id = crypto::UuidV7(app.clock().NowMs());
    AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(StreamId(rules::kRuleStreamType, rule.id),
                                                    rules::RuleDecider(rules::DefineRule{rule}),
                                                    call.Context()));
    AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
    return Written(201, RenderRule(app, rule), res.position);
  });

  server.Route("GET", "/v1/rules", "/v1/rules", Access::kDeviceManager,
               [&app](Call&) -> Result<Reply> {
    std::vector<rules::Rule> all;
    Status bad;
    AE_RETURN_IF_ERROR(app.views().Scan(proj::RuleRecord::kTable, "", "",
                                        [&](std::string_view, std::string_view v) {
      auto r = RuleFromRecord(v);
      if (!r.ok()) {
        bad = r.status();
        return false;
      }
      all.push_back(std::move(*r));
      return true;
    }));
    AE_RETURN_IF_ERROR(bad);
    rules::SortRules(all);
    json items = json::array();
    for (const auto& r : all) items.push_back(RenderRule(app, r));
    return Reply::Json(200, {{"items", std::move(items)}});
  });

  server.Route("POST", "/v1/rules/dry-run", "/v1/rules/dry-run", Access::kDeviceManager,
               [&app](Call& call) { return DryRun(app, call); });

  server.Route("GET", R"(/v1/rules/([^/]+))", "/v1/rules/{id}", Access::kDeviceManager,
               [&app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(rules::Rule rule, LoadRule(app, call.req.matches[1]));
    return Reply::Json(200, RenderRule(app, rule));
  });

  server.Route("PUT", R"(/v1/rules/([^/]+))", "/v1/rules/{id}", Access::kDeviceManager,
               [&server, &app](Call& call) -> Result<Reply> {
    const std::string id = call.req.matches[1];
    if (!ValidRuleId(id)) return NotFound("rule.not_found", "no enrollment rule " + id);
    AE_ASSIGN_OR_RETURN(json body, call.Json());
    AE_ASSIGN_OR_RETURN(rules::Rule rule, ParseRule(app, body));
    rule.id = id;
    AE_ASSIGN_OR_RETURN(auto res,
                        app.bus().Execute(StreamId(rules::kRuleStreamType, id),
                                          rules::RuleDecider(rules::DefineRule{rule, true}),
                                          call.Context()));
    AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
    return Written(200, RenderRule(app, rule), res.position);
  });

  server.Route("DELETE", R"(/v1/rules/([^/]+))", "/v1/rules/{id}", Access::kDeviceManager,
               [&server, &app](Call& call) -> Result<Reply> {
    const std::string id = call.req.matches[1];
    if (!ValidRuleId(id)) return NotFound("rule.not_found", "no enrollment rule " + id);
    AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(StreamId(rules::kRuleStreamType, id),
                                                    rules::RuleDecider(rules::DeleteRule{}),
                                                    call.Context()));
    AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
    return Written(200, {{"id", id}, {"deleted", true}}, res.position);
  });
}

}  // namespace ae::api
