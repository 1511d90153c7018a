#include "domain/users/users.h"

#include <algorithm>
#include <cctype>

#include "events/base/crypto.h"

namespace ae::domain::users {

namespace v1 = autoenroll::events::v1;

std::optional<Role> ParseRole(std::string_view t) {
  if (t == "device_user") return v1::ROLE_DEVICE_USER;
  if (t == "device_manager") return v1::ROLE_DEVICE_MANAGER;
  if (t == "administrator") return v1::ROLE_ADMINISTRATOR;
  return std::nullopt;
}

std::string RoleName(Role r) {
  switch (r) {
    case v1::ROLE_DEVICE_USER: return "device_user";
    case v1::ROLE_DEVICE_MANAGER: return "device_manager";
    case v1::ROLE_ADMINISTRATOR: return "administrator";
    default: return "none";
  }
}

bool RoleAtLeast(Role have, Role need) {
  return have != v1::ROLE_UNSPECIFIED && static_cast<int>(have) >= static_cast<int>(need);
}

Status ValidateUsername(std::string_view u) {
  if (u.empty() || u.size() > 64) {
    return InvalidArgument("user.invalid_username", "username must be 1 to 64 characters",
                           "username");
  }
  for (char c : u) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
          c == '@' || c == '+')) {
      return InvalidArgument("user.invalid_username",
                             "username may contain only letters, digits and . _ - @ +",
                             "username");
    }
  }
  return Status::Ok();
}

std::string NormalizeUsername(std::string_view u) {
  std::string s(u);
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string UserIdFor(std::string_view id_key, std::string_view username) {
  return crypto::Hex(crypto::HmacSha256(id_key, NormalizeUsername(username))).substr(0, 32);
}

Status ValidateRecordName(std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return InvalidArgument("record.invalid_name", "name must be 1 to 128 characters", "name");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/') {
      return InvalidArgument("record.invalid_name",
                             "name may not contain control characters or '/'", "name");
    }
  }
  return Status::Ok();
}

std::string RecordKey(std::string_view name) {
  std::string s(name);
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

UserState Evolve(UserState s, const Envelope& e) {
  switch (e.payload_case()) {
    case Envelope::kUserCreated:
      s = UserState{};
      s.exists = true;
      s.role = e.user_created().role();
      break;
    case Envelope::kUserTokenIssued:
      s.token_ids.push_back(e.user_token_issued().token_id());
      break;
    case Envelope::kUserRoleChanged:
      s.role = e.user_role_changed().role();
      break;
    case Envelope::kUserDeleted:
      s.deleted = true;
      s.token_ids.clear();
      break;
    case Envelope::kPersonForgotten:
      s.forgotten = true;
      break;
    default:
      break;
  }
  return s;
}

Result<std::vector<Envelope>> Decide(const UserState& s, const CreateUser& c) {
  if (s.exists && !s.deleted) {
    return AlreadyExists("user.already_exists", "a user with this username already exists");
  }
  if (c.role == v1::ROLE_UNSPECIFIED) {
    return InvalidArgument("user.invalid_role", "role is required", "role");
  }
  Envelope e;
  auto* p = e.mutable_user_created();
  p->set_user_id(c.user_id);
  p->set_role(c.role);
  *p->mutable_personal() = c.personal;
  p->set_created_by(c.created_by);
  return std::vector<Envelope>{std::move(e)};
}

Result<std::vector<Envelope>> Decide(const UserState& s, const IssueToken& c) {
  if (!s.exists || s.deleted) return NotFound("user.not_found", "no such user");
  Envelope e;
  auto* p = e.mutable_user_token_issued();
  p->set_user_id(c.user_id);
  p->set_token_id(c.token_id);
  p->set_token_sha256(c.token_sha256);
  return std::vector<Envelope>{std::move(e)};
}

Result<std::vector<Envelope>> Decide(const UserState& s, const DeleteUser& c) {
  if (!s.exists) return NotFound("user.not_found", "no such user");
  std::vector<Envelope> out;
  if (!s.deleted) {
    Envelope e;
    e.mutable_user_deleted()->set_user_id(c.user_id);
    out.push_back(std::move(e));
  }
  if (c.forget && !s.forgotten) {
    Envelope e;
    e.mutable_person_forgotten()->set_subject_id(c.user_id);
    out.push_back(std::move(e));
  }
  return out;
}

NamedState EvolveNamed(NamedState s, const Envelope& e) {
  if (e.has_policy_created() || e.has_ruleset_created()) s.exists = true;
  return s;
}

Result<std::vector<Envelope>> Decide(const NamedState& s, const CreatePolicy& c) {
  if (s.exists) return AlreadyExists("policy.already_exists", "a policy with this name exists");
  Envelope e;
  e.mutable_policy_created()->set_policy_id(c.key);
  e.mutable_policy_created()->set_name(c.name);
  return std::vector<Envelope>{std::move(e)};
}

Result<std::vector<Envelope>> Decide(const NamedState& s, const CreateRuleSet& c) {
  if (s.exists) return AlreadyExists("ruleset.already_exists", "a rule set with this name exists");
  Envelope e;
  e.mutable_ruleset_created()->set_ruleset_id(c.key);
  e.mutable_ruleset_created()->set_name(c.name);
  return std::vector<Envelope>{std::move(e)};
}

}  // namespace ae::domain::users
