#pragma once
// Every projector of the engine, in a fixed order. `serve` and `replay` use the
// same list, so a rebuilt view store matches the live one.

#include <memory>
#include <string>
#include <vector>

#include "projections/projector.h"

namespace ae::proj {

// The format of the views these projectors write. Bumped whenever a projector
// writes something new or different for the same events; views of another
// format are rebuilt from the log (App::Start).
//   1  (unstamped) the first format
//   2  dep_counts_history: every change of an account's device counts
//   3  users.token_ids and tokens by token id (no token hashes in the views);
//      kme_devices: user_by_deployment, user_conflict; devices: mdm_identities
//   4  policies and rule sets with versions, their usage index and each device's
//      delivered policy (PoliciesProjector; no longer in the users projector);
//      enrollments: one record per DEP/KME device, its indexes, the reconciliation
//      findings (EnrollmentsProjector);
//      rules, jobs, job_outcomes (enrollment rules and bulk assignment jobs)
inline constexpr const char* kViewsFormat = "4";

std::vector<std::unique_ptr<Projector>> AllProjectors();
// The union of their column families.
std::vector<std::string> AllColumnFamilies(const std::vector<std::unique_ptr<Projector>>& ps);
// The union of their point-read families (ViewStoreOptions::point_read_families).
std::vector<std::string> AllPointReadFamilies(const std::vector<std::unique_ptr<Projector>>& ps);

}  // namespace ae::proj
