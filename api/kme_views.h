#pragma once
// The KME view lookups the KME routes share, and the ports of the Samsung Knox services
// (adapters/samsung_knox: the CSV import, the Knox Cloud API sync and the Android
// enrollment) over the App.

#include <string>

#include <nlohmann/json.hpp>

#include "adapters/samsung_knox/android_enrollment.h"
#include "adapters/samsung_knox/kme_ingest.h"
#include "api/app.h"
#include "domain/kme/kme.h"
#include "projections/kme_records.h"

namespace ae::api {

// The views' plain-string tables (kme_ids, kme_versions), as the Samsung Knox services
// read them.
ae::knox::ViewGet KmeViewGet(App& app);
// A KME device record as the Samsung Knox services read it.
ae::knox::KmeViewDevice KmeViewDeviceOf(const proj::KmeDeviceRecord& record);
// The KME ingest's hooks: the views (the KME devices through proj::KmeDeviceRecord), the
// users view (a User ID names a user with role device_user or above, not deleted) and the
// projection runner.
ae::knox::KmeIngestHooks KmeIngestHooksFor(App& app);
// The Android enrollment's hooks: the views (the inventory through proj::DeviceRecord), and
// what a device is handed of its policy and rule set (api/policy_delivery.h).
ae::knox::AndroidEnrollmentHooks AndroidEnrollmentHooksFor(App& app);

// The device id the identifiers index names, "" when none does. kFailedPrecondition
// "kme.identifier_conflict" when they name two different devices.
Result<std::string> FindKmeDevice(App& app, const domain::kme::Identifiers& ids);

// The kme_devices record of `device_id` (nullopt when absent).
Result<std::optional<proj::KmeDeviceRecord>> LoadKmeDevice(App& app,
                                                           const std::string& device_id);

// Parses a device id or any identifier (IMEI, IMEI2, MEID, serial) a client sends and
// returns the device id; kNotFound "kme.device_not_found" when no device has it.
Result<std::string> ResolveKmeDeviceRef(App& app, const std::string& ref);

// Normalises identifiers a device or a client sends (spec §1.4 step 4). Fields: the
// request field names. kInvalidArgument "kme.bad_identifier" (field set) when one is not
// an identifier; an empty result when none is given.
Result<domain::kme::Identifiers> ParseKmeIdentifiers(const std::string& imei,
                                                     const std::string& imei2,
                                                     const std::string& meid,
                                                     const std::string& serial);

}  // namespace ae::api
