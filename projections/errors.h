#pragma once
// Reason catalogue of the views (read models) and their rebuild: `view.`, `views.`.
// Each entry is a reason code raised in the source tree, with the HTTP status it is answered
// with and its meaning; api/ERRORS.md shows them all. See events/base/reason_info.h.

#include "events/base/reason_info.h"

namespace ae::proj {

inline constexpr ReasonInfo kReasons[] = {
    {"view.bad_checkpoint", 500, "a view's checkpoint does not parse"},
    {"view.beyond_target", 409, "the views are already past the requested position"},
    {"view.cancelled", 503, "the replay into the views was cancelled"},
    {"view.corruption", 500, "a view record does not parse"},
    {"view.lagging", 503, "the views have not reached min_position in time: retry"},
    {"view.missing_family", 500, "the live views lack a column family"},
    {"view.read_failed", 503, "a view cannot be read"},
    {"view.target_unreachable", 503, "the log has no records up to the requested position"},
    {"view.too_many_waits", 429, "this user already has too many requests waiting for the views"},
    {"view.unavailable", 503, "the views cannot be read or written"},
    {"views.bad_dir", 400, "the views directory name is not valid"},
    {"views.custom_dir", 409,
     "the views directory was given explicitly: rebuild with replay instead"},
    {"views.io", 503, "the live views pointer (views.current) cannot be written"},
    {"views.live_behind", 503, "the live views do not catch up with the log"},
    {"views.no_rebuild", 404, "no view rebuild is running"},
    {"views.read_only", 409, "this process does not write views"},
    {"views.rebuild_cancelled", 503, "the view rebuild was cancelled"},
    {"views.rebuild_differs", 409,
     "the rebuilt views differ from the live ones, so they are not switched"},
    {"views.rebuild_running", 409, "a view rebuild is already running"},
    {"views.rebuilding", 503,
     "these views are being rebuilt: GET /v1/admin/views/rebuild shows when they are done"},
};

}  // namespace ae::proj
