#include "projections/dep_projector.h"

#include <google/protobuf/util/time_util.h>

#include <nlohmann/json.hpp>

#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "projections/json_record.h"

namespace ae::proj {

namespace {
using nlohmann::json;
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
json Time(bool has, const google::protobuf::Timestamp& t) {
  if (!has) return nullptr;
  return FormatRfc3339(TimeUtil::TimestampToMilliseconds(t));
}

using json_record::Load;

std::string StreamKey(const events::Envelope& e) {
  auto slash = e.stream().find('/');
  return slash == std::string::npos ? std::string() : e.stream().substr(slash + 1);
}

json NewDevice(const std::string& serial) {
  return {{"serial_number", serial}, {"account_id", ""}, {"model", ""}, {"description", ""},
          {"color", ""}, {"asset_tag", ""}, {"os", ""}, {"device_family", ""},
          {"profile_status", "empty"}, {"profile_uuid", ""}, {"profile_id", ""},
          {"profile_assign_time", nullptr}, {"profile_push_time", nullptr},
          {"device_assigned_date", nullptr}, {"device_assigned_by", ""},
          {"user_id", ""}, {"policy_id", ""}, {"ruleset_id", ""},
          {"assigned_to_server", false}, {"pending_request_id", ""},
          {"last_assignment_error", nullptr}, {"enrollment", "not_enrolled"},
          {"disowned", false}, {"created_at", nullptr}};
}

// The bucket a device counts in on its account ("" = not counted).
std::string Bucket(const json& d) {
  if (!d.is_object() || !d.value("assigned_to_server", false)) return "";
  std::string s = d.value("profile_status", "empty");
  return s.empty() ? "empty" : s;
}

// Device counts live in their own small record per account (dep_counts), so a
// device change does not rewrite the account record. Every change of an
// account's counts is also kept, numbered, in dep_counts_history (see
// dep_projector.h), so the counts as they were at a point are one binary search.
Status MoveCount(ViewBatch& b, const RecordedEvent& r, const std::string& account_id,
                 const std::string& from_bucket, const std::string& to_bucket) {
  if (account_id.empty() || (from_bucket.empty() && to_bucket.empty())) return Status::Ok();
  AE_ASSIGN_OR_RETURN(json c, Load(b, "dep_counts", account_id));
  if (!c.is_object()) {
    c = {{"total", 0}, {"empty", 0}, {"assigned", 0}, {"pushed", 0}, {"removed", 0}};
  }
  if (!from_bucket.empty()) {
    c["total"] = c.value("total", 0) - 1;
    c[from_bucket] = c.value(from_bucket, 0) - 1;
  }
  if (!to_bucket.empty()) {
    c["total"] = c.value("total", 0) + 1;
    c[to_bucket] = c.value(to_bucket, 0) + 1;
  }
  const uint64_t seq = c.value("seq", uint64_t{0}) + 1;
  c["seq"] = seq;
  b.Put("dep_counts", account_id, c.dump());
  json h = {{"total", c["total"]}, {"empty", c["empty"]}, {"assigned", c["assigned"]},
            {"pushed", c["pushed"]}, {"removed", c["removed"]},
            {"position", r.position.ToString()},
            {"recorded_ms", TimeUtil::TimestampToMilliseconds(r.envelope.recorded_at())}};
  b.Put("dep_counts_history", DepCountsHistoryKey(account_id, seq), h.dump());
  return Status::Ok();
}

Status UpdateAccount(ViewBatch& b, const RecordedEvent& r, const std::string& id,
                     const std::function<void(json&)>& fn) {
  AE_ASSIGN_OR_RETURN(json a, Load(b, "dep_accounts", id));
  if (!a.is_object()) return Status::Ok();
  fn(a);
  a["updated_at"] = When(r.envelope);
  a["last_position"] = r.position.ToString();
  b.Put("dep_accounts", id, a.dump());
  return Status::Ok();
}

Status UpdateDevice(ViewBatch& b, const RecordedEvent& r, const std::string& serial, bool create,
                    const std::function<void(json&)>& fn) {
  AE_ASSIGN_OR_RETURN(json d, Load(b, "dep_devices", serial));
  if (!d.is_object()) {
    if (!create) return Status::Ok();
    d = NewDevice(serial);
    d["created_at"] = When(r.envelope);
  }
  const std::string old_account = d.value("account_id", "");
  const std::string old_bucket = Bucket(d);
  fn(d);
  d["updated_at"] = When(r.envelope);
  d["last_position"] = r.position.ToString();
  b.Put("dep_devices", serial, d.dump());
  const std::string new_account = d.value("account_id", "");
  const std::string new_bucket = Bucket(d);
  if (old_account == new_account) {
    if (old_bucket != new_bucket) {
      AE_RETURN_IF_ERROR(MoveCount(b, r, new_account, old_bucket, new_bucket));
    }
  } else {
    AE_RETURN_IF_ERROR(MoveCount(b, r, old_account, old_bucket, ""));
    AE_RETURN_IF_ERROR(MoveCount(b, r, new_account, "", new_bucket));
  }
  return Status::Ok();
}

json ProfileJson(const pb::DepProfileDefined& p) {
  json skip = json::array();
  for (const auto& k : p.skip_setup_items()) skip.push_back(k);
  json anchors = json::array();
  for (const auto& k : p.anchor_certs()) anchors.push_back(k);
  json hosts = json::array();
  for (const auto& k : p.supervising_host_certs()) hosts.push_back(k);
  return {{"id", p.profile_id()},
          {"account_id", p.account_id()},
          {"profile_name", p.profile_name()},
          {"url", p.url()},
          {"is_mandatory", p.is_mandatory()},
          {"is_mdm_removable", p.is_mdm_removable()},
          {"is_supervised", p.is_supervised()},
          {"await_device_configured", p.await_device_configured()},
          {"skip_setup_items", skip},
          {"support_phone_number", p.support_phone_number()},
          {"support_email_address", p.support_email_address()},
          {"department", p.department()},
          {"org_magic", p.org_magic()},
          {"language", p.language()},
          {"region", p.region()},
          {"allow_pairing", p.allow_pairing()},
          {"is_multi_user", p.is_multi_user()},
          {"auto_advance_setup", p.auto_advance_setup()},
          {"anchor_certs", anchors},
          {"supervising_host_certs", hosts},
          {"configuration_web_url", p.configuration_web_url()},
          {"do_not_use_profile_from_backup", p.do_not_use_profile_from_backup()},
          {"profile_uuid", ""},
          {"state", "pending"},
          {"error", nullptr}};
}
}  // namespace

std::string DepCountsHistoryKey(const std::string& account_id, uint64_t seq) {
  std::string k = account_id;
  k.push_back('\0');
  for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>((seq >> shift) & 0xff));
  return k;
}

Status DepProjector::Apply(const RecordedEvent& r, ViewBatch& b) {
  const events::Envelope& e = r.envelope;
  const std::string key = StreamKey(e);
  switch (e.payload_case()) {
    // ---- accounts ----
    case events::Envelope::kDepAccountCreated: {
      const auto& p = e.dep_account_created();
      json a = {{"id", p.account_id()},
                {"name", p.name()},
                {"state", "awaiting_token"},
                {"state_reason", ""},
                {"certificate_pem", p.certificate_pem()},
                {"public_key_sha256", crypto::Hex(p.public_key_sha256())},
                {"token_expires_at", nullptr},
                {"token_fingerprint", nullptr},
                {"server_name", ""}, {"server_uuid", ""}, {"org_name", ""}, {"org_email", ""},
                {"org_phone", ""}, {"org_address", ""}, {"org_id", ""},
                {"last_sync_at", nullptr},
                {"last_sync_error", nullptr},
                {"sync", nullptr},
                {"cursor_at", nullptr},
                {"created_at", When(e)},
                {"updated_at", When(e)},
                {"last_position", r.position.ToString()}};
      b.Put("dep_accounts", p.account_id(), a.dump());
      return Status::Ok();
    }
    case events::Envelope::kDepTokenUploaded: {
      const auto& p = e.dep_token_uploaded();
      return UpdateAccount(b, r, key, [&](json& a) {
        a["token_expires_at"] = Time(p.has_access_token_expiry(), p.access_token_expiry());
        a["token_fingerprint"] = crypto::Hex(p.token_sha256()).substr(0, 16);
      });
    }
    case events::Envelope::kDepAccountStateChanged: {
      const auto& p = e.dep_account_state_changed();
      return UpdateAccount(b, r, key, [&](json& a) {
        a["state"] = AccountStateName(p.state());
        a["state_reason"] = p.reason();
      });
    }
    case events::Envelope::kDepAccountDetailsSynced: {
      const auto& p = e.dep_account_details_synced();
      return UpdateAccount(b, r, key, [&](json& a) {
        a["server_name"] = p.server_name();
        a["server_uuid"] = p.server_uuid();
        a["org_name"] = p.org_name();
        a["org_email"] = p.org_email();
        a["org_phone"] = p.org_phone();
        a["org_address"] = p.org_address();
        a["org_id"] = p.org_id();
        a["org_type"] = p.org_type();
        a["org_version"] = p.org_version();
        a["admin_id"] = p.admin_id();
        a["facilitator_id"] = p.facilitator_id();
      });
    }
    case events::Envelope::kDepSyncStarted: {
      const auto& p = e.dep_sync_started();
      return UpdateAccount(b, r, key, [&](json& a) {
        a["sync"] = {{"id", p.sync_id()}, {"mode", p.mode()}, {"running", true},
                     {"started_at", When(e)}, {"pages", 0}, {"devices_seen", 0},
                     {"events_written", 0}};
      });
    }
    case events::Envelope::kDepSyncProgressed: {
      const auto& p = e.dep_sync_progressed();
      return UpdateAccount(b, r, key, [&](json& a) {
        if (!a["sync"].is_object()) a["sync"] = json::object();
        a["sync"]["pages"] = p.pages();
        a["sync"]["devices_seen"] = p.devices_seen();
        a["sync"]["events_written"] = p.events_written();
        a["cursor_at"] = When(e);
      });
    }
    case events::Envelope::kDepSyncCompleted: {
      const auto& p = e.dep_sync_completed();
      return UpdateAccount(b, r, key, [&](json& a) {
        if (!a["sync"].is_object()) a["sync"] = json::object();
        a["sync"]["running"] = false;
        a["sync"]["devices_seen"] = p.devices_seen();
        a["sync"]["events_written"] = p.events_written();
        a["sync"]["completed_at"] = When(e);
        a["last_sync_at"] = When(e);
        a["last_sync_error"] = nullptr;
        a["cursor_at"] = When(e);
      });
    }
    case events::Envelope::kDepSyncFailed: {
      const auto& p = e.dep_sync_failed();
      return UpdateAccount(b, r, key, [&](json& a) {
        if (!a["sync"].is_object()) a["sync"] = json::object();
        a["sync"]["running"] = false;
        a["last_sync_error"] = {{"code", p.code()}, {"message", p.message()}, {"at", When(e)}};
      });
    }
    // ---- profiles ----
    case events::Envelope::kDepProfileDefined: {
      json j = ProfileJson(e.dep_profile_defined());
      j["created_at"] = When(e);
      j["updated_at"] = When(e);
      j["last_position"] = r.position.ToString();
      b.Put("dep_profiles", e.dep_profile_defined().profile_id(), j.dump());
      return Status::Ok();
    }
    case events::Envelope::kDepProfileDefinedAtApple:
    case events::Envelope::kDepProfileDefinitionFailed: {
      AE_ASSIGN_OR_RETURN(json j, Load(b, "dep_profiles", key));
      if (!j.is_object()) return Status::Ok();
      if (e.has_dep_profile_defined_at_apple()) {
        j["profile_uuid"] = e.dep_profile_defined_at_apple().profile_uuid();
        j["state"] = "defined";
        j["error"] = nullptr;
      } else {
        j["state"] = "failed";
        j["error"] = {{"code", e.dep_profile_definition_failed().code()},
                      {"message", e.dep_profile_definition_failed().message()}};
      }
      j["updated_at"] = When(e);
      j["last_position"] = r.position.ToString();
      b.Put("dep_profiles", key, j.dump());
      return Status::Ok();
    }
    // ---- devices ----
    case events::Envelope::kDepDeviceSynced: {
      const auto& p = e.dep_device_synced();
      return UpdateDevice(b, r, p.serial_number(), true, [&](json& d) {
        d["account_id"] = p.account_id();
        d["model"] = p.model();
        d["description"] = p.description();
        d["color"] = p.color();
        d["asset_tag"] = p.asset_tag();
        d["os"] = p.os();
        d["device_family"] = p.device_family();
        d["device_assigned_date"] = Time(p.has_device_assigned_date(), p.device_assigned_date());
        d["device_assigned_by"] = p.device_assigned_by();
        d["assigned_to_server"] = true;
        d["disowned"] = false;
      });
    }
    case events::Envelope::kDepProfileStatusChanged: {
      const auto& p = e.dep_profile_status_changed();
      return UpdateDevice(b, r, p.serial_number(), true, [&](json& d) {
        d["profile_status"] = ProfileStatusName(p.status());
        d["profile_uuid"] = p.profile_uuid();
        d["profile_assign_time"] = Time(p.has_profile_assign_time(), p.profile_assign_time());
        d["profile_push_time"] = Time(p.has_profile_push_time(), p.profile_push_time());
      });
    }
    case events::Envelope::kDepDeviceUnassigned:
      return UpdateDevice(b, r, key, false, [&](json& d) { d["assigned_to_server"] = false; });
    case events::Envelope::kDepProfileAssignmentRequested: {
      const auto& p = e.dep_profile_assignment_requested();
      b.Delete("dep_retries", key);
      return UpdateDevice(b, r, key, false, [&](json& d) {
        d["profile_id"] = p.profile_id();
        d["requested_profile_uuid"] = p.profile_uuid();
        d["pending_request_id"] = p.request_id();
      });
    }
    case events::Envelope::kDepProfileAssigned: {
      const auto& p = e.dep_profile_assigned();
      b.Delete("dep_retries", key);
      return UpdateDevice(b, r, key, false, [&](json& d) {
        d["profile_status"] = "assigned";
        d["profile_uuid"] = p.profile_uuid();
        d["profile_id"] = p.profile_id();
        d["pending_request_id"] = "";
        d["last_assignment_error"] = nullptr;
        d["profile_assign_time"] = When(e);
      });
    }
    case events::Envelope::kDepProfileAssignmentFailed: {
      const auto& p = e.dep_profile_assignment_failed();
      AE_ASSIGN_OR_RETURN(json dev, Load(b, "dep_devices", key));
      if (dev.is_object() && dev.value("pending_request_id", "") == p.request_id()) {
        json retry = {{"due", Time(p.has_retry_after(), p.retry_after())},
                      {"profile_id", p.profile_id()},
                      {"profile_uuid", dev.value("requested_profile_uuid", "")}};
        b.Put("dep_retries", key, retry.dump());
      }
      return UpdateDevice(b, r, key, false, [&](json& d) {
        if (d.value("pending_request_id", "") == p.request_id()) d["pending_request_id"] = "";
        d["last_assignment_error"] = {{"reason", p.reason()},
                                      {"request_id", p.request_id()},
                                      {"profile_id", p.profile_id()},
                                      {"retry_after", Time(p.has_retry_after(), p.retry_after())},
                                      {"at", When(e)}};
      });
    }
    case events::Envelope::kDepProfileRemovalRequested:
      return UpdateDevice(b, r, key, false, [&](json& d) {
        d["removal_request_id"] = e.dep_profile_removal_requested().request_id();
      });
    case events::Envelope::kDepProfileRemoved:
      b.Delete("dep_retries", key);
      return UpdateDevice(b, r, key, false, [&](json& d) {
        d["removal_request_id"] = "";
        d["profile_id"] = "";
        d["profile_uuid"] = "";
        d["pending_request_id"] = "";
        d["profile_status"] = "removed";
      });
    case events::Envelope::kDepDeviceDisownRequested:
      return UpdateDevice(b, r, key, false, [&](json& d) {
        d["disown"] = {{"request_id", e.dep_device_disown_requested().request_id()},
                       {"requested_by", e.dep_device_disown_requested().requested_by()},
                       {"requested_at", When(e)}};
      });
    case events::Envelope::kDepDeviceDisowned:
      return UpdateDevice(b, r, key, false, [&](json& d) {
        d["disowned"] = true;
        d["assigned_to_server"] = false;
        if (d["disown"].is_object()) d["disown"]["result"] = e.dep_device_disowned().result();
      });
    case events::Envelope::kDepEnrollmentRefused:
      return UpdateDevice(b, r, key, false, [&](json& d) {
        d["last_enrollment_refusal"] = {{"reason", e.dep_enrollment_refused().reason()},
                                        {"at", When(e)}};
      });
    case events::Envelope::kDeviceUserAssigned:
    case events::Envelope::kDevicePolicyAssigned:
    case events::Envelope::kDeviceRulesetAssigned: {
      if (e.stream().rfind("dep-device/", 0) != 0) return Status::Ok();
      return UpdateDevice(b, r, key, false, [&](json& d) {
        if (e.has_device_user_assigned()) d["user_id"] = e.device_user_assigned().user_id();
        if (e.has_device_policy_assigned()) d["policy_id"] = e.device_policy_assigned().policy_id();
        if (e.has_device_ruleset_assigned()) {
          d["ruleset_id"] = e.device_ruleset_assigned().ruleset_id();
        }
      });
    }
    case events::Envelope::kDeviceEnrolled: {
      const auto& p = e.device_enrolled();
      if (p.platform() != pb::PLATFORM_APPLE) return Status::Ok();
      return UpdateDevice(b, r, p.serial_number(), false, [&](json& d) {
        d["enrollment"] = "enrolled";
        d["enrolled_at"] = When(e);
      });
    }
    case events::Envelope::kDeviceCheckedOut: {
      // The MDM profile was removed from the device: it is no longer enrolled.
      if (e.stream().rfind("device/", 0) != 0) return Status::Ok();
      return UpdateDevice(b, r, key, false, [&](json& d) { d["enrollment"] = "not_enrolled"; });
    }
    default:
      return Status::Ok();
  }
}

}  // namespace ae::proj
