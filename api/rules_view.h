#pragma once
// The enrollment rules as the views have them (table `rules` of proj::RulesProjector, and
// `dep_profiles` for the profiles they name): the domain::rules::RuleSource port that the
// DEP adapter and the Knox ingest read, and the record reads the rule routes share.

#include <string>
#include <string_view>

#include "domain/rules/rules.h"
#include "projections/view_store.h"

namespace ae::api {

// The rule a `rules` record holds.
Result<domain::rules::Rule> RuleFromRecord(std::string_view record);

class RuleViewSource : public domain::rules::RuleSource {
 public:
  explicit RuleViewSource(const proj::ViewStore& views) : views_(views) {}
  Result<std::vector<domain::rules::Rule>> EnabledRules() override;
  Result<std::optional<domain::rules::DepProfileRef>> DepProfile(
      const std::string& profile_id) override;

 private:
  const proj::ViewStore& views_;
};

}  // namespace ae::api
