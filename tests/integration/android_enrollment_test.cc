// The Android enrollment service (adapters/samsung_knox/android_enrollment.h) linked
// directly, no binary and no HTTP: a Samsung device enrolling itself (KME after Bluetooth/NFC
// provisioning, the Knox Deployment App), the refusals, and the agent's policy delivery and
// acknowledgement. The App supplies the service's ports as the server does (a real RocksDB
// log, the real projections and secret store, the policy views); what is checked is what
// an administrator sees: the events written and the views.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/samsung_knox/android_enrollment.h"
#include "adapters/samsung_knox/kme_ingest.h"
#include "api/app.h"
#include "domain/kme/kme.h"
#include "domain/policies/policies.h"
#include "domain/users/users.h"
#include "tests/support/test_support.h"

namespace ae::knox {
namespace {

namespace dkme = ae::domain::kme;
namespace pol = ae::domain::policies;
namespace users = ae::domain::users;
namespace v1 = autoenroll::events::v1;
using nlohmann::json;
using ::ae::testing::TempDir;

constexpr std::chrono::milliseconds kViewWait{30'000};

// The devices of tests/fixtures/kme/portal_export_bom_crlf.csv.
constexpr const char* kAliceImei = "350925370583126";  // line 2, alice
constexpr const char* kBobImei = "351750081234564";    // line 3, bob
constexpr const char* kMeid = "A0000012345678";        // line 6, no user
constexpr const char* kUnknownImei = "353922110000013";  // in no file

dkme::Identifiers Imei(const std::string& imei) { return dkme::Identifiers{imei, "", "", ""}; }

// The SHA-256 fingerprint of a PEM certificate, as `openssl x509 -fingerprint -sha256`
// prints it (AB:CD:...), by OpenSSL's own digest of the certificate.
std::string OpenSslFingerprint(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) return "";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  X509_free(cert);
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    char hex[4];
    std::snprintf(hex, sizeof hex, i ? ":%02X" : "%02X", md[i]);
    out += hex;
  }
  return out;
}

class AndroidEnrollmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api::AppOptions o;
    o.data_dir = dir_.Sub("data");
    auto app = api::App::Open(o);
    ASSERT_THAT(app, IsOk());
    app_ = std::move(app).value();
    ASSERT_THAT(app_->Start(), IsOk());
    admin_.actor.set_kind(v1::Actor::KIND_USER);
    admin_.actor.set_id("admin-id");
    admin_.correlation_id = "request-1";
    device_ctx_.correlation_id = "request-2";
  }

  void TearDown() override {
    if (app_) app_->Stop();
  }

  AndroidEnrollment& service() { return app_->android(); }

  void Await(const LogPosition& p) { ASSERT_TRUE(app_->runner().WaitUntilCovers(p, kViewWait)); }

  std::string CreateUser(const std::string& name) {
    const std::string id = users::UserIdFor(app_->user_id_key(), name);
    v1::PersonalData pd;
    pd.set_username(name);
    auto sealed = app_->person_keys().Seal(id, pd);
    EXPECT_THAT(sealed, IsOk());
    auto created = app_->bus().Execute(
        StreamId("user", id),
        users::UserDecider(users::CreateUser{id, v1::ROLE_DEVICE_USER, *sealed, "test"}), admin_);
    EXPECT_THAT(created, IsOk());
    Await(created->position);
    return id;
  }

  std::string CreatePolicy(const std::string& name, const std::string& android_config) {
    const std::string id = users::RecordKey(name);
    v1::PolicyContent content;
    content.set_android_config_json(android_config);
    auto created = app_->bus().Execute(StreamId("policy", id),
                                       pol::PolicyDecider(pol::CreatePolicy{id, name, content}),
                                       admin_);
    EXPECT_THAT(created, IsOk());
    Await(created->position);
    return id;
  }

  void UpdatePolicy(const std::string& id, const std::string& name,
                    const std::string& android_config) {
    v1::PolicyContent content;
    content.set_android_config_json(android_config);
    auto updated = app_->bus().Execute(StreamId("policy", id),
                                       pol::PolicyDecider(pol::UpdatePolicy{id, name, content}),
                                       admin_);
    ASSERT_THAT(updated, IsOk());
    Await(updated->position);
  }

  std::string CreateRuleSet(const std::string& name) {
    const std::string id = users::RecordKey(name);
    v1::ComplianceRule rule;
    rule.set_condition("os_version < 14");
    rule.set_action("notify");
    auto created = app_->bus().Execute(
        StreamId("ruleset", id),
        pol::RuleSetDecider(pol::CreateRuleSet{id, name, "", {rule}}), admin_);
    EXPECT_THAT(created, IsOk());
    Await(created->position);
    return id;
  }

  // Imports the portal export, giving its new devices `policy_id` and `ruleset_id`.
  void ImportPortalExport(const std::string& policy_id = "", const std::string& ruleset_id = "") {
    KmeImportOptions o;
    o.defaults.policy_id = policy_id;
    o.defaults.ruleset_id = ruleset_id;
    auto report = app_->kme_ingest().ImportCsv(
        ae::testing::ReadWholeFile(ae::testing::SourceDir() +
                                   "/tests/fixtures/kme/portal_export_bom_crlf.csv"),
        o, admin_);
    ASSERT_THAT(report, IsOk());
    ASSERT_GE(report->created, 4u);
    Await(report->position);
  }

  void AllowDeploymentUsers() {
    auto changed = app_->bus().Execute(
        StreamId(dkme::kSettingsStream),
        dkme::SettingsDecider(dkme::ChangeDeploymentSettings{true}), admin_);
    ASSERT_THAT(changed, IsOk());
  }

  std::string Token() {
    auto token = service().CurrentToken(admin_, true);
    EXPECT_THAT(token, IsOk());
    return token.ok() ? *token : "";
  }

  dkme::SettingsState Admitted(const std::string& token) {
    auto settings = service().CheckToken(token);
    EXPECT_THAT(settings, IsOk());
    return settings.ok() ? *settings : dkme::SettingsState{};
  }

  std::vector<events::Envelope> Stream(const StreamId& stream) {
    auto records = app_->log().ReadStream(stream, 1, SIZE_MAX);
    EXPECT_THAT(records, IsOk());
    std::vector<events::Envelope> out;
    if (records.ok()) {
      for (auto& r : *records) out.push_back(r.envelope);
    }
    return out;
  }

  std::vector<events::Envelope> All() {
    auto records = app_->log().Read(LogCursor(), 100000);
    EXPECT_THAT(records, IsOk());
    std::vector<events::Envelope> out;
    if (records.ok()) {
      for (auto& r : *records) out.push_back(r.envelope);
    }
    return out;
  }

  // The reasons of every KmeEnrollmentRefused, in log order.
  std::vector<std::string> RefusalReasons() {
    std::vector<std::string> out;
    for (const auto& e : All()) {
      if (e.has_kme_enrollment_refused()) out.push_back(e.kme_enrollment_refused().reason());
    }
    return out;
  }

  json View(const std::string& cf, const std::string& key) {
    auto raw = app_->views().Get(cf, key);
    EXPECT_THAT(raw, IsOk());
    if (!raw.ok() || !*raw) return json();
    return json::parse(**raw, nullptr, false);
  }

  TempDir dir_;
  std::unique_ptr<api::App> app_;
  domain::CommandContext admin_;
  domain::CommandContext device_ctx_;
};

TEST_F(AndroidEnrollmentTest, AKmeDeviceEnrollsWithItsImportedUserAndIsHandedItsPolicy) {
  const std::string alice = CreateUser("alice");
  const std::string policy = CreatePolicy("Kiosk", R"({"kiosk":true})");
  const std::string ruleset = CreateRuleSet("Baseline");
  ImportPortalExport(policy, ruleset);
  const std::string token = Token();

  AndroidEnrollRequest request;
  request.source = v1::KME_SOURCE_CSV;
  request.ids = Imei(kAliceImei);
  auto enrolled = service().Enroll(Admitted(token), request, device_ctx_);
  ASSERT_THAT(enrolled, IsOk());
  const std::string id = std::string("imei:") + kAliceImei;
  EXPECT_EQ(enrolled->device_id, id);
  EXPECT_EQ(enrolled->policy_id, policy);
  EXPECT_EQ(enrolled->ruleset_id, ruleset);
  EXPECT_EQ(enrolled->handed.policy["policy"]["version"], 1);
  EXPECT_EQ(enrolled->handed.policy["policy"]["android_config"], json({{"kiosk", true}}));
  EXPECT_EQ(enrolled->handed.policy["ruleset"]["rules"].size(), 1u);

  // The device's stream: enrolled with the imported user, then handed its policy, by the
  // device itself.
  auto inventory = Stream(StreamId(dkme::kInventoryStreamType, id));
  ASSERT_EQ(inventory.size(), 2u);
  ASSERT_TRUE(inventory[0].has_device_enrolled());
  EXPECT_EQ(inventory[0].device_enrolled().user_id(), alice);
  EXPECT_EQ(inventory[0].device_enrolled().policy_id(), policy);
  EXPECT_EQ(inventory[0].actor().kind(), v1::Actor::KIND_DEVICE);
  EXPECT_EQ(inventory[0].actor().id(), std::string(dkme::kDeviceStreamType) + "/" + id);
  EXPECT_EQ(inventory[0].correlation_id(), "request-2");
  ASSERT_TRUE(inventory[1].has_device_policy_delivered());
  EXPECT_EQ(inventory[1].device_policy_delivered().policy_version(), 1u);
  EXPECT_EQ(inventory[1].device_policy_delivered().channel(), pol::kChannelAndroidAgent);
  EXPECT_EQ(enrolled->position, enrolled->handed.position);

  Await(enrolled->position);
  EXPECT_EQ(View("kme_devices", id).value("enrollment", ""), "enrolled");
  EXPECT_EQ(View("devices", id).value("status", ""), "enrolled");
  EXPECT_EQ(View("device_policies", id)["delivered"].value("policy_version", 0u), 1u);

  // Enrolling again (a reset) records nothing new.
  auto again = service().Enroll(Admitted(token), request, device_ctx_);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(Stream(StreamId(dkme::kInventoryStreamType, id)).size(), 2u);
  EXPECT_TRUE(RefusalReasons().empty());
}

TEST_F(AndroidEnrollmentTest, TheKnoxDeploymentAppCreatesTheUserAndTheDevice) {
  AllowDeploymentUsers();
  const std::string token = Token();
  AndroidEnrollRequest request;
  request.source = v1::KME_SOURCE_KNOX_DEPLOYMENT;
  request.ids = dkme::Identifiers{kUnknownImei, "", "", "R58Z99NEW01"};
  request.model = "SM-G991B";
  request.user_name = "dave@example.com";
  auto enrolled = service().Enroll(Admitted(token), request, device_ctx_);
  ASSERT_THAT(enrolled, IsOk());
  const std::string id = std::string("imei:") + kUnknownImei;
  EXPECT_EQ(enrolled->device_id, id);

  // The user, made by the Knox Deployment App, its name sealed.
  const std::string dave = users::UserIdFor(app_->user_id_key(), "dave@example.com");
  auto user = Stream(StreamId("user", dave));
  ASSERT_EQ(user.size(), 1u);
  ASSERT_TRUE(user[0].has_user_created());
  EXPECT_EQ(user[0].user_created().role(), v1::ROLE_DEVICE_USER);
  EXPECT_EQ(user[0].user_created().created_by(), dkme::kDeploymentTag);
  // The device, recorded from the Knox Deployment App with that user, then enrolled.
  auto device = Stream(StreamId(dkme::kDeviceStreamType, id));
  ASSERT_FALSE(device.empty());
  ASSERT_TRUE(device[0].has_kme_device_imported());
  EXPECT_EQ(device[0].kme_device_imported().source(), v1::KME_SOURCE_KNOX_DEPLOYMENT);
  auto inventory = Stream(StreamId(dkme::kInventoryStreamType, id));
  ASSERT_EQ(inventory.size(), 1u);  // no policy: nothing handed
  ASSERT_TRUE(inventory[0].has_device_enrolled());
  EXPECT_EQ(inventory[0].device_enrolled().user_id(), dave);
  EXPECT_TRUE(enrolled->handed.policy["policy"].is_null());
  EXPECT_FALSE(enrolled->handed.position.valid());

  Await(enrolled->position);
  json rec = View("kme_devices", id);
  EXPECT_EQ(rec.value("user_id", ""), dave);
  EXPECT_EQ(rec.value("source", ""), "knox_deployment");
  EXPECT_EQ(rec.value("user_by_deployment", false), true);
  EXPECT_EQ(rec.value("enrollment", ""), "enrolled");
  EXPECT_EQ(rec.value("model", ""), "SM-G991B");
  EXPECT_TRUE(View("users", dave).is_object());
  // Personal data only sealed: the name is nowhere in the log in plaintext.
  for (const auto& e : All()) {
    EXPECT_EQ(e.SerializeAsString().find("dave@example.com"), std::string::npos);
  }
}

TEST_F(AndroidEnrollmentTest, EveryRefusalIsOneAnswerAndIsRecordedWithItsReason) {
  CreateUser("alice");
  CreateUser("bob");
  ImportPortalExport();
  const std::string token = Token();

  // No or a wrong token: refused, and nothing is written.
  auto head = app_->log().Head();
  ASSERT_THAT(head, IsOk());
  EXPECT_THAT(service().CheckToken("kme_not-the-token").status(),
              StatusIs(StatusCode::kPermissionDenied, "enroll.not_allowed"));
  EXPECT_EQ(service().CheckToken("").status().reason(), "enroll.not_allowed");
  EXPECT_EQ(*app_->log().Head(), *head);

  const dkme::SettingsState settings = Admitted(token);
  auto refuse = [&](dkme::KmeSource source, dkme::Identifiers ids, std::string user = "") {
    AndroidEnrollRequest request;
    request.source = source;
    request.ids = std::move(ids);
    request.user_name = std::move(user);
    auto r = service().Enroll(settings, request, device_ctx_);
    EXPECT_FALSE(r.ok());
    return r.status();
  };
  // A device no source imported, from KME.
  Status unknown = refuse(v1::KME_SOURCE_CSV, Imei(kUnknownImei));
  EXPECT_THAT(unknown, StatusIs(StatusCode::kPermissionDenied, "enroll.not_allowed"));
  // An imported device without a user.
  Status no_user = refuse(v1::KME_SOURCE_CSV, dkme::Identifiers{"", "", kMeid, ""});
  // A device the CSV registered, through the Knox Deployment App.
  Status imported = refuse(v1::KME_SOURCE_KNOX_DEPLOYMENT, Imei(kBobImei), "bob");
  // A new device through the Knox Deployment App without a user, and with a user while the
  // administrator has not allowed it to create users.
  Status nameless = refuse(v1::KME_SOURCE_KNOX_DEPLOYMENT, Imei(kUnknownImei));
  Status disabled = refuse(v1::KME_SOURCE_KNOX_DEPLOYMENT, Imei(kUnknownImei), "dave");
  // Identifiers that name two different devices.
  Status conflict = refuse(v1::KME_SOURCE_CSV, dkme::Identifiers{kAliceImei, "", kMeid, ""});
  for (const Status& s : {no_user, imported, nameless, disabled, conflict}) {
    EXPECT_EQ(s.code(), unknown.code());
    EXPECT_EQ(s.reason(), unknown.reason());
    EXPECT_EQ(s.message(), unknown.message());
  }

  EXPECT_EQ(RefusalReasons(),
            (std::vector<std::string>{"kme.device_not_imported", "kme.no_user",
                                      "kme.already_imported", "kme.no_user",
                                      "kme.user_creation_disabled", "kme.identifier_conflict"}));
  // A refusal of a known device is on its stream, of an unknown one on the refusals stream.
  auto meid_stream = Stream(StreamId(dkme::kDeviceStreamType, std::string("meid:") + kMeid));
  ASSERT_FALSE(meid_stream.empty());
  ASSERT_TRUE(meid_stream.back().has_kme_enrollment_refused());
  EXPECT_EQ(meid_stream.back().kme_enrollment_refused().reason(), "kme.no_user");
  EXPECT_EQ(Stream(StreamId(dkme::kRefusalStream)).size(), 4u);
  // Nothing was enrolled and no user made for "dave".
  for (const auto& e : All()) EXPECT_FALSE(e.has_device_enrolled());
  EXPECT_TRUE(
      Stream(StreamId("user", users::UserIdFor(app_->user_id_key(), "dave"))).empty());
}

TEST_F(AndroidEnrollmentTest, TheAgentIsHandedItsPolicyAndItsAnswerIsRecorded) {
  CreateUser("alice");
  CreateUser("bob");
  const std::string policy = CreatePolicy("Kiosk", R"({"kiosk":true})");
  ImportPortalExport(policy);
  const std::string token = Token();
  AndroidEnrollRequest request;
  request.ids = Imei(kAliceImei);
  auto enrolled = service().Enroll(Admitted(token), request, device_ctx_);
  ASSERT_THAT(enrolled, IsOk());
  Await(enrolled->position);
  const std::string id = enrolled->device_id;

  // Only an enrolled device is answered: bob's is imported but not enrolled.
  EXPECT_EQ(service().AuthenticateAgent(Imei(kBobImei), device_ctx_).status().reason(),
            "enroll.not_allowed");
  EXPECT_EQ(service().AuthenticateAgent(Imei(kUnknownImei), device_ctx_).status().reason(),
            "enroll.not_allowed");
  auto agent = service().AuthenticateAgent(Imei(kAliceImei), device_ctx_);
  ASSERT_THAT(agent, IsOk());
  EXPECT_EQ(agent->device_id, id);

  // Asking again for what it was handed records nothing.
  auto same = service().DeliverPolicy(*agent);
  ASSERT_THAT(same, IsOk());
  EXPECT_FALSE(same->position.valid());
  EXPECT_EQ(same->policy["policy"]["version"], 1);
  // A new version of the policy is handed and recorded.
  UpdatePolicy(policy, "Kiosk", R"({"kiosk":false})");
  auto newer = service().DeliverPolicy(*agent);
  ASSERT_THAT(newer, IsOk());
  ASSERT_TRUE(newer->position.valid());
  EXPECT_EQ(newer->policy["policy"]["version"], 2);
  EXPECT_EQ(newer->policy["policy"]["android_config"], json({{"kiosk", false}}));
  auto inventory = Stream(StreamId(dkme::kInventoryStreamType, id));
  ASSERT_TRUE(inventory.back().has_device_policy_delivered());
  EXPECT_EQ(inventory.back().device_policy_delivered().policy_version(), 2u);
  EXPECT_EQ(inventory.back().actor().kind(), v1::Actor::KIND_DEVICE);

  // The agent's answer: an old version is refused; an error is recorded, then the version
  // applied, once.
  EXPECT_THAT(service().Acknowledge(*agent, 1, 0, "Acknowledged", "").status(),
              StatusIs(StatusCode::kFailedPrecondition, "policy.not_delivered"));
  auto failed = service().Acknowledge(*agent, 2, 0, "Error", "cannot apply kiosk");
  ASSERT_THAT(failed, IsOk());
  EXPECT_TRUE(failed->recorded);
  inventory = Stream(StreamId(dkme::kInventoryStreamType, id));
  ASSERT_TRUE(inventory.back().has_device_policy_acknowledged());
  EXPECT_EQ(inventory.back().device_policy_acknowledged().policy_version(), 2u);
  EXPECT_EQ(inventory.back().device_policy_acknowledged().status(), "Error");
  EXPECT_EQ(inventory.back().device_policy_acknowledged().error(), "cannot apply kiosk");
  Await(failed->position);
  EXPECT_EQ(View("device_policies", id)["last_error"].value("error", ""), "cannot apply kiosk");
  auto acked = service().Acknowledge(*agent, 2, 0, "Acknowledged", "");
  ASSERT_THAT(acked, IsOk());
  EXPECT_TRUE(acked->recorded);
  auto twice = service().Acknowledge(*agent, 2, 0, "Acknowledged", "");
  ASSERT_THAT(twice, IsOk());
  EXPECT_FALSE(twice->recorded);
  EXPECT_EQ(Stream(StreamId(dkme::kInventoryStreamType, id)).size(), inventory.size() + 1);

  Await(acked->position);
  json row = View("device_policies", id);
  EXPECT_EQ(row["delivered"].value("policy_version", 0u), 2u);
  EXPECT_EQ(row["acknowledged"].value("policy_version", 0u), 2u);
  EXPECT_FALSE(row.contains("last_error"));  // applied since
}

TEST_F(AndroidEnrollmentTest, TheTokenIsMadeOnceAndARotatedOneReplacesIt) {
  auto none = service().CurrentToken(admin_, false);
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(*none, "");
  LogPosition created;
  auto first = service().CurrentToken(admin_, true, &created);
  ASSERT_THAT(first, IsOk());
  EXPECT_TRUE(created.valid());
  EXPECT_EQ(first->rfind("kme_", 0), 0u);
  EXPECT_EQ(*service().CurrentToken(admin_, true), *first);

  auto rotated = service().RotateToken(admin_);
  ASSERT_THAT(rotated, IsOk());
  EXPECT_NE(rotated->token, *first);
  EXPECT_EQ(service().CheckToken(*first).status().reason(), "enroll.not_allowed");
  EXPECT_THAT(service().CheckToken(rotated->token), IsOk());
  EXPECT_EQ(*service().CurrentToken(admin_, false), rotated->token);
  // The tokens are in the secret store only: the log has their hashes.
  for (const auto& e : All()) {
    EXPECT_EQ(e.SerializeAsString().find(rotated->token), std::string::npos);
    EXPECT_EQ(e.SerializeAsString().find(*first), std::string::npos);
  }
}

TEST_F(AndroidEnrollmentTest, TheSelfSignedCertificateIsMadeOnceWithItsFingerprint) {
  auto pem = service().ServerCertificatePem("");
  ASSERT_THAT(pem, IsOk());
  EXPECT_EQ(pem->rfind("-----BEGIN CERTIFICATE-----", 0), 0u);
  EXPECT_EQ(*service().ServerCertificatePem(""), *pem);
  auto fingerprint = service().ServerCertificateFingerprint("");
  ASSERT_THAT(fingerprint, IsOk());
  EXPECT_EQ(fingerprint->size(), 32u * 3 - 1);  // AB:CD:... of 32 bytes
  EXPECT_EQ(*fingerprint, OpenSslFingerprint(*pem));
  EXPECT_THAT(service().ServerCertificatePem(dir_.Sub("missing.pem")).status(),
              StatusIs(StatusCode::kInternal, "kme.certificate"));
}

}  // namespace
}  // namespace ae::knox
