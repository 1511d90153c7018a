// make_golden: writes the golden corpus of the event schema (developer tool,
// not a test and not shipped).
//
// For every payload case of autoenroll.events.v1.Envelope it builds one
// Envelope with realistic values in every header field and every payload field
// and writes, for the CURRENT schema version only (kSchemaVersion),
//   tests/golden/events/v<kSchemaVersion>/<payload_field_name>.bin        serialized Envelope
//   tests/golden/events/v<kSchemaVersion>/<payload_field_name>.textproto  its TextFormat
// tests/unit/events/golden_corpus_test.cc then checks, forever, that every
// .bin still decodes to exactly its .textproto and re-encodes to the same bytes.
//
// Golden files are the old data that must keep decoding: they are written once
// and never regenerated casually. By default this tool only writes the files
// that do not exist yet (a new payload case), and leaves every existing one
// untouched; when only the .textproto of an existing .bin is missing, it is
// derived from that .bin. --force rewrites files (all of them, or only the
// payload cases named on the command line); do that only for a file that was
// never released.
//
// After adding a payload case to events.proto:
//   1. add a builder for it to Builders() below (every field set: the tool
//      refuses to write an event with an unset field);
//   2. ninja -C build -j2 make_golden && build/tests/make_golden
//   3. review and commit the new tests/golden/events/v<N>/<case>.{bin,textproto}.
//
// Usage:
//   make_golden [--force] [--source-dir=DIR] [payload_field_name ...]
// DIR is the repository root; default: $AE_SOURCE_DIR, else the source tree
// this binary was configured from.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/timestamp.pb.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "autoenroll/events/v1/events.pb.h"
#include "events/base/crypto.h"

namespace ae::golden {
namespace {

namespace fs = std::filesystem;
namespace pb = google::protobuf;
namespace v1 = autoenroll::events::v1;

// The schema version this build writes (Envelope.schema_version).
constexpr uint32_t kSchemaVersion = 2;

// 2024-03-14T09:26:53.589Z: the time of the first golden event.
constexpr int64_t kBaseMs = 1710408413589;

// ------------------------------------------------------------ value helpers --

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A UUIDv7 for `ms` whose random bits are derived from `seed`: deterministic,
// so rewriting a file with --force gives the same bytes.
std::string UuidV7(int64_t ms, uint64_t seed) {
  std::string b(16, '\0');
  uint64_t state = seed;
  const uint64_t r1 = SplitMix64(&state);
  const uint64_t r2 = SplitMix64(&state);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<char>((static_cast<uint64_t>(ms) >> (40 - 8 * i)) & 0xff);
  for (int i = 6; i < 8; ++i) b[i] = static_cast<char>((r1 >> (8 * i)) & 0xff);
  for (int i = 8; i < 16; ++i) b[i] = static_cast<char>((r2 >> (8 * (i - 8))) & 0xff);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x70);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  const std::string h = crypto::Hex(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

// Deterministic pseudo-random bytes (stand-ins for ciphertexts and digests).
std::string Bytes(std::string_view label, size_t n) {
  std::string out;
  for (int i = 0; out.size() < n; ++i) out += crypto::Sha256(std::string(label) + "#" + std::to_string(i));
  out.resize(n);
  return out;
}

std::string Sha256Of(std::string_view label) { return crypto::Sha256(label); }

// 32 lowercase hex characters, like the user ids of domain/users (a keyed hash).
std::string HexId(std::string_view label) { return crypto::Hex(Sha256Of(label)).substr(0, 32); }

void SetTime(pb::Timestamp* ts, int64_t ms) {
  ts->set_seconds(ms / 1000);
  ts->set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
}

// Sealed PersonalData: 12-byte nonce || ciphertext || 16-byte tag.
void Seal(v1::SealedPersonal* sealed, const std::string& subject_id, size_t plaintext_bytes) {
  sealed->set_subject_id(subject_id);
  sealed->set_key_version(1);
  sealed->set_ciphertext(Bytes("sealed:" + subject_id, 12 + plaintext_bytes + 16));
}

std::string PemCertificate() {
  const std::string body = crypto::Base64(Bytes("dep-account-certificate", 435));
  std::string pem = "-----BEGIN CERTIFICATE-----\n";
  for (size_t i = 0; i < body.size(); i += 64) pem += body.substr(i, 64) + "\n";
  return pem + "-----END CERTIFICATE-----\n";
}

// ------------------------------------------------------------- the events --

// Shared ids, so the corpus reads like one deployment's history.
const std::string kUserId = HexId("user:jane.appleseed");
const std::string kAdminId = HexId("user:it.admin");
const std::string kSerial = "C02ZT3WJMD6M";
const std::string kAccountId = "acme-dep-1";
const std::string kProfileId = "corporate-ios";
const std::string kProfileUuid = "4D5C0E2B7A9F41C3B8E6D2A1F0C9B7E5";
const std::string kKmeDeviceId = "352099001761481";
const std::string kImportId = "0190a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b";
const std::string kSyncId = "018e3c4f-2a10-7b6c-9d8e-7f6a5b4c3d2e";
const std::string kKnoxConnectionId = "018e3d02-11f4-7a3b-8c5d-4e6f7a8b9c0d";

void Header(v1::Envelope* env, const std::string& stream, uint64_t version,
            v1::Actor::Kind actor_kind, const std::string& actor_id) {
  env->set_stream(stream);
  env->set_stream_version(version);
  env->mutable_actor()->set_kind(actor_kind);
  env->mutable_actor()->set_id(actor_id);
}

void SetIdentifiers(v1::KmeIdentifiers* ids) {
  ids->set_imei(kKmeDeviceId);
  ids->set_imei2("352099001761499");
  ids->set_meid("35209900176148");
  ids->set_serial_number("R58N90ABCDE");
}

using Builder = std::function<void(v1::Envelope*)>;

std::map<std::string, Builder> Builders() {
  using K = v1::Actor;
  const std::string dep_device = "dep-device/" + kSerial;
  const std::string kme_device = "kme-device/" + kKmeDeviceId;
  const std::string dep_account = "dep-account/" + kAccountId;
  const std::string dep_profile = "dep-profile/" + kProfileId;
  const std::string sync_actor = "adapters.dep.sync";
  std::map<std::string, Builder> b;

  // ---- users, policies, rule sets
  b["user_created"] = [=](v1::Envelope* e) {
    Header(e, "user/" + kUserId, 1, K::KIND_USER, kAdminId);
    auto* p = e->mutable_user_created();
    p->set_user_id(kUserId);
    p->set_role(v1::ROLE_DEVICE_MANAGER);
    Seal(p->mutable_personal(), kUserId, 71);
    p->set_created_by(kAdminId);
  };
  b["user_token_issued"] = [=](v1::Envelope* e) {
    Header(e, "user/" + kUserId, 2, K::KIND_USER, kAdminId);
    auto* p = e->mutable_user_token_issued();
    p->set_user_id(kUserId);
    p->set_token_id("tok_5Qm2Zx8LrT4v");
    p->set_token_sha256(Sha256Of("token:tok_5Qm2Zx8LrT4v"));
  };
  b["user_token_revoked"] = [=](v1::Envelope* e) {
    Header(e, "user/" + kUserId, 3, K::KIND_USER, kAdminId);
    auto* p = e->mutable_user_token_revoked();
    p->set_user_id(kUserId);
    p->set_token_id("tok_5Qm2Zx8LrT4v");
  };
  b["user_role_changed"] = [=](v1::Envelope* e) {
    Header(e, "user/" + kUserId, 4, K::KIND_USER, kAdminId);
    auto* p = e->mutable_user_role_changed();
    p->set_user_id(kUserId);
    p->set_role(v1::ROLE_ADMINISTRATOR);
  };
  b["user_deleted"] = [=](v1::Envelope* e) {
    Header(e, "user/" + kUserId, 5, K::KIND_USER, kAdminId);
    e->mutable_user_deleted()->set_user_id(kUserId);
  };
  b["person_forgotten"] = [=](v1::Envelope* e) {
    Header(e, "user/" + kUserId, 6, K::KIND_USER, kAdminId);
    e->mutable_person_forgotten()->set_subject_id(kUserId);
  };
  b["policy_created"] = [=](v1::Envelope* e) {
    Header(e, "policy/corporate-ios-baseline", 1, K::KIND_USER, kAdminId);
    auto* p = e->mutable_policy_created();
    p->set_policy_id("corporate-ios-baseline");
    p->set_name("Corporate iOS baseline");
    auto* c = p->mutable_content();
    c->set_description("Wi-Fi and passcode for every company iPhone");
    c->set_apple_payloads_json(
        R"([{"PayloadType":"com.apple.wifi.managed","PayloadIdentifier":"com.acme.wifi","SSID_STR":"ACME"}])");
    c->set_sign_apple_profile(true);
    c->set_android_config_json(R"({"wifi_ssid":"ACME"})");
  };
  b["policy_updated"] = [=](v1::Envelope* e) {
    Header(e, "policy/corporate-ios-baseline", 2, K::KIND_USER, kAdminId);
    auto* p = e->mutable_policy_updated();
    p->set_policy_id("corporate-ios-baseline");
    p->set_version(2);
    p->set_name("Corporate iOS Baseline");
    auto* c = p->mutable_content();
    c->set_description("Wi-Fi, passcode and VPN for every company iPhone");
    c->set_apple_payloads_json(
        R"([{"PayloadType":"com.apple.wifi.managed","PayloadIdentifier":"com.acme.wifi","SSID_STR":"ACME-5G"}])");
    c->set_sign_apple_profile(true);
    c->set_android_config_json(R"({"wifi_ssid":"ACME-5G"})");
  };
  b["policy_deleted"] = [=](v1::Envelope* e) {
    Header(e, "policy/corporate-ios-baseline", 3, K::KIND_USER, kAdminId);
    e->mutable_policy_deleted()->set_policy_id("corporate-ios-baseline");
  };
  b["ruleset_created"] = [=](v1::Envelope* e) {
    Header(e, "ruleset/field-sales", 1, K::KIND_USER, kAdminId);
    auto* p = e->mutable_ruleset_created();
    p->set_ruleset_id("field-sales");
    p->set_name("Field sales");
    p->set_description("Keep field devices patched");
    auto* r = p->add_rules();
    r->set_condition("os_version < 17.0");
    r->set_action("notify");
    r->set_description("Remind the owner to update");
  };
  b["ruleset_updated"] = [=](v1::Envelope* e) {
    Header(e, "ruleset/field-sales", 2, K::KIND_USER, kAdminId);
    auto* p = e->mutable_ruleset_updated();
    p->set_ruleset_id("field-sales");
    p->set_version(2);
    p->set_name("Field sales");
    p->set_description("Keep field devices patched, lock the old ones");
    auto* r = p->add_rules();
    r->set_condition("os_version < 16.0");
    r->set_action("lock");
    r->set_description("Lock devices two releases behind");
  };
  b["ruleset_deleted"] = [=](v1::Envelope* e) {
    Header(e, "ruleset/field-sales", 3, K::KIND_USER, kAdminId);
    e->mutable_ruleset_deleted()->set_ruleset_id("field-sales");
  };
  auto fill_action = [=](v1::AssignmentAction* a) {
    a->set_profile_id(kProfileId);
    a->set_user_id(kUserId);
    a->set_policy_id("corporate-ios-baseline");
    a->set_ruleset_id("field-sales");
  };
  b["enrollment_rule_defined"] = [=](v1::Envelope* e) {
    Header(e, "rule/warehouse-ipads", 1, K::KIND_USER, kAdminId);
    auto* p = e->mutable_enrollment_rule_defined();
    p->set_rule_id("warehouse-ipads");
    p->set_name("Warehouse iPads");
    p->set_priority(10);
    auto* w = p->mutable_when();
    w->set_source("dep");
    w->set_account_id(kAccountId);
    w->add_models("iPad (10th generation)");
    w->set_os("iPadOS");
    w->set_serial_prefix("DMP");
    w->set_order_number("PO-2024-0314");
    w->add_knox_tags("warehouse");
    w->set_reseller("ACME Reseller GmbH");
    w->set_device_family("iPad");
    w->add_profile_names("Warehouse");
    fill_action(p->mutable_then());
    p->set_disabled(true);
  };
  b["enrollment_rule_deleted"] = [=](v1::Envelope* e) {
    Header(e, "rule/warehouse-ipads", 2, K::KIND_USER, kAdminId);
    e->mutable_enrollment_rule_deleted()->set_rule_id("warehouse-ipads");
  };
  const std::string job = "job/0190a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a2c";
  b["assignment_job_started"] = [=](v1::Envelope* e) {
    Header(e, job, 1, K::KIND_USER, kAdminId);
    auto* p = e->mutable_assignment_job_started();
    p->set_job_id(job.substr(4));
    p->set_total(1200);
    fill_action(p->mutable_then());
    p->set_selection(R"({"source":"dep","profile_status":"empty"})");
  };
  b["assignment_job_progressed"] = [=](v1::Envelope* e) {
    Header(e, job, 2, K::KIND_SYSTEM, "adapters.assignment");
    auto* p = e->mutable_assignment_job_progressed();
    p->set_job_id(job.substr(4));
    p->set_done(1000);
    auto* o = p->add_outcomes();
    o->set_device_id(kSerial);
    o->set_outcome("refused");
    o->set_code("dep.device_not_assigned_to_server");
  };
  b["assignment_job_completed"] = [=](v1::Envelope* e) {
    Header(e, job, 3, K::KIND_SYSTEM, "adapters.assignment");
    auto* p = e->mutable_assignment_job_completed();
    p->set_job_id(job.substr(4));
    p->set_done(1200);
    p->set_assigned(1150);
    p->set_unchanged(49);
    p->set_refused(1);
    p->set_cancelled(true);
  };

  // ---- devices
  b["device_user_assigned"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 4, K::KIND_USER, kAdminId);
    auto* p = e->mutable_device_user_assigned();
    p->set_device_id(kSerial);
    p->set_user_id(kUserId);    p->set_rule_id("warehouse-ipads");
    p->set_job_id(job.substr(4));
  };
  b["device_policy_assigned"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 5, K::KIND_USER, kAdminId);
    auto* p = e->mutable_device_policy_assigned();
    p->set_device_id(kSerial);
    p->set_policy_id("corporate-ios-baseline");    p->set_rule_id("warehouse-ipads");
    p->set_job_id(job.substr(4));
  };
  b["device_ruleset_assigned"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 6, K::KIND_USER, kAdminId);
    auto* p = e->mutable_device_ruleset_assigned();
    p->set_device_id(kSerial);
    p->set_ruleset_id("field-sales");    p->set_rule_id("warehouse-ipads");
    p->set_job_id(job.substr(4));
  };
  b["device_enrolled"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 9, K::KIND_DEVICE, dep_device);
    auto* p = e->mutable_device_enrolled();
    p->set_device_id(kSerial);
    p->set_platform(v1::PLATFORM_APPLE);
    p->set_serial_number(kSerial);
    p->set_udid("00008030-001A2D8E3C0A802E");
    p->set_model("iPhone14,5");
    p->set_os_version("17.4");
    p->set_user_id(kUserId);
    p->set_policy_id("corporate-ios-baseline");
    p->set_ruleset_id("field-sales");
    p->set_push_topic("com.apple.mgmt.External.2f9a6c1e-7b3d-4e8a-9c5f-1d2b3a4c5e6f");
    p->set_push_token_sha256(Sha256Of("push-token:" + kSerial));
    p->set_imei("353918112048516");
  };
  b["device_configured"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 12, K::KIND_DEVICE, dep_device);
    e->mutable_device_configured()->set_device_id(kSerial);
  };
  b["device_checked_out"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 20, K::KIND_DEVICE, dep_device);
    e->mutable_device_checked_out()->set_device_id(kSerial);
  };
  b["device_removed_from_inventory"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 21, K::KIND_USER, kAdminId);
    e->mutable_device_removed_from_inventory()->set_device_id(kSerial);
  };
  b["device_command_queued"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 10, K::KIND_SYSTEM, "adapters.enrollment");
    auto* p = e->mutable_device_command_queued();
    p->set_device_id(kSerial);
    p->set_command_uuid("9B1C2D3E-4F50-4A6B-8C7D-9E0F1A2B3C4D");
    p->set_request_type("InstallApplication");
    p->set_manifest_url("https://mdm.example.com/apps/companion/manifest.plist");
  };
  b["device_policy_delivered"] = [=](v1::Envelope* e) {
    Header(e, "device/" + kSerial, 12, K::KIND_DEVICE, dep_device);
    auto* p = e->mutable_device_policy_delivered();
    p->set_device_id(kSerial);
    p->set_policy_id("corporate-ios-baseline");
    p->set_policy_version(2);
    p->set_ruleset_id("field-sales");
    p->set_ruleset_version(2);
    p->set_channel("apple_mdm");
    p->set_command_uuid("6A7B8C9D-0E1F-4A2B-8C3D-4E5F6A7B8C9D");
  };
  b["device_policy_acknowledged"] = [=](v1::Envelope* e) {
    Header(e, "device/" + kSerial, 13, K::KIND_DEVICE, dep_device);
    auto* p = e->mutable_device_policy_acknowledged();
    p->set_device_id(kSerial);
    p->set_policy_id("corporate-ios-baseline");
    p->set_policy_version(2);
    p->set_ruleset_id("field-sales");
    p->set_ruleset_version(2);
    p->set_command_uuid("6A7B8C9D-0E1F-4A2B-8C3D-4E5F6A7B8C9D");
    p->set_status("Error");
    p->set_error("MCProfileErrorDomain 1009: The profile is not signed by a trusted signer.");
  };
  b["device_command_completed"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 11, K::KIND_DEVICE, dep_device);
    auto* p = e->mutable_device_command_completed();
    p->set_device_id(kSerial);
    p->set_command_uuid("9B1C2D3E-4F50-4A6B-8C7D-9E0F1A2B3C4D");
    p->set_status("Error");
    p->set_error("MCInstallationErrorDomain 4001: The app could not be downloaded.");
  };
  b["device_checked_in"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 8, K::KIND_DEVICE, dep_device);
    auto* p = e->mutable_device_checked_in();
    p->set_device_id(kSerial);
    p->set_message_type("TokenUpdate");
  };
  b["device_identity_issued"] = [=](v1::Envelope* e) {
    Header(e, "device/" + kSerial, 7, K::KIND_DEVICE, "device/" + kSerial);
    auto* p = e->mutable_device_identity_issued();
    p->set_device_id(kSerial);
    p->set_certificate_sha256(crypto::Hex(Sha256Of("identity-certificate:" + kSerial)));
    p->set_udid("00008030-001A2D8E3C0A802E");
    p->set_signer_sha256(crypto::Hex(Sha256Of("apple-device-certificate:" + kSerial)));
  };
  b["device_identity_revoked"] = [=](v1::Envelope* e) {
    Header(e, "device/" + kSerial, 22, K::KIND_USER, kAdminId);
    auto* p = e->mutable_device_identity_revoked();
    p->set_device_id(kSerial);
    p->set_certificate_sha256(crypto::Hex(Sha256Of("identity-certificate:" + kSerial)));
    p->set_reason("removed_from_inventory");
  };

  // ---- Apple DEP
  b["dep_account_created"] = [=](v1::Envelope* e) {
    Header(e, dep_account, 1, K::KIND_USER, kAdminId);
    auto* p = e->mutable_dep_account_created();
    p->set_account_id(kAccountId);
    p->set_name("ACME Apple Business Manager");
    p->set_certificate_pem(PemCertificate());
    p->set_private_key_ref("dep-account/" + kAccountId + "/private-key");
    p->set_public_key_sha256(Sha256Of("dep-account-public-key"));
  };
  b["dep_token_uploaded"] = [=](v1::Envelope* e) {
    Header(e, dep_account, 2, K::KIND_USER, kAdminId);
    auto* p = e->mutable_dep_token_uploaded();
    p->set_account_id(kAccountId);
    p->set_token_sha256(Sha256Of("dep-token-json"));
    SetTime(p->mutable_access_token_expiry(), 1741944413000);
    p->set_secret_ref("dep-account/" + kAccountId + "/oauth");
    p->set_consumer_key_sha256(Sha256Of("CK_3a9f0c1d2e4b5a6978c0d1e2f3a4b5c6"));
  };
  b["dep_account_details_synced"] = [=](v1::Envelope* e) {
    Header(e, dep_account, 3, K::KIND_SYSTEM, sync_actor);
    auto* p = e->mutable_dep_account_details_synced();
    p->set_account_id(kAccountId);
    p->set_server_name("ACME autoenroll");
    p->set_server_uuid("677cd1c2-5b8a-4f3e-9d2c-1a0b9c8d7e6f");
    p->set_org_name("ACME Corporation");
    p->set_org_email("it-ops@acme.example");
    p->set_org_phone("+1 408 555 0100");
    p->set_org_address("1 Infinite Loop, Cupertino CA 95014, US");
    p->set_org_id("1234567");
    p->set_facilitator_id("facilitator@acme.example");
    p->set_admin_id("abm-admin@acme.example");
    p->set_org_type("org");
    p->set_org_version("v2");
  };
  b["dep_account_state_changed"] = [=](v1::Envelope* e) {
    Header(e, dep_account, 4, K::KIND_SYSTEM, sync_actor);
    auto* p = e->mutable_dep_account_state_changed();
    p->set_account_id(kAccountId);
    p->set_state(v1::DEP_ACCOUNT_STATE_TOKEN_EXPIRED);
    p->set_reason("Apple returned 401 oauth_problem=token_expired");
  };
  b["dep_sync_started"] = [=](v1::Envelope* e) {
    Header(e, dep_account, 5, K::KIND_SYSTEM, sync_actor);
    auto* p = e->mutable_dep_sync_started();
    p->set_account_id(kAccountId);
    p->set_sync_id(kSyncId);
    p->set_mode("fetch");
  };
  b["dep_sync_progressed"] = [=](v1::Envelope* e) {
    Header(e, dep_account, 6, K::KIND_SYSTEM, sync_actor);
    auto* p = e->mutable_dep_sync_progressed();
    p->set_account_id(kAccountId);
    p->set_sync_id(kSyncId);
    p->set_pages(3);
    p->set_devices_seen(3000);
    p->set_events_written(412);
    p->set_cursor_ref("MTcxMDQwODQxMzU4OTowMDAz");
  };
  b["dep_sync_completed"] = [=](v1::Envelope* e) {
    Header(e, dep_account, 7, K::KIND_SYSTEM, sync_actor);
    auto* p = e->mutable_dep_sync_completed();
    p->set_account_id(kAccountId);
    p->set_sync_id(kSyncId);
    p->set_devices_seen(3217);
    p->set_events_written(455);
    p->set_cursor("MTcxMDQwODQ3NjEwMjowMDA0");
    SetTime(p->mutable_fetched_until(), kBaseMs + 62513);
  };
  b["dep_sync_failed"] = [=](v1::Envelope* e) {
    Header(e, dep_account, 8, K::KIND_SYSTEM, sync_actor);
    auto* p = e->mutable_dep_sync_failed();
    p->set_account_id(kAccountId);
    p->set_sync_id(kSyncId);
    p->set_code("EXPIRED_CURSOR");
    p->set_message("Apple rejected the cursor (400 EXPIRED_CURSOR); next run does a full fetch");
  };
  b["dep_profile_defined"] = [=](v1::Envelope* e) {
    Header(e, dep_profile, 1, K::KIND_USER, kAdminId);
    auto* p = e->mutable_dep_profile_defined();
    p->set_profile_id(kProfileId);
    p->set_account_id(kAccountId);
    p->set_profile_name("Corporate iOS");
    p->set_url("https://mdm.example.com/enroll/dep");
    p->set_is_mandatory(true);
    p->set_is_mdm_removable(true);
    p->set_is_supervised(true);
    p->set_await_device_configured(true);
    p->add_skip_setup_items("Siri");
    p->add_skip_setup_items("Privacy");
    p->add_skip_setup_items("ScreenTime");
    p->set_support_phone_number("+1 408 555 0199");
    p->set_support_email_address("helpdesk@acme.example");
    p->set_department("IT Operations");
    p->set_org_magic("913FABBB-0032-4E13-9966-D6BBAC900331");
    p->set_language("en");
    p->set_region("US");
    p->set_allow_pairing(true);
    p->set_is_multi_user(true);
    p->set_auto_advance_setup(true);
    p->add_anchor_certs(crypto::Base64(Bytes("anchor-cert-der", 96)));
    p->add_supervising_host_certs(crypto::Base64(Bytes("supervising-host-cert-der", 96)));
    p->set_configuration_web_url("https://mdm.example.com/enroll/dep/web");
    p->set_do_not_use_profile_from_backup(true);
  };
  b["dep_profile_defined_at_apple"] = [=](v1::Envelope* e) {
    Header(e, dep_profile, 2, K::KIND_SYSTEM, "adapters.dep.profiles");
    auto* p = e->mutable_dep_profile_defined_at_apple();
    p->set_profile_id(kProfileId);
    p->set_profile_uuid(kProfileUuid);
  };
  b["dep_profile_definition_failed"] = [=](v1::Envelope* e) {
    Header(e, dep_profile, 3, K::KIND_SYSTEM, "adapters.dep.profiles");
    auto* p = e->mutable_dep_profile_definition_failed();
    p->set_profile_id(kProfileId);
    p->set_code("CONFIG_URL_INVALID");
    p->set_message("Apple rejected the profile: url must use https");
  };
  b["dep_device_synced"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 1, K::KIND_SYSTEM, sync_actor);
    auto* p = e->mutable_dep_device_synced();
    const std::string assigned_by = HexId("apple-account:abm-admin");
    p->set_serial_number(kSerial);
    p->set_account_id(kAccountId);
    p->set_model("iPhone 13");
    p->set_description("IPHONE 13 MIDNIGHT 128GB-USA");
    p->set_color("MIDNIGHT");
    p->set_asset_tag("ACME-004217");
    p->set_os("iOS");
    p->set_device_family("iPhone");
    SetTime(p->mutable_device_assigned_date(), 1710322013000);
    // The Apple Account itself is sealed below; this names its subject only.
    p->set_device_assigned_by(assigned_by);
    p->set_op_type("added");
    SetTime(p->mutable_op_date(), 1710322013000);
    p->set_sync_id(kSyncId);
    Seal(p->mutable_assigned_by_personal(), assigned_by, 30);
  };
  b["dep_profile_status_changed"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 3, K::KIND_SYSTEM, sync_actor);
    auto* p = e->mutable_dep_profile_status_changed();
    p->set_serial_number(kSerial);
    p->set_status(v1::DEP_PROFILE_STATUS_PUSHED);
    p->set_profile_uuid(kProfileUuid);
    SetTime(p->mutable_profile_assign_time(), 1710405800000);
    SetTime(p->mutable_profile_push_time(), 1710408100000);
    p->set_sync_id(kSyncId);
  };
  b["dep_device_unassigned"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 22, K::KIND_SYSTEM, sync_actor);
    auto* p = e->mutable_dep_device_unassigned();
    p->set_serial_number(kSerial);
    p->set_account_id(kAccountId);
    p->set_op_type("deleted");
    SetTime(p->mutable_op_date(), 1712836800000);
    p->set_sync_id(kSyncId);
  };
  b["dep_profile_assignment_requested"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 2, K::KIND_USER, kAdminId);
    auto* p = e->mutable_dep_profile_assignment_requested();
    p->set_serial_number(kSerial);
    p->set_profile_id(kProfileId);
    p->set_profile_uuid(kProfileUuid);
    p->set_request_id("018e3c52-9f1e-7a2b-8c3d-4e5f6a7b8c9d");
    p->set_rule_id("warehouse-ipads");
    p->set_job_id(job.substr(4));
  };
  b["dep_profile_assigned"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 3, K::KIND_SYSTEM, "adapters.dep.assign");
    auto* p = e->mutable_dep_profile_assigned();
    p->set_serial_number(kSerial);
    p->set_profile_id(kProfileId);
    p->set_profile_uuid(kProfileUuid);
    p->set_request_id("018e3c52-9f1e-7a2b-8c3d-4e5f6a7b8c9d");
  };
  b["dep_profile_assignment_failed"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 3, K::KIND_SYSTEM, "adapters.dep.assign");
    auto* p = e->mutable_dep_profile_assignment_failed();
    p->set_serial_number(kSerial);
    p->set_profile_id(kProfileId);
    p->set_request_id("018e3c52-9f1e-7a2b-8c3d-4e5f6a7b8c9d");
    p->set_reason("THROTTLED");
    SetTime(p->mutable_retry_after(), kBaseMs + 120000);
  };
  b["dep_profile_removal_requested"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 13, K::KIND_USER, kAdminId);
    auto* p = e->mutable_dep_profile_removal_requested();
    p->set_serial_number(kSerial);
    p->set_request_id("018e3d01-4b2a-7c3d-9e4f-5a6b7c8d9e0f");
  };
  b["dep_profile_removed"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 14, K::KIND_SYSTEM, "adapters.dep.assign");
    auto* p = e->mutable_dep_profile_removed();
    p->set_serial_number(kSerial);
    p->set_request_id("018e3d01-4b2a-7c3d-9e4f-5a6b7c8d9e0f");
    p->set_result("SUCCESS");
  };
  b["dep_device_disown_requested"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 15, K::KIND_USER, kAdminId);
    auto* p = e->mutable_dep_device_disown_requested();
    p->set_serial_number(kSerial);
    p->set_request_id("018e3d7a-0c1b-7d2e-8f3a-4b5c6d7e8f90");
    p->set_requested_by(kAdminId);
  };
  b["dep_device_disowned"] = [=](v1::Envelope* e) {
    Header(e, dep_device, 16, K::KIND_SYSTEM, "adapters.dep.assign");
    auto* p = e->mutable_dep_device_disowned();
    p->set_serial_number(kSerial);
    p->set_request_id("018e3d7a-0c1b-7d2e-8f3a-4b5c6d7e8f90");
    p->set_result("SUCCESS");
  };
  b["dep_enrollment_refused"] = [=](v1::Envelope* e) {
    Header(e, "dep-device/C02YL4QRMD6T", 1, K::KIND_SYSTEM, "adapters.enrollment");
    auto* p = e->mutable_dep_enrollment_refused();
    p->set_serial_number("C02YL4QRMD6T");
    p->set_reason("enroll.unknown_device");
    p->set_udid("00008101-000E4C2A3B91001E");
  };

  // ---- Samsung KME
  b["kme_enrollment_token_rotated"] = [=](v1::Envelope* e) {
    Header(e, "kme-settings/default", 2, K::KIND_USER, kAdminId);
    auto* p = e->mutable_kme_enrollment_token_rotated();
    p->set_token_sha256(Sha256Of("kme-enrollment-token-2"));
    p->set_secret_ref("kme-settings/default/enrollment-token");
  };
  b["kme_device_imported"] = [=](v1::Envelope* e) {
    Header(e, kme_device, 1, K::KIND_USER, kAdminId);
    auto* p = e->mutable_kme_device_imported();
    p->set_device_id(kKmeDeviceId);
    SetIdentifiers(p->mutable_identifiers());
    p->set_model("SM-G991B");
    p->set_profile_name("Corporate Android");
    p->add_tags("field-sales");
    p->add_tags("emea");
    (*p->mutable_attributes())["cost_center"] = "CC-4410";
    (*p->mutable_attributes())["purchase_order"] = "PO-2024-0317";
    p->set_knox_status("Uploaded");
    p->set_source(v1::KME_SOURCE_CSV);
    p->set_import_id(kImportId);
    p->set_line(17);
    p->set_matched_user_id(kUserId);
    Seal(p->mutable_knox_user(), kUserId, 44);
  };
  b["kme_device_updated"] = [=](v1::Envelope* e) {
    Header(e, kme_device, 2, K::KIND_SYSTEM, "adapters.kme.sync");
    auto* p = e->mutable_kme_device_updated();
    p->set_device_id(kKmeDeviceId);
    SetIdentifiers(p->mutable_identifiers());
    p->set_model("SM-G991B");
    p->set_profile_name("Corporate Android v2");
    p->add_tags("field-sales");
    (*p->mutable_attributes())["cost_center"] = "CC-4420";
    (*p->mutable_attributes())["purchase_order"] = "PO-2024-0317";
    p->set_knox_status("Assigned");
    p->set_import_id(kImportId);
    p->set_line(18);
    p->set_source(v1::KME_SOURCE_KNOX_API);
  };
  b["kme_import_completed"] = [=](v1::Envelope* e) {
    Header(e, "kme-import/" + kImportId, 1, K::KIND_USER, kAdminId);
    auto* p = e->mutable_kme_import_completed();
    p->set_import_id(kImportId);
    p->set_rows(250);
    p->set_created(231);
    p->set_updated(12);
    p->set_unchanged(5);
    p->set_rejected(2);
    p->set_users_matched(198);
    p->set_file_sha256(Sha256Of("devices-2024-03-14.csv"));
    p->set_policy_id("corporate-ios-baseline");
    p->set_ruleset_id("field-sales");
    p->set_default_user_id(kUserId);
    auto* err1 = p->add_errors();
    err1->set_line(42);
    err1->set_code("invalid_imei");
    err1->set_message("IMEI 35209900176148X fails the Luhn check");
    err1->set_knox_device_id("3520000417");
    auto* err2 = p->add_errors();
    err2->set_line(97);
    err2->set_code("duplicate_device");
    err2->set_message("IMEI 352099001761481 already appears on line 17");
    err2->set_knox_device_id("3520000418");
    p->set_source(v1::KME_SOURCE_CSV);
  };
  b["kme_enrollment_refused"] = [=](v1::Envelope* e) {
    Header(e, kme_device, 3, K::KIND_SYSTEM, "adapters.enrollment");
    auto* p = e->mutable_kme_enrollment_refused();
    p->set_device_id(kKmeDeviceId);
    SetIdentifiers(p->mutable_identifiers());
    p->set_reason("kme.bad_token");
    p->set_source(v1::KME_SOURCE_KNOX_DEPLOYMENT);
  };
  b["kme_device_created_by_deployment"] = [=](v1::Envelope* e) {
    Header(e, "kme-device/356938035643809", 1, K::KIND_SYSTEM, "adapters.enrollment");
    auto* p = e->mutable_kme_device_created_by_deployment();
    p->set_device_id("356938035643809");
    auto* ids = p->mutable_identifiers();
    ids->set_imei("356938035643809");
    ids->set_imei2("356938035643817");
    ids->set_meid("35693803564380");
    ids->set_serial_number("R58R30XYZAB");
    p->set_model("SM-A546B");
    p->set_user_id(kUserId);
  };
  b["kme_deployment_settings_changed"] = [=](v1::Envelope* e) {
    Header(e, "kme-settings/default", 2, K::KIND_USER, kAdminId);
    e->mutable_kme_deployment_settings_changed()->set_creates_users(true);
  };
  b["kme_deployment_user_overridden"] = [=](v1::Envelope* e) {
    Header(e, kme_device, 4, K::KIND_USER, kAdminId);
    auto* p = e->mutable_kme_deployment_user_overridden();
    p->set_device_id(kKmeDeviceId);
    p->set_deployment_user_id("5f0c2a9e8b7d6c4a3f2e1d0c9b8a7f6e");
    p->set_user_id(kUserId);
    p->set_source(v1::KME_SOURCE_CSV);
    p->set_import_id(kImportId);
    p->set_line(42);
  };
  b["kme_sync_completed"] = [=](v1::Envelope* e) {
    Header(e, "kme-settings/default", 3, K::KIND_SYSTEM, "adapters.kme.sync");
    auto* p = e->mutable_kme_sync_completed();
    p->set_sync_id("018e3e10-5d6c-7b8a-9f0e-1d2c3b4a5968");
    p->set_devices_seen(1250);
    p->set_events_written(37);
    p->set_connection_id(kKnoxConnectionId);
    SetTime(p->mutable_started_at(), kBaseMs + 406 * 60017 - 95000);
    p->set_full(true);  // (every field set: a full listing that also carries its catch-up bound)
    SetTime(p->mutable_changed_after(), kBaseMs + 406 * 60017 - 95000 - 1800000 - 300000);
    p->set_created(12);
    p->set_updated(9);
    p->set_unchanged(1228);
    p->set_rejected(1);
    p->set_users_matched(19);
    p->set_uploads_approved(2);
    p->set_error("knox.unavailable");
    p->set_error_message("GET /kcs/v1/kme/devices/list: still failing after 6 attempt(s) (HTTP 503)");
    p->set_connection_state("unavailable");
    auto* err = p->add_errors();
    err->set_line(3);  // 0 for API devices; set here because the corpus sets every field
    err->set_code("kme.bad_identifier");
    err->set_message("Knox device 3520001187: \"3.50925E+14\" is not an IMEI or MEID, and there "
                     "is no serial number");
    err->set_knox_device_id("3520001187");
  };
  b["kme_knox_connected"] = [=](v1::Envelope* e) {
    Header(e, "kme-knox/default", 1, K::KIND_USER, kAdminId);
    auto* p = e->mutable_kme_knox_connected();
    p->set_connection_id(kKnoxConnectionId);
    p->set_base_url("https://eu-kcs-api.samsungknox.com");
    p->set_token_url("https://api.samsungknox.com/ams/v1/oauth2/token");
    p->set_client_id("kme-app-5f3a9c21d07e4b18");
    p->set_customer_id("1000000001");
    p->set_auto_approve_uploads(true);
    p->set_client_secret_ref("kme/knox/client_secret/" + crypto::Hex(Sha256Of("knox client secret")).substr(0, 16));
    p->set_client_secret_sha256(Sha256Of("knox client secret"));
  };
  b["kme_knox_disconnected"] = [=](v1::Envelope* e) {
    Header(e, "kme-knox/default", 4, K::KIND_USER, kAdminId);
    e->mutable_kme_knox_disconnected()->set_connection_id(kKnoxConnectionId);
  };
  return b;
}

// The header fields every golden event shares, derived from the payload case.
void CommonHeader(const pb::FieldDescriptor& payload_case, v1::Envelope* env) {
  const int number = payload_case.number();
  const int64_t occurred = kBaseMs + int64_t{number} * 60017;
  const uint64_t seed = static_cast<uint64_t>(number) * 3;
  env->set_event_id(UuidV7(occurred + 4, seed));
  SetTime(env->mutable_occurred_at(), occurred);
  SetTime(env->mutable_recorded_at(), occurred + 4);
  env->set_correlation_id(UuidV7(occurred - 1532, seed + 1));
  env->set_causation_id(UuidV7(occurred - 27, seed + 2));
  env->set_schema_version(kSchemaVersion);
  env->set_prev_hash(Sha256Of("golden previous record of " + payload_case.name()));
}

// ---------------------------------------------------------------- checking --

// Paths of the fields left unset (recursively; well-known types are leaves).
void MissingFields(const pb::Message& m, const std::string& path, std::vector<std::string>* out) {
  const pb::Descriptor* d = m.GetDescriptor();
  if (d->file()->package() == "google.protobuf") return;
  const pb::Reflection* r = m.GetReflection();
  for (int i = 0; i < d->real_oneof_decl_count(); ++i) {
    if (r->GetOneofFieldDescriptor(m, d->oneof_decl(i)) == nullptr) {
      out->push_back(path + "." + d->oneof_decl(i)->name());
    }
  }
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    const pb::OneofDescriptor* oneof = f->real_containing_oneof();
    if (oneof != nullptr && r->GetOneofFieldDescriptor(m, oneof) != f) continue;
    const std::string name = path + "." + f->name();
    if (f->is_repeated()) {
      const int n = r->FieldSize(m, f);
      if (n == 0) out->push_back(name);
      if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
      for (int j = 0; j < n; ++j) {
        MissingFields(r->GetRepeatedMessage(m, f, j), name + "[" + std::to_string(j) + "]", out);
      }
    } else if (!r->HasField(m, f)) {
      out->push_back(name);
    } else if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      MissingFields(r->GetMessage(m, f), name, out);
    }
  }
}

std::string SerializeDeterministic(const pb::Message& m) {
  std::string out;
  {
    pb::io::StringOutputStream stream(&out);
    pb::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!m.SerializeToCodedStream(&coded)) out.clear();
  }
  return out;
}

bool WriteFile(const fs::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  out.close();
  if (!out) std::cerr << "make_golden: cannot write " << path << "\n";
  return static_cast<bool>(out);
}

bool ReadFile(const fs::path& path, std::string* data) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *data = s.str();
  return true;
}

void Usage() {
  std::cerr << "usage: make_golden [--force] [--source-dir=DIR] [payload_field_name ...]\n"
               "Writes tests/golden/events/v"
            << kSchemaVersion
            << "/<case>.{bin,textproto} for payload cases that have none yet.\n"
               "--force rewrites existing files (of the named cases, or all).\n";
}

int Run(int argc, char** argv) {
  bool force = false;
  std::string source_dir;
  std::set<std::string> only;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--force") {
      force = true;
    } else if (arg.rfind("--source-dir=", 0) == 0) {
      source_dir = std::string(arg.substr(std::string_view("--source-dir=").size()));
    } else if (arg == "--help" || arg == "-h") {
      Usage();
      return 0;
    } else if (!arg.empty() && arg.front() == '-') {
      Usage();
      return 2;
    } else {
      only.insert(std::string(arg));
    }
  }
  if (source_dir.empty()) {
    const char* env = std::getenv("AE_SOURCE_DIR");
    source_dir = env != nullptr && *env != '\0' ? env : AE_DEFAULT_SOURCE_DIR;
  }
  const fs::path dir =
      fs::path(source_dir) / "tests" / "golden" / "events" / ("v" + std::to_string(kSchemaVersion));

  const pb::OneofDescriptor* payload = v1::Envelope::descriptor()->FindOneofByName("payload");
  const std::map<std::string, Builder> builders = Builders();
  std::set<std::string> cases;
  bool ok = true;
  for (int i = 0; i < payload->field_count(); ++i) {
    cases.insert(payload->field(i)->name());
    if (builders.count(payload->field(i)->name()) == 0) {
      std::cerr << "make_golden: no builder for payload case " << payload->field(i)->name()
                << ": add one to Builders() in tests/tools/make_golden.cc\n";
      ok = false;
    }
  }
  for (const auto& [name, builder] : builders) {
    if (cases.count(name) == 0) {
      std::cerr << "make_golden: builder " << name << " names no payload case of Envelope\n";
      ok = false;
    }
  }
  for (const auto& name : only) {
    if (cases.count(name) == 0) {
      std::cerr << "make_golden: " << name << " is not a payload case of Envelope\n";
      ok = false;
    }
  }
  if (!ok) return 1;

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    std::cerr << "make_golden: cannot create " << dir << ": " << ec.message() << "\n";
    return 1;
  }

  int written = 0;
  int kept = 0;
  for (int i = 0; i < payload->field_count(); ++i) {
    const pb::FieldDescriptor* payload_case = payload->field(i);
    const std::string& name = payload_case->name();
    if (!only.empty() && only.count(name) == 0) continue;
    const fs::path bin = dir / (name + ".bin");
    const fs::path text = dir / (name + ".textproto");
    const bool has_bin = fs::exists(bin);
    const bool has_text = fs::exists(text);

    if (!force && has_bin && has_text) {
      ++kept;
      continue;
    }
    if (!force && has_bin) {
      // The .bin is the record of truth: derive its missing text form from it.
      std::string data;
      v1::Envelope env;
      if (!ReadFile(bin, &data) || !env.ParseFromString(data)) {
        std::cerr << "make_golden: cannot decode " << bin << "\n";
        return 1;
      }
      std::string textproto;
      pb::TextFormat::PrintToString(env, &textproto);
      if (!WriteFile(text, textproto)) return 1;
      std::cout << "wrote " << text << " (from the existing .bin)\n";
      ++written;
      continue;
    }
    if (!force && has_text) {
      std::cerr << "make_golden: " << text << " exists without its .bin; restore the .bin "
                << "from git or rerun with --force " << name << "\n";
      return 1;
    }

    v1::Envelope env;
    CommonHeader(*payload_case, &env);
    builders.at(name)(&env);
    if (env.payload_case() != payload_case->number()) {
      std::cerr << "make_golden: builder " << name << " sets another payload case\n";
      return 1;
    }
    std::vector<std::string> missing;
    MissingFields(env, "Envelope", &missing);
    if (!missing.empty()) {
      std::cerr << "make_golden: builder " << name << " leaves fields unset:";
      for (const auto& m : missing) std::cerr << " " << m;
      std::cerr << "\n";
      return 1;
    }
    std::string textproto;
    pb::TextFormat::PrintToString(env, &textproto);
    if (!WriteFile(bin, SerializeDeterministic(env)) || !WriteFile(text, textproto)) return 1;
    std::cout << "wrote " << bin << " and " << text.filename() << "\n";
    ++written;
  }
  std::cout << "make_golden: " << written << " case(s) written, " << kept
            << " existing case(s) kept in " << dir << "\n";
  return 0;
}

}  // namespace
}  // namespace ae::golden

int main(int argc, char** argv) { return ae::golden::Run(argc, argv); }
