#pragma once
// Reason catalogue of bulk assignment jobs: `job.`.
// Each entry is a reason code raised in the source tree, with the HTTP status it is answered
// with and its meaning; api/ERRORS.md shows them all. See events/base/reason_info.h.

#include "events/base/reason_info.h"

namespace ae::assign {

inline constexpr ReasonInfo kReasons[] = {
    {"job.empty_action", 400, "give a profile_id, user, policy or ruleset"},
    {"job.exists", 409, "a job with this id exists"},
    {"job.not_found", 404, "no assignment job has this id"},
    {"job.not_running", 409, "the job is no longer running"},
    {"job.running", 409, "another bulk assignment job is running: one runs at a time"},
    {"job.selection_too_large", 400, "the selection has more devices than one job may take"},
};

}  // namespace ae::assign
