#pragma once
// Reason catalogue of the command bus: `command.`.
// Each entry is a reason code raised in the source tree, with the HTTP status it is answered
// with and its meaning; api/ERRORS.md shows them all. See events/base/reason_info.h.

#include "events/base/reason_info.h"

namespace ae::domain {

inline constexpr ReasonInfo kReasons[] = {
    {"command.conflict", 409, "the record changed concurrently too often: try again"},
    {"command.not_run", 500, "the command was not run"},
};

}  // namespace ae::domain
