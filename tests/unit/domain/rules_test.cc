// Enrollment rules: which rule a new device matches, what it gives, and that it never
// replaces what the device already has.

#include "domain/rules/rules.h"

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace ae::domain::rules {
namespace {

std::vector<Envelope> Must(Result<std::vector<Envelope>> r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::vector<Envelope>{};
}

Rule MakeRule(const std::string& id, int priority, const std::string& policy) {
  Rule r;
  r.id = id;
  r.name = "rule " + id;
  r.priority = priority;
  r.then.set_policy_id(policy);
  return r;
}

dep::AppleDevice Phone(const std::string& serial, const std::string& model) {
  dep::AppleDevice d;
  d.serial_number = serial;
  d.model = model;
  d.os = "iOS";
  d.device_family = "iPhone";
  d.op_type = "added";
  d.op_date_ms = 1000;
  return d;
}

TEST(EnrollmentRules, TheFirstRuleByPriorityThenIdWinsAndDisabledRulesAreSkipped) {
  std::vector<Rule> rules = {MakeRule("b", 1, "late"), MakeRule("a", 1, "early"),
                             MakeRule("c", 0, "disabled")};
  rules[2].disabled = true;
  SortRules(rules);
  DeviceFacts d;
  d.source = "dep";
  const Rule* r = FirstMatch(rules, d);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->id, "a");
}

TEST(EnrollmentRules, EverySetConditionMustHold) {
  pb::KmeDeviceImported e;
  e.set_device_id("imei:1");
  e.set_model("Galaxy S23");
  e.set_profile_name("Field");
  e.add_tags("warehouse");
  e.add_tags("north");
  e.mutable_identifiers()->set_serial_number("R58N123");
  (*e.mutable_attributes())["order_number"] = "PO-7";
  DeviceFacts d = FactsOf(e);
  pb::RuleCondition w;
  EXPECT_TRUE(Matches(w, d));
  w.set_source("kme");
  w.add_models("galaxy s23");
  w.add_knox_tags("Warehouse");
  w.set_serial_prefix("r58");
  w.set_order_number("PO-7");
  w.add_profile_names("Field");
  EXPECT_TRUE(Matches(w, d));
  w.add_knox_tags("south");  // every tag named must be on the device
  EXPECT_FALSE(Matches(w, d));
  w.clear_knox_tags();
  w.set_source("dep");
  EXPECT_FALSE(Matches(w, d));
}

TEST(EnrollmentRules, ANewDepSerialGetsTheRulesProfileUserAndPolicyInTheSameCommand) {
  auto book = std::make_shared<RuleBook>();
  Rule r = MakeRule("r1", 0, "standard");
  r.when.add_models("iPhone 14");
  r.then.set_profile_id("p1");
  r.then.set_user_id("u1");
  book->rules = {r};
  book->profiles["p1"] = {"acc", "uuid-1"};
  auto out = Must(DecideDepSync(dep::DeviceState{}, {"acc", "s1", Phone("C02A", "iPhone 14")},
                                *book, "req-1"));
  ASSERT_EQ(out.size(), 5u);
  EXPECT_TRUE(out[0].has_dep_device_synced());
  EXPECT_TRUE(out[1].has_dep_profile_status_changed());
  EXPECT_EQ(out[2].dep_profile_assignment_requested().profile_uuid(), "uuid-1");
  EXPECT_EQ(out[2].dep_profile_assignment_requested().rule_id(), "r1");
  EXPECT_EQ(out[3].device_user_assigned().user_id(), "u1");
  EXPECT_EQ(out[3].device_user_assigned().rule_id(), "r1");
  EXPECT_EQ(out[4].device_policy_assigned().policy_id(), "standard");
  EXPECT_EQ(out[4].device_policy_assigned().rule_id(), "r1");

  // A device that does not match, or that is known already, gets nothing from the rule.
  auto other = Must(DecideDepSync(dep::DeviceState{}, {"acc", "s1", Phone("C02B", "iPad")},
                                  *book, "req-2"));
  EXPECT_EQ(other.size(), 2u);
  dep::DeviceState known;
  for (const auto& e : out) known = dep::EvolveDevice(std::move(known), e);
  auto again = Phone("C02A", "iPhone 14");
  again.asset_tag = "T1";
  again.op_date_ms = 2000;
  auto later = Must(DecideDepSync(known, {"acc", "s2", again}, *book, "req-3"));
  ASSERT_EQ(later.size(), 1u);
  EXPECT_TRUE(later[0].has_dep_device_synced());
}

TEST(EnrollmentRules, AProfileOfAnotherAccountOrNotAcceptedByAppleIsNotRequested) {
  RuleBook book;
  Rule r = MakeRule("r1", 0, "standard");
  r.then.set_profile_id("p1");
  book.rules = {r};
  book.profiles["p1"] = {"other", "uuid-1"};
  auto out = Must(DecideDepSync(dep::DeviceState{}, {"acc", "s1", Phone("C02A", "x")}, book,
                                "req"));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[2].has_device_policy_assigned());
  book.profiles["p1"] = {"acc", ""};
  out = Must(DecideDepSync(dep::DeviceState{}, {"acc", "s1", Phone("C02A", "x")}, book, "req"));
  EXPECT_EQ(out.size(), 3u);
}

TEST(EnrollmentRules, AKnoxRowsOwnUserAndTheImportParametersWinOverTheRule) {
  RuleBook book;
  Rule r = MakeRule("r1", 0, "rule-policy");
  r.then.set_user_id("rule-user");
  r.then.set_ruleset_id("rule-set");
  book.rules = {r};
  kme::ImportDevice c;
  c.device_id = "imei:1";
  c.observed.ids.imei = "356938035643809";
  c.matched_user_id = "row-user";
  CreationDefaults defaults;
  defaults.policy_id = "import-policy";
  auto out = Must(DecideKmeImport(kme::DeviceState{}, c, defaults, book));
  kme::DeviceState s;
  for (const auto& e : out) s = kme::Evolve(std::move(s), e);
  EXPECT_EQ(s.user_id, "row-user");
  EXPECT_EQ(s.policy_id, "import-policy");
  EXPECT_EQ(s.ruleset_id, "rule-set");
  int by_rule = 0;
  for (const auto& e : out) {
    if (e.has_device_ruleset_assigned()) {
      EXPECT_EQ(e.device_ruleset_assigned().rule_id(), "r1");
      ++by_rule;
    }
    if (e.has_device_policy_assigned()) {
      EXPECT_EQ(e.device_policy_assigned().rule_id(), "");
    }
  }
  EXPECT_EQ(by_rule, 1);
  // The import's default user goes only to a row that matched none.
  c.matched_user_id.clear();
  defaults.user_id = "import-user";
  out = Must(DecideKmeImport(kme::DeviceState{}, c, defaults, book));
  s = {};
  for (const auto& e : out) s = kme::Evolve(std::move(s), e);
  EXPECT_EQ(s.user_id, "import-user");
  // A device already recorded is not given anything.
  auto again = Must(DecideKmeImport(s, c, defaults, book));
  EXPECT_TRUE(again.empty());
}

TEST(EnrollmentRules, DefiningChecksTheRuleAndDeletingNeedsIt) {
  Rule r = MakeRule("r1", 0, "");
  EXPECT_THAT(Decide(RuleState{}, DefineRule{r}).status(),
              StatusIs(StatusCode::kInvalidArgument, "rule.empty_action"));
  r.then.set_policy_id("p");
  auto defined = Must(Decide(RuleState{}, DefineRule{r}));
  ASSERT_EQ(defined.size(), 1u);
  RuleState s = Evolve({}, defined[0]);
  EXPECT_TRUE(Must(Decide(s, DefineRule{r, true})).empty());  // unchanged
  EXPECT_THAT(Decide(RuleState{}, DefineRule{r, true}).status(),
              StatusIs(StatusCode::kNotFound, "rule.not_found"));
  auto deleted = Must(Decide(s, DeleteRule{}));
  s = Evolve(s, deleted[0]);
  EXPECT_FALSE(s.exists);
  EXPECT_THAT(Decide(s, DeleteRule{}).status(), StatusIs(StatusCode::kNotFound, "rule.not_found"));
}

}  // namespace
}  // namespace ae::domain::rules
