#pragma once
// Typed views of the DEP web service's JSON objects (apple-dep.md §3-5), with
// lenient parsers (absent or empty dates, "" enums, unknown values and extra
// fields are all accepted, §4.1) and writers used by the simulator.
//
// Times are milliseconds since the Unix epoch (UTC); Apple writes them as
// RFC 3339 with seconds precision ("2018-09-08T16:49:09Z").

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/base/status.h"

namespace ae::dep {

// `op_type` of a sync record; kNone in fetch and details results.
enum class OpType { kNone, kAdded, kModified, kDeleted, kUnknown };
// `profile_status`; kNone when absent or "" (seen in production, §4.1).
enum class ProfileStatus { kNone, kEmpty, kAssigned, kPushed, kRemoved, kUnknown };
// Per-serial outcome of define/assign/remove/disown/details (§3.1).
enum class SerialStatus { kSuccess, kNotAccessible, kFailed, kThrottled, kUnknown };

std::string_view OpTypeName(OpType t);                // "added", ...; "" for kNone
std::string_view ProfileStatusName(ProfileStatus s);  // "empty", ...; "" for kNone
std::string_view SerialStatusName(SerialStatus s);    // "SUCCESS", ...
OpType ParseOpType(std::string_view s);
ProfileStatus ParseProfileStatus(std::string_view s);
SerialStatus ParseSerialStatus(std::string_view s);

// "2018-09-08T16:49:09Z" (seconds precision, as Apple writes).
std::string FormatAppleTime(int64_t ms);

// The Device object (§4.1).
struct Device {
  std::string serial_number;
  std::string model;
  std::string description;
  std::string color;
  std::string asset_tag;
  std::string os;             // iOS, iPadOS, OSX, tvOS, visionOS (v2+)
  std::string device_family;  // iPad, iPhone, iPod, Mac, AppleTV, Vision (v2+)
  ProfileStatus profile_status = ProfileStatus::kNone;
  std::string profile_status_raw;  // as Apple wrote it (keeps unknown values)
  std::string profile_uuid;
  std::optional<int64_t> profile_assign_time_ms;
  std::optional<int64_t> profile_push_time_ms;
  std::optional<int64_t> device_assigned_date_ms;
  std::string device_assigned_by;
  OpType op_type = OpType::kNone;  // sync only
  std::string op_type_raw;
  std::optional<int64_t> op_date_ms;                 // sync only
  std::optional<int64_t> mdm_migration_deadline_ms;  // v8
  std::string response_status;  // details only: "SUCCESS", "NOT_ACCESSIBLE", ...
  // v10
  std::string bluetooth_mac_address;
  std::string ethernet_mac_address;
  std::string wifi_mac_address;
  std::vector<std::string> imei;
  std::vector<std::string> meid;
  std::string eid;
  bool is_replacement_device = false;
  bool released_by_replacement = false;

  bool operator==(const Device&) const = default;
};

// Parses one Device. kInternal "dep.bad_response" only when `j` is not an
// object; every field is optional here (a details stub has none).
Result<Device> DeviceFromJson(const nlohmann::json& j);
// Writes the non-empty fields (unset optionals and "" strings are omitted).
nlohmann::json DeviceToJson(const Device& d);

// A page of `POST /server/devices` or `POST /devices/sync` (§3.3-3.4).
struct DevicePage {
  std::vector<Device> devices;
  std::string cursor;  // opaque; compare for equality only
  bool more_to_follow = false;
  std::optional<int64_t> fetched_until_ms;
};
Result<DevicePage> DevicePageFromJson(const nlohmann::json& j);

// One entry of AccountDetail.urls (v3+).
struct AccountUrl {
  std::string uri;
  std::vector<std::string> http_methods;
  std::optional<int> limit_default;
  std::optional<int> limit_maximum;
};

// `GET /account` (§3.2).
struct AccountDetail {
  std::string server_name;
  std::string server_uuid;
  std::string admin_id;
  std::string facilitator_id;
  std::string org_name;
  std::string org_email;
  std::string org_phone;
  std::string org_address;
  std::string org_id;
  std::string org_id_hash;
  std::string org_type;
  std::string org_version;
  std::vector<AccountUrl> urls;

  // The advertised page limits of `uri`, falling back to Apple's documented
  // default 100 / maximum 1000 (§3.2) when the account does not say.
  int DefaultLimit(std::string_view uri) const;
  int MaxLimit(std::string_view uri) const;
};
Result<AccountDetail> AccountDetailFromJson(const nlohmann::json& j);
nlohmann::json AccountDetailToJson(const AccountDetail& a);

// The Profile object (§5.1). Unset optionals and empty strings are omitted on
// the wire ("omit optional fields instead of sending \"\"", §5.1).
struct Profile {
  std::string profile_name;
  std::string url;
  std::string configuration_web_url;
  std::optional<bool> is_supervised;
  std::optional<bool> is_mdm_removable;  // Apple's default is true
  std::optional<bool> is_mandatory;
  std::optional<bool> allow_pairing;  // Apple's default is true
  std::optional<bool> await_device_configured;
  std::optional<bool> is_multi_user;
  std::optional<bool> auto_advance_setup;
  std::optional<bool> is_return_to_service;
  std::optional<bool> do_not_use_profile_from_backup;
  std::string org_magic;
  std::string department;
  std::string support_phone_number;
  std::string support_email_address;
  std::string language;
  std::string region;
  std::vector<std::string> anchor_certs;
  std::vector<std::string> supervising_host_certs;
  std::vector<std::string> skip_setup_items;
  std::vector<std::string> devices;  // define only: assign in the same call
  std::string profile_uuid;          // returned by GET, never sent on define

  bool operator==(const Profile&) const = default;
};
nlohmann::json ProfileToJson(const Profile& p);
// kInvalidArgument "dep.bad_profile" (field set) when a known field has the
// wrong JSON type; unknown fields are ignored.
Result<Profile> ProfileFromJson(const nlohmann::json& j);

struct SerialResult {
  SerialStatus status = SerialStatus::kUnknown;
  std::string code;  // Apple's string, e.g. "NOT_ACCESSIBLE"
  bool operator==(const SerialResult&) const = default;
};
using SerialResults = std::map<std::string, SerialResult>;  // serial -> outcome

struct DefineProfileResult {
  std::string profile_uuid;
  SerialResults devices;  // empty when the profile named no devices
};

struct AssignProfileResult {
  std::string profile_uuid;
  SerialResults devices;
  // v10+: present when some serials were THROTTLED (the largest over batches).
  std::optional<int64_t> retry_after_seconds;
};

// Parses {"devices": {serial: "STATUS"}} (also tolerates a missing map).
Result<SerialResults> SerialResultsFromJson(const nlohmann::json& j);

}  // namespace ae::dep
