// libFuzzer target: the MachineInfo reader (adapters/apple_mdm/machine_info.h), which
// POST /enroll/apple feeds with the body Setup Assistant posts.
//
// Two kinds of input, told apart by the first byte:
//  - 0x30 (a DER SEQUENCE): a whole body, CMS SignedData, verified as it arrives;
//  - anything else: the plist content alone. It is signed here with the fixed device
//    certificate below (issued by the fixed test device CA the trust holds), so the
//    mutations reach the plist reader behind a signature that verifies.
// Verification runs at a fixed time within the device certificate's validity.
// Invariants:
//  - an accepted MachineInfo has a UDID of 1..64 letters, digits or dashes, a SERIAL of
//    1..64 letters or digits, fields of at most 256 bytes and a signer subject; it names
//    the fixed device (the only one the CA issued: its UDID, letter case aside, and its
//    serial); and MachineInfoPlist() of it, signed again, reads back to the same MachineInfo;
//  - with a signature that verifies (second kind), a refusal is always
//    enroll.bad_machine_info, or enroll.signer_mismatch for a plist naming another device,
//    never enroll.bad_signature; and the content in the other plist encoding
//    (XML <-> binary) reads the same (a binary UID and the CF$UID dictionary libplist
//    writes for it in XML are both a UID, not a dictionary);
//  - every refusal is 400 enroll.bad_machine_info or 403 enroll.bad_signature /
//    enroll.signer_mismatch with an error body that serialises (fuzz_check.h
//    CheckRefusal); nothing answers 500.
//
// The CA, its key and the device certificate are throw-away EC P-256 test keys made by
// make_seeds.sh's `keys` step; they protect nothing. make_seeds.sh signs the seeds with them.
// Also linked into the unit test machine_info_corpus_test, which replays the seed corpus.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/apple_mdm/machine_info.h"
#include "events/base/clock.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/plist_encoding.h"

namespace ae::fuzz {
const char* const kTarget = "machine_info_fuzz";
}  // namespace ae::fuzz

namespace {

using ae::mdm::MachineInfo;

// CN=Fuzz iPhone Device CA (EC P-256, self-signed, CA:true).
constexpr char kDeviceCaPem[] = R"pem(
-----BEGIN CERTIFICATE-----
MIICHDCCAcGgAwIBAgIUXV0/ltlGuaLnFiKzqHjHcF6Mv88wCgYIKoZIzj0EAwIw
WjELMAkGA1UEBhMCVVMxFTATBgNVBAoMDFRlc3QgRGV2aWNlczEUMBIGA1UECwwL
VGVzdCBpUGhvbmUxHjAcBgNVBAMMFUZ1enogaVBob25lIERldmljZSBDQTAgFw0y
NjExMjUwNjMxNDVaGA8yMTI2MTEwMTA2MzE0NVowWjELMAkGA1UEBhMCVVMxFTAT
BgNVBAoMDFRlc3QgRGV2aWNlczEUMBIGA1UECwwLVGVzdCBpUGhvbmUxHjAcBgNV
BAMMFUZ1enogaVBob25lIERldmljZSBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABBwNEQYO/kJFboKUETEhwAa1ToiNWwLb65K7ix2H+yjw0JNgnCBM/llTLQGa
D35KiTkg2uMFD+/GgZ2E0rrWr+CjYzBhMB0GA1UdDgQWBBSCyNJthAUaYlv77bO+
yhFpslQujzAfBgNVHSMEGDAWgBSCyNJthAUaYlv77bO+yhFpslQujzAPBgNVHRMB
Af8EBTADAQH/MA4GA1UdDwEB/wQEAwIBhjAKBggqhkjOPQQDAgNJADBGAiEA2hNF
XOfn8+Duj210NmFD3H/mR8Ukpng9YbzI9UgeVIQCIQDr1aI4cLDM+M2KWNzUqk4d
waa7Fzo3xN4lwkuKSHoUZQ==
-----END CERTIFICATE-----
)pem";

constexpr char kDeviceCaKeyPem[] = R"pem(
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgP571p6vkYszIGyYS
qA1DGKB8UFzVa2aZFMemKQFM8AihRANCAAQcDREGDv5CRW6ClBExIcAGtU6IjVsC
2+uSu4sdh/so8NCTYJwgTP5ZUy0Bmg9+Sok5INrjBQ/vxoGdhNK61q/g
-----END PRIVATE KEY-----
)pem";

// CN=00008110-000A1B2C3D4E5F60, serialNumber=F2LXK0AAHG7F, issued by the CA above, valid
// from 2026-11-25 to 2126.
constexpr char kDeviceCertPem[] = R"pem(
-----BEGIN CERTIFICATE-----
MIICODCCAd2gAwIBAgIBKjAKBggqhkjOPQQDAjBaMQswCQYDVQQGEwJVUzEVMBMG
A1UECgwMVGVzdCBEZXZpY2VzMRQwEgYDVQQLDAtUZXN0IGlQaG9uZTEeMBwGA1UE
AwwVRnV6eiBpUGhvbmUgRGV2aWNlIENBMCAXDTI2MTEyNTA2MzE0NloYDzIxMjYx
MTAxMDYzMTQ2WjBwMSIwIAYDVQQDDBkwMDAwODExMC0wMDBBMUIyQzNENEU1RjYw
MQswCQYDVQQGEwJVUzEVMBMGA1UECgwMVGVzdCBEZXZpY2VzMQ8wDQYDVQQLDAZp
UGhvbmUxFTATBgNVBAUTDEYyTFhLMEFBSEc3RjBZMBMGByqGSM49AgEGCCqGSM49
AwEHA0IABOFmiiORKA0S5cwIIGk7w4KV0H7fTTfA2+nfW2SWHVlBFHe7zS9l1uUE
sAfIafcLnnMuZmgd1N40MKT1cSfyyACjfDB6MAkGA1UdEwQCMAAwDgYDVR0PAQH/
BAQDAgWgMB0GA1UdJQQWMBQGCCsGAQUFBwMBBggrBgEFBQcDAjAdBgNVHQ4EFgQU
F7bKKr1aLEB0Oi0UJkS2/Fo6m5kwHwYDVR0jBBgwFoAUgsjSbYQFGmJb++2zvsoR
abJULo8wCgYIKoZIzj0EAwIDSQAwRgIhAJvIfUhOX5vy1sjmopc83lMtCRN9sU3X
nrvaS1mvEjSQAiEAoOV3dMb4gpHRQE7bFH4ENOkZDCFMsYLGCwi9tB+AFMg=
-----END CERTIFICATE-----
)pem";

constexpr char kDeviceKeyPem[] = R"pem(
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg8/AH5A9QvODFo4+h
T7edYZmnqKg8rP9Az9gCia57W9ehRANCAAThZoojkSgNEuXMCCBpO8OCldB+3003
wNvp31tklh1ZQRR3u80vZdblBLAHyGn3C55zLmZoHdTeNDCk9XEn8sgA
-----END PRIVATE KEY-----
)pem";

constexpr char kDeviceUdid[] = "00008110-000A1B2C3D4E5F60";
constexpr char kDeviceSerial[] = "F2LXK0AAHG7F";

struct Fixture {
  ae::mdm::DeviceTrust trust;
  ae::mdm::TestDeviceAuthority authority;
  ae::mdm::DeviceCertificate device{kDeviceCertPem, kDeviceKeyPem};
  ae::ManualClock clock{1'798'761'600'000};  // 2027-01-01T00:00:00Z
};

const Fixture& Fixed() {
  static const Fixture* fixture = [] {
    auto trust = ae::mdm::DeviceTrust::FromPem(kDeviceCaPem);
    AE_FUZZ_CHECK(trust.ok(), trust.status().ToString());
    auto authority = ae::mdm::TestDeviceAuthority::FromPem(kDeviceCaPem, kDeviceCaKeyPem);
    AE_FUZZ_CHECK(authority.ok(), authority.status().ToString());
    return new Fixture{std::move(trust).value(), std::move(authority).value()};
  }();
  return *fixture;
}

ae::Result<MachineInfo> Verify(std::string_view body) {
  return ae::mdm::VerifyMachineInfo(body, Fixed().trust, Fixed().clock);
}

std::string Sign(std::string_view content, bool sha1) {
  auto body = Fixed().authority.SignContent(content, Fixed().device, sha1);
  AE_FUZZ_CHECK(body.ok(), body.status().ToString());
  return std::move(body).value();
}

bool IsIdentifier(std::string_view s, bool allow_dash) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                    (allow_dash && c == '-');
    if (!ok) return false;
  }
  return true;
}

bool SameUdid(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool SameInfo(const MachineInfo& a, const MachineInfo& b) {
  return a.udid == b.udid && a.serial == b.serial && a.product == b.product &&
         a.version == b.version && a.os_version == b.os_version && a.imei == b.imei &&
         a.meid == b.meid && a.language == b.language &&
         a.mdm_can_request_software_update == b.mdm_can_request_software_update &&
         a.signer_subject == b.signer_subject && a.signer_sha256 == b.signer_sha256;
}

// What an XML <string> written by libplist gives back unchanged: UTF-8 text without NUL
// or the C0 controls XML 1.0 cannot carry.
bool XmlSafe(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t' && c != '\n') return false;
  }
  return ae::fuzz::ValidUtf8(s);
}

void CheckInfo(const MachineInfo& info, uint64_t& rng) {
  ae::fuzz::Note("accepted " + info.udid + " " + info.serial + " signed by " + info.signer_subject);
  AE_FUZZ_CHECK(IsIdentifier(info.udid, true), ae::fuzz::Printable(info.udid));
  AE_FUZZ_CHECK(IsIdentifier(info.serial, false), ae::fuzz::Printable(info.serial));
  for (const std::string* f :
       {&info.product, &info.version, &info.os_version, &info.imei, &info.meid, &info.language}) {
    AE_FUZZ_CHECK(f->size() <= 256, std::to_string(f->size()));
  }
  AE_FUZZ_CHECK(!info.signer_subject.empty(), "no signer subject");
  AE_FUZZ_CHECK(info.signer_sha256.size() == 64, info.signer_sha256);
  AE_FUZZ_CHECK(SameUdid(info.udid, kDeviceUdid), "accepted for another device: " + info.udid);
  AE_FUZZ_CHECK(info.serial == kDeviceSerial, "accepted for another device: " + info.serial);
  // The builder writes C strings into XML: only text it can carry makes the round trip.
  for (const std::string* f :
       {&info.product, &info.version, &info.os_version, &info.imei, &info.meid, &info.language}) {
    if (!XmlSafe(*f)) return;
  }
  const std::string body = Sign(ae::mdm::MachineInfoPlist(info), ae::fuzz::SplitMix64(rng) & 1);
  auto again = Verify(body);
  AE_FUZZ_CHECK(again.ok(), "MachineInfoPlist() does not read back: " + again.status().ToString());
  MachineInfo expected = info;
  expected.signer_subject = again->signer_subject;  // signed by the fixed device now
  expected.signer_sha256 = again->signer_sha256;
  AE_FUZZ_CHECK(SameInfo(expected, *again), "MachineInfoPlist() round trip changed the fields");
}

void CheckRefusal(const ae::Status& s) {
  if (s.code() == ae::StatusCode::kPermissionDenied) {
    ae::fuzz::CheckRefusal(s, 403, {"enroll.bad_signature", "enroll.signer_mismatch"});
  } else {
    ae::fuzz::CheckRefusal(s, 400, {"enroll.bad_machine_info"});
  }
}

// `content` in the other plist encoding, when libplist reads it.
std::optional<std::string> OtherEncoding(std::string_view content) {
  if (content.size() < 8) return std::nullopt;
  return ae::fuzz::OtherPlistEncoding(content, ae::fuzz::IsBinaryPlist(content));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  uint64_t rng = ae::fuzz::Fnv1a(input);

  if (input.empty() || static_cast<unsigned char>(input[0]) == 0x30) {
    auto info = Verify(input);
    if (info.ok()) {
      CheckInfo(*info, rng);
    } else {
      CheckRefusal(info.status());
    }
    return 0;
  }

  const std::string body = Sign(input, ae::fuzz::SplitMix64(rng) & 1);
  auto info = Verify(body);
  if (info.ok()) {
    CheckInfo(*info, rng);
  } else {
    CheckRefusal(info.status());
    AE_FUZZ_CHECK(info.status().reason() == "enroll.bad_machine_info" ||
                      info.status().reason() == "enroll.signer_mismatch" ||
                      body.size() > ae::mdm::kMaxMachineInfoBytes,
                  "a body signed by a trusted device was refused: " + info.status().ToString());
  }
  // The same property list in the other encoding reads the same. A binary plist is
  // refused beyond 4096 objects (the reader's recursion bound) where XML is not, so only
  // small ones are compared.
  // libplist converts text with NUL bytes (or, to binary, other than UTF-8) lossily.
  if (input.size() > 4096) return 0;
  const bool binary = input.substr(0, 8) == "bplist00";
  if (!binary && (input.find('\0') != std::string_view::npos || !ae::fuzz::ValidUtf8(input))) {
    return 0;
  }
  const std::optional<std::string> other = OtherEncoding(input);
  if (!other) return 0;
  // Only a faithful conversion is compared: one that converting back and forth again
  // reproduces (a binary dictionary may repeat a key, which XML cannot keep).
  const std::optional<std::string> back = OtherEncoding(*other);
  if (!back || OtherEncoding(*back) != other) return 0;
  const std::string other_body = Sign(*other, false);
  if (other_body.size() > ae::mdm::kMaxMachineInfoBytes) return 0;
  auto other_info = Verify(other_body);
  AE_FUZZ_CHECK(other_info.ok() == info.ok(),
                "XML and binary differ: " + info.status().ToString() + " vs " +
                    other_info.status().ToString());
  if (info.ok()) {
    AE_FUZZ_CHECK(SameInfo(*info, *other_info), "XML and binary read to different fields");
  } else {
    AE_FUZZ_CHECK(info.status().message() == other_info.status().message(),
                  info.status().ToString() + " vs " + other_info.status().ToString());
  }
  return 0;
}
