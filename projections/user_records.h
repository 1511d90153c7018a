#pragma once
// The records of the users view (UsersProjector), typed: the one place that knows their
// stored form. Both are JSON objects with sorted keys (nlohmann's default), so a replay
// writes the same bytes.
//
//   users   user_id  -> UserRecord
//   tokens  token_id -> TokenRecord (views of format 2 keyed these by the token's SHA-256)

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/base/status.h"

namespace ae::proj {

struct UserRecord {
  std::string user_id;
  std::string role;          // "administrator", "device_manager", "device_user", ...
  std::string personal;      // base64 of the SealedPersonal (opened with the person's key)
  std::string created_by;
  std::string created_at;    // RFC 3339 UTC
  std::string updated_at;
  bool deleted = false;
  bool forgotten = false;    // the person's key is destroyed
  std::vector<std::string> token_ids;  // the active tokens, in issue order
  // Views of format 2 and before listed tokens by their SHA-256 (hex); a live view of that
  // format keeps being updated until its rebuild is done.
  std::optional<std::vector<std::string>> token_hashes;
  std::string last_position;
};

struct TokenRecord {
  std::string user_id;
  std::string token_id;
  std::string created_at;
  // The issuing event carries the deprecated token_sha256. Absent in views of format 2.
  std::optional<bool> legacy;
};

std::string EncodeUser(const UserRecord& r);
// kCorruption "view.corruption" when `bytes` is not a users record.
Result<UserRecord> DecodeUser(std::string_view bytes);

std::string EncodeToken(const TokenRecord& r);
Result<TokenRecord> DecodeToken(std::string_view bytes);

}  // namespace ae::proj
