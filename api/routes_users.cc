// Users and API tokens (policies and rule sets: routes_policies.cc).

#include <algorithm>

#include "api/request_body.h"
#include "api/server.h"
#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"
#include "projections/json_record.h"
#include "projections/user_records.h"

namespace ae::api {

namespace users = domain::users;
using nlohmann::json;

namespace {

constexpr const char* kRedacted = "[redacted]";

// Renders a users-view record, opening the sealed personal data: written directly (keys in
// nlohmann's order, so the bytes are those nlohmann would dump); GET answers these bytes.
Result<std::string> RenderUserBytes(App& app, const proj::UserRecord& rec) {
  autoenroll::events::v1::SealedPersonal sealed;
  auto raw = crypto::FromBase64(rec.personal);
  if (!raw.ok() || !sealed.ParseFromString(*raw)) {
    return Corruption("view.corruption", "user record has unreadable personal data");
  }
  AE_ASSIGN_OR_RETURN(auto personal, app.person_keys().Open(sealed));
  std::string out;
  out.reserve(320);
  proj::json_record::Writer w(out);
  w.Str("created_at", rec.created_at)
      .Str("created_by", rec.created_by)
      .Str("display_name", personal ? personal->display_name() : kRedacted)
      .Str("email", personal ? personal->email() : kRedacted)
      .Str("role", rec.role)
      .UInt("tokens", rec.token_ids.size() +
                          (rec.token_hashes ? rec.token_hashes->size() : 0))  // format 2
      .Str("updated_at", rec.updated_at)
      .Str("user_id", rec.user_id)
      .Str("username", personal ? personal->username() : kRedacted);
  w.Close();
  return out;
}

Result<json> RenderUser(App& app, const proj::UserRecord& rec) {
  AE_ASSIGN_OR_RETURN(std::string bytes, RenderUserBytes(app, rec));
  return json::parse(bytes);
}

Result<proj::UserRecord> LoadUser(App& app, const std::string& username) {
  AE_RETURN_IF_ERROR(users::ValidateUsername(username));
  std::string id = users::UserIdFor(app.user_id_key(), username);
  AE_ASSIGN_OR_RETURN(auto rec, app.views().Get("users", id));
  if (!rec) return NotFound("user.not_found", "no user named " + username);
  AE_ASSIGN_OR_RETURN(proj::UserRecord u, proj::DecodeUser(*rec));
  if (u.deleted) return NotFound("user.not_found", "no user named " + username);
  return u;
}

// The user's state as the decider sees it (from the log).
Result<users::UserState> UserStateOf(App& app, const std::string& user_id) {
  AE_ASSIGN_OR_RETURN(auto records, app.log().ReadStream(StreamId("user", user_id)));
  users::UserState s;
  for (const auto& r : records) s = users::Evolve(std::move(s), r.envelope);
  return s;
}

}  // namespace

void AddUserRoutes(Server& server) {
  App& app = server.app();

  server.Route("POST", "/v1/users", "/v1/users", Access::kAdministrator,
               [&server, &app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(json body, call.Json());
    AE_ASSIGN_OR_RETURN(std::string username, StringField(body, "username", true, 64));
    AE_RETURN_IF_ERROR(users::ValidateUsername(username));
    AE_ASSIGN_OR_RETURN(std::string role_text, StringField(body, "role", true, 32));
    auto role = users::ParseRole(role_text);
    if (!role) {
      return InvalidArgument("user.invalid_role",
                             "role must be device_user, device_manager or administrator", "role");
    }
    AE_ASSIGN_OR_RETURN(std::string display_name, StringField(body, "display_name", false, 256));
    AE_ASSIGN_OR_RETURN(std::string email, StringField(body, "email", false, 254));
    if (!email.empty() && email.find('@') == std::string::npos) {
      return InvalidArgument("user.invalid_email", "email must contain @", "email");
    }
    std::string id = users::UserIdFor(app.user_id_key(), username);
    autoenroll::events::v1::PersonalData pd;
    pd.set_username(username);
    pd.set_display_name(display_name);
    pd.set_email(email);
    AE_ASSIGN_OR_RETURN(auto sealed, app.person_keys().Seal(id, pd));
    AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(
                                      StreamId("user", id),
                                      users::UserDecider(users::CreateUser{id, *role, sealed, ""}),
                                      call.Context()));
    AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
    AE_ASSIGN_OR_RETURN(proj::UserRecord rec, LoadUser(app, username));
    AE_ASSIGN_OR_RETURN(json out, RenderUser(app, rec));
    Reply r = Reply::Json(201, out);
    r.position = res.position;
    return r;
  });

  server.Route("GET", "/v1/users", "/v1/users", Access::kDeviceManager,
               [&app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(Page page, ParsePage(call));
    json items = json::array();
    std::optional<std::string> next;
    std::string last;
    Status inner;
    AE_RETURN_IF_ERROR(app.views().Scan("users", "", page.cursor, [&](std::string_view k,
                                                                      std::string_view v) {
      if (!page.cursor.empty() && k == page.cursor) return true;
      auto rec = proj::DecodeUser(v);
      if (!rec.ok() || rec->deleted) return true;
      if (items.size() == page.limit) {
        next = last;
        return false;
      }
      auto u = RenderUser(app, *rec);
      if (!u.ok()) {
        inner = u.status();
        return false;
      }
      items.push_back(*u);
      last = std::string(k);
      return true;
    }));
    AE_RETURN_IF_ERROR(inner);
    return Reply::Json(200, PageJson(std::move(items), next));
  });

  server.Route("GET", R"(/v1/users/([^/]+))", "/v1/users/{username}", Access::kDeviceManager,
               [&app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(proj::UserRecord rec, LoadUser(app, call.req.matches[1]));
    Reply r{200};
    AE_ASSIGN_OR_RETURN(r.raw, RenderUserBytes(app, rec));
    r.content_type = "application/json";
    return r;
  });

  server.Route("POST", R"(/v1/users/([^/]+)/tokens)", "/v1/users/{username}/tokens",
               Access::kAdministrator, [&server, &app](Call& call) -> Result<Reply> {
    std::string username = call.req.matches[1];
    AE_ASSIGN_OR_RETURN(proj::UserRecord rec, LoadUser(app, username));
    const std::string id = rec.user_id;
    auto fresh = app.tokens().Generate();
    // The verifier first: the event that names the token follows it.
    AE_RETURN_IF_ERROR(app.tokens().Register(fresh.token_id, id, fresh.token));
    auto res = app.bus().Execute(StreamId("user", id),
                                 users::UserDecider(users::IssueToken{id, fresh.token_id}),
                                 call.Context());
    if (!res.ok()) {
      app.tokens().Forget(fresh.token_id).IgnoreError();
      return res.status();
    }
    AE_RETURN_IF_ERROR(server.WaitForViews(res->position));
    Reply r = Reply::Json(201, {{"token", fresh.token}, {"token_id", fresh.token_id},
                                {"username", username}});
    r.position = res->position;
    return r;
  });

  server.Route("GET", R"(/v1/users/([^/]+)/tokens)", "/v1/users/{username}/tokens",
               Access::kAdministrator, [&app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(proj::UserRecord rec, LoadUser(app, call.req.matches[1]));
    json items = json::array();
    for (const auto& id : rec.token_ids) {
      AE_ASSIGN_OR_RETURN(auto row, app.views().Get("tokens", id));
      if (!row) continue;
      auto t = proj::DecodeToken(*row);
      if (!t.ok()) continue;
      auto used = app.tokens().LastUsed(id);
      items.push_back({{"token_id", id},
                       {"created_at", t->created_at},
                       {"last_used_at", used ? json(FormatRfc3339(*used)) : json(nullptr)},
                       {"legacy", t->legacy.value_or(false)}});
    }
    return Reply::Json(200, PageJson(std::move(items), std::nullopt));
  });

  server.Route("DELETE", R"(/v1/users/([^/]+)/tokens/([^/]+))",
               "/v1/users/{username}/tokens/{token_id}", Access::kAdministrator,
               [&server, &app](Call& call) -> Result<Reply> {
    std::string username = call.req.matches[1], token_id = call.req.matches[2];
    if (!users::ValidTokenId(token_id)) {
      return InvalidArgument("user.invalid_token_id",
                             "a token id is 16 lower-case hexadecimal characters", "token_id");
    }
    AE_ASSIGN_OR_RETURN(proj::UserRecord rec, LoadUser(app, username));
    const std::string id = rec.user_id;
    AE_ASSIGN_OR_RETURN(users::UserState state, UserStateOf(app, id));
    if (std::find(state.token_ids.begin(), state.token_ids.end(), token_id) ==
        state.token_ids.end()) {
      return NotFound("user.token_not_found", username + " has no token " + token_id);
    }
    // The verifier goes first: should the event then fail, the token is dead already.
    AE_RETURN_IF_ERROR(app.tokens().Forget(token_id));
    AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(
                                      StreamId("user", id),
                                      users::UserDecider(users::RevokeToken{id, token_id}),
                                      call.Context()));
    // Answer once the views (and so every later request of this process) see it.
    AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
    Reply r = Reply::Json(200, {{"username", username}, {"token_id", token_id}, {"revoked", true}});
    r.position = res.position;
    return r;
  });

  server.Route("DELETE", R"(/v1/users/([^/]+))", "/v1/users/{username}", Access::kAdministrator,
               [&server, &app](Call& call) -> Result<Reply> {
    std::string username = call.req.matches[1];
    AE_RETURN_IF_ERROR(users::ValidateUsername(username));
    std::string forget_text = call.Param("forget", "false");
    if (forget_text != "true" && forget_text != "false") {
      return InvalidArgument("request.bad_param", "forget must be true or false", "forget");
    }
    bool forget = forget_text == "true";
    std::string id = users::UserIdFor(app.user_id_key(), username);
    if (id == call.who.user_id) {
      return FailedPrecondition("user.cannot_delete_self", "you cannot delete your own user");
    }
    AE_ASSIGN_OR_RETURN(users::UserState before, UserStateOf(app, id));
    AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(
                                      StreamId("user", id),
                                      users::UserDecider(users::DeleteUser{id, forget}),
                                      call.Context()));
    // The views drop the tokens with the user; their verifiers go too.
    for (const auto& token_id : before.token_ids) {
      Status forgotten = app.tokens().Forget(token_id);
      if (!forgotten.ok()) {
        log::Get("api")->warn("cannot destroy the verifier of token {}: {}", token_id,
                              forgotten.ToString());
      }
    }
    if (forget) AE_RETURN_IF_ERROR(app.person_keys().Destroy(id));
    server.WaitForViews(res.position).IgnoreError();
    Reply r = Reply::Json(200, {{"user_id", id}, {"deleted", true}, {"forgotten", forget}});
    r.position = res.position;
    return r;
  });
}

}  // namespace ae::api
