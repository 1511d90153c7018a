#pragma once
// KmeProjector: Samsung KME devices, their identifier index and the KME settings.
//
// Tables (JSON values with sorted keys, so bytes are deterministic; the records are the
// types of kme_records.h):
//   kme_devices   device_id -> {id, imei, imei2, meid, serial_number, model, profile_name,
//                               tags [..], attributes {..}, knox_status, source, user_id,
//                               user_by_deployment, user_conflict, policy_id, ruleset_id,
//                               enrollment, enrolled_at, created_at, updated_at,
//                               last_position}; empty values (and false) are left out.
//                 KmeDeviceImported.matched_user_id is the device's first user (as in
//                 domain::kme::Evolve); the DeviceUserAssigned that follows it writes nothing.
//                 user_by_deployment: true while the user is one the Knox Deployment App
//                 bound (as domain::kme::Evolve decides it: the import's source, or a
//                 DeviceUserAssigned whose actor is a device). user_conflict: the last
//                 KmeDeploymentUserOverridden {at, position, deployment_user_id, user_id,
//                 by: csv | knox_api | administrator, import_id?, line?}.
//   kme_versions  device_id -> the kme-device stream's version in decimal (every event of
//                 the stream counts), so a writer can append with it as the expected version.
//   kme_ids       "imei:<14 digits>" | "meid:<MEID>" | "serial:<serial>" -> device_id, one key
//                 per identifier of every device (the keys of domain::kme::MatchKeys).
//   kme_by_user   <user_id> "/" <device_id> -> "" (devices of a user, for ?user=)
//   kme_settings  "enrollment_token" -> {token_sha256 (hex), secret_ref, rotated_at,
//                                        last_position}
//                 "knox" -> the Knox Cloud API connection (stream kme-knox/default):
//                   connected:    {configured: true, connection_id, base_url, token_url,
//                                  client_id, customer_id, auto_approve_uploads,
//                                  client_secret_ref, client_secret_sha256 (hex, a
//                                  fingerprint), connected_at, state, last_sync?,
//                                  last_success_at?, last_position}
//                   disconnected: {configured: false, disconnected_at, last_position}
//                 `state` is "never_synced" until a sync of this connection completes,
//                 then its KmeSyncCompleted.connection_state (a cancelled sync leaves it);
//                 `last_sync` is the summary of the connection's last sync {sync_id, at,
//                 started_at, full, changed_after?, devices_seen, events_written, created,
//                 updated, unchanged, rejected, users_matched, uploads_approved,
//                 error?: {code, message}, errors?: [{code, message, knox_device_id?}]}.
//                 Syncs of an older connection change nothing.
//
// Events: KmeDeviceImported / KmeDeviceUpdated, DeviceUserAssigned, DevicePolicyAssigned,
// DeviceRuleSetAssigned and KmeDeploymentUserOverridden on kme-device/ streams, DeviceEnrolled with platform ANDROID whose
// device_id is a KME device (enrollment: "enrolled"), KmeEnrollmentTokenRotated,
// KmeKnoxConnected, KmeKnoxDisconnected, KmeSyncCompleted.

#include "projections/projector.h"

namespace ae::proj {

class KmeProjector : public Projector {
 public:
  std::string name() const override { return "kme"; }
  std::vector<std::string> column_families() const override {
    return {"kme_devices", "kme_versions", "kme_ids", "kme_by_user", "kme_settings"};
  }
  std::vector<std::string> point_read_families() const override {
    return {"kme_devices", "kme_versions", "kme_ids"};
  }
  Status Apply(const RecordedEvent& record, ViewBatch& batch) override;
};

}  // namespace ae::proj
