// Device identifiers of the Knox CSV (spec samsung-kme.md §1.4 step 4).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "adapters/samsung_knox/identifiers.h"
#include "tests/support/test_support.h"

namespace ae::kme {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Parses `cell` and expects exactly one identifier.
Identifier One(std::string_view cell, IdentifierColumn column = IdentifierColumn::kAny) {
  Result<std::vector<Identifier>> ids = ParseIdentifierCell(cell, column);
  EXPECT_THAT(ids, IsOk()) << cell;
  if (!ids.ok() || ids->size() != 1) {
    ADD_FAILURE() << "expected one identifier from " << cell;
    return {};
  }
  return ids->front();
}

TEST(KnoxIdentifiers, LuhnAcceptsKnownImeisAndRejectsAChangedDigit) {
  EXPECT_TRUE(IsLuhnValid("490154203237518"));
  EXPECT_TRUE(IsLuhnValid("350925370583126"));
  EXPECT_TRUE(IsLuhnValid("350925370583134"));
  EXPECT_FALSE(IsLuhnValid("490154203237519"));
  EXPECT_FALSE(IsLuhnValid("35092537058312X"));
  EXPECT_FALSE(IsLuhnValid(""));
}

TEST(KnoxIdentifiers, CheckDigitOfFourteenDigits) {
  EXPECT_EQ(ImeiCheckDigit("49015420323751"), '8');
  EXPECT_EQ(ImeiCheckDigit("35092537058312"), '6');
  EXPECT_EQ(ImeiCheckDigit("35876543210987"), '0');
}

TEST(KnoxIdentifiers, FifteenDigitsIsAnImei) {
  const Identifier id = One("350925370583126");
  EXPECT_EQ(id.kind, IdentifierKind::kImei);
  EXPECT_EQ(id.value, "350925370583126");
  EXPECT_FALSE(id.check_digit_computed);
  EXPECT_TRUE(id.check_digit_valid);
}

TEST(KnoxIdentifiers, FourteenDigitsGetsItsCheckDigit) {
  const Identifier id = One("35092537058312");
  EXPECT_EQ(id.kind, IdentifierKind::kImei);
  EXPECT_EQ(id.value, "350925370583126");
  EXPECT_TRUE(id.check_digit_computed);
  EXPECT_EQ(DeviceIdentity::Imei14(id.value), "35092537058312");
}

TEST(KnoxIdentifiers, BadCheckDigitIsKeptAndFlagged) {
  const Identifier id = One("350925370583127");
  EXPECT_EQ(id.value, "350925370583127");
  EXPECT_FALSE(id.check_digit_valid);
}

TEST(KnoxIdentifiers, FormattingAndSpreadsheetTextProtectionAreRemoved) {
  EXPECT_EQ(One("35-209900-176148-1").value, "352099001761481");
  EXPECT_EQ(One(" 3509 2537 0583 126 ").value, "350925370583126");
  EXPECT_EQ(One("'350925370583126").value, "350925370583126");
  EXPECT_EQ(One("=\"350925370583126\"").value, "350925370583126");
  EXPECT_EQ(One("350925370583126\xC2\xA0").value, "350925370583126");  // NO-BREAK SPACE
}

TEST(KnoxIdentifiers, ScientificNotationIsRejectedNeverReconstructed) {
  for (const char* mangled : {"3.50925E+14", "3.50925e+14", "3,50925E+14", "3E+14"}) {
    Result<std::vector<Identifier>> ids = ParseIdentifierCell(mangled, IdentifierColumn::kAny);
    EXPECT_THAT(ids, StatusIs(StatusCode::kInvalidArgument, "csv.imei_scientific_notation"))
        << mangled;
    EXPECT_THAT(ids.status().message(), HasSubstr("scientific notation"));
  }
  EXPECT_THAT(ParseIdentifierCell("3.50925E+14", IdentifierColumn::kImeiOnly),
              StatusIs(StatusCode::kInvalidArgument, "csv.imei_scientific_notation"));
  EXPECT_THAT(ParseIdentifierCell("3.5E+14", IdentifierColumn::kSerialOnly),
              StatusIs(StatusCode::kInvalidArgument, "csv.imei_scientific_notation"));
}

TEST(KnoxIdentifiers, ScientificNotationDetector) {
  EXPECT_TRUE(IsScientificNotation("3.50925E+14"));
  EXPECT_TRUE(IsScientificNotation("1E+5"));
  EXPECT_FALSE(IsScientificNotation("350925370583126"));
  EXPECT_FALSE(IsScientificNotation("R58M12ABCDE"));
  EXPECT_FALSE(IsScientificNotation("3.E+14"));
  EXPECT_FALSE(IsScientificNotation("35.5E+14"));  // more than one leading digit
  EXPECT_FALSE(IsScientificNotation("3.5E14X"));
}

TEST(KnoxIdentifiers, MeidIsFourteenHexWithALetterInUpperCase) {
  const Identifier id = One("a0000012345678");
  EXPECT_EQ(id.kind, IdentifierKind::kMeid);
  EXPECT_EQ(id.value, "A0000012345678");
}

TEST(KnoxIdentifiers, SerialIsEightToTwentyAlphanumericsInUpperCase) {
  const Identifier id = One("r58m12abcde");
  EXPECT_EQ(id.kind, IdentifierKind::kSerial);
  EXPECT_EQ(id.value, "R58M12ABCDE");
  EXPECT_THAT(ParseIdentifierCell("R58M1", IdentifierColumn::kAny),
              StatusIs(StatusCode::kInvalidArgument, "csv.identifier_invalid"));
  EXPECT_THAT(ParseIdentifierCell("R58M12ABCDE#", IdentifierColumn::kAny),
              StatusIs(StatusCode::kInvalidArgument, "csv.identifier_invalid"));
  EXPECT_THAT(ParseIdentifierCell(std::string(21, 'A'), IdentifierColumn::kSerialOnly),
              StatusIs(StatusCode::kInvalidArgument, "csv.serial_invalid"));
}

TEST(KnoxIdentifiers, DualImeiCellGivesBothImeis) {
  for (const char* cell : {"350925370583126/350925370583134", "350925370583126 ; 350925370583134",
                           "350925370583126,35092537058313"}) {
    Result<std::vector<Identifier>> ids = ParseIdentifierCell(cell, IdentifierColumn::kAny);
    ASSERT_THAT(ids, IsOk()) << cell;
    ASSERT_EQ(ids->size(), 2u) << cell;
    EXPECT_EQ((*ids)[0].value, "350925370583126");
    EXPECT_EQ((*ids)[1].value, "350925370583134");
  }
  EXPECT_THAT(ParseIdentifierCell("350925370583126/350925370583134/490154203237518",
                                  IdentifierColumn::kAny),
              StatusIs(StatusCode::kInvalidArgument, "csv.too_many_imeis"));
}

TEST(KnoxIdentifiers, ImeiColumnRefusesASerial) {
  EXPECT_THAT(ParseIdentifierCell("R58M12ABCDE", IdentifierColumn::kImeiOnly),
              StatusIs(StatusCode::kInvalidArgument, "csv.imei_invalid"));
}

TEST(KnoxIdentifiers, BlankCellIsNoIdentifier) {
  Result<std::vector<Identifier>> ids = ParseIdentifierCell("  ", IdentifierColumn::kAny);
  ASSERT_THAT(ids, IsOk());
  EXPECT_THAT(*ids, IsEmpty());
}

TEST(KnoxIdentifiers, IdentityFillsSlotsAndMatchesOnFourteenDigits) {
  DeviceIdentity identity;
  ASSERT_THAT(identity.Add(One("350925370583126")), IsOk());
  ASSERT_THAT(identity.Add(One("35092537058312")), IsOk());  // same IMEI, 14-digit form
  ASSERT_THAT(identity.Add(One("350925370583134")), IsOk());
  ASSERT_THAT(identity.Add(One("R58M12ABCDE", IdentifierColumn::kSerialOnly)), IsOk());
  EXPECT_EQ(identity.imei, "350925370583126");
  EXPECT_EQ(identity.imei2, "350925370583134");
  EXPECT_EQ(identity.serial, "R58M12ABCDE");
  EXPECT_THAT(identity.MatchKeys(),
              ElementsAre("imei:35092537058312", "imei:35092537058313", "serial:R58M12ABCDE"));
}

TEST(KnoxIdentifiers, IdentityRefusesAThirdImeiAndASecondSerial) {
  DeviceIdentity identity;
  ASSERT_THAT(identity.Add(One("350925370583126")), IsOk());
  ASSERT_THAT(identity.Add(One("350925370583134")), IsOk());
  EXPECT_THAT(identity.Add(One("490154203237518")),
              StatusIs(StatusCode::kInvalidArgument, "csv.too_many_imeis"));
  ASSERT_THAT(identity.Add(One("R58M12ABCDE")), IsOk());
  EXPECT_THAT(identity.Add(One("R58M12ABCDF")),
              StatusIs(StatusCode::kInvalidArgument, "csv.identifier_conflict"));
  EXPECT_EQ(identity.serial, "R58M12ABCDE");
}

TEST(KnoxIdentifiers, SecondImeiHintFillsImei2First) {
  DeviceIdentity identity;
  ASSERT_THAT(identity.Add(One("350925370583134"), /*second_imei=*/true), IsOk());
  EXPECT_EQ(identity.imei, "");
  EXPECT_EQ(identity.imei2, "350925370583134");
}

}  // namespace
}  // namespace ae::kme
