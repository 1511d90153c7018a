#pragma once
// Reason catalogue of devices and what is assigned to them: `device.`.
// Each entry is a reason code raised in the source tree, with the HTTP status it is answered
// with and its meaning; api/ERRORS.md shows them all. See events/base/reason_info.h.

#include "events/base/reason_info.h"

namespace ae::domain::devices {

inline constexpr ReasonInfo kReasons[] = {
    {"device.bad_identity", 400, "a device identity needs a device and a fingerprint"},
    {"device.not_enrolled", 409, "the device is not enrolled"},
    {"device.not_found", 404, "no device has this id"},
    {"device.unknown_policy", 422, "no policy has this name"},
    {"device.unknown_ruleset", 422, "no rule set has this name"},
    {"device.unknown_user", 422, "no user has this name"},
    {"device.user_role_too_low", 422, "the user's role is too low for this device"},
};

}  // namespace ae::domain::devices
