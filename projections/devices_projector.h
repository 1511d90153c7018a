#pragma once
// DevicesProjector: the inventory of enrolled devices (every platform) and the
// MDM command channel's queue.
//
// Tables (their records, typed, in device_records.h):
//   devices         device_id -> DeviceRecord
//   mdm_udids       udid -> MdmUdidRecord (check-ins name the device by UDID)
//   mdm_queue       MdmQueueKey(device_id, stream_version) -> MdmQueuedCommand (pending
//                   commands, in order)
//   mdm_identities  device_id -> MdmIdentityRecord: the Apple device's current MDM
//                   identity, which check-ins must be signed with. Revoked by
//                   DeviceIdentityRevoked, and when Apple no longer assigns the device to
//                   this server (DepDeviceUnassigned, DepDeviceDisowned: reasons
//                   dep_unassigned, dep_disowned).
// A device removed from the inventory disappears from the first three; its
// identity stays, revoked.

#include "projections/device_records.h"
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

}  // namespace ae::proj
