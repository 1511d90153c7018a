#include "api/lookup.h"

#include "events/base/crypto.h"
#include "projections/policy_records.h"
#include "projections/user_records.h"

namespace ae::api {

namespace users = domain::users;

namespace {
// The id of the policy / rule set (Record) named `name`.
template <typename Record>
Result<std::string> ResolveNamed(App& app, const std::string& name, const std::string& kind,
                                 const std::string& field) {
  if (users::ValidateRecordName(name).ok()) {
    std::string key = users::RecordKey(name);
    AE_ASSIGN_OR_RETURN(auto rec, proj::ReadPolicyRecord<Record>(app.views(), key));
    if (rec) return key;
  }
  return Unprocessable("device.unknown_" + kind, "no " + kind + " named '" + name + "'", field);
}

// The name of the policy / rule set (Record) `id`; "" when there is none.
template <typename Record>
std::string NameOf(App& app, const std::string& id) {
  if (id.empty()) return "";
  auto rec = proj::ReadPolicyRecord<Record>(app.views(), id);
  if (!rec.ok() || !*rec) return "";
  return (*rec)->name;
}
}  // namespace

Result<std::string> ResolveUserId(App& app, const std::string& username, users::Role min_role,
                                  const std::string& field) {
  if (!users::ValidateUsername(username).ok()) {
    return Unprocessable("device.unknown_user", "no user named '" + username + "'", field);
  }
  std::string id = users::UserIdFor(app.user_id_key(), username);
  AE_ASSIGN_OR_RETURN(auto raw, app.views().Get("users", id));
  std::optional<proj::UserRecord> rec;
  if (raw) {
    AE_ASSIGN_OR_RETURN(rec, proj::DecodeUser(*raw));
  }
  if (!rec || rec->deleted) {
    return Unprocessable("device.unknown_user", "no user named '" + username + "'", field);
  }
  auto role = users::ParseRole(rec->role);
  if (!role || !users::RoleAtLeast(*role, min_role)) {
    return Unprocessable("device.user_role_too_low",
                         "user '" + username + "' needs at least role " +
                             users::RoleName(min_role),
                         field);
  }
  return id;
}

std::string UsernameOf(App& app, const std::string& user_id) {
  if (user_id.empty()) return "";
  auto stored = app.views().Get("users", user_id);
  if (!stored.ok() || !*stored) return "";
  auto rec = proj::DecodeUser(**stored);
  if (!rec.ok()) return "";
  if (rec->forgotten) return kRedacted;
  autoenroll::events::v1::SealedPersonal sealed;
  auto raw = crypto::FromBase64(rec->personal);
  if (!raw.ok() || !sealed.ParseFromString(*raw)) return "";
  auto personal = app.person_keys().Open(sealed);
  if (!personal.ok()) return "";
  if (!*personal) return kRedacted;
  return (*personal)->username();
}

Result<std::string> ResolvePolicyId(App& app, const std::string& name, const std::string& field) {
  return ResolveNamed<proj::PolicyRecord>(app, name, "policy", field);
}
Result<std::string> ResolveRuleSetId(App& app, const std::string& name, const std::string& field) {
  return ResolveNamed<proj::RuleSetRecord>(app, name, "ruleset", field);
}
std::string PolicyName(App& app, const std::string& id) {
  return NameOf<proj::PolicyRecord>(app, id);
}
std::string RuleSetName(App& app, const std::string& id) {
  return NameOf<proj::RuleSetRecord>(app, id);
}

}  // namespace ae::api
