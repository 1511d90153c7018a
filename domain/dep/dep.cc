#include "domain/dep/dep.h"

#include <google/protobuf/util/time_util.h>

#include <string_view>

namespace ae::domain::dep {

namespace {
using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp Ts(int64_t ms) { return TimeUtil::MillisecondsToTimestamp(ms); }
int64_t Ms(const google::protobuf::Timestamp& t) { return TimeUtil::TimestampToMilliseconds(t); }
std::optional<int64_t> OptMs(bool has, const google::protobuf::Timestamp& t) {
  if (!has) return std::nullopt;
  return Ms(t);
}

std::string Lower(std::string s, std::string_view prefix) {
  if (s.rfind(prefix, 0) == 0) s = s.substr(prefix.size());
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<Envelope> One(Envelope e) {
  std::vector<Envelope> v;
  v.push_back(std::move(e));
  return v;
}
}  // namespace

std::string AccountStateName(pb::DepAccountState s) {
  if (s == pb::DEP_ACCOUNT_STATE_UNSPECIFIED) return "awaiting_token";
  return Lower(pb::DepAccountState_Name(s), "DEP_ACCOUNT_STATE_");
}

std::string ProfileStatusName(pb::DepProfileStatus s) {
  if (s == pb::DEP_PROFILE_STATUS_UNSPECIFIED) return "";
  return Lower(pb::DepProfileStatus_Name(s), "DEP_PROFILE_STATUS_");
}

pb::DepProfileStatus ProfileStatusFromName(std::string_view name) {
  std::string full = "DEP_PROFILE_STATUS_";
  for (char c : name) {
    full.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  pb::DepProfileStatus s = pb::DEP_PROFILE_STATUS_UNSPECIFIED;
  if (name.empty() || !pb::DepProfileStatus_Parse(full, &s)) {
    return pb::DEP_PROFILE_STATUS_UNSPECIFIED;
  }
  return s;
}

// ---- device enrollment --------------------------------------------------------

Status CheckEnrollment(const EnrollmentFacts& f) {
  if (!f.known) {
    return PermissionDenied("enroll.unknown_device",
                            "this device is not in any synced DEP account");
  }
  if (!f.assigned_to_server || f.disowned) {
    return PermissionDenied("enroll.not_assigned",
                            "this device is no longer assigned to us at Apple");
  }
  if (f.profile_id.empty() || (f.profile_status != pb::DEP_PROFILE_STATUS_ASSIGNED &&
                               f.profile_status != pb::DEP_PROFILE_STATUS_PUSHED)) {
    return PermissionDenied("enroll.no_profile", "this device has no DEP profile assigned");
  }
  if (f.user_id.empty()) {
    return PermissionDenied("enroll.no_user", "this device has no user assigned");
  }
  return Status::Ok();
}

// ---- accounts -----------------------------------------------------------------

AccountState EvolveAccount(AccountState s, const Envelope& e) {
  switch (e.payload_case()) {
    case Envelope::kDepAccountCreated:
      s.exists = true;
      s.name = e.dep_account_created().name();
      s.state = pb::DEP_ACCOUNT_STATE_AWAITING_TOKEN;
      break;
    case Envelope::kDepTokenUploaded: {
      const auto& p = e.dep_token_uploaded();
      s.token_sha256 = p.token_sha256();
      s.consumer_key_sha256 = p.consumer_key_sha256();
      s.token_secret_ref = p.secret_ref();
      s.token_expiry_ms = Ms(p.access_token_expiry());
      break;
    }
    case Envelope::kDepAccountStateChanged:
      s.state = e.dep_account_state_changed().state();
      s.reason = e.dep_account_state_changed().reason();
      break;
    case Envelope::kDepAccountDetailsSynced:
      s.details = e.dep_account_details_synced();
      break;
    case Envelope::kDepSyncProgressed:
      s.cursor = e.dep_sync_progressed().cursor_ref();
      s.cursor_time_ms = Ms(e.occurred_at());
      break;
    case Envelope::kDepSyncCompleted:
      s.cursor = e.dep_sync_completed().cursor();
      s.cursor_time_ms = Ms(e.occurred_at());
      s.fetch_complete = !s.cursor.empty();
      break;
    case Envelope::kDepSyncStarted:
      // A fetch starts from scratch: the old cursor is abandoned.
      if (e.dep_sync_started().mode() == "fetch") {
        s.cursor.clear();
        s.fetch_complete = false;
      }
      break;
    default:
      break;
  }
  return s;
}

Result<std::vector<Envelope>> Decide(const AccountState& s, const CreateAccount& c) {
  if (s.exists) return AlreadyExists("dep.account_exists", "account " + c.account_id + " exists");
  Envelope e;
  auto* p = e.mutable_dep_account_created();
  p->set_account_id(c.account_id);
  p->set_name(c.name);
  p->set_certificate_pem(c.certificate_pem);
  p->set_private_key_ref(c.private_key_ref);
  p->set_public_key_sha256(c.public_key_sha256);
  return One(std::move(e));
}

Result<std::vector<Envelope>> Decide(const AccountState& s, const UploadToken& c) {
  if (!s.exists) return NotFound("dep.account_not_found", "no such DEP account");
  if (!c.force && !s.consumer_key_sha256.empty() &&
      s.consumer_key_sha256 != c.consumer_key_sha256) {
    return Unprocessable("dep.token_not_for_this_account",
                         "this token belongs to another Apple MDM server than the account's "
                         "current token (its consumer key differs); upload it with ?force=true "
                         "if the server's token was legitimately reissued");
  }
  std::vector<Envelope> out;
  if (s.token_sha256 != c.token_sha256) {
    Envelope e;
    auto* p = e.mutable_dep_token_uploaded();
    p->set_account_id("");
    p->set_token_sha256(c.token_sha256);
    *p->mutable_access_token_expiry() = Ts(c.expiry_ms);
    p->set_secret_ref(c.secret_ref);
    p->set_consumer_key_sha256(c.consumer_key_sha256);
    out.push_back(std::move(e));
  }
  if (s.state != pb::DEP_ACCOUNT_STATE_ACTIVE) {
    Envelope e;
    e.mutable_dep_account_state_changed()->set_state(pb::DEP_ACCOUNT_STATE_ACTIVE);
    e.mutable_dep_account_state_changed()->set_reason("token uploaded");
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<Envelope>> Decide(const AccountState& s, const SetAccountState& c) {
  if (!s.exists) return NotFound("dep.account_not_found", "no such DEP account");
  if (s.state == c.state) return std::vector<Envelope>{};
  Envelope e;
  e.mutable_dep_account_state_changed()->set_state(c.state);
  e.mutable_dep_account_state_changed()->set_reason(c.reason);
  return One(std::move(e));
}

Result<std::vector<Envelope>> Decide(const AccountState& s, const RecordAccountDetails& c) {
  if (!s.exists) return NotFound("dep.account_not_found", "no such DEP account");
  pb::DepAccountDetailsSynced want = c.details;
  want.set_account_id(s.details.account_id().empty() ? want.account_id()
                                                     : s.details.account_id());
  if (s.details.SerializeAsString() == want.SerializeAsString()) return std::vector<Envelope>{};
  Envelope e;
  *e.mutable_dep_account_details_synced() = want;
  return One(std::move(e));
}

Result<std::vector<Envelope>> Decide(const AccountState& s, const RecordSync& c) {
  if (!s.exists) return NotFound("dep.account_not_found", "no such DEP account");
  return One(c.event);
}

// ---- profiles -----------------------------------------------------------------

ProfileState EvolveProfile(ProfileState s, const Envelope& e) {
  switch (e.payload_case()) {
    case Envelope::kDepProfileDefined:
      s.exists = true;
      s.account_id = e.dep_profile_defined().account_id();
      break;
    case Envelope::kDepProfileDefinedAtApple:
      s.profile_uuid = e.dep_profile_defined_at_apple().profile_uuid();
      s.failure_code.clear();
      break;
    case Envelope::kDepProfileDefinitionFailed:
      s.failure_code = e.dep_profile_definition_failed().code();
      break;
    default:
      break;
  }
  return s;
}

Result<std::vector<Envelope>> Decide(const ProfileState& s, const DefineProfile& c) {
  if (s.exists) return AlreadyExists("dep.profile_exists", "profile exists");
  Envelope e;
  *e.mutable_dep_profile_defined() = c.profile;
  return One(std::move(e));
}

Result<std::vector<Envelope>> Decide(const ProfileState& s, const ProfileDefinedAtApple& c) {
  if (!s.exists) return NotFound("dep.profile_not_found", "no such profile");
  if (!s.profile_uuid.empty()) return std::vector<Envelope>{};  // defined once, immutable
  Envelope e;
  e.mutable_dep_profile_defined_at_apple()->set_profile_uuid(c.profile_uuid);
  return One(std::move(e));
}

Result<std::vector<Envelope>> Decide(const ProfileState& s, const ProfileDefinitionFailed& c) {
  if (!s.exists) return NotFound("dep.profile_not_found", "no such profile");
  if (!s.profile_uuid.empty() || s.failure_code == c.code) return std::vector<Envelope>{};
  Envelope e;
  e.mutable_dep_profile_definition_failed()->set_code(c.code);
  e.mutable_dep_profile_definition_failed()->set_message(c.message);
  return One(std::move(e));
}

// ---- devices ------------------------------------------------------------------

namespace {
void ApplyStatus(DeviceState& s, const pb::DepProfileStatusChanged& p) {
  s.apple.profile_status = p.status();
  s.apple.profile_uuid = p.profile_uuid();
  s.apple.profile_assign_time_ms = OptMs(p.has_profile_assign_time(), p.profile_assign_time());
  s.apple.profile_push_time_ms = OptMs(p.has_profile_push_time(), p.profile_push_time());
}

// Stamps the device's serial into payloads that carry it, so consumers of one
// event need not know the stream naming.
std::vector<Envelope> WithSerial(std::vector<Envelope> out, const std::string& serial) {
  for (auto& e : out) {
    switch (e.payload_case()) {
      case Envelope::kDepProfileAssignmentRequested:
        e.mutable_dep_profile_assignment_requested()->set_serial_number(serial); break;
      case Envelope::kDepProfileAssigned: e.mutable_dep_profile_assigned()->set_serial_number(serial); break;
      case Envelope::kDepProfileAssignmentFailed:
        e.mutable_dep_profile_assignment_failed()->set_serial_number(serial); break;
      case Envelope::kDepProfileRemovalRequested:
        e.mutable_dep_profile_removal_requested()->set_serial_number(serial); break;
      case Envelope::kDepProfileRemoved: e.mutable_dep_profile_removed()->set_serial_number(serial); break;
      case Envelope::kDepDeviceDisownRequested:
        e.mutable_dep_device_disown_requested()->set_serial_number(serial); break;
      case Envelope::kDepDeviceDisowned: e.mutable_dep_device_disowned()->set_serial_number(serial); break;
      case Envelope::kDepEnrollmentRefused:
        e.mutable_dep_enrollment_refused()->set_serial_number(serial); break;
      case Envelope::kDeviceUserAssigned: e.mutable_device_user_assigned()->set_device_id(serial); break;
      case Envelope::kDevicePolicyAssigned: e.mutable_device_policy_assigned()->set_device_id(serial); break;
      case Envelope::kDeviceRulesetAssigned:
        e.mutable_device_ruleset_assigned()->set_device_id(serial); break;
      default: break;
    }
  }
  return out;
}

bool SameAttributes(const AppleDevice& a, const AppleDevice& b) {
  return a.model == b.model && a.description == b.description && a.color == b.color &&
         a.asset_tag == b.asset_tag && a.os == b.os && a.device_family == b.device_family &&
         a.device_assigned_date_ms == b.device_assigned_date_ms;
}
}  // namespace

namespace {
std::string RefusalKey(const std::string& reason, const std::string& udid) {
  return reason + '\x1f' + udid;
}
}  // namespace

DeviceState EvolveDevice(DeviceState s, const Envelope& e) {
  s.last_refusal = e.payload_case() == Envelope::kDepEnrollmentRefused
                       ? RefusalKey(e.dep_enrollment_refused().reason(),
                                    e.dep_enrollment_refused().udid())
                       : std::string();
  switch (e.payload_case()) {
    case Envelope::kDepDeviceSynced: {
      const auto& p = e.dep_device_synced();
      s.known = true;
      s.account_id = p.account_id();
      s.assigned_to_server = true;
      s.disowned = false;
      s.apple.serial_number = p.serial_number();
      s.apple.model = p.model();
      s.apple.description = p.description();
      s.apple.color = p.color();
      s.apple.asset_tag = p.asset_tag();
      s.apple.os = p.os();
      s.apple.device_family = p.device_family();
      s.apple.device_assigned_date_ms =
          OptMs(p.has_device_assigned_date(), p.device_assigned_date());
      if (p.has_op_date()) s.last_op_date_ms = std::max(s.last_op_date_ms, Ms(p.op_date()));
      break;
    }
    case Envelope::kDepProfileStatusChanged:
      ApplyStatus(s, e.dep_profile_status_changed());
      if (e.dep_profile_status_changed().status() != pb::DEP_PROFILE_STATUS_REMOVED) {
        s.removed_on_purpose = false;
      }
      break;
    case Envelope::kDepDeviceUnassigned: {
      const auto& p = e.dep_device_unassigned();
      s.assigned_to_server = false;
      if (p.has_op_date()) s.last_op_date_ms = std::max(s.last_op_date_ms, Ms(p.op_date()));
      break;
    }
    case Envelope::kDepProfileAssignmentRequested: {
      const auto& p = e.dep_profile_assignment_requested();
      s.profile_id = p.profile_id();
      s.profile_uuid = p.profile_uuid();
      s.pending_request_id = p.request_id();
      break;
    }
    case Envelope::kDepProfileAssigned:
      if (e.dep_profile_assigned().request_id() == s.pending_request_id) s.pending_request_id.clear();
      s.apple.profile_status = pb::DEP_PROFILE_STATUS_ASSIGNED;
      s.apple.profile_uuid = e.dep_profile_assigned().profile_uuid();
      s.removed_on_purpose = false;
      s.profile_outcome_ms = Ms(e.occurred_at());
      break;
    case Envelope::kDepProfileAssignmentFailed:
      if (e.dep_profile_assignment_failed().request_id() == s.pending_request_id) {
        s.pending_request_id.clear();
      }
      break;
    case Envelope::kDepProfileRemovalRequested:
      s.removal_request_id = e.dep_profile_removal_requested().request_id();
      break;
    case Envelope::kDepProfileRemoved:
      s.removal_request_id.clear();
      s.profile_id.clear();
      s.profile_uuid.clear();
      s.pending_request_id.clear();
      s.removed_on_purpose = true;
      s.apple.profile_status = pb::DEP_PROFILE_STATUS_REMOVED;
      s.profile_outcome_ms = Ms(e.occurred_at());
      break;
    case Envelope::kDepDeviceDisownRequested:
      s.disown_request_id = e.dep_device_disown_requested().request_id();
      break;
    case Envelope::kDepDeviceDisowned:
      s.disown_request_id.clear();
      s.disowned = true;
      s.assigned_to_server = false;
      break;
    case Envelope::kDeviceUserAssigned:
      s.user_id = e.device_user_assigned().user_id();
      break;
    case Envelope::kDevicePolicyAssigned:
      s.policy_id = e.device_policy_assigned().policy_id();
      break;
    case Envelope::kDeviceRulesetAssigned:
      s.ruleset_id = e.device_ruleset_assigned().ruleset_id();
      break;
    default:
      break;
  }
  return s;
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const ApplySync& c) {
  const AppleDevice& d = c.device;
  if (d.serial_number.empty()) {
    return InvalidArgument("dep.bad_device", "a synced device has no serial number");
  }
  // An event older than what was applied never wins (duplicates resolved by op_date).
  if (d.op_date_ms && s.known && *d.op_date_ms < s.last_op_date_ms) return std::vector<Envelope>{};
  std::vector<Envelope> out;
  if (d.op_type == "deleted") {
    if (!s.known || !s.assigned_to_server) return out;  // never resurrect, never duplicate
    Envelope e;
    auto* p = e.mutable_dep_device_unassigned();
    p->set_serial_number(d.serial_number);
    p->set_account_id(c.account_id);
    p->set_op_type(d.op_type);
    if (d.op_date_ms) *p->mutable_op_date() = Ts(*d.op_date_ms);
    p->set_sync_id(c.sync_id);
    out.push_back(std::move(e));
    return out;
  }
  // added, modified (a move-in when unknown), or a fetch snapshot.
  bool attributes_changed = !s.known || !s.assigned_to_server || s.account_id != c.account_id ||
                            !SameAttributes(s.apple, d);
  if (attributes_changed) {
    Envelope e;
    auto* p = e.mutable_dep_device_synced();
    p->set_serial_number(d.serial_number);
    p->set_account_id(c.account_id);
    p->set_model(d.model);
    p->set_description(d.description);
    p->set_color(d.color);
    p->set_asset_tag(d.asset_tag);
    p->set_os(d.os);
    p->set_device_family(d.device_family);
    if (d.device_assigned_date_ms) *p->mutable_device_assigned_date() = Ts(*d.device_assigned_date_ms);
    p->set_op_type(d.op_type);
    if (d.op_date_ms) *p->mutable_op_date() = Ts(*d.op_date_ms);
    p->set_sync_id(c.sync_id);
    out.push_back(std::move(e));
  }
  pb::DepProfileStatus status = d.profile_status == pb::DEP_PROFILE_STATUS_UNSPECIFIED
                                    ? pb::DEP_PROFILE_STATUS_EMPTY
                                    : d.profile_status;
  // A page asked for before the last outcome was recorded may show Apple before it; so may
  // one asked for in the same millisecond (on a fast link the answer can precede it).
  const bool older_than_outcome = c.asked_ms != 0 && c.asked_ms <= s.profile_outcome_ms;
  bool status_changed = !older_than_outcome && (!s.known || s.apple.profile_status != status ||
                        s.apple.profile_uuid != d.profile_uuid ||
                        s.apple.profile_assign_time_ms != d.profile_assign_time_ms ||
                        s.apple.profile_push_time_ms != d.profile_push_time_ms);
  // Our own "assigned" (from the assignment outcome) is what Apple reports next
  // without times; do not flap when Apple has nothing new to say.
  if (status_changed) {
    Envelope e;
    auto* p = e.mutable_dep_profile_status_changed();
    p->set_serial_number(d.serial_number);
    p->set_status(status);
    p->set_profile_uuid(d.profile_uuid);
    if (d.profile_assign_time_ms) *p->mutable_profile_assign_time() = Ts(*d.profile_assign_time_ms);
    if (d.profile_push_time_ms) *p->mutable_profile_push_time() = Ts(*d.profile_push_time_ms);
    p->set_sync_id(c.sync_id);
    out.push_back(std::move(e));
  }
  return out;
}

static Result<std::vector<Envelope>> DecideImpl(const DeviceState& s, const AssignDevice& c) {
  if (!s.known) return NotFound("dep.device_not_found", "no DEP device with this serial number");
  std::vector<Envelope> out;
  if (c.profile_id) {
    if (c.profile_id->empty()) {
      // Clearing the profile is a removal at Apple.
      if (!s.profile_id.empty() || s.apple.profile_status == pb::DEP_PROFILE_STATUS_ASSIGNED ||
          s.apple.profile_status == pb::DEP_PROFILE_STATUS_PUSHED) {
        if (s.removal_request_id.empty()) {
          Envelope e;
          e.mutable_dep_profile_removal_requested()->set_request_id(c.request_id);
          out.push_back(std::move(e));
        }
      }
    } else {
      if (!s.assigned_to_server) {
        return FailedPrecondition("dep.device_not_assigned_to_server",
                                  "the device is no longer assigned to this MDM server at Apple");
      }
      const bool same = *c.profile_id == s.profile_id;
      const bool settled_ok = s.pending_request_id.empty() &&
                              s.apple.profile_uuid == c.profile_uuid &&
                              (s.apple.profile_status == pb::DEP_PROFILE_STATUS_ASSIGNED ||
                               s.apple.profile_status == pb::DEP_PROFILE_STATUS_PUSHED);
      const bool in_flight = !s.pending_request_id.empty();
      if (!same || c.force || (!settled_ok && !in_flight)) {
        Envelope e;
        auto* p = e.mutable_dep_profile_assignment_requested();
        p->set_profile_id(*c.profile_id);
        p->set_profile_uuid(c.profile_uuid);
        p->set_request_id(c.request_id);
        out.push_back(std::move(e));
      }
    }
  }
  if (c.user_id && *c.user_id != s.user_id) {
    Envelope e;
    e.mutable_device_user_assigned()->set_user_id(*c.user_id);
    out.push_back(std::move(e));
  }
  if (c.policy_id && *c.policy_id != s.policy_id) {
    Envelope e;
    e.mutable_device_policy_assigned()->set_policy_id(*c.policy_id);
    out.push_back(std::move(e));
  }
  if (c.ruleset_id && *c.ruleset_id != s.ruleset_id) {
    Envelope e;
    e.mutable_device_ruleset_assigned()->set_ruleset_id(*c.ruleset_id);
    out.push_back(std::move(e));
  }
  return out;
}

static Result<std::vector<Envelope>> DecideImpl(const DeviceState& s, const AssignmentOutcome& c) {
  // Only the outcome of the request in flight counts: a repeated call after a
  // crash, or the answer to a superseded request, changes nothing.
  if (!s.known || c.request_id.empty() || c.request_id != s.pending_request_id) {
    return std::vector<Envelope>{};
  }
  Envelope e;
  if (c.success) {
    auto* p = e.mutable_dep_profile_assigned();
    p->set_profile_id(s.profile_id);
    p->set_profile_uuid(s.profile_uuid);
    p->set_request_id(c.request_id);
  } else {
    auto* p = e.mutable_dep_profile_assignment_failed();
    p->set_profile_id(s.profile_id);
    p->set_request_id(c.request_id);
    p->set_reason(c.reason);
    if (c.retry_after_ms) *p->mutable_retry_after() = Ts(*c.retry_after_ms);
  }
  return One(std::move(e));
}

static Result<std::vector<Envelope>> DecideImpl(const DeviceState& s, const RequestProfileRemoval& c) {
  if (!s.known) return NotFound("dep.device_not_found", "no DEP device with this serial number");
  if (!s.removal_request_id.empty()) return std::vector<Envelope>{};
  Envelope e;
  e.mutable_dep_profile_removal_requested()->set_request_id(c.request_id);
  return One(std::move(e));
}

static Result<std::vector<Envelope>> DecideImpl(const DeviceState& s, const ProfileRemovalOutcome& c) {
  if (!s.known || c.request_id != s.removal_request_id) return std::vector<Envelope>{};
  Envelope e;
  e.mutable_dep_profile_removed()->set_request_id(c.request_id);
  e.mutable_dep_profile_removed()->set_result(c.result);
  return One(std::move(e));
}

static Result<std::vector<Envelope>> DecideImpl(const DeviceState& s, const RequestDisown& c) {
  if (!s.known) return NotFound("dep.device_not_found", "no DEP device with this serial number");
  if (s.disowned) return FailedPrecondition("dep.device_disowned", "the device is already disowned");
  if (!s.disown_request_id.empty()) return std::vector<Envelope>{};
  Envelope e;
  e.mutable_dep_device_disown_requested()->set_request_id(c.request_id);
  e.mutable_dep_device_disown_requested()->set_requested_by(c.requested_by);
  return One(std::move(e));
}

static Result<std::vector<Envelope>> DecideImpl(const DeviceState& s, const DisownOutcome& c) {
  if (!s.known || c.request_id != s.disown_request_id) return std::vector<Envelope>{};
  Envelope e;
  e.mutable_dep_device_disowned()->set_request_id(c.request_id);
  e.mutable_dep_device_disowned()->set_result(c.result);
  return One(std::move(e));
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const RefuseEnrollment& c) {
  if (s.last_refusal == RefusalKey(c.reason, c.udid)) return std::vector<Envelope>{};
  Envelope e;
  e.mutable_dep_enrollment_refused()->set_serial_number(c.serial_number);
  e.mutable_dep_enrollment_refused()->set_reason(c.reason);
  e.mutable_dep_enrollment_refused()->set_udid(c.udid);
  return One(std::move(e));
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const AssignDevice& c) {
  AE_ASSIGN_OR_RETURN(auto out, DecideImpl(s, c));
  return WithSerial(std::move(out), s.apple.serial_number);
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const AssignmentOutcome& c) {
  AE_ASSIGN_OR_RETURN(auto out, DecideImpl(s, c));
  return WithSerial(std::move(out), s.apple.serial_number);
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const RequestProfileRemoval& c) {
  AE_ASSIGN_OR_RETURN(auto out, DecideImpl(s, c));
  return WithSerial(std::move(out), s.apple.serial_number);
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const ProfileRemovalOutcome& c) {
  AE_ASSIGN_OR_RETURN(auto out, DecideImpl(s, c));
  return WithSerial(std::move(out), s.apple.serial_number);
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const RequestDisown& c) {
  AE_ASSIGN_OR_RETURN(auto out, DecideImpl(s, c));
  return WithSerial(std::move(out), s.apple.serial_number);
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const DisownOutcome& c) {
  AE_ASSIGN_OR_RETURN(auto out, DecideImpl(s, c));
  return WithSerial(std::move(out), s.apple.serial_number);
}

}  // namespace ae::domain::dep
