#include "projections/kme_projector.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "projections/json_record.h"

namespace ae::proj {

namespace {
using nlohmann::json;
using google::protobuf::util::TimeUtil;
namespace v1 = autoenroll::events::v1;

constexpr const char* kDevices = "kme_devices";
constexpr const char* kIds = "kme_ids";
constexpr const char* kByUser = "kme_by_user";
constexpr const char* kSettings = "kme_settings";
constexpr const char* kVersions = "kme_versions";
constexpr const char* kKnoxKey = "knox";
constexpr std::string_view kDevicePrefix = "kme-device/";

using json_record::When;

std::string SourceName(v1::KmeSource s) {
  switch (s) {
    case v1::KME_SOURCE_CSV: return "csv";
    case v1::KME_SOURCE_KNOX_API: return "knox_api";
    case v1::KME_SOURCE_KNOX_DEPLOYMENT: return "knox_deployment";
    default: return "";
  }
}

// The index keys of a record: the keys of domain::kme::MatchKeys (and of the CSV reader's
// DeviceIdentity::MatchKeys), repeated here since projections depend on events only.
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

// Empty strings, lists and maps are left out of a record (readers default them).
void SetOrErase(json& rec, const char* key, const std::string& v) {
  if (v.empty()) {
    rec.erase(key);
  } else {
    rec[key] = v;
  }
}

template <typename P>
void SetRecord(json& rec, const P& p) {
  SetOrErase(rec, "imei", p.identifiers().imei());
  SetOrErase(rec, "imei2", p.identifiers().imei2());
  SetOrErase(rec, "meid", p.identifiers().meid());
  SetOrErase(rec, "serial_number", p.identifiers().serial_number());
  SetOrErase(rec, "model", p.model());
  SetOrErase(rec, "profile_name", p.profile_name());
  SetOrErase(rec, "knox_status", p.knox_status());
  if (p.tags().empty()) {
    rec.erase("tags");
  } else {
    json tags = json::array();
    for (const auto& t : p.tags()) tags.push_back(t);
    rec["tags"] = std::move(tags);
  }
  if (p.attributes().empty()) {
    rec.erase("attributes");
  } else {
    json attrs = json::object();
    for (const auto& [k, v] : p.attributes()) attrs[k] = v;
    rec["attributes"] = std::move(attrs);
  }
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

void Changed(json& rec, const RecordedEvent& r) {
  rec["updated_at"] = When(r.envelope);
  rec["last_position"] = r.position.ToString();
}

void SetUser(ViewBatch& b, json& rec, const std::string& id, const std::string& user) {
  std::string old_user = rec.value("user_id", "");
  if (!old_user.empty()) b.Delete(kByUser, old_user + "/" + id);
  if (!user.empty()) b.Put(kByUser, user + "/" + id, "");
  SetOrErase(rec, "user_id", user);
}

// Whether the Knox Deployment App bound the user (domain::kme::Evolve's user_by_deployment).
void SetUserByDeployment(json& rec, bool by_deployment) {
  if (by_deployment) {
    rec["user_by_deployment"] = true;
  } else {
    rec.erase("user_by_deployment");
  }
}

// The conflict a KmeDeploymentUserOverridden records (the last one is kept).
json ConflictJson(const RecordedEvent& r) {
  const auto& p = r.envelope.kme_deployment_user_overridden();
  json c = {{"at", When(r.envelope)},
            {"position", r.position.ToString()},
            {"deployment_user_id", p.deployment_user_id()},
            {"user_id", p.user_id()},
            {"by", p.source() == v1::KME_SOURCE_UNSPECIFIED ? "administrator"
                                                            : SourceName(p.source())}};
  if (!p.import_id().empty()) c["import_id"] = p.import_id();
  if (p.line() > 0) c["line"] = p.line();
  return c;
}

Status ApplyDeviceStream(const RecordedEvent& r, ViewBatch& b, const std::string& id) {
  const events::Envelope& e = r.envelope;
  // Every event of the stream moves its version, the expected version of the next writer.
  b.Put(kVersions, id, std::to_string(e.stream_version()));
  if (e.has_kme_device_imported()) {  // the first event of its stream: no record before it
    const auto& p = e.kme_device_imported();
    json rec = {{"id", id}, {"source", SourceName(p.source())}, {"created_at", When(e)}};
    SetRecord(rec, p);
    SetUser(b, rec, id, p.matched_user_id());  // domain::kme::Evolve does the same
    SetUserByDeployment(rec, p.source() == v1::KME_SOURCE_KNOX_DEPLOYMENT &&
                                 !p.matched_user_id().empty());
    Changed(rec, r);
    AE_RETURN_IF_ERROR(Reindex(b, id, {}, MatchKeys(rec)));
    b.Put(kDevices, id, rec.dump());
    return Status::Ok();
  }
  std::string field;
  const std::string* value = nullptr;
  switch (e.payload_case()) {
    case events::Envelope::kKmeDeviceUpdated:
    case events::Envelope::kKmeDeploymentUserOverridden:
      break;
    case events::Envelope::kDeviceUserAssigned:
      field = "user_id";
      value = &e.device_user_assigned().user_id();
      break;
    case events::Envelope::kDevicePolicyAssigned:
      field = "policy_id";
      value = &e.device_policy_assigned().policy_id();
      break;
    case events::Envelope::kDeviceRulesetAssigned:
      field = "ruleset_id";
      value = &e.device_ruleset_assigned().ruleset_id();
      break;
    default:
      return Status::Ok();  // e.g. KmeEnrollmentRefused: only the version moves
  }
  AE_ASSIGN_OR_RETURN(json rec, Load(b, kDevices, id));
  if (!rec.is_object()) return Status::Ok();  // an event before the record: nothing to show
  if (value && field == "user_id") {
    // A device's assignment is the Knox Deployment App's (domain::kme::Evolve).
    const bool by_deployment =
        e.actor().kind() == v1::Actor::KIND_DEVICE && !value->empty();
    if (rec.value(field, "") == *value && rec.value("user_by_deployment", false) == by_deployment) {
      return Status::Ok();  // e.g. the import's own user
    }
    SetUser(b, rec, id, *value);
    SetUserByDeployment(rec, by_deployment);
  } else if (value) {
    if (rec.value(field, "") == *value) return Status::Ok();
    SetOrErase(rec, field.c_str(), *value);
  } else if (e.has_kme_deployment_user_overridden()) {
    rec["user_conflict"] = ConflictJson(r);
  } else {
    std::vector<std::string> old_keys = MatchKeys(rec);
    SetRecord(rec, e.kme_device_updated());
    AE_RETURN_IF_ERROR(Reindex(b, id, old_keys, MatchKeys(rec)));
  }
  Changed(rec, r);
  b.Put(kDevices, id, rec.dump());
  return Status::Ok();
}
json TimeJson(const google::protobuf::Timestamp& t) {
  return FormatRfc3339(TimeUtil::TimestampToMilliseconds(t));
}

// The Knox Cloud API connection and its last sync (stream kme-knox/default).
Status ApplyKnox(const RecordedEvent& r, ViewBatch& b) {
  const events::Envelope& e = r.envelope;
  AE_ASSIGN_OR_RETURN(json rec, Load(b, kSettings, kKnoxKey));
  if (!rec.is_object()) rec = json::object();
  switch (e.payload_case()) {
    case events::Envelope::kKmeKnoxConnected: {
      const auto& p = e.kme_knox_connected();
      rec = {{"configured", true},
             {"connection_id", p.connection_id()},
             {"base_url", p.base_url()},
             {"token_url", p.token_url()},
             {"client_id", p.client_id()},
             {"customer_id", p.customer_id()},
             {"auto_approve_uploads", p.auto_approve_uploads()},
             {"client_secret_ref", p.client_secret_ref()},
             {"client_secret_sha256", crypto::Hex(p.client_secret_sha256())},
             {"connected_at", When(e)},
             {"state", "never_synced"}};
      break;
    }
    case events::Envelope::kKmeKnoxDisconnected:
      if (rec.value("connection_id", "") != e.kme_knox_disconnected().connection_id()) {
        return Status::Ok();  // not the current connection
      }
      rec = {{"configured", false}, {"disconnected_at", When(e)}};
      break;
    case events::Envelope::kKmeSyncCompleted: {
      const auto& p = e.kme_sync_completed();
      if (!rec.value("configured", false) ||
          rec.value("connection_id", "") != p.connection_id()) {
        return Status::Ok();  // a sync of another (older) connection
      }
      json last = {{"sync_id", p.sync_id()},
                   {"at", When(e)},
                   {"started_at", TimeJson(p.started_at())},
                   {"full", p.full()},
                   {"devices_seen", p.devices_seen()},
                   {"events_written", p.events_written()},
                   {"created", p.created()},
                   {"updated", p.updated()},
                   {"unchanged", p.unchanged()},
                   {"rejected", p.rejected()},
                   {"users_matched", p.users_matched()},
                   {"uploads_approved", p.uploads_approved()}};
      if (!p.full()) last["changed_after"] = TimeJson(p.changed_after());
      if (!p.error().empty()) {
        last["error"] = {{"code", p.error()}, {"message", p.error_message()}};
      }
      if (!p.errors().empty()) {
        json errs = json::array();
        for (const auto& x : p.errors()) {
          json j = {{"code", x.code()}, {"message", x.message()}};
          if (!x.knox_device_id().empty()) j["knox_device_id"] = x.knox_device_id();
          if (x.line() > 0) j["line"] = x.line();
          errs.push_back(std::move(j));
        }
        last["errors"] = std::move(errs);
      }
      rec["last_sync"] = std::move(last);
      if (!p.connection_state().empty()) rec["state"] = p.connection_state();
      if (p.error().empty()) rec["last_success_at"] = TimeJson(p.started_at());
      break;
    }
    default:
      return Status::Ok();
  }
  rec["last_position"] = r.position.ToString();
  b.Put(kSettings, kKnoxKey, rec.dump());
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
      Changed(rec, r);
      b.Put(kDevices, p.device_id(), rec.dump());
      return Status::Ok();
    }
    case events::Envelope::kKmeKnoxConnected:
    case events::Envelope::kKmeKnoxDisconnected:
    case events::Envelope::kKmeSyncCompleted:
      return ApplyKnox(r, b);
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
