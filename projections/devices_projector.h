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
// A device removed from the inventory disappears from all three.

#include "projections/projector.h"

namespace ae::proj {

class DevicesProjector : public Projector {
 public:
  std::string name() const override { return "devices"; }
  std::vector<std::string> column_families() const override {
    return {"devices", "mdm_udids", "mdm_queue"};
  }
  Status Apply(const RecordedEvent& record, ViewBatch& batch) override;
};

// The mdm_queue key prefix of a device.
std::string MdmQueuePrefix(const std::string& device_id);

}  // namespace ae::proj
