#pragma once
// Enrollment rules: what a new device gets, decided once, when it first appears (a DEP
// sync's new serial, a Knox CSV row or Knox Cloud API device that creates a record).
// Pure: no I/O, no clock. The adapters read the rules through a RuleSource (a port) and
// compose the deciders below with their own, so a device's first events and the
// assignments a rule gives it are appended together, in one command.
//
// Streams:
//   rule/<rule_id>   EnrollmentRuleDefined (defined again: changed), EnrollmentRuleDeleted
//
// Matching: every condition field that is set must hold (empty fields match every device);
// the first enabled rule by (priority, id) that matches wins, alone. A rule never overrides
// an assignment the device already has (by hand, by the source's own user, by an import's
// parameters): it only fills what is empty. Its events name it (`rule_id`).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "domain/command_bus.h"
#include "domain/dep/dep.h"
#include "domain/kme/kme.h"

namespace ae::domain::rules {

namespace pb = autoenroll::events::v1;

inline constexpr const char* kRuleStreamType = "rule";

struct Rule {
  std::string id;
  std::string name;
  int32_t priority = 0;  // lower first
  pb::RuleCondition when;
  pb::AssignmentAction then;
  bool disabled = false;
};
// The rule an EnrollmentRuleDefined describes.
Rule FromEvent(const pb::EnrollmentRuleDefined& e);
// Orders rules as they are evaluated: priority, then id.
void SortRules(std::vector<Rule>& rules);

// What a device looks like to a rule, as it first appeared.
struct DeviceFacts {
  std::string source;  // "dep" | "kme"
  std::string device_id;  // the serial (DEP) or the KME device id
  std::string account_id, model, os, serial, order_number, reseller, device_family,
      profile_name;
  std::vector<std::string> tags;
};
DeviceFacts FactsOf(const pb::DepDeviceSynced& e);
DeviceFacts FactsOf(const pb::KmeDeviceImported& e);

// Whether every set field of `when` holds for `d`. Names (model, os, family, profile,
// reseller, order number, tags) compare without regard to case; serial_prefix is a
// case-insensitive prefix of the serial number.
bool Matches(const pb::RuleCondition& when, const DeviceFacts& d);
// The first enabled rule of `sorted` (SortRules' order) that matches; nullptr when none.
const Rule* FirstMatch(const std::vector<Rule>& sorted, const DeviceFacts& d);

// A device's current assignments ("" none).
struct Assigned {
  std::string profile_id, user_id, policy_id, ruleset_id;
};
// The part of `then` still to give: the fields the device has no assignment of.
pb::AssignmentAction Remaining(const pb::AssignmentAction& then, const Assigned& current);
bool Empty(const pb::AssignmentAction& a);

// Names the rule and the job on the assignment events of `events` (DeviceUserAssigned,
// DevicePolicyAssigned, DeviceRuleSetAssigned, DepProfileAssignmentRequested).
void StampOrigin(std::vector<Envelope>& events, const std::string& rule_id,
                 const std::string& job_id);

// ---- the rule's own stream -------------------------------------------------------

struct RuleState {
  bool exists = false;  // defined and not deleted
  bool ever = false;    // defined once
  Rule rule;
};
RuleState Evolve(RuleState s, const Envelope& e);

// Checks a rule as a client sends it: a name (1-128 characters), a condition whose source
// is "", "dep" or "kme", an action that gives something. kInvalidArgument naming the field.
Status Validate(const Rule& r);

struct DefineRule {
  Rule rule;
  bool replace = false;  // the rule must exist (kNotFound "rule.not_found" otherwise)
};
struct DeleteRule {};
// EnrollmentRuleDefined (no event when nothing changes).
Result<std::vector<Envelope>> Decide(const RuleState& s, const DefineRule& c);
// EnrollmentRuleDeleted; kNotFound "rule.not_found" when the rule does not exist.
Result<std::vector<Envelope>> Decide(const RuleState& s, const DeleteRule& c);

template <typename Cmd>
Decider<RuleState> RuleDecider(Cmd cmd) {
  return {Evolve, [cmd = std::move(cmd)](const RuleState& s) { return Decide(s, cmd); }};
}

// ---- the port the adapters read ---------------------------------------------------

// A DEP profile a rule may request: its account and its UUID at Apple.
struct DepProfileRef {
  std::string account_id;
  std::string profile_uuid;  // "" while Apple has not accepted it
};

// The current rules, as the views have them. Thread-safe implementations.
class RuleSource {
 public:
  virtual ~RuleSource() = default;
  // The enabled rules in evaluation order.
  virtual Result<std::vector<Rule>> EnabledRules() = 0;
  // A DEP profile (std::nullopt when unknown).
  virtual Result<std::optional<DepProfileRef>> DepProfile(const std::string& profile_id) = 0;
};

// What the rules a batch of devices is decided against need, read once per batch.
struct RuleBook {
  std::vector<Rule> rules;                          // enabled, sorted
  std::map<std::string, DepProfileRef> profiles;    // the rules' DEP profiles
  bool empty() const { return rules.empty(); }
};
// Reads the rules and their profiles from `source` (an empty book when source is null).
Result<std::shared_ptr<const RuleBook>> LoadRuleBook(RuleSource* source);

// ---- composed deciders ----------------------------------------------------------------

// The DEP sync of one device, then, when the device appears for the first time, what the
// first matching rule gives it: the profile (when Apple accepted it and it belongs to the
// device's account; `request_id` keys the Apple call), user, policy, rule set.
Result<std::vector<Envelope>> DecideDepSync(const dep::DeviceState& s, const dep::ApplySync& c,
                                            const RuleBook& book,
                                            const std::string& request_id);
Decider<dep::DeviceState> DepSyncDecider(dep::ApplySync c,
                                         std::shared_ptr<const RuleBook> book,
                                         std::string request_id);

// What every device a Knox import creates gets besides its own record (the import's
// parameters): a user for a device whose row matched none, a policy, a rule set.
struct CreationDefaults {
  std::string user_id, policy_id, ruleset_id;
  bool empty() const { return user_id.empty() && policy_id.empty() && ruleset_id.empty(); }
};

// The Knox import of one device, then, when it creates the record: the defaults (the
// row's own user wins), then what the first matching rule gives on top.
Result<std::vector<Envelope>> DecideKmeImport(const kme::DeviceState& s,
                                              const kme::ImportDevice& c,
                                              const CreationDefaults& defaults,
                                              const RuleBook& book);
Decider<kme::DeviceState> KmeImportDecider(kme::ImportDevice c, CreationDefaults defaults,
                                           std::shared_ptr<const RuleBook> book);

}  // namespace ae::domain::rules
