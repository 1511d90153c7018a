// GET /v1/enrollments: the Auto Enrollments list, DEP and KME devices together, filtered
// over the enrollments view's indexes (projections/enrollments_projector.h).

#include "api/lookup.h"
#include "api/server.h"
#include "events/base/clock.h"
#include "projections/enrollments_projector.h"

namespace ae::api {

using nlohmann::json;

namespace {

constexpr size_t kMaxQuery = 64;

json OrNull(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json RenderEnrollment(App& app, const proj::EnrollmentRecord& r) {
  json out = {{"id", r.id},
              {"source", r.source},
              {"model", r.model},
              {"user", OrNull(UsernameOf(app, r.user_id))},
              {"policy", OrNull(PolicyName(app, r.policy_id))},
              {"ruleset", OrNull(RuleSetName(app, r.ruleset_id))},
              {"enrollment", proj::EnrollmentStatus(r)},
              {"last_change", {{"position", OrNull(r.last_position)},
                               {"at", r.last_ms > 0 ? json(FormatRfc3339(r.last_ms)) : json(nullptr)}}}};
  if (!r.serial_number.empty()) out["serial_number"] = r.serial_number;
  if (!r.imei.empty()) out["imei"] = r.imei;
  if (r.source == "dep") {
    out["profile_status"] = r.profile_status.empty() ? "empty" : r.profile_status;
    out["account_id"] = r.account_id;
  }
  return out;
}

Result<std::string> OneOf(const Call& call, const char* name,
                          std::initializer_list<const char*> values) {
  const std::string v = call.Param(name);
  if (v.empty()) return v;
  std::string list;
  for (const char* x : values) {
    if (v == x) return v;
    list += list.empty() ? x : std::string(", ") + x;
  }
  return InvalidArgument("request.bad_param", std::string(name) + " must be one of " + list, name);
}

// A user filter: the user's id, or a username (users of any role, deleted ones included
// when named by id).
Result<std::string> UserFilter(App& app, const std::string& text) {
  if (text.empty()) return text;
  AE_ASSIGN_OR_RETURN(auto by_id, app.views().Get("users", text));
  if (by_id) return text;
  auto id = ResolveUserId(app, text, domain::users::Role::ROLE_UNSPECIFIED, "user");
  if (!id.ok()) return InvalidArgument("request.bad_param", "no user '" + text + "'", "user");
  return *id;
}

// A policy or rule set filter: its name or id.
Result<std::string> NamedFilter(App& app, const std::string& text, bool policy) {
  if (text.empty()) return text;
  auto id = policy ? ResolvePolicyId(app, text) : ResolveRuleSetId(app, text);
  if (!id.ok()) {
    const char* field = policy ? "policy" : "ruleset";
    return InvalidArgument("request.bad_param",
                           std::string("no ") + (policy ? "policy" : "rule set") + " '" + text + "'",
                           field);
  }
  return *id;
}

}  // namespace

void AddEnrollmentRoutes(Server& server) {
  App& app = server.app();
  server.Route("GET", "/v1/enrollments", "/v1/enrollments", Access::kDeviceManager,
               [&app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(Page page, ParsePage(call));
    proj::EnrollmentFilter f;
    AE_ASSIGN_OR_RETURN(f.source, OneOf(call, "source", {"dep", "kme"}));
    AE_ASSIGN_OR_RETURN(f.status, OneOf(call, "status", {"not_enrolled", "enrolled", "checked_out",
                                                         "removed", "released"}));
    AE_ASSIGN_OR_RETURN(f.user_id, UserFilter(app, call.Param("user")));
    AE_ASSIGN_OR_RETURN(f.policy_id, NamedFilter(app, call.Param("policy"), true));
    AE_ASSIGN_OR_RETURN(f.ruleset_id, NamedFilter(app, call.Param("ruleset"), false));
    const std::string q = call.Param("q");
    if (q.size() > kMaxQuery) {
      return InvalidArgument("request.bad_param",
                             "q must be at most " + std::to_string(kMaxQuery) + " characters", "q");
    }
    f.q = proj::SearchForm(q);
    AE_ASSIGN_OR_RETURN(proj::EnrollmentPage result,
                        proj::ListEnrollments(app.views(), f, page.cursor, page.limit));
    json items = json::array();
    for (const auto& r : result.items) items.push_back(RenderEnrollment(app, r));
    return Reply::Json(200, PageJson(std::move(items),
                                     result.next_cursor.empty()
                                         ? std::nullopt
                                         : std::optional<std::string>(result.next_cursor)));
  });
}

}  // namespace ae::api
