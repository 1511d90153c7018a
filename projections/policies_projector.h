#pragma once
// PoliciesProjector: policies and rule sets with their versions, which devices use them,
// and what each device was handed.
//
// Tables (JSON values, keys sorted, so bytes are deterministic; the records are the types of
// policy_records.h):
//   policies          id (lower name)      -> {id, name, version, description, created_at,
//                                              updated_at, last_position}: the current version;
//                                              gone once deleted
//   policy_versions   PolicyVersionKey     -> {id, name, version, description, apple_payloads,
//                                              android_config, sign, at}: each version
//   rulesets          id                   -> {id, name, version, description, created_at,
//                                              updated_at, last_position}
//   ruleset_versions  PolicyVersionKey     -> {id, name, version, description, rules, at}
//   policy_devices    "<policy id>/<device id>"  -> "": the usage index (a prefix scan
//                                              answers "which devices use it")
//   ruleset_devices   "<ruleset id>/<device id>" -> ""
//   device_policies   device id            -> {policy_id, ruleset_id, delivered?, acknowledged?,
//                                              last_error?, pending?: {command_uuid:
//                                              {policy_id, policy_version, ruleset_id,
//                                              ruleset_version}}}
//
// A device's policy is the last of DevicePolicyAssigned and DeviceEnrolled's policy_id on
// any of its streams (an empty id clears it); its rule set likewise. Old PolicyCreated
// events without content read as version 1 with empty content.

#include <cstdint>
#include <string>

#include "projections/projector.h"

namespace ae::proj {

// "<id>/<version, 10 digits>": the versions of one policy sort in order.
std::string PolicyVersionKey(const std::string& id, uint32_t version);
// The prefix of the usage index rows of a policy / rule set: "<id>/".
std::string UsagePrefix(const std::string& id);

class PoliciesProjector : public Projector {
 public:
  std::string name() const override { return "policies"; }
  std::vector<std::string> column_families() const override {
    return {"policies",       "policy_versions", "rulesets",       "ruleset_versions",
            "policy_devices", "ruleset_devices", "device_policies"};
  }
  Status Apply(const RecordedEvent& record, ViewBatch& batch) override;
};

}  // namespace ae::proj
