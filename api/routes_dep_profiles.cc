// Apple DEP profiles: define (answered with Apple's outcome when it comes quickly), list,
// read; Apple keeps profiles forever, so there is no delete (API.md "Apple DEP").

#include <thread>

#include "api/dep_profile.h"
#include "api/routes_dep.h"
#include "domain/dep/dep.h"
#include "events/base/crypto.h"

namespace ae::api {

namespace ddep = domain::dep;
using nlohmann::json;
using proj::DepProfileRecord;

namespace {

json RenderProfile(const DepProfileRecord& p) {
  json out = p.ToJson();
  out.erase("last_position");
  return out;
}

// Waits (bounded) until the profile is no longer pending at Apple; the record as it is
// then.
Result<std::optional<DepProfileRecord>> AwaitProfileOutcome(App& app, const std::string& id,
                                                            std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    AE_ASSIGN_OR_RETURN(auto p, DepView<DepProfileRecord>(app, id));
    if (p && p->state != "pending") return p;
    if (std::chrono::steady_clock::now() >= deadline) return p;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// POST /v1/dep/profiles
Result<Reply> DefineProfile(Server& server, App& app, Call& call) {
  AE_ASSIGN_OR_RETURN(json body, call.Json());
  if (!body.is_object()) return InvalidArgument("request.bad_json", "the body must be an object");
  AE_ASSIGN_OR_RETURN(auto profile,
                      ParseProfile(body, server.options().public_url + "/enroll/apple"));
  auto account = LoadDepAccount(app, profile.account_id());
  if (!account.ok()) {
    return Unprocessable("dep.unknown_account", "no DEP account " + profile.account_id(),
                         "account_id");
  }
  std::string id = "prof_" + crypto::Hex(crypto::RandomBytes(8));
  profile.set_profile_id(id);
  AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(StreamId("dep-profile", id),
                                                  ddep::ProfileDecider(ddep::DefineProfile{profile}),
                                                  call.Context()));
  AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
  // Apple defines it asynchronously (the adapter); answer with its outcome when it
  // comes quickly, else with state "pending".
  AE_ASSIGN_OR_RETURN(auto p, AwaitProfileOutcome(app, id, std::chrono::milliseconds(10000)));
  if (!p) return Internal("internal", "the profile " + id + " is not in the views");
  if (p->state == "failed" && p->error && p->error->code.rfind("dep.", 0) == 0 &&
      p->error->code != "dep.unavailable") {
    return Unprocessable(p->error->code, "Apple refused the profile: " + p->error->message);
  }
  return Written(201, RenderProfile(*p), res.position);
}

// GET /v1/dep/profiles
Result<Reply> ListProfiles(App& app, Call& call) {
  AE_ASSIGN_OR_RETURN(Page page, ParsePage(call));
  json items = json::array();
  std::optional<std::string> next;
  std::string last;
  AE_RETURN_IF_ERROR(app.views().Scan(DepProfileRecord::kTable, "", page.cursor,
                                      [&](std::string_view k, std::string_view v) {
    if (!page.cursor.empty() && k == page.cursor) return true;
    if (items.size() == page.limit) {
      next = last;
      return false;
    }
    auto p = DepProfileRecord::Decode(v);
    if (p.ok()) items.push_back(RenderProfile(*p));
    last = std::string(k);
    return true;
  }));
  return Reply::Json(200, PageJson(std::move(items), next));
}

// GET /v1/dep/profiles/{id}
Result<Reply> GetProfile(App& app, Call& call) {
  const std::string id = call.req.matches[1];
  std::optional<DepProfileRecord> p;
  if (ValidDepId(id)) {
    AE_ASSIGN_OR_RETURN(p, DepView<DepProfileRecord>(app, id));
  }
  if (!p) return NotFound("dep.profile_not_found", "no DEP profile " + id);
  return Reply::Json(200, RenderProfile(*p));
}

// DELETE /v1/dep/profiles/{id}
Result<Reply> DeleteProfile(Call&) {
  return Status(StatusCode::kUnimplemented, "dep.profile_delete_not_supported",
                "Apple keeps DEP profiles forever; define a new profile and assign it instead");
}

}  // namespace

void AddDepProfileRoutes(Server& server) {
  App& app = server.app();
  server.Route("POST", "/v1/dep/profiles", "/v1/dep/profiles", Access::kDeviceManager,
               [&server, &app](Call& call) { return DefineProfile(server, app, call); });
  server.Route("GET", "/v1/dep/profiles", "/v1/dep/profiles", Access::kDeviceManager,
               [&app](Call& call) { return ListProfiles(app, call); });
  server.Route("GET", R"(/v1/dep/profiles/([^/]+))", "/v1/dep/profiles/{id}",
               Access::kDeviceManager, [&app](Call& call) { return GetProfile(app, call); });
  server.Route("DELETE", R"(/v1/dep/profiles/([^/]+))", "/v1/dep/profiles/{id}",
               Access::kDeviceManager, DeleteProfile);
}

}  // namespace ae::api
