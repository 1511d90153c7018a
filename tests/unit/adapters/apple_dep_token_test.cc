// Server token (.p7m) decryption as the portal hands it out (apple-dep.md §1.2-1.5).

#include <cstring>
#include <fstream>
#include <sstream>

#include "adapters/apple_dep/server_identity.h"
#include "adapters/apple_dep/token.h"
#include "events/base/crypto.h"
#include "tests/support/test_support.h"

namespace ae::dep {
namespace {

constexpr char kSecretCs[] = "CS_5e3a7d0c9b1f42a8a6d0e4c2b7f91d3e";
constexpr char kSecretAs[] = "AS_91b2c3d4e5f60718293a4b5c6d7e8f90";

std::string TokenJson(const std::string& expiry = "2031-01-01T00:00:00Z") {
  return std::string(
             R"({"consumer_key":"CK_0a1b2c3d4e5f60718293a4b5c6d7e8f9","consumer_secret":")") +
         kSecretCs +
         R"(","access_token":"AT_O8812345678O0a1b2c3d4e5f6O8812345678","access_secret":")" +
         kSecretAs + R"(","access_token_expiry":")" + expiry + R"("})";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The base64 body of a MIME-wrapped token, decoded.
std::string CmsOf(const std::string& p7m) {
  size_t body = p7m.find("\n\n");
  auto der = crypto::FromBase64(p7m.substr(body + 2));
  return der.ok() ? *der : "";
}

class DepTokenFile : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ManualClock clock;
    identity_ = new ServerIdentity(std::move(ServerIdentity::Generate({}, clock)).value());
    stranger_ = new ServerIdentity(
        std::move(ServerIdentity::Generate({.common_name = "someone-else"}, clock)).value());
  }
  static void TearDownTestSuite() {
    delete identity_;
    delete stranger_;
  }

  Result<std::string> Produce(const std::string& json, TokenP7mOptions options = {}) {
    return ProduceTokenP7m(identity_->CertificatePem(), json, options);
  }

  void ExpectTheToken(const Result<DepToken>& t) {
    ASSERT_THAT(t, IsOk());
    EXPECT_EQ(t->consumer_key, "CK_0a1b2c3d4e5f60718293a4b5c6d7e8f9");
    EXPECT_EQ(t->consumer_secret, kSecretCs);
    EXPECT_EQ(t->access_token, "AT_O8812345678O0a1b2c3d4e5f6O8812345678");
    EXPECT_EQ(t->access_secret, kSecretAs);
    EXPECT_EQ(t->access_token_expiry, "2031-01-01T00:00:00Z");
    EXPECT_EQ(t->access_token_expiry_ms, 1'924'992'000'000);
  }

  static ServerIdentity* identity_;
  static ServerIdentity* stranger_;
  ManualClock clock_{1'700'000'000'000};  // 2023-11-14
};
ServerIdentity* DepTokenFile::identity_ = nullptr;
ServerIdentity* DepTokenFile::stranger_ = nullptr;

TEST_F(DepTokenFile, DecryptsApplesLayoutWithMessageMarkers) {
  auto p7m = Produce(TokenJson());
  ASSERT_THAT(p7m, IsOk());
  EXPECT_EQ(p7m->rfind("Content-Type: application/pkcs7-mime; name=\"smime.p7m\";", 0), 0u);
  EXPECT_NE(p7m->find("Content-Description: S/MIME Encrypted Message\n\nMIA"), std::string::npos);
  std::istringstream lines(p7m->substr(p7m->find("\n\n") + 2));
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 76u);
  ExpectTheToken(DecryptToken(*p7m, *identity_, clock_));
}

TEST_F(DepTokenFile, ProducesBerIndefiniteLengthEnvelopedDataWithAes128Cbc) {
  auto p7m = Produce(TokenJson());
  ASSERT_THAT(p7m, IsOk());
  std::string der = CmsOf(*p7m);
  ASSERT_GE(der.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(der[0]), 0x30);
  EXPECT_EQ(static_cast<unsigned char>(der[1]), 0x80) << "not indefinite length";
  const std::string aes128cbc_oid("\x06\x09\x60\x86\x48\x01\x65\x03\x04\x01\x02", 11);
  EXPECT_NE(der.find(aes128cbc_oid), std::string::npos);
  const std::string enveloped_oid("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03", 11);
  EXPECT_EQ(der.find(enveloped_oid), 2u);
}

TEST_F(DepTokenFile, DecryptsWithoutMessageMarkers) {
  auto p7m = Produce(TokenJson(), {.message_markers = false});
  ASSERT_THAT(p7m, IsOk());
  ExpectTheToken(DecryptToken(*p7m, *identity_, clock_));
}

TEST_F(DepTokenFile, DecryptsJsonWrappedInTheMiddleOfValues) {
  for (int columns : {80, 7, 1}) {
    SCOPED_TRACE(columns);
    for (bool markers : {false, true}) {
      auto p7m = Produce(TokenJson(),
                         {.message_markers = markers, .wrap_json_at = columns, .crlf = false});
      ASSERT_THAT(p7m, IsOk());
      ExpectTheToken(DecryptToken(*p7m, *identity_, clock_));
    }
  }
}

TEST_F(DepTokenFile, DecryptsOpenSslMimeHeaderVariant) {
  auto p7m = Produce(TokenJson(), {.header = TokenP7mOptions::Header::kOpenSsl});
  ASSERT_THAT(p7m, IsOk());
  // OpenSSL 3's CMS writer says application/pkcs7-mime; the CLI fixtures below
  // cover the older application/x-pkcs7-mime spelling.
  EXPECT_EQ(p7m->rfind("MIME-Version: 1.0", 0), 0u);
  EXPECT_NE(p7m->find("smime-type=enveloped-data"), std::string::npos);
  ExpectTheToken(DecryptToken(*p7m, *identity_, clock_));
}

TEST_F(DepTokenFile, DecryptsCrlfFilesBareBase64AndRawBer) {
  auto p7m = Produce(TokenJson());
  ASSERT_THAT(p7m, IsOk());
  std::string crlf;
  for (char c : *p7m) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  ExpectTheToken(DecryptToken(crlf, *identity_, clock_));
  ExpectTheToken(DecryptToken(p7m->substr(p7m->find("\n\n") + 2), *identity_, clock_));
  ExpectTheToken(DecryptToken(CmsOf(*p7m), *identity_, clock_));
}

TEST_F(DepTokenFile, DecryptsFixturesMadeWithTheOpensslCommandLine) {
  const std::string dir = ae::testing::SourceDir() + "/tests/fixtures/apple_dep/";
  auto id = ServerIdentity::FromPem(ReadFile(dir + "test_dep_cert.pem"),
                                    ReadFile(dir + "test_dep_key.pem"));
  ASSERT_THAT(id, IsOk());
  for (const char* file : {"token_cli_markers_smime.p7m", "token_cli_wrapped_smime.p7m"}) {
    SCOPED_TRACE(file);
    std::string p7m = ReadFile(dir + file);
    ASSERT_FALSE(p7m.empty());
    auto t = DecryptToken(p7m, *id, clock_);
    ASSERT_THAT(t, IsOk());
    EXPECT_EQ(t->consumer_key, "CK_fixture0123456789abcdef0123456789abcdef");
    EXPECT_EQ(t->consumer_secret, "CS_fixture0123456789abcdef0123456789abcdef");
    EXPECT_EQ(t->access_token, "AT_O1234567890O0123456789abcdefO1234567890");
    EXPECT_EQ(t->access_secret, "AS_fixture0123456789abcdef0123456789abcdef");
    EXPECT_EQ(t->access_token_expiry, "2031-01-01T00:00:00Z");
  }
  // And the fixture is not for a freshly generated server.
  EXPECT_THAT(DecryptToken(ReadFile(dir + "token_cli_markers_smime.p7m"), *identity_, clock_),
              StatusIs(StatusCode::kUnprocessable, kTokenNotForThisAccount));
}

TEST_F(DepTokenFile, RejectsATokenEncryptedToAnotherCertificate) {
  auto p7m = ProduceTokenP7m(stranger_->CertificatePem(), TokenJson());
  ASSERT_THAT(p7m, IsOk());
  auto t = DecryptToken(*p7m, *identity_, clock_);
  EXPECT_THAT(t, StatusIs(StatusCode::kUnprocessable, kTokenNotForThisAccount));
}

TEST_F(DepTokenFile, RejectsGarbage) {
  for (std::string garbage :
       {std::string(), std::string("hello world"), std::string("Content-Type: text/plain\n\nzz"),
        crypto::RandomBytes(512), crypto::Base64(crypto::RandomBytes(900)),
        std::string("\x30\x80\x00\x00", 4)}) {
    EXPECT_THAT(DecryptToken(garbage, *identity_, clock_),
                StatusIs(StatusCode::kUnprocessable, kTokenMalformed));
  }
}

TEST_F(DepTokenFile, RejectsATruncatedFile) {
  auto p7m = Produce(TokenJson());
  ASSERT_THAT(p7m, IsOk());
  for (size_t keep : {p7m->size() / 2, p7m->size() - 200, static_cast<size_t>(300)}) {
    SCOPED_TRACE(keep);
    EXPECT_THAT(DecryptToken(p7m->substr(0, keep), *identity_, clock_),
                StatusIs(StatusCode::kUnprocessable, kTokenMalformed));
  }
}

TEST_F(DepTokenFile, RejectsBadJsonAndMissingFields) {
  std::string missing = TokenJson();
  missing.replace(missing.find("\"access_secret\""), 15, "\"other_field\"");
  std::string empty_field = TokenJson();
  empty_field.replace(empty_field.find(kSecretAs), std::strlen(kSecretAs), "");
  for (const std::string& json :
       {std::string("{not json, ") + kSecretCs, std::string("[1,2,3]"), missing, empty_field,
        TokenJson("next tuesday"), TokenJson().substr(0, 60)}) {
    auto p7m = Produce(json);
    ASSERT_THAT(p7m, IsOk());
    auto t = DecryptToken(*p7m, *identity_, clock_);
    EXPECT_THAT(t, StatusIs(StatusCode::kUnprocessable, kTokenMalformed));
    EXPECT_EQ(t.status().message().find("CS_"), std::string::npos) << t.status().ToString();
    EXPECT_EQ(t.status().message().find("AS_"), std::string::npos) << t.status().ToString();
  }
}

TEST_F(DepTokenFile, RejectsAnExpiredToken) {
  auto p7m = Produce(TokenJson("2023-11-14T22:13:19Z"));  // one second before the clock
  ASSERT_THAT(p7m, IsOk());
  EXPECT_THAT(DecryptToken(*p7m, *identity_, clock_),
              StatusIs(StatusCode::kUnprocessable, kTokenExpired));
  clock_.Set(1'699'999'999'000);
  EXPECT_THAT(DecryptToken(*p7m, *identity_, clock_), IsOk());
}

TEST_F(DepTokenFile, ErrorMessagesNeverContainSecrets) {
  auto p7m = Produce(TokenJson("2020-01-01T00:00:00Z"));
  ASSERT_THAT(p7m, IsOk());
  std::vector<Status> errors = {
      DecryptToken(*p7m, *identity_, clock_).status(),
      DecryptToken(*p7m, *stranger_, clock_).status(),
      ParseTokenJson(std::string("{\"consumer_secret\":\"") + kSecretCs + "\",", clock_).status(),
  };
  for (const Status& s : errors) {
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.ToString().find(kSecretCs), std::string::npos) << s.ToString();
    EXPECT_EQ(s.ToString().find(kSecretAs), std::string::npos) << s.ToString();
  }
}

TEST_F(DepTokenFile, FingerprintIdentifiesTheTokenWithoutRevealingIt) {
  auto a = ParseTokenJson(TokenJson(), clock_);
  auto b = ParseTokenJson(TokenJson(), clock_);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->Fingerprint(), b->Fingerprint());
  EXPECT_EQ(a->Fingerprint().size(), 64u);
  b->access_secret += "x";
  EXPECT_NE(a->Fingerprint(), b->Fingerprint());
  EXPECT_EQ(a->Fingerprint().find(kSecretCs), std::string::npos);
}

TEST_F(DepTokenFile, ConsumerKeyFingerprintSurvivesRenewalButNotAnotherServer) {
  auto a = ParseTokenJson(TokenJson(), clock_);
  ASSERT_THAT(a, IsOk());
  DepToken renewed = *a;  // same MDM server: new access token and secrets
  renewed.access_token += "2";
  renewed.access_secret += "2";
  EXPECT_EQ(renewed.ConsumerKeyFingerprint(), a->ConsumerKeyFingerprint());
  EXPECT_NE(renewed.Fingerprint(), a->Fingerprint());
  DepToken other = *a;
  other.consumer_key = "CK_ffffffffffffffffffffffffffffffff";
  EXPECT_NE(other.ConsumerKeyFingerprint(), a->ConsumerKeyFingerprint());
  EXPECT_EQ(a->ConsumerKeyFingerprint().find(a->consumer_key), std::string::npos);
}

TEST_F(DepTokenFile, ToJsonRoundTripsThroughProduceAndDecrypt) {
  auto t = ParseTokenJson(TokenJson(), clock_);
  ASSERT_THAT(t, IsOk());
  auto p7m = Produce(t->ToJson(), {.wrap_json_at = 80});
  ASSERT_THAT(p7m, IsOk());
  auto back = DecryptToken(*p7m, *identity_, clock_);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->Fingerprint(), t->Fingerprint());
}

TEST_F(DepTokenFile, ProduceRejectsABadCertificate) {
  EXPECT_THAT(ProduceTokenP7m("nope", TokenJson()),
              StatusIs(StatusCode::kInvalidArgument, "dep.bad_certificate"));
}

}  // namespace
}  // namespace ae::dep
