#pragma once
// Strong identifiers of the log: positions, stream ids, expected versions.

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace ae {

// Where a record sits in the log: a partition and an offset within it.
// The embedded log has one partition (0) with offsets 0, 1, 2, ...; in Kafka
// mode these are the topic's partition and offset (offsets may have gaps).
// Text form: "<offset>" for partition 0, "<partition>:<offset>" otherwise.
struct LogPosition {
  int32_t partition = 0;
  int64_t offset = -1;  // -1: none

  bool valid() const { return offset >= 0; }
  std::string ToString() const;
  static std::optional<LogPosition> Parse(std::string_view text);
  auto operator<=>(const LogPosition&) const = default;
};

// A read cursor over a (possibly partitioned) log: for each partition the next
// offset to read. A partition missing from the map is read from its start.
// Text form: "0:12,1:40" (used for checkpoints and /v1/events?after=).
class LogCursor {
 public:
  LogCursor() = default;
  // Next offset to read in `partition` (0 if never advanced).
  int64_t Next(int32_t partition) const;
  // Marks `pos` as read: Next(pos.partition) becomes pos.offset + 1 if larger.
  void Advance(const LogPosition& pos);
  // True when every record up to and including `pos` has been read.
  bool Covers(const LogPosition& pos) const { return Next(pos.partition) > pos.offset; }
  const std::map<int32_t, int64_t>& next_offsets() const { return next_; }
  std::string ToString() const;
  static std::optional<LogCursor> Parse(std::string_view text);
  // A cursor positioned just after `pos` (single partition form).
  static LogCursor After(const LogPosition& pos);
  bool operator==(const LogCursor&) const = default;

 private:
  std::map<int32_t, int64_t> next_;
};

// A stream names one aggregate: "<type>/<id>", e.g. "dep-device/C02XK1ABCD".
// Never carries personal data.
class StreamId {
 public:
  StreamId() = default;
  explicit StreamId(std::string value) : value_(std::move(value)) {}
  StreamId(std::string_view type, std::string_view id)
      : value_(std::string(type) + "/" + std::string(id)) {}
  const std::string& str() const { return value_; }
  std::string_view type() const;
  std::string_view id() const;
  bool empty() const { return value_.empty(); }
  auto operator<=>(const StreamId&) const = default;

 private:
  std::string value_;
};

// Version of a stream: number of events in it (0 = no stream).
using StreamVersion = uint64_t;

// What an append expects of its stream, as in EventStoreDB.
class ExpectedVersion {
 public:
  static ExpectedVersion Any() { return ExpectedVersion(kAny); }
  static ExpectedVersion NoStream() { return ExpectedVersion(0); }
  static ExpectedVersion Exactly(StreamVersion v) { return ExpectedVersion(static_cast<int64_t>(v)); }
  bool Matches(StreamVersion actual) const {
    return v_ == kAny || static_cast<StreamVersion>(v_) == actual;
  }
  bool is_any() const { return v_ == kAny; }
  std::string ToString() const { return v_ == kAny ? "any" : std::to_string(v_); }

 private:
  static constexpr int64_t kAny = -1;
  explicit ExpectedVersion(int64_t v) : v_(v) {}
  int64_t v_;
};

}  // namespace ae
