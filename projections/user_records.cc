#include "projections/user_records.h"

#include <nlohmann/json.hpp>

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

bool Strings(const json& j, const char* key, std::vector<std::string>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_array()) return false;
  for (const auto& v : *it) {
    if (!v.is_string()) return false;
    out->push_back(v.get<std::string>());
  }
  return true;
}

}  // namespace

std::string EncodeUser(const UserRecord& r) {
  json j = {{"user_id", r.user_id},
            {"role", r.role},
            {"personal", r.personal},
            {"created_by", r.created_by},
            {"created_at", r.created_at},
            {"updated_at", r.updated_at},
            {"deleted", r.deleted},
            {"forgotten", r.forgotten},
            {"token_ids", r.token_ids},
            {"last_position", r.last_position}};
  if (r.token_hashes) j["token_hashes"] = *r.token_hashes;
  return j.dump();
}

Result<UserRecord> DecodeUser(std::string_view bytes) {
  json j = json::parse(bytes, nullptr, false);
  if (!j.is_object()) return Corrupt("users");
  UserRecord r;
  bool ok = String(j, "user_id", &r.user_id) && String(j, "role", &r.role) &&
            String(j, "personal", &r.personal) && String(j, "created_by", &r.created_by) &&
            String(j, "created_at", &r.created_at) && String(j, "updated_at", &r.updated_at) &&
            Bool(j, "deleted", &r.deleted) && Bool(j, "forgotten", &r.forgotten) &&
            Strings(j, "token_ids", &r.token_ids) &&
            String(j, "last_position", &r.last_position);
  if (ok && j.contains("token_hashes")) {
    r.token_hashes.emplace();
    ok = Strings(j, "token_hashes", &*r.token_hashes);
  }
  if (!ok) return Corrupt("users");
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
