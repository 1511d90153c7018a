#include "projections/dep_projector.h"

#include <google/protobuf/util/time_util.h>

#include <functional>

#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "projections/dep_records.h"
#include "projections/json_record.h"

namespace ae::proj {

namespace {
using google::protobuf::util::TimeUtil;
namespace pb = autoenroll::events::v1;

std::string Lower(std::string s, std::string_view prefix) {
  if (s.rfind(prefix, 0) == 0) s = s.substr(prefix.size());
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
// "awaiting_token", "active", ... (as the API names account states).
std::string AccountStateName(pb::DepAccountState s) {
  if (s == pb::DEP_ACCOUNT_STATE_UNSPECIFIED) return "awaiting_token";
  return Lower(pb::DepAccountState_Name(s), "DEP_ACCOUNT_STATE_");
}
// "empty", "assigned", "pushed", "removed".
std::string ProfileStatusName(pb::DepProfileStatus s) {
  if (s == pb::DEP_PROFILE_STATUS_UNSPECIFIED) return "empty";
  return Lower(pb::DepProfileStatus_Name(s), "DEP_PROFILE_STATUS_");
}

using json_record::When;
std::optional<std::string> Time(bool has, const google::protobuf::Timestamp& t) {
  if (!has) return std::nullopt;
  return FormatRfc3339(TimeUtil::TimestampToMilliseconds(t));
}

std::string StreamKey(const events::Envelope& e) {
  auto slash = e.stream().find('/');
  return slash == std::string::npos ? std::string() : e.stream().substr(slash + 1);
}

// The bucket a device counts in on its account ("" = not counted).
std::string Bucket(const DepDeviceRecord& d) {
  if (!d.assigned_to_server) return "";
  return d.profile_status.empty() ? "empty" : d.profile_status;
}

// Device counts live in their own small record per account (dep_counts), so a
// device change does not rewrite the account record. Every change of an
// account's counts is also kept, numbered, in dep_counts_history (see
// dep_projector.h), so the counts as they were at a point are one binary search.
Status MoveCount(ViewBatch& b, const RecordedEvent& r, const std::string& account_id,
                 const std::string& from_bucket, const std::string& to_bucket) {
  if (account_id.empty() || (from_bucket.empty() && to_bucket.empty())) return Status::Ok();
  AE_ASSIGN_OR_RETURN(auto loaded, ReadDepRecord<DepCountsRecord>(b, account_id));
  DepCountsRecord c = loaded.value_or(DepCountsRecord{});
  if (!from_bucket.empty()) {
    --c.counts.total;
    --c.counts.Bucket(from_bucket);
  }
  if (!to_bucket.empty()) {
    ++c.counts.total;
    ++c.counts.Bucket(to_bucket);
  }
  const uint64_t seq = c.seq.value_or(0) + 1;
  c.seq = seq;
  b.Put(DepCountsRecord::kTable, account_id, c.Encode());
  DepCountsChange h;
  h.counts = c.counts;
  h.position = r.position.ToString();
  h.recorded_ms = TimeUtil::TimestampToMilliseconds(r.envelope.recorded_at());
  b.Put(DepCountsChange::kTable, DepCountsHistoryKey(account_id, seq), h.Encode());
  return Status::Ok();
}

Status UpdateAccount(ViewBatch& b, const RecordedEvent& r, const std::string& id,
                     const std::function<void(DepAccountRecord&)>& fn) {
  AE_ASSIGN_OR_RETURN(auto a, ReadDepRecord<DepAccountRecord>(b, id));
  if (!a) return Status::Ok();
  fn(*a);
  a->updated_at = When(r.envelope);
  a->last_position = r.position.ToString();
  b.Put(DepAccountRecord::kTable, id, a->Encode());
  return Status::Ok();
}

Status UpdateAccount(ViewBatch& b, const RecordedEvent& r,
                     const std::function<void(DepAccountRecord&)>& fn) {
  return UpdateAccount(b, r, StreamKey(r.envelope), fn);
}

Status UpdateProfile(ViewBatch& b, const RecordedEvent& r,
                     const std::function<void(DepProfileRecord&)>& fn) {
  const std::string id = StreamKey(r.envelope);
  AE_ASSIGN_OR_RETURN(auto p, ReadDepRecord<DepProfileRecord>(b, id));
  if (!p) return Status::Ok();
  fn(*p);
  p->updated_at = When(r.envelope);
  p->last_position = r.position.ToString();
  b.Put(DepProfileRecord::kTable, id, p->Encode());
  return Status::Ok();
}

// Applies fn to the device `serial` (created first when `create`), and moves it between
// its account's counts when its account or bucket changed.
Status UpdateDevice(ViewBatch& b, const RecordedEvent& r, const std::string& serial, bool create,
                    const std::function<void(DepDeviceRecord&)>& fn) {
  AE_ASSIGN_OR_RETURN(auto loaded, ReadDepRecord<DepDeviceRecord>(b, serial));
  if (!loaded) {
    if (!create) return Status::Ok();
    loaded.emplace();
    loaded->serial_number = serial;
    loaded->created_at = When(r.envelope);
  }
  DepDeviceRecord& d = *loaded;
  const std::string old_account = d.account_id;
  const std::string old_bucket = Bucket(d);
  fn(d);
  d.updated_at = When(r.envelope);
  d.last_position = r.position.ToString();
  b.Put(DepDeviceRecord::kTable, serial, d.Encode());
  const std::string new_bucket = Bucket(d);
  if (old_account == d.account_id) {
    if (old_bucket != new_bucket) {
      AE_RETURN_IF_ERROR(MoveCount(b, r, d.account_id, old_bucket, new_bucket));
    }
  } else {
    AE_RETURN_IF_ERROR(MoveCount(b, r, old_account, old_bucket, ""));
    AE_RETURN_IF_ERROR(MoveCount(b, r, d.account_id, "", new_bucket));
  }
  return Status::Ok();
}

// The device of an event on its dep-device stream.
Status UpdateDevice(ViewBatch& b, const RecordedEvent& r,
                    const std::function<void(DepDeviceRecord&)>& fn) {
  return UpdateDevice(b, r, StreamKey(r.envelope), false, fn);
}

// ---- accounts ----

Status OnDepAccountCreated(const RecordedEvent& r, ViewBatch& b) {
  const events::Envelope& e = r.envelope;
  const auto& p = e.dep_account_created();
  DepAccountRecord a;
  a.id = p.account_id();
  a.name = p.name();
  a.certificate_pem = p.certificate_pem();
  a.public_key_sha256 = crypto::Hex(p.public_key_sha256());
  a.created_at = When(e);
  a.updated_at = When(e);
  a.last_position = r.position.ToString();
  b.Put(DepAccountRecord::kTable, p.account_id(), a.Encode());
  return Status::Ok();
}

Status OnDepTokenUploaded(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.dep_token_uploaded();
  return UpdateAccount(b, r, [&](DepAccountRecord& a) {
    a.token_expires_at = Time(p.has_access_token_expiry(), p.access_token_expiry());
    a.token_fingerprint = crypto::Hex(p.token_sha256()).substr(0, 16);
  });
}

Status OnDepAccountStateChanged(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.dep_account_state_changed();
  return UpdateAccount(b, r, [&](DepAccountRecord& a) {
    a.state = AccountStateName(p.state());
    a.state_reason = p.reason();
  });
}

Status OnDepAccountDetailsSynced(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.dep_account_details_synced();
  return UpdateAccount(b, r, [&](DepAccountRecord& a) {
    a.server_name = p.server_name();
    a.server_uuid = p.server_uuid();
    a.org_name = p.org_name();
    a.org_email = p.org_email();
    a.org_phone = p.org_phone();
    a.org_address = p.org_address();
    a.org_id = p.org_id();
    a.org_type = p.org_type();
    a.org_version = p.org_version();
    a.admin_id = p.admin_id();
    a.facilitator_id = p.facilitator_id();
  });
}

Status OnDepSyncStarted(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.dep_sync_started();
  return UpdateAccount(b, r, [&](DepAccountRecord& a) {
    DepSyncRecord s;
    s.id = p.sync_id();
    s.mode = p.mode();
    s.running = true;
    s.started_at = When(r.envelope);
    s.pages = 0;
    s.devices_seen = 0;
    s.events_written = 0;
    a.sync = std::move(s);
  });
}

Status OnDepSyncProgressed(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.dep_sync_progressed();
  return UpdateAccount(b, r, [&](DepAccountRecord& a) {
    if (!a.sync) a.sync.emplace();
    a.sync->pages = p.pages();
    a.sync->devices_seen = p.devices_seen();
    a.sync->events_written = p.events_written();
    a.cursor_at = When(r.envelope);
  });
}

Status OnDepSyncCompleted(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.dep_sync_completed();
  return UpdateAccount(b, r, [&](DepAccountRecord& a) {
    if (!a.sync) a.sync.emplace();
    a.sync->running = false;
    a.sync->devices_seen = p.devices_seen();
    a.sync->events_written = p.events_written();
    a.sync->completed_at = When(r.envelope);
    a.last_sync_at = When(r.envelope);
    a.last_sync_error.reset();
    a.cursor_at = When(r.envelope);
  });
}

Status OnDepSyncFailed(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.dep_sync_failed();
  return UpdateAccount(b, r, [&](DepAccountRecord& a) {
    if (!a.sync) a.sync.emplace();
    a.sync->running = false;
    a.last_sync_error = DepSyncError{p.code(), p.message(), When(r.envelope)};
  });
}

// ---- profiles ----

Status OnDepProfileDefined(const RecordedEvent& r, ViewBatch& b) {
  const events::Envelope& e = r.envelope;
  const auto& p = e.dep_profile_defined();
  DepProfileRecord j;
  j.id = p.profile_id();
  j.account_id = p.account_id();
  j.profile_name = p.profile_name();
  j.url = p.url();
  j.is_mandatory = p.is_mandatory();
  j.is_mdm_removable = p.is_mdm_removable();
  j.is_supervised = p.is_supervised();
  j.await_device_configured = p.await_device_configured();
  j.skip_setup_items.assign(p.skip_setup_items().begin(), p.skip_setup_items().end());
  j.support_phone_number = p.support_phone_number();
  j.support_email_address = p.support_email_address();
  j.department = p.department();
  j.org_magic = p.org_magic();
  j.language = p.language();
  j.region = p.region();
  j.allow_pairing = p.allow_pairing();
  j.is_multi_user = p.is_multi_user();
  j.auto_advance_setup = p.auto_advance_setup();
  j.anchor_certs.assign(p.anchor_certs().begin(), p.anchor_certs().end());
  j.supervising_host_certs.assign(p.supervising_host_certs().begin(),
                                  p.supervising_host_certs().end());
  j.configuration_web_url = p.configuration_web_url();
  j.do_not_use_profile_from_backup = p.do_not_use_profile_from_backup();
  j.created_at = When(e);
  j.updated_at = When(e);
  j.last_position = r.position.ToString();
  b.Put(DepProfileRecord::kTable, p.profile_id(), j.Encode());
  return Status::Ok();
}

Status OnDepProfileDefinedAtApple(const RecordedEvent& r, ViewBatch& b) {
  return UpdateProfile(b, r, [&](DepProfileRecord& j) {
    j.profile_uuid = r.envelope.dep_profile_defined_at_apple().profile_uuid();
    j.state = "defined";
    j.error.reset();
  });
}

Status OnDepProfileDefinitionFailed(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.dep_profile_definition_failed();
  return UpdateProfile(b, r, [&](DepProfileRecord& j) {
    j.state = "failed";
    j.error = DepProfileError{p.code(), p.message()};
  });
}

// ---- devices ----

Status OnDepDeviceSynced(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.dep_device_synced();
  return UpdateDevice(b, r, p.serial_number(), true, [&](DepDeviceRecord& d) {
    d.account_id = p.account_id();
    d.model = p.model();
    d.description = p.description();
    d.color = p.color();
    d.asset_tag = p.asset_tag();
    d.os = p.os();
    d.device_family = p.device_family();
    d.device_assigned_date = Time(p.has_device_assigned_date(), p.device_assigned_date());
    d.device_assigned_by = p.device_assigned_by();
    d.assigned_to_server = true;
    d.disowned = false;
  });
}

Status OnDepProfileStatusChanged(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.dep_profile_status_changed();
  return UpdateDevice(b, r, p.serial_number(), true, [&](DepDeviceRecord& d) {
    d.profile_status = ProfileStatusName(p.status());
    d.profile_uuid = p.profile_uuid();
    d.profile_assign_time = Time(p.has_profile_assign_time(), p.profile_assign_time());
    d.profile_push_time = Time(p.has_profile_push_time(), p.profile_push_time());
  });
}

Status OnDepDeviceUnassigned(const RecordedEvent& r, ViewBatch& b) {
  return UpdateDevice(b, r, [](DepDeviceRecord& d) { d.assigned_to_server = false; });
}

Status OnDepProfileAssignmentRequested(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.dep_profile_assignment_requested();
  b.Delete(DepRetryRecord::kTable, StreamKey(r.envelope));
  return UpdateDevice(b, r, [&](DepDeviceRecord& d) {
    d.profile_id = p.profile_id();
    d.requested_profile_uuid = p.profile_uuid();
    d.pending_request_id = p.request_id();
  });
}

Status OnDepProfileAssigned(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.dep_profile_assigned();
  b.Delete(DepRetryRecord::kTable, StreamKey(r.envelope));
  return UpdateDevice(b, r, [&](DepDeviceRecord& d) {
    d.profile_status = "assigned";
    d.profile_uuid = p.profile_uuid();
    d.profile_id = p.profile_id();
    d.pending_request_id = "";
    d.last_assignment_error.reset();
    d.profile_assign_time = When(r.envelope);
  });
}

// The failure of the assignment in flight schedules a retry (dep_retries).
Status OnDepProfileAssignmentFailed(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.dep_profile_assignment_failed();
  const std::string serial = StreamKey(r.envelope);
  AE_ASSIGN_OR_RETURN(auto dev, ReadDepRecord<DepDeviceRecord>(b, serial));
  if (dev && dev->pending_request_id == p.request_id()) {
    DepRetryRecord retry{Time(p.has_retry_after(), p.retry_after()), p.profile_id(),
                         dev->requested_profile_uuid.value_or("")};
    b.Put(DepRetryRecord::kTable, serial, retry.Encode());
  }
  return UpdateDevice(b, r, [&](DepDeviceRecord& d) {
    if (d.pending_request_id == p.request_id()) d.pending_request_id = "";
    d.last_assignment_error =
        DepAssignmentError{p.reason(), p.request_id(), p.profile_id(),
                           Time(p.has_retry_after(), p.retry_after()), When(r.envelope)};
  });
}

Status OnDepProfileRemovalRequested(const RecordedEvent& r, ViewBatch& b) {
  return UpdateDevice(b, r, [&](DepDeviceRecord& d) {
    d.removal_request_id = r.envelope.dep_profile_removal_requested().request_id();
  });
}

Status OnDepProfileRemoved(const RecordedEvent& r, ViewBatch& b) {
  b.Delete(DepRetryRecord::kTable, StreamKey(r.envelope));
  return UpdateDevice(b, r, [](DepDeviceRecord& d) {
    d.removal_request_id = "";
    d.profile_id = "";
    d.profile_uuid = "";
    d.pending_request_id = "";
    d.profile_status = "removed";
  });
}

Status OnDepDeviceDisownRequested(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.dep_device_disown_requested();
  return UpdateDevice(b, r, [&](DepDeviceRecord& d) {
    d.disown = DepDisownRecord{p.request_id(), p.requested_by(), When(r.envelope), std::nullopt};
    d.disown_null = false;
  });
}

Status OnDepDeviceDisowned(const RecordedEvent& r, ViewBatch& b) {
  return UpdateDevice(b, r, [&](DepDeviceRecord& d) {
    d.disowned = true;
    d.assigned_to_server = false;
    if (d.disown) {
      d.disown->result = r.envelope.dep_device_disowned().result();
    } else {
      d.disown_null = true;
    }
  });
}

Status OnDepEnrollmentRefused(const RecordedEvent& r, ViewBatch& b) {
  return UpdateDevice(b, r, [&](DepDeviceRecord& d) {
    d.last_enrollment_refusal =
        DepEnrollmentRefusal{r.envelope.dep_enrollment_refused().reason(), When(r.envelope)};
  });
}

// User, policy and rule set of a device: only those on a dep-device stream are DEP devices.
bool IsDepDeviceStream(const events::Envelope& e) {
  return e.stream().rfind("dep-device/", 0) == 0;
}

Status OnDeviceUserAssigned(const RecordedEvent& r, ViewBatch& b) {
  if (!IsDepDeviceStream(r.envelope)) return Status::Ok();
  return UpdateDevice(b, r, [&](DepDeviceRecord& d) {
    d.user_id = r.envelope.device_user_assigned().user_id();
  });
}

Status OnDevicePolicyAssigned(const RecordedEvent& r, ViewBatch& b) {
  if (!IsDepDeviceStream(r.envelope)) return Status::Ok();
  return UpdateDevice(b, r, [&](DepDeviceRecord& d) {
    d.policy_id = r.envelope.device_policy_assigned().policy_id();
  });
}

Status OnDeviceRulesetAssigned(const RecordedEvent& r, ViewBatch& b) {
  if (!IsDepDeviceStream(r.envelope)) return Status::Ok();
  return UpdateDevice(b, r, [&](DepDeviceRecord& d) {
    d.ruleset_id = r.envelope.device_ruleset_assigned().ruleset_id();
  });
}

Status OnDeviceEnrolled(const RecordedEvent& r, ViewBatch& b) {
  const auto& p = r.envelope.device_enrolled();
  if (p.platform() != pb::PLATFORM_APPLE) return Status::Ok();
  return UpdateDevice(b, r, p.serial_number(), false, [&](DepDeviceRecord& d) {
    d.enrollment = "enrolled";
    d.enrolled_at = When(r.envelope);
  });
}

// The MDM profile was removed from the device: it is no longer enrolled.
Status OnDeviceCheckedOut(const RecordedEvent& r, ViewBatch& b) {
  if (r.envelope.stream().rfind("device/", 0) != 0) return Status::Ok();
  return UpdateDevice(b, r, [](DepDeviceRecord& d) { d.enrollment = "not_enrolled"; });
}
}  // namespace

std::string DepCountsHistoryKey(const std::string& account_id, uint64_t seq) {
  std::string k = account_id;
  k.push_back('\0');
  for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>((seq >> shift) & 0xff));
  return k;
}

Status DepProjector::Apply(const RecordedEvent& r, ViewBatch& b) {
  using E = events::Envelope;
  switch (r.envelope.payload_case()) {
    case E::kDepAccountCreated: return OnDepAccountCreated(r, b);
    case E::kDepTokenUploaded: return OnDepTokenUploaded(r, b);
    case E::kDepAccountStateChanged: return OnDepAccountStateChanged(r, b);
    case E::kDepAccountDetailsSynced: return OnDepAccountDetailsSynced(r, b);
    case E::kDepSyncStarted: return OnDepSyncStarted(r, b);
    case E::kDepSyncProgressed: return OnDepSyncProgressed(r, b);
    case E::kDepSyncCompleted: return OnDepSyncCompleted(r, b);
    case E::kDepSyncFailed: return OnDepSyncFailed(r, b);
    case E::kDepProfileDefined: return OnDepProfileDefined(r, b);
    case E::kDepProfileDefinedAtApple: return OnDepProfileDefinedAtApple(r, b);
    case E::kDepProfileDefinitionFailed: return OnDepProfileDefinitionFailed(r, b);
    case E::kDepDeviceSynced: return OnDepDeviceSynced(r, b);
    case E::kDepProfileStatusChanged: return OnDepProfileStatusChanged(r, b);
    case E::kDepDeviceUnassigned: return OnDepDeviceUnassigned(r, b);
    case E::kDepProfileAssignmentRequested: return OnDepProfileAssignmentRequested(r, b);
    case E::kDepProfileAssigned: return OnDepProfileAssigned(r, b);
    case E::kDepProfileAssignmentFailed: return OnDepProfileAssignmentFailed(r, b);
    case E::kDepProfileRemovalRequested: return OnDepProfileRemovalRequested(r, b);
    case E::kDepProfileRemoved: return OnDepProfileRemoved(r, b);
    case E::kDepDeviceDisownRequested: return OnDepDeviceDisownRequested(r, b);
    case E::kDepDeviceDisowned: return OnDepDeviceDisowned(r, b);
    case E::kDepEnrollmentRefused: return OnDepEnrollmentRefused(r, b);
    case E::kDeviceUserAssigned: return OnDeviceUserAssigned(r, b);
    case E::kDevicePolicyAssigned: return OnDevicePolicyAssigned(r, b);
    case E::kDeviceRulesetAssigned: return OnDeviceRulesetAssigned(r, b);
    case E::kDeviceEnrolled: return OnDeviceEnrolled(r, b);
    case E::kDeviceCheckedOut: return OnDeviceCheckedOut(r, b);
    default: return Status::Ok();
  }
}

}  // namespace ae::proj
