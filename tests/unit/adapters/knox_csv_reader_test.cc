// The Knox portal device CSV reader: every test vector of spec samsung-kme.md §1.4, the
// encodings and dialects of real files, rejections, file-level errors and streaming.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "adapters/samsung_knox/csv_reader.h"
#include "tests/support/test_support.h"

namespace ae::kme {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

// What a file reads as.
struct Parsed {
  Status status;  // the file-level outcome
  std::vector<KnoxCsvRecord> records;
  std::vector<KnoxCsvColumn> columns;
  bool has_header = false;
  char delimiter = 0;
  KnoxCsvEncoding encoding = KnoxCsvEncoding::kUndetected;
  KnoxCsvStats stats;

  const KnoxCsvRow& row(size_t i) const {
    static const KnoxCsvRow kNone;
    if (i >= records.size() || !std::holds_alternative<KnoxCsvRow>(records[i])) {
      ADD_FAILURE() << "record " << i << " is not an accepted row";
      return kNone;
    }
    return std::get<KnoxCsvRow>(records[i]);
  }
  const KnoxCsvRejection& rejection(size_t i) const {
    static const KnoxCsvRejection kNone;
    if (i >= records.size() || !std::holds_alternative<KnoxCsvRejection>(records[i])) {
      ADD_FAILURE() << "record " << i << " is not a rejection";
      return kNone;
    }
    return std::get<KnoxCsvRejection>(records[i]);
  }
};

// Feeds `file` in chunks of `chunk` bytes (0: all at once), draining after every chunk as
// the importer does.
Parsed ParseChunked(std::string_view file, size_t chunk, KnoxCsvOptions options = {}) {
  Parsed p;
  KnoxCsvReader reader(options);
  auto sink = [&](KnoxCsvRecord&& r) {
    p.records.push_back(std::move(r));
    return Status::Ok();
  };
  const size_t step = chunk == 0 ? std::max<size_t>(file.size(), 1) : chunk;
  for (size_t at = 0; at < file.size() && p.status.ok(); at += step) {
    p.status = reader.Feed(file.substr(at, step));
    if (p.status.ok()) p.status = reader.Drain(sink);
  }
  if (p.status.ok()) p.status = reader.Finish();
  if (p.status.ok()) p.status = reader.Drain(sink);
  if (p.status.ok()) {
    EXPECT_TRUE(reader.done());
  }
  p.columns = reader.columns();
  p.has_header = reader.has_header();
  p.delimiter = reader.delimiter();
  p.encoding = reader.encoding();
  p.stats = reader.stats();
  return p;
}

// Parses `file` whole, and checks that byte-by-byte and 5-byte chunking read it the same.
Parsed Parse(std::string_view file, KnoxCsvOptions options = {}) {
  Parsed whole = ParseChunked(file, 0, options);
  for (size_t chunk : {1, 5}) {
    Parsed split = ParseChunked(file, chunk, options);
    EXPECT_EQ(split.status.ToString(), whole.status.ToString()) << "chunk " << chunk;
    EXPECT_TRUE(split.records == whole.records) << "chunk " << chunk << " reads differently";
    EXPECT_EQ(split.columns, whole.columns) << "chunk " << chunk;
  }
  return whole;
}

std::string Utf16(std::u16string_view text, bool little_endian, bool bom) {
  std::string out;
  auto put = [&](char16_t u) {
    const char hi = static_cast<char>(u >> 8), lo = static_cast<char>(u & 0xFF);
    out.push_back(little_endian ? lo : hi);
    out.push_back(little_endian ? hi : lo);
  };
  if (bom) put(0xFEFF);
  for (char16_t u : text) put(u);
  return out;
}

// ---- spec §1.4 test vectors ---------------------------------------------------------------

TEST(KnoxCsvSpecVectors, BomPlusCrlfFile) {
  const Parsed p = Parse(
      "\xEF\xBB\xBFIMEI/MEID,Serial number,Model\r\n"
      "350925370583126,R58M12ABCDE,SM-G991B\r\n"
      "490154203237518,R58M12ABCDF,SM-A525F\r\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.encoding, KnoxCsvEncoding::kUtf8Bom);
  EXPECT_TRUE(p.has_header);
  EXPECT_EQ(p.columns[0].header, "IMEI/MEID");  // no BOM left in the first header cell
  EXPECT_EQ(p.columns[0].field, KnoxCsvField::kImei);
  ASSERT_EQ(p.records.size(), 2u);
  EXPECT_EQ(p.row(0).line, 2u);
  EXPECT_EQ(p.row(0).identifiers.imei, "350925370583126");
  EXPECT_EQ(p.row(0).identifiers.serial, "R58M12ABCDE");
  EXPECT_EQ(p.row(0).model, "SM-G991B");  // no stray CR
  EXPECT_EQ(p.row(1).line, 3u);
  EXPECT_EQ(p.row(1).model, "SM-A525F");
  EXPECT_EQ(p.stats.lines, 3u);
}

TEST(KnoxCsvSpecVectors, SemicolonDelimitedFile) {
  const Parsed p = Parse(
      "IMEI/MEID;Model;Tags\n"
      "350925370583126;SM-G991B;sales,berlin\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.delimiter, ';');
  ASSERT_EQ(p.records.size(), 1u);
  EXPECT_EQ(p.row(0).identifiers.imei, "350925370583126");
  EXPECT_EQ(p.row(0).model, "SM-G991B");
  EXPECT_THAT(p.row(0).tags, ElementsAre("sales", "berlin"));
}

TEST(KnoxCsvSpecVectors, TagsCellTag1SpaceCommaTag2) {
  const Parsed p = Parse(
      "IMEI,Tags\n"
      "350925370583126,\"tag 1 ,tag 2\"\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_THAT(p.row(0).tags, ElementsAre("tag 1", "tag 2"));
}

TEST(KnoxCsvSpecVectors, Imei3_50925EPlus14IsRejectedAndLaterRowsStillRead) {
  const Parsed p = Parse(
      "IMEI/MEID,Model\n"
      "3.50925E+14,SM-G991B\n"
      "350925370583134,SM-G991B\n");
  ASSERT_THAT(p.status, IsOk());
  ASSERT_EQ(p.records.size(), 2u);
  const KnoxCsvRejection& r = p.rejection(0);
  EXPECT_EQ(r.line, 2u);
  EXPECT_EQ(r.code, "csv.imei_scientific_notation");
  EXPECT_EQ(r.field, "imei");
  EXPECT_THAT(r.message, HasSubstr("IMEI/MEID"));    // names the column as written
  EXPECT_THAT(r.message, HasSubstr("3.50925E+14"));  // and the value
  EXPECT_EQ(p.row(1).line, 3u);
  EXPECT_EQ(p.row(1).identifiers.imei, "350925370583134");
  EXPECT_EQ(p.stats.rows_accepted, 1u);
  EXPECT_EQ(p.stats.rows_rejected, 1u);
}

TEST(KnoxCsvSpecVectors, FourteenDigitImei) {
  const Parsed p = Parse(
      "IMEI,Model\n"
      "35092537058312,SM-G991B\n");
  ASSERT_THAT(p.status, IsOk());
  const DeviceIdentity& id = p.row(0).identifiers;
  EXPECT_EQ(id.imei, "350925370583126");  // check digit computed
  EXPECT_EQ(DeviceIdentity::Imei14(id.imei), "35092537058312");
  EXPECT_THAT(p.row(0).warnings, IsEmpty());
}

TEST(KnoxCsvSpecVectors, DualImeiCell) {
  const Parsed p = Parse(
      "IMEI/MEID,Model\n"
      "350925370583126/350925370583134,SM-G991B\n"
      "\"490154203237518; 352099001761481\",SM-G991B\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.row(0).identifiers.imei, "350925370583126");
  EXPECT_EQ(p.row(0).identifiers.imei2, "350925370583134");
  EXPECT_EQ(p.row(1).identifiers.imei, "490154203237518");
  EXPECT_EQ(p.row(1).identifiers.imei2, "352099001761481");
}

TEST(KnoxCsvSpecVectors, DualImeiInAnImei2Column) {
  const Parsed p = Parse(
      "IMEI,IMEI 2\n"
      "350925370583126,350925370583134\n"
      ",490154203237518\n"
      "350925370583126,R58M12ABCDE\n",
      KnoxCsvOptions{.reject_duplicates = false});
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.row(0).identifiers.imei, "350925370583126");
  EXPECT_EQ(p.row(0).identifiers.imei2, "350925370583134");
  EXPECT_EQ(p.row(1).identifiers.imei2, "490154203237518");
  EXPECT_EQ(p.rejection(2).code, "csv.imei_invalid");
  EXPECT_EQ(p.rejection(2).field, "imei2");
  EXPECT_THAT(p.rejection(2).message, HasSubstr("IMEI 2"));
}

TEST(KnoxCsvSpecVectors, MeidA0000012345678) {
  const Parsed p = Parse(
      "IMEI/MEID,Model\n"
      "a0000012345678,SM-T505\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.row(0).identifiers.meid, "A0000012345678");
  EXPECT_EQ(p.row(0).identifiers.imei, "");
  EXPECT_THAT(p.row(0).identifiers.MatchKeys(), ElementsAre("meid:A0000012345678"));
}

TEST(KnoxCsvSpecVectors, SerialOnlyTabletRow) {
  const Parsed p = Parse(
      "IMEI/MEID,Serial number,Model\n"
      ",r52n80abcde,SM-X200\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_TRUE(p.row(0).identifiers.imei.empty());
  EXPECT_EQ(p.row(0).identifiers.serial, "R52N80ABCDE");
  EXPECT_EQ(p.row(0).model, "SM-X200");
}

TEST(KnoxCsvSpecVectors, UnknownExtraColumnIsKeptAsAttribute) {
  const Parsed p = Parse(
      "IMEI,Model,Cost centre,Asset tag\n"
      "350925370583126,SM-G991B,CC-42,\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.columns[2].field, KnoxCsvField::kAttribute);
  EXPECT_THAT(p.row(0).attributes,
              ElementsAre(Pair("Cost centre", "CC-42"), Pair("Asset tag", "")));
}

TEST(KnoxCsvSpecVectors, HeaderlessFiveColumnAssignFile) {
  const Parsed p = Parse(
      "350925370583126,Field Sales,alex_doe@example.com,S3cr;et,\"sales,berlin\"\n"
      "35092537058313,Warehouse,,,\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_FALSE(p.has_header);
  ASSERT_EQ(p.records.size(), 2u);
  const KnoxCsvRow& a = p.row(0);
  EXPECT_EQ(a.line, 1u);  // no header: the first line is data
  EXPECT_EQ(a.identifiers.imei, "350925370583126");
  EXPECT_EQ(a.profile_name, "Field Sales");
  EXPECT_EQ(a.user_id, "alex_doe@example.com");
  EXPECT_EQ(a.password, "S3cr;et");
  EXPECT_THAT(a.tags, ElementsAre("sales", "berlin"));
  const KnoxCsvRow& b = p.row(1);
  EXPECT_EQ(b.line, 2u);
  EXPECT_EQ(b.identifiers.imei, "350925370583134");
  EXPECT_EQ(b.profile_name, "Warehouse");
  EXPECT_EQ(b.user_id, "");
  EXPECT_THAT(b.tags, IsEmpty());
}

TEST(KnoxCsvSpecVectors, CancelledByUserAndCanceledByUser) {
  const Parsed p = Parse(
      "IMEI,Status\n"
      "350925370583126,Cancelled by user\n"
      "350925370583134,Canceled by user\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.row(0).status, KmeDeviceStatus::kCanceledByUser);
  EXPECT_EQ(p.row(0).status_raw, "Cancelled by user");
  EXPECT_EQ(p.row(1).status, KmeDeviceStatus::kCanceledByUser);
  EXPECT_EQ(p.row(1).status_raw, "Canceled by user");
}

// ---- real files --------------------------------------------------------------------------

TEST(KnoxCsvPortalExport, CurrentGenerationWithBomAndCrlf) {
  const Parsed p = Parse(
      "\xEF\xBB\xBFIMEI/MEID,OS Version,Serial number,Order number,Wi-Fi: Device MAC address,"
      "Model,EMM User ID,Tags,Submitted,Enrollment profile,Status,EMM auto-enrollment\r\n"
      "350925370583126,14,R58M12ABCDE,PO-7781,a1:b2:c3:d4:e5:f6,SM-G991B,alex_doe,"
      "\"sales, berlin\",2024-03-15 10:20:30,Field Sales,Enrolled,On\r\n"
      "350925370583134,13,R58M12ABCDF,PO-7781,,SM-A525F,,,2024-03-16T08:00:00Z,,Pending,-\r\n");
  ASSERT_THAT(p.status, IsOk());
  ASSERT_EQ(p.columns.size(), 12u);
  for (const KnoxCsvColumn& c : p.columns) {
    EXPECT_NE(c.field, KnoxCsvField::kAttribute) << c.header << " was not recognised";
  }
  const KnoxCsvRow& r = p.row(0);
  EXPECT_EQ(r.identifiers.imei, "350925370583126");
  EXPECT_EQ(r.os_version, "14");
  EXPECT_EQ(r.identifiers.serial, "R58M12ABCDE");
  EXPECT_EQ(r.order_number, "PO-7781");
  EXPECT_EQ(r.wifi_mac, "A1B2C3D4E5F6");
  EXPECT_EQ(r.model, "SM-G991B");
  EXPECT_EQ(r.user_id, "alex_doe");
  EXPECT_THAT(r.tags, ElementsAre("sales", "berlin"));
  EXPECT_EQ(r.submitted.raw, "2024-03-15 10:20:30");
  EXPECT_EQ(r.submitted.epoch_ms, 1710498030000);
  EXPECT_EQ(r.profile_name, "Field Sales");
  EXPECT_EQ(r.status, KmeDeviceStatus::kEnrolled);
  EXPECT_EQ(r.emm_auto_enroll, true);
  EXPECT_THAT(r.warnings, IsEmpty());
  EXPECT_EQ(p.row(1).status, KmeDeviceStatus::kPending);
  EXPECT_EQ(p.row(1).emm_auto_enroll, std::nullopt);
  EXPECT_EQ(p.row(1).submitted.epoch_ms, 1710576000000);
}

TEST(KnoxCsvPortalExport, EveryCellQuotedAfterABom) {
  // Java and JS exporters often quote every cell: the BOM then sits before a quote.
  const Parsed p = Parse(
      "\xEF\xBB\xBF\"IMEI/MEID\",\"Model\"\r\n"
      "\"350925370583126\",\"SM-G991B\"\r\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_TRUE(p.has_header);
  EXPECT_EQ(p.columns[0].header, "IMEI/MEID");
  EXPECT_EQ(p.row(0).identifiers.imei, "350925370583126");
  EXPECT_EQ(p.row(0).model, "SM-G991B");
}

TEST(KnoxCsvPortalExport, LegacyGenerationColumns) {
  const Parsed p = Parse(
      "IMEI,Serial number,Order number,Order date,Model,User ID,Tags,Submitted date,Profile,"
      "Status,Reseller ID,Reseller name,Last modified admin,Last modified time\n"
      "350925370583126,R58M12ABCDE,O-1,03/15/2024,SM-G960F,jdoe,NFC,03/16/2024 1:05 PM,"
      "Corp,Provisioned,RS-9,Acme Mobile,admin@example.com,1710595500000\n");
  ASSERT_THAT(p.status, IsOk());
  const KnoxCsvRow& r = p.row(0);
  EXPECT_EQ(r.order_date.epoch_ms, 1710460800000);
  EXPECT_EQ(r.user_id, "jdoe");
  EXPECT_TRUE(r.added_by_deployment_app);  // the NFC tag of the Knox Deployment App
  EXPECT_EQ(r.submitted.epoch_ms, 1710594300000);
  EXPECT_EQ(r.profile_name, "Corp");
  EXPECT_EQ(r.status, KmeDeviceStatus::kEnrolled);
  EXPECT_EQ(r.reseller_id, "RS-9");
  EXPECT_EQ(r.reseller_name, "Acme Mobile");
  EXPECT_EQ(r.modified_by, "admin@example.com");
  EXPECT_EQ(r.modified_at.epoch_ms, 1710595500000);
  EXPECT_THAT(r.attributes, IsEmpty());
}

TEST(KnoxCsvPortalExport, EuropeanSpreadsheetResaveWithSemicolonsAndWindows1252) {
  // Excel (German locale) "CSV (Trennzeichen-getrennt)": ';', CRLF, Windows-1252, dates
  // DD.MM.YYYY, and the IMEI column it was allowed to turn into a number.
  const Parsed p = Parse(
      "IMEI/MEID;Seriennummer;Model;Tags;Submitted\r\n"
      "350925370583126;x;SM-G991B;Vertrieb, M\xFCnchen;15.03.2024\r\n"
      "3,50925E+14;x;SM-G991B;;15.03.2024\r\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.delimiter, ';');
  EXPECT_EQ(p.columns[1].field, KnoxCsvField::kAttribute);  // a header we do not know
  const KnoxCsvRow& r = p.row(0);
  EXPECT_THAT(r.tags, ElementsAre("Vertrieb", "M\xC3\xBCnchen"));  // read as Windows-1252
  EXPECT_EQ(r.submitted.epoch_ms, 1710460800000);
  EXPECT_THAT(r.attributes, ElementsAre(Pair("Seriennummer", "x")));
  EXPECT_EQ(p.rejection(1).code, "csv.imei_scientific_notation");
  EXPECT_EQ(p.rejection(1).line, 3u);
}

TEST(KnoxCsvEncodings, Utf16LittleEndianWithBomAndTabs) {
  // Excel "Unicode text": UTF-16LE with BOM, TAB separated, CRLF. A name outside the BMP
  // exercises surrogate pairs; 1-byte chunks split every code unit.
  const std::string file = Utf16(
      u"IMEI\tDevice name\tUser name\r\n"
      u"350925370583126\tPhone \U0001F4F1\tZo\u00EB\r\n",
      /*little_endian=*/true, /*bom=*/true);
  const Parsed p = Parse(file);
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.encoding, KnoxCsvEncoding::kUtf16Le);
  EXPECT_EQ(p.delimiter, '\t');
  EXPECT_EQ(p.row(0).identifiers.imei, "350925370583126");
  EXPECT_EQ(p.row(0).device_name, "Phone \xF0\x9F\x93\xB1");
  EXPECT_EQ(p.row(0).user_id, "Zo\xC3\xAB");
}

TEST(KnoxCsvEncodings, Utf16BigEndianWithBom) {
  const Parsed p = Parse(Utf16(u"Serial number,Model\n R58M12ABCDE ,SM-T505\n",
                               /*little_endian=*/false, /*bom=*/true));
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.encoding, KnoxCsvEncoding::kUtf16Be);
  EXPECT_EQ(p.row(0).identifiers.serial, "R58M12ABCDE");
  EXPECT_EQ(p.row(0).model, "SM-T505");
}

TEST(KnoxCsvEncodings, Utf16WithoutBomIsRecognisedFromNulBytes) {
  const Parsed p = Parse(Utf16(u"IMEI\n350925370583126\n", /*little_endian=*/true,
                               /*bom=*/false));
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.encoding, KnoxCsvEncoding::kUtf16Le);
  EXPECT_EQ(p.row(0).identifiers.imei, "350925370583126");
}

TEST(KnoxCsvEncodings, Utf16CutMidCharacterMarksTheLastCellAsBroken) {
  // A truncated upload: the last UTF-16 code unit is missing a byte. The damaged cell
  // reads as U+FFFD and the row is rejected rather than accepted with a cut identifier.
  const Parsed p = Parse(Utf16(u"IMEI\n350925370583126\n35092537058313", true, true) + "4");
  ASSERT_THAT(p.status, IsOk());
  ASSERT_EQ(p.records.size(), 2u);
  EXPECT_EQ(p.row(0).identifiers.imei, "350925370583126");
  EXPECT_EQ(p.rejection(1).code, "csv.identifier_invalid");
  EXPECT_EQ(p.rejection(1).line, 3u);
}

TEST(KnoxCsvEncodings, Windows1252CellsAreReadWhenNotUtf8) {
  const Parsed p = Parse(
      "IMEI,User name,Tags,Device name\n"
      "350925370583126,J\xFCrgen,Caf\xE9 \x80,Zo\xC3\xAB\n");  // last cell is valid UTF-8
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.encoding, KnoxCsvEncoding::kUtf8);
  EXPECT_EQ(p.row(0).user_id, "J\xC3\xBCrgen");
  EXPECT_THAT(p.row(0).tags, ElementsAre("Caf\xC3\xA9 \xE2\x82\xAC"));
  EXPECT_EQ(p.row(0).device_name, "Zo\xC3\xAB");
  EXPECT_EQ(p.stats.windows1252_cells, 2u);
}

// ---- quoting and lines -------------------------------------------------------------------

TEST(KnoxCsvQuoting, EmbeddedNewlinesAndDoubledQuotes) {
  const Parsed p = Parse(
      "IMEI,Notes,Model\n"
      "350925370583126,\"line one\r\nline two \"\"quoted\"\"\",SM-G991B\n"
      "350925370583134,\"a, b\",SM-A525F\n");
  ASSERT_THAT(p.status, IsOk());
  ASSERT_EQ(p.records.size(), 2u);
  EXPECT_EQ(p.row(0).line, 2u);
  EXPECT_THAT(p.row(0).attributes, ElementsAre(Pair("Notes", "line one\nline two \"quoted\"")));
  EXPECT_EQ(p.row(0).model, "SM-G991B");
  EXPECT_EQ(p.row(1).line, 4u);  // the record above spans lines 2 and 3
  EXPECT_THAT(p.row(1).attributes, ElementsAre(Pair("Notes", "a, b")));
}

TEST(KnoxCsvQuoting, LineNumbersCountBlankLinesAndCrOnlyBreaks) {
  const Parsed p = Parse("IMEI\r\r350925370583126\r\n\n350925370583134\r490154203237518");
  ASSERT_THAT(p.status, IsOk());
  ASSERT_EQ(p.records.size(), 3u);
  EXPECT_EQ(p.row(0).line, 3u);
  EXPECT_EQ(p.row(1).line, 5u);
  EXPECT_EQ(p.row(2).line, 6u);  // last line without a line break
  EXPECT_EQ(p.stats.lines, 6u);
  EXPECT_EQ(p.stats.blank_rows, 2u);
}

TEST(KnoxCsvQuoting, UnterminatedQuoteRejectsOneRowAndReadingResumes) {
  const Parsed p = Parse(
      "IMEI,Model\n"
      "350925370583126,\"SM-G991B\n"
      "350925370583134,SM-A525F\n");
  ASSERT_THAT(p.status, IsOk());
  ASSERT_EQ(p.records.size(), 2u);
  EXPECT_EQ(p.rejection(0).line, 2u);
  EXPECT_EQ(p.rejection(0).code, "csv.unterminated_quote");
  EXPECT_THAT(p.rejection(0).message, HasSubstr("line 2"));
  EXPECT_EQ(p.row(1).line, 3u);
  EXPECT_EQ(p.row(1).identifiers.imei, "350925370583134");
}

TEST(KnoxCsvQuoting, QuoteLeftOpenPastTheRecordLimitRejectsOneRowOnly) {
  std::string file = "IMEI,Model\n350925370583126,\"SM-G991B\n";
  for (int i = 0; i < 100; ++i) file += "35092537058312" + std::to_string(i % 10) + ",SM-A525F\n";
  KnoxCsvOptions options;
  options.max_record_bytes = 1024;
  options.reject_duplicates = false;
  const Parsed p = Parse(file, options);
  ASSERT_THAT(p.status, IsOk());
  ASSERT_EQ(p.records.size(), 101u);
  EXPECT_EQ(p.rejection(0).code, "csv.unterminated_quote");
  EXPECT_EQ(p.rejection(0).line, 2u);
  EXPECT_EQ(p.row(1).line, 3u);  // resumed on the line after the opening quote
  EXPECT_EQ(p.stats.rows_accepted, 100u);
}

TEST(KnoxCsvQuoting, OverlongLineIsRejectedAndTheNextLineRead) {
  KnoxCsvOptions options;
  options.max_record_bytes = 1024;
  const Parsed p = Parse(
      "IMEI,Notes\n"
      "350925370583126," +
          std::string(3000, 'x') +
          "\n"
          "350925370583134,short\n",
      options);
  ASSERT_THAT(p.status, IsOk());
  ASSERT_EQ(p.records.size(), 2u);
  EXPECT_EQ(p.rejection(0).code, "csv.record_too_large");
  EXPECT_EQ(p.rejection(0).line, 2u);
  EXPECT_EQ(p.row(1).line, 3u);
  // Fed in 100-byte chunks, the reader never holds much more than one record's limit.
  const Parsed chunked = ParseChunked(
      "IMEI,Notes\n350925370583126," + std::string(30000, 'x') + "\n350925370583134,short\n", 100,
      options);
  ASSERT_THAT(chunked.status, IsOk());
  EXPECT_EQ(chunked.records.size(), 2u);
  EXPECT_LT(chunked.stats.peak_buffered_bytes, 1024u + 2 * 100u + 64u);
}

// ---- rows --------------------------------------------------------------------------------

TEST(KnoxCsvRows, DuplicateRowsAreRejectedNamingTheFirstLine) {
  const Parsed p = Parse(
      "IMEI,IMEI2,Serial number,Model\n"
      "350925370583126,,R58M12ABCDE,SM-G991B\n"
      "490154203237518,,,SM-G991B\n"
      "350925370583126,,R58M12ABCDE,SM-G991B\n"     // the same row again
      "35092537058313,350925370583126,,SM-G991B\n"  // its IMEI as someone's IMEI2
      "352099001761481,,r58m12abcde,SM-G991B\n");   // its serial, other case
  ASSERT_THAT(p.status, IsOk());
  ASSERT_EQ(p.records.size(), 5u);
  EXPECT_EQ(p.row(0).line, 2u);
  EXPECT_EQ(p.row(1).line, 3u);
  for (size_t i : {2, 3, 4}) {
    EXPECT_EQ(p.rejection(i).code, "csv.duplicate_device") << i;
    EXPECT_THAT(p.rejection(i).message, HasSubstr("line 2")) << i;
  }
  EXPECT_EQ(p.rejection(4).field, "serial");
}

TEST(KnoxCsvRows, DuplicatesAreAcceptedWhenDetectionIsOff) {
  const Parsed p =
      Parse("IMEI\n350925370583126\n350925370583126\n", KnoxCsvOptions{.reject_duplicates = false});
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.stats.rows_accepted, 2u);
}

TEST(KnoxCsvRows, TagsAreSplitTrimmedAndDeduplicatedInOrder) {
  const Parsed p = Parse(
      "IMEI,Tags\n"
      "350925370583126,\"Sales, sales ,BERLIN,,Berlin; nfc,Sales\"\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_THAT(p.row(0).tags, ElementsAre("Sales", "BERLIN", "nfc"));
  EXPECT_TRUE(p.row(0).added_by_deployment_app);
}

TEST(KnoxCsvRows, RejectedRowsNeverBlockValidOnes) {
  const Parsed p = Parse(
      "IMEI/MEID,Serial number,Model\n"
      "350925370583126999999,,SM-G991B\n"  // 21 digits: not an identifier
      ",,SM-G991B\n"                       // no identifier at all
      "350925370583126,R58M12ABCDE,SM-G991B\n"
      "R58M12ABCDF,R58M12ABCDE,SM-G991B\n"  // two serials
      "350925370583134,,SM-A525F\n");
  ASSERT_THAT(p.status, IsOk());
  ASSERT_EQ(p.records.size(), 5u);
  EXPECT_EQ(p.rejection(0).code, "csv.identifier_invalid");
  EXPECT_THAT(p.rejection(0).message, HasSubstr("IMEI/MEID"));
  EXPECT_EQ(p.rejection(1).code, "csv.identifier_missing");
  EXPECT_THAT(p.rejection(1).message, HasSubstr("Serial number"));
  EXPECT_EQ(p.row(2).line, 4u);
  EXPECT_EQ(p.rejection(3).code, "csv.identifier_conflict");
  EXPECT_EQ(p.rejection(3).field, "serial");
  EXPECT_EQ(p.row(4).line, 6u);
}

TEST(KnoxCsvRows, CheckDigitMismatchWarnsByDefault) {
  const Parsed p = Parse("IMEI\n350925370583127\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.row(0).identifiers.imei, "350925370583127");
  ASSERT_EQ(p.row(0).warnings.size(), 1u);
  EXPECT_EQ(p.row(0).warnings[0].code, "csv.imei_check_digit_mismatch");
  EXPECT_EQ(p.row(0).warnings[0].field, "imei");
}

TEST(KnoxCsvRows, CheckDigitMismatchRejectsWhenConfigured) {
  const Parsed p = Parse("IMEI\n350925370583127\n", KnoxCsvOptions{.reject_bad_check_digit = true});
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.rejection(0).code, "csv.imei_check_digit_mismatch");
}

TEST(KnoxCsvRows, CellsBeyondTheHeaderBecomeNumberedAttributes) {
  const Parsed p = Parse("IMEI,Model\n350925370583126,SM-G991B,,spare\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_THAT(p.row(0).attributes, ElementsAre(Pair("column 4", "spare")));
}

TEST(KnoxCsvRows, UnknownStatusIsKeptVerbatimWithAWarning) {
  const Parsed p = Parse("IMEI,Status\n350925370583126,Exempted\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.row(0).status, KmeDeviceStatus::kUnknown);
  EXPECT_EQ(p.row(0).status_raw, "Exempted");
  ASSERT_EQ(p.row(0).warnings.size(), 1u);
  EXPECT_EQ(p.row(0).warnings[0].code, "csv.status_unknown");
}

// ---- header ------------------------------------------------------------------------------

TEST(KnoxCsvHeader, HeaderlessSingleColumnReadsColumnOneAsIdentifier) {
  const Parsed p = Parse("350925370583126\n35092537058313\nR58M12ABCDE\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_FALSE(p.has_header);
  ASSERT_EQ(p.records.size(), 3u);
  EXPECT_EQ(p.row(0).line, 1u);
  EXPECT_EQ(p.row(1).identifiers.imei, "350925370583134");
  EXPECT_EQ(p.row(2).identifiers.serial, "R58M12ABCDE");
}

TEST(KnoxCsvHeader, HeaderlessFileWithOtherWidthKeepsTheRestAsAttributes) {
  const Parsed p = Parse("3.50925E+14,PO-1\n350925370583134,PO-2\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_FALSE(p.has_header);
  EXPECT_EQ(p.rejection(0).code, "csv.imei_scientific_notation");
  EXPECT_EQ(p.rejection(0).line, 1u);
  EXPECT_THAT(p.row(1).attributes, ElementsAre(Pair("column 2", "PO-2")));
}

TEST(KnoxCsvHeader, SynonymsMatchIgnoringCaseSpacingAndPunctuation) {
  EXPECT_EQ(MatchKnoxCsvHeader("imei / meid"), KnoxCsvField::kImei);
  EXPECT_EQ(MatchKnoxCsvHeader(" Device IMEI or serial number "), KnoxCsvField::kImei);
  EXPECT_EQ(MatchKnoxCsvHeader("deviceUid"), KnoxCsvField::kImei);
  EXPECT_EQ(MatchKnoxCsvHeader("Second IMEI"), KnoxCsvField::kImei2);
  EXPECT_EQ(MatchKnoxCsvHeader("S/N"), KnoxCsvField::kSerial);
  EXPECT_EQ(MatchKnoxCsvHeader("SERIAL_NUMBER*"), KnoxCsvField::kSerial);
  EXPECT_EQ(MatchKnoxCsvHeader("Wi-Fi phone MAC address"), KnoxCsvField::kWifiMac);
  EXPECT_EQ(MatchKnoxCsvHeader("Order No."), KnoxCsvField::kOrderNumber);
  EXPECT_EQ(MatchKnoxCsvHeader("orderId"), KnoxCsvField::kOrderNumber);
  EXPECT_EQ(MatchKnoxCsvHeader("UserID"), KnoxCsvField::kUserId);
  EXPECT_EQ(MatchKnoxCsvHeader("Reseller upload time"), KnoxCsvField::kSubmitted);
  EXPECT_EQ(MatchKnoxCsvHeader("MDM profile"), KnoxCsvField::kProfile);
  EXPECT_EQ(MatchKnoxCsvHeader("State"), KnoxCsvField::kStatus);
  EXPECT_EQ(MatchKnoxCsvHeader("Reseller"), KnoxCsvField::kResellerName);
  EXPECT_EQ(MatchKnoxCsvHeader("Modified by"), KnoxCsvField::kModifiedBy);
  EXPECT_EQ(MatchKnoxCsvHeader("Updated"), KnoxCsvField::kModifiedAt);
  EXPECT_EQ(MatchKnoxCsvHeader("EMM auto-enrollment"), KnoxCsvField::kEmmAutoEnroll);
  EXPECT_EQ(MatchKnoxCsvHeader("EMM Password"), KnoxCsvField::kPassword);
  EXPECT_EQ(MatchKnoxCsvHeader("Android version"), KnoxCsvField::kOsVersion);
  EXPECT_EQ(MatchKnoxCsvHeader("Model name"), KnoxCsvField::kModel);
  EXPECT_EQ(MatchKnoxCsvHeader("Device name"), KnoxCsvField::kDeviceName);
  EXPECT_EQ(MatchKnoxCsvHeader("Tag"), KnoxCsvField::kTags);
  EXPECT_EQ(MatchKnoxCsvHeader("Cost centre"), std::nullopt);
  EXPECT_EQ(MatchKnoxCsvHeader(""), std::nullopt);
}

TEST(KnoxCsvHeader, IdentifierColumnAnywhereMakesAHeader) {
  const Parsed p = Parse("Asset,Serial number\nA-1,R58M12ABCDE\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_TRUE(p.has_header);
  EXPECT_EQ(p.row(0).identifiers.serial, "R58M12ABCDE");
  EXPECT_THAT(p.row(0).attributes, ElementsAre(Pair("Asset", "A-1")));
}

TEST(KnoxCsvHeader, SecondColumnForTheSameFieldIsAnAttribute) {
  const Parsed p = Parse("IMEI,Model,Model name\n350925370583126,SM-G991B,Galaxy S21\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.row(0).model, "SM-G991B");
  EXPECT_THAT(p.row(0).attributes, ElementsAre(Pair("Model name", "Galaxy S21")));
}

// ---- file-level errors -------------------------------------------------------------------

TEST(KnoxCsvFileErrors, EmptyFile) {
  EXPECT_THAT(Parse("").status, StatusIs(StatusCode::kUnprocessable, "csv.empty_file"));
  EXPECT_THAT(Parse("\xEF\xBB\xBF").status, StatusIs(StatusCode::kUnprocessable, "csv.empty_file"));
  EXPECT_THAT(Parse("\r\n ,, \n\n").status, StatusIs(StatusCode::kUnprocessable, "csv.empty_file"));
}

TEST(KnoxCsvFileErrors, UnrecognisedHeader) {
  const Parsed p = Parse("Foo,Bar\n1,2\n");
  EXPECT_THAT(p.status, StatusIs(StatusCode::kUnprocessable, "csv.header_unrecognised"));
  EXPECT_THAT(p.records, IsEmpty());
}

TEST(KnoxCsvFileErrors, HeaderWithoutIdentifierColumn) {
  const Parsed p = Parse("Model,Tags,Profile\nSM-G991B,a,b\n");
  EXPECT_THAT(p.status, StatusIs(StatusCode::kUnprocessable, "csv.no_identifier_column"));
  EXPECT_THAT(p.status.message(), HasSubstr("Model, Tags, Profile"));
}

TEST(KnoxCsvFileErrors, ErrorIsStickyAndFeedAfterFinishFails) {
  KnoxCsvReader reader;
  ASSERT_THAT(reader.Feed("Model,Tags\nSM-G991B,a\n"), IsOk());
  EXPECT_THAT(reader.Next(), StatusIs(StatusCode::kUnprocessable, "csv.no_identifier_column"));
  EXPECT_THAT(reader.Next(), StatusIs(StatusCode::kUnprocessable, "csv.no_identifier_column"));
  EXPECT_THAT(reader.Feed("more"),
              StatusIs(StatusCode::kUnprocessable, "csv.no_identifier_column"));

  KnoxCsvReader finished;
  ASSERT_THAT(finished.Finish(), IsOk());
  EXPECT_THAT(finished.Feed("IMEI\n"),
              StatusIs(StatusCode::kFailedPrecondition, "csv.reader_finished"));
}

TEST(KnoxCsvFileErrors, HeaderOnlyFileHasNoRowsAndNoError) {
  const Parsed p = Parse("IMEI/MEID,Model\r\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_THAT(p.records, IsEmpty());
  EXPECT_TRUE(p.has_header);
}

TEST(KnoxCsvFileErrors, InvalidOptions) {
  KnoxCsvReader reader(KnoxCsvOptions{.max_record_bytes = 10});
  EXPECT_THAT(reader.Feed("IMEI\n"), StatusIs(StatusCode::kInvalidArgument, "csv.options_invalid"));
}

// ---- streaming ---------------------------------------------------------------------------

TEST(KnoxCsvStreaming, RecordsArriveAsSoonAsTheirLineIsComplete) {
  KnoxCsvReader reader;
  ASSERT_THAT(reader.Feed("IMEI,Model\n3509253705831"), IsOk());
  Result<std::optional<KnoxCsvRecord>> next = reader.Next();
  ASSERT_THAT(next, IsOk());
  EXPECT_FALSE(next->has_value());  // header read, row incomplete: feed more
  ASSERT_THAT(reader.Feed("26,SM-G991B\n"), IsOk());
  next = reader.Next();
  ASSERT_THAT(next, IsOk());
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ(std::get<KnoxCsvRow>(**next).identifiers.imei, "350925370583126");
  EXPECT_FALSE(reader.done());
  ASSERT_THAT(reader.Finish(), IsOk());
  next = reader.Next();
  ASSERT_THAT(next, IsOk());
  EXPECT_FALSE(next->has_value());
  EXPECT_TRUE(reader.done());
}

TEST(KnoxCsvStreaming, EveryChunkSizeReadsTheSame) {
  const std::string file =
      "\xEF\xBB\xBFIMEI/MEID;Serial number;Tags;Notes\r\n"
      "350925370583126;R58M12ABCDE;\"a;b\";\"x\r\ny\"\r\n"
      "\r\n"
      "3,50925E+14;;;\r\n"
      "A0000012345678;;c;\"\"\"q\"\"\"\r"
      "350925370583134;;;M\xFC";
  const Parsed whole = ParseChunked(file, 0);
  ASSERT_THAT(whole.status, IsOk());
  ASSERT_EQ(whole.records.size(), 4u);
  for (size_t chunk = 1; chunk <= file.size(); ++chunk) {
    const Parsed split = ParseChunked(file, chunk);
    ASSERT_THAT(split.status, IsOk()) << chunk;
    EXPECT_TRUE(split.records == whole.records) << "chunk size " << chunk;
  }
}

// ---- field parsers -----------------------------------------------------------------------

TEST(KnoxCsvDates, KnownFormats) {
  EXPECT_EQ(ParseKnoxCsvDate("2024-03-15").epoch_ms, 1710460800000);
  EXPECT_EQ(ParseKnoxCsvDate("2024/03/15").epoch_ms, 1710460800000);
  EXPECT_EQ(ParseKnoxCsvDate("2024-03-15T10:20:30Z").epoch_ms, 1710498030000);
  EXPECT_EQ(ParseKnoxCsvDate("2024-03-15T10:20:30.250Z").epoch_ms, 1710498030250);
  EXPECT_EQ(ParseKnoxCsvDate("2024-03-15T12:20:30+02:00").epoch_ms, 1710498030000);
  EXPECT_EQ(ParseKnoxCsvDate("03/15/2024").epoch_ms, 1710460800000);
  EXPECT_EQ(ParseKnoxCsvDate("15/03/2024").epoch_ms, 1710460800000);
  EXPECT_EQ(ParseKnoxCsvDate("15.03.2024").epoch_ms, 1710460800000);
  EXPECT_EQ(ParseKnoxCsvDate("3/15/2024 1:05 PM").epoch_ms, 1710507900000);
  EXPECT_EQ(ParseKnoxCsvDate("20240315").epoch_ms, 1710460800000);
  EXPECT_EQ(ParseKnoxCsvDate("20241503").epoch_ms, 1710460800000);  // YYYYDDMM (§1.3)
  EXPECT_EQ(ParseKnoxCsvDate("1710460800000").epoch_ms, 1710460800000);
  EXPECT_EQ(ParseKnoxCsvDate(" 2024-03-15 ").raw, "2024-03-15");
}

TEST(KnoxCsvDates, AmbiguousAndUnreadableKeepTheRawText) {
  const KnoxCsvDate a = ParseKnoxCsvDate("03/04/2024");
  EXPECT_TRUE(a.ambiguous);
  EXPECT_EQ(a.epoch_ms, std::nullopt);
  EXPECT_EQ(a.raw, "03/04/2024");
  EXPECT_TRUE(ParseKnoxCsvDate("20240304").ambiguous);
  EXPECT_EQ(ParseKnoxCsvDate("04/04/2024").epoch_ms, 1712188800000);  // same either way
  const KnoxCsvDate b = ParseKnoxCsvDate("next Tuesday");
  EXPECT_FALSE(b.ambiguous);
  EXPECT_EQ(b.epoch_ms, std::nullopt);
  EXPECT_EQ(b.raw, "next Tuesday");
  EXPECT_EQ(ParseKnoxCsvDate("2024-02-30").epoch_ms, std::nullopt);
}

TEST(KnoxCsvDates, AmbiguousDateInARowWarns) {
  const Parsed p = Parse("IMEI,Order date\n350925370583126,03/04/2024\n");
  ASSERT_THAT(p.status, IsOk());
  EXPECT_EQ(p.row(0).order_date.raw, "03/04/2024");
  ASSERT_EQ(p.row(0).warnings.size(), 1u);
  EXPECT_EQ(p.row(0).warnings[0].code, "csv.date_ambiguous");
  EXPECT_THAT(p.row(0).warnings[0].message, HasSubstr("Order date"));
}

TEST(KnoxCsvStatuses, EverySpellingOfTheStatusTable) {
  EXPECT_EQ(ParseKmeDeviceStatus("Pending"), KmeDeviceStatus::kPending);
  EXPECT_EQ(ParseKmeDeviceStatus("Unassigned"), KmeDeviceStatus::kUnassigned);
  EXPECT_EQ(ParseKmeDeviceStatus("Failed to assign"), KmeDeviceStatus::kAssignFailed);
  EXPECT_EQ(ParseKmeDeviceStatus("Profile assigned"), KmeDeviceStatus::kProfileAssigned);
  EXPECT_EQ(ParseKmeDeviceStatus("CANCELED_BY_USER"), KmeDeviceStatus::kCanceledByUser);
  EXPECT_EQ(ParseKmeDeviceStatus("Failed to enroll"), KmeDeviceStatus::kEnrollFailed);
  EXPECT_EQ(ParseKmeDeviceStatus("Failed to provision"), KmeDeviceStatus::kEnrollFailed);
  EXPECT_EQ(ParseKmeDeviceStatus("Enrolled"), KmeDeviceStatus::kEnrolled);
  EXPECT_EQ(ParseKmeDeviceStatus("Provisioned"), KmeDeviceStatus::kEnrolled);
  EXPECT_EQ(ParseKmeDeviceStatus("Enrolled (restricted)"), KmeDeviceStatus::kEnrolledRestricted);
  EXPECT_EQ(ParseKmeDeviceStatus("Provision (restricted)"), KmeDeviceStatus::kEnrolledRestricted);
  EXPECT_EQ(ParseKmeDeviceStatus("Expired"), KmeDeviceStatus::kLicenseExpired);
  EXPECT_EQ(ParseKmeDeviceStatus("License expired"), KmeDeviceStatus::kLicenseExpired);
  EXPECT_EQ(ParseKmeDeviceStatus("Locked due to timeout"), KmeDeviceStatus::kLockedTimeout);
  EXPECT_EQ(ParseKmeDeviceStatus("Locked due to attestation failure"),
            KmeDeviceStatus::kLockedAttestation);
  EXPECT_EQ(ParseKmeDeviceStatus("Configured"), KmeDeviceStatus::kUnknown);
  EXPECT_EQ(ParseKmeDeviceStatus(" "), KmeDeviceStatus::kUnspecified);
}

TEST(KnoxCsvTags, SplitOnSemicolonOnlyWhenItIsNotTheDelimiter) {
  EXPECT_THAT(SplitKnoxTags("a;b,c", /*split_on_semicolon=*/true), ElementsAre("a", "b", "c"));
  EXPECT_THAT(SplitKnoxTags("a;b,c", /*split_on_semicolon=*/false), ElementsAre("a;b", "c"));
  EXPECT_THAT(SplitKnoxTags(" , ,", true), IsEmpty());
}

TEST(KnoxCsvTags, DeduplicationScalesPastManyTags) {
  std::string cell;
  for (int i = 0; i < 50; ++i) cell += "t" + std::to_string(i % 20) + ",";
  cell += "T3";
  const std::vector<std::string> tags = SplitKnoxTags(cell, true);
  ASSERT_EQ(tags.size(), 20u);
  EXPECT_EQ(tags.front(), "t0");
  EXPECT_EQ(tags.back(), "t19");
}

}  // namespace
}  // namespace ae::kme
