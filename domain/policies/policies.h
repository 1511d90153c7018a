#pragma once
// Policies and rule sets with content, versioned by events, and their delivery to
// enrolled devices, as pure deciders.
//
//   policy/<id>    PolicyCreated (version 1) -> PolicyUpdated (2, 3, ...) -> PolicyDeleted
//   ruleset/<id>   RuleSetCreated (version 1) -> RuleSetUpdated -> RuleSetDeleted
//   device/<id>    DevicePolicyDelivered / DevicePolicyAcknowledged, beside the inventory
//                  events of domain/devices (whose decisions the delivery commands reuse,
//                  so an InstallProfile command and its delivery are one append)
//
// The id of a policy or rule set is its lower-cased name (users::RecordKey); a new version
// keeps it, so a version may change the name's case only. PolicyCreated events written
// before policies had content read as version 1 with empty content.
//
// What a policy may carry is checked here (ValidateApplePayloads, ValidateAndroidConfig):
// no key naming a secret (password, passphrase, secret, PSK, private key), since the content
// is in the log and its feed in the clear.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/command_bus.h"
#include "domain/devices/devices.h"

namespace ae::domain::policies {

namespace pb = autoenroll::events::v1;

// ------------------------------------------------------------------ validation --

inline constexpr size_t kMaxPayloads = 100;
inline constexpr size_t kMaxContentBytes = 256 << 10;  // the JSON of payloads / config
inline constexpr size_t kMaxRules = 200;

// `payloads` must be an array of at most kMaxPayloads objects, each with a non-empty string
// PayloadType and PayloadIdentifier, identifiers unique, every value a plist value (no
// null), no key naming a secret. kInvalidArgument with field "apple_payloads[i].Key":
// "policy.invalid_payload", "policy.duplicate_payload_identifier", "policy.secret_in_payload".
Status ValidateApplePayloads(const nlohmann::json& payloads);

// `config` must be a JSON object without a key naming a secret. kInvalidArgument
// "policy.invalid_android_config" / "policy.secret_in_payload" (field "android_config...").
Status ValidateAndroidConfig(const nlohmann::json& config);

// True when a key names a secret (case-insensitive: password, passphrase, passcode,
// secret, psk, privatekey, private_key).
bool KeyNamesSecret(std::string_view key);

// The actions a compliance rule may take.
const std::vector<std::string>& RuleActions();

// A condition is `<field> <op> <value>`: os_version with <, <=, >, >=, ==, != and a version
// (digits and dots); model, platform, serial_number with == or != and a non-empty value
// (quotes optional). kInvalidArgument "ruleset.invalid_condition" / "ruleset.invalid_action"
// with field "rules[i].condition" / "rules[i].action".
Status ValidateRule(const pb::ComplianceRule& rule, size_t index);
Status ValidateRules(const std::vector<pb::ComplianceRule>& rules);

// ------------------------------------------------------------------- policies --

struct PolicyState {
  bool exists = false;  // created and not deleted
  uint32_t version = 0;
  std::string name;
  pb::PolicyContent content;
};
PolicyState Evolve(PolicyState s, const Envelope& e);

struct CreatePolicy {
  std::string key;
  std::string name;
  pb::PolicyContent content;
};
// A new version; an identical one (name and content) decides nothing.
struct UpdatePolicy {
  std::string key;
  std::string name;
  pb::PolicyContent content;
};
// `devices_using` is how many devices the usage index names (the caller reads it):
// refused while any device uses the policy.
struct DeletePolicy {
  std::string key;
  uint64_t devices_using = 0;
};
Result<std::vector<Envelope>> Decide(const PolicyState& s, const CreatePolicy& c);
Result<std::vector<Envelope>> Decide(const PolicyState& s, const UpdatePolicy& c);
Result<std::vector<Envelope>> Decide(const PolicyState& s, const DeletePolicy& c);

// ------------------------------------------------------------------ rule sets --

struct RuleSetState {
  bool exists = false;
  uint32_t version = 0;
  std::string name;
  std::string description;
  std::vector<pb::ComplianceRule> rules;
};
RuleSetState Evolve(RuleSetState s, const Envelope& e);

struct CreateRuleSet {
  std::string key;
  std::string name;
  std::string description;
  std::vector<pb::ComplianceRule> rules;
};
struct UpdateRuleSet {
  std::string key;
  std::string name;
  std::string description;
  std::vector<pb::ComplianceRule> rules;
};
struct DeleteRuleSet {
  std::string key;
  uint64_t devices_using = 0;
};
Result<std::vector<Envelope>> Decide(const RuleSetState& s, const CreateRuleSet& c);
Result<std::vector<Envelope>> Decide(const RuleSetState& s, const UpdateRuleSet& c);
Result<std::vector<Envelope>> Decide(const RuleSetState& s, const DeleteRuleSet& c);

// ------------------------------------------------------------------- delivery --

// What a device was last handed, and the InstallProfile commands still unanswered.
struct Delivered {
  std::string policy_id;
  uint32_t policy_version = 0;
  std::string ruleset_id;
  uint32_t ruleset_version = 0;
  std::string channel;
  bool operator==(const Delivered&) const = default;
};
struct DeliveryState {
  devices::DeviceState device;
  std::optional<Delivered> last;  // since the last enrollment
  std::map<std::string, Delivered> pending;  // command_uuid -> what it delivers
  std::optional<Delivered> acknowledged;     // the last one the device answered Acknowledged
};
DeliveryState Evolve(DeliveryState s, const Envelope& e);

inline constexpr const char* kChannelAppleMdm = "apple_mdm";
inline constexpr const char* kChannelAndroidAgent = "android_agent";
inline constexpr const char* kInstallProfile = "InstallProfile";

// Hands the device `what`: on apple_mdm an InstallProfile command (`command_uuid`) queued
// with DevicePolicyDelivered; on android_agent only DevicePolicyDelivered. Nothing when the
// device is not enrolled, or `what` is what it was last handed. An empty policy and rule set
// deliver nothing.
struct Deliver {
  Delivered what;
  std::string command_uuid;  // apple_mdm
};
Result<std::vector<Envelope>> Decide(const DeliveryState& s, const Deliver& c);

// devices::Enroll, followed in the same append by the delivery of `deliver` (when set and the
// enrollment decided anything).
struct EnrollAndDeliver {
  devices::Enroll enroll;
  std::optional<Deliver> deliver;
};
Result<std::vector<Envelope>> Decide(const DeliveryState& s, const EnrollAndDeliver& c);

// devices::CompleteCommand; when the command was an InstallProfile of a delivery and the
// status is not NotNow, DevicePolicyAcknowledged with the device's status and error.
struct CompleteAndAcknowledge {
  devices::CompleteCommand complete;
};
Result<std::vector<Envelope>> Decide(const DeliveryState& s, const CompleteAndAcknowledge& c);

// The Android agent's answer to what it was handed: kFailedPrecondition
// "policy.not_delivered" unless `what` is what the device was last handed; the same
// acknowledgement again decides nothing.
struct AcknowledgeAndroid {
  Delivered what;
  std::string status;  // Acknowledged | Error
  std::string error;
};
Result<std::vector<Envelope>> Decide(const DeliveryState& s, const AcknowledgeAndroid& c);

// Binds a command to a Decider for the CommandBus.
template <typename Cmd>
Decider<PolicyState> PolicyDecider(Cmd cmd) {
  return {[](PolicyState s, const Envelope& e) { return Evolve(std::move(s), e); },
          [cmd = std::move(cmd)](const PolicyState& s) { return Decide(s, cmd); }};
}
template <typename Cmd>
Decider<RuleSetState> RuleSetDecider(Cmd cmd) {
  return {[](RuleSetState s, const Envelope& e) { return Evolve(std::move(s), e); },
          [cmd = std::move(cmd)](const RuleSetState& s) { return Decide(s, cmd); }};
}
template <typename Cmd>
Decider<DeliveryState> DeliveryDecider(Cmd cmd) {
  return {[](DeliveryState s, const Envelope& e) { return Evolve(std::move(s), e); },
          [cmd = std::move(cmd)](const DeliveryState& s) { return Decide(s, cmd); }};
}

}  // namespace ae::domain::policies
