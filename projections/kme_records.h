#pragma once
// The records of the Samsung KME views (KmeProjector writes them, the API reads them): one
// type per table, with its one encoding. A record is a JSON object with sorted keys, so a
// replay writes the same bytes; Encode gives exactly those bytes, and Decode reads them
// back (kCorruption "view.corruption" for anything else). Times are RFC 3339 UTC with
// milliseconds. kme_versions, kme_ids and kme_by_user hold plain strings (see
// kme_projector.h), not records.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "projections/view_store.h"

namespace ae::proj {

// ---- kme_devices: device id -> KmeDeviceRecord ----

// The last KmeDeploymentUserOverridden of a device.
struct KmeUserConflict {
  std::string at, position, deployment_user_id, user_id;
  std::string by;  // csv | knox_api | administrator
  std::string import_id;  // "" (absent) for an administrator
  uint64_t line = 0;      // 0 (absent) unless from a CSV line
};

// Empty strings, lists and maps and a false user_by_deployment are absent keys.
struct KmeDeviceRecord {
  static constexpr const char* kTable = "kme_devices";

  std::string id;  // always present
  std::string imei, imei2, meid, serial_number, model, profile_name, knox_status;
  std::vector<std::string> tags;
  std::map<std::string, std::string> attributes;
  std::string source;  // csv | knox_api | knox_deployment; always present ("" unknown)
  std::string user_id;
  bool user_by_deployment = false;
  std::optional<KmeUserConflict> user_conflict;
  std::string policy_id, ruleset_id;
  std::string enrollment;  // "" (absent: not enrolled) | enrolled
  std::string enrolled_at;
  std::string created_at, updated_at, last_position;  // always present

  // The identifier index keys of the record (kme_ids; those of domain::kme::MatchKeys).
  std::vector<std::string> MatchKeys() const;

  std::string Encode() const;
  static Result<KmeDeviceRecord> Decode(std::string_view bytes);
};

// ---- kme_settings "enrollment_token" -> KmeEnrollmentTokenRecord ----

struct KmeEnrollmentTokenRecord {
  static constexpr const char* kTable = "kme_settings";
  static constexpr const char* kKey = "enrollment_token";

  std::string token_sha256;  // hex
  std::string secret_ref, rotated_at, last_position;

  nlohmann::json ToJson() const;
  std::string Encode() const;
  static Result<KmeEnrollmentTokenRecord> FromJson(const nlohmann::json& j);
  static Result<KmeEnrollmentTokenRecord> Decode(std::string_view bytes);
};

// ---- kme_settings "knox" -> KmeKnoxRecord ----

struct KmeKnoxSyncError {
  std::string code, message;
  std::string knox_device_id;  // "" (absent) unless the error names a Knox device
  uint64_t line = 0;           // 0 (absent) unless it names a CSV line
};

// The summary of a connection's last sync.
struct KmeKnoxLastSync {
  std::string sync_id, at, started_at;
  bool full = false;
  std::optional<std::string> changed_after;  // absent for a full sync
  uint64_t devices_seen = 0, events_written = 0, created = 0, updated = 0, unchanged = 0;
  uint64_t rejected = 0, users_matched = 0, uploads_approved = 0;
  std::optional<KmeKnoxSyncError> error;  // {code, message}; absent when it completed
  std::vector<KmeKnoxSyncError> errors;   // absent when empty

  nlohmann::json ToJson() const;  // as the record holds it (and the API shows it)
};

// Connected: the connection keys (configured true); disconnected: only configured (false),
// disconnected_at and last_position.
struct KmeKnoxRecord {
  static constexpr const char* kTable = "kme_settings";
  static constexpr const char* kKey = "knox";

  bool configured = false;
  // Connected.
  std::string connection_id, base_url, token_url, client_id, customer_id;
  bool auto_approve_uploads = false;
  std::string client_secret_ref, client_secret_sha256, connected_at;
  std::string state;  // never_synced | ok | unauthorized | unavailable
  std::optional<KmeKnoxLastSync> last_sync;
  std::optional<std::string> last_success_at;
  // Disconnected.
  std::string disconnected_at;
  std::string last_position;

  nlohmann::json ToJson() const;
  std::string Encode() const;
  static Result<KmeKnoxRecord> FromJson(const nlohmann::json& j);
  static Result<KmeKnoxRecord> Decode(std::string_view bytes);
};

// The record `key` of Record's table (std::nullopt when there is none), read from the
// views or through a batch (its own writes first).
template <typename Record, typename Views>
Result<std::optional<Record>> ReadKmeRecord(Views& views, const std::string& key) {
  AE_ASSIGN_OR_RETURN(auto raw, views.Get(Record::kTable, key));
  if (!raw) return std::optional<Record>();
  AE_ASSIGN_OR_RETURN(Record r, Record::Decode(*raw));
  return std::optional<Record>(std::move(r));
}

}  // namespace ae::proj
