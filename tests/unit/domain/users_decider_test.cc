// Given events, when a command, then events or an error.

#include "domain/users/users.h"
#include "tests/support/test_support.h"

namespace ae::domain::users {
namespace {

namespace v1 = autoenroll::events::v1;

UserState Given(std::vector<Envelope> events) {
  UserState s;
  for (const auto& e : events) s = Evolve(std::move(s), e);
  return s;
}

Envelope Created(v1::Role role = v1::ROLE_DEVICE_USER) {
  Envelope e;
  e.mutable_user_created()->set_user_id("u1");
  e.mutable_user_created()->set_role(role);
  return e;
}

Envelope Deleted() {
  Envelope e;
  e.mutable_user_deleted()->set_user_id("u1");
  return e;
}

TEST(UsersDecider, CreatesANewUser) {
  auto out = Decide(Given({}), CreateUser{"u1", v1::ROLE_DEVICE_MANAGER, {}, ""});
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].user_created().role(), v1::ROLE_DEVICE_MANAGER);
}

TEST(UsersDecider, RefusesADuplicateUsername) {
  EXPECT_THAT(Decide(Given({Created()}), CreateUser{"u1", v1::ROLE_DEVICE_USER, {}, ""}),
              StatusIs(StatusCode::kAlreadyExists, "user.already_exists"));
}

TEST(UsersDecider, RecreatesADeletedUser) {
  EXPECT_THAT(Decide(Given({Created(), Deleted()}), CreateUser{"u1", v1::ROLE_DEVICE_USER, {}, ""}),
              IsOk());
}

TEST(UsersDecider, IssuesTokensOnlyToExistingUsers) {
  EXPECT_THAT(Decide(Given({}), IssueToken{"u1", "t", "h"}),
              StatusIs(StatusCode::kNotFound, "user.not_found"));
  EXPECT_THAT(Decide(Given({Created(), Deleted()}), IssueToken{"u1", "t", "h"}),
              StatusIs(StatusCode::kNotFound, "user.not_found"));
  auto out = Decide(Given({Created()}), IssueToken{"u1", "t", "h"});
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ((*out)[0].user_token_issued().token_id(), "t");
}

TEST(UsersDecider, DeleteWithForgetRecordsBothFactsOnce) {
  auto out = Decide(Given({Created()}), DeleteUser{"u1", true});
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), 2u);
  EXPECT_TRUE((*out)[0].has_user_deleted());
  EXPECT_TRUE((*out)[1].has_person_forgotten());
  // Deleting again is a no-op; forgetting a deleted user still forgets.
  Envelope forgotten;
  forgotten.mutable_person_forgotten()->set_subject_id("u1");
  auto again = Decide(Given({Created(), Deleted(), forgotten}), DeleteUser{"u1", true});
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->empty());
}

TEST(UsersDecider, RolesIncludeTheOnesBefore) {
  EXPECT_TRUE(RoleAtLeast(v1::ROLE_ADMINISTRATOR, v1::ROLE_DEVICE_MANAGER));
  EXPECT_TRUE(RoleAtLeast(v1::ROLE_DEVICE_MANAGER, v1::ROLE_DEVICE_MANAGER));
  EXPECT_FALSE(RoleAtLeast(v1::ROLE_DEVICE_USER, v1::ROLE_DEVICE_MANAGER));
  EXPECT_FALSE(RoleAtLeast(v1::ROLE_UNSPECIFIED, v1::ROLE_DEVICE_USER));
  EXPECT_EQ(ParseRole("administrator"), v1::ROLE_ADMINISTRATOR);
  EXPECT_FALSE(ParseRole("root").has_value());
}

TEST(UsersDecider, UsernamesAreValidatedAndCaseInsensitive) {
  EXPECT_THAT(ValidateUsername("alice.smith@corp"), IsOk());
  EXPECT_THAT(ValidateUsername(""), StatusIs(StatusCode::kInvalidArgument, "user.invalid_username"));
  EXPECT_THAT(ValidateUsername("a/b"), StatusIs(StatusCode::kInvalidArgument, "user.invalid_username"));
  EXPECT_EQ(UserIdFor("k", "Alice"), UserIdFor("k", "alice"));
  EXPECT_NE(UserIdFor("k", "alice"), UserIdFor("other-key", "alice"));
  EXPECT_EQ(UserIdFor("k", "alice").find("alice"), std::string::npos);
}

TEST(NamedDecider, PolicyNamesAreUnique) {
  NamedState none;
  ASSERT_THAT(Decide(none, CreatePolicy{"p", "P"}), IsOk());
  NamedState exists{true};
  EXPECT_THAT(Decide(exists, CreatePolicy{"p", "P"}),
              StatusIs(StatusCode::kAlreadyExists, "policy.already_exists"));
  EXPECT_THAT(ValidateRecordName(""), StatusIs(StatusCode::kInvalidArgument, "record.invalid_name"));
}

}  // namespace
}  // namespace ae::domain::users
