#pragma once
// Reason catalogue of the OAuth 1.0a signing of the DEP client: `oauth.`.
// Each entry is a reason code raised in the source tree, with the HTTP status it is answered
// with and its meaning; api/ERRORS.md shows them all. See events/base/reason_info.h.

#include "events/base/reason_info.h"

namespace ae::dep {

inline constexpr ReasonInfo kReasons[] = {
    {"oauth.bad_encoding", 400, "an OAuth value has a bad percent escape"},
    {"oauth.bad_header", 400, "the OAuth Authorization header is malformed"},
    {"oauth.duplicate_parameter", 400, "an OAuth parameter is given twice"},
};

}  // namespace ae::dep
