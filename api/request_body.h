#pragma once
// The JSON request bodies of the routes: parsing and field reads, each refusal a
// 400 with a stable code and the field named. Needs nothing of the App, so the
// json_body fuzz target links it as it is (tests/fuzz/json_body_fuzz.cc).

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "events/base/status.h"

namespace ae::api {

// Brackets nested deeper than this are refused (the JSON library's dump and
// destruction recurse).
inline constexpr size_t kMaxJsonDepth = 64;

// The deepest nesting of brackets outside strings in a JSON text.
size_t JsonDepth(std::string_view text);

// The body as a JSON object. kInvalidArgument "request.bad_json" when it is not
// JSON, nested deeper than kMaxJsonDepth, or not an object.
Result<nlohmann::json> ParseJsonBody(std::string_view body);

// An optional string field: nullopt when absent, "" when null (a clear), the
// string otherwise. "request.bad_field" when present with another type or longer
// than `max_len` bytes.
Result<std::optional<std::string>> OptionalStringField(const nlohmann::json& body,
                                                       const char* name, size_t max_len = 256);
// The same, with "" for absent.
Result<std::string> StrField(const nlohmann::json& body, const char* name, size_t max_len);
// A string field; "request.missing_field" when `required` and absent or null.
Result<std::string> StringField(const nlohmann::json& body, const char* name, bool required,
                                size_t max_len);
// A boolean field; `def` when absent or null.
Result<bool> BoolField(const nlohmann::json& body, const char* name, bool def);
// "request.bad_field" when `v` holds a control character.
Status CheckText(std::string_view v, const char* field);

}  // namespace ae::api
