#pragma once
// The body of POST /v1/dep/profiles, read into the event that defines the profile.

#include <string>

#include <nlohmann/json.hpp>

#include "events/base/status.h"
#include "autoenroll/events/v1/events.pb.h"

namespace ae::api {

// Builds the profile from a request body, validated as Apple would (apple-dep.md §5):
// account_id and profile_name required, url an http(s) URL (default `default_url`),
// the flags booleans (await_device_configured needs is_supervised), the strings within
// Apple's lengths, the lists lists of strings (at most 256), skip_setup_items among
// Apple's keys. 400 with the field named otherwise.
Result<autoenroll::events::v1::DepProfileDefined> ParseProfile(const nlohmann::json& body,
                                                             const std::string& default_url);

}  // namespace ae::api
