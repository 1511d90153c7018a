#include "domain/kme/kme.h"

#include <algorithm>

namespace ae::domain::kme {

namespace {

std::string_view Imei14(std::string_view imei) { return imei.substr(0, 14); }

void CopyRecord(const DeviceState& s, v1::KmeIdentifiers* ids, std::string* model,
                std::string* profile, google::protobuf::RepeatedPtrField<std::string>* tags,
                google::protobuf::Map<std::string, std::string>* attributes, std::string* status) {
  *ids = ToProto(s.ids);
  *model = s.model;
  *profile = s.profile_name;
  for (const auto& t : s.tags) tags->Add(std::string(t));
  for (const auto& [k, v] : s.attributes) (*attributes)[k] = v;
  *status = s.knox_status;
}

void ReadRecord(DeviceState& s, const v1::KmeIdentifiers& ids, const std::string& model,
                const std::string& profile, const google::protobuf::RepeatedPtrField<std::string>& tags,
                const google::protobuf::Map<std::string, std::string>& attributes,
                const std::string& status) {
  s.ids = FromProto(ids);
  s.model = model;
  s.profile_name = profile;
  s.tags.assign(tags.begin(), tags.end());
  s.attributes.clear();
  for (const auto& [k, v] : attributes) s.attributes[k] = v;
  s.knox_status = status;
}

Envelope UserAssigned(const std::string& device_id, const std::string& user_id) {
  Envelope e;
  e.mutable_device_user_assigned()->set_device_id(device_id);
  e.mutable_device_user_assigned()->set_user_id(user_id);
  return e;
}

// The conflict of `user_id` (an import's or an administrator's) with the user the Knox
// Deployment App bound.
Envelope DeploymentUserOverridden(const DeviceState& s, const std::string& user_id,
                                  KmeSource source, const std::string& import_id,
                                  uint64_t line) {
  Envelope e;
  auto* p = e.mutable_kme_deployment_user_overridden();
  p->set_device_id(s.device_id);
  p->set_deployment_user_id(s.user_id);
  p->set_user_id(user_id);
  p->set_source(source);
  p->set_import_id(import_id);
  p->set_line(line);
  return e;
}

}  // namespace

std::string DeviceIdFor(const Identifiers& ids) {
  if (!ids.imei.empty()) return "imei:" + ids.imei;
  if (!ids.imei2.empty()) return "imei:" + ids.imei2;
  if (!ids.meid.empty()) return "meid:" + ids.meid;
  if (!ids.serial.empty()) return "sn:" + ids.serial;
  return "";
}

std::vector<std::string> MatchKeys(const Identifiers& ids) {
  std::vector<std::string> keys;
  if (!ids.imei.empty()) keys.push_back("imei:" + std::string(Imei14(ids.imei)));
  if (!ids.imei2.empty()) keys.push_back("imei:" + std::string(Imei14(ids.imei2)));
  if (!ids.meid.empty()) keys.push_back("meid:" + ids.meid);
  if (!ids.serial.empty()) keys.push_back("serial:" + ids.serial);
  return keys;
}

Identifiers FromProto(const v1::KmeIdentifiers& p) {
  return Identifiers{p.imei(), p.imei2(), p.meid(), p.serial_number()};
}

v1::KmeIdentifiers ToProto(const Identifiers& ids) {
  v1::KmeIdentifiers p;
  p.set_imei(ids.imei);
  p.set_imei2(ids.imei2);
  p.set_meid(ids.meid);
  p.set_serial_number(ids.serial);
  return p;
}

std::string SourceName(KmeSource source) {
  switch (source) {
    case v1::KME_SOURCE_CSV: return "csv";
    case v1::KME_SOURCE_KNOX_API: return "knox_api";
    case v1::KME_SOURCE_KNOX_DEPLOYMENT: return "knox_deployment";
    default: return "";
  }
}

DeviceState Evolve(DeviceState s, const Envelope& e) {
  switch (e.payload_case()) {
    case Envelope::kKmeDeviceImported: {
      const auto& p = e.kme_device_imported();
      s = DeviceState{};
      s.exists = true;
      s.device_id = p.device_id();
      s.source = p.source();
      s.user_id = p.matched_user_id();  // the DeviceUserAssigned that follows says the same
      s.user_by_deployment =
          p.source() == v1::KME_SOURCE_KNOX_DEPLOYMENT && !p.matched_user_id().empty();
      ReadRecord(s, p.identifiers(), p.model(), p.profile_name(), p.tags(), p.attributes(),
                 p.knox_status());
      break;
    }
    case Envelope::kKmeDeviceUpdated: {
      const auto& p = e.kme_device_updated();
      ReadRecord(s, p.identifiers(), p.model(), p.profile_name(), p.tags(), p.attributes(),
                 p.knox_status());
      break;
    }
    case Envelope::kDeviceUserAssigned:
      s.user_id = e.device_user_assigned().user_id();
      s.user_by_deployment = e.actor().kind() == v1::Actor::KIND_DEVICE && !s.user_id.empty();
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

DeviceState Merge(const DeviceState& s, const DeviceObservation& o) {
  DeviceState m = s;
  // IMEIs: add the ones the device does not have; two unknown ones replace both.
  std::vector<std::string> known;
  for (const auto* i : {&s.ids.imei, &s.ids.imei2}) {
    if (!i->empty()) known.push_back(*i);
  }
  std::vector<std::string> unknown;
  for (const auto* i : {&o.ids.imei, &o.ids.imei2}) {
    if (i->empty()) continue;
    bool have = std::any_of(known.begin(), known.end(),
                            [&](const std::string& k) { return Imei14(k) == Imei14(*i); });
    if (!have) unknown.push_back(*i);
  }
  if (!unknown.empty()) {
    if (known.size() + unknown.size() <= 2) {
      for (const auto& u : unknown) known.push_back(u);
    } else {
      known.clear();
      for (const auto* i : {&o.ids.imei, &o.ids.imei2}) {
        if (!i->empty()) known.push_back(*i);
      }
    }
    m.ids.imei = known.size() > 0 ? known[0] : "";
    m.ids.imei2 = known.size() > 1 ? known[1] : "";
  }
  if (!o.ids.meid.empty()) m.ids.meid = o.ids.meid;
  if (!o.ids.serial.empty()) m.ids.serial = o.ids.serial;
  if (o.model) m.model = *o.model;
  if (o.profile_name) m.profile_name = *o.profile_name;
  if (o.knox_status) m.knox_status = *o.knox_status;
  if (o.tags) m.tags = *o.tags;
  for (const auto& [k, v] : o.attributes) {
    if (v.empty()) {
      m.attributes.erase(k);
    } else {
      m.attributes[k] = v;
    }
  }
  return m;
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const ImportDevice& c) {
  if (c.observed.ids.empty()) {
    return InvalidArgument("kme.no_identifier", "the device has no IMEI, MEID or serial number");
  }
  std::vector<Envelope> out;
  DeviceState m = Merge(s, c.observed);
  if (!s.exists) {
    if (c.device_id.empty()) {
      return InvalidArgument("kme.no_device_id", "a new device needs its device id");
    }
    Envelope e;
    auto* p = e.mutable_kme_device_imported();
    p->set_device_id(c.device_id);
    CopyRecord(m, p->mutable_identifiers(), p->mutable_model(), p->mutable_profile_name(),
               p->mutable_tags(), p->mutable_attributes(), p->mutable_knox_status());
    p->set_source(c.source);
    p->set_import_id(c.import_id);
    p->set_line(c.line);
    p->set_matched_user_id(c.matched_user_id);
    if (!c.knox_user.subject_id().empty()) *p->mutable_knox_user() = c.knox_user;
    out.push_back(std::move(e));
    if (!c.matched_user_id.empty()) out.push_back(UserAssigned(c.device_id, c.matched_user_id));
    return out;
  }
  if (c.source == v1::KME_SOURCE_KNOX_DEPLOYMENT) return out;  // creates records only
  if (!(m == s)) {
    Envelope e;
    auto* p = e.mutable_kme_device_updated();
    p->set_device_id(s.device_id);
    CopyRecord(m, p->mutable_identifiers(), p->mutable_model(), p->mutable_profile_name(),
               p->mutable_tags(), p->mutable_attributes(), p->mutable_knox_status());
    p->set_import_id(c.import_id);
    p->set_line(c.line);
    p->set_source(c.source);
    out.push_back(std::move(e));
  }
  if (!c.matched_user_id.empty() && (s.user_id.empty() || s.user_by_deployment)) {
    if (s.user_by_deployment && c.matched_user_id != s.user_id) {
      out.push_back(DeploymentUserOverridden(s, c.matched_user_id, c.source, c.import_id, c.line));
    }
    out.push_back(UserAssigned(s.device_id, c.matched_user_id));
  }
  return out;
}

ImportOutcome OutcomeOf(const std::vector<Envelope>& decided) {
  if (decided.empty()) return ImportOutcome::kUnchanged;
  for (const auto& e : decided) {
    if (e.has_kme_device_imported()) return ImportOutcome::kCreated;
  }
  return ImportOutcome::kUpdated;
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const AssignDevice& c) {
  if (!s.exists) return NotFound("kme.device_not_found", "no KME device " + c.device_id);
  std::vector<Envelope> out;
  if (c.user_id && (*c.user_id != s.user_id || s.user_by_deployment)) {
    if (s.user_by_deployment && *c.user_id != s.user_id) {
      out.push_back(DeploymentUserOverridden(s, *c.user_id, v1::KME_SOURCE_UNSPECIFIED, "", 0));
    }
    out.push_back(UserAssigned(s.device_id, *c.user_id));
  }
  if (c.policy_id && *c.policy_id != s.policy_id) {
    Envelope e;
    e.mutable_device_policy_assigned()->set_device_id(s.device_id);
    e.mutable_device_policy_assigned()->set_policy_id(*c.policy_id);
    out.push_back(std::move(e));
  }
  if (c.ruleset_id && *c.ruleset_id != s.ruleset_id) {
    Envelope e;
    e.mutable_device_ruleset_assigned()->set_device_id(s.device_id);
    e.mutable_device_ruleset_assigned()->set_ruleset_id(*c.ruleset_id);
    out.push_back(std::move(e));
  }
  return out;
}

Status CheckDeploymentUser(const SettingsState& settings, const users::UserState& user) {
  if (user.exists && users::RoleAtLeast(user.role, v1::ROLE_DEVICE_MANAGER)) {
    return PermissionDenied("kme.user_role_not_allowed",
                            "the Knox Deployment App never binds a device to a user whose role "
                            "is above device_user");
  }
  if (user.exists) {
    return PermissionDenied("kme.user_exists",
                            "the user exists: the Knox Deployment App cannot bind a device to "
                            "an existing user (assign the device instead)");
  }
  if (!settings.deployment_creates_users) {
    return PermissionDenied("kme.user_creation_disabled",
                            "the Knox Deployment App may not create users "
                            "(knox_deployment_creates_users is off)");
  }
  return Status::Ok();
}

Result<std::vector<Envelope>> Decide(const DeviceState&, const RefuseEnrollment& c) {
  Envelope e;
  auto* p = e.mutable_kme_enrollment_refused();
  p->set_device_id(c.device_id);
  *p->mutable_identifiers() = ToProto(c.ids);
  p->set_reason(c.reason);
  p->set_source(c.source);
  return std::vector<Envelope>{std::move(e)};
}

Status CheckEnrollment(const DeviceState& s, KmeSource source) {
  if (source == v1::KME_SOURCE_KNOX_DEPLOYMENT) {
    if (!s.exists) return Status::Ok();
    if (s.source != v1::KME_SOURCE_KNOX_DEPLOYMENT) {
      return FailedPrecondition(
          "kme.already_imported",
          "device " + s.device_id +
              " is registered in Knox Mobile Enrollment (imported from the Knox portal CSV or "
              "API); a device registered in KME cannot be enrolled with the Knox Deployment App: "
              "enroll it through KME instead");
    }
  } else if (!s.exists) {
    return PermissionDenied("kme.device_not_imported",
                            "this device is not imported: import it from the Knox portal CSV "
                            "before it enrolls");
  }
  if (s.user_id.empty()) {
    return PermissionDenied("kme.no_user",
                            "device " + s.device_id + " has no user assigned: assign one first");
  }
  return Status::Ok();
}

EnrollmentState EvolveEnrollment(EnrollmentState s, const Envelope& e) {
  switch (e.payload_case()) {
    case Envelope::kDeviceEnrolled:
      s.enrolled = true;
      s.last = e.device_enrolled();
      break;
    case Envelope::kDeviceRemovedFromInventory:
      s.enrolled = false;
      break;
    default:
      break;
  }
  return s;
}

Result<std::vector<Envelope>> Decide(const EnrollmentState& s, const EnrollAndroid& c) {
  if (c.user_id.empty()) {
    return PermissionDenied("kme.no_user", "device " + c.device_id + " has no user assigned");
  }
  Envelope e;
  auto* p = e.mutable_device_enrolled();
  p->set_device_id(c.device_id);
  p->set_platform(v1::PLATFORM_ANDROID);
  p->set_serial_number(c.ids.serial);
  p->set_imei(c.ids.imei);
  p->set_model(c.model);
  p->set_user_id(c.user_id);
  p->set_policy_id(c.policy_id);
  p->set_ruleset_id(c.ruleset_id);
  if (s.enrolled && s.last.SerializeAsString() == p->SerializeAsString()) return std::vector<Envelope>{};
  return std::vector<Envelope>{std::move(e)};
}

SettingsState EvolveSettings(SettingsState s, const Envelope& e) {
  if (e.has_kme_enrollment_token_rotated()) {
    s.has_token = true;
    s.token_sha256 = e.kme_enrollment_token_rotated().token_sha256();
    s.secret_ref = e.kme_enrollment_token_rotated().secret_ref();
  } else if (e.has_kme_deployment_settings_changed()) {
    s.deployment_creates_users = e.kme_deployment_settings_changed().creates_users();
  }
  return s;
}

Result<std::vector<Envelope>> Decide(const SettingsState& s, const RotateEnrollmentToken& c) {
  if (c.only_if_missing && s.has_token) return std::vector<Envelope>{};
  if (c.token_sha256.size() != 32 || c.secret_ref.empty()) {
    return InvalidArgument("kme.bad_token_hash", "the token's SHA-256 and secret ref are required");
  }
  Envelope e;
  e.mutable_kme_enrollment_token_rotated()->set_token_sha256(c.token_sha256);
  e.mutable_kme_enrollment_token_rotated()->set_secret_ref(c.secret_ref);
  return std::vector<Envelope>{std::move(e)};
}

Result<std::vector<Envelope>> Decide(const SettingsState& s, const ChangeDeploymentSettings& c) {
  bool creates_users = c.creates_users.value_or(s.deployment_creates_users);
  if (creates_users == s.deployment_creates_users) return std::vector<Envelope>{};
  Envelope e;
  e.mutable_kme_deployment_settings_changed()->set_creates_users(creates_users);
  return std::vector<Envelope>{std::move(e)};
}

}  // namespace ae::domain::kme
