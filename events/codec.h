#pragma once
// Conversions of log records for people and tools: payload type names and JSON.

#include <nlohmann/json.hpp>
#include <string>

#include "events/event_log.h"

namespace ae::events {

// The payload's message name, e.g. "DepTokenUploaded"; "" when no payload is set
// (an event type unknown to this build).
std::string PayloadType(const Envelope& env);

// The record as JSON: {"position", "event_id", "stream", "stream_version",
// "occurred_at", "recorded_at", "actor", "correlation_id", "causation_id",
// "schema_version", "prev_hash" (hex), "type", "data" (the payload, proto JSON
// mapping with original field names; UserTokenIssued's deprecated token_sha256 is
// left out)}.
nlohmann::json RecordToJson(const RecordedEvent& record);

}  // namespace ae::events
