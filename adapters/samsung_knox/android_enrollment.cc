#include "adapters/samsung_knox/android_enrollment.h"

#include <fstream>
#include <sstream>

#include "adapters/apple_dep/server_identity.h"
#include "domain/users/users.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"

namespace ae::knox {

namespace {

namespace dkme = ae::domain::kme;
namespace pol = ae::domain::policies;
namespace users = ae::domain::users;
namespace v1 = autoenroll::events::v1;
using nlohmann::json;

constexpr const char* kModule = "kme";
constexpr const char* kTokenSecretPrefix = "kme/enrollment-token/";
constexpr const char* kCertSecret = "kme/server-certificate";
constexpr const char* kKeySecret = "kme/server-key";

}  // namespace

AndroidEnrollment::AndroidEnrollment(domain::CommandBus& bus, events::SecretStore& secrets,
                                     events::PersonKeys& person_keys, const Clock& clock,
                                     std::string user_id_key, AndroidEnrollmentHooks hooks)
    : bus_(bus),
      secrets_(secrets),
      person_keys_(person_keys),
      clock_(clock),
      user_id_key_(std::move(user_id_key)),
      hooks_(std::move(hooks)) {}

// Every refusal of the device-facing routes after their input is read is this one answer,
// so that it tells a caller nothing about other devices or users (whether a device is
// imported, has a user, came from the CSV, or whose it is). The reason is logged and, past
// the enrollment token, recorded for administrators (KmeEnrollmentRefused).
Status AndroidEnrollment::NotAllowed() {
  return PermissionDenied("enroll.not_allowed",
                          "this device may not enroll here; the administrator can see why");
}

// ---- settings ------------------------------------------------------------------------------

Result<dkme::SettingsState> AndroidEnrollment::Settings() const {
  AE_ASSIGN_OR_RETURN(auto records,
                      bus_.log().ReadStream(StreamId(dkme::kSettingsStream), 1, SIZE_MAX));
  dkme::SettingsState s;
  for (const auto& r : records) s = dkme::EvolveSettings(std::move(s), r.envelope);
  return s;
}

// A new random token, stored in the secret store, recorded by its hash. An empty token
// when `only_if_missing` and one was recorded meanwhile.
Result<AndroidEnrollment::NewToken> AndroidEnrollment::MakeToken(
    const domain::CommandContext& ctx, bool only_if_missing) {
  NewToken out;
  out.token = "kme_" + crypto::Base64Url(crypto::RandomBytes(32));
  std::string sha = crypto::Sha256(out.token);
  std::string ref = kTokenSecretPrefix + crypto::Hex(sha).substr(0, 16);
  AE_RETURN_IF_ERROR(secrets_.Put(ref, out.token));
  auto res = bus_.Execute(StreamId(dkme::kSettingsStream),
                          dkme::SettingsDecider({sha, ref, only_if_missing}), ctx);
  if (!res.ok() || res->events.empty()) {
    secrets_.Delete(ref).IgnoreError();  // not recorded: never valid
    if (!res.ok()) return res.status();
    out.token.clear();
  }
  out.position = res->position;
  return out;
}

Result<std::string> AndroidEnrollment::CurrentToken(const domain::CommandContext& ctx,
                                                    bool create, LogPosition* created_at) {
  AE_ASSIGN_OR_RETURN(auto s, Settings());
  if (!s.has_token) {
    if (!create) return std::string();
    std::lock_guard lock(make_mu_);
    AE_ASSIGN_OR_RETURN(NewToken made, MakeToken(ctx, true));
    if (!made.token.empty()) {
      if (created_at) *created_at = made.position;
      return made.token;
    }
    AE_ASSIGN_OR_RETURN(s, Settings());
  }
  AE_ASSIGN_OR_RETURN(auto token, secrets_.Get(s.secret_ref));
  if (!token) {
    return Internal("kme.token_secret_missing",
                    "the enrollment token's secret is missing from the secret store; rotate it");
  }
  return *token;
}

Result<AndroidEnrollment::Rotated> AndroidEnrollment::RotateToken(
    const domain::CommandContext& ctx) {
  std::string old_ref;
  NewToken made;
  {
    std::lock_guard lock(make_mu_);
    AE_ASSIGN_OR_RETURN(auto before, Settings());
    old_ref = before.secret_ref;
    AE_ASSIGN_OR_RETURN(made, MakeToken(ctx, false));
  }
  if (!old_ref.empty()) secrets_.Delete(old_ref).IgnoreError();
  log::Get(kModule)->info("the KME enrollment token was rotated");
  return Rotated{std::move(made.token), made.position};
}

Result<std::string> AndroidEnrollment::ServerCertificatePem(const std::string& tls_cert_path) {
  if (!tls_cert_path.empty()) {
    std::ifstream in(tls_cert_path, std::ios::binary);
    if (!in) return Internal("kme.certificate", "cannot read the TLS certificate file");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  AE_ASSIGN_OR_RETURN(auto cert, secrets_.Get(kCertSecret));
  if (cert) return *cert;
  std::lock_guard lock(make_mu_);
  AE_ASSIGN_OR_RETURN(cert, secrets_.Get(kCertSecret));
  if (cert) return *cert;
  dep::ServerIdentityOptions o;
  o.common_name = "autoenroll-kme";
  o.validity_days = 3650;
  AE_ASSIGN_OR_RETURN(auto identity, dep::ServerIdentity::Generate(o, clock_));
  AE_RETURN_IF_ERROR(secrets_.Put(kKeySecret, identity.PrivateKeyPem()));
  std::string pem = identity.CertificatePem();
  AE_RETURN_IF_ERROR(secrets_.Put(kCertSecret, pem));
  log::Get(kModule)->info("made the self-signed KME server certificate (kept in the secret store)");
  return pem;
}

Result<std::string> AndroidEnrollment::ServerCertificateFingerprint(
    const std::string& tls_cert_path) {
  AE_ASSIGN_OR_RETURN(std::string pem, ServerCertificatePem(tls_cert_path));
  auto fingerprint = dep::CertificateSha256Fingerprint(pem);
  if (!fingerprint.ok()) {
    return Internal("kme.certificate", "the server certificate is not a PEM certificate");
  }
  return *fingerprint;
}

// ---- the device -----------------------------------------------------------------------------

Result<dkme::SettingsState> AndroidEnrollment::CheckToken(const std::string& token) const {
  AE_ASSIGN_OR_RETURN(dkme::SettingsState settings, Settings());
  if (token.empty() || !settings.has_token ||
      !crypto::ConstantTimeEquals(crypto::Sha256(token), settings.token_sha256)) {
    return NotAllowed();
  }
  return settings;
}

Result<dkme::DeviceState> AndroidEnrollment::LoadDevice(const std::string& device_id) const {
  dkme::DeviceState s;
  if (device_id.empty()) return s;
  AE_ASSIGN_OR_RETURN(auto records, bus_.log().ReadStream(
                                        StreamId(dkme::kDeviceStreamType, device_id), 1,
                                        SIZE_MAX));
  for (const auto& r : records) s = dkme::Evolve(std::move(s), r.envelope);
  return s;
}

// Records the refusal (`why` is its reason) and returns the answer: NotAllowed().
Status AndroidEnrollment::Refuse(const domain::CommandContext& ctx, const std::string& device_id,
                                 const dkme::Identifiers& ids, dkme::KmeSource source,
                                 const Status& why) {
  dkme::RefuseEnrollment cmd{device_id, ids, why.reason(), source};
  StreamId stream = device_id.empty() ? StreamId(dkme::kRefusalStream)
                                      : StreamId(dkme::kDeviceStreamType, device_id);
  auto res = bus_.Execute(stream, dkme::DeviceDecider(cmd), ctx);
  if (!res.ok()) {
    log::Get(kModule)->warn("cannot record a refused enrollment: {}", res.status().ToString());
  }
  log::Get(kModule)->info("android enrollment refused: {} (device {})", cmd.reason,
                          device_id.empty() ? "unknown" : device_id);
  return NotAllowed();
}

// Creates the user a Knox Deployment App enrollment of a new device names, when
// dkme::CheckDeploymentUser allows it: checked against the user's stream before anything
// is written (no person key is made for a refused name), and again inside the append, so a
// user made meanwhile is never taken over. kPermissionDenied with the refusal's reason.
Result<std::string> AndroidEnrollment::CreateDeploymentUser(
    const domain::CommandContext& ctx, const dkme::SettingsState& settings,
    const std::string& username) {
  const std::string id = users::UserIdFor(user_id_key_, username);
  const StreamId stream("user", id);
  AE_ASSIGN_OR_RETURN(auto records, bus_.log().ReadStream(stream, 1, SIZE_MAX));
  users::UserState user;
  for (const auto& r : records) user = users::Evolve(std::move(user), r.envelope);
  AE_RETURN_IF_ERROR(dkme::CheckDeploymentUser(settings, user));
  v1::PersonalData pd;
  pd.set_username(username);
  AE_ASSIGN_OR_RETURN(auto sealed, person_keys_.Seal(id, pd));
  users::CreateUser create{id, v1::ROLE_DEVICE_USER, sealed, dkme::kDeploymentTag};
  domain::Decider<users::UserState> decider{
      users::Evolve, [&](const users::UserState& s) -> Result<std::vector<events::Envelope>> {
        AE_RETURN_IF_ERROR(dkme::CheckDeploymentUser(settings, s));
        return users::Decide(s, create);
      }};
  AE_ASSIGN_OR_RETURN(auto res, bus_.Execute(stream, decider, ctx));
  (void)res;
  log::Get(kModule)->info("the Knox Deployment App created user {} (role device_user)", id);
  return id;
}

// Hands an enrolled Android device the current versions of its policy and rule set:
// records DevicePolicyDelivered (channel android_agent) unless that is what it was handed
// last.
Result<AndroidHanded> AndroidEnrollment::Deliver(const domain::CommandContext& ctx,
                                                 const std::string& device_id,
                                                 const dkme::DeviceState& state) {
  AE_ASSIGN_OR_RETURN(auto what, hooks_.delivery_of(state.policy_id, state.ruleset_id));
  if (!what) return AndroidHanded{json{{"policy", nullptr}, {"ruleset", nullptr}}, LogPosition()};
  AE_ASSIGN_OR_RETURN(json out, hooks_.agent_policy(*what));
  AE_ASSIGN_OR_RETURN(auto res, bus_.Execute(StreamId(dkme::kInventoryStreamType, device_id),
                                             pol::DeliveryDecider(pol::Deliver{*what, ""}), ctx));
  return AndroidHanded{std::move(out), res.events.empty() ? LogPosition() : res.position};
}

Result<AndroidEnrolled> AndroidEnrollment::Enroll(const dkme::SettingsState& settings,
                                                  const AndroidEnrollRequest& request,
                                                  domain::CommandContext ctx) {
  const dkme::Identifiers& ids = request.ids;
  const dkme::KmeSource source = request.source;
  ctx.actor.set_kind(v1::Actor::KIND_DEVICE);
  ctx.actor.set_id(StreamId(dkme::kDeviceStreamType, dkme::DeviceIdFor(ids)).str());
  auto found = FindKmeDevice(hooks_.views, ids);
  if (!found.ok()) {
    if (found.status().reason() != "kme.identifier_conflict") return found.status();
    return Refuse(ctx, "", ids, source, found.status());
  }
  std::string device_id = *found;
  if (device_id.empty()) {
    // Not in the view yet? The derived id's stream is the authority.
    std::string derived = dkme::DeviceIdFor(ids);
    AE_ASSIGN_OR_RETURN(auto v, bus_.log().GetStreamVersion(StreamId(dkme::kDeviceStreamType,
                                                                     derived)));
    if (v > 0) device_id = derived;
  }
  AE_ASSIGN_OR_RETURN(dkme::DeviceState state, LoadDevice(device_id));
  if (state.exists) ctx.actor.set_id(StreamId(dkme::kDeviceStreamType, device_id).str());
  Status allowed = dkme::CheckEnrollment(state, source);
  if (!allowed.ok()) return Refuse(ctx, state.exists ? device_id : "", ids, source, allowed);

  if (!state.exists) {  // Knox Deployment App: record the user and the device first
    if (request.user_name.empty()) {
      return Refuse(ctx, "", ids, source,
                    PermissionDenied("kme.no_user",
                                     "user_id is required to enroll a new device with the Knox "
                                     "Deployment App"));
    }
    auto user_id = CreateDeploymentUser(ctx, settings, request.user_name);
    if (!user_id.ok()) {
      if (user_id.status().code() != StatusCode::kPermissionDenied) return user_id.status();
      return Refuse(ctx, "", ids, source, user_id.status());
    }
    device_id = dkme::DeviceIdFor(ids);
    dkme::ImportDevice cmd;
    cmd.device_id = device_id;
    cmd.observed.ids = ids;
    if (!request.model.empty()) cmd.observed.model = request.model;
    cmd.observed.tags = std::vector<std::string>{dkme::kDeploymentTag};
    cmd.source = v1::KME_SOURCE_KNOX_DEPLOYMENT;
    cmd.matched_user_id = *user_id;
    v1::PersonalData pd;
    pd.set_knox_user_id(request.user_name);
    AE_ASSIGN_OR_RETURN(cmd.knox_user, person_keys_.Seal(*user_id, pd));
    AE_ASSIGN_OR_RETURN(auto res, bus_.Execute(StreamId(dkme::kDeviceStreamType, device_id),
                                               dkme::DeviceDecider(cmd), ctx));
    (void)res;
    AE_ASSIGN_OR_RETURN(state, LoadDevice(device_id));
    allowed = dkme::CheckEnrollment(state, source);
    if (!allowed.ok()) return Refuse(ctx, device_id, ids, source, allowed);
  }
  dkme::EnrollAndroid cmd;
  cmd.device_id = device_id;
  cmd.user_id = state.user_id;
  cmd.policy_id = state.policy_id;
  cmd.ruleset_id = state.ruleset_id;
  cmd.ids = state.ids;
  cmd.model = state.model.empty() ? request.model : state.model;
  AE_ASSIGN_OR_RETURN(auto res, bus_.Execute(StreamId(dkme::kInventoryStreamType, device_id),
                                             dkme::EnrollmentDecider(cmd), ctx));
  if (!res.events.empty()) {
    log::Get(kModule)->info("android device {} enrolled ({})", device_id,
                            dkme::SourceName(state.source));
  }
  // The answer hands the device its policy and rule set: recorded as delivered.
  AndroidEnrolled out;
  AE_ASSIGN_OR_RETURN(out.handed, Deliver(ctx, device_id, state));
  out.device_id = device_id;
  out.policy_id = state.policy_id;
  out.ruleset_id = state.ruleset_id;
  out.position = out.handed.position.valid() ? out.handed.position : res.position;
  return out;
}

Result<AndroidAgent> AndroidEnrollment::AuthenticateAgent(const dkme::Identifiers& ids,
                                                          domain::CommandContext ctx) const {
  auto found = FindKmeDevice(hooks_.views, ids);
  if (!found.ok() || found->empty()) return NotAllowed();
  AndroidAgent out;
  out.device_id = *found;
  AE_ASSIGN_OR_RETURN(out.state, LoadDevice(out.device_id));
  auto inventory = hooks_.inventory_device(out.device_id);
  // A record that is none reads as a device that is not enrolled.
  if (!inventory.ok() && inventory.status().code() != StatusCode::kCorruption) {
    return inventory.status();
  }
  const bool enrolled = inventory.ok() && *inventory && (*inventory)->status == "enrolled";
  if (!out.state.exists || !enrolled) return NotAllowed();
  out.ctx = std::move(ctx);
  out.ctx.actor.set_kind(v1::Actor::KIND_DEVICE);
  out.ctx.actor.set_id(StreamId(dkme::kDeviceStreamType, out.device_id).str());
  return out;
}

Result<AndroidHanded> AndroidEnrollment::DeliverPolicy(const AndroidAgent& agent) {
  return Deliver(agent.ctx, agent.device_id, agent.state);
}

Result<AndroidAcknowledged> AndroidEnrollment::Acknowledge(const AndroidAgent& agent,
                                                           uint32_t policy_version,
                                                           uint32_t ruleset_version,
                                                           const std::string& status,
                                                           const std::string& error) {
  pol::AcknowledgeAndroid ack;
  ack.what = pol::Delivered{policy_version ? agent.state.policy_id : "", policy_version,
                            ruleset_version ? agent.state.ruleset_id : "", ruleset_version,
                            pol::kChannelAndroidAgent};
  ack.status = status;
  ack.error = error;
  AE_ASSIGN_OR_RETURN(auto res, bus_.Execute(StreamId(dkme::kInventoryStreamType,
                                                      agent.device_id),
                                             pol::DeliveryDecider(ack), agent.ctx));
  return AndroidAcknowledged{!res.events.empty(), res.position};
}

}  // namespace ae::knox
