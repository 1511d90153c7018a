#pragma once
// EventLog: the append-only, hash-chained log every fact of autoenroll goes to.
//
// Implementations: RocksDbEventLog (embedded default) and KafkaEventLog. Both
// pass the same conformance suite (tests/integration/event_log_conformance_test.cc).
//
// Thread-safety: every method may be called from any thread concurrently.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "autoenroll/events/v1/events.pb.h"
#include "events/base/ids.h"
#include "events/base/status.h"

namespace ae::events {

using Envelope = autoenroll::events::v1::Envelope;

// One record as stored: its position, its exact stored bytes and the decoded envelope.
struct RecordedEvent {
  LogPosition position;
  std::string raw;      // the serialized Envelope exactly as stored (hashed by the chain)
  Envelope envelope;
};

struct AppendResult {
  LogPosition first;            // position of the first appended event
  LogPosition last;             // position of the last appended event
  StreamVersion stream_version; // the stream's version after the append
};

class EventLog {
 public:
  virtual ~EventLog() = default;

  // Appends `events` to `stream` iff the stream is at `expected`.
  // The log fills in each envelope's stream, stream_version, recorded_at,
  // prev_hash and (when empty) event_id and occurred_at.
  // On success every event is durable and readable; returns their positions.
  // On any error nothing is appended:
  //   kConflict            the stream is not at `expected` (reason log.wrong_expected_version)
  //   kInvalidArgument     empty `events` or an invalid stream id
  //   kUnavailable         the log cannot be written now (reason log.unavailable); after a
  //                        failed durable write the error is sticky (see Health()). Or
  //                        this process may not write: log.read_only (a replica, a tool's
  //                        read-only open), log.fenced (a newer writer took over).
  virtual Result<AppendResult> Append(const StreamId& stream, ExpectedVersion expected,
                                      std::vector<Envelope> events) = 0;

  // Many independent appends submitted together (one group commit where they
  // fit): each item succeeds or fails on its own exactly as Append would, and
  // the results come back in the items' order. For bulk writers (sync,
  // import) that would otherwise pay one durable write per stream.
  struct AppendItem {
    StreamId stream;
    ExpectedVersion expected;
    std::vector<Envelope> events;
  };
  virtual std::vector<Result<AppendResult>> AppendBatch(std::vector<AppendItem> items);

  // Up to `max` records at or after `from`, in log order within each partition.
  // An empty result means nothing more is there now.
  virtual Result<std::vector<RecordedEvent>> Read(const LogCursor& from, size_t max) const = 0;

  // Read() for a reader that acts on a few kinds of event: of the (at most `max`) records
  // at or after `from`, those whose payload is one of `cases`, and `reached`, the cursor past
  // every record looked at, kept or not. The logs pass over the other records without
  // decoding them (a subscriber of assignment requests does not parse an import's devices).
  struct MatchingRecords {
    std::vector<RecordedEvent> records;
    LogCursor reached;
  };
  virtual Result<MatchingRecords> ReadMatching(const LogCursor& from, size_t max,
                                               const std::vector<int>& cases) const;

  // The events of `stream` with stream_version >= `from_version`, in order (at most `max`).
  virtual Result<std::vector<RecordedEvent>> ReadStream(const StreamId& stream,
                                                        StreamVersion from_version = 1,
                                                        size_t max = SIZE_MAX) const = 0;

  // Current version of `stream` (0 when it does not exist).
  virtual Result<StreamVersion> GetStreamVersion(const StreamId& stream) const = 0;

  // A cursor just past the last readable record of every partition.
  virtual Result<LogCursor> Head() const = 0;

  // A cursor just past what the log's source holds now: the head for the embedded log; for
  // Kafka the end (last stable offset) of every partition of the topic, which the readable
  // head reaches as the mirror catches up. Reached(end) tells when it has.
  virtual Result<LogCursor> SourceEnd(std::chrono::milliseconds timeout) const {
    (void)timeout;
    return Head();
  }
  // True when the readable head covers `end` (from SourceEnd): all it named can be read.
  bool Reached(const LogCursor& end) const {
    auto head = Head();
    if (!head.ok()) return false;
    for (const auto& [p, next] : end.next_offsets()) {
      if (head->Next(p) < next) return false;
    }
    return true;
  }

  // Blocks until a record past `cursor` is readable or `timeout` passes.
  // Returns true when there is something new. Subscribers loop Read + WaitForNew.
  virtual bool WaitForNew(const LogCursor& cursor, std::chrono::milliseconds timeout) const = 0;

  // OK while the log accepts appends; the sticky error otherwise.
  virtual Status Health() const = 0;

  // "rocksdb" or "kafka".
  virtual std::string Kind() const = 0;
};

// Fills a fresh envelope's header fields that callers usually leave empty.
// (event_id, occurred_at, schema_version.) Exposed for tools that build events.
void FillEnvelopeDefaults(Envelope& env, int64_t now_ms);

// The payload case of an envelope's bytes, read from its fields' tags without decoding it
// (Envelope::PAYLOAD_NOT_SET when it has none); nullopt when the bytes are not an envelope.
std::optional<int> PayloadCaseOf(std::string_view bytes);

// Subscription: calls `handler` for each batch of records after `from`, on its
// own thread, until stopped. The handler returns the status of its work; on a
// non-OK status the subscription retries the same batch after a pause.
// Stop() (or destruction) returns after the current handler call finishes.
// With `cases` (Envelope payload cases), the handler sees only those records
// (EventLog::ReadMatching); `reached` tells how far the log was looked at.
class Subscription {
 public:
  using Handler =
      std::function<Status(const std::vector<RecordedEvent>& records, const LogCursor& reached)>;
  Subscription(const EventLog& log, LogCursor from, Handler handler, size_t batch = 1000,
               std::vector<int> cases = {});
  ~Subscription();
  void Stop();
  LogCursor cursor() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ae::events
