#pragma once
// The records of the devices view (DevicesProjector writes them, the API reads them): one
// type per table, with its one encoding. A JSON record is an object with sorted keys, so a
// replay writes the same bytes; Encode gives exactly those bytes, and Decode reads them
// back (kCorruption "view.corruption" for anything else). Times are RFC 3339 UTC with
// milliseconds. A std::optional member's key is absent when unset.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "projections/view_store.h"

namespace ae::proj {

// ---- devices: device id -> DeviceRecord ----

// The device's answer to its last command (DeviceCommandCompleted).
struct DeviceCommandOutcome {
  std::string command_uuid;
  std::string status;  // Acknowledged | Error | NotNow | ...
  std::string error;
  std::string at;

  nlohmann::json ToJson() const;  // {at, command_uuid, error, status}: the API's last_command
};

// An enrolled device, every platform. A new enrollment writes a fresh record.
struct DeviceRecord {
  static constexpr const char* kTable = "devices";

  std::string id;
  std::string platform;  // apple | android | unknown
  std::string serial_number, udid, imei, model, os_version;
  std::string user_id, policy_id, ruleset_id;
  std::string push_topic;
  std::string status;  // enrolled | checked_out ("" reads as neither)
  bool configured = false;
  std::string enrolled_at, last_seen_at;
  std::string last_message_type;  // of the last check-in ("" before any)
  // The queued commands: command uuid -> their mdm_queue key.
  std::map<std::string, std::string> pending_commands;
  std::optional<DeviceCommandOutcome> last_command;  // absent until a command was answered
  std::string updated_at;
  std::string last_position;

  nlohmann::json ToJson() const;
  std::string Encode() const;
  static Result<DeviceRecord> FromJson(const nlohmann::json& j);
  static Result<DeviceRecord> Decode(std::string_view bytes);
};

// ---- mdm_udids: udid -> MdmUdidRecord ----

// The device a UDID names (check-ins name the device by UDID). Stored as the bare device
// id, not JSON.
struct MdmUdidRecord {
  static constexpr const char* kTable = "mdm_udids";

  std::string device_id;

  std::string Encode() const;
  static Result<MdmUdidRecord> Decode(std::string_view bytes);  // kCorruption when empty
};

// ---- mdm_queue: MdmQueueKey(device id, stream version) -> MdmQueuedCommand ----

// A command waiting for the device, in the order of the keys.
struct MdmQueuedCommand {
  static constexpr const char* kTable = "mdm_queue";

  std::string command_uuid, request_type, manifest_url;

  nlohmann::json ToJson() const;
  std::string Encode() const;
  static Result<MdmQueuedCommand> FromJson(const nlohmann::json& j);
  static Result<MdmQueuedCommand> Decode(std::string_view bytes);
};

// The mdm_queue key prefix of a device (its commands sort after it, in order).
std::string MdmQueuePrefix(const std::string& device_id);
// The mdm_queue key of the command queued at `stream_version` of the device's stream.
std::string MdmQueueKey(const std::string& device_id, uint64_t stream_version);

// ---- mdm_identities: device id (the serial) -> MdmIdentityRecord ----

// The Apple device's current MDM identity, which its messages must be signed with.
struct MdmIdentityRecord {
  static constexpr const char* kTable = "mdm_identities";

  std::string certificate_sha256;  // lower-case hex
  std::string state;               // active | revoked ("" reads as neither)
  // Absent when the identity was revoked without its issue on record.
  std::optional<std::string> udid, signer_sha256, issued_at;
  // Absent until revoked.
  std::optional<std::string> revoked_reason, revoked_at;

  nlohmann::json ToJson() const;
  std::string Encode() const;
  static Result<MdmIdentityRecord> FromJson(const nlohmann::json& j);
  static Result<MdmIdentityRecord> Decode(std::string_view bytes);
};

// The record `key` of Record's table (std::nullopt when there is none), read from the
// views or through a batch (its own writes first).
template <typename Record, typename Views>
Result<std::optional<Record>> ReadDeviceRecord(Views& views, const std::string& key) {
  AE_ASSIGN_OR_RETURN(auto raw, views.Get(Record::kTable, key));
  if (!raw) return std::optional<Record>();
  AE_ASSIGN_OR_RETURN(Record r, Record::Decode(*raw));
  return std::optional<Record>(std::move(r));
}

}  // namespace ae::proj
