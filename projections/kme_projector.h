#pragma once
// KmeProjector: Samsung KME devices, their identifier index and the KME settings.
//
// Tables (JSON values with sorted keys, so bytes are deterministic):
//   kme_devices   device_id -> {id, imei, imei2, meid, serial_number, model, profile_name,
//                               tags [..], attributes {..}, knox_status, source, user_id,
//                               policy_id, ruleset_id, enrollment, enrolled_at, created_at,
//                               updated_at, last_position}; empty values are left out.
//                 KmeDeviceImported.matched_user_id is the device's first user (as in
//                 domain::kme::Evolve); the DeviceUserAssigned that follows it writes nothing.
//   kme_versions  device_id -> the kme-device stream's version in decimal (every event of
//                 the stream counts), so a writer can append with it as the expected version.
//   kme_ids       "imei:<14 digits>" | "meid:<MEID>" | "serial:<serial>" -> device_id, one key
//                 per identifier of every device (the keys of domain::kme::MatchKeys).
//   kme_by_user   <user_id> "/" <device_id> -> "" (devices of a user, for ?user=)
//   kme_settings  "enrollment_token" -> {token_sha256 (hex), secret_ref, rotated_at,
//                                        last_position}
//
// Events: KmeDeviceImported / KmeDeviceUpdated, DeviceUserAssigned, DevicePolicyAssigned and
// DeviceRuleSetAssigned on kme-device/ streams, DeviceEnrolled with platform ANDROID whose
// device_id is a KME device (enrollment: "enrolled"), KmeEnrollmentTokenRotated.

#include "projections/projector.h"

namespace ae::proj {

class KmeProjector : public Projector {
 public:
  std::string name() const override { return "kme"; }
  std::vector<std::string> column_families() const override {
    return {"kme_devices", "kme_versions", "kme_ids", "kme_by_user", "kme_settings"};
  }
  Status Apply(const RecordedEvent& record, ViewBatch& batch) override;
};

}  // namespace ae::proj
