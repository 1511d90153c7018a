// Samsung KME: settings, CSV import and devices. The settings' enrollment token and server
// certificate are the Android enrollment's (adapters/samsung_knox/android_enrollment.h,
// app.android()); its device-facing routes are in routes_enroll_android.cc.

#include <set>

#include "adapters/samsung_knox/android_enrollment.h"
#include "api/cli/commands.h"
#include "api/history.h"
#include "api/kme_views.h"
#include "api/lookup.h"
#include "api/request_body.h"
#include "api/server.h"
#include "events/base/logging.h"
#include "projections/kme_projector.h"

namespace ae::api {

namespace {

namespace dkme = ae::domain::kme;
namespace users = ae::domain::users;
using nlohmann::json;

constexpr const char* kCreatesUsersField = "knox_deployment_creates_users";

// The answer of POST /v1/kme/imports.
json ImportReportJson(const knox::KmeImportReport& report) {
  json errs = json::array();
  for (const auto& e : report.errors) {
    json j = {{"line", e.line}, {"code", e.code}, {"message", e.message}};
    if (!e.field.empty()) j["field"] = e.field;
    if (!e.knox_device_id.empty()) j["knox_device_id"] = e.knox_device_id;
    errs.push_back(std::move(j));
  }
  return {{"import_id", report.import_id},
          {"dry_run", report.dry_run},
          {"rows", report.rows},
          {"created", report.created},
          {"updated", report.updated},
          {"unchanged", report.unchanged},
          {"rejected", report.rejected},
          {"users_matched", report.users_matched},
          {"conflicts", report.conflicts},
          {"errors", std::move(errs)},
          {"errors_truncated", report.errors_truncated},
          {"file_sha256", report.file_sha256},
          {"events_appended", report.events_appended}};
}

// ---- settings ------------------------------------------------------------------------

std::string PublicUrl(Server& server, const httplib::Request& req) {
  std::string url = server.options().public_url;
  if (url.empty()) {
    std::string scheme = server.options().tls_cert.empty() ? "http" : "https";
    std::string host = req.get_header_value("Host");
    if (host.empty()) host = server.options().host + ":" + std::to_string(server.options().port);
    url = scheme + "://" + host;
  }
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// The fingerprint is that of the certificate this server serves (--tls-cert), and only
// with an https URI; otherwise null (behind a TLS proxy, Knox is given the proxy's).
Result<json> SettingsJson(Server& server, const httplib::Request& req, const std::string& token) {
  std::string uri = PublicUrl(server, req);
  json fingerprint = nullptr;
  if (!server.options().tls_cert.empty() && uri.rfind("https://", 0) == 0) {
    AE_ASSIGN_OR_RETURN(fingerprint,
                        server.app().android().ServerCertificateFingerprint(
                            server.options().tls_cert));
  }
  AE_ASSIGN_OR_RETURN(dkme::SettingsState settings, server.app().android().Settings());
  return json{{"mdm_server_uri", uri + "/enroll/android"},
              {"certificate_fingerprint", fingerprint},
              {"enrollment_token", token},
              {kCreatesUsersField, settings.deployment_creates_users}};
}

// PATCH /v1/kme/settings: the administrator's settings of the Knox Deployment App path.
Result<LogPosition> ChangeSettings(App& app, const json& body, const domain::CommandContext& ctx) {
  for (const auto& [k, v] : body.items()) {
    if (k != kCreatesUsersField) {
      return InvalidArgument("request.unknown_field",
                             "unknown field " + k + " (" + kCreatesUsersField + ")", k);
    }
  }
  dkme::ChangeDeploymentSettings cmd;
  if (body.contains(kCreatesUsersField)) {
    if (!body[kCreatesUsersField].is_boolean()) {
      return InvalidArgument("request.bad_field",
                             std::string(kCreatesUsersField) + " must be true or false",
                             kCreatesUsersField);
    }
    cmd.creates_users = body[kCreatesUsersField].get<bool>();
  }
  AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(StreamId(dkme::kSettingsStream),
                                                  dkme::SettingsDecider(cmd), ctx));
  if (!res.events.empty()) {
    log::Get("kme")->info("Knox Deployment App settings changed: {} {}", kCreatesUsersField,
                          res.events.back().kme_deployment_settings_changed().creates_users());
  }
  return res.position;
}

// ---- devices ---------------------------------------------------------------------------

json RenderDevice(App& app, const proj::KmeDeviceRecord& rec) {
  json out = {{"id", rec.id},
              {"imei", rec.imei},
              {"imei2", rec.imei2},
              {"meid", rec.meid},
              {"serial_number", rec.serial_number},
              {"model", rec.model},
              {"profile_name", rec.profile_name},
              {"tags", rec.tags},
              {"attributes", rec.attributes},
              {"knox_status", rec.knox_status},
              {"user", UsernameOf(app, rec.user_id)},
              {"user_from_knox_deployment", rec.user_by_deployment},
              {"policy", PolicyName(app, rec.policy_id)},
              {"ruleset", RuleSetName(app, rec.ruleset_id)},
              {"source", rec.source},
              {"enrollment", rec.enrollment.empty() ? "not_enrolled" : rec.enrollment},
              {"created_at", rec.created_at},
              {"updated_at", rec.updated_at}};
  out["enrolled_at"] = rec.enrolled_at.empty() ? json(nullptr) : json(rec.enrolled_at);
  out["user_conflict"] = nullptr;
  if (const auto& c = rec.user_conflict) {
    json conflict = {{"at", c->at},
                     {"position", c->position},
                     {"knox_deployment_user", UsernameOf(app, c->deployment_user_id)},
                     {"user", UsernameOf(app, c->user_id)},
                     {"by", c->by}};
    if (!c->import_id.empty()) conflict["import_id"] = c->import_id;
    if (c->line > 0) conflict["line"] = c->line;
    out["user_conflict"] = std::move(conflict);
  }
  return out;
}

// Device ids whose identifiers start with `q` (normalised), > cursor, at most limit + 1.
Result<std::vector<std::string>> SearchDevices(App& app, const std::string& q,
                                               const std::string& cursor, size_t limit) {
  std::string n;
  for (char c : q) {
    if (c == ' ' || c == '-' || c == '/' || c == ':') continue;
    n.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  std::set<std::string> found;
  if (n.empty()) return std::vector<std::string>{};
  bool digits = n.find_first_not_of("0123456789") == std::string::npos;
  std::vector<std::string> prefixes = {"meid:" + n, "serial:" + n};
  if (digits) prefixes.push_back("imei:" + n.substr(0, 14));
  constexpr size_t kScanBudget = 200000;
  size_t scanned = 0;
  for (const auto& prefix : prefixes) {
    AE_RETURN_IF_ERROR(app.views().Scan("kme_ids", prefix, "", [&](std::string_view,
                                                                   std::string_view v) {
      if (++scanned > kScanBudget) return false;
      std::string id(v);
      if (!cursor.empty() && id <= cursor) return true;
      found.insert(std::move(id));
      if (found.size() > limit + 1) found.erase(std::prev(found.end()));
      return true;
    }));
  }
  return std::vector<std::string>(found.begin(), found.end());
}

Result<Reply> ListDevices(App& app, Call& call) {
  AE_ASSIGN_OR_RETURN(Page page, ParsePage(call));
  std::string user = call.Param("user");
  std::string q = call.Param("q");
  if (q.size() > 64) return InvalidArgument("request.bad_param", "q is too long", "q");
  json items = json::array();
  std::optional<std::string> next;
  auto add = [&](const std::string& id) -> Status {
    AE_ASSIGN_OR_RETURN(auto rec, LoadKmeDevice(app, id));
    if (!rec) return Status::Ok();
    items.push_back(RenderDevice(app, *rec));
    return Status::Ok();
  };
  std::vector<std::string> ids;
  if (!q.empty()) {
    AE_ASSIGN_OR_RETURN(ids, SearchDevices(app, q, page.cursor, page.limit));
  } else if (!user.empty()) {
    AE_ASSIGN_OR_RETURN(std::string uid,
                        ResolveUserId(app, user, users::Role::ROLE_DEVICE_USER, "user"));
    std::string prefix = uid + "/";
    AE_RETURN_IF_ERROR(app.views().Scan(
        "kme_by_user", prefix, page.cursor.empty() ? "" : prefix + page.cursor,
        [&](std::string_view k, std::string_view) {
          std::string id(k.substr(prefix.size()));
          if (!page.cursor.empty() && id <= page.cursor) return true;
          ids.push_back(std::move(id));
          return ids.size() <= page.limit;
        }));
  } else {
    AE_RETURN_IF_ERROR(app.views().Scan("kme_devices", "", page.cursor,
                                        [&](std::string_view k, std::string_view) {
      std::string id(k);
      if (!page.cursor.empty() && id <= page.cursor) return true;
      ids.push_back(std::move(id));
      return ids.size() <= page.limit;
    }));
  }
  if (!q.empty() && !user.empty()) {  // both: keep the user's devices
    AE_ASSIGN_OR_RETURN(std::string uid,
                        ResolveUserId(app, user, users::Role::ROLE_DEVICE_USER, "user"));
    std::vector<std::string> kept;
    for (auto& id : ids) {
      AE_ASSIGN_OR_RETURN(auto mark, app.views().Get("kme_by_user", uid + "/" + id));
      if (mark) kept.push_back(std::move(id));
    }
    ids = std::move(kept);
  }
  if (ids.size() > page.limit) {
    ids.resize(page.limit);
    next = ids.back();
  }
  for (const auto& id : ids) AE_RETURN_IF_ERROR(add(id));
  return Reply::Json(200, PageJson(std::move(items), next));
}

}  // namespace

void AddKmeRoutes(Server& server) {
  App& app = server.app();

  server.Route("GET", "/v1/kme/settings", "/v1/kme/settings", Access::kDeviceManager,
               [&server, &app](Call& call) -> Result<Reply> {
    LogPosition created;
    AE_ASSIGN_OR_RETURN(std::string token,
                        app.android().CurrentToken(call.Context(), true, &created));
    AE_ASSIGN_OR_RETURN(json out, SettingsJson(server, call.req, token));
    Reply r = Reply::Json(200, out);
    r.position = created;
    return r;
  });

  server.Route("PATCH", "/v1/kme/settings", "/v1/kme/settings", Access::kAdministrator,
               [&server, &app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(json body, call.Json());
    AE_ASSIGN_OR_RETURN(LogPosition changed, ChangeSettings(app, body, call.Context()));
    AE_ASSIGN_OR_RETURN(std::string token, app.android().CurrentToken(call.Context(), true));
    AE_ASSIGN_OR_RETURN(json out, SettingsJson(server, call.req, token));
    Reply r = Reply::Json(200, out);
    r.position = changed;
    return r;
  });

  server.Route("POST", "/v1/kme/settings/rotate-token", "/v1/kme/settings/rotate-token",
               Access::kAdministrator, [&server, &app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(auto made, app.android().RotateToken(call.Context()));
    AE_RETURN_IF_ERROR(server.WaitForViews(made.position));
    AE_ASSIGN_OR_RETURN(json out, SettingsJson(server, call.req, made.token));
    Reply r = Reply::Json(200, out);
    r.position = made.position;
    return r;
  });

  server.Route("GET", "/v1/kme/certificate", "/v1/kme/certificate", Access::kDeviceManager,
               [&server](Call&) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(std::string pem,
                        server.app().android().ServerCertificatePem(server.options().tls_cert));
    Reply r;
    r.raw = std::move(pem);
    r.content_type = "application/x-pem-file";
    return r;
  });

  server.AllowLargeBody("/v1/kme/imports");  // a 100,000-row portal export is ~11 MB
  server.Route("POST", "/v1/kme/imports", "/v1/kme/imports", Access::kDeviceManager,
               [&app](Call& call) -> Result<Reply> {
    std::string dry = call.Param("dry_run", "false");
    if (dry != "true" && dry != "false") {
      return InvalidArgument("request.bad_param", "dry_run must be true or false", "dry_run");
    }
    knox::KmeImportOptions o;
    o.dry_run = dry == "true";
    o.cancel = &cli::StopRequested();
    // The import's parameters, given to every device it creates; checked before anything
    // is read (an unknown one: 422 naming it, nothing written).
    if (std::string policy = call.Param("policy_id"); !policy.empty()) {
      auto id = ResolvePolicyId(app, policy, "policy_id");
      if (!id.ok()) return id.status();
      o.defaults.policy_id = *id;
    }
    if (std::string ruleset = call.Param("ruleset_id"); !ruleset.empty()) {
      auto id = ResolveRuleSetId(app, ruleset, "ruleset_id");
      if (!id.ok()) return id.status();
      o.defaults.ruleset_id = *id;
    }
    if (std::string user = call.Param("user"); !user.empty()) {
      auto id = ResolveUserId(app, user, users::Role::ROLE_DEVICE_USER, "user");
      if (!id.ok()) return id.status();
      o.defaults.user_id = *id;
    }
    AE_ASSIGN_OR_RETURN(knox::KmeImportReport report,
                        app.kme_ingest().ImportCsv(call.req.body, o, call.Context()));
    Reply r = Reply::Json(200, ImportReportJson(report));
    r.position = report.position;
    return r;
  });

  server.Route("GET", "/v1/kme/devices", "/v1/kme/devices", Access::kDeviceManager,
               [&app](Call& call) { return ListDevices(app, call); });

  server.Route("GET", R"(/v1/kme/devices/([^/]+))", "/v1/kme/devices/{id}",
               Access::kDeviceManager, [&app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(auto as_of, ParseAsOf(call.Param("as_of")));
    AE_ASSIGN_OR_RETURN(std::string id, ResolveKmeDeviceRef(app, call.req.matches[1]));
    if (as_of) {
      proj::KmeProjector projector;
      AE_ASSIGN_OR_RETURN(auto then, AsOf<proj::KmeDeviceRecord>(
                                         app, projector,
                                         {StreamId(dkme::kDeviceStreamType, id),
                                          StreamId(dkme::kInventoryStreamType, id)},
                                         id, *as_of));
      if (!then) return NotFound("kme.device_not_found", "no KME device " + id + " at that point");
      json out = RenderDevice(app, *then);
      out["as_of"] = call.Param("as_of");
      return Reply::Json(200, out);
    }
    AE_ASSIGN_OR_RETURN(auto rec, LoadKmeDevice(app, id));
    if (!rec) return NotFound("kme.device_not_found", "no KME device " + id);
    return Reply::Json(200, RenderDevice(app, *rec));
  });

  // The KME record's events and the device's enrollment, in log order.
  server.Route("GET", R"(/v1/kme/devices/([^/]+)/history)", "/v1/kme/devices/{id}/history",
               Access::kDeviceManager, [&app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(std::string id, ResolveKmeDeviceRef(app, call.req.matches[1]));
    AE_ASSIGN_OR_RETURN(json h, History(app, {StreamId(dkme::kDeviceStreamType, id),
                                              StreamId(dkme::kInventoryStreamType, id)}));
    h["id"] = id;
    return Reply::Json(200, h);
  });

  server.Route("PATCH", R"(/v1/kme/devices/([^/]+))", "/v1/kme/devices/{id}",
               Access::kDeviceManager, [&server, &app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(std::string id, ResolveKmeDeviceRef(app, call.req.matches[1]));
    AE_ASSIGN_OR_RETURN(json body, call.Json());
    dkme::AssignDevice cmd;
    cmd.device_id = id;
    AE_ASSIGN_OR_RETURN(auto user, OptionalStringField(body, "user", 64));
    AE_ASSIGN_OR_RETURN(auto policy, OptionalStringField(body, "policy", 128));
    AE_ASSIGN_OR_RETURN(auto ruleset, OptionalStringField(body, "ruleset", 128));
    if (user) {
      if (user->empty()) {
        cmd.user_id = "";
      } else {
        AE_ASSIGN_OR_RETURN(cmd.user_id,
                            ResolveUserId(app, *user, users::Role::ROLE_DEVICE_USER, "user"));
      }
    }
    if (policy) {
      if (policy->empty()) {
        cmd.policy_id = "";
      } else {
        AE_ASSIGN_OR_RETURN(cmd.policy_id, ResolvePolicyId(app, *policy));
      }
    }
    if (ruleset) {
      if (ruleset->empty()) {
        cmd.ruleset_id = "";
      } else {
        AE_ASSIGN_OR_RETURN(cmd.ruleset_id, ResolveRuleSetId(app, *ruleset));
      }
    }
    AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(StreamId(dkme::kDeviceStreamType, id),
                                                    dkme::DeviceDecider(cmd), call.Context()));
    AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
    AE_ASSIGN_OR_RETURN(auto rec, LoadKmeDevice(app, id));
    if (!rec) return NotFound("kme.device_not_found", "no KME device " + id);
    Reply r = Reply::Json(200, RenderDevice(app, *rec));
    r.position = res.position;
    return r;
  });

  AddAndroidEnrollRoutes(server);

  AddKmeKnoxRoutes(server);
}

}  // namespace ae::api
