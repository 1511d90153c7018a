#include "projections/users_projector.h"

#include <google/protobuf/util/time_util.h>

#include <nlohmann/json.hpp>

#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "projections/json_record.h"

namespace ae::proj {

namespace {
using nlohmann::json;

// "device_user" for ROLE_DEVICE_USER.
std::string RoleName(autoenroll::events::v1::Role role) {
  std::string n = autoenroll::events::v1::Role_Name(role);
  if (n.rfind("ROLE_", 0) == 0) n = n.substr(5);
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n;
}

using json_record::Load;
using json_record::When;

// Deletes the tokens rows of user record `u`. Views of format 2 and before keyed the
// rows by the token's SHA-256 and listed them in "token_hashes"; a live view of that
// format keeps being updated until its rebuild is done, so those go too.
void DropTokens(json& u, ViewBatch& b) {
  for (const auto& id : u.value("token_ids", json::array())) {
    if (id.is_string()) b.Delete("tokens", id.get<std::string>());
  }
  for (const auto& h : u.value("token_hashes", json::array())) {
    if (!h.is_string()) continue;
    auto raw = crypto::FromHex(h.get<std::string>());
    if (raw.ok()) b.Delete("tokens", *raw);
  }
  u.erase("token_hashes");
}

}  // namespace

std::atomic<uint64_t>& UsersViewGeneration() {
  static std::atomic<uint64_t> generation{0};
  return generation;
}

void UsersProjector::Committed() {
  if (!touched_) return;
  touched_ = false;
  UsersViewGeneration().fetch_add(1, std::memory_order_acq_rel);
}

Status UsersProjector::Apply(const RecordedEvent& r, ViewBatch& b) {
  const events::Envelope& e = r.envelope;
  switch (e.payload_case()) {
    case events::Envelope::kUserCreated:
    case events::Envelope::kUserTokenIssued:
    case events::Envelope::kUserTokenRevoked:
    case events::Envelope::kUserRoleChanged:
    case events::Envelope::kUserDeleted:
    case events::Envelope::kPersonForgotten:
      touched_ = true;
      break;
    default:
      break;
  }
  switch (e.payload_case()) {
    case events::Envelope::kUserCreated: {
      const auto& p = e.user_created();
      AE_ASSIGN_OR_RETURN(json old, Load(b, "users", p.user_id()));
      if (old.is_object()) DropTokens(old, b);  // re-created after deletion: they are gone already
      json j = {{"user_id", p.user_id()},
                {"role", RoleName(p.role())},
                {"personal", crypto::Base64(p.personal().SerializeAsString())},
                {"created_by", p.created_by()},
                {"created_at", When(e)},
                {"updated_at", When(e)},
                {"deleted", false},
                {"forgotten", false},
                {"token_ids", json::array()},
                {"last_position", r.position.ToString()}};
      b.Put("users", p.user_id(), j.dump());
      return Status::Ok();
    }
    case events::Envelope::kUserTokenIssued: {
      const auto& p = e.user_token_issued();
      AE_ASSIGN_OR_RETURN(json j, Load(b, "users", p.user_id()));
      if (!j.is_object()) return Status::Ok();
      j["token_ids"].push_back(p.token_id());
      j["updated_at"] = When(e);
      j["last_position"] = r.position.ToString();
      b.Put("users", p.user_id(), j.dump());
      // Only the id: the deprecated token_sha256 of older events stays out of the views.
      json t = {{"user_id", p.user_id()},
                {"token_id", p.token_id()},
                {"created_at", When(e)},
                {"legacy", !p.token_sha256().empty()}};
      b.Put("tokens", p.token_id(), t.dump());
      return Status::Ok();
    }
    case events::Envelope::kUserTokenRevoked: {
      const auto& p = e.user_token_revoked();
      AE_ASSIGN_OR_RETURN(json j, Load(b, "users", p.user_id()));
      if (!j.is_object()) return Status::Ok();
      json kept = json::array();
      for (const auto& id : j.value("token_ids", json::array())) {
        if (id != p.token_id()) kept.push_back(id);
      }
      j["token_ids"] = std::move(kept);
      j["updated_at"] = When(e);
      j["last_position"] = r.position.ToString();
      b.Put("users", p.user_id(), j.dump());
      b.Delete("tokens", p.token_id());
      return Status::Ok();
    }
    case events::Envelope::kUserRoleChanged: {
      const auto& p = e.user_role_changed();
      AE_ASSIGN_OR_RETURN(json j, Load(b, "users", p.user_id()));
      if (!j.is_object()) return Status::Ok();
      j["role"] = RoleName(p.role());
      j["updated_at"] = When(e);
      j["last_position"] = r.position.ToString();
      b.Put("users", p.user_id(), j.dump());
      return Status::Ok();
    }
    case events::Envelope::kUserDeleted: {
      const auto& p = e.user_deleted();
      AE_ASSIGN_OR_RETURN(json j, Load(b, "users", p.user_id()));
      if (!j.is_object()) return Status::Ok();
      DropTokens(j, b);
      j["token_ids"] = json::array();
      j["deleted"] = true;
      j["updated_at"] = When(e);
      j["last_position"] = r.position.ToString();
      b.Put("users", p.user_id(), j.dump());
      return Status::Ok();
    }
    case events::Envelope::kPersonForgotten: {
      const auto& p = e.person_forgotten();
      AE_ASSIGN_OR_RETURN(json j, Load(b, "users", p.subject_id()));
      if (!j.is_object()) return Status::Ok();
      j["forgotten"] = true;
      j["last_position"] = r.position.ToString();
      b.Put("users", p.subject_id(), j.dump());
      return Status::Ok();
    }
    default:
      return Status::Ok();
  }
}

}  // namespace ae::proj
