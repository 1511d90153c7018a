// Apple DEP devices: list, read (now or as of a point), history, the assignment of a
// profile, user, policy and rule set, profile removal and disown (API.md "Apple DEP").

#include "api/history.h"
#include "api/lookup.h"
#include "api/request_body.h"
#include "api/routes_dep.h"
#include "domain/dep/dep.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"
#include "projections/dep_projector.h"
#include "projections/json_record.h"

namespace ae::api {

namespace ddep = domain::dep;
namespace pb = autoenroll::events::v1;
using nlohmann::json;
using proj::DepDeviceRecord;

namespace {

// A device as the API shows it, written directly (keys in nlohmann's order, so the bytes are
// those nlohmann would dump): GET answers these bytes as they are.
std::string RenderDeviceBytes(App& app, const DepDeviceRecord& d) {
  std::string out;
  out.reserve(640);
  proj::json_record::Writer w(out);
  auto name = [&](std::string_view key, const std::string& n) {
    if (n.empty()) w.Null(key);
    else w.Str(key, n);
  };
  w.Str("account_id", d.account_id)
      .Str("asset_tag", d.asset_tag)
      .Bool("assigned_to_server", d.assigned_to_server)
      .Bool("assignment_pending", !d.pending_request_id.empty())
      .Str("color", d.color)
      .Str("created_at", d.created_at)
      .Str("description", d.description)
      .Str("device_assigned_by", d.device_assigned_by)
      .OptStr("device_assigned_date", d.device_assigned_date)
      .Str("device_family", d.device_family)
      .Bool("disowned", d.disowned)
      .Str("enrollment", d.enrollment);
  if (const auto& e = d.last_assignment_error) {
    w.Object("last_assignment_error", [&](proj::json_record::Writer& o) {
      o.Str("at", e->at)
          .Str("profile_id", e->profile_id)
          .Str("reason", e->reason)
          .Str("request_id", e->request_id)
          .OptStr("retry_after", e->retry_after);
    });
  } else {
    w.Null("last_assignment_error");
  }
  w.Str("model", d.model).Str("os", d.os);
  name("policy", PolicyName(app, d.policy_id));
  w.OptStr("profile_assign_time", d.profile_assign_time)
      .Str("profile_id", d.profile_id)
      .OptStr("profile_push_time", d.profile_push_time)
      .Str("profile_status", d.profile_status)
      .Str("profile_uuid", d.profile_uuid);
  name("ruleset", RuleSetName(app, d.ruleset_id));
  w.Str("serial_number", d.serial_number).Str("updated_at", d.updated_at);
  name("user", UsernameOf(app, d.user_id));
  w.Close();
  return out;
}

json RenderDevice(App& app, const DepDeviceRecord& d) {
  return json::parse(RenderDeviceBytes(app, d));
}

// GET /v1/dep/devices[?account_id=&profile_status=&q=]
Result<Reply> ListDevices(App& app, Call& call) {
  AE_ASSIGN_OR_RETURN(Page page, ParsePage(call));
  const std::string account = call.Param("account_id");
  const std::string status = call.Param("profile_status");
  if (!status.empty() && status != "empty" && status != "assigned" && status != "pushed" &&
      status != "removed") {
    return InvalidArgument("request.bad_param",
                           "profile_status must be empty, assigned, pushed or removed",
                           "profile_status");
  }
  std::string q = call.Param("q");
  for (char& c : q) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  json items = json::array();
  std::optional<std::string> next;
  std::string last;
  size_t scanned = 0;
  AE_RETURN_IF_ERROR(app.views().Scan(DepDeviceRecord::kTable, "", page.cursor,
                                      [&](std::string_view k, std::string_view v) {
    if (!page.cursor.empty() && k == page.cursor) return true;
    if (++scanned > 200000) {  // bounded: a filter that matches little pages on
      next = last;
      return false;
    }
    if (items.size() == page.limit) {
      next = last;
      return false;
    }
    last = std::string(k);
    if (!q.empty() && k.find(q) == std::string_view::npos) return true;
    auto d = DepDeviceRecord::Decode(v);
    if (!d.ok()) return true;
    if (!account.empty() && d->account_id != account) return true;
    if (!status.empty() && d->profile_status != status) return true;
    items.push_back(RenderDevice(app, *d));
    return true;
  }));
  return Reply::Json(200, PageJson(std::move(items), next));
}

// GET /v1/dep/devices/{serial}[?as_of=]
Result<Reply> GetDevice(App& app, Call& call) {
  AE_ASSIGN_OR_RETURN(auto as_of, ParseAsOf(call.Param("as_of")));
  if (!as_of) {
    AE_ASSIGN_OR_RETURN(DepDeviceRecord d, LoadDepDevice(app, call.req.matches[1]));
    Reply r{200};
    r.raw = RenderDeviceBytes(app, d);
    r.content_type = "application/json";
    return r;
  }
  AE_ASSIGN_OR_RETURN(std::string serial, ParseSerial(call.req.matches[1]));
  proj::DepProjector projector;
  AE_ASSIGN_OR_RETURN(
      auto then, AsOf<DepDeviceRecord>(app, projector,
                                       {StreamId("dep-device", serial), StreamId("device", serial)},
                                       serial, *as_of));
  if (!then) return NotFound("dep.device_not_found", "no DEP device " + serial + " at that point");
  json out = RenderDevice(app, *then);
  out["as_of"] = call.Param("as_of");
  return Reply::Json(200, out);
}

// GET /v1/dep/devices/{serial}/history
Result<Reply> GetDeviceHistory(App& app, Call& call) {
  AE_ASSIGN_OR_RETURN(std::string serial, ParseSerial(call.req.matches[1]));
  AE_ASSIGN_OR_RETURN(json h, History(app, {StreamId("dep-device", serial),
                                            StreamId("device", serial)}));
  if (h["items"].empty()) return NotFound("dep.device_not_found", "no DEP device " + serial);
  h["serial_number"] = serial;
  return Reply::Json(200, h);
}

// The profile a PATCH names for `device`: its UUID at Apple. 422 dep.profile_not_found,
// dep.profile_other_account; 409 dep.profile_not_defined.
Result<std::string> AssignableProfileUuid(App& app, const DepDeviceRecord& device,
                                          const std::string& profile_id) {
  std::optional<proj::DepProfileRecord> p;
  if (ValidDepId(profile_id)) {
    AE_ASSIGN_OR_RETURN(p, DepView<proj::DepProfileRecord>(app, profile_id));
  }
  if (!p) {
    return Unprocessable("dep.unknown_profile", "no DEP profile " + profile_id, "profile_id");
  }
  if (p->state != "defined") {
    return FailedPrecondition("dep.profile_not_defined",
                              "the profile is " + p->state +
                                  " at Apple; it can be assigned once Apple accepted it");
  }
  if (p->account_id != device.account_id) {
    return Unprocessable("dep.profile_other_account",
                         "the profile belongs to another DEP account than the device",
                         "profile_id");
  }
  return p->profile_uuid;
}

// PATCH /v1/dep/devices/{serial} {profile_id?, user?, policy?, ruleset?}
Result<Reply> AssignDevice(Server& server, App& app, Call& call) {
  AE_ASSIGN_OR_RETURN(DepDeviceRecord d, LoadDepDevice(app, call.req.matches[1]));
  const std::string serial = d.serial_number;
  AE_ASSIGN_OR_RETURN(json body, call.Json());
  if (!body.is_object()) return InvalidArgument("request.bad_json", "the body must be an object");
  for (const auto& [k, v] : body.items()) {
    if (k != "profile_id" && k != "user" && k != "policy" && k != "ruleset") {
      return InvalidArgument("request.unknown_field",
                             "unknown field " + k + " (profile_id, user, policy, ruleset)", k);
    }
  }
  ddep::AssignDevice cmd;
  cmd.request_id = crypto::UuidV7(app.clock().NowMs());
  AE_ASSIGN_OR_RETURN(auto profile_id, OptionalStringField(body, "profile_id", 64));
  if (profile_id && !profile_id->empty()) {
    AE_ASSIGN_OR_RETURN(cmd.profile_uuid, AssignableProfileUuid(app, d, *profile_id));
  }
  cmd.profile_id = profile_id;
  AE_ASSIGN_OR_RETURN(auto user, OptionalStringField(body, "user", 64));
  if (user && !user->empty()) {
    AE_ASSIGN_OR_RETURN(std::string uid, ResolveUserId(app, *user, pb::ROLE_DEVICE_USER, "user"));
    cmd.user_id = uid;
  } else {
    cmd.user_id = user;
  }
  AE_ASSIGN_OR_RETURN(auto policy, OptionalStringField(body, "policy", 128));
  if (policy && !policy->empty()) {
    AE_ASSIGN_OR_RETURN(std::string pid, ResolvePolicyId(app, *policy));
    cmd.policy_id = pid;
  } else {
    cmd.policy_id = policy;
  }
  AE_ASSIGN_OR_RETURN(auto ruleset, OptionalStringField(body, "ruleset", 128));
  if (ruleset && !ruleset->empty()) {
    AE_ASSIGN_OR_RETURN(std::string rid, ResolveRuleSetId(app, *ruleset));
    cmd.ruleset_id = rid;
  } else {
    cmd.ruleset_id = ruleset;
  }
  AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(StreamId("dep-device", serial),
                                                  ddep::DeviceDecider(cmd), call.Context()));
  AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
  AE_ASSIGN_OR_RETURN(DepDeviceRecord after, LoadDepDevice(app, serial));
  return Written(200, RenderDevice(app, after), res.position);
}

// DELETE /v1/dep/devices/{serial}/profile
Result<Reply> RemoveProfile(Server& server, App& app, Call& call) {
  AE_ASSIGN_OR_RETURN(DepDeviceRecord d, LoadDepDevice(app, call.req.matches[1]));
  const std::string serial = d.serial_number;
  AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(
      StreamId("dep-device", serial),
      ddep::DeviceDecider(ddep::RequestProfileRemoval{crypto::UuidV7(app.clock().NowMs())}),
      call.Context()));
  server.WaitForViews(res.position).IgnoreError();
  return Written(202, {{"serial_number", serial}, {"profile_removal", "requested"}},
                 res.position);
}

// POST /v1/dep/devices/{serial}/disown {confirm_serial_number}
Result<Reply> DisownDevice(Server& server, App& app, Call& call) {
  AE_ASSIGN_OR_RETURN(DepDeviceRecord d, LoadDepDevice(app, call.req.matches[1]));
  const std::string serial = d.serial_number;
  AE_ASSIGN_OR_RETURN(json body, call.Json());
  AE_ASSIGN_OR_RETURN(std::string confirm, StrField(body, "confirm_serial_number", 64));
  std::string upper = confirm;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (confirm.empty() || upper != serial) {
    return InvalidArgument("dep.disown_not_confirmed",
                           "disown is permanent: repeat the device's serial number in "
                           "confirm_serial_number",
                           "confirm_serial_number");
  }
  AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(
      StreamId("dep-device", serial),
      ddep::DeviceDecider(ddep::RequestDisown{crypto::UuidV7(app.clock().NowMs()),
                                              call.who.user_id}),
      call.Context()));
  server.WaitForViews(res.position).IgnoreError();
  log::Get("dep")->warn("disown of {} requested by user {}", serial, call.who.user_id);
  return Written(202, {{"serial_number", serial}, {"disown", "requested"}}, res.position);
}

}  // namespace

void AddDepDeviceRoutes(Server& server) {
  App& app = server.app();
  server.Route("GET", "/v1/dep/devices", "/v1/dep/devices", Access::kDeviceManager,
               [&app](Call& call) { return ListDevices(app, call); });
  server.Route("GET", R"(/v1/dep/devices/([^/]+))", "/v1/dep/devices/{serial}",
               Access::kDeviceManager, [&app](Call& call) { return GetDevice(app, call); });
  server.Route("GET", R"(/v1/dep/devices/([^/]+)/history)", "/v1/dep/devices/{serial}/history",
               Access::kDeviceManager, [&app](Call& call) { return GetDeviceHistory(app, call); });
  server.Route("PATCH", R"(/v1/dep/devices/([^/]+))", "/v1/dep/devices/{serial}",
               Access::kDeviceManager,
               [&server, &app](Call& call) { return AssignDevice(server, app, call); });
  server.Route("DELETE", R"(/v1/dep/devices/([^/]+)/profile)", "/v1/dep/devices/{serial}/profile",
               Access::kDeviceManager,
               [&server, &app](Call& call) { return RemoveProfile(server, app, call); });
  server.Route("POST", R"(/v1/dep/devices/([^/]+)/disown)", "/v1/dep/devices/{serial}/disown",
               Access::kAdministrator,
               [&server, &app](Call& call) { return DisownDevice(server, app, call); });
}

}  // namespace ae::api
