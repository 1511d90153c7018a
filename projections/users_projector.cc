#include "projections/users_projector.h"

#include <google/protobuf/util/time_util.h>

#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "projections/json_record.h"
#include "projections/user_records.h"

namespace ae::proj {

namespace {

// "device_user" for ROLE_DEVICE_USER.
std::string RoleName(autoenroll::events::v1::Role role) {
  std::string n = autoenroll::events::v1::Role_Name(role);
  if (n.rfind("ROLE_", 0) == 0) n = n.substr(5);
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n;
}

using json_record::When;

// The users record `id` through the batch; nullopt when there is none.
Result<std::optional<UserRecord>> LoadUser(ViewBatch& b, const std::string& id) {
  AE_ASSIGN_OR_RETURN(auto raw, b.Get("users", id));
  if (!raw) return std::optional<UserRecord>();
  AE_ASSIGN_OR_RETURN(UserRecord u, DecodeUser(*raw));
  return std::optional<UserRecord>(std::move(u));
}

// Writes `u` as changed by the event at `r`.
void PutUser(UserRecord& u, const RecordedEvent& r, ViewBatch& b, bool touch_updated = true) {
  if (touch_updated) u.updated_at = When(r.envelope);
  u.last_position = r.position.ToString();
  b.Put("users", u.user_id, EncodeUser(u));
}

// Deletes the tokens rows of user record `u`. Views of format 2 and before keyed the
// rows by the token's SHA-256 and listed them in "token_hashes"; a live view of that
// format keeps being updated until its rebuild is done, so those go too.
void DropTokens(UserRecord& u, ViewBatch& b) {
  for (const auto& id : u.token_ids) b.Delete("tokens", id);
  if (u.token_hashes) {
    for (const auto& h : *u.token_hashes) {
      auto raw = crypto::FromHex(h);
      if (raw.ok()) b.Delete("tokens", *raw);
    }
  }
  u.token_hashes.reset();
}

}  // namespace

std::atomic<uint64_t>& UsersViewGeneration() {
  static std::atomic<uint64_t> generation{0};
  return generation;
}

namespace {
void UsersViewMoved() { UsersViewGeneration().fetch_add(1, std::memory_order_acq_rel); }
}  // namespace

Status UsersProjector::Apply(const RecordedEvent& r, ViewBatch& b) {
  const events::Envelope& e = r.envelope;
  switch (e.payload_case()) {
    case events::Envelope::kUserCreated:
    case events::Envelope::kUserTokenIssued:
    case events::Envelope::kUserTokenRevoked:
    case events::Envelope::kUserRoleChanged:
    case events::Envelope::kUserDeleted:
    case events::Envelope::kPersonForgotten:
      b.AfterWrite(&UsersViewMoved);  // once the batch is in the store, not before
      break;
    default:
      break;
  }
  switch (e.payload_case()) {
    case events::Envelope::kUserCreated: {
      const auto& p = e.user_created();
      AE_ASSIGN_OR_RETURN(auto old, LoadUser(b, p.user_id()));
      if (old) DropTokens(*old, b);  // re-created after deletion: they are gone already
      UserRecord u;
      u.user_id = p.user_id();
      u.role = RoleName(p.role());
      u.personal = crypto::Base64(p.personal().SerializeAsString());
      u.created_by = p.created_by();
      u.created_at = When(e);
      PutUser(u, r, b);
      return Status::Ok();
    }
    case events::Envelope::kUserTokenIssued: {
      const auto& p = e.user_token_issued();
      AE_ASSIGN_OR_RETURN(auto u, LoadUser(b, p.user_id()));
      if (!u) return Status::Ok();
      u->token_ids.push_back(p.token_id());
      PutUser(*u, r, b);
      // Only the id: the deprecated token_sha256 of older events stays out of the views.
      TokenRecord t;
      t.user_id = p.user_id();
      t.token_id = p.token_id();
      t.created_at = When(e);
      t.legacy = !p.token_sha256().empty();
      b.Put("tokens", p.token_id(), EncodeToken(t));
      return Status::Ok();
    }
    case events::Envelope::kUserTokenRevoked: {
      const auto& p = e.user_token_revoked();
      AE_ASSIGN_OR_RETURN(auto u, LoadUser(b, p.user_id()));
      if (!u) return Status::Ok();
      std::erase(u->token_ids, p.token_id());
      PutUser(*u, r, b);
      b.Delete("tokens", p.token_id());
      return Status::Ok();
    }
    case events::Envelope::kUserRoleChanged: {
      const auto& p = e.user_role_changed();
      AE_ASSIGN_OR_RETURN(auto u, LoadUser(b, p.user_id()));
      if (!u) return Status::Ok();
      u->role = RoleName(p.role());
      PutUser(*u, r, b);
      return Status::Ok();
    }
    case events::Envelope::kUserDeleted: {
      const auto& p = e.user_deleted();
      AE_ASSIGN_OR_RETURN(auto u, LoadUser(b, p.user_id()));
      if (!u) return Status::Ok();
      DropTokens(*u, b);
      u->token_ids.clear();
      u->deleted = true;
      PutUser(*u, r, b);
      return Status::Ok();
    }
    case events::Envelope::kPersonForgotten: {
      const auto& p = e.person_forgotten();
      AE_ASSIGN_OR_RETURN(auto u, LoadUser(b, p.subject_id()));
      if (!u) return Status::Ok();
      u->forgotten = true;
      PutUser(*u, r, b, /*touch_updated=*/false);
      return Status::Ok();
    }
    default:
      return Status::Ok();
  }
}

}  // namespace ae::proj
