// Apple DEP: accounts, server token, sync, profiles, devices, assignment,
// removal and disown (API.md "Apple DEP").

#include <thread>

#include "adapters/apple_dep/server_identity.h"
#include "adapters/apple_dep/token.h"
#include "api/dep_profile.h"
#include "api/history.h"
#include "api/lookup.h"
#include "projections/dep_projector.h"
#include "api/request_body.h"
#include "api/server.h"
#include "domain/dep/dep.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"

namespace ae::api {

namespace ddep = domain::dep;
namespace pb = autoenroll::events::v1;
using nlohmann::json;

namespace {

constexpr int64_t kTokenWarningMs = 30LL * 24 * 3600 * 1000;

Result<json> ViewJson(App& app, const std::string& cf, const std::string& key) {
  AE_ASSIGN_OR_RETURN(auto raw, app.views().Get(cf, key));
  if (!raw) return json();
  json j = json::parse(*raw, nullptr, false);
  if (!j.is_object()) return Corruption("view.corruption", cf + " record does not parse");
  return j;
}

bool ValidId(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

// Serial numbers: 1-64 of [A-Za-z0-9]; Apple's are upper case.
Result<std::string> ParseSerial(const std::string& s) {
  if (s.empty() || s.size() > 64) {
    return InvalidArgument("dep.bad_serial", "a serial number has 1 to 64 letters and digits");
  }
  std::string out;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      return InvalidArgument("dep.bad_serial", "a serial number has only letters and digits");
    }
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

json ZeroCounts() {
  return {{"total", 0}, {"empty", 0}, {"assigned", 0}, {"pushed", 0}, {"removed", 0}};
}

// `counts`: the device counts to show (null: the current ones).
json RenderAccount(App& app, const json& a, const json& counts_then = nullptr) {
  json out = a;
  json counts = ZeroCounts();
  if (counts_then.is_object()) {
    counts = counts_then;
  } else {
    auto c = ViewJson(app, "dep_counts", a.value("id", ""));
    if (c.ok() && c->is_object()) {
      for (auto& [k, v] : counts.items()) v = c->value(k, 0);
    }
  }
  out["device_counts"] = counts;
  out.erase("certificate_pem");
  out.erase("last_position");
  std::string warning;
  int64_t expiry = 0;
  if (a["token_expires_at"].is_string() &&
      ParseRfc3339(a["token_expires_at"].get<std::string>(), &expiry)) {
    int64_t now = app.clock().NowMs();
    if (expiry <= now) {
      warning = "expired";
    } else if (expiry - now <= kTokenWarningMs) {
      warning = "expires_soon";
    }
  }
  out["token_warning"] = warning.empty() ? json(nullptr) : json(warning);
  return out;
}

// The device counts of an account as they were at `at`: the last change of them
// (dep_counts_history, numbered 1..seq) that `at` includes, by binary search. Log
// order and recorded times agree, so "included" is monotone over the numbers.
Result<json> CountsAsOf(App& app, const std::string& account_id, const AsOfPoint& point) {
  AsOfPoint at = point;
  AE_RETURN_IF_ERROR(ResolveAsOf(app, &at));
  AE_ASSIGN_OR_RETURN(json now, ViewJson(app, "dep_counts", account_id));
  if (!now.is_object()) return ZeroCounts();
  if (!now.contains("seq")) {
    return Unavailable("views.rebuilding",
                       "these views predate the counts history and are being rebuilt; "
                       "GET /v1/admin/views/rebuild shows when they are done");
  }
  auto entry = [&](uint64_t seq) -> Result<json> {
    AE_ASSIGN_OR_RETURN(auto raw, app.views().Get("dep_counts_history",
                                                  proj::DepCountsHistoryKey(account_id, seq)));
    json j = raw ? json::parse(*raw, nullptr, false) : json();
    if (!j.is_object()) {
      return Corruption("view.corruption", "dep_counts_history lacks change " +
                                               std::to_string(seq) + " of " + account_id);
    }
    return j;
  };
  auto included = [&](const json& e) {
    auto pos = LogPosition::Parse(e.value("position", ""));
    return pos && at.Includes(*pos, e.value("recorded_ms", int64_t{0}));
  };
  uint64_t lo = 0, hi = now.value("seq", uint64_t{0});  // answer in [lo, hi]; 0 = none
  json best;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo + 1) / 2;
    AE_ASSIGN_OR_RETURN(json e, entry(mid));
    if (included(e)) {
      lo = mid;
      best = std::move(e);
    } else {
      hi = mid - 1;
    }
  }
  json counts = ZeroCounts();
  if (lo > 0) {
    if (!best.is_object()) { AE_ASSIGN_OR_RETURN(best, entry(lo)); }
    for (auto& [k, v] : counts.items()) v = best.value(k, 0);
  }
  return counts;
}

Result<json> LoadAccount(App& app, const std::string& id) {
  if (!ValidId(id)) return NotFound("dep.account_not_found", "no DEP account " + id);
  AE_ASSIGN_OR_RETURN(json a, ViewJson(app, "dep_accounts", id));
  if (!a.is_object()) return NotFound("dep.account_not_found", "no DEP account " + id);
  return a;
}

json RenderDevice(App& app, const json& d) {
  json out = {{"serial_number", d.value("serial_number", "")},
              {"account_id", d.value("account_id", "")},
              {"model", d.value("model", "")},
              {"description", d.value("description", "")},
              {"color", d.value("color", "")},
              {"asset_tag", d.value("asset_tag", "")},
              {"os", d.value("os", "")},
              {"device_family", d.value("device_family", "")},
              {"profile_status", d.value("profile_status", "empty")},
              {"profile_uuid", d.value("profile_uuid", "")},
              {"profile_id", d.value("profile_id", "")},
              {"profile_assign_time", d.value("profile_assign_time", json(nullptr))},
              {"profile_push_time", d.value("profile_push_time", json(nullptr))},
              {"device_assigned_date", d.value("device_assigned_date", json(nullptr))},
              {"device_assigned_by", d.value("device_assigned_by", "")},
              {"user", UsernameOf(app, d.value("user_id", ""))},
              {"policy", PolicyName(app, d.value("policy_id", ""))},
              {"ruleset", RuleSetName(app, d.value("ruleset_id", ""))},
              {"assigned_to_server", d.value("assigned_to_server", false)},
              {"assignment_pending", !d.value("pending_request_id", "").empty()},
              {"last_assignment_error", d.value("last_assignment_error", json(nullptr))},
              {"enrollment", d.value("enrollment", "not_enrolled")},
              {"disowned", d.value("disowned", false)},
              {"created_at", d.value("created_at", json(nullptr))},
              {"updated_at", d.value("updated_at", json(nullptr))}};
  for (const char* k : {"user", "policy", "ruleset"}) {
    if (out[k] == "") out[k] = nullptr;
  }
  return out;
}

Result<json> LoadDevice(App& app, const std::string& raw_serial) {
  AE_ASSIGN_OR_RETURN(std::string serial, ParseSerial(raw_serial));
  AE_ASSIGN_OR_RETURN(json d, ViewJson(app, "dep_devices", serial));
  if (!d.is_object()) return NotFound("dep.device_not_found", "no DEP device " + serial);
  return d;
}

json RenderProfile(const json& p) {
  json out = p;
  out.erase("last_position");
  return out;
}

Reply Written(int status, json body, const LogPosition& pos) {
  body["position"] = pos.valid() ? json(pos.ToString()) : json(nullptr);
  Reply r = Reply::Json(status, std::move(body));
  r.position = pos;
  return r;
}

// Waits (bounded) until `pred` holds on the record `key` of `cf`.
Result<json> AwaitRecord(App& app, const std::string& cf, const std::string& key,
                         const std::function<bool(const json&)>& pred,
                         std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  json j;
  while (true) {
    AE_ASSIGN_OR_RETURN(j, ViewJson(app, cf, key));
    if (j.is_object() && pred(j)) return j;
    if (std::chrono::steady_clock::now() >= deadline) return j;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

void AddDepRoutes(Server& server) {
  App& app = server.app();

  // ---- accounts ----
  server.Route("POST", "/v1/dep/accounts", "/v1/dep/accounts", Access::kAdministrator,
               [&server, &app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(json body, call.Json());
    AE_ASSIGN_OR_RETURN(std::string name, StrField(body, "name", 128));
    if (name.empty()) return InvalidArgument("request.missing_field", "name is required", "name");
    std::string id = "acc_" + crypto::Hex(crypto::RandomBytes(8));
    dep::ServerIdentityOptions io;
    io.common_name = "autoenroll DEP " + id;
    AE_ASSIGN_OR_RETURN(auto identity, dep::ServerIdentity::Generate(io, app.clock()));
    const std::string key_ref = dep::AccountKeySecret(id);
    AE_RETURN_IF_ERROR(app.secrets().Put(key_ref, identity.PrivateKeyPem()));
    auto fp = crypto::FromHex(identity.PublicKeyFingerprint());
    AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(
        StreamId("dep-account", id),
        ddep::AccountDecider(ddep::CreateAccount{id, name, identity.CertificatePem(), key_ref,
                                                 fp.ok() ? *fp : std::string()}),
        call.Context()));
    AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
    AE_ASSIGN_OR_RETURN(json a, LoadAccount(app, id));
    return Written(201, RenderAccount(app, a), res.position);
  });

  server.Route("GET", "/v1/dep/accounts", "/v1/dep/accounts", Access::kDeviceManager,
               [&app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(Page page, ParsePage(call));
    json items = json::array();
    std::optional<std::string> next;
    std::string last;
    AE_RETURN_IF_ERROR(app.views().Scan("dep_accounts", "", page.cursor,
                                        [&](std::string_view k, std::string_view v) {
      if (!page.cursor.empty() && k == page.cursor) return true;
      if (items.size() == page.limit) {
        next = last;
        return false;
      }
      json a = json::parse(v, nullptr, false);
      if (a.is_object()) items.push_back(RenderAccount(app, a));
      last = std::string(k);
      return true;
    }));
    return Reply::Json(200, PageJson(std::move(items), next));
  });

  server.Route("GET", R"(/v1/dep/accounts/([^/]+))", "/v1/dep/accounts/{id}",
               Access::kDeviceManager, [&app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(auto as_of, ParseAsOf(call.Param("as_of")));
    AE_ASSIGN_OR_RETURN(json a, LoadAccount(app, call.req.matches[1]));
    if (as_of) {
      const std::string id = a.value("id", "");
      proj::DepProjector projector;
      AE_ASSIGN_OR_RETURN(json then, AsOf(app, projector, {StreamId("dep-account", id)},
                                          "dep_accounts", id, *as_of));
      if (!then.is_object()) {
        return NotFound("dep.account_not_found", "no DEP account " + id + " at that point");
      }
      AE_ASSIGN_OR_RETURN(json counts, CountsAsOf(app, id, *as_of));
      json out = RenderAccount(app, then, counts);
      out["as_of"] = call.Param("as_of");
      return Reply::Json(200, out);
    }
    return Reply::Json(200, RenderAccount(app, a));
  });

  server.Route("GET", R"(/v1/dep/accounts/([^/]+)/certificate)",
               "/v1/dep/accounts/{id}/certificate", Access::kDeviceManager,
               [&app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(json a, LoadAccount(app, call.req.matches[1]));
    Reply r;
    r.raw = a.value("certificate_pem", "");
    r.content_type = "application/x-pem-file";
    return r;
  });

  server.Route("PUT", R"(/v1/dep/accounts/([^/]+)/token)", "/v1/dep/accounts/{id}/token",
               Access::kAdministrator, [&server, &app](Call& call) -> Result<Reply> {
    const std::string id = call.req.matches[1];
    AE_ASSIGN_OR_RETURN(json a, LoadAccount(app, id));
    if (call.req.body.empty()) {
      return Unprocessable(dep::kTokenMalformed, "the body is empty: send the .p7m file");
    }
    AE_ASSIGN_OR_RETURN(auto key_pem, app.secrets().Get(dep::AccountKeySecret(id)));
    if (!key_pem) return Internal("dep.key_missing", "the account's private key is missing");
    AE_ASSIGN_OR_RETURN(auto identity,
                        dep::ServerIdentity::FromPem(a.value("certificate_pem", ""), *key_pem));
    AE_ASSIGN_OR_RETURN(auto token, dep::DecryptToken(call.req.body, identity, app.clock()));
    const std::string fingerprint = token.Fingerprint();
    // A new secret per token: a refused upload never overwrites the token in use.
    const std::string ref = dep::AccountTokenSecret(id) + "/" + fingerprint.substr(0, 16);
    AE_RETURN_IF_ERROR(app.secrets().Put(ref, token.ToJson()));
    auto fp = crypto::FromHex(fingerprint);
    auto ck = crypto::FromHex(token.ConsumerKeyFingerprint());
    const std::string force = call.Param("force", "false");
    if (force != "true" && force != "false") {
      return InvalidArgument("request.bad_param", "force must be true or false", "force");
    }
    AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(
        StreamId("dep-account", id),
        ddep::AccountDecider(ddep::UploadToken{fp.ok() ? *fp : "", ck.ok() ? *ck : "", ref,
                                               token.access_token_expiry_ms, force == "true"}),
        call.Context()));
    app.dep().TokenChanged(id);
    app.dep().RequestSync(id);
    AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
    AE_ASSIGN_OR_RETURN(json after, LoadAccount(app, id));
    return Written(200, RenderAccount(app, after), res.position);
  });

  server.Route("POST", R"(/v1/dep/accounts/([^/]+)/sync)", "/v1/dep/accounts/{id}/sync",
               Access::kDeviceManager, [&app](Call& call) -> Result<Reply> {
    const std::string id = call.req.matches[1];
    AE_ASSIGN_OR_RETURN(json a, LoadAccount(app, id));
    if (a.value("state", "") != "active") {
      return FailedPrecondition("dep.account_inactive",
                                "the account is " + a.value("state", "") +
                                    "; upload a valid server token first");
    }
    app.dep().RequestSync(id);
    return Reply::Json(202, {{"account_id", id}, {"sync", "requested"}});
  });

  // ---- profiles ----
  server.Route("POST", "/v1/dep/profiles", "/v1/dep/profiles", Access::kDeviceManager,
               [&server, &app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(json body, call.Json());
    if (!body.is_object()) return InvalidArgument("request.bad_json", "the body must be an object");
    AE_ASSIGN_OR_RETURN(auto profile,
                        ParseProfile(body, server.options().public_url + "/enroll/apple"));
    auto account = LoadAccount(app, profile.account_id());
    if (!account.ok()) {
      return Unprocessable("dep.account_not_found", "no DEP account " + profile.account_id(),
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
    AE_ASSIGN_OR_RETURN(json p, AwaitRecord(app, "dep_profiles", id,
                                            [](const json& j) { return j.value("state", "") != "pending"; },
                                            std::chrono::milliseconds(10000)));
    if (p.is_object() && p.value("state", "") == "failed" && p["error"].is_object() &&
        p["error"].value("code", "").rfind("dep.", 0) == 0 &&
        p["error"].value("code", "") != "dep.unavailable") {
      Status refused = Unprocessable(p["error"].value("code", ""),
                                     "Apple refused the profile: " + p["error"].value("message", ""));
      return refused;
    }
    return Written(201, RenderProfile(p), res.position);
  });

  server.Route("GET", "/v1/dep/profiles", "/v1/dep/profiles", Access::kDeviceManager,
               [&app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(Page page, ParsePage(call));
    json items = json::array();
    std::optional<std::string> next;
    std::string last;
    AE_RETURN_IF_ERROR(app.views().Scan("dep_profiles", "", page.cursor,
                                        [&](std::string_view k, std::string_view v) {
      if (!page.cursor.empty() && k == page.cursor) return true;
      if (items.size() == page.limit) {
        next = last;
        return false;
      }
      json p = json::parse(v, nullptr, false);
      if (p.is_object()) items.push_back(RenderProfile(p));
      last = std::string(k);
      return true;
    }));
    return Reply::Json(200, PageJson(std::move(items), next));
  });

  server.Route("GET", R"(/v1/dep/profiles/([^/]+))", "/v1/dep/profiles/{id}",
               Access::kDeviceManager, [&app](Call& call) -> Result<Reply> {
    const std::string id = call.req.matches[1];
    json p;
    if (ValidId(id)) {
      AE_ASSIGN_OR_RETURN(p, ViewJson(app, "dep_profiles", id));
    }
    if (!p.is_object()) return NotFound("dep.profile_not_found", "no DEP profile " + id);
    return Reply::Json(200, RenderProfile(p));
  });

  server.Route("DELETE", R"(/v1/dep/profiles/([^/]+))", "/v1/dep/profiles/{id}",
               Access::kDeviceManager, [](Call&) -> Result<Reply> {
    return Status(StatusCode::kUnimplemented, "dep.profile_delete_not_supported",
                  "Apple keeps DEP profiles forever; define a new profile and assign it instead");
  });

  // ---- devices ----
  server.Route("GET", "/v1/dep/devices", "/v1/dep/devices", Access::kDeviceManager,
               [&app](Call& call) -> Result<Reply> {
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
    AE_RETURN_IF_ERROR(app.views().Scan("dep_devices", "", page.cursor,
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
      json d = json::parse(v, nullptr, false);
      if (!d.is_object()) return true;
      if (!account.empty() && d.value("account_id", "") != account) return true;
      if (!status.empty() && d.value("profile_status", "") != status) return true;
      items.push_back(RenderDevice(app, d));
      return true;
    }));
    return Reply::Json(200, PageJson(std::move(items), next));
  });

  server.Route("GET", R"(/v1/dep/devices/([^/]+))", "/v1/dep/devices/{serial}",
               Access::kDeviceManager, [&app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(auto as_of, ParseAsOf(call.Param("as_of")));
    if (as_of) {
      AE_ASSIGN_OR_RETURN(std::string serial, ParseSerial(call.req.matches[1]));
      proj::DepProjector projector;
      AE_ASSIGN_OR_RETURN(json d, AsOf(app, projector,
                                       {StreamId("dep-device", serial), StreamId("device", serial)},
                                       "dep_devices", serial, *as_of));
      if (!d.is_object()) {
        return NotFound("dep.device_not_found", "no DEP device " + serial + " at that point");
      }
      json out = RenderDevice(app, d);
      out["as_of"] = call.Param("as_of");
      return Reply::Json(200, out);
    }
    AE_ASSIGN_OR_RETURN(json d, LoadDevice(app, call.req.matches[1]));
    return Reply::Json(200, RenderDevice(app, d));
  });

  server.Route("GET", R"(/v1/dep/devices/([^/]+)/history)", "/v1/dep/devices/{serial}/history",
               Access::kDeviceManager, [&app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(std::string serial, ParseSerial(call.req.matches[1]));
    AE_ASSIGN_OR_RETURN(json h, History(app, {StreamId("dep-device", serial),
                                              StreamId("device", serial)}));
    if (h["items"].empty()) return NotFound("dep.device_not_found", "no DEP device " + serial);
    h["serial_number"] = serial;
    return Reply::Json(200, h);
  });

  server.Route("PATCH", R"(/v1/dep/devices/([^/]+))", "/v1/dep/devices/{serial}",
               Access::kDeviceManager, [&server, &app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(json d, LoadDevice(app, call.req.matches[1]));
    const std::string serial = d.value("serial_number", "");
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
      json p;
      if (ValidId(*profile_id)) {
        AE_ASSIGN_OR_RETURN(p, ViewJson(app, "dep_profiles", *profile_id));
      }
      if (!p.is_object()) {
        return Unprocessable("dep.profile_not_found", "no DEP profile " + *profile_id, "profile_id");
      }
      if (p.value("state", "") != "defined") {
        return FailedPrecondition("dep.profile_not_defined",
                                  "the profile is " + p.value("state", "") +
                                      " at Apple; it can be assigned once Apple accepted it");
      }
      if (p.value("account_id", "") != d.value("account_id", "")) {
        return Unprocessable("dep.profile_other_account",
                             "the profile belongs to another DEP account than the device",
                             "profile_id");
      }
      cmd.profile_uuid = p.value("profile_uuid", "");
    }
    cmd.profile_id = profile_id;
    AE_ASSIGN_OR_RETURN(auto user, OptionalStringField(body, "user", 64));
    if (user && !user->empty()) {
      AE_ASSIGN_OR_RETURN(std::string uid,
                          ResolveUserId(app, *user, pb::ROLE_DEVICE_USER, "user"));
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
    AE_ASSIGN_OR_RETURN(json after, LoadDevice(app, serial));
    json out = RenderDevice(app, after);
    return Written(200, out, res.position);
  });

  server.Route("DELETE", R"(/v1/dep/devices/([^/]+)/profile)", "/v1/dep/devices/{serial}/profile",
               Access::kDeviceManager, [&server, &app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(json d, LoadDevice(app, call.req.matches[1]));
    const std::string serial = d.value("serial_number", "");
    AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(
        StreamId("dep-device", serial),
        ddep::DeviceDecider(ddep::RequestProfileRemoval{crypto::UuidV7(app.clock().NowMs())}),
        call.Context()));
    server.WaitForViews(res.position).IgnoreError();
    return Written(202, {{"serial_number", serial}, {"profile_removal", "requested"}},
                   res.position);
  });

  server.Route("POST", R"(/v1/dep/devices/([^/]+)/disown)", "/v1/dep/devices/{serial}/disown",
               Access::kAdministrator, [&server, &app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(json d, LoadDevice(app, call.req.matches[1]));
    const std::string serial = d.value("serial_number", "");
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
  });
}

}  // namespace ae::api
