#include "adapters/apple_dep/types.h"

#include <cstdio>
#include <ctime>

#include "events/base/clock.h"

namespace ae::dep {
namespace {

using nlohmann::json;

Status BadResponse(const std::string& what) {
  return Internal("dep.bad_response", "Apple's answer is not as documented: " + what);
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool Bool(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

std::optional<int64_t> Time(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  int64_t ms = 0;
  if (!ParseRfc3339(it->get_ref<const std::string&>(), &ms)) return std::nullopt;
  return ms;
}

std::vector<std::string> Strings(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

void PutStr(json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}
void PutTime(json& j, const char* key, const std::optional<int64_t>& v) {
  if (v) j[key] = FormatAppleTime(*v);
}
void PutStrings(json& j, const char* key, const std::vector<std::string>& v) {
  if (!v.empty()) j[key] = v;
}
void PutBool(json& j, const char* key, const std::optional<bool>& v) {
  if (v) j[key] = *v;
}

std::optional<int> Int(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int>();
}

const AccountUrl* FindUrl(const std::vector<AccountUrl>& urls, std::string_view uri) {
  for (const AccountUrl& u : urls) {
    if (u.uri == uri) return &u;
  }
  return nullptr;
}

}  // namespace

std::string_view OpTypeName(OpType t) {
  switch (t) {
    case OpType::kAdded:
      return "added";
    case OpType::kModified:
      return "modified";
    case OpType::kDeleted:
      return "deleted";
    case OpType::kUnknown:
      return "unknown";
    case OpType::kNone:
      break;
  }
  return "";
}

std::string_view ProfileStatusName(ProfileStatus s) {
  switch (s) {
    case ProfileStatus::kEmpty:
      return "empty";
    case ProfileStatus::kAssigned:
      return "assigned";
    case ProfileStatus::kPushed:
      return "pushed";
    case ProfileStatus::kRemoved:
      return "removed";
    case ProfileStatus::kUnknown:
      return "unknown";
    case ProfileStatus::kNone:
      break;
  }
  return "";
}

std::string_view SerialStatusName(SerialStatus s) {
  switch (s) {
    case SerialStatus::kSuccess:
      return "SUCCESS";
    case SerialStatus::kNotAccessible:
      return "NOT_ACCESSIBLE";
    case SerialStatus::kFailed:
      return "FAILED";
    case SerialStatus::kThrottled:
      return "THROTTLED";
    case SerialStatus::kUnknown:
      break;
  }
  return "UNKNOWN";
}

OpType ParseOpType(std::string_view s) {
  if (s.empty()) return OpType::kNone;
  if (s == "added") return OpType::kAdded;
  if (s == "modified") return OpType::kModified;
  if (s == "deleted") return OpType::kDeleted;
  return OpType::kUnknown;
}

ProfileStatus ParseProfileStatus(std::string_view s) {
  if (s.empty()) return ProfileStatus::kNone;
  if (s == "empty") return ProfileStatus::kEmpty;
  if (s == "assigned") return ProfileStatus::kAssigned;
  if (s == "pushed") return ProfileStatus::kPushed;
  if (s == "removed") return ProfileStatus::kRemoved;
  return ProfileStatus::kUnknown;
}

SerialStatus ParseSerialStatus(std::string_view s) {
  if (s == "SUCCESS") return SerialStatus::kSuccess;
  if (s == "NOT_ACCESSIBLE") return SerialStatus::kNotAccessible;
  if (s == "FAILED") return SerialStatus::kFailed;
  if (s == "THROTTLED") return SerialStatus::kThrottled;
  return SerialStatus::kUnknown;
}

std::string FormatAppleTime(int64_t ms) {
  time_t secs = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

Result<Device> DeviceFromJson(const json& j) {
  if (!j.is_object()) return BadResponse("a device is not an object");
  Device d;
  d.serial_number = Str(j, "serial_number");
  d.model = Str(j, "model");
  d.description = Str(j, "description");
  d.color = Str(j, "color");
  d.asset_tag = Str(j, "asset_tag");
  d.os = Str(j, "os");
  d.device_family = Str(j, "device_family");
  d.profile_status_raw = Str(j, "profile_status");
  d.profile_status = ParseProfileStatus(d.profile_status_raw);
  d.profile_uuid = Str(j, "profile_uuid");
  d.profile_assign_time_ms = Time(j, "profile_assign_time");
  d.profile_push_time_ms = Time(j, "profile_push_time");
  d.device_assigned_date_ms = Time(j, "device_assigned_date");
  d.device_assigned_by = Str(j, "device_assigned_by");
  d.op_type_raw = Str(j, "op_type");
  d.op_type = ParseOpType(d.op_type_raw);
  d.op_date_ms = Time(j, "op_date");
  d.mdm_migration_deadline_ms = Time(j, "mdm_migration_deadline");
  d.response_status = Str(j, "response_status");
  d.bluetooth_mac_address = Str(j, "bluetooth_mac_address");
  d.ethernet_mac_address = Str(j, "ethernet_mac_address");
  d.wifi_mac_address = Str(j, "wifi_mac_address");
  d.imei = Strings(j, "imei");
  d.meid = Strings(j, "meid");
  d.eid = Str(j, "eid");
  d.is_replacement_device = Bool(j, "is_replacement_device");
  d.released_by_replacement = Bool(j, "released_by_replacement");
  return d;
}

json DeviceToJson(const Device& d) {
  json j = json::object();
  PutStr(j, "serial_number", d.serial_number);
  PutStr(j, "model", d.model);
  PutStr(j, "description", d.description);
  PutStr(j, "color", d.color);
  PutStr(j, "asset_tag", d.asset_tag);
  PutStr(j, "os", d.os);
  PutStr(j, "device_family", d.device_family);
  std::string status = d.profile_status_raw.empty()
                           ? std::string(ProfileStatusName(d.profile_status))
                           : d.profile_status_raw;
  PutStr(j, "profile_status", status);
  PutStr(j, "profile_uuid", d.profile_uuid);
  PutTime(j, "profile_assign_time", d.profile_assign_time_ms);
  PutTime(j, "profile_push_time", d.profile_push_time_ms);
  PutTime(j, "device_assigned_date", d.device_assigned_date_ms);
  PutStr(j, "device_assigned_by", d.device_assigned_by);
  std::string op = d.op_type_raw.empty() ? std::string(OpTypeName(d.op_type)) : d.op_type_raw;
  PutStr(j, "op_type", op);
  PutTime(j, "op_date", d.op_date_ms);
  PutTime(j, "mdm_migration_deadline", d.mdm_migration_deadline_ms);
  PutStr(j, "response_status", d.response_status);
  PutStr(j, "bluetooth_mac_address", d.bluetooth_mac_address);
  PutStr(j, "ethernet_mac_address", d.ethernet_mac_address);
  PutStr(j, "wifi_mac_address", d.wifi_mac_address);
  PutStrings(j, "imei", d.imei);
  PutStrings(j, "meid", d.meid);
  PutStr(j, "eid", d.eid);
  if (d.is_replacement_device) j["is_replacement_device"] = true;
  if (d.released_by_replacement) j["released_by_replacement"] = true;
  return j;
}

Result<DevicePage> DevicePageFromJson(const json& j) {
  if (!j.is_object()) return BadResponse("the device page is not an object");
  DevicePage page;
  auto cursor = j.find("cursor");
  if (cursor == j.end() || !cursor->is_string()) return BadResponse("the page has no cursor");
  page.cursor = cursor->get<std::string>();
  auto more = j.find("more_to_follow");
  if (more != j.end() && !more->is_boolean()) return BadResponse("more_to_follow is not a bool");
  page.more_to_follow = more != j.end() && more->get<bool>();
  page.fetched_until_ms = Time(j, "fetched_until");
  auto devices = j.find("devices");
  if (devices != j.end() && !devices->is_null()) {
    if (!devices->is_array()) return BadResponse("devices is not an array");
    page.devices.reserve(devices->size());
    for (const auto& dj : *devices) {
      AE_ASSIGN_OR_RETURN(Device d, DeviceFromJson(dj));
      page.devices.push_back(std::move(d));
    }
  }
  return page;
}

int AccountDetail::DefaultLimit(std::string_view uri) const {
  const AccountUrl* u = FindUrl(urls, uri);
  return u && u->limit_default && *u->limit_default > 0 ? *u->limit_default : 100;
}

int AccountDetail::MaxLimit(std::string_view uri) const {
  const AccountUrl* u = FindUrl(urls, uri);
  return u && u->limit_maximum && *u->limit_maximum > 0 ? *u->limit_maximum : 1000;
}

Result<AccountDetail> AccountDetailFromJson(const json& j) {
  if (!j.is_object()) return BadResponse("the account is not an object");
  AccountDetail a;
  a.server_name = Str(j, "server_name");
  a.server_uuid = Str(j, "server_uuid");
  a.admin_id = Str(j, "admin_id");
  a.facilitator_id = Str(j, "facilitator_id");
  a.org_name = Str(j, "org_name");
  a.org_email = Str(j, "org_email");
  a.org_phone = Str(j, "org_phone");
  a.org_address = Str(j, "org_address");
  a.org_id = Str(j, "org_id");
  a.org_id_hash = Str(j, "org_id_hash");
  a.org_type = Str(j, "org_type");
  a.org_version = Str(j, "org_version");
  auto urls = j.find("urls");
  if (urls != j.end() && urls->is_array()) {
    for (const auto& uj : *urls) {
      if (!uj.is_object()) continue;
      AccountUrl u;
      u.uri = Str(uj, "uri");
      u.http_methods = Strings(uj, "http_method");
      auto limit = uj.find("limit");
      if (limit != uj.end() && limit->is_object()) {
        u.limit_default = Int(*limit, "default");
        u.limit_maximum = Int(*limit, "maximum");
      }
      a.urls.push_back(std::move(u));
    }
  }
  return a;
}

json AccountDetailToJson(const AccountDetail& a) {
  json j = json::object();
  PutStr(j, "server_name", a.server_name);
  PutStr(j, "server_uuid", a.server_uuid);
  PutStr(j, "admin_id", a.admin_id);
  PutStr(j, "facilitator_id", a.facilitator_id);
  PutStr(j, "org_name", a.org_name);
  PutStr(j, "org_email", a.org_email);
  PutStr(j, "org_phone", a.org_phone);
  PutStr(j, "org_address", a.org_address);
  PutStr(j, "org_id", a.org_id);
  PutStr(j, "org_id_hash", a.org_id_hash);
  PutStr(j, "org_type", a.org_type);
  PutStr(j, "org_version", a.org_version);
  if (!a.urls.empty()) {
    json urls = json::array();
    for (const AccountUrl& u : a.urls) {
      json uj = {{"uri", u.uri}, {"http_method", u.http_methods}};
      if (u.limit_default || u.limit_maximum) {
        json limit = json::object();
        if (u.limit_default) limit["default"] = *u.limit_default;
        if (u.limit_maximum) limit["maximum"] = *u.limit_maximum;
        uj["limit"] = limit;
      }
      urls.push_back(std::move(uj));
    }
    j["urls"] = std::move(urls);
  }
  return j;
}

json ProfileToJson(const Profile& p) {
  json j = json::object();
  PutStr(j, "profile_name", p.profile_name);
  PutStr(j, "url", p.url);
  PutStr(j, "configuration_web_url", p.configuration_web_url);
  PutBool(j, "is_supervised", p.is_supervised);
  PutBool(j, "is_mdm_removable", p.is_mdm_removable);
  PutBool(j, "is_mandatory", p.is_mandatory);
  PutBool(j, "allow_pairing", p.allow_pairing);
  PutBool(j, "await_device_configured", p.await_device_configured);
  PutBool(j, "is_multi_user", p.is_multi_user);
  PutBool(j, "auto_advance_setup", p.auto_advance_setup);
  PutBool(j, "is_return_to_service", p.is_return_to_service);
  PutBool(j, "do_not_use_profile_from_backup", p.do_not_use_profile_from_backup);
  PutStr(j, "org_magic", p.org_magic);
  PutStr(j, "department", p.department);
  PutStr(j, "support_phone_number", p.support_phone_number);
  PutStr(j, "support_email_address", p.support_email_address);
  PutStr(j, "language", p.language);
  PutStr(j, "region", p.region);
  PutStrings(j, "anchor_certs", p.anchor_certs);
  PutStrings(j, "supervising_host_certs", p.supervising_host_certs);
  PutStrings(j, "skip_setup_items", p.skip_setup_items);
  PutStrings(j, "devices", p.devices);
  PutStr(j, "profile_uuid", p.profile_uuid);
  return j;
}

Result<Profile> ProfileFromJson(const json& j) {
  if (!j.is_object()) return InvalidArgument("dep.bad_profile", "a profile is a JSON object");
  Profile p;
  auto str = [&](const char* key, std::string* out) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return Status::Ok();
    if (!it->is_string()) {
      return InvalidArgument("dep.bad_profile", std::string(key) + " must be a string", key);
    }
    *out = it->get<std::string>();
    return Status::Ok();
  };
  auto boolean = [&](const char* key, std::optional<bool>* out) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return Status::Ok();
    if (!it->is_boolean()) {
      return InvalidArgument("dep.bad_profile", std::string(key) + " must be a boolean", key);
    }
    *out = it->get<bool>();
    return Status::Ok();
  };
  auto strings = [&](const char* key, std::vector<std::string>* out) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return Status::Ok();
    if (!it->is_array()) {
      return InvalidArgument("dep.bad_profile", std::string(key) + " must be an array", key);
    }
    for (const auto& v : *it) {
      if (!v.is_string()) {
        return InvalidArgument("dep.bad_profile", std::string(key) + " must hold strings", key);
      }
      out->push_back(v.get<std::string>());
    }
    return Status::Ok();
  };
  AE_RETURN_IF_ERROR(str("profile_name", &p.profile_name));
  AE_RETURN_IF_ERROR(str("url", &p.url));
  AE_RETURN_IF_ERROR(str("configuration_web_url", &p.configuration_web_url));
  AE_RETURN_IF_ERROR(boolean("is_supervised", &p.is_supervised));
  AE_RETURN_IF_ERROR(boolean("is_mdm_removable", &p.is_mdm_removable));
  AE_RETURN_IF_ERROR(boolean("is_mandatory", &p.is_mandatory));
  AE_RETURN_IF_ERROR(boolean("allow_pairing", &p.allow_pairing));
  AE_RETURN_IF_ERROR(boolean("await_device_configured", &p.await_device_configured));
  AE_RETURN_IF_ERROR(boolean("is_multi_user", &p.is_multi_user));
  AE_RETURN_IF_ERROR(boolean("auto_advance_setup", &p.auto_advance_setup));
  AE_RETURN_IF_ERROR(boolean("is_return_to_service", &p.is_return_to_service));
  AE_RETURN_IF_ERROR(boolean("do_not_use_profile_from_backup", &p.do_not_use_profile_from_backup));
  AE_RETURN_IF_ERROR(str("org_magic", &p.org_magic));
  AE_RETURN_IF_ERROR(str("department", &p.department));
  AE_RETURN_IF_ERROR(str("support_phone_number", &p.support_phone_number));
  AE_RETURN_IF_ERROR(str("support_email_address", &p.support_email_address));
  AE_RETURN_IF_ERROR(str("language", &p.language));
  AE_RETURN_IF_ERROR(str("region", &p.region));
  AE_RETURN_IF_ERROR(strings("anchor_certs", &p.anchor_certs));
  AE_RETURN_IF_ERROR(strings("supervising_host_certs", &p.supervising_host_certs));
  AE_RETURN_IF_ERROR(strings("skip_setup_items", &p.skip_setup_items));
  AE_RETURN_IF_ERROR(strings("devices", &p.devices));
  AE_RETURN_IF_ERROR(str("profile_uuid", &p.profile_uuid));
  return p;
}

Result<SerialResults> SerialResultsFromJson(const json& j) {
  SerialResults out;
  if (!j.is_object()) return BadResponse("the result is not an object");
  auto devices = j.find("devices");
  if (devices == j.end() || devices->is_null()) return out;
  if (!devices->is_object()) return BadResponse("devices is not a map");
  for (const auto& [serial, v] : devices->items()) {
    std::string code;
    if (v.is_string()) {
      code = v.get<std::string>();
    } else if (v.is_object()) {
      code = Str(v, "response_status");
    }
    out[serial] = SerialResult{ParseSerialStatus(code), code};
  }
  return out;
}

}  // namespace ae::dep
