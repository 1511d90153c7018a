#include "projections/kme_projector.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <functional>

#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "projections/json_record.h"
#include "projections/kme_records.h"

namespace ae::proj {

namespace {
using google::protobuf::util::TimeUtil;
namespace v1 = autoenroll::events::v1;

constexpr const char* kIds = "kme_ids";
constexpr const char* kByUser = "kme_by_user";
constexpr const char* kVersions = "kme_versions";
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

std::string Time(const google::protobuf::Timestamp& t) {
  return FormatRfc3339(TimeUtil::TimestampToMilliseconds(t));
}

// The device id of an event on a kme-device stream ("" for any other stream).
std::string DeviceOfStream(const events::Envelope& e) {
  const std::string& stream = e.stream();
  if (stream.size() <= kDevicePrefix.size() ||
      stream.compare(0, kDevicePrefix.size(), kDevicePrefix) != 0) {
    return "";
  }
  return stream.substr(kDevicePrefix.size());
}

// The attributes a KmeDeviceImported / KmeDeviceUpdated gives (empty ones are absent).
template <typename P>
void SetAttributes(KmeDeviceRecord& d, const P& p) {
  d.imei = p.identifiers().imei();
  d.imei2 = p.identifiers().imei2();
  d.meid = p.identifiers().meid();
  d.serial_number = p.identifiers().serial_number();
  d.model = p.model();
  d.profile_name = p.profile_name();
  d.knox_status = p.knox_status();
  d.tags.assign(p.tags().begin(), p.tags().end());
  d.attributes.clear();
  for (const auto& [k, v] : p.attributes()) d.attributes[k] = v;
}

// Re-points the identifier index from `old_keys` to `new_keys`.
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

// Moves the device `id` to `user` in the kme_by_user index.
void SetUser(ViewBatch& b, KmeDeviceRecord& d, const std::string& id, const std::string& user) {
  if (!d.user_id.empty()) b.Delete(kByUser, d.user_id + "/" + id);
  if (!user.empty()) b.Put(kByUser, user + "/" + id, "");
  d.user_id = user;
}

void Put(ViewBatch& b, const RecordedEvent& r, const std::string& id, KmeDeviceRecord& d) {
  d.updated_at = When(r.envelope);
  d.last_position = r.position.ToString();
  b.Put(KmeDeviceRecord::kTable, id, d.Encode());
}

// Applies fn to the device `id` of an existing record (an event before the record shows
// nothing); fn answers false when nothing changed (no write).
Status UpdateDevice(ViewBatch& b, const RecordedEvent& r, const std::string& id,
                    const std::function<bool(KmeDeviceRecord&)>& fn) {
  AE_ASSIGN_OR_RETURN(auto d, ReadKmeRecord<KmeDeviceRecord>(b, id));
  if (!d) return Status::Ok();
  if (!fn(*d)) return Status::Ok();
  Put(b, r, id, *d);
  return Status::Ok();
}

// ---- kme-device streams ----

// The first event of its stream: no record before it.
Status OnKmeDeviceImported(const RecordedEvent& r, ViewBatch& b, const std::string& id) {
  const auto& p = r.envelope.kme_device_imported();
  KmeDeviceRecord d;
  d.id = id;
  d.source = SourceName(p.source());
  d.created_at = When(r.envelope);
  SetAttributes(d, p);
  SetUser(b, d, id, p.matched_user_id());  // domain::kme::Evolve does the same
  d.user_by_deployment =
      p.source() == v1::KME_SOURCE_KNOX_DEPLOYMENT && !p.matched_user_id().empty();
  AE_RETURN_IF_ERROR(Reindex(b, id, {}, d.MatchKeys()));
  Put(b, r, id, d);
  return Status::Ok();
}

Status OnKmeDeviceUpdated(const RecordedEvent& r, ViewBatch& b, const std::string& id) {
  AE_ASSIGN_OR_RETURN(auto d, ReadKmeRecord<KmeDeviceRecord>(b, id));
  if (!d) return Status::Ok();
  const std::vector<std::string> old_keys = d->MatchKeys();
  SetAttributes(*d, r.envelope.kme_device_updated());
  AE_RETURN_IF_ERROR(Reindex(b, id, old_keys, d->MatchKeys()));
  Put(b, r, id, *d);
  return Status::Ok();
}

Status OnKmeDeploymentUserOverridden(const RecordedEvent& r, ViewBatch& b,
                                     const std::string& id) {
  const auto& p = r.envelope.kme_deployment_user_overridden();
  return UpdateDevice(b, r, id, [&](KmeDeviceRecord& d) {
    d.user_conflict = KmeUserConflict{
        When(r.envelope),       r.position.ToString(),
        p.deployment_user_id(), p.user_id(),
        p.source() == v1::KME_SOURCE_UNSPECIFIED ? "administrator" : SourceName(p.source()),
        p.import_id(),          p.line()};
    return true;
  });
}

Status OnDeviceUserAssigned(const RecordedEvent& r, ViewBatch& b, const std::string& id) {
  const std::string& user = r.envelope.device_user_assigned().user_id();
  // A device's assignment is the Knox Deployment App's (domain::kme::Evolve).
  const bool by_deployment =
      r.envelope.actor().kind() == v1::Actor::KIND_DEVICE && !user.empty();
  return UpdateDevice(b, r, id, [&](KmeDeviceRecord& d) {
    if (d.user_id == user && d.user_by_deployment == by_deployment) {
      return false;  // e.g. the import's own user
    }
    SetUser(b, d, id, user);
    d.user_by_deployment = by_deployment;
    return true;
  });
}

Status OnDevicePolicyAssigned(const RecordedEvent& r, ViewBatch& b, const std::string& id) {
  const std::string& policy = r.envelope.device_policy_assigned().policy_id();
  return UpdateDevice(b, r, id, [&](KmeDeviceRecord& d) {
    if (d.policy_id == policy) return false;
    d.policy_id = policy;
    return true;
  });
}

Status OnDeviceRulesetAssigned(const RecordedEvent& r, ViewBatch& b, const std::string& id) {
  const std::string& ruleset = r.envelope.device_ruleset_assigned().ruleset_id();
  return UpdateDevice(b, r, id, [&](KmeDeviceRecord& d) {
    if (d.ruleset_id == ruleset) return false;
    d.ruleset_id = ruleset;
    return true;
  });
}

Status ApplyDeviceStream(const RecordedEvent& r, ViewBatch& b, const std::string& id) {
  using E = events::Envelope;
  // Every event of the stream moves its version, the expected version of the next writer.
  b.Put(kVersions, id, std::to_string(r.envelope.stream_version()));
  switch (r.envelope.payload_case()) {
    case E::kKmeDeviceImported: return OnKmeDeviceImported(r, b, id);
    case E::kKmeDeviceUpdated: return OnKmeDeviceUpdated(r, b, id);
    case E::kKmeDeploymentUserOverridden: return OnKmeDeploymentUserOverridden(r, b, id);
    case E::kDeviceUserAssigned: return OnDeviceUserAssigned(r, b, id);
    case E::kDevicePolicyAssigned: return OnDevicePolicyAssigned(r, b, id);
    case E::kDeviceRulesetAssigned: return OnDeviceRulesetAssigned(r, b, id);
    default: return Status::Ok();  // e.g. KmeEnrollmentRefused: only the version moves
  }
}

// ---- enrollment and settings ----

Status OnDeviceEnrolled(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.device_enrolled();
  if (p.platform() != v1::PLATFORM_ANDROID || p.device_id().empty()) return Status::Ok();
  return UpdateDevice(b, r, p.device_id(), [&](KmeDeviceRecord& d) {
    d.enrollment = "enrolled";
    d.enrolled_at = When(r.envelope);
    return true;
  });
}

Status OnKmeEnrollmentTokenRotated(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.kme_enrollment_token_rotated();
  KmeEnrollmentTokenRecord t;
  t.token_sha256 = crypto::Hex(p.token_sha256());
  t.secret_ref = p.secret_ref();
  t.rotated_at = When(r.envelope);
  t.last_position = r.position.ToString();
  b.Put(KmeEnrollmentTokenRecord::kTable, KmeEnrollmentTokenRecord::kKey, t.Encode());
  return Status::Ok();
}

// The Knox Cloud API connection and its last sync (stream kme-knox/default).
Status PutKnox(ViewBatch& b, const RecordedEvent& r, KmeKnoxRecord& k) {
  k.last_position = r.position.ToString();
  b.Put(KmeKnoxRecord::kTable, KmeKnoxRecord::kKey, k.Encode());
  return Status::Ok();
}

Result<KmeKnoxRecord> LoadKnox(ViewBatch& b) {
  AE_ASSIGN_OR_RETURN(auto k, ReadKmeRecord<KmeKnoxRecord>(b, KmeKnoxRecord::kKey));
  return k.value_or(KmeKnoxRecord{});
}

Status OnKmeKnoxConnected(const RecordedEvent& r, ViewBatch& b) {
  AE_ASSIGN_OR_RETURN(KmeKnoxRecord old, LoadKnox(b));  // a record that does not read stops
  (void)old;
  const auto& p = r.envelope.kme_knox_connected();
  KmeKnoxRecord k;
  k.configured = true;
  k.connection_id = p.connection_id();
  k.base_url = p.base_url();
  k.token_url = p.token_url();
  k.client_id = p.client_id();
  k.customer_id = p.customer_id();
  k.auto_approve_uploads = p.auto_approve_uploads();
  k.client_secret_ref = p.client_secret_ref();
  k.client_secret_sha256 = crypto::Hex(p.client_secret_sha256());
  k.connected_at = When(r.envelope);
  k.state = "never_synced";
  return PutKnox(b, r, k);
}

Status OnKmeKnoxDisconnected(const RecordedEvent& r, ViewBatch& b) {
  AE_ASSIGN_OR_RETURN(KmeKnoxRecord k, LoadKnox(b));
  if (k.connection_id != r.envelope.kme_knox_disconnected().connection_id()) {
    return Status::Ok();  // not the current connection
  }
  KmeKnoxRecord gone;
  gone.configured = false;
  gone.disconnected_at = When(r.envelope);
  return PutKnox(b, r, gone);
}

Status OnKmeSyncCompleted(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.kme_sync_completed();
  AE_ASSIGN_OR_RETURN(KmeKnoxRecord k, LoadKnox(b));
  if (!k.configured || k.connection_id != p.connection_id()) {
    return Status::Ok();  // a sync of another (older) connection
  }
  KmeKnoxLastSync s;
  s.sync_id = p.sync_id();
  s.at = When(r.envelope);
  s.started_at = Time(p.started_at());
  s.full = p.full();
  if (!p.full()) s.changed_after = Time(p.changed_after());
  s.devices_seen = p.devices_seen();
  s.events_written = p.events_written();
  s.created = p.created();
  s.updated = p.updated();
  s.unchanged = p.unchanged();
  s.rejected = p.rejected();
  s.users_matched = p.users_matched();
  s.uploads_approved = p.uploads_approved();
  if (!p.error().empty()) s.error = KmeKnoxSyncError{p.error(), p.error_message(), "", 0};
  for (const auto& x : p.errors()) {
    s.errors.push_back({x.code(), x.message(), x.knox_device_id(), x.line()});
  }
  k.last_sync = std::move(s);
  if (!p.connection_state().empty()) k.state = p.connection_state();
  if (p.error().empty()) k.last_success_at = Time(p.started_at());
  return PutKnox(b, r, k);
}
}  // namespace

Status KmeProjector::Apply(const RecordedEvent& r, ViewBatch& b) {
  using E = events::Envelope;
  if (std::string id = DeviceOfStream(r.envelope); !id.empty()) {
    return ApplyDeviceStream(r, b, id);
  }
  switch (r.envelope.payload_case()) {
    case E::kDeviceEnrolled: return OnDeviceEnrolled(r, b);
    case E::kKmeKnoxConnected: return OnKmeKnoxConnected(r, b);
    case E::kKmeKnoxDisconnected: return OnKmeKnoxDisconnected(r, b);
    case E::kKmeSyncCompleted: return OnKmeSyncCompleted(r, b);
    case E::kKmeEnrollmentTokenRotated: return OnKmeEnrollmentTokenRotated(r, b);
    default: return Status::Ok();
  }
}

}  // namespace ae::proj
