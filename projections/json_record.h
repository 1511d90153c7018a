#pragma once
// What the projectors that keep JSON records share: the time of an event as the views show
// it, and reading a record through the batch (the batch's own writes first).

#include <string>

#include <nlohmann/json.hpp>

#include "events/event_log.h"
#include "projections/view_store.h"

namespace ae::proj::json_record {

// The event's occurred_at, RFC 3339 UTC with milliseconds.
std::string When(const events::Envelope& e);

// The record `key` of `cf` as JSON: null when there is none; kCorruption "view.corruption"
// when it does not parse.
Result<nlohmann::json> Load(ViewBatch& b, const std::string& cf, const std::string& key);

}  // namespace ae::proj::json_record
