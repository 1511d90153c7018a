#pragma once
// A device's story: the events of the device's streams, read from the log's stream
// index (so a history costs its own events, not the log), each rendered for a human.
//
//   History   every event of the streams, in log order, each with time, actor,
//             position, type, a one-line summary and the event itself.
//
// The views as they were (?as_of=) are projections/as_of.h, read through the App's
// AsOfReader; the names below keep the routes that call them through the App short.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/app.h"
#include "projections/as_of.h"
#include "projections/projector.h"

namespace ae::api {

using proj::AsOfPoint;
using proj::ParseAsOf;

// app.as_of().Resolve(at).
Status ResolveAsOf(App& app, AsOfPoint* at);

// The events of `streams` merged in log order (at most `max`, bounded).
Result<std::vector<events::RecordedEvent>> StreamEvents(App& app,
                                                        const std::vector<StreamId>& streams,
                                                        size_t max = 100'000);

// {items:[{position, time, recorded_at, type, stream, actor:{kind,id}, summary, event}], count}
Result<nlohmann::json> History(App& app, const std::vector<StreamId>& streams);

// app.as_of().ReadRecord<Record>(...): the record `key` of Record's table as `projector`
// builds it from the events of `streams` included by `at`, decoded by the view's codec;
// std::nullopt when it did not exist yet.
template <typename Record>
Result<std::optional<Record>> AsOf(App& app, proj::Projector& projector,
                                   const std::vector<StreamId>& streams, const std::string& key,
                                   const AsOfPoint& at) {
  return app.as_of().template ReadRecord<Record>(projector, streams, key, at);
}

// One line for a human, e.g. "Apple accepted profile prof_1 (assigned)".
std::string Summary(const events::Envelope& e);

}  // namespace ae::api
