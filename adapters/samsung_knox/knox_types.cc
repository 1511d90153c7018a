#include "adapters/samsung_knox/knox_types.h"

#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "adapters/samsung_knox/identifiers.h"
#include "adapters/samsung_knox/knox_errors.h"

namespace ae::knox {
namespace {

using nlohmann::json;

Status Bad(std::string_view what) {
  return Internal(kBadResponse, "the Knox answer is not as documented: " + std::string(what));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A string member; numbers read as their decimal text (ids are opaque, §4.2).
Result<std::string> Text(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::string();
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  if (it->is_number_unsigned()) return std::to_string(it->get<uint64_t>());
  return Bad(std::string(key) + " is not a string");
}

Result<int64_t> Count(const json& j, const char* key) {
  AE_ASSIGN_OR_RETURN(std::optional<int64_t> v, EpochMsMember(j, key));
  if (v && *v < 0) return Bad(std::string(key) + " is negative");
  return v.value_or(0);
}

// Moves every member of `j` not in `known` into an object.
json Extra(const json& j, std::initializer_list<const char*> known) {
  json out = json::object();
  for (const auto& [k, v] : j.items()) {
    if (std::none_of(known.begin(), known.end(), [&](const char* n) { return k == n; })) {
      out[k] = v;
    }
  }
  return out;
}

// Tags: "tag 1,tag 2" or ["tag 1", "tag 2"]; trimmed, empties dropped.
Result<std::vector<std::string>> Tags(const json& j) {
  std::vector<std::string> out;
  auto add = [&](std::string_view t) {
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
    if (!t.empty()) out.emplace_back(t);
  };
  auto it = j.find("tags");
  if (it == j.end() || it->is_null()) return out;
  if (it->is_string()) {
    std::string_view s = it->get_ref<const std::string&>();
    size_t start = 0;
    for (;;) {
      size_t comma = s.find(',', start);
      add(s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return out;
  }
  if (it->is_array()) {
    for (const auto& t : *it) {
      if (!t.is_string()) return Bad("tags holds a non-string");
      add(t.get_ref<const std::string&>());
    }
    return out;
  }
  return Bad("tags is neither a string nor a list");
}

// Files one identifier the API gave into `d` (normalised; unrecognised values stay only
// in their raw member).
void FileIdentifier(Device& d, std::string_view value, kme::IdentifierColumn column,
                    bool second) {
  if (value.empty()) return;
  auto ids = kme::ParseIdentifierCell(value, column);
  if (!ids.ok()) return;
  for (const kme::Identifier& id : *ids) {
    std::string v = id.kind == kme::IdentifierKind::kImei && id.value.size() == 14
                        ? id.value + kme::ImeiCheckDigit(id.value)
                        : id.value;
    switch (id.kind) {
      case kme::IdentifierKind::kImei:
        if (!second && d.imei.empty()) {
          d.imei = v;
        } else if (d.imei.substr(0, 14) != v.substr(0, 14) && d.imei2.empty()) {
          d.imei2 = v;
        }
        break;
      case kme::IdentifierKind::kMeid:
        if (d.meid.empty()) d.meid = v;
        break;
      case kme::IdentifierKind::kSerial:
        if (d.serial.empty()) d.serial = v;
        break;
    }
  }
}

// The list under the first of `keys` present; nullptr when none.
Result<const json*> ListMember(const json& j, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_array()) return Bad(std::string(k) + " is not a list");
    return &*it;
  }
  return static_cast<const json*>(nullptr);
}

struct ListedOutcome {
  const char* key;
  DeviceOutcome outcome;
};

// The shared reader of success/failed/notFound/invalid lists.
Result<DeviceResults> ResultsFromLists(const json& j, const std::vector<std::string>& sent,
                                       std::initializer_list<ListedOutcome> lists,
                                       std::initializer_list<const char*> id_keys) {
  if (!j.is_object()) return Bad("the answer is not an object");
  DeviceResults out;
  std::unordered_map<std::string, std::string> by_lower;
  for (const std::string& s : sent) {
    out.emplace(s, DeviceResult{});
    by_lower.emplace(Lower(s), s);
  }
  bool any_list = false;
  for (const ListedOutcome& l : lists) {
    auto it = j.find(l.key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_array()) return Bad(std::string(l.key) + " is not a list");
    any_list = true;
    for (const json& entry : *it) {
      DeviceResult r{l.outcome, "", ""};
      std::string id;
      if (entry.is_string()) {
        id = entry.get<std::string>();
      } else if (entry.is_number_integer() || entry.is_number_unsigned()) {
        id = entry.dump();
      } else if (entry.is_object()) {
        for (const char* k : id_keys) {
          AE_ASSIGN_OR_RETURN(id, Text(entry, k));
          if (!id.empty()) break;
        }
        AE_ASSIGN_OR_RETURN(r.code, Text(entry, "code"));
        AE_ASSIGN_OR_RETURN(r.message, Text(entry, "message"));
        if (r.message.empty()) {
          AE_ASSIGN_OR_RETURN(r.message, Text(entry, "reason"));
        }
      } else {
        return Bad(std::string(l.key) + " holds an entry that is not an identifier");
      }
      auto match = out.find(id);
      if (match == out.end()) {
        auto lower = by_lower.find(Lower(id));
        if (lower == by_lower.end()) continue;  // not ours: ignore
        match = out.find(lower->second);
      }
      match->second = r;
    }
  }
  if (!any_list) {
    for (auto& [id, r] : out) r.outcome = DeviceOutcome::kSuccess;
  }
  return out;
}

}  // namespace

Result<std::optional<int64_t>> EpochMsMember(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::optional<int64_t>();
  if (it->is_number_integer()) return std::optional<int64_t>(it->get<int64_t>());
  if (it->is_number_unsigned()) return std::optional<int64_t>(static_cast<int64_t>(it->get<uint64_t>()));
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    if (s.empty()) return std::optional<int64_t>();
    if (s.size() <= 18 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::optional<int64_t>(std::stoll(s));
    }
  }
  return Bad(std::string(key) + " is not a number");
}

Result<Device> DeviceFromJson(const json& j) {
  if (!j.is_object()) return Bad("a device is not an object");
  Device d;
  AE_ASSIGN_OR_RETURN(d.id, Text(j, "id"));
  AE_ASSIGN_OR_RETURN(d.mei, Text(j, "mei"));
  std::string imei, imei2, meid, serial;
  AE_ASSIGN_OR_RETURN(imei, Text(j, "imei"));
  AE_ASSIGN_OR_RETURN(imei2, Text(j, "imei2"));
  if (imei2.empty()) {
    AE_ASSIGN_OR_RETURN(imei2, Text(j, "secondImei"));
  }
  AE_ASSIGN_OR_RETURN(meid, Text(j, "meid"));
  AE_ASSIGN_OR_RETURN(serial, Text(j, "serialNumber"));
  FileIdentifier(d, d.mei, kme::IdentifierColumn::kAny, false);
  FileIdentifier(d, imei, kme::IdentifierColumn::kImeiOnly, false);
  FileIdentifier(d, imei2, kme::IdentifierColumn::kImeiOnly, true);
  FileIdentifier(d, meid, kme::IdentifierColumn::kAny, false);
  FileIdentifier(d, serial, kme::IdentifierColumn::kSerialOnly, false);
  AE_ASSIGN_OR_RETURN(d.model, Text(j, "model"));
  AE_ASSIGN_OR_RETURN(d.state_raw, Text(j, "state"));
  if (d.state_raw.empty()) {
    AE_ASSIGN_OR_RETURN(d.state_raw, Text(j, "status"));
  }
  d.state = kme::ParseKmeDeviceStatus(d.state_raw);
  AE_ASSIGN_OR_RETURN(d.profile_id, Text(j, "profileId"));
  AE_ASSIGN_OR_RETURN(d.profile_name, Text(j, "profileName"));
  AE_ASSIGN_OR_RETURN(d.user_name, Text(j, "userName"));
  AE_ASSIGN_OR_RETURN(d.tags, Tags(j));
  AE_ASSIGN_OR_RETURN(d.order_id, Text(j, "orderId"));
  AE_ASSIGN_OR_RETURN(d.upload_id, Text(j, "uploadId"));
  AE_ASSIGN_OR_RETURN(d.reseller_id, Text(j, "resellerId"));
  AE_ASSIGN_OR_RETURN(d.reseller_name, Text(j, "resellerName"));
  AE_ASSIGN_OR_RETURN(d.tenant_name, Text(j, "tenantName"));
  AE_ASSIGN_OR_RETURN(d.create_time_ms, EpochMsMember(j, "createTime"));
  AE_ASSIGN_OR_RETURN(d.update_time_ms, EpochMsMember(j, "updateTime"));
  AE_ASSIGN_OR_RETURN(d.reseller_upload_time_ms, EpochMsMember(j, "resellerUploadTime"));
  d.extra = Extra(j, {"id", "mei", "imei", "imei2", "secondImei", "meid", "serialNumber",
                      "model", "state", "status", "profileId", "profileName", "userName", "tags",
                      "orderId", "uploadId", "resellerId", "resellerName", "tenantName",
                      "createTime", "updateTime", "resellerUploadTime"});
  return d;
}

json DeviceToJson(const Device& d) {
  json j = d.extra.is_object() ? d.extra : json::object();
  j["id"] = d.id;
  j["mei"] = !d.mei.empty() ? d.mei : (!d.imei.empty() ? d.imei : d.meid);
  if (!d.imei2.empty()) j["imei2"] = d.imei2;
  j["serialNumber"] = d.serial;
  j["model"] = d.model;
  j["state"] = !d.state_raw.empty() ? d.state_raw : std::string(kme::KmeDeviceStatusName(d.state));
  j["profileId"] = d.profile_id;
  j["profileName"] = d.profile_name;
  j["userName"] = d.user_name;
  std::string tags;
  for (const std::string& t : d.tags) tags += (tags.empty() ? "" : ",") + t;
  j["tags"] = tags;
  j["orderId"] = d.order_id;
  j["uploadId"] = d.upload_id;
  j["resellerId"] = d.reseller_id;
  j["resellerName"] = d.reseller_name;
  j["tenantName"] = d.tenant_name;
  auto time = [&](const char* k, const std::optional<int64_t>& v) {
    if (v) j[k] = *v;
  };
  time("createTime", d.create_time_ms);
  time("updateTime", d.update_time_ms);
  time("resellerUploadTime", d.reseller_upload_time_ms);
  return j;
}

Result<DevicePage> DevicePageFromJson(const json& j) {
  if (!j.is_object()) return Bad("the device page is not an object");
  DevicePage p;
  AE_ASSIGN_OR_RETURN(const json* list, ListMember(j, {"deviceList", "devices"}));
  if (list == nullptr && !j.contains("totalCount")) return Bad("no deviceList and no totalCount");
  AE_ASSIGN_OR_RETURN(p.total_count, Count(j, "totalCount"));
  AE_ASSIGN_OR_RETURN(p.processing_count, Count(j, "processingCount"));
  if (list != nullptr) {
    p.devices.reserve(list->size());
    for (const json& dj : *list) {
      AE_ASSIGN_OR_RETURN(Device d, DeviceFromJson(dj));
      p.devices.push_back(std::move(d));
    }
  }
  return p;
}

std::string_view DeviceOutcomeName(DeviceOutcome outcome) {
  switch (outcome) {
    case DeviceOutcome::kSuccess: return "SUCCESS";
    case DeviceOutcome::kFailed: return "FAILED";
    case DeviceOutcome::kNotFound: return "NOT_FOUND";
    case DeviceOutcome::kInvalid: return "INVALID";
    case DeviceOutcome::kUnreported: return "UNREPORTED";
  }
  return "UNREPORTED";
}

Result<DeviceResults> DeviceResultsFromJson(const json& j, const std::vector<std::string>& sent) {
  return ResultsFromLists(j, sent,
                          {{"successDeviceList", DeviceOutcome::kSuccess},
                           {"failedDeviceList", DeviceOutcome::kFailed},
                           {"notFoundDeviceList", DeviceOutcome::kNotFound},
                           {"invalidDeviceList", DeviceOutcome::kInvalid}},
                          {"deviceId", "id", "imeiOrSerial", "deviceUid"});
}

Result<Upload> UploadFromJson(const json& j) {
  if (!j.is_object()) return Bad("an upload is not an object");
  Upload u;
  AE_ASSIGN_OR_RETURN(u.upload_id, Text(j, "uploadId"));
  if (u.upload_id.empty()) {
    AE_ASSIGN_OR_RETURN(u.upload_id, Text(j, "id"));
  }
  AE_ASSIGN_OR_RETURN(u.reseller_id, Text(j, "resellerId"));
  AE_ASSIGN_OR_RETURN(u.reseller_name, Text(j, "resellerName"));
  AE_ASSIGN_OR_RETURN(u.status_raw, Text(j, "status"));
  u.pending = Lower(u.status_raw) == "pending";
  AE_ASSIGN_OR_RETURN(u.upload_time_ms, EpochMsMember(j, "uploadTime"));
  AE_ASSIGN_OR_RETURN(u.device_count, Count(j, "deviceCount"));
  u.extra = Extra(j, {"uploadId", "id", "resellerId", "resellerName", "status", "uploadTime",
                      "deviceCount"});
  return u;
}

json UploadToJson(const Upload& u) {
  json j = u.extra.is_object() ? u.extra : json::object();
  j["uploadId"] = u.upload_id;
  j["resellerId"] = u.reseller_id;
  j["resellerName"] = u.reseller_name;
  j["status"] = u.status_raw;
  if (u.upload_time_ms) j["uploadTime"] = *u.upload_time_ms;
  j["deviceCount"] = u.device_count;
  return j;
}

Result<UploadPage> UploadPageFromJson(const json& j) {
  if (!j.is_object()) return Bad("the upload page is not an object");
  UploadPage p;
  AE_ASSIGN_OR_RETURN(const json* list, ListMember(j, {"uploadList", "uploads"}));
  if (list == nullptr && !j.contains("totalCount")) return Bad("no uploadList and no totalCount");
  AE_ASSIGN_OR_RETURN(p.total_count, Count(j, "totalCount"));
  if (list != nullptr) {
    for (const json& uj : *list) {
      AE_ASSIGN_OR_RETURN(Upload u, UploadFromJson(uj));
      p.uploads.push_back(std::move(u));
    }
  }
  return p;
}

Result<UploadResults> UploadResultsFromJson(const json& j, const std::vector<std::string>& sent) {
  return ResultsFromLists(j, sent,
                          {{"successUploadList", DeviceOutcome::kSuccess},
                           {"failedUploadList", DeviceOutcome::kFailed},
                           {"notFoundUploadList", DeviceOutcome::kNotFound}},
                          {"uploadId", "id"});
}

Result<Profile> ProfileFromJson(const json& j) {
  if (!j.is_object()) return Bad("a profile is not an object");
  Profile p;
  AE_ASSIGN_OR_RETURN(p.id, Text(j, "id"));
  if (p.id.empty()) {
    AE_ASSIGN_OR_RETURN(p.id, Text(j, "profileId"));
  }
  AE_ASSIGN_OR_RETURN(p.name, Text(j, "name"));
  if (p.name.empty()) {
    AE_ASSIGN_OR_RETURN(p.name, Text(j, "profileName"));
  }
  AE_ASSIGN_OR_RETURN(p.description, Text(j, "description"));
  AE_ASSIGN_OR_RETURN(p.mdm_uri, Text(j, "mdmUri"));
  AE_ASSIGN_OR_RETURN(p.update_time_ms, EpochMsMember(j, "updateTime"));
  p.extra = Extra(j, {"id", "profileId", "name", "profileName", "description", "mdmUri",
                      "updateTime"});
  return p;
}

json ProfileToJson(const Profile& p) {
  json j = p.extra.is_object() ? p.extra : json::object();
  j["id"] = p.id;
  j["name"] = p.name;
  j["description"] = p.description;
  j["mdmUri"] = p.mdm_uri;
  if (p.update_time_ms) j["updateTime"] = *p.update_time_ms;
  return j;
}

Result<ProfilePage> ProfilePageFromJson(const json& j) {
  if (!j.is_object()) return Bad("the profile page is not an object");
  ProfilePage p;
  AE_ASSIGN_OR_RETURN(const json* list, ListMember(j, {"profileList", "profiles", "list"}));
  if (list == nullptr && !j.contains("totalCount")) return Bad("no profileList and no totalCount");
  AE_ASSIGN_OR_RETURN(p.total_count, Count(j, "totalCount"));
  if (list != nullptr) {
    for (const json& pj : *list) {
      AE_ASSIGN_OR_RETURN(Profile pr, ProfileFromJson(pj));
      p.profiles.push_back(std::move(pr));
    }
  }
  return p;
}

}  // namespace ae::knox
