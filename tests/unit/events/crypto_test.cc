#include "events/base/crypto.h"
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
}

TEST(Crypto, UuidV7IsTimeOrderedAndVersioned) {
  std::string a = UuidV7(1000), b = UuidV7(2000);
  EXPECT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '7');
  EXPECT_LT(a, b);
}

}  // namespace
}  // namespace ae::crypto
