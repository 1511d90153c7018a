#pragma once
// Schema versions and upcasting: old records read as the current schema.
//
// Envelope.schema_version is the version of the schema a record was written
// with. The schema only grows (tests/golden/README.md), so an old record always
// decodes; but when the *meaning* of a field changes, the new version says so,
// and Upcast() brings an older record to the current meaning when it is read.
// Every reader of the engine (projections, histories, point-in-time answers,
// `events export`, /v1/events) sees events upcast; the stored bytes, and so the
// hash chain, the audit export and the raw Kafka topic, stay as written.
//
// Versions:
//   1  the first schema.
//   2  DepEnrollmentRefused.reason and KmeEnrollmentRefused.reason hold the
//      stable error code the device was answered ("enroll.no_profile",
//      "kme.device_not_imported"), where version 1 held a bare word
//      ("no_profile", "not_imported").

#include <cstdint>
#include <string>

#include "autoenroll/events/v1/events.pb.h"

namespace ae::events {

// The version this build writes.
inline constexpr uint32_t kSchemaVersion = 2;

// Brings `e` to kSchemaVersion in place (a no-op for a current record). A
// record of a newer version than this build is left as it is.
void Upcast(autoenroll::events::v1::Envelope& e);

// Version 1 -> 2 of the refusal reasons (exposed for tests).
std::string DepRefusalReasonV2(const std::string& v1_reason);
std::string KmeRefusalReasonV2(const std::string& v1_reason);

}  // namespace ae::events
