#include "events/upcast.h"

namespace ae::events {

namespace pb = autoenroll::events::v1;

std::string DepRefusalReasonV2(const std::string& v1_reason) {
  if (v1_reason.empty() || v1_reason.find('.') != std::string::npos) return v1_reason;
  return "enroll." + v1_reason;
}

std::string KmeRefusalReasonV2(const std::string& v1_reason) {
  if (v1_reason.empty() || v1_reason.find('.') != std::string::npos) return v1_reason;
  if (v1_reason == "not_imported") return "kme.device_not_imported";
  return "kme." + v1_reason;
}

namespace {

// 1 -> 2: refusal reasons become the error codes the device was answered.
void V1ToV2(pb::Envelope& e) {
  switch (e.payload_case()) {
    case pb::Envelope::kDepEnrollmentRefused: {
      auto* p = e.mutable_dep_enrollment_refused();
      p->set_reason(DepRefusalReasonV2(p->reason()));
      break;
    }
    case pb::Envelope::kKmeEnrollmentRefused: {
      auto* p = e.mutable_kme_enrollment_refused();
      p->set_reason(KmeRefusalReasonV2(p->reason()));
      break;
    }
    default:
      break;
  }
}

}  // namespace

void Upcast(pb::Envelope& e) {
  uint32_t v = e.schema_version() == 0 ? 1 : e.schema_version();
  if (v >= kSchemaVersion) return;
  if (v < 2) V1ToV2(e);
  e.set_schema_version(kSchemaVersion);
}

}  // namespace ae::events
