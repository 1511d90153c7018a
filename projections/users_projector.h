#pragma once
// UsersProjector: users and API tokens (policies and rule sets: policies_projector.h).
//
// Tables (JSON values, keys sorted, so bytes are deterministic):
//   users     user_id            -> {user_id, role, personal (base64 SealedPersonal),
//                                    created_by, created_at, deleted, forgotten,
//                                    token_ids [the active tokens, in issue order],
//                                    updated_at, last_position}
//   tokens    token_id           -> {user_id, token_id, created_at, legacy}: the active
//                                   tokens; `legacy` when the issuing event carries the
//                                   deprecated token_sha256 (never copied here). No hash
//                                   of a token is in the views: its verifier is in the
//                                   token store (api/api_tokens.h).

#include <atomic>
#include <cstdint>

#include "projections/projector.h"

namespace ae::proj {

class UsersProjector : public Projector {
 public:
  std::string name() const override { return "users"; }
  std::vector<std::string> column_families() const override {
    return {"users", "tokens"};
  }
  Status Apply(const RecordedEvent& record, ViewBatch& batch) override;
};

// Advanced after every committed change to the users or tokens tables, in any
// view store of the process: a cache of who a token belongs to stays valid
// while it has not moved.
std::atomic<uint64_t>& UsersViewGeneration();

}  // namespace ae::proj
