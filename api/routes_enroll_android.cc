// The device-facing Android routes (no token; the KME enrollment token in the body):
// POST /enroll/android (KME's MDM agent, the Knox Deployment App) and the agent's
// /enroll/android/policy and /enroll/android/policy/ack. They parse the request, call the
// Android enrollment (adapters/samsung_knox/android_enrollment.h) and render its answer.

#include "adapters/samsung_knox/android_enrollment.h"
#include "api/kme_views.h"
#include "api/lookup.h"
#include "api/request_body.h"
#include "api/server.h"
#include "domain/users/users.h"
#include "events/base/logging.h"

namespace ae::api {

namespace {

namespace dkme = ae::domain::kme;
namespace users = ae::domain::users;
namespace v1 = autoenroll::events::v1;
using knox::AndroidEnrollment;
using nlohmann::json;

constexpr size_t kMaxEnrollBody = 16 << 10;

Status TooLarge(const char* what) {
  return Status(StatusCode::kPayloadTooLarge, "request.too_large",
                std::string(what) + " is larger than " + std::to_string(kMaxEnrollBody) +
                    " bytes");
}

// The identifiers a device sends; kme.missing_identifiers when it sends none.
Result<dkme::Identifiers> IdentifiersOf(const json& body) {
  AE_ASSIGN_OR_RETURN(std::string imei, StrField(body, "imei", 64));
  AE_ASSIGN_OR_RETURN(std::string imei2, StrField(body, "imei2", 64));
  AE_ASSIGN_OR_RETURN(std::string meid, StrField(body, "meid", 64));
  AE_ASSIGN_OR_RETURN(std::string serial, StrField(body, "serial_number", 64));
  AE_ASSIGN_OR_RETURN(dkme::Identifiers ids, ParseKmeIdentifiers(imei, imei2, meid, serial));
  if (ids.empty()) {
    return InvalidArgument("kme.missing_identifiers",
                           "send at least one of imei, imei2, meid, serial_number", "imei");
  }
  return ids;
}

Result<Reply> EnrollAndroid(Server& server, Call& call) {
  App& app = server.app();
  if (call.req.body.size() > kMaxEnrollBody) return TooLarge("the enrollment request");
  AE_ASSIGN_OR_RETURN(json body, call.Json());
  AE_ASSIGN_OR_RETURN(std::string source_text, StrField(body, "source", 32));
  knox::AndroidEnrollRequest request;
  if (source_text.empty() || source_text == "kme") {
    request.source = v1::KME_SOURCE_CSV;  // a device KME provisioned: its record came from an import
  } else if (source_text == "knox_deployment") {
    request.source = v1::KME_SOURCE_KNOX_DEPLOYMENT;
  } else {
    return InvalidArgument("kme.bad_source", "source must be \"kme\" or \"knox_deployment\"",
                           "source");
  }
  AE_ASSIGN_OR_RETURN(std::string token, StrField(body, "enrollment_token", 256));
  auto settings = app.android().CheckToken(token);
  if (!settings.ok()) {
    if (settings.status().reason() == "enroll.not_allowed") {
      log::Get("kme")->warn("android enrollment refused: {} enrollment token (from {})",
                            token.empty() ? "no" : "a wrong", call.req.remote_addr);
    }
    return settings.status();
  }
  // The whole request is read and checked before any device or user is looked up: what is
  // answered from here on depends on this request alone, or is NotAllowed().
  AE_ASSIGN_OR_RETURN(std::string imei, StrField(body, "imei", 64));
  AE_ASSIGN_OR_RETURN(std::string imei2, StrField(body, "imei2", 64));
  AE_ASSIGN_OR_RETURN(std::string meid, StrField(body, "meid", 64));
  AE_ASSIGN_OR_RETURN(std::string serial, StrField(body, "serial_number", 64));
  AE_ASSIGN_OR_RETURN(request.model, StrField(body, "model", 64));
  AE_ASSIGN_OR_RETURN(request.user_name, StrField(body, "user_id", 64));
  // `password` is accepted and ignored: it is never stored or logged. `user_id` matters
  // only to the Knox Deployment App (KME devices get their user from the import).
  if (request.source == v1::KME_SOURCE_KNOX_DEPLOYMENT && !request.user_name.empty() &&
      !users::ValidateUsername(request.user_name).ok()) {
    return InvalidArgument("kme.bad_user_id",
                           "user_id must be 1 to 64 of letters, digits and . _ - @ +",
                           "user_id");
  }
  AE_ASSIGN_OR_RETURN(request.ids, ParseKmeIdentifiers(imei, imei2, meid, serial));
  if (request.ids.empty()) {
    return InvalidArgument("kme.missing_identifiers",
                           "send at least one of imei, imei2, meid, serial_number", "imei");
  }
  AE_ASSIGN_OR_RETURN(knox::AndroidEnrolled enrolled,
                      app.android().Enroll(*settings, request, call.Context()));
  AE_RETURN_IF_ERROR(server.WaitForViews(enrolled.position));
  // `user` stays in the answer (API.md names it) but is always null: a caller who knows a
  // device's identifiers must not learn who it belongs to. A 200 already says the device
  // has a user (enrolling needs one).
  const json& handed = enrolled.handed.policy;
  json out = {{"device_id", enrolled.device_id},
              {"user", nullptr},
              {"policy", PolicyName(app, enrolled.policy_id)},
              {"ruleset", RuleSetName(app, enrolled.ruleset_id)},
              {"policy_version",
               handed["policy"].is_object() ? handed["policy"]["version"] : json(nullptr)},
              {"android_config", handed["policy"].is_object()
                                     ? handed["policy"]["android_config"]
                                     : json(nullptr)},
              {"ruleset_version",
               handed["ruleset"].is_object() ? handed["ruleset"]["version"] : json(nullptr)},
              {"rules",
               handed["ruleset"].is_object() ? handed["ruleset"]["rules"] : json(nullptr)}};
  Reply r = Reply::Json(200, std::move(out));
  r.position = enrolled.position;
  return r;
}

// The enrolled Android device an agent request names (the enrollment token and the
// device's identifiers, as POST /enroll/android takes them), and its body.
struct AgentRequest {
  knox::AndroidAgent agent;
  json body;
};
Result<AgentRequest> AuthenticateAgent(App& app, Call& call) {
  if (call.req.body.size() > kMaxEnrollBody) return TooLarge("the request");
  AgentRequest out;
  AE_ASSIGN_OR_RETURN(out.body, call.Json());
  AE_ASSIGN_OR_RETURN(std::string token, StrField(out.body, "enrollment_token", 256));
  AE_RETURN_IF_ERROR(app.android().CheckToken(token).status());
  AE_ASSIGN_OR_RETURN(dkme::Identifiers ids, IdentifiersOf(out.body));
  AE_ASSIGN_OR_RETURN(out.agent, app.android().AuthenticateAgent(ids, call.Context()));
  return out;
}

// GET-like: the agent's current policy and rule set, recorded as delivered.
Result<Reply> AndroidPolicy(Server& server, Call& call) {
  App& app = server.app();
  AE_ASSIGN_OR_RETURN(AgentRequest req, AuthenticateAgent(app, call));
  AE_ASSIGN_OR_RETURN(knox::AndroidHanded handed, app.android().DeliverPolicy(req.agent));
  if (handed.position.valid()) AE_RETURN_IF_ERROR(server.WaitForViews(handed.position));
  json out = std::move(handed.policy);
  out["device_id"] = req.agent.device_id;
  Reply r = Reply::Json(200, std::move(out));
  r.position = handed.position;
  return r;
}

// The agent's answer to what it was handed: {policy_version?, ruleset_version?, status,
// error?}.
Result<Reply> AndroidPolicyAck(Server& server, Call& call) {
  App& app = server.app();
  AE_ASSIGN_OR_RETURN(AgentRequest req, AuthenticateAgent(app, call));
  auto version = [&](const char* field) -> Result<uint32_t> {
    auto it = req.body.find(field);
    if (it == req.body.end() || it->is_null()) return 0u;
    if (!it->is_number_unsigned() || it->get<uint64_t>() > UINT32_MAX) {
      return InvalidArgument("request.bad_field", std::string(field) + " must be a version number",
                             field);
    }
    return static_cast<uint32_t>(it->get<uint64_t>());
  };
  AE_ASSIGN_OR_RETURN(uint32_t pv, version("policy_version"));
  AE_ASSIGN_OR_RETURN(uint32_t rv, version("ruleset_version"));
  AE_ASSIGN_OR_RETURN(std::string status, StringField(req.body, "status", true, 32));
  AE_ASSIGN_OR_RETURN(std::string error, StrField(req.body, "error", 1024));
  AE_ASSIGN_OR_RETURN(knox::AndroidAcknowledged ack,
                      app.android().Acknowledge(req.agent, pv, rv, status, error));
  AE_RETURN_IF_ERROR(server.WaitForViews(ack.position));
  Reply r = Reply::Json(200, {{"device_id", req.agent.device_id},
                              {"policy_version", pv},
                              {"ruleset_version", rv},
                              {"status", status},
                              {"recorded", ack.recorded}});
  r.position = ack.position;
  return r;
}

}  // namespace

void AddAndroidEnrollRoutes(Server& server) {
  server.Route("POST", "/enroll/android", "/enroll/android", Access::kPublic,
               [&server](Call& call) { return EnrollAndroid(server, call); });
  server.Route("POST", "/enroll/android/policy", "/enroll/android/policy", Access::kPublic,
               [&server](Call& call) { return AndroidPolicy(server, call); });
  server.Route("POST", "/enroll/android/policy/ack", "/enroll/android/policy/ack",
               Access::kPublic, [&server](Call& call) { return AndroidPolicyAck(server, call); });
}

}  // namespace ae::api
