#include "projections/devices_projector.h"

#include <functional>

#include "projections/json_record.h"

namespace ae::proj {

namespace {
namespace pb = autoenroll::events::v1;

using json_record::When;

// The device of an event on its device stream ("" for any other stream).
std::string DeviceId(const events::Envelope& e) {
  if (e.stream().rfind("device/", 0) != 0) return "";
  return e.stream().substr(7);
}

std::string PlatformName(pb::Platform p) {
  switch (p) {
    case pb::PLATFORM_APPLE: return "apple";
    case pb::PLATFORM_ANDROID: return "android";
    default: return "unknown";
  }
}

// Drops every command queued for the device.
void ClearQueue(ViewBatch& b, DeviceRecord& d) {
  for (const auto& [uuid, key] : d.pending_commands) b.Delete(MdmQueuedCommand::kTable, key);
  d.pending_commands.clear();
}

void Touch(ViewBatch& b, const RecordedEvent& r, const std::string& id, DeviceRecord& d) {
  d.updated_at = When(r.envelope);
  d.last_position = r.position.ToString();
  b.Put(DeviceRecord::kTable, id, d.Encode());
}

// Applies fn to the inventory record of the event's device, when the inventory has it.
Status UpdateDevice(ViewBatch& b, const RecordedEvent& r,
                    const std::function<void(DeviceRecord&)>& fn) {
  const std::string id = DeviceId(r.envelope);
  if (id.empty()) return Status::Ok();
  AE_ASSIGN_OR_RETURN(auto d, ReadDeviceRecord<DeviceRecord>(b, id));
  if (!d) return Status::Ok();
  fn(*d);
  Touch(b, r, id, *d);
  return Status::Ok();
}

// ---- inventory and command queue ----

// A new enrollment starts a fresh record: the previous one's queue and UDID go.
Status OnDeviceEnrolled(const RecordedEvent& r, ViewBatch& b) {
  const std::string id = DeviceId(r.envelope);
  if (id.empty()) return Status::Ok();
  const auto& p = r.envelope.device_enrolled();
  AE_ASSIGN_OR_RETURN(auto old, ReadDeviceRecord<DeviceRecord>(b, id));
  if (old) {
    ClearQueue(b, *old);
    if (!old->udid.empty()) b.Delete(MdmUdidRecord::kTable, old->udid);
  }
  DeviceRecord d;
  d.id = id;
  d.platform = PlatformName(p.platform());
  d.serial_number = p.serial_number();
  d.udid = p.udid();
  d.imei = p.imei();
  d.model = p.model();
  d.os_version = p.os_version();
  d.user_id = p.user_id();
  d.policy_id = p.policy_id();
  d.ruleset_id = p.ruleset_id();
  d.push_topic = p.push_topic();
  d.status = "enrolled";
  d.enrolled_at = d.last_seen_at = When(r.envelope);
  if (!p.udid().empty()) b.Put(MdmUdidRecord::kTable, p.udid(), MdmUdidRecord{id}.Encode());
  Touch(b, r, id, d);
  return Status::Ok();
}

Status OnDeviceCheckedIn(const RecordedEvent& r, ViewBatch& b) {
  return UpdateDevice(b, r, [&](DeviceRecord& d) {
    d.last_seen_at = When(r.envelope);
    d.last_message_type = r.envelope.device_checked_in().message_type();
  });
}

Status OnDeviceCommandQueued(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.device_command_queued();
  return UpdateDevice(b, r, [&](DeviceRecord& d) {
    const std::string key = MdmQueueKey(DeviceId(r.envelope), r.envelope.stream_version());
    b.Put(MdmQueuedCommand::kTable, key,
          MdmQueuedCommand{p.command_uuid(), p.request_type(), p.manifest_url()}.Encode());
    d.pending_commands[p.command_uuid()] = key;
  });
}

// Any answer but NotNow takes the command off the queue.
Status OnDeviceCommandCompleted(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.device_command_completed();
  return UpdateDevice(b, r, [&](DeviceRecord& d) {
    d.last_seen_at = When(r.envelope);
    auto pending = d.pending_commands.find(p.command_uuid());
    if (p.status() != "NotNow" && pending != d.pending_commands.end()) {
      b.Delete(MdmQueuedCommand::kTable, pending->second);
      d.pending_commands.erase(pending);
    }
    d.last_command =
        DeviceCommandOutcome{p.command_uuid(), p.status(), p.error(), When(r.envelope)};
  });
}

Status OnDeviceConfigured(const RecordedEvent& r, ViewBatch& b) {
  return UpdateDevice(b, r, [](DeviceRecord& d) { d.configured = true; });
}

Status OnDeviceCheckedOut(const RecordedEvent& r, ViewBatch& b) {
  return UpdateDevice(b, r, [&](DeviceRecord& d) {
    d.status = "checked_out";
    ClearQueue(b, d);
  });
}

// The device leaves the inventory with its UDID and queue; its identity stays.
Status OnDeviceRemovedFromInventory(const RecordedEvent& r, ViewBatch& b) {
  const std::string id = DeviceId(r.envelope);
  if (id.empty()) return Status::Ok();
  AE_ASSIGN_OR_RETURN(auto d, ReadDeviceRecord<DeviceRecord>(b, id));
  if (!d) return Status::Ok();
  ClearQueue(b, *d);
  if (!d->udid.empty()) b.Delete(MdmUdidRecord::kTable, d->udid);
  b.Delete(DeviceRecord::kTable, id);
  return Status::Ok();
}

// ---- identities ----

// A new identity replaces the record whole.
Status OnDeviceIdentityIssued(const RecordedEvent& r, ViewBatch& b) {
  const std::string id = DeviceId(r.envelope);
  if (id.empty()) return Status::Ok();
  const auto& p = r.envelope.device_identity_issued();
  MdmIdentityRecord identity;
  identity.certificate_sha256 = p.certificate_sha256();
  identity.udid = p.udid();
  identity.signer_sha256 = p.signer_sha256();
  identity.state = "active";
  identity.issued_at = When(r.envelope);
  b.Put(MdmIdentityRecord::kTable, id, identity.Encode());
  return Status::Ok();
}

// Revokes the current identity (the one the event names, when it names one); an identity
// never recorded is recorded revoked with the certificate the event names.
Status OnDeviceIdentityRevoked(const RecordedEvent& r, ViewBatch& b) {
  const std::string id = DeviceId(r.envelope);
  if (id.empty()) return Status::Ok();
  const auto& p = r.envelope.device_identity_revoked();
  AE_ASSIGN_OR_RETURN(auto loaded, ReadDeviceRecord<MdmIdentityRecord>(b, id));
  MdmIdentityRecord identity;
  if (loaded) {
    identity = std::move(*loaded);
  } else {
    identity.certificate_sha256 = p.certificate_sha256();
  }
  if (!p.certificate_sha256().empty() && p.certificate_sha256() != identity.certificate_sha256) {
    return Status::Ok();  // an earlier identity, already replaced
  }
  identity.state = "revoked";
  identity.revoked_reason = p.reason();
  identity.revoked_at = When(r.envelope);
  b.Put(MdmIdentityRecord::kTable, id, identity.Encode());
  return Status::Ok();
}

// Apple no longer assigns the device to this server: its MDM identity ends.
Status RevokeForDep(const RecordedEvent& r, ViewBatch& b, const char* reason) {
  constexpr std::string_view kPrefix = "dep-device/";
  const events::Envelope& e = r.envelope;
  if (e.stream().rfind(kPrefix, 0) != 0) return Status::Ok();
  const std::string serial = e.stream().substr(kPrefix.size());
  AE_ASSIGN_OR_RETURN(auto identity, ReadDeviceRecord<MdmIdentityRecord>(b, serial));
  if (!identity || identity->state != "active") return Status::Ok();
  identity->state = "revoked";
  identity->revoked_reason = reason;
  identity->revoked_at = When(e);
  b.Put(MdmIdentityRecord::kTable, serial, identity->Encode());
  return Status::Ok();
}

Status OnDepDeviceUnassigned(const RecordedEvent& r, ViewBatch& b) {
  return RevokeForDep(r, b, "dep_unassigned");
}

Status OnDepDeviceDisowned(const RecordedEvent& r, ViewBatch& b) {
  return RevokeForDep(r, b, "dep_disowned");
}
}  // namespace

Status DevicesProjector::Apply(const RecordedEvent& r, ViewBatch& b) {
  using E = events::Envelope;
  switch (r.envelope.payload_case()) {
    case E::kDeviceEnrolled: return OnDeviceEnrolled(r, b);
    case E::kDeviceCheckedIn: return OnDeviceCheckedIn(r, b);
    case E::kDeviceCommandQueued: return OnDeviceCommandQueued(r, b);
    case E::kDeviceCommandCompleted: return OnDeviceCommandCompleted(r, b);
    case E::kDeviceConfigured: return OnDeviceConfigured(r, b);
    case E::kDeviceCheckedOut: return OnDeviceCheckedOut(r, b);
    case E::kDeviceRemovedFromInventory: return OnDeviceRemovedFromInventory(r, b);
    case E::kDeviceIdentityIssued: return OnDeviceIdentityIssued(r, b);
    case E::kDeviceIdentityRevoked: return OnDeviceIdentityRevoked(r, b);
    case E::kDepDeviceUnassigned: return OnDepDeviceUnassigned(r, b);
    case E::kDepDeviceDisowned: return OnDepDeviceDisowned(r, b);
    default: return Status::Ok();
  }
}

}  // namespace ae::proj
