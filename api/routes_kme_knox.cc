// Samsung KME: the Knox Cloud API connection and its sync (adapters/samsung_knox/knox_sync.h).
//
//   PUT    /v1/kme/knox        administrator  connect, or change the connection
//   GET    /v1/kme/knox        device_manager the connection (never the secret), its state and
//                                             last sync
//   DELETE /v1/kme/knox        administrator  disconnect (the devices stay)
//   POST   /v1/kme/knox/sync   device_manager one sync now (202); ?full=true lists every device
//
// Secrets (app.secrets()): "kme/knox/client_secret/<16 hex of its SHA-256>", the client
// secret of the connection that names it (KmeKnoxConnected.client_secret_ref).

#include <mutex>

#include "adapters/http/http_client.h"
#include "adapters/samsung_knox/knox_sync.h"
#include "api/lookup.h"
#include "api/request_body.h"
#include "api/server.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"
#include "projections/kme_records.h"

namespace ae::api {

namespace {

namespace dkme = ae::domain::kme;
using nlohmann::json;

std::mutex& KnoxMu() {  // serialises connect and disconnect (and their secrets)
  static std::mutex mu;
  return mu;
}

// The Knox connection record (not configured when there is none).
Result<proj::KmeKnoxRecord> LoadKnoxView(App& app) {
  AE_ASSIGN_OR_RETURN(auto rec,
                      proj::ReadKmeRecord<proj::KmeKnoxRecord>(app.views(),
                                                               proj::KmeKnoxRecord::kKey));
  return rec.value_or(proj::KmeKnoxRecord{});
}

// The connection as GET answers it: never the secret (nor its reference or fingerprint).
json RenderKnox(App& app, const proj::KmeKnoxRecord& rec) {
  const std::string& default_base = app.options().knox_api_url;
  const bool configured = rec.configured;
  json out;
  out["configured"] = configured;
  if (configured) {
    out["base_url"] = rec.base_url;
    out["token_url"] = rec.token_url;
    out["client_id"] = rec.client_id;
    out["customer_id"] = rec.customer_id;
    out["auto_approve_uploads"] = rec.auto_approve_uploads;
    out["connected_at"] = rec.connected_at;
    out["last_sync"] = rec.last_sync ? rec.last_sync->ToJson() : json(nullptr);
    out["last_success_at"] = rec.last_success_at ? json(*rec.last_success_at) : json(nullptr);
    out["state"] = rec.state.empty() ? std::string(dkme::kKnoxStateNeverSynced) : rec.state;
  } else {  // what a PUT without URLs would use
    const std::string base = knox::KnoxDefaultBaseUrl(default_base);
    out["base_url"] = base;
    out["token_url"] = knox::KnoxDefaultTokenUrl(default_base, base);
    out["client_id"] = "";
    out["customer_id"] = "";
    out["auto_approve_uploads"] = false;
    out["connected_at"] = nullptr;
    out["last_sync"] = nullptr;
    out["last_success_at"] = nullptr;
    out["state"] = dkme::kKnoxStateNeverSynced;
  }
  out["sync_interval_s"] = app.options().knox_sync_interval_ms / 1000;
  return out;
}

Result<Reply> Connect(Server& server, Call& call) {
  App& app = server.app();
  AE_ASSIGN_OR_RETURN(json body, call.Json());
  AE_ASSIGN_OR_RETURN(auto base_url, OptionalStringField(body, "base_url", 2048));
  AE_ASSIGN_OR_RETURN(auto token_url, OptionalStringField(body, "token_url", 2048));
  AE_ASSIGN_OR_RETURN(auto client_id, OptionalStringField(body, "client_id", 256));
  AE_ASSIGN_OR_RETURN(auto secret, OptionalStringField(body, "client_secret", 1024));
  AE_ASSIGN_OR_RETURN(auto customer_id, OptionalStringField(body, "customer_id", 64));
  bool auto_approve = false;
  if (auto it = body.find("auto_approve_uploads"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) {
      return InvalidArgument("request.bad_field", "auto_approve_uploads must be true or false",
                             "auto_approve_uploads");
    }
    auto_approve = it->get<bool>();
  }
  dkme::KnoxConnection c;
  const std::string& flag_url = app.options().knox_api_url;
  c.base_url = base_url && !base_url->empty() ? knox::WithoutTrailingSlash(*base_url)
                                               : knox::KnoxDefaultBaseUrl(flag_url);
  c.token_url = token_url && !token_url->empty() ? *token_url
                                                 : knox::KnoxDefaultTokenUrl(flag_url, c.base_url);
  AE_RETURN_IF_ERROR(http::CheckBaseUrlField(c.base_url, "base_url", "kme.knox_bad_url"));
  AE_RETURN_IF_ERROR(http::CheckBaseUrlField(c.token_url, "token_url", "kme.knox_bad_url"));
  c.client_id = client_id.value_or("");
  if (c.client_id.empty()) {
    return InvalidArgument("request.missing_field", "client_id is required", "client_id");
  }
  AE_RETURN_IF_ERROR(CheckText(c.client_id, "client_id"));
  c.customer_id = customer_id.value_or("");
  AE_RETURN_IF_ERROR(CheckText(c.customer_id, "customer_id"));
  c.auto_approve_uploads = auto_approve;
  if (secret && !secret->empty()) AE_RETURN_IF_ERROR(CheckText(*secret, "client_secret"));

  std::lock_guard lock(KnoxMu());
  AE_ASSIGN_OR_RETURN(dkme::KnoxState before, knox::LoadKnoxState(app.log()));
  bool new_secret = false;
  if (secret && !secret->empty()) {
    c.client_secret_sha256 = crypto::Sha256(*secret);
    c.client_secret_ref = knox::KnoxClientSecretName(crypto::Hex(c.client_secret_sha256));
    new_secret = !before.connected || before.connection.client_secret_ref != c.client_secret_ref;
    AE_RETURN_IF_ERROR(app.secrets().Put(c.client_secret_ref, *secret));
  } else if (before.connected) {  // keep the secret in use
    c.client_secret_sha256 = before.connection.client_secret_sha256;
    c.client_secret_ref = before.connection.client_secret_ref;
  } else {
    return InvalidArgument("request.missing_field", "client_secret is required",
                           "client_secret");
  }
  c.connection_id = crypto::UuidV7(app.bus().clock().NowMs());
  auto res = app.bus().Execute(StreamId(dkme::kKnoxStream),
                               dkme::KnoxDecider(dkme::ConnectKnox{c}), call.Context());
  if (!res.ok()) {
    if (new_secret) app.secrets().Delete(c.client_secret_ref).IgnoreError();  // never in use
    return res.status();
  }
  if (!res->events.empty()) {
    if (before.connected && before.connection.client_secret_ref != c.client_secret_ref) {
      app.secrets().Delete(before.connection.client_secret_ref).IgnoreError();
    }
    log::Get("kme")->info("Knox Cloud API connected: {} (client {}, secret sha256:{})",
                          c.base_url, c.client_id,
                          crypto::Hex(c.client_secret_sha256).substr(0, 8));
    app.knox().ConnectionChanged();
    app.knox().RequestSync(false);
  }
  AE_RETURN_IF_ERROR(server.WaitForViews(res->position));
  AE_ASSIGN_OR_RETURN(proj::KmeKnoxRecord rec, LoadKnoxView(app));
  Reply r = Reply::Json(200, RenderKnox(app, rec));
  r.body["position"] = res->position.ToString();
  r.position = res->position;
  return r;
}

}  // namespace

void AddKmeKnoxRoutes(Server& server) {
  App& app = server.app();

  server.Route("GET", "/v1/kme/knox", "/v1/kme/knox", Access::kDeviceManager,
               [&app](Call&) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(proj::KmeKnoxRecord rec, LoadKnoxView(app));
    return Reply::Json(200, RenderKnox(app, rec));
  });

  server.Route("PUT", "/v1/kme/knox", "/v1/kme/knox", Access::kAdministrator,
               [&server](Call& call) { return Connect(server, call); });

  server.Route("DELETE", "/v1/kme/knox", "/v1/kme/knox", Access::kAdministrator,
               [&server, &app](Call& call) -> Result<Reply> {
    std::lock_guard lock(KnoxMu());
    AE_ASSIGN_OR_RETURN(dkme::KnoxState before, knox::LoadKnoxState(app.log()));
    AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(StreamId(dkme::kKnoxStream),
                                                    dkme::KnoxDecider(dkme::DisconnectKnox{}),
                                                    call.Context()));
    if (!res.events.empty()) {
      app.knox().ConnectionChanged();
      app.secrets().Delete(before.connection.client_secret_ref).IgnoreError();
      log::Get("kme")->info("Knox Cloud API disconnected");
    }
    AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
    AE_ASSIGN_OR_RETURN(proj::KmeKnoxRecord rec, LoadKnoxView(app));
    Reply r = Reply::Json(200, RenderKnox(app, rec));
    r.body["position"] = res.position.ToString();
    r.position = res.position;
    return r;
  });

  server.Route("POST", "/v1/kme/knox/sync", "/v1/kme/knox/sync", Access::kDeviceManager,
               [&app](Call& call) -> Result<Reply> {
    const std::string full = call.Param("full", "false");
    if (full != "true" && full != "false") {
      return InvalidArgument("request.bad_param", "full must be true or false", "full");
    }
    AE_ASSIGN_OR_RETURN(dkme::KnoxState state, knox::LoadKnoxState(app.log()));
    if (!state.connected) {
      return FailedPrecondition("kme.knox_not_connected",
                                "no Knox Cloud API connection: PUT /v1/kme/knox first");
    }
    if (!app.knox().running()) {
      return Unavailable("kme.knox_sync_not_running",
                         "this server does not sync (a query replica); ask the writer");
    }
    app.knox().RequestSync(full == "true");
    return Reply::Json(202, {{"sync", "requested"}, {"full", full == "true"}});
  });
}

}  // namespace ae::api
