// The MDM command channel of enrolled Apple devices (API.md "Device-facing enrollment",
// apple-dep.md §6): PUT /mdm/apple/server takes the result of the last command and
// answers with the next queued one, queueing the device's current policy first when it
// was not handed yet. The device proves itself as on check-in (AuthenticateAppleDevice).

#include "adapters/apple_mdm/checkin.h"
#include "api/policy_delivery.h"
#include "api/routes_enroll_apple.h"
#include "domain/devices/devices.h"
#include "domain/policies/policies.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"
#include "projections/device_records.h"

namespace ae::api {

namespace ddev = domain::devices;
namespace pol = domain::policies;
using nlohmann::json;

namespace {

// Queues the device's policy when what it was last handed is not the current version of
// its policy (a new version, or another policy assigned since): an InstallProfile command
// with DevicePolicyDelivered, in one append. The command channel calls it before it
// answers, so the device finds the command in the same round trip.
Result<LogPosition> DeliverCurrentPolicy(App& app, const std::string& serial) {
  AE_ASSIGN_OR_RETURN(json row, DevicePolicyRow(app, serial));
  if (!row.is_object()) return LogPosition();
  AE_ASSIGN_OR_RETURN(auto want, AppleDeliveryOf(app, row.value("policy_id", "")));
  if (!want) return LogPosition();
  const json delivered = row.value("delivered", json());
  if (delivered.is_object() && delivered.value("policy_id", "") == want->policy_id &&
      delivered.value("policy_version", 0u) == want->policy_version) {
    return LogPosition();
  }
  pol::Deliver deliver{*want, crypto::UuidV7(app.clock().NowMs())};
  AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(StreamId("device", serial),
                                                  pol::DeliveryDecider(deliver),
                                                  AppleDeviceContext(app, serial)));
  if (!res.events.empty()) {
    log::Get("enroll")->info("policy {} version {} queued for {}", want->policy_id,
                             want->policy_version, serial);
  }
  return res.events.empty() ? LogPosition() : res.position;
}

// The Payload of an InstallProfile command: the profile of the policy version it delivers.
Result<std::string> InstallProfilePayload(App& app, const std::string& serial,
                                          const std::string& command_uuid) {
  AE_ASSIGN_OR_RETURN(json row, DevicePolicyRow(app, serial));
  json pending = row.is_object() ? row.value("pending", json::object()) : json::object();
  if (!pending.contains(command_uuid)) {
    return NotFound("policy.delivery_not_found", "no policy delivery " + command_uuid);
  }
  const json& p = pending[command_uuid];
  return RenderInstallProfile(app, p.value("policy_id", ""), p.value("policy_version", 0u));
}

// PUT /mdm/apple/server
Result<Reply> CommandChannel(Server& server, App& app, const AppleEnrollment& state,
                             Call& call) {
  if (call.req.body.size() > mdm::kMaxCommandResultBytes) {
    return Status(StatusCode::kPayloadTooLarge, "request.too_large", "command result too large");
  }
  AE_ASSIGN_OR_RETURN(DeviceCaller caller, AuthenticateAppleDevice(app, state, call));
  const std::string& serial = caller.serial;
  AE_ASSIGN_OR_RETURN(auto result, mdm::ParseCommandResult(call.req.body));
  const StreamId stream("device", serial);
  AE_ASSIGN_OR_RETURN(auto device, proj::ReadDeviceRecord<proj::DeviceRecord>(app.views(), serial));
  if (!device || device->status != "enrolled") {
    return PermissionDenied("mdm.not_enrolled", "the device is not enrolled");
  }
  if (result.status != "Idle" && !result.command_uuid.empty()) {
    AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(
        stream,
        pol::DeliveryDecider(pol::CompleteAndAcknowledge{ddev::CompleteCommand{
            result.command_uuid, result.status, result.error_chain_text, false,
            caller.identity_sha256}}),
        AppleDeviceContext(app, serial)));
    AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
    if (result.status == "NotNow") return EmptyReply();  // asked again at the next check-in
  }
  // A policy that cannot be queued now (e.g. a read-only replica) is queued at a later
  // request: the commands already queued are served meanwhile.
  auto queued = DeliverCurrentPolicy(app, serial);
  if (!queued.ok()) {
    log::Get("enroll")->warn("cannot queue the policy of {}: {}", serial,
                             queued.status().ToString());
  } else if (queued->valid()) {
    AE_RETURN_IF_ERROR(server.WaitForViews(*queued));
  }
  // The next queued command, in order.
  std::optional<mdm::Command> next;
  AE_RETURN_IF_ERROR(app.views().Scan(proj::MdmQueuedCommand::kTable, proj::MdmQueuePrefix(serial),
                                      "", [&](std::string_view, std::string_view v) {
    auto q = proj::MdmQueuedCommand::Decode(v);
    if (!q.ok()) return true;
    next = mdm::Command{q->command_uuid, q->request_type, q->manifest_url};
    return false;
  }));
  if (!next) return EmptyReply();
  if (next->request_type == pol::kInstallProfile) {
    // Should the version be gone (a policy deleted and made again), the command goes
    // without its payload: the device answers Error and the queue moves on.
    auto payload = InstallProfilePayload(app, serial, next->command_uuid);
    if (payload.ok()) {
      next->payload = std::move(*payload);
    } else {
      log::Get("enroll")->warn("InstallProfile {} for {} has no profile: {}",
                               next->command_uuid, serial, payload.status().ToString());
    }
  }
  Reply r;
  r.raw = mdm::BuildCommandPlist(*next);
  r.content_type = "application/xml";
  return r;
}

}  // namespace

void AddAppleCommandRoute(Server& server, std::shared_ptr<const AppleEnrollment> state) {
  App& app = server.app();
  server.Route("PUT", "/mdm/apple/server", "/mdm/apple/server", Access::kPublic,
               [&server, &app, state](Call& call) {
                 return CommandChannel(server, app, *state, call);
               });
}

}  // namespace ae::api
