#pragma once
// Reason catalogue of policies and rule sets, and their delivery to devices: `policy.`, `ruleset.`.
// Each entry is a reason code raised in the source tree, with the HTTP status it is answered
// with and its meaning; api/ERRORS.md shows them all. See events/base/reason_info.h.

#include "events/base/reason_info.h"

namespace ae::domain::policies {

inline constexpr ReasonInfo kReasons[] = {
    {"policy.already_exists", 409, "a policy with this name exists"},
    {"policy.bad_delivery", 400, "an MDM delivery needs a command uuid"},
    {"policy.bad_status", 400, "status must be Acknowledged or Error"},
    {"policy.delivery_not_found", 404, "no policy delivery has this command uuid"},
    {"policy.duplicate_payload_identifier", 400, "two payloads use the same PayloadIdentifier"},
    {"policy.in_use", 409, "devices use this policy, so it cannot be deleted"},
    {"policy.invalid_android_config", 400, "android_config must be an object"},
    {"policy.invalid_payload", 400, "apple_payloads must be an array of valid payloads"},
    {"policy.not_delivered", 409, "this policy version is not what the device was last handed"},
    {"policy.not_found", 404, "no policy has this id"},
    {"policy.rename_not_supported", 400,
     "a new version keeps the policy's name (its case may change): create a new policy to "
     "rename it"},
    {"policy.secret_in_payload", 400, "a payload holds a secret in plaintext"},
    {"policy.too_large", 400, "apple_payloads is limited to 256 KiB"},
    {"policy.version_not_found", 404, "the policy has no such version"},
    {"ruleset.already_exists", 409, "a rule set with this name exists"},
    {"ruleset.in_use", 409, "devices use this rule set, so it cannot be deleted"},
    {"ruleset.invalid_action", 400, "a rule's action is not one of notify, block, lock, wipe"},
    {"ruleset.invalid_condition", 400, "a rule's condition is not valid"},
    {"ruleset.invalid_rule", 400, "rules must be an array of valid rules"},
    {"ruleset.not_found", 404, "no rule set has this id"},
    {"ruleset.rename_not_supported", 400,
     "a new version keeps the rule set's name (its case may change): create a new rule set to "
     "rename it"},
    {"ruleset.version_not_found", 404, "the rule set has no such version"},
};

}  // namespace ae::domain::policies
