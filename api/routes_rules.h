#pragma once
// What the rule routes and the bulk assignment route share: the action a client names
// ({profile_id?, user?, policy?, ruleset?}) read into the ids events carry, and back.

#include <string>

#include <nlohmann/json.hpp>

#include "api/app.h"

namespace ae::api {

// Reads `then` (an object; `prefix` names it in refusals, "" for the body itself):
// profile_id (an existing DEP profile), user (a username, role device_user at least),
// policy, ruleset (names). 400 naming the field: request.unknown_field, request.bad_field,
// dep.profile_not_found, device.unknown_user, device.user_role_too_low,
// device.unknown_policy, device.unknown_ruleset.
Result<autoenroll::events::v1::AssignmentAction> ParseAssignmentAction(
    App& app, const nlohmann::json& then, const std::string& prefix);

// {profile_id?, user?, policy?, ruleset?} with names for ids.
nlohmann::json RenderAssignmentAction(App& app, const autoenroll::events::v1::AssignmentAction& a);

}  // namespace ae::api
