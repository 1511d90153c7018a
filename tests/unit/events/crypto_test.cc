#include "events/base/crypto.h"

#include <set>
#include "tests/support/test_support.h"

namespace ae::crypto {
namespace {

TEST(Crypto, Sha256MatchesKnownVector) {
  EXPECT_EQ(Hex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, HmacSha1MatchesRfc2202) {
  EXPECT_EQ(Hex(HmacSha1("Jefe", "what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

TEST(Crypto, SealOpensOnlyWithTheSameKeyAndContext) {
  std::string key = RandomBytes(32);
  auto sealed = Seal(key, "secret data", "ctx");
  ASSERT_THAT(sealed, IsOk());
  EXPECT_EQ(sealed->find("secret data"), std::string::npos);
  auto opened = Open(key, *sealed, "ctx");
  ASSERT_THAT(opened, IsOk());
  EXPECT_EQ(*opened, "secret data");
  EXPECT_THAT(Open(key, *sealed, "other"), StatusIs(StatusCode::kCorruption, "crypto.open_failed"));
  EXPECT_THAT(Open(RandomBytes(32), *sealed, "ctx"),
              StatusIs(StatusCode::kCorruption, "crypto.open_failed"));
}

TEST(Crypto, Base64RoundTripsBothAlphabets) {
  std::string data = "\xfb\xff\x00hello";
  EXPECT_EQ(*FromBase64(Base64(data)), data);
  EXPECT_EQ(*FromBase64(Base64Url(data)), data);
  std::string every;
  for (int c = 0; c < 256; ++c) every.push_back(static_cast<char>(c));
  EXPECT_EQ(*FromBase64(Base64(every)), every);
  EXPECT_EQ(*FromBase64(Base64Url(every)), every);
  // Padding and white space (a PEM body's line breaks) are skipped; anything else is refused.
  EXPECT_EQ(*FromBase64("aGVs\r\nbG8=\t "), "hello");
  const std::string nul("aGVs\0bG8", 8);
  for (std::string_view bad : {std::string_view("aGVs*G8="), std::string_view("aGVs.bG8"),
                               std::string_view(nul), std::string_view("\xc3\xa9")}) {
    EXPECT_THAT(FromBase64(bad), StatusIs(StatusCode::kInvalidArgument, "base64.bad_char"));
  }
}

TEST(Crypto, UuidV7IsTimeOrderedAndVersioned) {
  std::string a = UuidV7(1000), b = UuidV7(2000);
  EXPECT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '7');
  EXPECT_LT(a, b);
}

TEST(Crypto, UuidV7sOfOneMillisecondAreDistinctAcrossRandomBlocks) {
  // More ids than one block of random bytes holds (4096 / 10), all in the same millisecond.
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    std::string id = UuidV7(1700000000123);
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id.substr(0, 13), "018bcfe5-687b");  // 48 bits of milliseconds
    EXPECT_EQ(id[8], '-');
    EXPECT_EQ(id[13], '-');
    EXPECT_EQ(id[14], '7');                                   // version 7
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);  // RFC 9562 variant
    EXPECT_EQ(id[23], '-');
    EXPECT_TRUE(seen.insert(id).second) << id;
  }
}

}  // namespace
}  // namespace ae::crypto
