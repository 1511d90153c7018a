#pragma once
// A device's story and its past: the events of the device's streams, read from
// the log's stream index (so a history costs its own events, not the log).
//
//   History   every event of the streams, in log order, each with time, actor,
//             position, type, a one-line summary and the event itself.
//   AsOf      the view record as it was at a point in the past: the same
//             projector applied, in a scratch batch that sees nothing else, to
//             the events up to that point.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/app.h"
#include "projections/projector.h"

namespace ae::api {

// A point in the log: a position, or a wall-clock time (RFC 3339) matched
// against each event's recorded_at.
struct AsOfPoint {
  std::optional<LogPosition> position;
  int64_t time_ms = 0;  // the time; for a position, its record's time (ResolveAsOf)
  bool Includes(const events::RecordedEvent& r) const;
  bool Includes(const LogPosition& at, int64_t recorded_ms) const;
};
// Parses ?as_of=. kInvalidArgument "request.bad_as_of" (field as_of).
Result<std::optional<AsOfPoint>> ParseAsOf(const std::string& text);

// In a log of several partitions (Kafka), a position orders the records of its own
// partition by offset and those of the others by time: sets time_ms to the time the
// log recorded that position (the end of time past the head). A no-op otherwise.
Status ResolveAsOf(App& app, AsOfPoint* at);

// The events of `streams` merged in log order (at most `max`, bounded).
Result<std::vector<events::RecordedEvent>> StreamEvents(App& app,
                                                        const std::vector<StreamId>& streams,
                                                        size_t max = 100'000);

// {items:[{position, time, recorded_at, type, stream, actor:{kind,id}, summary, event}], count}
Result<nlohmann::json> History(App& app, const std::vector<StreamId>& streams);

// The record `key` of table `cf` as `projector` builds it from the events of
// `streams` included by `at`; null when it did not exist yet.
Result<nlohmann::json> AsOf(App& app, proj::Projector& projector,
                            const std::vector<StreamId>& streams, const std::string& cf,
                            const std::string& key, const AsOfPoint& at);

// One line for a human, e.g. "Apple accepted profile prof_1 (assigned)".
std::string Summary(const events::Envelope& e);

}  // namespace ae::api
