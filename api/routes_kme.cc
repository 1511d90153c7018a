// Samsung KME: settings, CSV import, devices, and the Android enrollment endpoint.
//
// Secrets (app.secrets()): "kme/enrollment-token/<id>" (the enrollment token named by the
// last KmeEnrollmentTokenRotated), "kme/server-certificate" and "kme/server-key" (the
// self-signed certificate used when the server has no --tls-cert).

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "adapters/apple_dep/server_identity.h"
#include "api/cli/commands.h"
#include "api/history.h"
#include "api/kme_views.h"
#include "api/lookup.h"
#include "api/policy_delivery.h"
#include "api/request_body.h"
#include "api/server.h"
#include "domain/policies/policies.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"
#include "projections/kme_projector.h"

namespace ae::api {

namespace {

namespace dkme = ae::domain::kme;
namespace pol = ae::domain::policies;
namespace users = ae::domain::users;
namespace v1 = autoenroll::events::v1;
using nlohmann::json;

constexpr const char* kTokenSecretPrefix = "kme/enrollment-token/";
constexpr const char* kCertSecret = "kme/server-certificate";
constexpr const char* kKeySecret = "kme/server-key";
constexpr size_t kMaxEnrollBody = 16 << 10;
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

std::mutex& SettingsMu() {
  static std::mutex mu;
  return mu;
}

// ---- settings ------------------------------------------------------------------------

Result<dkme::SettingsState> LoadSettings(App& app) {
  AE_ASSIGN_OR_RETURN(auto records, app.log().ReadStream(StreamId(dkme::kSettingsStream), 1,
                                                         SIZE_MAX));
  dkme::SettingsState s;
  for (const auto& r : records) s = dkme::EvolveSettings(std::move(s), r.envelope);
  return s;
}

// A new random token, stored in the secret store, recorded by its hash.
struct NewToken {
  std::string token;
  LogPosition position;
};

Result<NewToken> MakeToken(App& app, const domain::CommandContext& ctx, bool only_if_missing) {
  NewToken out;
  out.token = "kme_" + crypto::Base64Url(crypto::RandomBytes(32));
  std::string sha = crypto::Sha256(out.token);
  std::string ref = kTokenSecretPrefix + crypto::Hex(sha).substr(0, 16);
  AE_RETURN_IF_ERROR(app.secrets().Put(ref, out.token));
  auto res = app.bus().Execute(StreamId(dkme::kSettingsStream),
                               dkme::SettingsDecider({sha, ref, only_if_missing}), ctx);
  if (!res.ok() || res->events.empty()) {
    app.secrets().Delete(ref).IgnoreError();  // not recorded: never valid
    if (!res.ok()) return res.status();
    out.token.clear();
  }
  out.position = res->position;
  return out;
}

// The current enrollment token; created on first use when `create`.
Result<std::string> CurrentToken(App& app, const domain::CommandContext& ctx, bool create,
                                 LogPosition* created_at = nullptr) {
  AE_ASSIGN_OR_RETURN(auto s, LoadSettings(app));
  if (!s.has_token) {
    if (!create) return std::string();
    std::lock_guard lock(SettingsMu());
    AE_ASSIGN_OR_RETURN(NewToken made, MakeToken(app, ctx, true));
    if (!made.token.empty()) {
      if (created_at) *created_at = made.position;
      return made.token;
    }
    AE_ASSIGN_OR_RETURN(s, LoadSettings(app));
  }
  AE_ASSIGN_OR_RETURN(auto token, app.secrets().Get(s.secret_ref));
  if (!token) {
    return Internal("kme.token_secret_missing",
                    "the enrollment token's secret is missing from the secret store; rotate it");
  }
  return *token;
}

std::string ColonHexUpper(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i) out.push_back(':');
    auto b = static_cast<unsigned char>(bytes[i]);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

// SHA-256 of the DER of the first certificate in `pem`, as Knox shows it (AB:CD:...).
Result<std::string> CertificateFingerprint(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(),
                                                                static_cast<int>(pem.size())),
                                                BIO_free);
  if (!bio) return Internal("kme.certificate", "cannot read the certificate");
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) return Internal("kme.certificate", "the server certificate is not a PEM certificate");
  unsigned char* der = nullptr;
  int len = i2d_X509(cert.get(), &der);
  if (len <= 0) return Internal("kme.certificate", "cannot encode the server certificate");
  std::string sha = crypto::Sha256(std::string_view(reinterpret_cast<char*>(der),
                                                    static_cast<size_t>(len)));
  OPENSSL_free(der);
  return ColonHexUpper(sha);
}

// The server's certificate: the --tls-cert file, else a self-signed one made once.
Result<std::string> ServerCertificatePem(Server& server) {
  App& app = server.app();
  const std::string& path = server.options().tls_cert;
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Unavailable("kme.certificate", "cannot read the TLS certificate file");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  AE_ASSIGN_OR_RETURN(auto cert, app.secrets().Get(kCertSecret));
  if (cert) return *cert;
  std::lock_guard lock(SettingsMu());
  AE_ASSIGN_OR_RETURN(cert, app.secrets().Get(kCertSecret));
  if (cert) return *cert;
  dep::ServerIdentityOptions o;
  o.common_name = "autoenroll-kme";
  o.validity_days = 3650;
  AE_ASSIGN_OR_RETURN(auto identity, dep::ServerIdentity::Generate(o, app.bus().clock()));
  AE_RETURN_IF_ERROR(app.secrets().Put(kKeySecret, identity.PrivateKeyPem()));
  std::string pem = identity.CertificatePem();
  AE_RETURN_IF_ERROR(app.secrets().Put(kCertSecret, pem));
  log::Get("kme")->info("made the self-signed KME server certificate (kept in the secret store)");
  return pem;
}

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
    AE_ASSIGN_OR_RETURN(std::string pem, ServerCertificatePem(server));
    AE_ASSIGN_OR_RETURN(fingerprint, CertificateFingerprint(pem));
  }
  AE_ASSIGN_OR_RETURN(dkme::SettingsState settings, LoadSettings(server.app()));
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

json RenderDevice(App& app, const json& rec) {
  json out = {{"id", rec.value("id", "")},
              {"imei", rec.value("imei", "")},
              {"imei2", rec.value("imei2", "")},
              {"meid", rec.value("meid", "")},
              {"serial_number", rec.value("serial_number", "")},
              {"model", rec.value("model", "")},
              {"profile_name", rec.value("profile_name", "")},
              {"tags", rec.value("tags", json::array())},
              {"attributes", rec.value("attributes", json::object())},
              {"knox_status", rec.value("knox_status", "")},
              {"user", UsernameOf(app, rec.value("user_id", ""))},
              {"user_from_knox_deployment", rec.value("user_by_deployment", false)},
              {"policy", PolicyName(app, rec.value("policy_id", ""))},
              {"ruleset", RuleSetName(app, rec.value("ruleset_id", ""))},
              {"source", rec.value("source", "")},
              {"enrollment", rec.value("enrollment", "not_enrolled")},
              {"created_at", rec.value("created_at", "")},
              {"updated_at", rec.value("updated_at", "")}};
  std::string enrolled_at = rec.value("enrolled_at", "");
  out["enrolled_at"] = enrolled_at.empty() ? json(nullptr) : json(enrolled_at);
  out["user_conflict"] = nullptr;
  if (auto c = rec.find("user_conflict"); c != rec.end() && c->is_object()) {
    json conflict = {{"at", c->value("at", "")},
                     {"position", c->value("position", "")},
                     {"knox_deployment_user", UsernameOf(app, c->value("deployment_user_id", ""))},
                     {"user", UsernameOf(app, c->value("user_id", ""))},
                     {"by", c->value("by", "")}};
    if (c->contains("import_id")) conflict["import_id"] = c->value("import_id", "");
    if (c->contains("line")) conflict["line"] = c->value("line", 0);
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
    AE_ASSIGN_OR_RETURN(json rec, LoadKmeDevice(app, id));
    if (!rec.is_object()) return Status::Ok();
    items.push_back(RenderDevice(app, rec));
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

// ---- enrollment ------------------------------------------------------------------------

Result<dkme::DeviceState> LoadDeviceStream(App& app, const std::string& device_id) {
  dkme::DeviceState s;
  if (device_id.empty()) return s;
  AE_ASSIGN_OR_RETURN(auto records, app.log().ReadStream(StreamId(dkme::kDeviceStreamType,
                                                                  device_id),
                                                         1, SIZE_MAX));
  for (const auto& r : records) s = dkme::Evolve(std::move(s), r.envelope);
  return s;
}

// Every refusal of the device-facing route after its input is read is this one answer, so
// that it tells a caller nothing about other devices or users (whether a device is
// imported, has a user, came from the CSV, or whose it is). The reason is logged and,
// past the enrollment token, recorded for administrators (KmeEnrollmentRefused).
Status NotAllowed() {
  return PermissionDenied("enroll.not_allowed",
                          "this device may not enroll here; the administrator can see why");
}

// Records the refusal (`why` is its reason) and returns the answer: NotAllowed().
Status Refuse(App& app, const domain::CommandContext& ctx, const std::string& device_id,
              const dkme::Identifiers& ids, dkme::KmeSource source, const Status& why) {
  dkme::RefuseEnrollment cmd{device_id, ids, why.reason(), source};
  StreamId stream = device_id.empty() ? StreamId(dkme::kRefusalStream)
                                      : StreamId(dkme::kDeviceStreamType, device_id);
  auto res = app.bus().Execute(stream, dkme::DeviceDecider(cmd), ctx);
  if (!res.ok()) {
    log::Get("kme")->warn("cannot record a refused enrollment: {}", res.status().ToString());
  }
  log::Get("kme")->info("android enrollment refused: {} (device {})", cmd.reason,
                        device_id.empty() ? "unknown" : device_id);
  return NotAllowed();
}

// Creates the user a Knox Deployment App enrollment of a new device names, when
// dkme::CheckDeploymentUser allows it: checked against the user's stream before anything
// is written (no person key is made for a refused name), and again inside the append, so a
// user made meanwhile is never taken over. kPermissionDenied with the refusal's reason.
Result<std::string> CreateDeploymentUser(App& app, const domain::CommandContext& ctx,
                                         const dkme::SettingsState& settings,
                                         const std::string& username) {
  const std::string id = users::UserIdFor(app.user_id_key(), username);
  const StreamId stream("user", id);
  AE_ASSIGN_OR_RETURN(auto records, app.log().ReadStream(stream, 1, SIZE_MAX));
  users::UserState user;
  for (const auto& r : records) user = users::Evolve(std::move(user), r.envelope);
  AE_RETURN_IF_ERROR(dkme::CheckDeploymentUser(settings, user));
  v1::PersonalData pd;
  pd.set_username(username);
  AE_ASSIGN_OR_RETURN(auto sealed, app.person_keys().Seal(id, pd));
  users::CreateUser create{id, v1::ROLE_DEVICE_USER, sealed, dkme::kDeploymentTag};
  domain::Decider<users::UserState> decider{
      users::Evolve, [&](const users::UserState& s) -> Result<std::vector<events::Envelope>> {
        AE_RETURN_IF_ERROR(dkme::CheckDeploymentUser(settings, s));
        return users::Decide(s, create);
      }};
  AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(stream, decider, ctx));
  (void)res;
  log::Get("kme")->info("the Knox Deployment App created user {} (role device_user)", id);
  return id;
}

// Hands an enrolled Android device the current versions of its policy and rule set:
// records DevicePolicyDelivered (channel android_agent) unless that is what it was handed
// last. Returns what the agent receives (AndroidPolicyJson) and the position of the
// delivery (invalid when nothing new was recorded).
Result<std::pair<json, LogPosition>> DeliverAndroidPolicy(App& app,
                                                          const domain::CommandContext& ctx,
                                                          const std::string& device_id,
                                                          const dkme::DeviceState& state) {
  AE_ASSIGN_OR_RETURN(auto what, AndroidDeliveryOf(app, state.policy_id, state.ruleset_id));
  if (!what) return std::make_pair(json{{"policy", nullptr}, {"ruleset", nullptr}}, LogPosition());
  AE_ASSIGN_OR_RETURN(json out, AndroidPolicyJson(app, *what));
  AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(StreamId(dkme::kInventoryStreamType, device_id),
                                                  pol::DeliveryDecider(pol::Deliver{*what, ""}),
                                                  ctx));
  return std::make_pair(std::move(out), res.events.empty() ? LogPosition() : res.position);
}

Result<Reply> EnrollAndroid(Server& server, Call& call) {
  App& app = server.app();
  if (call.req.body.size() > kMaxEnrollBody) {
    return Status(StatusCode::kPayloadTooLarge, "request.too_large",
                  "the enrollment request is larger than " + std::to_string(kMaxEnrollBody) +
                      " bytes");
  }
  AE_ASSIGN_OR_RETURN(json body, call.Json());
  AE_ASSIGN_OR_RETURN(std::string source_text, StrField(body, "source", 32));
  dkme::KmeSource source;
  if (source_text.empty() || source_text == "kme") {
    source = v1::KME_SOURCE_CSV;  // a device KME provisioned: its record came from an import
  } else if (source_text == "knox_deployment") {
    source = v1::KME_SOURCE_KNOX_DEPLOYMENT;
  } else {
    return InvalidArgument("kme.bad_source", "source must be \"kme\" or \"knox_deployment\"",
                           "source");
  }
  AE_ASSIGN_OR_RETURN(std::string token, StrField(body, "enrollment_token", 256));
  AE_ASSIGN_OR_RETURN(dkme::SettingsState settings, LoadSettings(app));
  if (token.empty() || !settings.has_token ||
      !crypto::ConstantTimeEquals(crypto::Sha256(token), settings.token_sha256)) {
    log::Get("kme")->warn("android enrollment refused: {} enrollment token (from {})",
                          token.empty() ? "no" : "a wrong", call.req.remote_addr);
    return NotAllowed();
  }
  // The whole request is read and checked before any device or user is looked up: what is
  // answered from here on depends on this request alone, or is NotAllowed().
  AE_ASSIGN_OR_RETURN(std::string imei, StrField(body, "imei", 64));
  AE_ASSIGN_OR_RETURN(std::string imei2, StrField(body, "imei2", 64));
  AE_ASSIGN_OR_RETURN(std::string meid, StrField(body, "meid", 64));
  AE_ASSIGN_OR_RETURN(std::string serial, StrField(body, "serial_number", 64));
  AE_ASSIGN_OR_RETURN(std::string model, StrField(body, "model", 64));
  AE_ASSIGN_OR_RETURN(std::string user_name, StrField(body, "user_id", 64));
  // `password` is accepted and ignored: it is never stored or logged. `user_id` matters
  // only to the Knox Deployment App (KME devices get their user from the import).
  if (source == v1::KME_SOURCE_KNOX_DEPLOYMENT && !user_name.empty() &&
      !users::ValidateUsername(user_name).ok()) {
    return InvalidArgument("kme.bad_user_id",
                           "user_id must be 1 to 64 of letters, digits and . _ - @ +",
                           "user_id");
  }
  AE_ASSIGN_OR_RETURN(dkme::Identifiers ids, ParseKmeIdentifiers(imei, imei2, meid, serial));
  if (ids.empty()) {
    return InvalidArgument("kme.missing_identifiers",
                           "send at least one of imei, imei2, meid, serial_number", "imei");
  }
  domain::CommandContext ctx = call.Context();
  ctx.actor.set_kind(v1::Actor::KIND_DEVICE);
  ctx.actor.set_id(StreamId(dkme::kDeviceStreamType, dkme::DeviceIdFor(ids)).str());
  auto found = FindKmeDevice(app, ids);
  if (!found.ok()) {
    if (found.status().reason() != "kme.identifier_conflict") return found.status();
    return Refuse(app, ctx, "", ids, source, found.status());
  }
  std::string device_id = *found;
  if (device_id.empty()) {
    // Not in the view yet? The derived id's stream is the authority.
    std::string derived = dkme::DeviceIdFor(ids);
    AE_ASSIGN_OR_RETURN(auto v, app.log().GetStreamVersion(StreamId(dkme::kDeviceStreamType,
                                                                    derived)));
    if (v > 0) device_id = derived;
  }
  AE_ASSIGN_OR_RETURN(dkme::DeviceState state, LoadDeviceStream(app, device_id));
  if (state.exists) ctx.actor.set_id(StreamId(dkme::kDeviceStreamType, device_id).str());
  Status allowed = dkme::CheckEnrollment(state, source);
  if (!allowed.ok()) return Refuse(app, ctx, state.exists ? device_id : "", ids, source, allowed);

  if (!state.exists) {  // Knox Deployment App: record the user and the device first
    if (user_name.empty()) {
      return Refuse(app, ctx, "", ids, source,
                    PermissionDenied("kme.no_user",
                                     "user_id is required to enroll a new device with the Knox "
                                     "Deployment App"));
    }
    auto user_id = CreateDeploymentUser(app, ctx, settings, user_name);
    if (!user_id.ok()) {
      if (user_id.status().code() != StatusCode::kPermissionDenied) return user_id.status();
      return Refuse(app, ctx, "", ids, source, user_id.status());
    }
    device_id = dkme::DeviceIdFor(ids);
    dkme::ImportDevice cmd;
    cmd.device_id = device_id;
    cmd.observed.ids = ids;
    if (!model.empty()) cmd.observed.model = model;
    cmd.observed.tags = std::vector<std::string>{dkme::kDeploymentTag};
    cmd.source = v1::KME_SOURCE_KNOX_DEPLOYMENT;
    cmd.matched_user_id = *user_id;
    v1::PersonalData pd;
    pd.set_knox_user_id(user_name);
    AE_ASSIGN_OR_RETURN(cmd.knox_user, app.person_keys().Seal(*user_id, pd));
    AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(StreamId(dkme::kDeviceStreamType, device_id),
                                                    dkme::DeviceDecider(cmd), ctx));
    (void)res;
    AE_ASSIGN_OR_RETURN(state, LoadDeviceStream(app, device_id));
    allowed = dkme::CheckEnrollment(state, source);
    if (!allowed.ok()) return Refuse(app, ctx, device_id, ids, source, allowed);
  }
  dkme::EnrollAndroid cmd;
  cmd.device_id = device_id;
  cmd.user_id = state.user_id;
  cmd.policy_id = state.policy_id;
  cmd.ruleset_id = state.ruleset_id;
  cmd.ids = state.ids;
  cmd.model = state.model.empty() ? model : state.model;
  AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(StreamId(dkme::kInventoryStreamType, device_id),
                                                  dkme::EnrollmentDecider(cmd), ctx));
  if (!res.events.empty()) {
    log::Get("kme")->info("android device {} enrolled ({})", device_id,
                          dkme::SourceName(state.source));
  }
  // The answer hands the device its policy and rule set: recorded as delivered.
  AE_ASSIGN_OR_RETURN(auto handed, DeliverAndroidPolicy(app, ctx, device_id, state));
  LogPosition last = handed.second.valid() ? handed.second : res.position;
  AE_RETURN_IF_ERROR(server.WaitForViews(last));
  // `user` stays in the answer (API.md names it) but is always null: a caller who knows a
  // device's identifiers must not learn who it belongs to. A 200 already says the device
  // has a user (enrolling needs one).
  json out = {{"device_id", device_id},
              {"user", nullptr},
              {"policy", PolicyName(app, state.policy_id)},
              {"ruleset", RuleSetName(app, state.ruleset_id)},
              {"policy_version", handed.first["policy"].is_object()
                                     ? handed.first["policy"]["version"]
                                     : json(nullptr)},
              {"android_config", handed.first["policy"].is_object()
                                     ? handed.first["policy"]["android_config"]
                                     : json(nullptr)},
              {"ruleset_version", handed.first["ruleset"].is_object()
                                      ? handed.first["ruleset"]["version"]
                                      : json(nullptr)},
              {"rules", handed.first["ruleset"].is_object() ? handed.first["ruleset"]["rules"]
                                                            : json(nullptr)}};
  Reply r = Reply::Json(200, std::move(out));
  r.position = last;
  return r;
}

// The enrolled Android device an agent request names (the enrollment token and the
// device's identifiers, as POST /enroll/android takes them); NotAllowed() otherwise.
struct AgentDevice {
  std::string device_id;
  dkme::DeviceState state;
  domain::CommandContext ctx;
  json body;
};
Result<AgentDevice> AuthenticateAgent(App& app, Call& call) {
  if (call.req.body.size() > kMaxEnrollBody) {
    return Status(StatusCode::kPayloadTooLarge, "request.too_large",
                  "the request is larger than " + std::to_string(kMaxEnrollBody) + " bytes");
  }
  AgentDevice out;
  AE_ASSIGN_OR_RETURN(out.body, call.Json());
  AE_ASSIGN_OR_RETURN(std::string token, StrField(out.body, "enrollment_token", 256));
  AE_ASSIGN_OR_RETURN(dkme::SettingsState settings, LoadSettings(app));
  if (token.empty() || !settings.has_token ||
      !crypto::ConstantTimeEquals(crypto::Sha256(token), settings.token_sha256)) {
    return NotAllowed();
  }
  AE_ASSIGN_OR_RETURN(std::string imei, StrField(out.body, "imei", 64));
  AE_ASSIGN_OR_RETURN(std::string imei2, StrField(out.body, "imei2", 64));
  AE_ASSIGN_OR_RETURN(std::string meid, StrField(out.body, "meid", 64));
  AE_ASSIGN_OR_RETURN(std::string serial, StrField(out.body, "serial_number", 64));
  AE_ASSIGN_OR_RETURN(dkme::Identifiers ids, ParseKmeIdentifiers(imei, imei2, meid, serial));
  if (ids.empty()) {
    return InvalidArgument("kme.missing_identifiers",
                           "send at least one of imei, imei2, meid, serial_number", "imei");
  }
  auto found = FindKmeDevice(app, ids);
  if (!found.ok() || found->empty()) return NotAllowed();
  out.device_id = *found;
  AE_ASSIGN_OR_RETURN(out.state, LoadDeviceStream(app, out.device_id));
  AE_ASSIGN_OR_RETURN(auto inventory, app.views().Get("devices", out.device_id));
  json d = inventory ? json::parse(*inventory, nullptr, false) : json();
  if (!out.state.exists || !d.is_object() || d.value("status", "") != "enrolled") {
    return NotAllowed();
  }
  out.ctx = call.Context();
  out.ctx.actor.set_kind(v1::Actor::KIND_DEVICE);
  out.ctx.actor.set_id(StreamId(dkme::kDeviceStreamType, out.device_id).str());
  return out;
}

// GET-like: the agent's current policy and rule set, recorded as delivered.
Result<Reply> AndroidPolicy(Server& server, Call& call) {
  App& app = server.app();
  AE_ASSIGN_OR_RETURN(AgentDevice agent, AuthenticateAgent(app, call));
  AE_ASSIGN_OR_RETURN(auto handed, DeliverAndroidPolicy(app, agent.ctx, agent.device_id,
                                                        agent.state));
  if (handed.second.valid()) AE_RETURN_IF_ERROR(server.WaitForViews(handed.second));
  json out = handed.first;
  out["device_id"] = agent.device_id;
  Reply r = Reply::Json(200, std::move(out));
  r.position = handed.second;
  return r;
}

// The agent's answer to what it was handed: {policy_version?, ruleset_version?, status,
// error?}.
Result<Reply> AndroidPolicyAck(Server& server, Call& call) {
  App& app = server.app();
  AE_ASSIGN_OR_RETURN(AgentDevice agent, AuthenticateAgent(app, call));
  auto version = [&](const char* field) -> Result<uint32_t> {
    auto it = agent.body.find(field);
    if (it == agent.body.end() || it->is_null()) return 0u;
    if (!it->is_number_unsigned() || it->get<uint64_t>() > UINT32_MAX) {
      return InvalidArgument("request.bad_field", std::string(field) + " must be a version number",
                             field);
    }
    return static_cast<uint32_t>(it->get<uint64_t>());
  };
  AE_ASSIGN_OR_RETURN(uint32_t pv, version("policy_version"));
  AE_ASSIGN_OR_RETURN(uint32_t rv, version("ruleset_version"));
  AE_ASSIGN_OR_RETURN(std::string status, StringField(agent.body, "status", true, 32));
  AE_ASSIGN_OR_RETURN(std::string error, StrField(agent.body, "error", 1024));
  pol::AcknowledgeAndroid ack;
  ack.what = pol::Delivered{pv ? agent.state.policy_id : "", pv, rv ? agent.state.ruleset_id : "",
                            rv, pol::kChannelAndroidAgent};
  ack.status = status;
  ack.error = error;
  AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(StreamId(dkme::kInventoryStreamType,
                                                           agent.device_id),
                                                  pol::DeliveryDecider(ack), agent.ctx));
  AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
  Reply r = Reply::Json(200, {{"device_id", agent.device_id},
                              {"policy_version", pv},
                              {"ruleset_version", rv},
                              {"status", status},
                              {"recorded", !res.events.empty()}});
  r.position = res.position;
  return r;
}

}  // namespace

void AddKmeRoutes(Server& server) {
  App& app = server.app();

  server.Route("GET", "/v1/kme/settings", "/v1/kme/settings", Access::kDeviceManager,
               [&server, &app](Call& call) -> Result<Reply> {
    LogPosition created;
    AE_ASSIGN_OR_RETURN(std::string token, CurrentToken(app, call.Context(), true, &created));
    AE_ASSIGN_OR_RETURN(json out, SettingsJson(server, call.req, token));
    Reply r = Reply::Json(200, out);
    r.position = created;
    return r;
  });

  server.Route("PATCH", "/v1/kme/settings", "/v1/kme/settings", Access::kAdministrator,
               [&server, &app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(json body, call.Json());
    AE_ASSIGN_OR_RETURN(LogPosition changed, ChangeSettings(app, body, call.Context()));
    AE_ASSIGN_OR_RETURN(std::string token, CurrentToken(app, call.Context(), true));
    AE_ASSIGN_OR_RETURN(json out, SettingsJson(server, call.req, token));
    Reply r = Reply::Json(200, out);
    r.position = changed;
    return r;
  });

  server.Route("POST", "/v1/kme/settings/rotate-token", "/v1/kme/settings/rotate-token",
               Access::kAdministrator, [&server, &app](Call& call) -> Result<Reply> {
    std::string old_ref;
    NewToken made;
    {
      std::lock_guard lock(SettingsMu());
      AE_ASSIGN_OR_RETURN(auto before, LoadSettings(app));
      old_ref = before.secret_ref;
      AE_ASSIGN_OR_RETURN(made, MakeToken(app, call.Context(), false));
    }
    if (!old_ref.empty()) app.secrets().Delete(old_ref).IgnoreError();
    log::Get("kme")->info("the KME enrollment token was rotated");
    AE_RETURN_IF_ERROR(server.WaitForViews(made.position));
    AE_ASSIGN_OR_RETURN(json out, SettingsJson(server, call.req, made.token));
    Reply r = Reply::Json(200, out);
    r.position = made.position;
    return r;
  });

  server.Route("GET", "/v1/kme/certificate", "/v1/kme/certificate", Access::kDeviceManager,
               [&server](Call&) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(std::string pem, ServerCertificatePem(server));
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
    // is read (an unknown one: 400 naming it, nothing written).
    auto param = [](const Status& s) -> Status {
      return s.code() == StatusCode::kUnprocessable
                 ? InvalidArgument(s.reason(), s.message(), s.field())
                 : s;
    };
    if (std::string policy = call.Param("policy_id"); !policy.empty()) {
      auto id = ResolvePolicyId(app, policy, "policy_id");
      if (!id.ok()) return param(id.status());
      o.defaults.policy_id = *id;
    }
    if (std::string ruleset = call.Param("ruleset_id"); !ruleset.empty()) {
      auto id = ResolveRuleSetId(app, ruleset, "ruleset_id");
      if (!id.ok()) return param(id.status());
      o.defaults.ruleset_id = *id;
    }
    if (std::string user = call.Param("user"); !user.empty()) {
      auto id = ResolveUserId(app, user, users::Role::ROLE_DEVICE_USER, "user");
      if (!id.ok()) return param(id.status());
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
      AE_ASSIGN_OR_RETURN(json rec, AsOf(app, projector,
                                         {StreamId(dkme::kDeviceStreamType, id),
                                          StreamId(dkme::kInventoryStreamType, id)},
                                         "kme_devices", id, *as_of));
      if (!rec.is_object()) {
        return NotFound("kme.device_not_found", "no KME device " + id + " at that point");
      }
      json out = RenderDevice(app, rec);
      out["as_of"] = call.Param("as_of");
      return Reply::Json(200, out);
    }
    AE_ASSIGN_OR_RETURN(json rec, LoadKmeDevice(app, id));
    if (!rec.is_object()) return NotFound("kme.device_not_found", "no KME device " + id);
    return Reply::Json(200, RenderDevice(app, rec));
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
    AE_ASSIGN_OR_RETURN(json rec, LoadKmeDevice(app, id));
    if (!rec.is_object()) return NotFound("kme.device_not_found", "no KME device " + id);
    Reply r = Reply::Json(200, RenderDevice(app, rec));
    r.position = res.position;
    return r;
  });

  server.Route("POST", "/enroll/android", "/enroll/android", Access::kPublic,
               [&server](Call& call) { return EnrollAndroid(server, call); });
  server.Route("POST", "/enroll/android/policy", "/enroll/android/policy", Access::kPublic,
               [&server](Call& call) { return AndroidPolicy(server, call); });
  server.Route("POST", "/enroll/android/policy/ack", "/enroll/android/policy/ack",
               Access::kPublic, [&server](Call& call) { return AndroidPolicyAck(server, call); });

  AddKmeKnoxRoutes(server);
}

}  // namespace ae::api
