// Given events, when a command, then events or an error.

#include "domain/users/users.h"
#include "events/base/crypto.h"
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
  EXPECT_THAT(Decide(Given({}), IssueToken{"u1", "t"}),
              StatusIs(StatusCode::kNotFound, "user.not_found"));
  EXPECT_THAT(Decide(Given({Created(), Deleted()}), IssueToken{"u1", "t"}),
              StatusIs(StatusCode::kNotFound, "user.not_found"));
  auto out = Decide(Given({Created()}), IssueToken{"u1", "t"});
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ((*out)[0].user_token_issued().token_id(), "t");
  // The event names the token; no hash of it.
  EXPECT_TRUE((*out)[0].user_token_issued().token_sha256().empty());
}

Envelope Issued(const std::string& id) {
  Envelope e;
  e.mutable_user_token_issued()->set_user_id("u1");
  e.mutable_user_token_issued()->set_token_id(id);
  return e;
}

Envelope Revoked(const std::string& id) {
  Envelope e;
  e.mutable_user_token_revoked()->set_user_id("u1");
  e.mutable_user_token_revoked()->set_token_id(id);
  return e;
}

TEST(UsersDecider, ATokenIsIssuedOnceAndARevokedOneNeverComesBack) {
  EXPECT_THAT(Decide(Given({Created(), Issued("t1")}), IssueToken{"u1", "t1"}),
              StatusIs(StatusCode::kAlreadyExists, "user.token_exists"));
  EXPECT_THAT(Decide(Given({Created(), Issued("t1"), Revoked("t1")}), IssueToken{"u1", "t1"}),
              StatusIs(StatusCode::kFailedPrecondition, "user.token_revoked"));
  UserState s = Given({Created(), Issued("t1"), Issued("t2"), Revoked("t1")});
  EXPECT_EQ(s.token_ids, std::vector<std::string>{"t2"});
  EXPECT_EQ(s.revoked_token_ids, std::vector<std::string>{"t1"});
}

TEST(UsersDecider, RevokesOnlyATokenTheUserHas) {
  auto out = Decide(Given({Created(), Issued("t1"), Issued("t2")}), RevokeToken{"u1", "t1"});
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].user_token_revoked().token_id(), "t1");
  EXPECT_EQ((*out)[0].user_token_revoked().user_id(), "u1");
  EXPECT_THAT(Decide(Given({Created(), Issued("t1"), Revoked("t1")}), RevokeToken{"u1", "t1"}),
              StatusIs(StatusCode::kNotFound, "user.token_not_found"));
  EXPECT_THAT(Decide(Given({Created()}), RevokeToken{"u1", "t9"}),
              StatusIs(StatusCode::kNotFound, "user.token_not_found"));
  EXPECT_THAT(Decide(Given({Created(), Issued("t1"), Deleted()}), RevokeToken{"u1", "t1"}),
              StatusIs(StatusCode::kNotFound, "user.not_found"));
}

TEST(UsersDecider, TokenIdsAreKeyedAndVerifiersNeedTheKey) {
  const std::string token = "ae_" + std::string(43, 'x');
  const std::string id = TokenIdFor("key one", token);
  EXPECT_TRUE(ValidTokenId(id));
  EXPECT_NE(id, TokenIdFor("key two", token));  // not computable without the server's key
  EXPECT_EQ(id, TokenIdFor("key one", token));
  // Tokens issued before keyed hashes keep the id their event names.
  EXPECT_EQ(LegacyTokenIdFor(token), crypto::Hex(crypto::Sha256(token)).substr(0, 16));
  EXPECT_NE(TokenVerifier("key one", crypto::Sha256(token)),
            TokenVerifier("key two", crypto::Sha256(token)));
  EXPECT_NE(TokenVerifier("key one", crypto::Sha256(token)), crypto::Sha256(token));
  EXPECT_FALSE(ValidTokenId("zz-none"));
  EXPECT_FALSE(ValidTokenId("0123456789ABCDEF"));
  EXPECT_FALSE(ValidTokenId("0123456789abcde"));
}

TEST(UsersDecider, AnAdministratorSeedNeedsThirtyTwoCharactersAndEntropy) {
  for (std::string weak : {std::string("short"), std::string(40, 'a'),
                           std::string("Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3"),  // 33, ~108 bits
                           std::string("0123456789abcdefghijklmnopqrstu")}) {  // 31 distinct
    Status s = CheckAdminSeed(weak);
    EXPECT_THAT(s, StatusIs(StatusCode::kInvalidArgument, "admin.weak_seed")) << weak;
    EXPECT_NE(s.message().find("AUTOENROLL_ADMIN_TOKEN"), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find(weak), std::string::npos) << "the seed is not repeated";
  }
  EXPECT_THAT(CheckAdminSeed("seeded Xk2pQ9vLm4Rt7wZa1Bc6Dn8Fh3Jy5Gs0UeVo"),
              StatusIs(StatusCode::kInvalidArgument, "admin.weak_seed"));  // a space
  EXPECT_THAT(CheckAdminSeed("seeded-Xk2pQ9vLm4Rt7wZa1Bc6Dn8Fh3Jy5Gs0UeVo"), IsOk());
  EXPECT_THAT(CheckAdminSeed("ae_" + crypto::Base64Url(crypto::RandomBytes(32))), IsOk());
  EXPECT_NEAR(SeedEntropyBits(std::string(40, 'a')), 0, 1e-9);
  EXPECT_NEAR(SeedEntropyBits("abcd"), 8, 1e-9);  // 4 characters of 2 bits
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
