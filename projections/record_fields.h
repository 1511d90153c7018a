#pragma once
// Reading the keys of a JSON view record into a typed record (kme_records.cc,
// policy_records.cc, rules_records.cc, reconciliation_records.cc): absent or null reads as
// the default; a value of another type throws nlohmann::json::exception, which ReadRecord
// answers as kCorruption "view.corruption".

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "projections/view_store.h"

namespace ae::proj::record_fields {

inline std::string Str(const nlohmann::json& j, const char* key, const char* def = "") {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  return it->get<std::string>();
}
inline std::optional<std::string> OptStr(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<std::string>();
}
inline bool Bool(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && !it->is_null() && it->get<bool>();
}
template <typename T>
T Number(const nlohmann::json& j, const char* key, T def = T{0}) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  return it->get<T>();
}
// The object at `key`, or nullptr when absent or null.
inline const nlohmann::json* Object(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  (void)it->get_ref<const nlohmann::json::object_t&>();  // throws when it is not an object
  return &*it;
}
// The array at `key`, or nullptr when absent or null.
inline const nlohmann::json* Array(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  (void)it->get_ref<const nlohmann::json::array_t&>();  // throws when it is not an array
  return &*it;
}

inline Status NotARecord(const char* table, const std::string& why) {
  return Corruption("view.corruption", std::string(table) + " record " + why);
}

// Runs `read` on `j`, a record of `table`: kCorruption when it is not an object or a key
// holds a value of another type.
template <typename Record, typename Fn>
Result<Record> ReadRecord(const char* table, const nlohmann::json& j, Fn read) {
  if (!j.is_object()) return NotARecord(table, "is not an object");
  try {
    Record r;
    read(r);
    return r;
  } catch (const nlohmann::json::exception& e) {
    return NotARecord(table, std::string("has a value of the wrong type: ") + e.what());
  }
}

// Parses `bytes` and reads them with Record::FromJson.
template <typename Record>
Result<Record> DecodeRecord(std::string_view bytes) {
  nlohmann::json j = nlohmann::json::parse(bytes, nullptr, false);
  if (!j.is_object()) return NotARecord(Record::kTable, "does not parse");
  return Record::FromJson(j);
}

}  // namespace ae::proj::record_fields
