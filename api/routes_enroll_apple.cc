// The device-facing Apple enrollment endpoints (API.md "Device-facing
// enrollment", apple-dep.md §6): the DEP profile's URL, MDM check-in and the
// MDM command channel. No bearer token: a device proves itself with Apple's
// signature on its MachineInfo (made by the device certificate of the UDID and
// serial it names), then with the identity this server issued it (Mdm-Signature
// on every message), as long as that identity is the device's current one.
//
// POST /enroll/apple answers every refusal but a malformed body with one code,
// 403 enroll.not_allowed, so a caller learns nothing about the serial it names; the
// reason is logged, and recorded as DepEnrollmentRefused when the serial is a
// DEP device of ours and the signer is that device.

#include <fstream>
#include <sstream>

#include "adapters/apple_mdm/checkin.h"
#include "adapters/apple_mdm/enrollment_profile.h"
#include "adapters/apple_mdm/machine_info.h"
#include "adapters/apple_mdm/mdm_ca.h"
#include "api/lookup.h"
#include "api/policy_delivery.h"
#include "api/routes_enroll_apple.h"
#include "api/server.h"
#include "domain/dep/dep.h"
#include "domain/devices/devices.h"
#include "domain/policies/policies.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"
#include "projections/dep_records.h"
#include "projections/device_records.h"

namespace ae::api {

namespace ddep = domain::dep;
namespace ddev = domain::devices;
namespace pol = domain::policies;
namespace pb = autoenroll::events::v1;
using nlohmann::json;

namespace {

constexpr size_t kMaxMachineInfoBytes = 64 << 10;
constexpr const char* kCaCertSecret = "mdm/ca/certificate";
constexpr const char* kCaKeySecret = "mdm/ca/key";

Result<mdm::MdmCa> LoadOrCreateCa(App& app) {
  AE_ASSIGN_OR_RETURN(auto cert, app.secrets().Get(kCaCertSecret));
  AE_ASSIGN_OR_RETURN(auto key, app.secrets().Get(kCaKeySecret));
  if (cert && key) return mdm::MdmCa::FromPem(*cert, *key);
  AE_ASSIGN_OR_RETURN(auto ca, mdm::MdmCa::Generate("autoenroll MDM device CA", app.clock()));
  AE_RETURN_IF_ERROR(app.secrets().Put(kCaKeySecret, ca.PrivateKeyPem()));
  AE_RETURN_IF_ERROR(app.secrets().Put(kCaCertSecret, ca.CertificatePem()));
  return ca;
}

Result<mdm::DeviceTrust> LoadTrust(const std::string& path) {
  if (path.empty()) return mdm::DeviceTrust::Bundled();
  std::ifstream in(path);
  if (!in) return InvalidArgument("enroll.bad_device_ca", "cannot read --apple-device-ca " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return mdm::DeviceTrust::FromPem(ss.str());
}

// The DEP device `serial` (std::nullopt: not one of ours).
Result<std::optional<proj::DepDeviceRecord>> DepDevice(App& app, const std::string& serial) {
  return proj::ReadDepRecord<proj::DepDeviceRecord>(app.views(), serial);
}

// What the admission rule (domain::dep::CheckEnrollment) reads of a dep_devices record.
ddep::EnrollmentFacts EnrollmentFactsOf(const std::optional<proj::DepDeviceRecord>& d) {
  ddep::EnrollmentFacts f;
  if (!d) return f;
  f.known = true;
  f.assigned_to_server = d->assigned_to_server;
  f.disowned = d->disowned;
  f.profile_id = d->profile_id;
  f.profile_status = ddep::ProfileStatusFromName(d->profile_status);
  f.user_id = d->user_id;
  return f;
}

// Records why a DEP device of ours may not enroll (`refusal`, from CheckEnrollment;
// deduplicated by the decider: the same refusal again appends nothing).
void RecordRefusal(App& app, const std::string& serial, const std::string& udid,
                   const Status& refusal) {
  domain::CommandContext ctx;
  ctx.actor.set_kind(pb::Actor::KIND_DEVICE);
  ctx.actor.set_id("dep-device/" + serial);
  ctx.correlation_id = crypto::UuidV7(app.clock().NowMs());
  auto r = app.bus().Execute(StreamId("dep-device", serial),
                             ddep::DeviceDecider(ddep::RefuseEnrollment{serial, refusal.reason(),
                                                                         udid}),
                             ctx);
  if (!r.ok()) log::Get("enroll")->warn("cannot record the refusal of {}: {}", serial,
                                        r.status().ToString());
}

// A check-in refused for the device's DEP state: recorded, and answered with its
// reason (the caller is the device itself, proven by its identity).
Status Refuse(App& app, const std::string& serial, const std::string& udid,
              const Status& refusal) {
  RecordRefusal(app, serial, udid, refusal);
  return refusal;
}

// The one answer of POST /enroll/apple to a well-formed MachineInfo it will not serve,
// whatever the reason (as POST /enroll/android answers): it tells a caller nothing about
// the serial it names. The reason is logged, and recorded when that is safe.
Status NotAllowed() {
  return PermissionDenied("enroll.not_allowed",
                          "this device may not enroll here; the administrator can see why");
}

}  // namespace

domain::CommandContext AppleDeviceContext(App& app, const std::string& serial) {
  domain::CommandContext ctx;
  ctx.actor.set_kind(pb::Actor::KIND_DEVICE);
  ctx.actor.set_id("device/" + serial);
  ctx.correlation_id = crypto::UuidV7(app.clock().NowMs());
  return ctx;
}

Result<DeviceCaller> AuthenticateAppleDevice(App& app, const AppleEnrollment& e,
                                             const Call& call) {
  if (!e.ca) return e.unavailable;
  std::string sig = call.req.get_header_value("Mdm-Signature");
  if (sig.empty()) {
    return Unauthenticated("mdm.signature_required",
                           "device messages need the Mdm-Signature header");
  }
  AE_ASSIGN_OR_RETURN(mdm::MdmSigner signer, e.ca->VerifyMdmSignature(call.req.body, sig));
  AE_ASSIGN_OR_RETURN(auto identity, proj::ReadDeviceRecord<proj::MdmIdentityRecord>(
                                         app.views(), signer.common_name));
  if (identity) {
    if (identity->state != "active" ||
        identity->certificate_sha256 != signer.certificate_sha256_hex) {
      return ddev::IdentityRevoked();
    }
  } else {
    AE_ASSIGN_OR_RETURN(auto d, DepDevice(app, signer.common_name));
    if (d &&
        ddep::CheckEnrollment(EnrollmentFactsOf(d)).reason() == "enroll.not_assigned") {
      return ddev::IdentityRevoked();
    }
  }
  return DeviceCaller{std::move(signer.common_name), std::move(signer.certificate_sha256_hex)};
}

Reply EmptyReply() {
  Reply r;
  r.raw = "";
  r.content_type = "text/plain";
  return r;
}

void AddAppleEnrollRoutes(Server& server) {
  App& app = server.app();
  auto state = std::make_shared<AppleEnrollment>();
  const AppOptions& o = app.options();
  auto ca = LoadOrCreateCa(app);
  if (ca.ok()) {
    state->ca.emplace(std::move(*ca));
  } else {
    state->unavailable = Unavailable("enroll.unavailable", "device enrollment is not available: " +
                                                               ca.status().message());
    log::Get("enroll")->warn("Apple enrollment disabled: {}", ca.status().ToString());
  }
  auto trust = LoadTrust(o.apple_device_ca);
  if (trust.ok()) {
    state->trust.emplace(std::move(*trust));
  } else {
    state->unavailable = trust.status();
    state->ca.reset();
    log::Get("enroll")->error("Apple enrollment disabled: {}", trust.status().ToString());
  }
  state->topic = o.apns_topic.empty()
                     ? "com.apple.mgmt.External." + crypto::Hex(app.secrets().DeriveKey("apns/v1")).substr(0, 32)
                     : o.apns_topic;

  server.Route("POST", "/enroll/apple", "/enroll/apple", Access::kPublic,
               [&server, &app, state](Call& call) -> Result<Reply> {
    if (!state->ca || !state->trust) return state->unavailable;
    if (call.req.body.size() > kMaxMachineInfoBytes) {
      return Status(StatusCode::kPayloadTooLarge, "request.too_large",
                    "MachineInfo is limited to 64 KiB");
    }
    auto verified = mdm::VerifyMachineInfo(call.req.body, *state->trust, app.clock());
    if (!verified.ok()) {
      // A body that is not a MachineInfo says nothing about any serial: 400 with its
      // reason. A signature that does not verify, an expired signer or another
      // device's signer: the one refusal.
      if (verified.status().code() == StatusCode::kInvalidArgument) return verified.status();
      log::Get("enroll")->info("MachineInfo refused: {}", verified.status().ToString());
      return NotAllowed();
    }
    const mdm::MachineInfo& info = *verified;
    AE_ASSIGN_OR_RETURN(auto d, DepDevice(app, info.serial));
    Status refusal = ddep::CheckEnrollment(EnrollmentFactsOf(d));
    if (!refusal.ok()) {
      // Recorded only for a DEP device of ours (deduplicated): a caller cannot create
      // records for serials it makes up.
      if (d) RecordRefusal(app, info.serial, info.udid, refusal);
      log::Get("enroll")->info("enrollment of {} (UDID {}) refused: {}", info.serial,
                               info.udid, refusal.reason());
      return NotAllowed();
    }
    // The identity is issued to the serial Apple vouched for: every later
    // message is tied to this device by its signature.
    AE_ASSIGN_OR_RETURN(auto identity, state->ca->IssueDeviceIdentity(info.serial, app.clock()));
    const std::string fingerprint = identity.certificate_sha256_hex;
    AE_ASSIGN_OR_RETURN(auto account, proj::ReadDepRecord<proj::DepAccountRecord>(
                                          app.views(), d ? d->account_id : ""));
    mdm::EnrollmentProfileOptions po;
    po.organization = account && !account->org_name.empty() ? account->org_name : "autoenroll";
    const std::string& base = server.options().public_url;
    po.server_url = base + "/mdm/apple/server";
    po.checkin_url = base + "/mdm/apple/checkin";
    po.topic = state->topic;
    po.identity = std::move(identity);
    po.ca_certificate_pem = state->ca->CertificatePem();
    po.sign_message = true;
    AE_ASSIGN_OR_RETURN(std::string profile, mdm::BuildEnrollmentProfile(po));
    // Recorded before the device holds it: it replaces (revokes) the device's
    // previous identity, and the check-in that follows must find it current.
    AE_ASSIGN_OR_RETURN(
        auto issued,
        app.bus().Execute(StreamId("device", info.serial),
                          ddev::DeviceDecider(ddev::IssueIdentity{info.serial, fingerprint,
                                                                  info.udid, info.signer_sha256}),
                          AppleDeviceContext(app, info.serial)));
    AE_RETURN_IF_ERROR(server.WaitForViews(issued.position));
    log::Get("enroll")->info("enrollment profile issued to {} (identity {})", info.serial,
                             fingerprint.substr(0, 16));
    Reply r;
    r.raw = std::move(profile);
    r.content_type = "application/x-apple-aspen-config";
    r.position = issued.position;
    return r;
  });

  server.Route("PUT", "/mdm/apple/checkin", "/mdm/apple/checkin", Access::kPublic,
               [&server, &app, state](Call& call) -> Result<Reply> {
    if (call.req.body.size() > mdm::kMaxCommandResultBytes) {
      return Status(StatusCode::kPayloadTooLarge, "request.too_large", "check-in body too large");
    }
    AE_ASSIGN_OR_RETURN(DeviceCaller caller, AuthenticateAppleDevice(app, *state, call));
    const std::string& serial = caller.serial;
    AE_ASSIGN_OR_RETURN(auto msg, mdm::ParseCheckin(call.req.body));
    if (!msg.user_id.empty()) return EmptyReply();  // user channel: nothing to record
    const StreamId stream("device", serial);
    if (msg.message_type == "Authenticate") {
      AE_ASSIGN_OR_RETURN(auto d, DepDevice(app, serial));
      Status refusal = ddep::CheckEnrollment(EnrollmentFactsOf(d));
      if (!refusal.ok()) return Refuse(app, serial, msg.udid, refusal);
      AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(
          stream, ddev::DeviceDecider(ddev::CheckIn{serial, "Authenticate", caller.identity_sha256}),
          AppleDeviceContext(app, serial)));
      (void)res;
      return EmptyReply();
    }
    if (msg.message_type == "TokenUpdate") {
      AE_ASSIGN_OR_RETURN(auto d, DepDevice(app, serial));
      Status refusal = ddep::CheckEnrollment(EnrollmentFactsOf(d));
      if (!refusal.ok()) return Refuse(app, serial, msg.udid, refusal);
      if (msg.token.empty()) {
        return InvalidArgument("mdm.bad_checkin", "TokenUpdate without a Token", "Token");
      }
      ddev::Enroll cmd;
      cmd.identity_sha256 = caller.identity_sha256;
      auto& en = cmd.enrolled;
      en.set_device_id(serial);
      en.set_platform(pb::PLATFORM_APPLE);
      en.set_serial_number(serial);
      en.set_udid(msg.udid);
      const proj::DepDeviceRecord device = d.value_or(proj::DepDeviceRecord{});
      en.set_model(device.model);
      en.set_os_version(msg.os_version);
      en.set_user_id(device.user_id);
      en.set_policy_id(device.policy_id);
      en.set_ruleset_id(device.ruleset_id);
      en.set_push_topic(msg.topic.empty() ? state->topic : msg.topic);
      en.set_push_token_sha256(crypto::Sha256(msg.token));
      const auto& o = app.options();
      pb::DeviceCommandQueued install;
      install.set_command_uuid(crypto::UuidV7(app.clock().NowMs()));
      install.set_request_type("InstallApplication");
      install.set_manifest_url(o.agent_manifest_url.empty()
                                   ? server.options().public_url + "/agent/manifest.plist"
                                   : o.agent_manifest_url);
      cmd.commands.push_back(install);
      AE_ASSIGN_OR_RETURN(auto profile, proj::ReadDepRecord<proj::DepProfileRecord>(
                                            app.views(), device.profile_id));
      if (msg.awaiting_configuration && profile && profile->await_device_configured) {
        pb::DeviceCommandQueued configured;
        configured.set_command_uuid(crypto::UuidV7(app.clock().NowMs() + 1));
        configured.set_request_type("DeviceConfigured");
        cmd.commands.push_back(configured);
      }
      // The device's policy follows the enrollment's commands, in the same append.
      pol::EnrollAndDeliver enroll{cmd, std::nullopt};
      AE_ASSIGN_OR_RETURN(auto policy, AppleDeliveryOf(app, device.policy_id));
      if (policy) {
        enroll.deliver = pol::Deliver{*policy, crypto::UuidV7(app.clock().NowMs() + 2)};
      }
      AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(stream, pol::DeliveryDecider(enroll),
                                                      AppleDeviceContext(app, serial)));
      if (!res.events.empty()) {
        log::Get("enroll")->info("{} enrolled ({} commands queued{})", serial,
                                 cmd.commands.size() + (policy ? 1 : 0),
                                 policy ? ", policy " + policy->policy_id + " version " +
                                              std::to_string(policy->policy_version)
                                        : "");
      }
      // The device polls the command channel next: let it find its commands.
      AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
      Reply r = EmptyReply();
      r.position = res.position;
      return r;
    }
    if (msg.message_type == "CheckOut") {
      AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(
          stream, ddev::DeviceDecider(ddev::CheckOut{caller.identity_sha256}),
          AppleDeviceContext(app, serial)));
      server.WaitForViews(res.position).IgnoreError();
      Reply r = EmptyReply();
      r.position = res.position;
      return r;
    }
    return EmptyReply();  // other check-in types are accepted and ignored
  });

  AddAppleCommandRoute(server, state);
}

}  // namespace ae::api
