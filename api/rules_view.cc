#include "api/rules_view.h"

#include "events/base/crypto.h"
#include "projections/dep_records.h"
#include "projections/rules_records.h"

namespace ae::api {

namespace rules = domain::rules;

Result<rules::Rule> RuleFromRecord(std::string_view record) {
  AE_ASSIGN_OR_RETURN(proj::RuleRecord r, proj::RuleRecord::Decode(record));
  AE_ASSIGN_OR_RETURN(std::string raw, crypto::FromBase64(r.rule));
  autoenroll::events::v1::EnrollmentRuleDefined e;
  if (!e.ParseFromString(raw)) return Corruption("view.corruption", "rules record does not parse");
  return rules::FromEvent(e);
}

Result<std::vector<rules::Rule>> RuleViewSource::EnabledRules() {
  std::vector<rules::Rule> out;
  Status bad;
  AE_RETURN_IF_ERROR(views_.Scan(proj::RuleRecord::kTable, "", "", [&](std::string_view, std::string_view v) {
    auto rule = RuleFromRecord(v);
    if (!rule.ok()) {
      bad = rule.status();
      return false;
    }
    if (!rule->disabled) out.push_back(std::move(*rule));
    return true;
  }));
  AE_RETURN_IF_ERROR(bad);
  rules::SortRules(out);
  return out;
}

Result<std::optional<rules::DepProfileRef>> RuleViewSource::DepProfile(
    const std::string& profile_id) {
  AE_ASSIGN_OR_RETURN(auto p, proj::ReadDepRecord<proj::DepProfileRecord>(views_, profile_id));
  if (!p) return std::optional<rules::DepProfileRef>();
  rules::DepProfileRef ref;
  ref.account_id = p->account_id;
  if (p->state == "defined") ref.profile_uuid = p->profile_uuid;
  return std::optional<rules::DepProfileRef>(ref);
}

}  // namespace ae::api
