#pragma once
// What the projectors share: the time of an event as the views show it.

#include <string>

#include "events/event_log.h"

namespace ae::proj::json_record {

// The event's occurred_at, RFC 3339 UTC with milliseconds.
std::string When(const events::Envelope& e);

}  // namespace ae::proj::json_record
