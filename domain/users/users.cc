#include "domain/users/users.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>

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

std::string TokenIdFor(std::string_view id_key, std::string_view token) {
  return crypto::Hex(crypto::HmacSha256(id_key, token)).substr(0, 16);
}

std::string LegacyTokenIdFor(std::string_view token) {
  return crypto::Hex(crypto::Sha256(token)).substr(0, 16);
}

std::string TokenVerifier(std::string_view verifier_key, std::string_view token_sha256) {
  return crypto::HmacSha256(verifier_key, token_sha256);
}

bool ValidTokenId(std::string_view id) {
  return id.size() == 16 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

double SeedEntropyBits(std::string_view seed) {
  if (seed.empty()) return 0;
  std::array<size_t, 256> counts{};
  for (unsigned char c : seed) ++counts[c];
  double bits_per_char = 0;
  const double n = static_cast<double>(seed.size());
  for (size_t count : counts) {
    if (count == 0) continue;
    double p = static_cast<double>(count) / n;
    bits_per_char -= p * std::log2(p);
  }
  return bits_per_char * n;
}

Status CheckAdminSeed(std::string_view seed) {
  const std::string field = "AUTOENROLL_ADMIN_TOKEN";
  for (unsigned char c : seed) {
    if (c <= 0x20 || c >= 0x7f) {
      return InvalidArgument("admin.weak_seed",
                             field + " may hold only printable ASCII characters without spaces",
                             field);
    }
  }
  double bits = SeedEntropyBits(seed);
  if (seed.size() < kMinSeedLength || bits < kMinSeedBits) {
    char estimate[32];
    std::snprintf(estimate, sizeof estimate, "%.0f", bits);
    return InvalidArgument(
        "admin.weak_seed",
        field + " is too weak: it has " + std::to_string(seed.size()) +
            " characters and an estimated " + estimate + " bits of entropy; it needs at least " +
            std::to_string(kMinSeedLength) + " characters and 128 bits (generate one with "
            "`openssl rand -base64 32`), or leave it unset for a random token",
        field);
  }
  return Status::Ok();
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
    case Envelope::kUserTokenRevoked: {
      const std::string& id = e.user_token_revoked().token_id();
      auto it = std::find(s.token_ids.begin(), s.token_ids.end(), id);
      if (it != s.token_ids.end()) s.token_ids.erase(it);
      s.revoked_token_ids.push_back(id);
      break;
    }
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

namespace {
bool Contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}
}  // namespace

Result<std::vector<Envelope>> Decide(const UserState& s, const IssueToken& c) {
  if (!s.exists || s.deleted) return NotFound("user.not_found", "no such user");
  if (Contains(s.token_ids, c.token_id)) {
    return AlreadyExists("user.token_exists", "the user already has this token");
  }
  if (Contains(s.revoked_token_ids, c.token_id)) {
    return FailedPrecondition("user.token_revoked",
                              "this token was revoked and cannot be issued again");
  }
  Envelope e;
  auto* p = e.mutable_user_token_issued();
  p->set_user_id(c.user_id);
  p->set_token_id(c.token_id);
  return std::vector<Envelope>{std::move(e)};
}

Result<std::vector<Envelope>> Decide(const UserState& s, const RevokeToken& c) {
  if (!s.exists || s.deleted) return NotFound("user.not_found", "no such user");
  if (!Contains(s.token_ids, c.token_id)) {
    return NotFound("user.token_not_found", "the user has no token " + c.token_id);
  }
  Envelope e;
  auto* p = e.mutable_user_token_revoked();
  p->set_user_id(c.user_id);
  p->set_token_id(c.token_id);
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
