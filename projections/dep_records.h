#pragma once
// The records of the Apple DEP views (DepProjector writes them, the API reads them): one
// type per table, with its one encoding. A record is a JSON object with sorted keys, so a
// replay writes the same bytes; Encode gives exactly those bytes, and Decode reads them
// back (kCorruption "view.corruption" for anything else). Times are RFC 3339 UTC with
// milliseconds; a std::optional time or object is JSON null when unset, unless its
// comment says the key is absent instead.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "projections/view_store.h"

namespace ae::proj {

// ---- dep_accounts: account id -> DepAccountRecord ----

// The account's current or last sync (every key is absent until an event sets it).
struct DepSyncRecord {
  std::optional<std::string> id;
  std::optional<std::string> mode;  // fetch | sync
  std::optional<bool> running;
  std::optional<std::string> started_at, completed_at;
  std::optional<uint64_t> pages, devices_seen, events_written;
};

struct DepSyncError {
  std::string code, message, at;
};

struct DepAccountRecord {
  static constexpr const char* kTable = "dep_accounts";

  std::string id, name;
  std::string state = "awaiting_token";  // awaiting_token | active | ... (the API's names)
  std::string state_reason;
  std::string certificate_pem;
  std::string public_key_sha256;  // hex
  std::optional<std::string> token_expires_at;
  std::optional<std::string> token_fingerprint;  // the first 16 hex digits of its SHA-256
  std::string server_name, server_uuid, org_name, org_email, org_phone, org_address, org_id;
  // Absent until Apple's details were synced once.
  std::optional<std::string> org_type, org_version, admin_id, facilitator_id;
  std::optional<std::string> last_sync_at;
  std::optional<DepSyncError> last_sync_error;  // null after a successful sync
  std::optional<DepSyncRecord> sync;
  std::optional<std::string> cursor_at;
  std::string created_at, updated_at;
  std::string last_position;

  nlohmann::json ToJson() const;
  std::string Encode() const;
  static Result<DepAccountRecord> FromJson(const nlohmann::json& j);
  static Result<DepAccountRecord> Decode(std::string_view bytes);
};

// ---- dep_profiles: profile id -> DepProfileRecord ----

struct DepProfileError {
  std::string code, message;
};

struct DepProfileRecord {
  static constexpr const char* kTable = "dep_profiles";

  std::string id, account_id;
  // The profile as defined (DepProfileDefined).
  std::string profile_name, url;
  bool is_mandatory = false, is_mdm_removable = false, is_supervised = false;
  bool await_device_configured = false;
  std::vector<std::string> skip_setup_items;
  std::string support_phone_number, support_email_address, department, org_magic;
  std::string language, region;
  bool allow_pairing = false, is_multi_user = false, auto_advance_setup = false;
  std::vector<std::string> anchor_certs, supervising_host_certs;
  std::string configuration_web_url;
  bool do_not_use_profile_from_backup = false;
  // Apple's answer.
  std::string profile_uuid;
  std::string state = "pending";  // pending | defined | failed
  std::optional<DepProfileError> error;
  std::string created_at, updated_at;
  std::string last_position;

  nlohmann::json ToJson() const;
  std::string Encode() const;
  static Result<DepProfileRecord> FromJson(const nlohmann::json& j);
  static Result<DepProfileRecord> Decode(std::string_view bytes);
};

// ---- dep_devices: serial number -> DepDeviceRecord ----

struct DepAssignmentError {
  std::string reason, request_id, profile_id;
  std::optional<std::string> retry_after;
  std::string at;
};

struct DepDisownRecord {
  std::string request_id, requested_by, requested_at;
  std::optional<std::string> result;  // absent until Apple answered
};

struct DepEnrollmentRefusal {
  std::string reason, at;
};

struct DepDeviceRecord {
  static constexpr const char* kTable = "dep_devices";

  // Apple's attributes (DepDeviceSynced).
  std::string serial_number, account_id, model, description, color, asset_tag, os;
  std::string device_family;
  std::optional<std::string> device_assigned_date;
  std::string device_assigned_by;
  // The profile.
  std::string profile_status = "empty";  // empty | assigned | pushed | removed
  std::string profile_uuid, profile_id;
  std::optional<std::string> profile_assign_time, profile_push_time;
  std::string user_id, policy_id, ruleset_id;
  bool assigned_to_server = false;
  std::string pending_request_id;  // "" = no assignment in flight
  std::optional<DepAssignmentError> last_assignment_error;
  std::string enrollment = "not_enrolled";  // not_enrolled | enrolled
  bool disowned = false;
  std::string created_at, updated_at;
  std::string last_position;
  // Absent until their event happened once.
  std::optional<std::string> requested_profile_uuid;  // of the last assignment asked for
  std::optional<std::string> removal_request_id;
  std::optional<std::string> enrolled_at;
  std::optional<DepEnrollmentRefusal> last_enrollment_refusal;
  std::optional<DepDisownRecord> disown;
  // "disown": null, instead of absent: the device was disowned with no request on record.
  bool disown_null = false;

  std::string Encode() const;
  static Result<DepDeviceRecord> Decode(std::string_view bytes);
};

// ---- dep_counts: account id -> DepCountsRecord ----

// The devices of an account assigned to the server, by profile status.
struct DepCounts {
  int64_t total = 0, empty = 0, assigned = 0, pushed = 0, removed = 0;

  int64_t& Bucket(std::string_view status);  // "empty", "assigned", "pushed", "removed"
  // {total, empty, assigned, pushed, removed}: the API's device_counts.
  nlohmann::json ToJson() const;
};

struct DepCountsRecord {
  static constexpr const char* kTable = "dep_counts";

  DepCounts counts;
  // The number of changes so far (dep_counts_history holds 1..seq); absent in views
  // written before the history was kept.
  std::optional<uint64_t> seq;

  std::string Encode() const;
  static Result<DepCountsRecord> Decode(std::string_view bytes);
};

// ---- dep_counts_history: account id NUL seq -> DepCountsChange ----

struct DepCountsChange {
  static constexpr const char* kTable = "dep_counts_history";

  DepCounts counts;         // after the change
  std::string position;     // of the event that made it
  int64_t recorded_ms = 0;  // when the log recorded that event

  std::string Encode() const;
  static Result<DepCountsChange> Decode(std::string_view bytes);
};

// ---- dep_retries: serial number -> DepRetryRecord ----

// A failed assignment, and when to ask Apple again.
struct DepRetryRecord {
  static constexpr const char* kTable = "dep_retries";

  std::optional<std::string> due;
  std::string profile_id, profile_uuid;

  nlohmann::json ToJson() const;
  std::string Encode() const;
  static Result<DepRetryRecord> FromJson(const nlohmann::json& j);
  static Result<DepRetryRecord> Decode(std::string_view bytes);
};

// The record `key` of Record's table (std::nullopt when there is none), read from the
// views or through a batch (its own writes first).
template <typename Record, typename Views>
Result<std::optional<Record>> ReadDepRecord(Views& views, const std::string& key) {
  AE_ASSIGN_OR_RETURN(auto raw, views.Get(Record::kTable, key));
  if (!raw) return std::optional<Record>();
  AE_ASSIGN_OR_RETURN(Record r, Record::Decode(*raw));
  return std::optional<Record>(std::move(r));
}

}  // namespace ae::proj
