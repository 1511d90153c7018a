#include "domain/policies/policies.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace ae::domain::policies {

using nlohmann::json;

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Every key of `v` (at any depth) is checked for a secret's name; null is refused when
// `plist_values` (a property list has no null).
Status CheckValues(const json& v, const std::string& path, bool plist_values,
                   const std::string& invalid_reason) {
  if (v.is_null() && plist_values) {
    return InvalidArgument(invalid_reason, path + " is null, which a profile cannot hold", path);
  }
  if (v.is_object()) {
    for (const auto& [k, child] : v.items()) {
      std::string p = path + "." + k;
      if (KeyNamesSecret(k)) {
        return InvalidArgument("policy.secret_in_payload",
                               p + " names a secret; a policy is kept in the event log in the "
                               "clear and may not carry passwords or keys",
                               p);
      }
      AE_RETURN_IF_ERROR(CheckValues(child, p, plist_values, invalid_reason));
    }
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) {
      AE_RETURN_IF_ERROR(
          CheckValues(v[i], path + "[" + std::to_string(i) + "]", plist_values, invalid_reason));
    }
  }
  return Status::Ok();
}

bool IsVersion(std::string_view v) {
  if (v.empty() || v.front() == '.' || v.back() == '.') return false;
  bool dot = false;
  for (char c : v) {
    if (c == '.') {
      if (dot) return false;
      dot = true;
    } else if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    } else {
      dot = false;
    }
  }
  return true;
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

bool SameContent(const pb::PolicyContent& a, const pb::PolicyContent& b) {
  return a.description() == b.description() && a.apple_payloads_json() == b.apple_payloads_json() &&
         a.sign_apple_profile() == b.sign_apple_profile() &&
         a.android_config_json() == b.android_config_json();
}

bool SameRules(const std::vector<pb::ComplianceRule>& a, const std::vector<pb::ComplianceRule>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].condition() != b[i].condition() || a[i].action() != b[i].action() ||
        a[i].description() != b[i].description()) {
      return false;
    }
  }
  return true;
}

Status SameKey(const std::string& key, const std::string& name, const char* kind) {
  if (Lower(name) != key) {
    return InvalidArgument(std::string(kind) + ".rename_not_supported",
                           std::string("a new version keeps the ") + kind +
                               "'s name (its case may change); create a new one to rename it",
                           "name");
  }
  return Status::Ok();
}

}  // namespace

bool KeyNamesSecret(std::string_view key) {
  std::string k = Lower(key);
  for (const char* s : {"password", "passphrase", "passcode", "secret", "psk", "privatekey",
                        "private_key"}) {
    if (k.find(s) != std::string::npos) return true;
  }
  return false;
}

Status ValidateApplePayloads(const json& payloads) {
  if (!payloads.is_array()) {
    return InvalidArgument("policy.invalid_payload", "apple_payloads must be an array",
                           "apple_payloads");
  }
  if (payloads.size() > kMaxPayloads) {
    return InvalidArgument("policy.invalid_payload",
                           "apple_payloads holds at most " + std::to_string(kMaxPayloads) +
                               " payloads",
                           "apple_payloads");
  }
  std::set<std::string> identifiers;
  for (size_t i = 0; i < payloads.size(); ++i) {
    const std::string at = "apple_payloads[" + std::to_string(i) + "]";
    const json& p = payloads[i];
    if (!p.is_object()) {
      return InvalidArgument("policy.invalid_payload", at + " must be an object", at);
    }
    for (const char* key : {"PayloadType", "PayloadIdentifier"}) {
      auto it = p.find(key);
      if (it == p.end() || !it->is_string() || it->get<std::string>().empty()) {
        return InvalidArgument("policy.invalid_payload",
                               at + "." + key + " is required (a non-empty string)",
                               at + "." + key);
      }
    }
    if (!identifiers.insert(p["PayloadIdentifier"].get<std::string>()).second) {
      return InvalidArgument("policy.duplicate_payload_identifier",
                             at + ".PayloadIdentifier '" +
                                 p["PayloadIdentifier"].get<std::string>() +
                                 "' is used by an earlier payload",
                             at + ".PayloadIdentifier");
    }
    AE_RETURN_IF_ERROR(CheckValues(p, at, true, "policy.invalid_payload"));
  }
  if (payloads.dump().size() > kMaxContentBytes) {
    return InvalidArgument("policy.too_large", "apple_payloads is limited to 256 KiB",
                           "apple_payloads");
  }
  return Status::Ok();
}

Status ValidateAndroidConfig(const json& config) {
  if (!config.is_object()) {
    return InvalidArgument("policy.invalid_android_config", "android_config must be an object",
                           "android_config");
  }
  AE_RETURN_IF_ERROR(CheckValues(config, "android_config", false, "policy.invalid_android_config"));
  if (config.dump().size() > kMaxContentBytes) {
    return InvalidArgument("policy.too_large", "android_config is limited to 256 KiB",
                           "android_config");
  }
  return Status::Ok();
}

const std::vector<std::string>& RuleActions() {
  static const std::vector<std::string> actions = {"notify", "block", "lock", "wipe"};
  return actions;
}

Status ValidateRule(const pb::ComplianceRule& rule, size_t index) {
  const std::string at = "rules[" + std::to_string(index) + "]";
  const std::string cond = Trim(rule.condition());
  auto bad = [&](const std::string& why) {
    return InvalidArgument("ruleset.invalid_condition",
                           at + ".condition '" + cond + "': " + why, at + ".condition");
  };
  if (cond.empty()) return bad("a condition is required (e.g. os_version < 17.0)");
  if (cond.size() > 256) return bad("a condition is limited to 256 characters");
  size_t f_end = 0;
  while (f_end < cond.size() &&
         (std::isalnum(static_cast<unsigned char>(cond[f_end])) || cond[f_end] == '_')) {
    ++f_end;
  }
  const std::string field = cond.substr(0, f_end);
  std::string rest = Trim(std::string_view(cond).substr(f_end));
  std::string op;
  for (const char* o : {"<=", ">=", "==", "!=", "<", ">"}) {
    if (rest.rfind(o, 0) == 0) {
      op = o;
      break;
    }
  }
  if (field.empty()) return bad("it must start with a field (os_version, model, platform, "
                                "serial_number)");
  if (op.empty()) return bad("the field must be followed by <, <=, >, >=, == or !=");
  std::string value = Trim(std::string_view(rest).substr(op.size()));
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  if (value.empty()) return bad("a value must follow " + op);
  if (field == "os_version") {
    if (!IsVersion(value)) return bad("os_version compares with a version such as 17.0");
  } else if (field == "model" || field == "platform" || field == "serial_number") {
    if (op != "==" && op != "!=") return bad(field + " compares only with == or !=");
  } else {
    return bad("unknown field " + field + " (os_version, model, platform, serial_number)");
  }
  const auto& actions = RuleActions();
  if (std::find(actions.begin(), actions.end(), rule.action()) == actions.end()) {
    return InvalidArgument("ruleset.invalid_action",
                           at + ".action '" + rule.action() +
                               "' is not one of notify, block, lock, wipe",
                           at + ".action");
  }
  if (rule.description().size() > 1024) {
    return InvalidArgument("ruleset.invalid_rule", at + ".description is limited to 1024 characters",
                           at + ".description");
  }
  return Status::Ok();
}

Status ValidateRules(const std::vector<pb::ComplianceRule>& rules) {
  if (rules.size() > kMaxRules) {
    return InvalidArgument("ruleset.invalid_rule",
                           "a rule set holds at most " + std::to_string(kMaxRules) + " rules",
                           "rules");
  }
  for (size_t i = 0; i < rules.size(); ++i) AE_RETURN_IF_ERROR(ValidateRule(rules[i], i));
  return Status::Ok();
}

// ------------------------------------------------------------------- policies --

PolicyState Evolve(PolicyState s, const Envelope& e) {
  switch (e.payload_case()) {
    case Envelope::kPolicyCreated:
      s = PolicyState{};
      s.exists = true;
      s.version = 1;
      s.name = e.policy_created().name();
      s.content = e.policy_created().content();
      break;
    case Envelope::kPolicyUpdated:
      s.version = e.policy_updated().version();
      s.name = e.policy_updated().name();
      s.content = e.policy_updated().content();
      break;
    case Envelope::kPolicyDeleted:
      s = PolicyState{};
      break;
    default:
      break;
  }
  return s;
}

Result<std::vector<Envelope>> Decide(const PolicyState& s, const CreatePolicy& c) {
  if (s.exists) return AlreadyExists("policy.already_exists", "a policy with this name exists");
  Envelope e;
  auto* p = e.mutable_policy_created();
  p->set_policy_id(c.key);
  p->set_name(c.name);
  *p->mutable_content() = c.content;
  return std::vector<Envelope>{std::move(e)};
}

Result<std::vector<Envelope>> Decide(const PolicyState& s, const UpdatePolicy& c) {
  if (!s.exists) return NotFound("policy.not_found", "no policy " + c.key);
  AE_RETURN_IF_ERROR(SameKey(c.key, c.name, "policy"));
  if (s.name == c.name && SameContent(s.content, c.content)) return std::vector<Envelope>{};
  Envelope e;
  auto* p = e.mutable_policy_updated();
  p->set_policy_id(c.key);
  p->set_version(s.version + 1);
  p->set_name(c.name);
  *p->mutable_content() = c.content;
  return std::vector<Envelope>{std::move(e)};
}

Result<std::vector<Envelope>> Decide(const PolicyState& s, const DeletePolicy& c) {
  if (!s.exists) return NotFound("policy.not_found", "no policy " + c.key);
  if (c.devices_using > 0) {
    return FailedPrecondition("policy.in_use", std::to_string(c.devices_using) +
                                                   " device(s) use this policy");
  }
  Envelope e;
  e.mutable_policy_deleted()->set_policy_id(c.key);
  return std::vector<Envelope>{std::move(e)};
}

// ------------------------------------------------------------------ rule sets --

RuleSetState Evolve(RuleSetState s, const Envelope& e) {
  switch (e.payload_case()) {
    case Envelope::kRulesetCreated: {
      const auto& p = e.ruleset_created();
      s = RuleSetState{};
      s.exists = true;
      s.version = 1;
      s.name = p.name();
      s.description = p.description();
      s.rules.assign(p.rules().begin(), p.rules().end());
      break;
    }
    case Envelope::kRulesetUpdated: {
      const auto& p = e.ruleset_updated();
      s.version = p.version();
      s.name = p.name();
      s.description = p.description();
      s.rules.assign(p.rules().begin(), p.rules().end());
      break;
    }
    case Envelope::kRulesetDeleted:
      s = RuleSetState{};
      break;
    default:
      break;
  }
  return s;
}

Result<std::vector<Envelope>> Decide(const RuleSetState& s, const CreateRuleSet& c) {
  if (s.exists) return AlreadyExists("ruleset.already_exists", "a rule set with this name exists");
  Envelope e;
  auto* p = e.mutable_ruleset_created();
  p->set_ruleset_id(c.key);
  p->set_name(c.name);
  p->set_description(c.description);
  for (const auto& r : c.rules) *p->add_rules() = r;
  return std::vector<Envelope>{std::move(e)};
}

Result<std::vector<Envelope>> Decide(const RuleSetState& s, const UpdateRuleSet& c) {
  if (!s.exists) return NotFound("ruleset.not_found", "no rule set " + c.key);
  AE_RETURN_IF_ERROR(SameKey(c.key, c.name, "ruleset"));
  if (s.name == c.name && s.description == c.description && SameRules(s.rules, c.rules)) {
    return std::vector<Envelope>{};
  }
  Envelope e;
  auto* p = e.mutable_ruleset_updated();
  p->set_ruleset_id(c.key);
  p->set_version(s.version + 1);
  p->set_name(c.name);
  p->set_description(c.description);
  for (const auto& r : c.rules) *p->add_rules() = r;
  return std::vector<Envelope>{std::move(e)};
}

Result<std::vector<Envelope>> Decide(const RuleSetState& s, const DeleteRuleSet& c) {
  if (!s.exists) return NotFound("ruleset.not_found", "no rule set " + c.key);
  if (c.devices_using > 0) {
    return FailedPrecondition("ruleset.in_use", std::to_string(c.devices_using) +
                                                    " device(s) use this rule set");
  }
  Envelope e;
  e.mutable_ruleset_deleted()->set_ruleset_id(c.key);
  return std::vector<Envelope>{std::move(e)};
}

// ------------------------------------------------------------------- delivery --

DeliveryState Evolve(DeliveryState s, const Envelope& e) {
  s.device = devices::Evolve(std::move(s.device), e);
  switch (e.payload_case()) {
    case Envelope::kDeviceEnrolled:
    case Envelope::kDeviceCheckedOut:
    case Envelope::kDeviceRemovedFromInventory:
      s.last.reset();
      s.pending.clear();
      s.acknowledged.reset();
      break;
    case Envelope::kDevicePolicyDelivered: {
      const auto& p = e.device_policy_delivered();
      Delivered d{p.policy_id(), p.policy_version(), p.ruleset_id(), p.ruleset_version(),
                  p.channel()};
      s.last = d;
      if (!p.command_uuid().empty()) s.pending[p.command_uuid()] = d;
      break;
    }
    case Envelope::kDevicePolicyAcknowledged: {
      const auto& p = e.device_policy_acknowledged();
      auto it = s.pending.find(p.command_uuid());
      Delivered d = it != s.pending.end()
                        ? it->second
                        : Delivered{p.policy_id(), p.policy_version(), p.ruleset_id(),
                                    p.ruleset_version(), s.last ? s.last->channel : ""};
      if (it != s.pending.end()) s.pending.erase(it);
      if (p.status() == "Acknowledged") s.acknowledged = d;
      break;
    }
    default:
      break;
  }
  return s;
}

namespace {
Envelope DeliveredEvent(const std::string& device_id, const Deliver& c) {
  Envelope e;
  auto* p = e.mutable_device_policy_delivered();
  p->set_device_id(device_id);
  p->set_policy_id(c.what.policy_id);
  p->set_policy_version(c.what.policy_version);
  p->set_ruleset_id(c.what.ruleset_id);
  p->set_ruleset_version(c.what.ruleset_version);
  p->set_channel(c.what.channel);
  p->set_command_uuid(c.command_uuid);
  return e;
}

// The events of a delivery to a device in state `device` whose last delivery is `last`.
Result<std::vector<Envelope>> DeliveryEvents(const devices::DeviceState& device,
                                             const std::optional<Delivered>& last,
                                             const Deliver& c) {
  std::vector<Envelope> out;
  if (c.what.policy_id.empty() && c.what.ruleset_id.empty()) return out;
  if (last && *last == c.what) return out;
  if (c.what.channel == kChannelAppleMdm) {
    if (c.command_uuid.empty()) {
      return InvalidArgument("policy.bad_delivery", "an MDM delivery needs a command uuid");
    }
    Envelope q;
    auto* cmd = q.mutable_device_command_queued();
    cmd->set_device_id(device.device_id);
    cmd->set_command_uuid(c.command_uuid);
    cmd->set_request_type(kInstallProfile);
    out.push_back(std::move(q));
  } else if (c.what.channel != kChannelAndroidAgent) {
    return InvalidArgument("policy.bad_delivery", "unknown channel " + c.what.channel);
  }
  out.push_back(DeliveredEvent(device.device_id, c));
  return out;
}
}  // namespace

Result<std::vector<Envelope>> Decide(const DeliveryState& s, const Deliver& c) {
  if (!s.device.enrolled) return std::vector<Envelope>{};
  return DeliveryEvents(s.device, s.last, c);
}

Result<std::vector<Envelope>> Decide(const DeliveryState& s, const EnrollAndDeliver& c) {
  AE_ASSIGN_OR_RETURN(auto out, devices::Decide(s.device, c.enroll));
  if (out.empty() || !c.deliver) return out;
  // The state after the enrollment: the device is enrolled and has been handed nothing.
  DeliveryState after = s;
  for (const auto& e : out) after = Evolve(std::move(after), e);
  if (!after.device.enrolled) return out;
  AE_ASSIGN_OR_RETURN(auto more, DeliveryEvents(after.device, after.last, *c.deliver));
  for (auto& e : more) out.push_back(std::move(e));
  return out;
}

Result<std::vector<Envelope>> Decide(const DeliveryState& s, const CompleteAndAcknowledge& c) {
  AE_ASSIGN_OR_RETURN(auto out, devices::Decide(s.device, c.complete));
  if (out.empty() || c.complete.status == "NotNow") return out;
  auto it = s.pending.find(c.complete.command_uuid);
  if (it == s.pending.end()) return out;
  Envelope e;
  auto* p = e.mutable_device_policy_acknowledged();
  p->set_device_id(s.device.device_id);
  p->set_policy_id(it->second.policy_id);
  p->set_policy_version(it->second.policy_version);
  p->set_ruleset_id(it->second.ruleset_id);
  p->set_ruleset_version(it->second.ruleset_version);
  p->set_command_uuid(c.complete.command_uuid);
  p->set_status(c.complete.status);
  p->set_error(c.complete.error);
  out.push_back(std::move(e));
  return out;
}

Result<std::vector<Envelope>> Decide(const DeliveryState& s, const AcknowledgeAndroid& c) {
  if (!s.device.enrolled) {
    return FailedPrecondition("device.not_enrolled", "the device is not enrolled");
  }
  if (c.status != "Acknowledged" && c.status != "Error") {
    return InvalidArgument("policy.bad_status", "status must be Acknowledged or Error", "status");
  }
  Delivered what = c.what;
  what.channel = kChannelAndroidAgent;
  if (!s.last || !(*s.last == what)) {
    return FailedPrecondition("policy.not_delivered",
                              "this policy and rule set version is not what the device was "
                              "last handed");
  }
  if (c.status == "Acknowledged" && s.acknowledged && *s.acknowledged == what) {
    return std::vector<Envelope>{};
  }
  Envelope e;
  auto* p = e.mutable_device_policy_acknowledged();
  p->set_device_id(s.device.device_id);
  p->set_policy_id(what.policy_id);
  p->set_policy_version(what.policy_version);
  p->set_ruleset_id(what.ruleset_id);
  p->set_ruleset_version(what.ruleset_version);
  p->set_status(c.status);
  p->set_error(c.error);
  return std::vector<Envelope>{std::move(e)};
}

}  // namespace ae::domain::policies
