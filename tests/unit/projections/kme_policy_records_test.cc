// The KME and policies view records: Encode writes exactly the bytes the views hold (those
// their projectors have always written), Decode reads them back to the same record, and
// anything else is refused as corruption.

#include "projections/kme_records.h"
#include "projections/policy_records.h"

#include <random>

#include "tests/unit/projections/odd_strings.h"

#include "tests/support/test_support.h"

namespace ae::proj {
namespace {

// Records as the projectors wrote them before they had a type (kme_projector_test.cc and
// policies_records_bytes_test.cc pin the projectors to the same bytes).
constexpr const char* kKmeDevice =
    R"({"attributes":{"cost_center":"42","site":"Berlin"},"created_at":"2023-11-14T22:13:21.000Z","enrolled_at":"2023-11-14T22:13:30.000Z","enrollment":"enrolled","id":"imei:35000000000001","imei":"350000000000011","imei2":"350000000000029","knox_status":"Uploaded","last_position":"10","model":"Galaxy A54","profile_name":"Corp","ruleset_id":"strict","serial_number":"R58M1234","source":"csv","tags":["floor-2","alpha"],"updated_at":"2023-11-14T22:13:30.000Z","user_conflict":{"at":"2023-11-14T22:13:26.000Z","by":"csv","deployment_user_id":"usr_2","import_id":"imp-2","line":7,"position":"6","user_id":"usr_3"},"user_id":"usr_3"})";
constexpr const char* kKmeDeviceByApp =
    R"({"created_at":"2023-11-14T22:13:21.000Z","id":"imei:35000000000001","imei":"350000000000011","last_position":"2","meid":"A0000012345678","model":"Galaxy A55","policy_id":"kiosk","source":"knox_deployment","updated_at":"2023-11-14T22:13:22.000Z","user_by_deployment":true,"user_conflict":{"at":"2023-11-14T22:13:29.000Z","by":"administrator","deployment_user_id":"usr_2","position":"9","user_id":""},"user_id":"usr_1"})";
constexpr const char* kKmeDeviceBare =
    R"({"created_at":"2023-11-14T22:13:21.000Z","id":"sn:R58M0001","last_position":"1","serial_number":"R58M0001","source":"","updated_at":"2023-11-14T22:13:21.000Z"})";
constexpr const char* kToken =
    R"({"last_position":"1","rotated_at":"2023-11-14T22:13:21.000Z","secret_ref":"kme/enrollment-token/01abff","token_sha256":"01abff"})";
constexpr const char* kKnoxNeverSynced =
    R"({"auto_approve_uploads":true,"base_url":"http://127.0.0.1:9100","client_id":"kme-app-1","client_secret_ref":"kme/knox/client_secret/0123456789abcdef","client_secret_sha256":"0101","configured":true,"connected_at":"2023-11-14T22:13:22.000Z","connection_id":"c1","customer_id":"1000000001","last_position":"2","state":"never_synced","token_url":"http://127.0.0.1:9100/ams/v1/oauth2/token"})";
constexpr const char* kKnoxSynced =
    R"({"auto_approve_uploads":true,"base_url":"http://127.0.0.1:9100","client_id":"kme-app-1","client_secret_ref":"kme/knox/client_secret/0123456789abcdef","client_secret_sha256":"0101","configured":true,"connected_at":"2023-11-14T22:13:22.000Z","connection_id":"c1","customer_id":"1000000001","last_position":"3","last_success_at":"2023-11-14T22:13:20.500Z","last_sync":{"at":"2023-11-14T22:13:23.000Z","created":5,"devices_seen":7,"errors":[{"code":"kme.no_identifier","knox_device_id":"42","message":"Knox device 42: no IMEI, MEID or serial number"},{"code":"kme.bad_identifier","line":9,"message":"line 9: imei"}],"events_written":6,"full":true,"rejected":1,"started_at":"2023-11-14T22:13:20.500Z","sync_id":"s1","unchanged":1,"updated":1,"uploads_approved":1,"users_matched":2},"state":"ok","token_url":"http://127.0.0.1:9100/ams/v1/oauth2/token"})";
constexpr const char* kKnoxFailed =
    R"({"auto_approve_uploads":true,"base_url":"http://127.0.0.1:9100","client_id":"kme-app-1","client_secret_ref":"kme/knox/client_secret/0123456789abcdef","client_secret_sha256":"0101","configured":true,"connected_at":"2023-11-14T22:13:22.000Z","connection_id":"c1","customer_id":"1000000001","last_position":"4","last_success_at":"2023-11-14T22:13:20.500Z","last_sync":{"at":"2023-11-14T22:13:24.000Z","changed_after":"2023-11-14T22:13:20.500Z","created":0,"devices_seen":0,"error":{"code":"knox.unauthorized","message":"the token was refused"},"events_written":0,"full":false,"rejected":0,"started_at":"2023-11-14T22:13:23.500Z","sync_id":"s2","unchanged":0,"updated":0,"uploads_approved":0,"users_matched":0},"state":"ok","token_url":"http://127.0.0.1:9100/ams/v1/oauth2/token"})";
constexpr const char* kKnoxDisconnected =
    R"({"configured":false,"disconnected_at":"2023-11-14T22:13:26.000Z","last_position":"6"})";
constexpr const char* kPolicy =
    R"({"created_at":"2023-11-14T22:13:21.000Z","description":"","id":"kiosk","last_position":"2","name":"Kiosk Mode","updated_at":"2023-11-14T22:13:22.000Z","version":2})";
constexpr const char* kPolicyVersion =
    R"({"android_config":{"kiosk_app":"com.example","lock":1.5},"apple_payloads":[{"HIDDEN_NETWORK":false,"PayloadType":"com.apple.wifi.managed","SSID_STR":"corp"}],"at":"2023-11-14T22:13:21.000Z","description":"Single app","id":"kiosk","name":"Kiosk","sign":true,"version":1})";
constexpr const char* kEmptyPolicyVersion =
    R"({"android_config":{},"apple_payloads":[],"at":"2023-11-14T22:13:22.000Z","description":"","id":"kiosk","name":"Kiosk Mode","sign":false,"version":2})";
constexpr const char* kRuleSetVersion =
    R"({"at":"2023-11-14T22:13:21.000Z","description":"Locks old devices","id":"strict","name":"Strict","rules":[{"action":"lock","condition":"os_version < 17.0","description":"too old"},{"action":"notify","condition":"","description":""}],"version":1})";
constexpr const char* kDevicePolicies =
    R"({"delivered":{"at":"2023-11-14T22:13:24.000Z","channel":"apple_mdm","command_uuid":"cmd-2","policy_id":"kiosk","policy_version":2,"ruleset_id":"strict","ruleset_version":1},"last_error":{"at":"2023-11-14T22:13:25.000Z","command_uuid":"cmd-1","error":"MDM refused","policy_id":"kiosk","policy_version":2,"ruleset_id":"","ruleset_version":0,"status":"Error"},"pending":{"cmd-2":{"policy_id":"kiosk","policy_version":2,"ruleset_id":"strict","ruleset_version":1}},"policy_id":"kiosk","ruleset_id":"strict"})";
constexpr const char* kDevicePoliciesAcknowledged =
    R"({"acknowledged":{"at":"2023-11-14T22:13:26.000Z","command_uuid":"cmd-2","error":"","policy_id":"kiosk","policy_version":2,"ruleset_id":"","ruleset_version":0,"status":"Acknowledged"},"delivered":{"at":"2023-11-14T22:13:24.000Z","channel":"apple_mdm","command_uuid":"cmd-2","policy_id":"kiosk","policy_version":2,"ruleset_id":"strict","ruleset_version":1},"policy_id":"kiosk","ruleset_id":"strict"})";

template <typename Record>
void ExpectRoundTrip(const char* bytes) {
  auto r = Record::Decode(bytes);
  ASSERT_THAT(r, IsOk()) << bytes;
  EXPECT_EQ(r->Encode(), bytes);
}

TEST(KmePolicyRecords, EveryRecordTheProjectorsWroteDecodesAndEncodesToTheSameBytes) {
  ExpectRoundTrip<KmeDeviceRecord>(kKmeDevice);
  ExpectRoundTrip<KmeDeviceRecord>(kKmeDeviceByApp);
  ExpectRoundTrip<KmeDeviceRecord>(kKmeDeviceBare);
  ExpectRoundTrip<KmeEnrollmentTokenRecord>(kToken);
  ExpectRoundTrip<KmeKnoxRecord>(kKnoxNeverSynced);
  ExpectRoundTrip<KmeKnoxRecord>(kKnoxSynced);
  ExpectRoundTrip<KmeKnoxRecord>(kKnoxFailed);
  ExpectRoundTrip<KmeKnoxRecord>(kKnoxDisconnected);
  ExpectRoundTrip<PolicyRecord>(kPolicy);
  ExpectRoundTrip<RuleSetRecord>(kPolicy);  // the same shape
  ExpectRoundTrip<PolicyVersionRecord>(kPolicyVersion);
  ExpectRoundTrip<PolicyVersionRecord>(kEmptyPolicyVersion);
  ExpectRoundTrip<RuleSetVersionRecord>(kRuleSetVersion);
  ExpectRoundTrip<DevicePolicyRecord>(kDevicePolicies);
  ExpectRoundTrip<DevicePolicyRecord>(kDevicePoliciesAcknowledged);
  ExpectRoundTrip<DevicePolicyRecord>(R"({"policy_id":"","ruleset_id":""})");
}

TEST(KmePolicyRecords, DecodeReadsTheFieldsTheApiShows) {
  auto d = KmeDeviceRecord::Decode(kKmeDevice);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->id, "imei:35000000000001");
  EXPECT_EQ(d->tags, (std::vector<std::string>{"floor-2", "alpha"}));
  EXPECT_EQ(d->attributes.at("site"), "Berlin");
  EXPECT_EQ(d->enrollment, "enrolled");
  EXPECT_FALSE(d->user_by_deployment);
  EXPECT_EQ(d->policy_id, "");
  ASSERT_TRUE(d->user_conflict.has_value());
  EXPECT_EQ(d->user_conflict->line, 7u);
  EXPECT_EQ(d->MatchKeys(), (std::vector<std::string>{"imei:35000000000001",
                                                      "imei:35000000000002",
                                                      "serial:R58M1234"}));

  auto k = KmeKnoxRecord::Decode(kKnoxFailed);
  ASSERT_THAT(k, IsOk());
  EXPECT_TRUE(k->configured);
  ASSERT_TRUE(k->last_sync.has_value());
  ASSERT_TRUE(k->last_sync->error.has_value());
  EXPECT_EQ(k->last_sync->error->code, "knox.unauthorized");
  EXPECT_EQ(k->last_sync->changed_after, "2023-11-14T22:13:20.500Z");
  EXPECT_EQ(k->last_success_at, "2023-11-14T22:13:20.500Z");

  auto v = PolicyVersionRecord::Decode(kPolicyVersion);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->android_config["kiosk_app"], "com.example");
  EXPECT_EQ(v->apple_payloads.size(), 1u);
  EXPECT_TRUE(v->sign);

  auto dp = DevicePolicyRecord::Decode(kDevicePolicies);
  ASSERT_THAT(dp, IsOk());
  ASSERT_TRUE(dp->delivered.has_value());
  EXPECT_EQ(dp->delivered->channel, "apple_mdm");
  EXPECT_EQ(dp->delivered->status, std::nullopt);
  EXPECT_FALSE(dp->acknowledged.has_value());
  EXPECT_EQ(dp->last_error->error, "MDM refused");
  EXPECT_EQ(dp->pending.at("cmd-2").policy_version, 2u);
}

TEST(KmePolicyRecords, ANewDeviceEncodesToTheBytesTheProjectorWrote) {
  KmeDeviceRecord d;
  d.id = "sn:R58M0001";
  d.serial_number = "R58M0001";
  d.created_at = d.updated_at = "2023-11-14T22:13:21.000Z";
  d.last_position = "1";
  EXPECT_EQ(d.Encode(), kKmeDeviceBare);
}

TEST(KmePolicyRecords, BytesThatAreNotARecordAreCorruption) {
  EXPECT_THAT(KmeDeviceRecord::Decode("{not json"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(KmeDeviceRecord::Decode("[1,2]"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(KmeDeviceRecord::Decode(R"({"id":"x","tags":"alpha"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(KmeDeviceRecord::Decode(R"({"id":"x","attributes":{"site":1}})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(KmeDeviceRecord::Decode(R"({"id":"x","user_conflict":"usr_2"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(KmeKnoxRecord::Decode(R"({"configured":"yes"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(KmeKnoxRecord::Decode(R"({"configured":true,"last_sync":{"errors":[1]}})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(KmeEnrollmentTokenRecord::Decode(R"({"token_sha256":5})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(PolicyRecord::Decode(R"({"id":"kiosk","version":"2"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(PolicyVersionRecord::Decode(R"({"id":"kiosk","apple_payloads":{}})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(RuleSetVersionRecord::Decode(R"({"id":"strict","rules":["lock"]})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(DevicePolicyRecord::Decode(R"({"policy_id":"kiosk","pending":{"cmd-1":3}})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(DevicePolicyRecord::Decode(R"({"policy_id":"kiosk","delivered":[]})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
}

// The oracle: the record as a nlohmann tree, key by key, as the projector built it before
// the record was written directly. Encode() must give the bytes of its dump().
nlohmann::json Tree(const KmeDeviceRecord& d) {
  using nlohmann::json;
  auto put_if_set = [](json& j, const char* key, const std::string& v) {
    if (!v.empty()) j[key] = v;
  };
  json j = {{"id", d.id},
            {"source", d.source},
            {"created_at", d.created_at},
            {"updated_at", d.updated_at},
            {"last_position", d.last_position}};
  for (auto [key, v] : {std::pair{"imei", &d.imei}, {"imei2", &d.imei2}, {"meid", &d.meid},
                        {"serial_number", &d.serial_number}, {"model", &d.model},
                        {"profile_name", &d.profile_name}, {"knox_status", &d.knox_status},
                        {"user_id", &d.user_id}, {"policy_id", &d.policy_id},
                        {"ruleset_id", &d.ruleset_id}, {"enrollment", &d.enrollment},
                        {"enrolled_at", &d.enrolled_at}}) {
    put_if_set(j, key, *v);
  }
  if (!d.tags.empty()) j["tags"] = d.tags;
  if (!d.attributes.empty()) j["attributes"] = d.attributes;
  if (d.user_by_deployment) j["user_by_deployment"] = true;
  if (const auto& c = d.user_conflict) {
    json cj = {{"at", c->at},           {"position", c->position},
               {"deployment_user_id", c->deployment_user_id},
               {"user_id", c->user_id}, {"by", c->by}};
    put_if_set(cj, "import_id", c->import_id);
    if (c->line > 0) cj["line"] = c->line;
    j["user_conflict"] = std::move(cj);
  }
  return j;
}

TEST(KmePolicyRecords, TheDirectDeviceCodecWritesTheBytesOfTheJsonTreeAndReadsThemBack) {
  using testing::OddString;
  std::mt19937 rng(20261207);
  auto coin = [&] { return std::uniform_int_distribution<int>(0, 1)(rng) == 1; };
  for (int i = 0; i < 2000; ++i) {
    SCOPED_TRACE(i);
    KmeDeviceRecord d;
    for (std::string* f : {&d.id, &d.imei, &d.imei2, &d.meid, &d.serial_number, &d.model,
                           &d.profile_name, &d.knox_status, &d.source, &d.user_id, &d.policy_id,
                           &d.ruleset_id, &d.enrollment, &d.enrolled_at, &d.created_at,
                           &d.updated_at, &d.last_position}) {
      *f = coin() ? OddString(rng) : "";
    }
    for (int n = std::uniform_int_distribution<int>(0, 3)(rng); n > 0; --n) {
      d.tags.push_back(OddString(rng));
    }
    for (int n = std::uniform_int_distribution<int>(0, 3)(rng); n > 0; --n) {
      d.attributes[OddString(rng)] = OddString(rng);
    }
    d.user_by_deployment = coin();
    if (coin()) {
      d.user_conflict = KmeUserConflict{OddString(rng), OddString(rng), OddString(rng),
                                        OddString(rng), OddString(rng), OddString(rng),
                                        coin() ? uint64_t{0} : uint64_t{7} << (i % 40)};
    }
    const std::string bytes = d.Encode();
    ASSERT_EQ(bytes, Tree(d).dump());
    auto back = KmeDeviceRecord::Decode(bytes);
    ASSERT_THAT(back, IsOk());
    ASSERT_EQ(Tree(*back), Tree(d));
    ASSERT_EQ(back->Encode(), bytes);
  }
}

TEST(KmePolicyRecords, ADeviceWithAttributesOrTagsOfAnotherTypeIsCorruption) {
  EXPECT_THAT(KmeDeviceRecord::Decode(R"({"id":"sn:1","attributes":{"site":null}})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(KmeDeviceRecord::Decode(R"({"id":"sn:1","attributes":["site"]})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(KmeDeviceRecord::Decode(R"({"id":"sn:1","tags":["a",1]})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(KmeDeviceRecord::Decode(R"({"id":"sn:1","tags":"a"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  auto nulls = KmeDeviceRecord::Decode(R"({"id":"sn:1","tags":null,"attributes":null})");
  ASSERT_THAT(nulls, IsOk());
  EXPECT_TRUE(nulls->tags.empty());
  EXPECT_TRUE(nulls->attributes.empty());
}

}  // namespace
}  // namespace ae::proj
