#include "events/base/clock.h"
#include "events/base/ids.h"
#include "tests/support/test_support.h"

namespace ae {
namespace {

TEST(LogPosition, TextFormRoundTrips) {
  EXPECT_EQ(LogPosition({0, 42}).ToString(), "42");
  EXPECT_EQ(LogPosition({3, 7}).ToString(), "3:7");
  EXPECT_EQ(LogPosition::Parse("42"), (LogPosition{0, 42}));
  EXPECT_EQ(LogPosition::Parse("3:7"), (LogPosition{3, 7}));
  EXPECT_FALSE(LogPosition::Parse("").has_value());
  EXPECT_FALSE(LogPosition::Parse("-1").has_value());
  EXPECT_FALSE(LogPosition::Parse("1:x").has_value());
  EXPECT_FALSE(LogPosition::Parse("12abc").has_value());
}

TEST(LogCursor, AdvancesPerPartitionAndRoundTrips) {
  LogCursor c;
  EXPECT_FALSE(c.Covers({0, 0}));
  c.Advance({0, 5});
  c.Advance({2, 9});
  c.Advance({0, 3});  // never moves back
  EXPECT_EQ(c.Next(0), 6);
  EXPECT_EQ(c.Next(1), 0);
  EXPECT_TRUE(c.Covers({0, 5}));
  EXPECT_FALSE(c.Covers({0, 6}));
  EXPECT_EQ(c.ToString(), "0:6,2:10");
  EXPECT_EQ(LogCursor::Parse(c.ToString()), c);
  EXPECT_FALSE(LogCursor::Parse("0:x").has_value());
}

TEST(StreamId, SplitsTypeAndId) {
  StreamId s("dep-device", "C02XK1ABCD");
  EXPECT_EQ(s.str(), "dep-device/C02XK1ABCD");
  EXPECT_EQ(s.type(), "dep-device");
  EXPECT_EQ(s.id(), "C02XK1ABCD");
}

TEST(Rfc3339, FormatsAndParses) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(1700000000123), "2023-11-14T22:13:20.123Z");
  int64_t ms = 0;
  ASSERT_TRUE(ParseRfc3339("2023-11-14T22:13:20.123Z", &ms));
  EXPECT_EQ(ms, 1700000000123);
  ASSERT_TRUE(ParseRfc3339("2023-11-14T23:13:20+01:00", &ms));
  EXPECT_EQ(ms, 1700000000000);
  EXPECT_FALSE(ParseRfc3339("2023-11-14", &ms));
  EXPECT_FALSE(ParseRfc3339("2023-13-14T22:13:20Z", &ms));
}

}  // namespace
}  // namespace ae
