#pragma once
// Lookups that device routes share: turning the names a client sends (username,
// policy or rule set name) into the ids events carry, and back for answers.
// They read the users and policies views only, so they see what the views have applied.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/app.h"
#include "api/request_body.h"
#include "domain/users/users.h"

namespace ae::api {

inline constexpr const char* kRedacted = "[redacted]";

// The user id of `username` when the user exists (not deleted) with at least
// `min_role`. kUnprocessable "device.unknown_user" (field `field`) otherwise,
// "device.user_role_too_low" when the role does not suffice.
Result<std::string> ResolveUserId(App& app, const std::string& username,
                                  domain::users::Role min_role, const std::string& field = "user");

// The username of `user_id` for an answer: the username, kRedacted when the
// person was forgotten, "" for an empty id or an unknown user.
std::string UsernameOf(App& app, const std::string& user_id);

// The id (lower-cased name) of an existing policy / rule set (the policies views of
// projections/policies_projector.h: a deleted one no longer resolves).
// kUnprocessable "device.unknown_policy" / "device.unknown_ruleset" (field set).
Result<std::string> ResolvePolicyId(App& app, const std::string& name,
                                    const std::string& field = "policy");
Result<std::string> ResolveRuleSetId(App& app, const std::string& name,
                                     const std::string& field = "ruleset");
// The display name of a policy / rule set id ("" when empty or unknown).
std::string PolicyName(App& app, const std::string& id);
std::string RuleSetName(App& app, const std::string& id);

}  // namespace ae::api
