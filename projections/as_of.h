#pragma once
// The views as they were: a record at a point in the past, rebuilt from the log's
// stream index (so it costs the record's own events, not the log).
//
//   AsOfPoint     a point in the log: a position, or a wall-clock time.
//   StreamEvents  the events of some streams, merged in log order.
//   AsOfReader    the record `key` of table `cf` as a projector builds it, in a scratch
//                 batch that sees nothing else, from the events up to that point: its
//                 stored bytes (Read), or decoded by the view's own codec (ReadRecord).
//
// AsOfReader keeps two bounded caches of its own (one per reader, so one per process
// that wires one): the decoded events of small streams by stream version, and the
// records already rebuilt. Both hold only what the log holds: personal data stays
// sealed there and is opened when an answer is rendered, so a forget still applies.
//
// Thread-safety: AsOfReader is safe from any thread; the projector passed to Read must
// not be used by another thread meanwhile.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "events/base/status.h"
#include "events/event_log.h"
#include "projections/projector.h"
#include "projections/view_store.h"

namespace ae::proj {

// A point in the log: a position, or a wall-clock time (RFC 3339) matched
// against each event's recorded_at.
struct AsOfPoint {
  std::optional<LogPosition> position;
  int64_t time_ms = 0;  // the time; for a position, its record's time (AsOfReader::Resolve)
  bool Includes(const events::RecordedEvent& r) const;
  bool Includes(const LogPosition& at, int64_t recorded_ms) const;
};
// Parses ?as_of= (std::nullopt for ""). kInvalidArgument "request.bad_as_of" (field as_of).
Result<std::optional<AsOfPoint>> ParseAsOf(const std::string& text);

// The events of `streams` merged in log order (at most `max`, bounded): by offset within
// a partition, by recorded time across partitions.
Result<std::vector<events::RecordedEvent>> StreamEvents(const events::EventLog& log,
                                                        const std::vector<StreamId>& streams,
                                                        size_t max = 100'000);

class AsOfReader {
 public:
  // `log` is read (its stream index and head); `views` lends its column families to the
  // scratch batches, whose reads never reach the live records. Both must outlive it.
  AsOfReader(const events::EventLog& log, ViewStore& views);

  // In a log of several partitions (Kafka), a position orders the records of its own
  // partition by offset and those of the others by time: sets at->time_ms to the time
  // the log recorded that position (the end of time past the head). A no-op otherwise.
  Status Resolve(AsOfPoint* at) const;

  // The bytes of record `key` of table `cf` as `projector` builds them from the events
  // of `streams` included by `at` (the bytes the live view holds once it reached that
  // point); std::nullopt when the record did not exist yet.
  Result<std::optional<std::string>> Read(Projector& projector,
                                          const std::vector<StreamId>& streams,
                                          const std::string& cf, const std::string& key,
                                          const AsOfPoint& at);

  // Read, decoded by the view's codec: Record::kTable and Record::Decode (kCorruption
  // "view.corruption" when the bytes are not a Record).
  template <typename Record>
  Result<std::optional<Record>> ReadRecord(Projector& projector,
                                           const std::vector<StreamId>& streams,
                                           const std::string& key, const AsOfPoint& at) {
    AE_ASSIGN_OR_RETURN(auto raw, Read(projector, streams, Record::kTable, key, at));
    if (!raw) return std::optional<Record>();
    AE_ASSIGN_OR_RETURN(Record r, Record::Decode(*raw));
    return std::optional<Record>(std::move(r));
  }

 private:
  using Records = std::shared_ptr<const std::vector<events::RecordedEvent>>;
  // StreamEvents through the stream cache, for streams of at most 1000 events.
  Result<std::vector<events::RecordedEvent>> CachedStreamEvents(
      const std::vector<StreamId>& streams);

  static constexpr size_t kMaxRecords = 8192;
  static constexpr size_t kMaxStreams = 1024;

  const events::EventLog& log_;
  ViewStore& views_;
  std::mutex mu_;
  // Point-in-time records are immutable: the record a projector builds from the first n
  // events of each stream is the same every time. Keyed by projector, table, key and the
  // number of events included per stream; cleared when full (cheap to refill).
  std::unordered_map<std::string, std::optional<std::string>> records_;  // guarded by mu_
  // A stream at version v always holds the same v events: read and decoded once per
  // version. Cleared when full.
  std::unordered_map<std::string, std::pair<StreamVersion, Records>> streams_;  // guarded by mu_
};

}  // namespace ae::proj
