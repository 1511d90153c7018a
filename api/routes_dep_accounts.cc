// Apple DEP accounts: create, list, read (now or as of a point), the account's public
// certificate, the server token upload and a sync request (API.md "Apple DEP").

#include "adapters/apple_dep/server_identity.h"
#include "adapters/apple_dep/token.h"
#include "api/history.h"
#include "api/request_body.h"
#include "api/routes_dep.h"
#include "domain/dep/dep.h"
#include "events/base/crypto.h"
#include "projections/dep_projector.h"

namespace ae::api {

namespace ddep = domain::dep;
using nlohmann::json;
using proj::DepAccountRecord;
using proj::DepCounts;

namespace {

constexpr int64_t kTokenWarningMs = 30LL * 24 * 3600 * 1000;

// The account's current device counts (zero when it has none).
DepCounts CurrentCounts(App& app, const std::string& account_id) {
  auto c = DepView<proj::DepCountsRecord>(app, account_id);
  if (c.ok() && c->has_value()) return (*c)->counts;
  return DepCounts{};
}

// `counts`: the device counts to show (std::nullopt: the current ones).
json RenderAccount(App& app, const DepAccountRecord& a,
                   const std::optional<DepCounts>& counts = std::nullopt) {
  json out = a.ToJson();
  out["device_counts"] = (counts ? *counts : CurrentCounts(app, a.id)).ToJson();
  out.erase("certificate_pem");
  out.erase("last_position");
  std::string warning;
  int64_t expiry = 0;
  if (a.token_expires_at && ParseRfc3339(*a.token_expires_at, &expiry)) {
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
Result<DepCounts> CountsAsOf(App& app, const std::string& account_id, const AsOfPoint& point) {
  AsOfPoint at = point;
  AE_RETURN_IF_ERROR(ResolveAsOf(app, &at));
  AE_ASSIGN_OR_RETURN(auto now, DepView<proj::DepCountsRecord>(app, account_id));
  if (!now) return DepCounts{};
  if (!now->seq) {
    return Unavailable("views.rebuilding",
                       "these views predate the counts history and are being rebuilt; "
                       "GET /v1/admin/views/rebuild shows when they are done");
  }
  auto entry = [&](uint64_t seq) -> Result<proj::DepCountsChange> {
    auto change = DepView<proj::DepCountsChange>(app, proj::DepCountsHistoryKey(account_id, seq));
    if (change.ok() && change->has_value()) return std::move(**change);
    if (!change.ok() && change.status().code() != StatusCode::kCorruption) return change.status();
    return Corruption("view.corruption", "dep_counts_history lacks change " +
                                             std::to_string(seq) + " of " + account_id);
  };
  auto included = [&](const proj::DepCountsChange& e) {
    auto pos = LogPosition::Parse(e.position);
    return pos && at.Includes(*pos, e.recorded_ms);
  };
  uint64_t lo = 0, hi = *now->seq;  // answer in [lo, hi]; 0 = none
  std::optional<proj::DepCountsChange> best;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo + 1) / 2;
    AE_ASSIGN_OR_RETURN(auto e, entry(mid));
    if (included(e)) {
      lo = mid;
      best = std::move(e);
    } else {
      hi = mid - 1;
    }
  }
  if (lo == 0) return DepCounts{};
  if (!best) { AE_ASSIGN_OR_RETURN(best, entry(lo)); }
  return best->counts;
}

// POST /v1/dep/accounts
Result<Reply> CreateAccount(Server& server, App& app, Call& call) {
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
  AE_ASSIGN_OR_RETURN(DepAccountRecord a, LoadDepAccount(app, id));
  return Written(201, RenderAccount(app, a), res.position);
}

// GET /v1/dep/accounts
Result<Reply> ListAccounts(App& app, Call& call) {
  AE_ASSIGN_OR_RETURN(Page page, ParsePage(call));
  json items = json::array();
  std::optional<std::string> next;
  std::string last;
  AE_RETURN_IF_ERROR(app.views().Scan(DepAccountRecord::kTable, "", page.cursor,
                                      [&](std::string_view k, std::string_view v) {
    if (!page.cursor.empty() && k == page.cursor) return true;
    if (items.size() == page.limit) {
      next = last;
      return false;
    }
    auto a = DepAccountRecord::Decode(v);
    if (a.ok()) items.push_back(RenderAccount(app, *a));
    last = std::string(k);
    return true;
  }));
  return Reply::Json(200, PageJson(std::move(items), next));
}

// GET /v1/dep/accounts/{id}[?as_of=]
Result<Reply> GetAccount(App& app, Call& call) {
  AE_ASSIGN_OR_RETURN(auto as_of, ParseAsOf(call.Param("as_of")));
  AE_ASSIGN_OR_RETURN(DepAccountRecord a, LoadDepAccount(app, call.req.matches[1]));
  if (!as_of) return Reply::Json(200, RenderAccount(app, a));
  const std::string id = a.id;
  proj::DepProjector projector;
  AE_ASSIGN_OR_RETURN(auto then, AsOf<DepAccountRecord>(app, projector,
                                                        {StreamId("dep-account", id)}, id, *as_of));
  if (!then) return NotFound("dep.account_not_found", "no DEP account " + id + " at that point");
  AE_ASSIGN_OR_RETURN(DepCounts counts, CountsAsOf(app, id, *as_of));
  json out = RenderAccount(app, *then, counts);
  out["as_of"] = call.Param("as_of");
  return Reply::Json(200, out);
}

// GET /v1/dep/accounts/{id}/certificate
Result<Reply> GetAccountCertificate(App& app, Call& call) {
  AE_ASSIGN_OR_RETURN(DepAccountRecord a, LoadDepAccount(app, call.req.matches[1]));
  Reply r;
  r.raw = a.certificate_pem;
  r.content_type = "application/x-pem-file";
  return r;
}

// PUT /v1/dep/accounts/{id}/token
Result<Reply> UploadToken(Server& server, App& app, Call& call) {
  const std::string id = call.req.matches[1];
  AE_ASSIGN_OR_RETURN(DepAccountRecord a, LoadDepAccount(app, id));
  if (call.req.body.empty()) {
    return Unprocessable(dep::kTokenMalformed, "the body is empty: send the .p7m file");
  }
  AE_ASSIGN_OR_RETURN(auto key_pem, app.secrets().Get(dep::AccountKeySecret(id)));
  if (!key_pem) return Internal("dep.key_missing", "the account's private key is missing");
  AE_ASSIGN_OR_RETURN(auto identity, dep::ServerIdentity::FromPem(a.certificate_pem, *key_pem));
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
  AE_ASSIGN_OR_RETURN(DepAccountRecord after, LoadDepAccount(app, id));
  return Written(200, RenderAccount(app, after), res.position);
}

// POST /v1/dep/accounts/{id}/sync
Result<Reply> RequestSync(App& app, Call& call) {
  const std::string id = call.req.matches[1];
  AE_ASSIGN_OR_RETURN(DepAccountRecord a, LoadDepAccount(app, id));
  if (a.state != "active") {
    return FailedPrecondition("dep.account_inactive",
                              "the account is " + a.state + "; upload a valid server token first");
  }
  app.dep().RequestSync(id);
  return Reply::Json(202, {{"account_id", id}, {"sync", "requested"}});
}

}  // namespace

void AddDepAccountRoutes(Server& server) {
  App& app = server.app();
  server.Route("POST", "/v1/dep/accounts", "/v1/dep/accounts", Access::kAdministrator,
               [&server, &app](Call& call) { return CreateAccount(server, app, call); });
  server.Route("GET", "/v1/dep/accounts", "/v1/dep/accounts", Access::kDeviceManager,
               [&app](Call& call) { return ListAccounts(app, call); });
  server.Route("GET", R"(/v1/dep/accounts/([^/]+))", "/v1/dep/accounts/{id}",
               Access::kDeviceManager, [&app](Call& call) { return GetAccount(app, call); });
  server.Route("GET", R"(/v1/dep/accounts/([^/]+)/certificate)",
               "/v1/dep/accounts/{id}/certificate", Access::kDeviceManager,
               [&app](Call& call) { return GetAccountCertificate(app, call); });
  server.Route("PUT", R"(/v1/dep/accounts/([^/]+)/token)", "/v1/dep/accounts/{id}/token",
               Access::kAdministrator,
               [&server, &app](Call& call) { return UploadToken(server, app, call); });
  server.Route("POST", R"(/v1/dep/accounts/([^/]+)/sync)", "/v1/dep/accounts/{id}/sync",
               Access::kDeviceManager, [&app](Call& call) { return RequestSync(app, call); });
}

}  // namespace ae::api
