#pragma once
// The Knox Cloud API's KME values (samsung-kme.md §4.3, §4.4, §6) and their JSON forms.
//
// Parsing is tolerant, as §4.2-§4.3 ask: every id is an opaque string (a number is read as
// its decimal text), timestamps are epoch milliseconds given as numbers or numeric
// strings, missing members are empty, unknown members are kept in `extra`, and `state`
// keeps its raw text beside the normalised status. A member of the wrong JSON type is
// knox.bad_response.
//
// Pure value types and functions; thread-safe.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/samsung_knox/csv_reader.h"
#include "events/base/status.h"

namespace ae::knox {

using kme::KmeDeviceStatus;

// One device of GET /kcs/v1/kme/devices/list (§4.3 D1).
struct Device {
  std::string id;      // Samsung's opaque device id ("id")
  std::string mei;     // "mei" as sent: an IMEI or an MEID
  // Normalised identifiers (ae::kme::DeviceIdentity's forms); "" when absent.
  std::string imei;    // 15 digits (a 14-digit "mei" gets its Luhn digit)
  std::string imei2;   // "imei2" / "secondImei" when the API sends one
  std::string meid;    // 14 upper-case hex digits
  std::string serial;  // "serialNumber", upper case
  std::string model;
  KmeDeviceStatus state = KmeDeviceStatus::kUnspecified;
  std::string state_raw;  // "Profile assigned", "Enrolled", ...
  std::string profile_id;
  std::string profile_name;
  std::string user_name;  // the EMM user id ("userName"); personal data, never logged
  std::vector<std::string> tags;
  std::string order_id, upload_id, reseller_id, reseller_name, tenant_name;
  std::optional<int64_t> create_time_ms, update_time_ms, reseller_upload_time_ms;
  nlohmann::json extra = nlohmann::json::object();  // members not listed above
};
Result<Device> DeviceFromJson(const nlohmann::json& j);
// The API's form (what the simulator answers); `state_raw` or else the canonical name.
nlohmann::json DeviceToJson(const Device& d);

// One page of devices.
struct DevicePage {
  int64_t total_count = 0;       // "totalCount": devices matching the request
  int64_t processing_count = 0;  // "processingCount" when present
  std::vector<Device> devices;   // "deviceList"
};
Result<DevicePage> DevicePageFromJson(const nlohmann::json& j);

struct ListDevicesRequest {
  int page_num = 0;     // 0-based
  int page_size = 0;    // <= 0: the client's default (100)
  // "changedAfter" (§4.3, since 22.11): only devices changed after this epoch-ms instant.
  // The syntax is unconfirmed; use it as an optimisation only (§10 question 5).
  std::optional<int64_t> changed_after_ms;
};

// What happened to one device of an assign / unassign / delete batch (§4.3 D2-D5).
enum class DeviceOutcome : uint8_t {
  kSuccess,     // "successDeviceList" (or a 2xx without lists: all-or-nothing success)
  kFailed,      // "failedDeviceList": e.g. the device is still PENDING; fix and retry
  kNotFound,    // "notFoundDeviceList": not in this tenant (a success for a delete)
  kInvalid,     // "invalidDeviceList": not an identifier Samsung accepts
  kUnreported,  // the answer has lists but names the device in none of them
};
std::string_view DeviceOutcomeName(DeviceOutcome outcome);  // "SUCCESS", "FAILED", ...

struct DeviceResult {
  DeviceOutcome outcome = DeviceOutcome::kUnreported;
  std::string code;     // Samsung's code for this device, when an entry is an object
  std::string message;  // Samsung's text for this device, when given
  bool operator==(const DeviceResult&) const = default;
};
// By the identifier exactly as the caller gave it.
using DeviceResults = std::map<std::string, DeviceResult>;

// Reads the four lists (entries: a string, or an object with "deviceId" / "id" /
// "imeiOrSerial" plus optional "code" and "message") and maps them onto `sent`
// (identifiers compared case-insensitively). With none of the lists present, every sent
// identifier is kSuccess.
Result<DeviceResults> DeviceResultsFromJson(const nlohmann::json& j,
                                            const std::vector<std::string>& sent);

// One device of an assignment: an id from the list, an IMEI (either of a dual-SIM
// device), an MEID or a serial, with optional EMM credentials in clear text. The client
// encrypts them with Samsung's key (§3.5) and never keeps or logs them.
struct AssignDevice {
  std::string device_id;
  std::string user_name;  // "" = none
  std::string password;   // "" = none
};

// One reseller upload (§4.3 D6): status "Pending" until the customer approves it.
struct Upload {
  std::string upload_id;
  std::string reseller_id;
  std::string reseller_name;
  std::string status_raw;  // "Pending" | "Approved" (raw)
  bool pending = false;    // status_raw is "Pending" (any case)
  std::optional<int64_t> upload_time_ms;
  int64_t device_count = 0;
  nlohmann::json extra = nlohmann::json::object();
};
Result<Upload> UploadFromJson(const nlohmann::json& j);
nlohmann::json UploadToJson(const Upload& u);

struct UploadPage {
  int64_t total_count = 0;
  std::vector<Upload> uploads;  // "uploadList"
};
Result<UploadPage> UploadPageFromJson(const nlohmann::json& j);

// Outcome per upload id of an approval (D7): kSuccess (approved now or before), kNotFound,
// kFailed.
using UploadResults = std::map<std::string, DeviceResult>;
Result<UploadResults> UploadResultsFromJson(const nlohmann::json& j,
                                            const std::vector<std::string>& sent);

// One profile of GET /kcs/v1/kme/profiles/list (§4.4 P1, §5.2): the fields the engine
// needs to resolve names; the rest stays in `extra`.
struct Profile {
  std::string id;
  std::string name;
  std::string description;
  std::string mdm_uri;  // "mdmUri"
  std::optional<int64_t> update_time_ms;
  nlohmann::json extra = nlohmann::json::object();
};
Result<Profile> ProfileFromJson(const nlohmann::json& j);
nlohmann::json ProfileToJson(const Profile& p);

struct ProfilePage {
  int64_t total_count = 0;
  std::vector<Profile> profiles;  // "profileList" (also read: "profiles", "list")
};
Result<ProfilePage> ProfilePageFromJson(const nlohmann::json& j);

// An epoch-ms member given as a number or a numeric string; nullopt when absent or null;
// knox.bad_response for anything else.
Result<std::optional<int64_t>> EpochMsMember(const nlohmann::json& j, const char* key);

}  // namespace ae::knox
