// The typed records of the users view: their stored bytes are exactly what the views have
// always held (a replay of an old log writes the same), and a record that is not one is
// refused as a corruption.

#include "projections/user_records.h"

#include <gtest/gtest.h>

namespace ae::proj {
namespace {

UserRecord Alice() {
  UserRecord u;
  u.user_id = "3f2a";
  u.role = "device_user";
  u.personal = "c2VhbGVk";
  u.created_by = "admin-id";
  u.created_at = "2026-01-02T03:04:05.006Z";
  u.updated_at = "2026-01-02T03:04:07.000Z";
  u.token_ids = {"0123456789abcdef", "fedcba9876543210"};
  u.last_position = "0:42";
  return u;
}

TEST(UserRecords, AUserIsStoredAsJsonWithSortedKeys) {
  EXPECT_EQ(EncodeUser(Alice()),
            R"({"created_at":"2026-01-02T03:04:05.006Z","created_by":"admin-id","deleted":false,)"
            R"("forgotten":false,"last_position":"0:42","personal":"c2VhbGVk",)"
            R"("role":"device_user","token_ids":["0123456789abcdef","fedcba9876543210"],)"
            R"("updated_at":"2026-01-02T03:04:07.000Z","user_id":"3f2a"})");
}

TEST(UserRecords, AUserDecodesToWhatWasEncoded) {
  UserRecord u = Alice();
  u.deleted = true;
  u.forgotten = true;
  auto back = DecodeUser(EncodeUser(u));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->user_id, "3f2a");
  EXPECT_EQ(back->role, "device_user");
  EXPECT_EQ(back->personal, "c2VhbGVk");
  EXPECT_TRUE(back->deleted);
  EXPECT_TRUE(back->forgotten);
  EXPECT_EQ(back->token_ids, u.token_ids);
  EXPECT_FALSE(back->token_hashes.has_value());
  EXPECT_EQ(EncodeUser(*back), EncodeUser(u));
}

TEST(UserRecords, TheTokenHashesOfAFormat2RecordAreKeptUntilDropped) {
  const std::string stored =
      R"({"created_at":"","created_by":"","deleted":false,"forgotten":false,"last_position":"0:1",)"
      R"("personal":"","role":"administrator","token_hashes":["aa"],"token_ids":[],)"
      R"("updated_at":"","user_id":"u"})";
  auto u = DecodeUser(stored);
  ASSERT_TRUE(u.ok());
  ASSERT_TRUE(u->token_hashes.has_value());
  EXPECT_EQ(*u->token_hashes, std::vector<std::string>{"aa"});
  EXPECT_EQ(EncodeUser(*u), stored);
  u->token_hashes.reset();
  EXPECT_EQ(EncodeUser(*u).find("token_hashes"), std::string::npos);
}

TEST(UserRecords, ATokenIsStoredWithItsLegacyFlagOnlyWhenKnown) {
  TokenRecord t;
  t.user_id = "u";
  t.token_id = "0123456789abcdef";
  t.created_at = "2026-01-02T03:04:05.006Z";
  t.legacy = false;
  EXPECT_EQ(EncodeToken(t),
            R"({"created_at":"2026-01-02T03:04:05.006Z","legacy":false,)"
            R"("token_id":"0123456789abcdef","user_id":"u"})");
  auto back = DecodeToken(EncodeToken(t));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->legacy, std::optional<bool>(false));
  EXPECT_EQ(back->token_id, t.token_id);
  t.legacy.reset();  // a row of format 2
  EXPECT_EQ(EncodeToken(t).find("legacy"), std::string::npos);
  EXPECT_FALSE(DecodeToken(EncodeToken(t))->legacy.has_value());
}

TEST(UserRecords, WhatIsNotARecordIsACorruption) {
  for (const char* bad : {"", "[]", "not json", R"({"user_id":7})", R"({"token_ids":"x"})",
                          R"({"deleted":"no"})", R"({"token_ids":[1]})"}) {
    auto u = DecodeUser(bad);
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_EQ(u.status().reason(), "view.corruption") << bad;
  }
  for (const char* bad : {"", "{", R"({"legacy":"yes"})", R"({"user_id":null,"token_id":[]})"}) {
    auto t = DecodeToken(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().reason(), "view.corruption") << bad;
  }
}

}  // namespace
}  // namespace ae::proj
