// Bulk assignment (/v1/enrollments/assign) and its jobs (/v1/jobs/{id}). The selection is
// read from the DEP and KME views here; the job itself runs in assign::AssignmentJobs.

#include <algorithm>
#include <cctype>

#include "adapters/assignment/assignment_jobs.h"
#include "api/kme_views.h"
#include "api/lookup.h"
#include "api/routes_rules.h"
#include "api/server.h"
#include "events/base/crypto.h"
#include "projections/dep_records.h"
#include "projections/kme_records.h"
#include "projections/rules_records.h"

namespace ae::api {

namespace users = domain::users;
namespace pb = autoenroll::events::v1;
using nlohmann::json;

namespace {

constexpr size_t kDefaultOutcomes = 100;
constexpr size_t kMaxOutcomes = 1000;
constexpr const char* kFilterFields[] = {"source", "account_id", "model", "profile_status",
                                         "user", "policy", "ruleset", "profile_name", "tag"};

// A device filter, with names read into ids.
struct Filter {
  std::string source, account_id, model, profile_status, user_id, policy_id, ruleset_id,
      profile_name, tag;
};

bool EqualNoCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

Result<Filter> ParseFilter(App& app, const json& f) {
  if (!f.is_object()) return InvalidArgument("request.bad_field", "filter must be an object", "filter");
  for (const auto& [k, v] : f.items()) {
    if (std::find_if(std::begin(kFilterFields), std::end(kFilterFields),
                     [&](const char* x) { return k == x; }) == std::end(kFilterFields)) {
      return InvalidArgument("request.unknown_field",
                             "unknown field filter." + k +
                                 " (source, account_id, model, profile_status, user, policy, "
                                 "ruleset, profile_name, tag)",
                             "filter." + k);
    }
    if (!v.is_string() || v.get<std::string>().size() > 128) {
      return InvalidArgument("request.bad_field", "filter." + k + " must be a string",
                             "filter." + k);
    }
  }
  Filter out;
  out.source = f.value("source", "");
  if (!out.source.empty() && out.source != "dep" && out.source != "kme") {
    return InvalidArgument("request.bad_field", "filter.source must be dep or kme",
                           "filter.source");
  }
  out.account_id = f.value("account_id", "");
  out.model = f.value("model", "");
  out.profile_status = f.value("profile_status", "");
  out.profile_name = f.value("profile_name", "");
  out.tag = f.value("tag", "");
  if (std::string u = f.value("user", ""); !u.empty()) {
    auto id = ResolveUserId(app, u, users::Role::ROLE_DEVICE_USER, "filter.user");
    if (!id.ok()) return id.status();
    out.user_id = *id;
  }
  if (std::string p = f.value("policy", ""); !p.empty()) {
    auto id = ResolvePolicyId(app, p, "filter.policy");
    if (!id.ok()) return id.status();
    out.policy_id = *id;
  }
  if (std::string r = f.value("ruleset", ""); !r.empty()) {
    auto id = ResolveRuleSetId(app, r, "filter.ruleset");
    if (!id.ok()) return id.status();
    out.ruleset_id = *id;
  }
  return out;
}

bool Common(const Filter& f, const std::string& model, const std::string& user_id,
            const std::string& policy_id, const std::string& ruleset_id) {
  if (!f.model.empty() && !EqualNoCase(f.model, model)) return false;
  if (!f.user_id.empty() && f.user_id != user_id) return false;
  if (!f.policy_id.empty() && f.policy_id != policy_id) return false;
  if (!f.ruleset_id.empty() && f.ruleset_id != ruleset_id) return false;
  return true;
}
bool MatchesDep(const Filter& f, const proj::DepDeviceRecord& d) {
  if (!f.source.empty() && f.source != "dep") return false;
  if (!f.profile_name.empty() || !f.tag.empty()) return false;  // Knox fields
  if (!f.account_id.empty() && f.account_id != d.account_id) return false;
  if (!f.profile_status.empty() && f.profile_status != d.profile_status) return false;
  return Common(f, d.model, d.user_id, d.policy_id, d.ruleset_id);
}

bool MatchesKme(const Filter& f, const proj::KmeDeviceRecord& d) {
  if (!f.source.empty() && f.source != "kme") return false;
  if (!f.account_id.empty() || !f.profile_status.empty()) return false;  // DEP fields
  if (!f.profile_name.empty() && !EqualNoCase(f.profile_name, d.profile_name)) return false;
  if (!f.tag.empty() && std::none_of(d.tags.begin(), d.tags.end(), [&](const std::string& t) {
        return EqualNoCase(t, f.tag);
      })) {
    return false;
  }
  return Common(f, d.model, d.user_id, d.policy_id, d.ruleset_id);
}

// Scans the views for the devices `filter` selects, DEP first, each in key order.
Status SelectByFilter(App& app, const Filter& filter,
                      const std::function<bool(assign::JobTarget)>& add) {
  bool more = true;
  Status bad;
  // `matches` reads a record of `cf` and says whether the filter selects it.
  auto scan = [&](const char* cf, const char* source,
                  const std::function<Result<bool>(std::string_view)>& matches) {
    return app.views().Scan(cf, "", "", [&](std::string_view k, std::string_view v) {
      auto m = matches(v);
      if (!m.ok()) {
        bad = m.status();
        return more = false;
      }
      if (*m) more = add({std::string(k), source});
      return more;
    });
  };
  auto dep = [&](std::string_view v) -> Result<bool> {
    AE_ASSIGN_OR_RETURN(auto d, proj::DepDeviceRecord::Decode(v));
    return MatchesDep(filter, d);
  };
  auto kme = [&](std::string_view v) -> Result<bool> {
    AE_ASSIGN_OR_RETURN(auto d, proj::KmeDeviceRecord::Decode(v));
    return MatchesKme(filter, d);
  };
  if (filter.source != "kme") AE_RETURN_IF_ERROR(scan(proj::DepDeviceRecord::kTable, "dep", dep));
  AE_RETURN_IF_ERROR(bad);
  if (more && filter.source != "dep") {
    AE_RETURN_IF_ERROR(scan(proj::KmeDeviceRecord::kTable, "kme", kme));
  }
  return bad;
}

// A device named by a client: a DEP serial number, else a KME device id or identifier.
Result<assign::JobTarget> ResolveTarget(App& app, const std::string& id) {
  std::string upper = id;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!upper.empty() && upper.size() <= 64) {
    AE_ASSIGN_OR_RETURN(auto dep, app.views().Get(proj::DepDeviceRecord::kTable, upper));
    if (dep) return assign::JobTarget{upper, "dep"};
  }
  auto kme = ResolveKmeDeviceRef(app, id);
  if (kme.ok()) return assign::JobTarget{*kme, "kme"};
  if (kme.status().code() == StatusCode::kNotFound ||
      kme.status().code() == StatusCode::kInvalidArgument) {
    return assign::JobTarget{id, ""};  // refused as device.not_found
  }
  return kme.status();
}

Result<Reply> StartJob(Server& server, App& app, Call& call) {
  AE_ASSIGN_OR_RETURN(json body, call.Json());
  if (!body.is_object()) return InvalidArgument("request.bad_json", "the body must be an object");
  json action = json::object();
  for (const auto& [k, v] : body.items()) {
    if (k == "profile_id" || k == "user" || k == "policy" || k == "ruleset") {
      action[k] = v;
    } else if (k != "ids" && k != "filter") {
      return InvalidArgument("request.unknown_field",
                             "unknown field " + k +
                                 " (ids, filter, profile_id, user, policy, ruleset)",
                             k);
    }
  }
  const bool has_ids = body.contains("ids") && !body["ids"].is_null();
  const bool has_filter = body.contains("filter") && !body["filter"].is_null();
  if (has_ids == has_filter) {
    return InvalidArgument("request.missing_field", "give either ids or filter",
                           has_ids ? "filter" : "ids");
  }
  assign::JobRequest request;
  AE_ASSIGN_OR_RETURN(request.then, ParseAssignmentAction(app, action, ""));
  if (domain::rules::Empty(request.then)) {
    return InvalidArgument("job.empty_action", "give a profile_id, user, policy or ruleset",
                           "profile_id");
  }
  if (!request.then.profile_id().empty()) {
    AE_ASSIGN_OR_RETURN(request.profile, app.rules().DepProfile(request.then.profile_id()));
    if (!request.profile || request.profile->profile_uuid.empty()) {
      return FailedPrecondition("dep.profile_not_defined",
                                "the profile can be assigned once Apple accepted it");
    }
  }
  if (has_ids) {
    const json& ids = body["ids"];
    if (!ids.is_array() || ids.empty()) {
      return InvalidArgument("request.bad_field", "ids must be a list of device ids", "ids");
    }
    std::vector<std::string> list;
    for (const auto& id : ids) {
      if (!id.is_string() || id.get<std::string>().empty() || id.get<std::string>().size() > 128) {
        return InvalidArgument("request.bad_field", "ids must hold device ids", "ids");
      }
      list.push_back(id.get<std::string>());
    }
    request.selection = "ids";
    request.select = [&app, list](const std::function<bool(assign::JobTarget)>& add) -> Status {
      for (const auto& id : list) {
        AE_ASSIGN_OR_RETURN(auto t, ResolveTarget(app, id));
        if (!add(std::move(t))) break;
      }
      return Status::Ok();
    };
  } else {
    AE_ASSIGN_OR_RETURN(Filter filter, ParseFilter(app, body["filter"]));
    request.selection = body["filter"].dump();
    request.select = [&app, filter](const std::function<bool(assign::JobTarget)>& add) {
      return SelectByFilter(app, filter, add);
    };
  }
  AE_ASSIGN_OR_RETURN(auto job, app.jobs().Start(std::move(request), call.Context()));
  server.WaitForViews(job.position).IgnoreError();
  Reply r = Reply::Json(202, {{"job_id", job.job_id}});
  r.position = job.position;
  return r;
}

Result<proj::JobRecord> LoadJob(App& app, const std::string& id) {
  if (id.empty() || id.size() > 64) return NotFound("job.not_found", "no job " + id);
  AE_ASSIGN_OR_RETURN(auto job, proj::ReadRulesRecord<proj::JobRecord>(app.views(), id));
  if (!job) return NotFound("job.not_found", "no job " + id);
  return std::move(*job);
}

Result<Reply> GetJob(App& app, Call& call) {
  const std::string id = call.req.matches[1];
  AE_ASSIGN_OR_RETURN(proj::JobRecord job, LoadJob(app, id));
  size_t limit = kDefaultOutcomes;
  if (std::string l = call.Param("limit"); !l.empty()) {
    char* end = nullptr;
    unsigned long long n = std::strtoull(l.c_str(), &end, 10);
    if (*end != '\0' || n == 0 || n > kMaxOutcomes) {
      return InvalidArgument("request.bad_param", "limit must be 1 to 1000", "limit");
    }
    limit = n;
  }
  uint64_t from = 0;
  if (std::string c = call.Param("cursor"); !c.empty()) {
    char* end = nullptr;
    from = std::strtoull(c.c_str(), &end, 10);
    if (*end != '\0') return InvalidArgument("request.bad_param", "cursor is not valid", "cursor");
  }
  json outcomes = json::array();
  json next = nullptr;
  const std::string prefix = id + "/";
  uint64_t index = from;
  Status bad;
  AE_RETURN_IF_ERROR(app.views().Scan(
      proj::JobOutcomeRecord::kTable, prefix, proj::JobOutcomeKey(id, from),
      [&](std::string_view, std::string_view v) {
        if (outcomes.size() >= limit) {
          next = std::to_string(index);
          return false;
        }
        auto o = proj::JobOutcomeRecord::Decode(v);
        if (!o.ok()) {
          bad = o.status();
          return false;
        }
        outcomes.push_back(o->ToJson());
        ++index;
        return true;
      }));
  AE_RETURN_IF_ERROR(bad);
  pb::AssignmentAction then;
  auto raw = crypto::FromBase64(job.then);
  if (raw.ok()) then.ParseFromString(*raw);
  json out = {{"id", id},
              {"state", job.state.empty() ? "running" : job.state},
              {"total", job.total},
              {"done", job.done},
              {"assigned", job.assigned},
              {"unchanged", job.unchanged},
              {"refused", job.refused},
              {"then", RenderAssignmentAction(app, then)},
              {"selection", job.selection},
              {"started_at", job.started_at},
              {"completed_at", job.completed_at ? json(*job.completed_at) : json(nullptr)},
              {"outcomes", std::move(outcomes)},
              {"next_cursor", next}};
  return Reply::Json(200, out);
}

}  // namespace

void AddAssignRoutes(Server& server) {
  App& app = server.app();

  server.Route("POST", "/v1/enrollments/assign", "/v1/enrollments/assign",
               Access::kDeviceManager,
               [&server, &app](Call& call) { return StartJob(server, app, call); });

  server.Route("GET", R"(/v1/jobs/([^/]+))", "/v1/jobs/{id}", Access::kDeviceManager,
               [&app](Call& call) { return GetJob(app, call); });

  server.Route("DELETE", R"(/v1/jobs/([^/]+))", "/v1/jobs/{id}", Access::kDeviceManager,
               [&app](Call& call) -> Result<Reply> {
    const std::string id = call.req.matches[1];
    AE_ASSIGN_OR_RETURN(proj::JobRecord job, LoadJob(app, id));
    Status s = app.jobs().Cancel(id);
    if (!s.ok()) {
      return FailedPrecondition("job.not_running",
                                "job " + id + " is " + (job.state.empty() ? "done" : job.state) +
                                    "; only a running job can be cancelled");
    }
    return Reply::Json(202, {{"id", id}, {"state", "cancelling"}});
  });
}

}  // namespace ae::api
