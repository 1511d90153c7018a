#pragma once
// DevicesProjector: the inventory of enrolled devices (every platform) and the
// MDM command channel's queue.
//
// Tables:
//   devices     device_id -> {id, platform, serial_number, udid, imei, model,
//                 os_version, user_id, policy_id, ruleset_id, status:
//                 enrolled|checked_out, configured, enrolled_at, last_seen_at,
//                 last_message_type, pending_commands, updated_at, last_position}
//   mdm_udids   udid -> device_id (check-ins name the device by UDID)
//   mdm_queue   device_id \x1f <stream_version, 12 digits> -> {command_uuid,
//                 request_type, manifest_url}   (pending commands, in order)
//   mdm_identities  device_id -> {certificate_sha256, udid, signer_sha256,
//                 state: active|revoked, issued_at, revoked_reason, revoked_at}:
//                 the Apple device's current MDM identity, which check-ins must be
//                 signed with. Revoked by DeviceIdentityRevoked, and when Apple no
//                 longer assigns the device to this server (DepDeviceUnassigned,
//                 DepDeviceDisowned: reasons dep_unassigned, dep_disowned).
// A device removed from the inventory disappears from the first three; its
// identity stays, revoked.

#include "projections/projector.h"

namespace ae::proj {

class DevicesProjector : public Projector {
 public:
  std::string name() const override { return "devices"; }
  std::vector<std::string> column_families() const override {
    return {"devices", "mdm_udids", "mdm_queue", "mdm_identities"};
  }
  Status Apply(const RecordedEvent& record, ViewBatch& batch) override;
};

// The mdm_queue key prefix of a device.
std::string MdmQueuePrefix(const std::string& device_id);

}  // namespace ae::proj
