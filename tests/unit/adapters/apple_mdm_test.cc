// Apple MDM enrollment building blocks (apple-dep.md §6): MachineInfo trust,
// the MDM CA and Mdm-Signature, the enrollment profile, check-in plists.

#include <openssl/cms.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <random>
#include <string>
#include <vector>

#include "adapters/apple_mdm/checkin.h"
#include "adapters/apple_mdm/enrollment_profile.h"
#include "adapters/apple_mdm/internal/ossl.h"
#include "adapters/apple_mdm/internal/plist.h"
#include "adapters/apple_mdm/machine_info.h"
#include "adapters/apple_mdm/mdm_ca.h"
#include "events/base/crypto.h"
#include "tests/support/test_support.h"

namespace ae::mdm {
namespace {

using ::testing::HasSubstr;
namespace o = ::ae::mdm::ossl;

// The verifier's clock: now, as the test certificates are issued relative to it.
const ManualClock& Today() {
  static const ManualClock* clock = new ManualClock(Clock::Real().NowMs());
  return *clock;
}

MachineInfo SampleInfo() {
  MachineInfo info;
  info.udid = "00008030-001A2B3C4D5E6F70";
  info.serial = "C02XK1ABCD";
  info.product = "iPhone14,2";
  info.version = "21E219";
  info.os_version = "17.4";
  info.language = "en";
  info.mdm_can_request_software_update = true;
  return info;
}

// Key generation dominates; share one authority, one foreign authority and one CA.
class AppleMdm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto a = TestDeviceAuthority::Generate();
    auto f = TestDeviceAuthority::Generate("Foreign Device CA");
    auto ca = MdmCa::Generate("autoenroll MDM CA", Clock::Real());
    auto fca = MdmCa::Generate("Foreign MDM CA", Clock::Real());
    ASSERT_THAT(a, IsOk());
    ASSERT_THAT(f, IsOk());
    ASSERT_THAT(ca, IsOk());
    ASSERT_THAT(fca, IsOk());
    authority_ = new TestDeviceAuthority(std::move(a).value());
    foreign_ = new TestDeviceAuthority(std::move(f).value());
    ca_ = new MdmCa(std::move(ca).value());
    foreign_ca_ = new MdmCa(std::move(fca).value());
  }
  static void TearDownTestSuite() {
    delete authority_;
    delete foreign_;
    delete ca_;
    delete foreign_ca_;
  }
  static DeviceTrust Trust() {
    auto trust = DeviceTrust::FromPem(authority_->CaPem());
    EXPECT_THAT(trust, IsOk());
    return std::move(trust).value();
  }
  static std::string Signed(const MachineInfo& info, bool sha1 = false, bool expired = false) {
    auto body = authority_->SignMachineInfo(info, sha1, expired);
    EXPECT_THAT(body, IsOk());
    return body.ok() ? *body : std::string();
  }

  static TestDeviceAuthority* authority_;
  static TestDeviceAuthority* foreign_;
  static MdmCa* ca_;
  static MdmCa* foreign_ca_;
};
TestDeviceAuthority* AppleMdm::authority_ = nullptr;
TestDeviceAuthority* AppleMdm::foreign_ = nullptr;
MdmCa* AppleMdm::ca_ = nullptr;
MdmCa* AppleMdm::foreign_ca_ = nullptr;

// ---- MachineInfo ---------------------------------------------------------------

TEST_F(AppleMdm, SignedMachineInfoVerifiesAndYieldsItsFields) {
  auto info = VerifyMachineInfo(Signed(SampleInfo()), Trust(), Today());
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->udid, "00008030-001A2B3C4D5E6F70");
  EXPECT_EQ(info->serial, "C02XK1ABCD");
  EXPECT_EQ(info->product, "iPhone14,2");
  EXPECT_EQ(info->version, "21E219");
  EXPECT_EQ(info->os_version, "17.4");
  EXPECT_EQ(info->language, "en");
  EXPECT_TRUE(info->mdm_can_request_software_update);
  EXPECT_THAT(info->signer_subject, HasSubstr("00008030-001A2B3C4D5E6F70"));
}

TEST_F(AppleMdm, SignerFieldsNameTheDeviceCertificate) {
  auto device = authority_->IssueDeviceCertificate(SampleInfo().udid, SampleInfo().serial);
  ASSERT_THAT(device, IsOk());
  auto body = authority_->SignContent(MachineInfoPlist(SampleInfo()), *device);
  ASSERT_THAT(body, IsOk());
  auto info = VerifyMachineInfo(*body, Trust(), Today());
  ASSERT_THAT(info, IsOk());
  auto certs = o::ReadCertificatesPem(device->certificate_pem);
  EXPECT_EQ(info->signer_sha256, crypto::Hex(crypto::Sha256(o::CertificateDer(certs.front().get()))));
}

// Apple's device CA expired in 2014 and still issues device certificates: the CAs'
// validity is ignored (the test authority's CA is expired too), the signer's is not.
TEST_F(AppleMdm, ExpiredCaStillVerifiesButAnExpiredSignerIsRefused) {
  auto ca = o::ReadCertificatesPem(authority_->CaPem());
  ASSERT_EQ(ca.size(), 1u);
  time_t now = time(nullptr);
  ASSERT_EQ(X509_cmp_time(X509_get0_notAfter(ca.front().get()), &now), -1) << "the CA is expired";
  EXPECT_THAT(VerifyMachineInfo(Signed(SampleInfo()), Trust(), Today()), IsOk());
  auto expired = VerifyMachineInfo(Signed(SampleInfo(), false, /*expired=*/true), Trust(), Today());
  EXPECT_THAT(expired, StatusIs(StatusCode::kPermissionDenied, "enroll.bad_signature"));
  EXPECT_THAT(expired.status().message(), HasSubstr("expired"));
}

// The validity is read on the clock given, not the machine's.
TEST_F(AppleMdm, SignerValidityIsCheckedAtTheVerifiersClock) {
  const std::string body = Signed(SampleInfo());  // valid from a day ago, for three years
  ManualClock clock(Today().NowMs());
  EXPECT_THAT(VerifyMachineInfo(body, Trust(), clock), IsOk());
  clock.Advance(4LL * 365 * 86400 * 1000);
  EXPECT_THAT(VerifyMachineInfo(body, Trust(), clock),
              StatusIs(StatusCode::kPermissionDenied, "enroll.bad_signature"));
  clock.Set(Today().NowMs() - 2LL * 86400 * 1000);
  EXPECT_THAT(VerifyMachineInfo(body, Trust(), clock),
              StatusIs(StatusCode::kPermissionDenied, "enroll.bad_signature"));
}

TEST_F(AppleMdm, Sha1SignatureAndCertificateStillVerify) {
  EXPECT_THAT(VerifyMachineInfo(Signed(SampleInfo(), /*sha1=*/true), Trust(), Today()), IsOk());
}

// ---- The signer is the device the MachineInfo names -------------------------------

// Device A's genuine certificate and key sign a MachineInfo that names device B.
TEST_F(AppleMdm, MachineInfoNamingAnotherSerialIsRefused) {
  auto device_a = authority_->IssueDeviceCertificate("00008030-00000000000000AA", "C02DEVICEAA");
  ASSERT_THAT(device_a, IsOk());
  MachineInfo b = SampleInfo();
  b.udid = "00008030-00000000000000AA";  // A's UDID, B's serial
  b.serial = "C02DEVICEBB";
  auto body = authority_->SignContent(MachineInfoPlist(b), *device_a);
  ASSERT_THAT(body, IsOk());
  auto r = VerifyMachineInfo(*body, Trust(), Today());
  EXPECT_THAT(r, StatusIs(StatusCode::kPermissionDenied, "enroll.signer_mismatch"));
  EXPECT_THAT(r.status().message(), HasSubstr("SERIAL"));
}

TEST_F(AppleMdm, MachineInfoNamingAnotherUdidIsRefused) {
  MachineInfo b = SampleInfo();
  b.udid = "00008030-00000000000000BB";
  b.serial = "C02DEVICEBB";
  for (const char* serial : {"C02DEVICEAA", ""}) {  // with and without a serial in the certificate
    auto device_a = authority_->IssueDeviceCertificate("00008030-00000000000000AA", serial);
    ASSERT_THAT(device_a, IsOk());
    auto body = authority_->SignContent(MachineInfoPlist(b), *device_a);
    ASSERT_THAT(body, IsOk());
    auto r = VerifyMachineInfo(*body, Trust(), Today());
    EXPECT_THAT(r, StatusIs(StatusCode::kPermissionDenied, "enroll.signer_mismatch")) << serial;
    EXPECT_THAT(r.status().message(), HasSubstr("UDID")) << serial;
  }
}

// A certificate without serialNumber binds the UDID only (some of Apple's carry no serial);
// the UDID's letter case may differ between the certificate and the plist.
TEST_F(AppleMdm, CertificateWithoutSerialBindsTheUdid) {
  MachineInfo info = SampleInfo();
  info.udid = "6a4b0c1d2e3f40516273849506a7b8c9d0e1f203";  // a pre-2018 UDID, 40 hex digits
  auto device = authority_->IssueDeviceCertificate("6A4B0C1D2E3F40516273849506A7B8C9D0E1F203", "");
  ASSERT_THAT(device, IsOk());
  auto body = authority_->SignContent(MachineInfoPlist(info), *device);
  ASSERT_THAT(body, IsOk());
  auto verified = VerifyMachineInfo(*body, Trust(), Today());
  ASSERT_THAT(verified, IsOk());
  EXPECT_EQ(verified->serial, info.serial);
  auto without_serial = authority_->SignMachineInfo(SampleInfo(), false, false,
                                                    /*serial_in_certificate=*/false);
  ASSERT_THAT(without_serial, IsOk());
  EXPECT_THAT(VerifyMachineInfo(*without_serial, Trust(), Today()), IsOk());
}

// ---- One property list, either encoding, one reading --------------------------------

// libplist writes a binary plist's UID to XML as <dict><key>CF$UID</key><integer>, and reads
// that back as a dictionary; CoreFoundation reads it as a UID. Found by scripts/fuzz
// machine_info (the binary said "not a dictionary", the XML "UDID is missing").
TEST_F(AppleMdm, UidTopLevelReadsTheSameInBinaryAndXml) {
  // plistlib.dumps(plistlib.UID(42), fmt=plistlib.FMT_BINARY): one object, a UID.
  const std::string binary = crypto::FromBase64("YnBsaXN0MDCAKggAAAAAAAABAQAAAAAAAAABAAAAAAAAAAAAAAAAAAAACg==").value();
  const std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n"
      "<dict><key>CF$UID</key><integer>42</integer></dict></plist>\n";
  auto device = authority_->IssueDeviceCertificate(SampleInfo().udid, SampleInfo().serial);
  ASSERT_THAT(device, IsOk());
  std::vector<std::string> messages;
  for (const std::string& content : {binary, xml}) {
    auto body = authority_->SignContent(content, *device);
    ASSERT_THAT(body, IsOk());
    auto r = VerifyMachineInfo(*body, Trust(), Today());
    EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument, "enroll.bad_machine_info"));
    messages.push_back(r.status().message());
  }
  EXPECT_EQ(messages[0], "the property list is not a dictionary");
  EXPECT_EQ(messages[1], messages[0]);
  // A dictionary with more than the one key, or a CF$UID that is not an integer, stays one.
  for (const char* dict : {"<dict><key>CF$UID</key><integer>42</integer><key>UDID</key><string>U</string></dict>",
                           "<dict><key>CF$UID</key><string>42</string></dict>"}) {
    auto body = authority_->SignContent(std::string("<plist version=\"1.0\">") + dict + "</plist>",
                                        *device);
    ASSERT_THAT(body, IsOk());
    auto r = VerifyMachineInfo(*body, Trust(), Today());
    EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument, "enroll.bad_machine_info"));
    EXPECT_THAT(r.status().message(), HasSubstr("is missing")) << dict;
  }
}

TEST_F(AppleMdm, TestAuthorityRestoredFromPemSignsForTheSameTrust) {
  auto restored = TestDeviceAuthority::FromPem(authority_->CaPem(), authority_->PrivateKeyPem());
  ASSERT_THAT(restored, IsOk());
  EXPECT_EQ(restored->CaPem(), authority_->CaPem());
  auto body = restored->SignMachineInfo(SampleInfo());
  ASSERT_THAT(body, IsOk());
  EXPECT_THAT(VerifyMachineInfo(*body, Trust(), Today()), IsOk());
}

TEST_F(AppleMdm, TestAuthorityFromPemRefusesAnotherCasKeyOrGarbage) {
  EXPECT_THAT(TestDeviceAuthority::FromPem(authority_->CaPem(), foreign_->PrivateKeyPem()),
              StatusIs(StatusCode::kInvalidArgument, "enroll.bad_test_authority"));
  EXPECT_THAT(TestDeviceAuthority::FromPem("not pem", authority_->PrivateKeyPem()),
              StatusIs(StatusCode::kInvalidArgument, "enroll.bad_test_authority"));
  EXPECT_THAT(TestDeviceAuthority::FromPem(authority_->CaPem(), ""),
              StatusIs(StatusCode::kInvalidArgument, "enroll.bad_test_authority"));
}

TEST_F(AppleMdm, MachineInfoFromUnknownCaIsBadSignature) {
  auto body = foreign_->SignMachineInfo(SampleInfo());
  ASSERT_THAT(body, IsOk());
  EXPECT_THAT(VerifyMachineInfo(*body, Trust(), Today()),
              StatusIs(StatusCode::kPermissionDenied, "enroll.bad_signature"));
}

TEST_F(AppleMdm, TamperedMachineInfoIsBadSignature) {
  std::string body = Signed(SampleInfo());
  size_t at = body.find("C02XK1ABCD");
  ASSERT_NE(at, std::string::npos);
  body[at] = 'X';
  EXPECT_THAT(VerifyMachineInfo(body, Trust(), Today()),
              StatusIs(StatusCode::kPermissionDenied, "enroll.bad_signature"));
}

TEST_F(AppleMdm, MalformedMachineInfoIsBadMachineInfoAndNeverCrashes) {
  const DeviceTrust trust = Trust();
  EXPECT_THAT(VerifyMachineInfo("", trust, Today()), StatusIs(StatusCode::kInvalidArgument, "enroll.bad_machine_info"));
  EXPECT_THAT(VerifyMachineInfo("not CMS at all", trust, Today()),
              StatusIs(StatusCode::kInvalidArgument, "enroll.bad_machine_info"));
  EXPECT_THAT(VerifyMachineInfo(MachineInfoPlist(SampleInfo()), trust, Today()),
              StatusIs(StatusCode::kInvalidArgument, "enroll.bad_machine_info"));
  EXPECT_THAT(VerifyMachineInfo(std::string(kMaxMachineInfoBytes + 1, '\x30'), trust, Today()),
              StatusIs(StatusCode::kInvalidArgument, "enroll.bad_machine_info"));
  const std::string good = Signed(SampleInfo());
  for (size_t len = 0; len < good.size(); len += 7) {
    EXPECT_THAT(VerifyMachineInfo(good.substr(0, len), trust, Today()),
                StatusIs(StatusCode::kInvalidArgument, "enroll.bad_machine_info"))
        << "truncated to " << len;
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {  // flipped bytes: any error, never a crash
    std::string b = good;
    b[rng() % b.size()] = static_cast<char>(rng());
    (void)VerifyMachineInfo(b, trust, Today());
  }
}

TEST_F(AppleMdm, SignedNonPlistOrIncompleteMachineInfoIsBadMachineInfo) {
  auto device = authority_->IssueDeviceCertificate("00008030-001A2B3C4D5E6F70", "C02XK1ABCD");
  ASSERT_THAT(device, IsOk());
  const DeviceTrust trust = Trust();
  for (std::string content : {std::string("hello, not a plist"), std::string("<plist><array/></plist>")}) {
    auto body = authority_->SignContent(content, *device);
    ASSERT_THAT(body, IsOk());
    EXPECT_THAT(VerifyMachineInfo(*body, trust, Today()),
                StatusIs(StatusCode::kInvalidArgument, "enroll.bad_machine_info"));
  }
  MachineInfo no_serial = SampleInfo();
  no_serial.serial = "";
  auto body = authority_->SignContent(MachineInfoPlist(no_serial), *device);
  ASSERT_THAT(body, IsOk());
  auto r = VerifyMachineInfo(*body, trust, Today());
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument, "enroll.bad_machine_info"));
  EXPECT_THAT(r.status().message(), HasSubstr("SERIAL"));
}

TEST_F(AppleMdm, MachineInfoWithTwoSignersIsBadSignature) {
  auto d1 = authority_->IssueDeviceCertificate("UDID-ONE", "SERIAL1");
  auto d2 = authority_->IssueDeviceCertificate("UDID-TWO", "SERIAL2");
  ASSERT_THAT(d1, IsOk());
  ASSERT_THAT(d2, IsOk());
  const std::string content = MachineInfoPlist(SampleInfo());
  o::Ptr<CMS_ContentInfo> cms(
      CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_BINARY | CMS_PARTIAL));
  for (const DeviceCertificate* d : {&*d1, &*d2}) {
    auto certs = o::ReadCertificatesPem(d->certificate_pem);
    auto key = o::ReadPrivateKeyPem(d->private_key_pem);
    ASSERT_NE(CMS_add1_signer(cms.get(), certs.front().get(), key.get(), EVP_sha256(), 0), nullptr);
  }
  o::Ptr<BIO> in = o::MemBio(content);
  ASSERT_EQ(CMS_final(cms.get(), in.get(), nullptr, CMS_BINARY), 1);
  o::Ptr<BIO> out(BIO_new(BIO_s_mem()));
  ASSERT_EQ(i2d_CMS_bio(out.get(), cms.get()), 1);
  EXPECT_THAT(VerifyMachineInfo(o::BioToString(out.get()), Trust(), Today()),
              StatusIs(StatusCode::kPermissionDenied, "enroll.bad_signature"));
}

// Only a device CA of the bundle may issue the signer: a certificate that merely
// chains to a trusted root through another intermediate is refused.
TEST_F(AppleMdm, SignerMustBeIssuedDirectlyByABundleCertificate) {
  const time_t now = time(nullptr);
  o::Ptr<EVP_PKEY> root_key = o::GenerateRsaKey(2048), mid_key = o::GenerateRsaKey(2048),
                   leaf_key = o::GenerateRsaKey(2048);
  o::CertSpec ca_spec;
  ca_spec.not_before = now - 60;
  ca_spec.not_after = now + 86400;
  ca_spec.ca = true;
  ca_spec.key_usage = "critical,keyCertSign";
  ca_spec.subject = {{"CN", "Root"}};
  o::Ptr<X509> root = o::MakeCertificate(ca_spec, root_key.get(), nullptr, nullptr);
  ca_spec.subject = {{"CN", "Other Intermediate"}};
  o::Ptr<X509> mid = o::MakeCertificate(ca_spec, mid_key.get(), root.get(), root_key.get());
  o::CertSpec leaf_spec = ca_spec;
  leaf_spec.ca = false;
  leaf_spec.key_usage = "critical,digitalSignature";
  leaf_spec.subject = {{"CN", "00008030-001A2B3C4D5E6F70"}};
  o::Ptr<X509> leaf = o::MakeCertificate(leaf_spec, leaf_key.get(), mid.get(), mid_key.get());
  ASSERT_TRUE(root && mid && leaf);
  const std::string body = o::CmsSign(MachineInfoPlist(SampleInfo()), leaf.get(), leaf_key.get(),
                                      {mid.get()}, EVP_sha256(), false);
  auto root_only = DeviceTrust::FromPem(o::CertificatePem(root.get()));
  ASSERT_THAT(root_only, IsOk());
  EXPECT_THAT(VerifyMachineInfo(body, *root_only, Today()),
              StatusIs(StatusCode::kPermissionDenied, "enroll.bad_signature"));
  auto with_mid = DeviceTrust::FromPem(o::CertificatePem(mid.get()) + o::CertificatePem(root.get()));
  ASSERT_THAT(with_mid, IsOk());
  EXPECT_THAT(VerifyMachineInfo(body, *with_mid, Today()), IsOk());
}

TEST(AppleMdmTrust, BundledTrustHoldsApplesDeviceCaChain) {
  auto trust = DeviceTrust::Bundled();
  ASSERT_THAT(trust, IsOk());
  ASSERT_EQ(trust->size(), 3u);
  std::vector<std::string> subjects = trust->Subjects();
  EXPECT_THAT(subjects[0], HasSubstr("CN = Apple iPhone Device CA"));
  EXPECT_THAT(subjects[0], HasSubstr("O = Apple Inc."));
  EXPECT_THAT(subjects[1], HasSubstr("CN = Apple iPhone Certification Authority"));
  EXPECT_THAT(subjects[2], HasSubstr("CN = Apple Root CA"));
}

TEST(AppleMdmTrust, BundledDeviceCaChainsToAppleRootWithTimeIgnored) {
  // The shipped file is what it claims: the Device CA is signed (SHA-1) by the
  // iPhone Certification Authority, which Apple Root CA signs.
  const auto anchors = o::ReadCertificatesPem(BundledAppleDeviceCaPem());
  ASSERT_EQ(anchors.size(), 3u);
  EXPECT_EQ(X509_check_issued(anchors[1].get(), anchors[0].get()), X509_V_OK);
  EXPECT_EQ(X509_check_issued(anchors[2].get(), anchors[1].get()), X509_V_OK);
  EXPECT_EQ(X509_verify(anchors[0].get(), X509_get0_pubkey(anchors[1].get())), 1);
  EXPECT_EQ(X509_verify(anchors[1].get(), X509_get0_pubkey(anchors[2].get())), 1);
  EXPECT_EQ(X509_verify(anchors[2].get(), X509_get0_pubkey(anchors[2].get())), 1);
  EXPECT_EQ(crypto::Hex(crypto::Sha256(o::CertificateDer(anchors[0].get()))),
            "76f27d00e1333bc88de0e2916c38c9a7f2b75774c25a794c092a80e3c4c66cce");
  EXPECT_EQ(crypto::Hex(crypto::Sha256(o::CertificateDer(anchors[2].get()))),
            "b0b1730ecbc7ff4505142c49f1295e6eda6bcaed7e2c68c5be91b5a11001f024");
}

TEST_F(AppleMdm, BundledTrustRefusesTestDevices) {
  auto trust = DeviceTrust::Bundled();
  ASSERT_THAT(trust, IsOk());
  EXPECT_THAT(VerifyMachineInfo(Signed(SampleInfo()), *trust, Today()),
              StatusIs(StatusCode::kPermissionDenied, "enroll.bad_signature"));
}

TEST(AppleMdmTrust, TrustWithoutCertificatesIsRejected) {
  EXPECT_THAT(DeviceTrust::FromPem("no certificate here"),
              StatusIs(StatusCode::kInvalidArgument, "enroll.bad_device_trust"));
}

// ---- MdmCa -----------------------------------------------------------------------

struct OpenedIdentity {
  o::Ptr<EVP_PKEY> key;
  o::Ptr<X509> cert;
  o::Ptr<STACK_OF(X509)> ca;
};

bool OpenPkcs12(const std::string& der, const std::string& password, OpenedIdentity* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  o::Ptr<PKCS12> p12(d2i_PKCS12(nullptr, &p, static_cast<long>(der.size())));
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* ca = nullptr;
  bool ok = p12 && PKCS12_parse(p12.get(), password.c_str(), &key, &cert, &ca) == 1;
  out->key.reset(key);
  out->cert.reset(cert);
  out->ca.reset(ca);
  ERR_clear_error();
  return ok && key != nullptr && cert != nullptr;
}

std::string SignatureHeader(const OpenedIdentity& id, std::string_view body) {
  return crypto::Base64(o::CmsSign(body, id.cert.get(), id.key.get(), {}, EVP_sha256(), true));
}

TEST_F(AppleMdm, IssuedIdentityOpensWithItsPasswordAndChainsToTheCa) {
  auto identity = ca_->IssueDeviceIdentity("00008030-001A2B3C4D5E6F70", Clock::Real());
  ASSERT_THAT(identity, IsOk());
  EXPECT_GE(identity->password.size(), 16u);
  OpenedIdentity id;
  ASSERT_TRUE(OpenPkcs12(identity->pkcs12_der, identity->password, &id));
  OpenedIdentity wrong;
  EXPECT_FALSE(OpenPkcs12(identity->pkcs12_der, identity->password + "x", &wrong));

  EXPECT_EQ(o::CommonName(id.cert.get()), "00008030-001A2B3C4D5E6F70");
  EXPECT_EQ(X509_check_private_key(id.cert.get(), id.key.get()), 1);
  EXPECT_EQ(X509_check_issued(ca_->certificate(), id.cert.get()), X509_V_OK);
  EXPECT_EQ(X509_verify(id.cert.get(), X509_get0_pubkey(ca_->certificate())), 1);
  EXPECT_EQ(X509_check_purpose(id.cert.get(), X509_PURPOSE_SSL_CLIENT, 0), 1);
  EXPECT_NE(X509_get_extended_key_usage(id.cert.get()) & XKU_SSL_CLIENT, 0u);
  EXPECT_EQ(EVP_PKEY_get_bits(id.key.get()), 2048);
  // Valid for about a year.
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(id.cert.get()),
                           X509_get0_notAfter(id.cert.get())),
            1);
  EXPECT_NEAR(days, 365, 1);
  EXPECT_EQ(identity->certificate_sha256_hex,
            crypto::Hex(crypto::Sha256(o::CertificateDer(id.cert.get()))));
  EXPECT_EQ(o::CertificatePem(id.cert.get()), identity->certificate_pem);
}

TEST_F(AppleMdm, MdmCaRoundTripsThroughPem) {
  auto restored = MdmCa::FromPem(ca_->CertificatePem(), ca_->PrivateKeyPem());
  ASSERT_THAT(restored, IsOk());
  EXPECT_EQ(restored->CertificatePem(), ca_->CertificatePem());
  EXPECT_THAT(MdmCa::FromPem(ca_->CertificatePem(), foreign_ca_->PrivateKeyPem()),
              StatusIs(StatusCode::kInvalidArgument, "mdm.key_mismatch"));
  EXPECT_THAT(MdmCa::FromPem("nope", ca_->PrivateKeyPem()),
              StatusIs(StatusCode::kInvalidArgument, "mdm.bad_certificate"));
  // An identity issued by the restored CA authenticates against the original.
  auto identity = restored->IssueDeviceIdentity("UDID-RESTORED", Clock::Real());
  ASSERT_THAT(identity, IsOk());
  OpenedIdentity id;
  ASSERT_TRUE(OpenPkcs12(identity->pkcs12_der, identity->password, &id));
  auto signer = ca_->VerifyMdmSignature("body", SignatureHeader(id, "body"));
  ASSERT_THAT(signer, IsOk());
  EXPECT_EQ(signer->common_name, "UDID-RESTORED");
}

TEST_F(AppleMdm, MdmSignatureVerifiesAndNamesTheDevice) {
  auto identity = ca_->IssueDeviceIdentity("00008030-001A2B3C4D5E6F70", Clock::Real());
  ASSERT_THAT(identity, IsOk());
  OpenedIdentity id;
  ASSERT_TRUE(OpenPkcs12(identity->pkcs12_der, identity->password, &id));
  const std::string body = BuildCheckinPlist({.message_type = "Authenticate",
                                              .udid = "00008030-001A2B3C4D5E6F70",
                                              .topic = "com.apple.mgmt.External.x"});
  auto signer = ca_->VerifyMdmSignature(body, SignatureHeader(id, body));
  ASSERT_THAT(signer, IsOk());
  EXPECT_EQ(signer->common_name, "00008030-001A2B3C4D5E6F70");
  // The identity's fingerprint, which the check-in compares with the device's current one.
  EXPECT_EQ(signer->certificate_sha256_hex, identity->certificate_sha256_hex);
}

TEST_F(AppleMdm, MdmSignatureOverAnotherBodyOrByAForeignCaIsRejected) {
  auto identity = ca_->IssueDeviceIdentity("UDID-A", Clock::Real());
  auto foreign = foreign_ca_->IssueDeviceIdentity("UDID-A", Clock::Real());
  ASSERT_THAT(identity, IsOk());
  ASSERT_THAT(foreign, IsOk());
  OpenedIdentity id, fid;
  ASSERT_TRUE(OpenPkcs12(identity->pkcs12_der, identity->password, &id));
  ASSERT_TRUE(OpenPkcs12(foreign->pkcs12_der, foreign->password, &fid));
  const auto kBad = StatusCode::kUnauthenticated;
  EXPECT_THAT(ca_->VerifyMdmSignature("body two", SignatureHeader(id, "body one")),
              StatusIs(kBad, "mdm.bad_signature"));
  EXPECT_THAT(ca_->VerifyMdmSignature("body", SignatureHeader(fid, "body")),
              StatusIs(kBad, "mdm.bad_signature"));
  EXPECT_THAT(ca_->VerifyMdmSignature("body", ""), StatusIs(kBad, "mdm.bad_signature"));
  EXPECT_THAT(ca_->VerifyMdmSignature("body", "!!!not base64"), StatusIs(kBad, "mdm.bad_signature"));
  EXPECT_THAT(ca_->VerifyMdmSignature("body", crypto::Base64("garbage")),
              StatusIs(kBad, "mdm.bad_signature"));
  // A device CA certificate (not an identity of this CA) is refused too.
  auto device = authority_->IssueDeviceCertificate("UDID-A", "S1");
  ASSERT_THAT(device, IsOk());
  auto certs = o::ReadCertificatesPem(device->certificate_pem);
  auto key = o::ReadPrivateKeyPem(device->private_key_pem);
  EXPECT_THAT(ca_->VerifyMdmSignature(
                  "body", crypto::Base64(o::CmsSign("body", certs.front().get(), key.get(), {},
                                                    EVP_sha256(), true))),
              StatusIs(kBad, "mdm.bad_signature"));
}

// ---- Enrollment profile -------------------------------------------------------------

TEST_F(AppleMdm, EnrollmentProfileParsesBackWithTheSameSettings) {
  auto identity = ca_->IssueDeviceIdentity("00008030-001A2B3C4D5E6F70", Clock::Real());
  ASSERT_THAT(identity, IsOk());
  EnrollmentProfileOptions options;
  options.organization = "Example Corp";
  options.server_url = "https://mdm.example.com/mdm/server";
  options.checkin_url = "https://mdm.example.com/mdm/checkin";
  options.topic = "com.apple.mgmt.External.2b6b1c5e-0000-4000-8000-000000000001";
  options.identity = *identity;
  options.ca_certificate_pem = ca_->CertificatePem();
  auto xml = BuildEnrollmentProfile(options);
  ASSERT_THAT(xml, IsOk());
  EXPECT_THAT(*xml, HasSubstr("<key>IdentityCertificateUUID</key>"));
  EXPECT_THAT(*xml, HasSubstr("com.apple.security.pkcs12"));
  auto p = ParseEnrollmentProfile(*xml);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->server_url, options.server_url);
  EXPECT_EQ(p->checkin_url, options.checkin_url);
  EXPECT_EQ(p->topic, options.topic);
  EXPECT_EQ(p->organization, "Example Corp");
  EXPECT_EQ(p->identity_certificate_uuid, p->pkcs12_payload_uuid);
  EXPECT_EQ(p->identity_certificate_uuid.size(), 36u);
  EXPECT_EQ(p->pkcs12_der, identity->pkcs12_der);
  EXPECT_EQ(p->password, identity->password);
  EXPECT_TRUE(p->sign_message);
  EXPECT_TRUE(p->check_out_when_removed);
  EXPECT_EQ(p->access_rights, 8191);
  EXPECT_EQ(p->payload_identifier, "com.autoenroll.enrollment");
  o::Ptr<X509> ca_cert(o::ReadCertificatesPem(ca_->CertificatePem()).front().release());
  EXPECT_EQ(p->root_certificate_der, o::CertificateDer(ca_cert.get()));
  OpenedIdentity id;
  EXPECT_TRUE(OpenPkcs12(p->pkcs12_der, p->password, &id));

  // Fresh UUIDs every time.
  auto again = ParseEnrollmentProfile(BuildEnrollmentProfile(options).value());
  ASSERT_THAT(again, IsOk());
  EXPECT_NE(again->identity_certificate_uuid, p->identity_certificate_uuid);
}

TEST_F(AppleMdm, EnrollmentProfileRefusesBadOptions) {
  auto identity = ca_->IssueDeviceIdentity("UDID-B", Clock::Real());
  ASSERT_THAT(identity, IsOk());
  EnrollmentProfileOptions options;
  options.organization = "Example";
  options.server_url = "ftp://nope";
  options.topic = "t";
  options.identity = *identity;
  auto r = BuildEnrollmentProfile(options);
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument, "enroll.bad_profile_options"));
  EXPECT_EQ(r.status().field(), "server_url");
  options.server_url = "http://127.0.0.1:8080/mdm";
  options.topic = "";
  EXPECT_EQ(BuildEnrollmentProfile(options).status().field(), "topic");
  options.topic = "t";
  options.access_rights = 0;
  EXPECT_EQ(BuildEnrollmentProfile(options).status().field(), "access_rights");
  options.access_rights = 8191;
  auto ok = BuildEnrollmentProfile(options);
  ASSERT_THAT(ok, IsOk());
  auto parsed = ParseEnrollmentProfile(*ok);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->checkin_url, "http://127.0.0.1:8080/mdm");  // no CheckInURL: ServerURL
  EXPECT_TRUE(parsed->root_certificate_der.empty());
}

TEST(AppleMdmProfile, MalformedProfilesAreRejected) {
  for (const char* bad : {"", "junk", "<plist><array/></plist>",
                          "<plist><dict><key>PayloadType</key><string>Configuration</string></dict></plist>"}) {
    EXPECT_THAT(ParseEnrollmentProfile(bad), StatusIs(StatusCode::kInvalidArgument, "enroll.bad_profile"))
        << bad;
  }
}

// ---- Check-in and command plists ------------------------------------------------------

TEST(AppleMdmCheckin, AuthenticateTokenUpdateAndCheckOutRoundTrip) {
  CheckinMessage auth{.message_type = "Authenticate", .udid = "UDID-1", .serial_number = "C02SERIAL",
                      .topic = "com.apple.mgmt.External.t", .model = "iPhone14,2",
                      .model_name = "iPhone", .product_name = "iPhone14,2", .os_version = "17.4",
                      .build_version = "21E219", .imei = "35 123456 789012 3", .meid = "A1000012345678"};
  auto a = ParseCheckin(BuildCheckinPlist(auth));
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->message_type, "Authenticate");
  EXPECT_EQ(a->udid, "UDID-1");
  EXPECT_EQ(a->serial_number, "C02SERIAL");
  EXPECT_EQ(a->topic, "com.apple.mgmt.External.t");
  EXPECT_EQ(a->model, "iPhone14,2");
  EXPECT_EQ(a->model_name, "iPhone");
  EXPECT_EQ(a->os_version, "17.4");
  EXPECT_EQ(a->build_version, "21E219");
  EXPECT_EQ(a->imei, "35 123456 789012 3");
  EXPECT_EQ(a->meid, "A1000012345678");

  CheckinMessage tu{.message_type = "TokenUpdate", .udid = "UDID-1", .topic = "com.apple.mgmt.External.t"};
  tu.token = std::string("\x00\x01\xfe\xff token", 10);
  tu.push_magic = "8F5E3C2A-0000-4000-8000-000000000000";
  tu.unlock_token = std::string("\x10\x00\x20", 3);
  tu.awaiting_configuration = true;
  auto t = ParseCheckin(BuildCheckinPlist(tu));
  ASSERT_THAT(t, IsOk());
  EXPECT_EQ(t->token, tu.token);
  EXPECT_EQ(t->push_magic, tu.push_magic);
  EXPECT_EQ(t->unlock_token, tu.unlock_token);
  EXPECT_TRUE(t->awaiting_configuration);

  auto c = ParseCheckin(BuildCheckinPlist({.message_type = "CheckOut", .udid = "UDID-1",
                                           .topic = "com.apple.mgmt.External.t"}));
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->message_type, "CheckOut");
  EXPECT_FALSE(c->awaiting_configuration);

  auto unknown = ParseCheckin(BuildCheckinPlist({.message_type = "DeclarativeManagement", .udid = "U"}));
  ASSERT_THAT(unknown, IsOk());
  EXPECT_EQ(unknown->message_type, "DeclarativeManagement");
}

TEST(AppleMdmCheckin, BinaryPlistIsAccepted) {
  CheckinMessage tu{.message_type = "TokenUpdate", .udid = "UDID-2", .topic = "topic"};
  tu.token = "\x01\x02\x03";
  tu.push_magic = "magic";
  plist::Node root = plist::Parse(BuildCheckinPlist(tu));
  ASSERT_TRUE(root);
  const std::string bin = plist::ToBinary(root.get());
  ASSERT_EQ(bin.substr(0, 8), "bplist00");
  auto t = ParseCheckin(bin);
  ASSERT_THAT(t, IsOk());
  EXPECT_EQ(t->udid, "UDID-2");
  EXPECT_EQ(t->token, "\x01\x02\x03");
}

TEST(AppleMdmCheckin, MalformedCheckinsAreRejectedNamingTheProblem) {
  const auto kBad = StatusCode::kInvalidArgument;
  EXPECT_THAT(ParseCheckin(""), StatusIs(kBad, "mdm.bad_checkin"));
  EXPECT_THAT(ParseCheckin("definitely not a plist"), StatusIs(kBad, "mdm.bad_checkin"));
  EXPECT_THAT(ParseCheckin("<plist><array/></plist>"), StatusIs(kBad, "mdm.bad_checkin"));
  EXPECT_THAT(ParseCheckin(std::string(kMaxCheckinBytes + 1, ' ')), StatusIs(kBad, "mdm.bad_checkin"));

  auto no_type = ParseCheckin(BuildCheckinPlist({.udid = "U"}));
  EXPECT_THAT(no_type, StatusIs(kBad, "mdm.bad_checkin"));
  EXPECT_THAT(no_type.status().message(), HasSubstr("MessageType"));

  auto no_token = ParseCheckin(BuildCheckinPlist(
      {.message_type = "TokenUpdate", .udid = "U", .topic = "t", .push_magic = "m"}));
  EXPECT_THAT(no_token.status().message(), HasSubstr("Token is missing"));

  auto string_token = ParseCheckin(
      "<plist><dict><key>MessageType</key><string>TokenUpdate</string><key>UDID</key><string>U</string>"
      "<key>Topic</key><string>t</string><key>PushMagic</key><string>m</string>"
      "<key>Token</key><string>abc</string></dict></plist>");
  EXPECT_THAT(string_token, StatusIs(kBad, "mdm.bad_checkin"));
  EXPECT_THAT(string_token.status().message(), HasSubstr("Token is not data"));

  auto no_udid = ParseCheckin(BuildCheckinPlist({.message_type = "CheckOut"}));
  EXPECT_THAT(no_udid.status().message(), HasSubstr("UDID"));
}

TEST(AppleMdmCheckin, MutatedPlistsNeverCrashTheParsers) {
  CheckinMessage tu{.message_type = "TokenUpdate", .udid = "UDID-3", .topic = "topic"};
  tu.token = "tok";
  tu.push_magic = "magic";
  const std::string xml = BuildCheckinPlist(tu);
  plist::Node root = plist::Parse(xml);
  ASSERT_TRUE(root);
  const std::string bin = plist::ToBinary(root.get());
  std::mt19937 rng(42);
  for (int i = 0; i < 4000; ++i) {
    std::string s = (i % 2) ? bin : xml;
    const int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t at = rng() % s.size();
      switch (rng() % 3) {
        case 0: s[at] = static_cast<char>(rng()); break;
        case 1: s.insert(at, 1, static_cast<char>(rng())); break;
        default: s.erase(at, 1 + rng() % 4); break;
      }
    }
    (void)ParseCheckin(s);
    (void)ParseCommandResult(s);
    (void)ParseCommandPlist(s);
    (void)ParseEnrollmentProfile(s);
  }
}

TEST(AppleMdmCheckin, DeeplyNestedBinaryPlistIsRejectedWithoutCrashing) {
  // 200000 arrays, each holding the next: libplist would recurse that deep.
  const uint32_t n = 200000;
  std::string s = "bplist00";
  std::vector<uint32_t> offsets;
  for (uint32_t i = 0; i < n; ++i) {
    offsets.push_back(static_cast<uint32_t>(s.size()));
    if (i + 1 < n) {
      s += '\xA1';
      s += static_cast<char>((i + 1) >> 16);
      s += static_cast<char>((i + 1) >> 8);
      s += static_cast<char>(i + 1);
    } else {
      s += '\xA0';
    }
  }
  const uint64_t table = s.size();
  for (uint32_t off : offsets) {
    for (int b = 3; b >= 0; --b) s += static_cast<char>(off >> (8 * b));
  }
  std::string trailer(32, '\0');
  trailer[6] = 4;  // offset size
  trailer[7] = 3;  // ref size
  for (int b = 0; b < 8; ++b) trailer[15 - b] = static_cast<char>(uint64_t{n} >> (8 * b));
  for (int b = 0; b < 8; ++b) trailer[31 - b] = static_cast<char>(table >> (8 * b));
  s += trailer;
  EXPECT_THAT(ParseCheckin(s), StatusIs(StatusCode::kInvalidArgument, "mdm.bad_checkin"));
  EXPECT_THAT(ParseCommandResult(s), StatusIs(StatusCode::kInvalidArgument, "mdm.bad_command_result"));
}

TEST(AppleMdmCommand, CommandResultsParse) {
  auto ack = ParseCommandResult(BuildCommandResultPlist({"UDID-1", "Acknowledged", "CMD-1", ""}));
  ASSERT_THAT(ack, IsOk());
  EXPECT_EQ(ack->udid, "UDID-1");
  EXPECT_EQ(ack->status, "Acknowledged");
  EXPECT_EQ(ack->command_uuid, "CMD-1");

  auto idle = ParseCommandResult(BuildCommandResultPlist({"UDID-1", "Idle", "", ""}));
  ASSERT_THAT(idle, IsOk());
  EXPECT_EQ(idle->status, "Idle");

  auto err = ParseCommandResult(BuildCommandResultPlist({"UDID-1", "Error", "CMD-2", "The app could not be installed."}));
  ASSERT_THAT(err, IsOk());
  EXPECT_THAT(err->error_chain_text, HasSubstr("MCMDMErrorDomain 12021: The app could not be installed."));

  EXPECT_THAT(ParseCommandResult(BuildCommandResultPlist({"UDID-1", "Bogus", "CMD-3", ""})),
              StatusIs(StatusCode::kInvalidArgument, "mdm.bad_command_result"));
  auto no_uuid = ParseCommandResult(BuildCommandResultPlist({"UDID-1", "Acknowledged", "", ""}));
  EXPECT_THAT(no_uuid, StatusIs(StatusCode::kInvalidArgument, "mdm.bad_command_result"));
  EXPECT_THAT(no_uuid.status().message(), HasSubstr("CommandUUID"));
  EXPECT_THAT(ParseCommandResult("<plist><string>x</string></plist>"),
              StatusIs(StatusCode::kInvalidArgument, "mdm.bad_command_result"));
}

TEST(AppleMdmCommand, CommandsRoundTrip) {
  const std::string install = BuildCommandPlist(
      {"CMD-1", "InstallApplication", "https://apps.example.com/app/manifest.plist"});
  EXPECT_THAT(install, HasSubstr("<key>ManagementFlags</key>"));
  auto c = ParseCommandPlist(install);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->command_uuid, "CMD-1");
  EXPECT_EQ(c->request_type, "InstallApplication");
  EXPECT_EQ(c->manifest_url, "https://apps.example.com/app/manifest.plist");

  auto done = ParseCommandPlist(BuildCommandPlist({"CMD-2", "DeviceConfigured", ""}));
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->request_type, "DeviceConfigured");
  EXPECT_TRUE(done->manifest_url.empty());

  EXPECT_THAT(ParseCommandPlist("<plist><dict><key>CommandUUID</key><string>x</string></dict></plist>"),
              StatusIs(StatusCode::kInvalidArgument, "mdm.bad_command"));
}

}  // namespace
}  // namespace ae::mdm
