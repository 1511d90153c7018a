#include "projections/kme_projector.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "events/base/clock.h"
#include "events/base/crypto.h"

namespace ae::proj {

namespace {
using nlohmann::json;
using google::protobuf::util::TimeUtil;
namespace v1 = autoenroll::events::v1;

constexpr const char* kDevices = "kme_devices";
constexpr const char* kIds = "kme_ids";
constexpr const char* kByUser = "kme_by_user";
constexpr const char* kSettings = "kme_settings";
constexpr std::string_view kDevicePrefix = "kme-device/";

std::string When(const events::Envelope& e) {
  return FormatRfc3339(TimeUtil::TimestampToMilliseconds(e.occurred_at()));
}

std::string SourceName(v1::KmeSource s) {
  switch (s) {
    case v1::KME_SOURCE_CSV: return "csv";
    case v1::KME_SOURCE_KNOX_API: return "knox_api";
    case v1::KME_SOURCE_KNOX_DEPLOYMENT: return "knox_deployment";
    default: return "";
  }
}

// The index keys of a record (domain::kme::MatchKeys; projections may not depend on domain,
// tests/unit/domain/kme_decider_test.cc checks the two agree).
std::vector<std::string> MatchKeys(const json& rec) {
  std::vector<std::string> keys;
  for (const char* f : {"imei", "imei2"}) {
    std::string v = rec.value(f, "");
    if (!v.empty()) keys.push_back("imei:" + v.substr(0, 14));
  }
  std::string meid = rec.value("meid", "");
  if (!meid.empty()) keys.push_back("meid:" + meid);
  std::string serial = rec.value("serial_number", "");
  if (!serial.empty()) keys.push_back("serial:" + serial);
  return keys;
}

Result<json> Load(ViewBatch& b, const std::string& cf, const std::string& key) {
  AE_ASSIGN_OR_RETURN(auto raw, b.Get(cf, key));
  if (!raw) return json();
  json j = json::parse(*raw, nullptr, false);
  if (!j.is_object()) return Corruption("view.corruption", cf + " record does not parse");
  return j;
}

template <typename P>
void SetRecord(json& rec, const P& p) {
  rec["imei"] = p.identifiers().imei();
  rec["imei2"] = p.identifiers().imei2();
  rec["meid"] = p.identifiers().meid();
  rec["serial_number"] = p.identifiers().serial_number();
  rec["model"] = p.model();
  rec["profile_name"] = p.profile_name();
  rec["knox_status"] = p.knox_status();
  json tags = json::array();
  for (const auto& t : p.tags()) tags.push_back(t);
  rec["tags"] = std::move(tags);
  json attrs = json::object();
  for (const auto& [k, v] : p.attributes()) attrs[k] = v;
  rec["attributes"] = std::move(attrs);
}

// Re-points the identifier index from `old_keys` to the record's keys.
Status Reindex(ViewBatch& b, const std::string& id, const std::vector<std::string>& old_keys,
               const std::vector<std::string>& new_keys) {
  for (const auto& k : old_keys) {
    if (std::find(new_keys.begin(), new_keys.end(), k) != new_keys.end()) continue;
    AE_ASSIGN_OR_RETURN(auto owner, b.Get(kIds, k));
    if (owner && *owner == id) b.Delete(kIds, k);
  }
  for (const auto& k : new_keys) b.Put(kIds, k, id);
  return Status::Ok();
}

void Stamp(json& rec, const RecordedEvent& r, bool changed) {
  if (changed) rec["updated_at"] = When(r.envelope);
  rec["version"] = r.envelope.stream_version();
  rec["last_position"] = r.position.ToString();
}

Status ApplyDeviceStream(const RecordedEvent& r, ViewBatch& b, const std::string& id) {
  const events::Envelope& e = r.envelope;
  if (e.has_kme_device_imported()) {
    const auto& p = e.kme_device_imported();
    AE_ASSIGN_OR_RETURN(json old, Load(b, kDevices, id));
    std::vector<std::string> old_keys;
    if (old.is_object()) old_keys = MatchKeys(old);
    json rec = {{"id", id},
                {"source", SourceName(p.source())},
                {"user_id", ""},
                {"policy_id", ""},
                {"ruleset_id", ""},
                {"enrollment", "not_enrolled"},
                {"enrolled_at", ""},
                {"created_at", When(e)}};
    SetRecord(rec, p);
    Stamp(rec, r, true);
    AE_RETURN_IF_ERROR(Reindex(b, id, old_keys, MatchKeys(rec)));
    b.Put(kDevices, id, rec.dump());
    return Status::Ok();
  }
  AE_ASSIGN_OR_RETURN(json rec, Load(b, kDevices, id));
  if (!rec.is_object()) return Status::Ok();  // an event before the record: nothing to show
  bool changed = true;
  switch (e.payload_case()) {
    case events::Envelope::kKmeDeviceUpdated: {
      std::vector<std::string> old_keys = MatchKeys(rec);
      SetRecord(rec, e.kme_device_updated());
      AE_RETURN_IF_ERROR(Reindex(b, id, old_keys, MatchKeys(rec)));
      break;
    }
    case events::Envelope::kDeviceUserAssigned: {
      std::string old_user = rec.value("user_id", "");
      const std::string& user = e.device_user_assigned().user_id();
      if (!old_user.empty()) b.Delete(kByUser, old_user + "/" + id);
      if (!user.empty()) b.Put(kByUser, user + "/" + id, "");
      rec["user_id"] = user;
      break;
    }
    case events::Envelope::kDevicePolicyAssigned:
      rec["policy_id"] = e.device_policy_assigned().policy_id();
      break;
    case events::Envelope::kDeviceRulesetAssigned:
      rec["ruleset_id"] = e.device_ruleset_assigned().ruleset_id();
      break;
    default:
      changed = false;  // e.g. KmeEnrollmentRefused: only the stream version moves
      break;
  }
  Stamp(rec, r, changed);
  b.Put(kDevices, id, rec.dump());
  return Status::Ok();
}
}  // namespace

Status KmeProjector::Apply(const RecordedEvent& r, ViewBatch& b) {
  const events::Envelope& e = r.envelope;
  const std::string& stream = e.stream();
  if (stream.size() > kDevicePrefix.size() && stream.compare(0, kDevicePrefix.size(), kDevicePrefix) == 0) {
    return ApplyDeviceStream(r, b, stream.substr(kDevicePrefix.size()));
  }
  switch (e.payload_case()) {
    case events::Envelope::kDeviceEnrolled: {
      const auto& p = e.device_enrolled();
      if (p.platform() != v1::PLATFORM_ANDROID || p.device_id().empty()) return Status::Ok();
      AE_ASSIGN_OR_RETURN(json rec, Load(b, kDevices, p.device_id()));
      if (!rec.is_object()) return Status::Ok();
      rec["enrollment"] = "enrolled";
      rec["enrolled_at"] = When(e);
      rec["updated_at"] = When(e);
      rec["last_position"] = r.position.ToString();
      b.Put(kDevices, p.device_id(), rec.dump());
      return Status::Ok();
    }
    case events::Envelope::kKmeEnrollmentTokenRotated: {
      const auto& p = e.kme_enrollment_token_rotated();
      json j = {{"token_sha256", crypto::Hex(p.token_sha256())},
                {"secret_ref", p.secret_ref()},
                {"rotated_at", When(e)},
                {"last_position", r.position.ToString()}};
      b.Put(kSettings, "enrollment_token", j.dump());
      return Status::Ok();
    }
    default:
      return Status::Ok();
  }
}

}  // namespace ae::proj
