// The typed records of the users view: their stored bytes are exactly what the views have
// always held (a replay of an old log writes the same), and a record that is not one is
// refused as a corruption.

#include "projections/user_records.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "tests/unit/projections/odd_strings.h"

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

// The record as a tree, key by key: the oracle of the bytes EncodeUser writes directly.
nlohmann::json Tree(const UserRecord& r) {
  nlohmann::json j = {{"user_id", r.user_id},       {"role", r.role},
                      {"personal", r.personal},     {"created_by", r.created_by},
                      {"created_at", r.created_at}, {"updated_at", r.updated_at},
                      {"deleted", r.deleted},       {"forgotten", r.forgotten},
                      {"token_ids", r.token_ids},   {"last_position", r.last_position}};
  if (r.token_hashes) j["token_hashes"] = *r.token_hashes;
  return j;
}

TEST(UserRecords, RandomUsersEncodeAsTheirTreeAndDecodeBack) {
  std::mt19937 rng(7);
  auto odd = [&] { return testing::OddString(rng); };
  auto coin = [&] { return std::uniform_int_distribution<int>(0, 1)(rng) == 1; };
  auto list = [&] {
    std::vector<std::string> v;
    for (int n = std::uniform_int_distribution<int>(0, 3)(rng); n > 0; --n) v.push_back(odd());
    return v;
  };
  for (int i = 0; i < 2000; ++i) {
    UserRecord u;
    u.user_id = odd();
    u.role = odd();
    u.personal = odd();
    u.created_by = odd();
    u.created_at = odd();
    u.updated_at = odd();
    u.deleted = coin();
    u.forgotten = coin();
    u.token_ids = list();
    if (coin()) u.token_hashes = list();
    u.last_position = odd();
    const std::string bytes = EncodeUser(u);
    ASSERT_EQ(bytes, Tree(u).dump()) << i;
    auto back = DecodeUser(bytes);
    ASSERT_TRUE(back.ok()) << bytes;
    EXPECT_EQ(back->user_id, u.user_id);
    EXPECT_EQ(back->role, u.role);
    EXPECT_EQ(back->personal, u.personal);
    EXPECT_EQ(back->created_by, u.created_by);
    EXPECT_EQ(back->created_at, u.created_at);
    EXPECT_EQ(back->updated_at, u.updated_at);
    EXPECT_EQ(back->deleted, u.deleted);
    EXPECT_EQ(back->forgotten, u.forgotten);
    EXPECT_EQ(back->token_ids, u.token_ids);
    EXPECT_EQ(back->token_hashes, u.token_hashes);
    EXPECT_EQ(back->last_position, u.last_position);
  }
}

TEST(UserRecords, AbsentOrNullKeysReadAsDefaultsAndANullTokenHashesIsFormat2) {
  auto u = DecodeUser(R"({"user_id":"u","role":null,"token_hashes":null})");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->user_id, "u");
  EXPECT_EQ(u->role, "");
  EXPECT_TRUE(u->token_ids.empty());
  ASSERT_TRUE(u->token_hashes.has_value());
  EXPECT_TRUE(u->token_hashes->empty());
  // A key given twice: the last wins, as nlohmann reads it.
  auto twice = DecodeUser(R"({"role":"a","role":"b","token_ids":["x"],"token_ids":["y"]})");
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(twice->role, "b");
  EXPECT_EQ(twice->token_ids, std::vector<std::string>{"y"});
}

}  // namespace
}  // namespace ae::proj
