#pragma once
// Reason catalogue of enrollment rules: `rule.`.
// Each entry is a reason code raised in the source tree, with the HTTP status it is answered
// with and its meaning; api/ERRORS.md shows them all. See events/base/reason_info.h.

#include "events/base/reason_info.h"

namespace ae::domain::rules {

inline constexpr ReasonInfo kReasons[] = {
    {"rule.bad_name", 400, "name must have 1 to 128 characters"},
    {"rule.bad_source", 400, "when.source must be dep or kme"},
    {"rule.empty_action", 400, "then must give a profile_id, user, policy or ruleset"},
    {"rule.exists", 409, "the rule id is taken"},
    {"rule.not_found", 404, "no enrollment rule has this id"},
    {"rule.profile_for_kme", 400,
     "a DEP profile cannot be given to Knox devices (when.source is kme)"},
};

}  // namespace ae::domain::rules
