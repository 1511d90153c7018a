#pragma once
// What the projectors share: the time of an event as the views show it, and the codec of the
// views whose records are JSON objects.
//
// A JSON view record's bytes are those of nlohmann::json's dump() of the record as a tree:
// compact, keys in byte order, strings escaped as nlohmann escapes them. Writer appends those
// bytes directly, without building the tree, and ReadObject reads them with simdjson; the
// hot records (DEP devices and counts, KME devices, reconciliation findings, users) are
// encoded and decoded this way, and a test holds every Encode() equal to the dump of a tree
// built key by key.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/event_log.h"

namespace ae::proj::json_record {

// The event's occurred_at, RFC 3339 UTC with milliseconds.
std::string When(const events::Envelope& e);

// Appends one JSON object to `out`. Keys must come in the order nlohmann::json keeps them
// (ascending bytes), so the bytes equal nlohmann's dump of the same object.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) { out_ += '{'; }
  Writer& Str(std::string_view key, std::string_view v);
  Writer& OptStr(std::string_view key, const std::optional<std::string>& v);  // null when absent
  Writer& Bool(std::string_view key, bool v);
  Writer& Int(std::string_view key, int64_t v);
  Writer& UInt(std::string_view key, uint64_t v);
  Writer& Null(std::string_view key);
  Writer& Strings(std::string_view key, const std::vector<std::string>& v);  // an array
  // The object at `key`, written by fn.
  Writer& Object(std::string_view key, const std::function<void(Writer&)>& fn);
  // Closes the object; the writer is spent.
  void Close() { out_ += '}'; }

 private:
  void Key(std::string_view key);
  std::string& out_;
  bool first_ = true;
};

// A JSON string as nlohmann::json dumps it (quoted, escaped).
void AppendString(std::string& out, std::string_view s);

// One value of a record being read. Absent and null read as the default; a value of another
// type throws, and ReadObject answers kCorruption naming the table.
class Value {
 public:
  explicit Value(const void* element) : e_(element) {}
  bool IsNull() const;
  std::string Str(const char* def = "") const;
  std::optional<std::string> OptStr() const;
  std::string String() const;  // a string and nothing else (null too is the wrong type)
  std::vector<std::string> Strings() const;  // an array of strings; empty when null
  bool Bool() const;
  int64_t Int() const;
  uint64_t UInt() const;
  std::optional<uint64_t> OptUInt() const;
  // Calls fn for each field of the object; false (and no call) when null.
  bool Fields(const std::function<void(std::string_view key, const Value& v)>& fn) const;

 private:
  const void* e_;  // a simdjson::dom::element
};

// Parses `bytes`, a record of `table`, and calls fn for each field of its top object (a key
// given twice: each time, so the last wins, as in nlohmann::json). kCorruption
// "view.corruption" when it does not parse, is not an object or holds a value of the wrong
// type.
Status ReadObject(std::string_view bytes, const char* table,
                  const std::function<void(std::string_view key, const Value& v)>& fn);

}  // namespace ae::proj::json_record
