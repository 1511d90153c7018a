#include "projections/user_records.h"

#include <nlohmann/json.hpp>

#include "projections/json_record.h"

namespace ae::proj {

using nlohmann::json;

namespace {

Status Corrupt(const char* what) {
  return Corruption("view.corruption", std::string(what) + " record does not decode");
}

// The string at `key`, or "" when absent; false when present with another type.
bool String(const json& j, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  *out = it->get<std::string>();
  return true;
}

bool Bool(const json& j, const char* key, bool* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_boolean()) return false;
  *out = it->get<bool>();
  return true;
}

}  // namespace

// Written directly in the keys' byte order (the bytes nlohmann's dump of the record gave).
std::string EncodeUser(const UserRecord& r) {
  std::string out;
  out.reserve(256 + r.personal.size());
  json_record::Writer w(out);
  w.Str("created_at", r.created_at)
      .Str("created_by", r.created_by)
      .Bool("deleted", r.deleted)
      .Bool("forgotten", r.forgotten)
      .Str("last_position", r.last_position)
      .Str("personal", r.personal)
      .Str("role", r.role);
  if (r.token_hashes) w.Strings("token_hashes", *r.token_hashes);
  w.Strings("token_ids", r.token_ids).Str("updated_at", r.updated_at).Str("user_id", r.user_id);
  w.Close();
  return out;
}

// Absent and null keys read as their defaults; a present token_hashes (null too) makes the
// record one of format 2.
Result<UserRecord> DecodeUser(std::string_view bytes) {
  UserRecord r;
  Status s = json_record::ReadObject(
      bytes, "users", [&r](std::string_view key, const json_record::Value& v) {
        if (key == "user_id") r.user_id = v.Str();
        else if (key == "role") r.role = v.Str();
        else if (key == "personal") r.personal = v.Str();
        else if (key == "created_by") r.created_by = v.Str();
        else if (key == "created_at") r.created_at = v.Str();
        else if (key == "updated_at") r.updated_at = v.Str();
        else if (key == "deleted") r.deleted = v.Bool();
        else if (key == "forgotten") r.forgotten = v.Bool();
        else if (key == "token_ids") r.token_ids = v.Strings();
        else if (key == "token_hashes") r.token_hashes = v.Strings();
        else if (key == "last_position") r.last_position = v.Str();
      });
  if (!s.ok()) return Corrupt("users");
  return r;
}

std::string EncodeToken(const TokenRecord& r) {
  json j = {{"user_id", r.user_id}, {"token_id", r.token_id}, {"created_at", r.created_at}};
  if (r.legacy) j["legacy"] = *r.legacy;
  return j.dump();
}

Result<TokenRecord> DecodeToken(std::string_view bytes) {
  json j = json::parse(bytes, nullptr, false);
  if (!j.is_object()) return Corrupt("tokens");
  TokenRecord r;
  bool ok = String(j, "user_id", &r.user_id) && String(j, "token_id", &r.token_id) &&
            String(j, "created_at", &r.created_at);
  if (ok && j.contains("legacy")) {
    bool legacy = false;
    ok = Bool(j, "legacy", &legacy);
    r.legacy = legacy;
  }
  if (!ok) return Corrupt("tokens");
  return r;
}

}  // namespace ae::proj
