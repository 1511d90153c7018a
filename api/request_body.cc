#include "api/request_body.h"

#include <algorithm>

namespace ae::api {

using nlohmann::json;

size_t JsonDepth(std::string_view text) {
  size_t depth = 0, max = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max = std::max(max, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max;
}

Result<json> ParseJsonBody(std::string_view body) {
  if (JsonDepth(body) > kMaxJsonDepth) {
    return InvalidArgument("request.bad_json", "the body is nested deeper than " +
                                                   std::to_string(kMaxJsonDepth) + " levels");
  }
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return InvalidArgument("request.bad_json", "the body is not valid JSON");
  if (!j.is_object()) return InvalidArgument("request.bad_json", "the body must be a JSON object");
  return j;
}

Result<std::optional<std::string>> OptionalStringField(const json& body, const char* name,
                                                       size_t max_len) {
  if (!body.is_object() || !body.contains(name)) return std::optional<std::string>();
  const json& v = body[name];
  if (v.is_null()) return std::optional<std::string>(std::string());
  if (!v.is_string()) {
    return InvalidArgument("request.bad_field", std::string(name) + " must be a string or null",
                           name);
  }
  std::string s = v.get<std::string>();
  if (s.size() > max_len) {
    return InvalidArgument("request.bad_field",
                           std::string(name) + " is longer than " + std::to_string(max_len), name);
  }
  return std::optional<std::string>(std::move(s));
}

Result<std::string> StrField(const json& body, const char* name, size_t max_len) {
  AE_ASSIGN_OR_RETURN(auto v, OptionalStringField(body, name, max_len));
  return v.value_or("");
}

Result<std::string> StringField(const json& body, const char* name, bool required,
                                size_t max_len) {
  if (!body.contains(name) || body[name].is_null()) {
    if (required) {
      return InvalidArgument("request.missing_field", std::string(name) + " is required", name);
    }
    return std::string();
  }
  if (!body[name].is_string()) {
    return InvalidArgument("request.bad_field", std::string(name) + " must be a string", name);
  }
  std::string v = body[name].get<std::string>();
  if (v.size() > max_len) {
    return InvalidArgument("request.bad_field",
                           std::string(name) + " is longer than " + std::to_string(max_len), name);
  }
  return v;
}

Result<bool> BoolField(const json& body, const char* name, bool def) {
  if (!body.contains(name) || body[name].is_null()) return def;
  if (!body[name].is_boolean()) {
    return InvalidArgument("request.bad_field", std::string(name) + " must be true or false", name);
  }
  return body[name].get<bool>();
}

Status CheckText(std::string_view v, const char* field) {
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7f) {
      return InvalidArgument("request.bad_field",
                             std::string(field) + " must not hold control characters", field);
    }
  }
  return Status::Ok();
}

}  // namespace ae::api
