#include "domain/rules/rules.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace ae::domain::rules {

namespace {

bool EqualNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool PrefixNoCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && EqualNoCase(text.substr(0, prefix.size()), prefix);
}

template <typename List>
bool AnyEqual(const List& list, const std::string& value) {
  return std::any_of(list.begin(), list.end(),
                     [&](const std::string& x) { return EqualNoCase(x, value); });
}

std::string Attribute(const pb::KmeDeviceImported& e, const char* name) {
  auto it = e.attributes().find(name);
  return it == e.attributes().end() ? std::string() : it->second;
}

}  // namespace

Rule FromEvent(const pb::EnrollmentRuleDefined& e) {
  Rule r;
  r.id = e.rule_id();
  r.name = e.name();
  r.priority = e.priority();
  r.when = e.when();
  r.then = e.then();
  r.disabled = e.disabled();
  return r;
}

void SortRules(std::vector<Rule>& rules) {
  std::sort(rules.begin(), rules.end(), [](const Rule& a, const Rule& b) {
    return a.priority != b.priority ? a.priority < b.priority : a.id < b.id;
  });
}

DeviceFacts FactsOf(const pb::DepDeviceSynced& e) {
  DeviceFacts d;
  d.source = "dep";
  d.device_id = e.serial_number();
  d.account_id = e.account_id();
  d.model = e.model();
  d.os = e.os();
  d.serial = e.serial_number();
  d.device_family = e.device_family();
  return d;
}

DeviceFacts FactsOf(const pb::KmeDeviceImported& e) {
  DeviceFacts d;
  d.source = "kme";
  d.device_id = e.device_id();
  d.model = e.model();
  d.os = "Android";
  d.serial = e.identifiers().serial_number();
  d.order_number = Attribute(e, "order_number");
  d.reseller = Attribute(e, "reseller_name");
  if (d.reseller.empty()) d.reseller = Attribute(e, "reseller_id");
  d.device_family = "Android";
  d.profile_name = e.profile_name();
  d.tags.assign(e.tags().begin(), e.tags().end());
  return d;
}

bool Matches(const pb::RuleCondition& w, const DeviceFacts& d) {
  if (!w.source().empty() && !EqualNoCase(w.source(), d.source)) return false;
  if (!w.account_id().empty() && w.account_id() != d.account_id) return false;
  if (!w.models().empty() && !AnyEqual(w.models(), d.model)) return false;
  if (!w.os().empty() && !EqualNoCase(w.os(), d.os)) return false;
  if (!w.serial_prefix().empty() && !PrefixNoCase(d.serial, w.serial_prefix())) return false;
  if (!w.order_number().empty() && !EqualNoCase(w.order_number(), d.order_number)) return false;
  for (const auto& tag : w.knox_tags()) {
    if (!AnyEqual(d.tags, tag)) return false;
  }
  if (!w.reseller().empty() && !EqualNoCase(w.reseller(), d.reseller)) return false;
  if (!w.device_family().empty() && !EqualNoCase(w.device_family(), d.device_family)) {
    return false;
  }
  if (!w.profile_names().empty() && !AnyEqual(w.profile_names(), d.profile_name)) return false;
  return true;
}

const Rule* FirstMatch(const std::vector<Rule>& sorted, const DeviceFacts& d) {
  for (const auto& r : sorted) {
    if (!r.disabled && Matches(r.when, d)) return &r;
  }
  return nullptr;
}

pb::AssignmentAction Remaining(const pb::AssignmentAction& then, const Assigned& current) {
  pb::AssignmentAction out;
  if (current.profile_id.empty()) out.set_profile_id(then.profile_id());
  if (current.user_id.empty()) out.set_user_id(then.user_id());
  if (current.policy_id.empty()) out.set_policy_id(then.policy_id());
  if (current.ruleset_id.empty()) out.set_ruleset_id(then.ruleset_id());
  return out;
}

bool Empty(const pb::AssignmentAction& a) {
  return a.profile_id().empty() && a.user_id().empty() && a.policy_id().empty() &&
         a.ruleset_id().empty();
}

void StampOrigin(std::vector<Envelope>& events, const std::string& rule_id,
                 const std::string& job_id) {
  for (auto& e : events) {
    switch (e.payload_case()) {
      case Envelope::kDeviceUserAssigned:
        e.mutable_device_user_assigned()->set_rule_id(rule_id);
        e.mutable_device_user_assigned()->set_job_id(job_id);
        break;
      case Envelope::kDevicePolicyAssigned:
        e.mutable_device_policy_assigned()->set_rule_id(rule_id);
        e.mutable_device_policy_assigned()->set_job_id(job_id);
        break;
      case Envelope::kDeviceRulesetAssigned:
        e.mutable_device_ruleset_assigned()->set_rule_id(rule_id);
        e.mutable_device_ruleset_assigned()->set_job_id(job_id);
        break;
      case Envelope::kDepProfileAssignmentRequested:
        e.mutable_dep_profile_assignment_requested()->set_rule_id(rule_id);
        e.mutable_dep_profile_assignment_requested()->set_job_id(job_id);
        break;
      default:
        break;
    }
  }
}

// ---- the rule's own stream ---------------------------------------------------------

RuleState Evolve(RuleState s, const Envelope& e) {
  switch (e.payload_case()) {
    case Envelope::kEnrollmentRuleDefined:
      s.exists = true;
      s.ever = true;
      s.rule = FromEvent(e.enrollment_rule_defined());
      break;
    case Envelope::kEnrollmentRuleDeleted:
      s.exists = false;
      break;
    default:
      break;
  }
  return s;
}

Status Validate(const Rule& r) {
  if (r.name.empty() || r.name.size() > 128) {
    return InvalidArgument("rule.bad_name", "name must have 1 to 128 characters", "name");
  }
  const std::string& src = r.when.source();
  if (!src.empty() && src != "dep" && src != "kme") {
    return InvalidArgument("rule.bad_source", "when.source must be dep or kme", "when.source");
  }
  if (Empty(r.then)) {
    return InvalidArgument("rule.empty_action",
                           "then must give a profile_id, user, policy or ruleset", "then");
  }
  if (!r.then.profile_id().empty() && src == "kme") {
    return InvalidArgument("rule.profile_for_kme",
                           "a DEP profile cannot be given to Knox devices (when.source is kme)",
                           "then.profile_id");
  }
  return Status::Ok();
}

Result<std::vector<Envelope>> Decide(const RuleState& s, const DefineRule& c) {
  if (c.replace && !s.exists) return NotFound("rule.not_found", "no such enrollment rule");
  if (!c.replace && s.ever) return AlreadyExists("rule.exists", "the rule id is taken");
  AE_RETURN_IF_ERROR(Validate(c.rule));
  const Rule& r = c.rule;
  if (s.exists && s.rule.name == r.name && s.rule.priority == r.priority &&
      s.rule.disabled == r.disabled &&
      s.rule.when.SerializeAsString() == r.when.SerializeAsString() &&
      s.rule.then.SerializeAsString() == r.then.SerializeAsString()) {
    return std::vector<Envelope>{};
  }
  Envelope e;
  auto* p = e.mutable_enrollment_rule_defined();
  p->set_rule_id(r.id);
  p->set_name(r.name);
  p->set_priority(r.priority);
  *p->mutable_when() = r.when;
  *p->mutable_then() = r.then;
  p->set_disabled(r.disabled);
  return std::vector<Envelope>{std::move(e)};
}

Result<std::vector<Envelope>> Decide(const RuleState& s, const DeleteRule&) {
  if (!s.exists) return NotFound("rule.not_found", "no such enrollment rule");
  Envelope e;
  e.mutable_enrollment_rule_deleted()->set_rule_id(s.rule.id);
  return std::vector<Envelope>{std::move(e)};
}

// ---- the port ---------------------------------------------------------------------

Result<std::shared_ptr<const RuleBook>> LoadRuleBook(RuleSource* source) {
  auto book = std::make_shared<RuleBook>();
  if (source == nullptr) return std::shared_ptr<const RuleBook>(std::move(book));
  AE_ASSIGN_OR_RETURN(book->rules, source->EnabledRules());
  SortRules(book->rules);
  for (const auto& r : book->rules) {
    const std::string& id = r.then.profile_id();
    if (id.empty() || book->profiles.count(id)) continue;
    AE_ASSIGN_OR_RETURN(auto ref, source->DepProfile(id));
    if (ref) book->profiles[id] = *ref;
  }
  return std::shared_ptr<const RuleBook>(std::move(book));
}

// ---- composed deciders ------------------------------------------------------------------

Result<std::vector<Envelope>> DecideDepSync(const dep::DeviceState& s, const dep::ApplySync& c,
                                            const RuleBook& book,
                                            const std::string& request_id) {
  AE_ASSIGN_OR_RETURN(auto out, dep::Decide(s, c));
  if (s.known || book.empty()) return out;
  const pb::DepDeviceSynced* synced = nullptr;
  dep::DeviceState n = s;
  for (const auto& e : out) {
    n = dep::EvolveDevice(std::move(n), e);
    if (e.has_dep_device_synced()) synced = &e.dep_device_synced();
  }
  if (synced == nullptr) return out;
  const Rule* rule = FirstMatch(book.rules, FactsOf(*synced));
  if (rule == nullptr) return out;
  pb::AssignmentAction give =
      Remaining(rule->then, {n.profile_id, n.user_id, n.policy_id, n.ruleset_id});
  dep::AssignDevice cmd;
  cmd.request_id = request_id;
  if (!give.profile_id().empty()) {
    auto it = book.profiles.find(give.profile_id());
    // A profile Apple has not accepted, or of another account, is not requested.
    if (it != book.profiles.end() && !it->second.profile_uuid.empty() &&
        it->second.account_id == n.account_id) {
      cmd.profile_id = give.profile_id();
      cmd.profile_uuid = it->second.profile_uuid;
    }
  }
  if (!give.user_id().empty()) cmd.user_id = give.user_id();
  if (!give.policy_id().empty()) cmd.policy_id = give.policy_id();
  if (!give.ruleset_id().empty()) cmd.ruleset_id = give.ruleset_id();
  auto more = dep::Decide(n, cmd);
  if (!more.ok()) return out;  // the rule gives nothing it may not give; the sync still holds
  StampOrigin(*more, rule->id, "");
  for (auto& e : *more) out.push_back(std::move(e));
  return out;
}

Decider<dep::DeviceState> DepSyncDecider(dep::ApplySync c, std::shared_ptr<const RuleBook> book,
                                         std::string request_id) {
  return {dep::EvolveDevice, [c = std::move(c), book = std::move(book),
                              request_id = std::move(request_id)](const dep::DeviceState& s) {
            return DecideDepSync(s, c, *book, request_id);
          }};
}

Result<std::vector<Envelope>> DecideKmeImport(const kme::DeviceState& s,
                                              const kme::ImportDevice& c,
                                              const CreationDefaults& defaults,
                                              const RuleBook& book) {
  AE_ASSIGN_OR_RETURN(auto out, kme::Decide(s, c));
  if (s.exists || (book.empty() && defaults.empty())) return out;
  const pb::KmeDeviceImported* imported = nullptr;
  kme::DeviceState n = s;
  for (const auto& e : out) {
    n = kme::Evolve(std::move(n), e);
    if (e.has_kme_device_imported()) imported = &e.kme_device_imported();
  }
  if (imported == nullptr) return out;
  const DeviceFacts facts = FactsOf(*imported);
  if (!defaults.empty()) {
    kme::AssignDevice cmd;
    cmd.device_id = n.device_id;
    if (n.user_id.empty() && !defaults.user_id.empty()) cmd.user_id = defaults.user_id;
    if (!defaults.policy_id.empty()) cmd.policy_id = defaults.policy_id;
    if (!defaults.ruleset_id.empty()) cmd.ruleset_id = defaults.ruleset_id;
    AE_ASSIGN_OR_RETURN(auto more, kme::Decide(n, cmd));
    for (auto& e : more) {
      n = kme::Evolve(std::move(n), e);
      out.push_back(std::move(e));
    }
  }
  const Rule* rule = FirstMatch(book.rules, facts);
  if (rule == nullptr) return out;
  pb::AssignmentAction give = Remaining(rule->then, {"", n.user_id, n.policy_id, n.ruleset_id});
  kme::AssignDevice cmd;
  cmd.device_id = n.device_id;
  if (!give.user_id().empty()) cmd.user_id = give.user_id();
  if (!give.policy_id().empty()) cmd.policy_id = give.policy_id();
  if (!give.ruleset_id().empty()) cmd.ruleset_id = give.ruleset_id();
  AE_ASSIGN_OR_RETURN(auto more, kme::Decide(n, cmd));
  StampOrigin(more, rule->id, "");
  for (auto& e : more) out.push_back(std::move(e));
  return out;
}

Decider<kme::DeviceState> KmeImportDecider(kme::ImportDevice c, CreationDefaults defaults,
                                           std::shared_ptr<const RuleBook> book) {
  return {kme::Evolve, [c = std::move(c), defaults = std::move(defaults),
                        book = std::move(book)](const kme::DeviceState& s) {
            return DecideKmeImport(s, c, defaults, *book);
          }};
}

}  // namespace ae::domain::rules
