// The DEP view records: Encode writes exactly the bytes the views hold (those the DEP
// projector has always written), Decode reads them back to the same record, and anything
// else is refused as corruption.

#include "projections/dep_records.h"

#include <random>

#include "tests/unit/projections/odd_strings.h"

#include "tests/support/test_support.h"

namespace ae::proj {
namespace {

// Records as the DEP projector wrote them before they had a type (dep_projector_test.cc
// pins the projector to the same bytes).
constexpr const char* kAccount =
    R"({"admin_id":"admin-1","certificate_pem":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n","created_at":"2023-11-14T22:13:21.000Z","cursor_at":"2023-11-14T22:13:27.000Z","facilitator_id":"f-1","id":"acc_1","last_position":"9","last_sync_at":"2023-11-14T22:13:27.000Z","last_sync_error":{"at":"2023-11-14T22:13:29.000Z","code":"dep.unavailable","message":"Apple answered 503"},"name":"Main","org_address":"1 Main St","org_email":"it@example.com","org_id":"o-1","org_name":"Example","org_phone":"+1 555","org_type":"edu","org_version":"v2","public_key_sha256":"01abff","server_name":"MDM","server_uuid":"u-1","state":"active","state_reason":"token accepted","sync":{"devices_seen":0,"events_written":0,"id":"s2","mode":"sync","pages":0,"running":false,"started_at":"2023-11-14T22:13:28.000Z"},"token_expires_at":"2023-11-14T23:13:20.000Z","token_fingerprint":"5a5a5a5a5a5a5a5a","updated_at":"2023-11-14T22:13:29.000Z"})";
constexpr const char* kNewAccount =
    R"({"certificate_pem":"PEM","created_at":"2023-11-14T22:13:21.000Z","cursor_at":null,"id":"acc_1","last_position":"1","last_sync_at":null,"last_sync_error":null,"name":"Main","org_address":"","org_email":"","org_id":"","org_name":"","org_phone":"","public_key_sha256":"01abff","server_name":"","server_uuid":"","state":"awaiting_token","state_reason":"","sync":null,"token_expires_at":null,"token_fingerprint":null,"updated_at":"2023-11-14T22:13:21.000Z"})";
constexpr const char* kProfile =
    R"({"account_id":"acc_1","allow_pairing":false,"anchor_certs":["QUJD"],"auto_advance_setup":true,"await_device_configured":true,"configuration_web_url":"","created_at":"2023-11-14T22:13:21.000Z","department":"IT","do_not_use_profile_from_backup":false,"error":{"code":"dep.bad_profile","message":"url is not https"},"id":"prof_1","is_mandatory":true,"is_mdm_removable":false,"is_multi_user":false,"is_supervised":true,"language":"en","last_position":"2","org_magic":"","profile_name":"Staff","profile_uuid":"","region":"","skip_setup_items":["Location","Siri"],"state":"failed","supervising_host_certs":[],"support_email_address":"","support_phone_number":"+1 555","updated_at":"2023-11-14T22:13:22.000Z","url":"https://mdm.example.com/enroll/apple"})";
constexpr const char* kDevice =
    R"({"account_id":"acc_1","asset_tag":"A-1","assigned_to_server":false,"color":"space gray","created_at":"2023-11-14T22:13:21.000Z","description":"IPAD PRO 11","device_assigned_by":"sub-7","device_assigned_date":"2023-11-13T22:13:20.000Z","device_family":"iPad","disown":{"request_id":"do-1","requested_at":"2023-11-14T22:13:31.000Z","requested_by":"usr_admin","result":"SUCCESS"},"disowned":true,"enrolled_at":"2023-11-14T22:13:26.000Z","enrollment":"not_enrolled","last_assignment_error":{"at":"2023-11-14T22:13:23.000Z","profile_id":"prof_1","reason":"THROTTLED","request_id":"req-1","retry_after":"2023-11-14T22:14:20.000Z"},"last_enrollment_refusal":{"at":"2023-11-14T22:13:27.000Z","reason":"enroll.not_assigned"},"last_position":"12","model":"iPad Pro","os":"iPadOS","pending_request_id":"","policy_id":"pol_1","profile_assign_time":null,"profile_id":"","profile_push_time":null,"profile_status":"removed","profile_uuid":"","removal_request_id":"","requested_profile_uuid":"UUID-1","ruleset_id":"rs_1","serial_number":"C02BBB","updated_at":"2023-11-14T22:13:32.000Z","user_id":"usr_1"})";
constexpr const char* kDisownedWithoutRequest =
    R"({"account_id":"","asset_tag":"","assigned_to_server":false,"color":"","created_at":"2023-11-14T22:13:21.000Z","description":"","device_assigned_by":"","device_assigned_date":null,"device_family":"","disown":null,"disowned":true,"enrollment":"not_enrolled","last_assignment_error":null,"last_position":"2","model":"","os":"","pending_request_id":"","policy_id":"","profile_assign_time":null,"profile_id":"","profile_push_time":null,"profile_status":"assigned","profile_uuid":"","ruleset_id":"","serial_number":"C02CCC","updated_at":"2023-11-14T22:13:22.000Z","user_id":""})";
constexpr const char* kCounts =
    R"({"assigned":0,"empty":0,"pushed":1,"removed":0,"seq":3,"total":1})";
constexpr const char* kCountsChange =
    R"({"assigned":1,"empty":0,"position":"5","pushed":0,"recorded_ms":1700000005005,"removed":0,"total":1})";
constexpr const char* kRetry =
    R"({"due":"2023-11-14T22:14:20.000Z","profile_id":"prof_1","profile_uuid":"UUID-1"})";

template <typename Record>
void ExpectRoundTrip(const char* bytes) {
  auto r = Record::Decode(bytes);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->Encode(), bytes);
}

TEST(DepRecords, EveryRecordTheProjectorWroteDecodesAndEncodesToTheSameBytes) {
  ExpectRoundTrip<DepAccountRecord>(kAccount);
  ExpectRoundTrip<DepAccountRecord>(kNewAccount);
  ExpectRoundTrip<DepProfileRecord>(kProfile);
  ExpectRoundTrip<DepDeviceRecord>(kDevice);
  ExpectRoundTrip<DepDeviceRecord>(kDisownedWithoutRequest);
  ExpectRoundTrip<DepCountsRecord>(kCounts);
  ExpectRoundTrip<DepCountsChange>(kCountsChange);
  ExpectRoundTrip<DepRetryRecord>(kRetry);
}

TEST(DepRecords, ANewAccountEncodesToTheBytesTheProjectorWrote) {
  DepAccountRecord a;
  a.id = "acc_1";
  a.name = "Main";
  a.certificate_pem = "PEM";
  a.public_key_sha256 = "01abff";
  a.created_at = a.updated_at = "2023-11-14T22:13:21.000Z";
  a.last_position = "1";
  EXPECT_EQ(a.Encode(), kNewAccount);
}

TEST(DepRecords, ADeviceEncodesToTheBytesTheProjectorWrote) {
  DepDeviceRecord d;
  d.serial_number = "C02BBB";
  d.account_id = "acc_1";
  d.model = "iPad Pro";
  d.description = "IPAD PRO 11";
  d.color = "space gray";
  d.asset_tag = "A-1";
  d.os = "iPadOS";
  d.device_family = "iPad";
  d.device_assigned_date = "2023-11-13T22:13:20.000Z";
  d.device_assigned_by = "sub-7";
  d.profile_status = "removed";
  d.user_id = "usr_1";
  d.policy_id = "pol_1";
  d.ruleset_id = "rs_1";
  d.last_assignment_error = DepAssignmentError{"THROTTLED", "req-1", "prof_1",
                                               "2023-11-14T22:14:20.000Z",
                                               "2023-11-14T22:13:23.000Z"};
  d.disowned = true;
  d.created_at = "2023-11-14T22:13:21.000Z";
  d.updated_at = "2023-11-14T22:13:32.000Z";
  d.last_position = "12";
  d.requested_profile_uuid = "UUID-1";
  d.removal_request_id = "";
  d.enrolled_at = "2023-11-14T22:13:26.000Z";
  d.last_enrollment_refusal = DepEnrollmentRefusal{"enroll.not_assigned",
                                                   "2023-11-14T22:13:27.000Z"};
  d.disown = DepDisownRecord{"do-1", "usr_admin", "2023-11-14T22:13:31.000Z", "SUCCESS"};
  EXPECT_EQ(d.Encode(), kDevice);
}

TEST(DepRecords, DecodeReadsTheFieldsTheApiShows) {
  auto d = DepDeviceRecord::Decode(kDevice);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->serial_number, "C02BBB");
  EXPECT_EQ(d->profile_status, "removed");
  EXPECT_FALSE(d->assigned_to_server);
  EXPECT_TRUE(d->disowned);
  EXPECT_EQ(d->profile_assign_time, std::nullopt);
  ASSERT_TRUE(d->last_assignment_error.has_value());
  EXPECT_EQ(d->last_assignment_error->retry_after, "2023-11-14T22:14:20.000Z");
  ASSERT_TRUE(d->disown.has_value());
  EXPECT_EQ(d->disown->result, "SUCCESS");

  auto a = DepAccountRecord::Decode(kAccount);
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->state, "active");
  EXPECT_EQ(a->token_expires_at, "2023-11-14T23:13:20.000Z");
  ASSERT_TRUE(a->sync.has_value());
  EXPECT_EQ(a->sync->completed_at, std::nullopt);
  EXPECT_EQ(a->sync->running, false);
  ASSERT_TRUE(a->last_sync_error.has_value());
  EXPECT_EQ(a->last_sync_error->code, "dep.unavailable");

  auto c = DepCountsRecord::Decode(kCounts);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->counts.pushed, 1);
  EXPECT_EQ(c->seq, 3u);
}

TEST(DepRecords, CountsWrittenBeforeTheHistoryHaveNoSeqAndKeepNone) {
  constexpr const char* kOld = R"({"assigned":2,"empty":0,"pushed":0,"removed":0,"total":2})";
  auto c = DepCountsRecord::Decode(kOld);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->seq, std::nullopt);
  EXPECT_EQ(c->counts.assigned, 2);
  EXPECT_EQ(c->Encode(), kOld);
}

TEST(DepRecords, BytesThatAreNotARecordAreCorruption) {
  EXPECT_THAT(DepDeviceRecord::Decode("{not json"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(DepAccountRecord::Decode("[1,2]"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(DepProfileRecord::Decode(R"({"id":"prof_1","skip_setup_items":"Siri"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(DepDeviceRecord::Decode(R"({"serial_number":"C02","assigned_to_server":"yes"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(DepDeviceRecord::Decode(R"({"serial_number":"C02","disown":"x"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(DepRetryRecord::Decode(R"({"due":5})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
}

// The oracle: each record as a nlohmann tree, key by key, as the projector built it before
// the records were written directly. Encode() must give the bytes of its dump().
using nlohmann::json;
json OrNull(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }
json Counts(const DepCounts& c) {
  return {{"total", c.total}, {"empty", c.empty}, {"assigned", c.assigned},
          {"pushed", c.pushed}, {"removed", c.removed}};
}

json Tree(const DepDeviceRecord& d) {
  json j = {{"serial_number", d.serial_number},
            {"account_id", d.account_id},
            {"model", d.model},
            {"description", d.description},
            {"color", d.color},
            {"asset_tag", d.asset_tag},
            {"os", d.os},
            {"device_family", d.device_family},
            {"profile_status", d.profile_status},
            {"profile_uuid", d.profile_uuid},
            {"profile_id", d.profile_id},
            {"profile_assign_time", OrNull(d.profile_assign_time)},
            {"profile_push_time", OrNull(d.profile_push_time)},
            {"device_assigned_date", OrNull(d.device_assigned_date)},
            {"device_assigned_by", d.device_assigned_by},
            {"user_id", d.user_id},
            {"policy_id", d.policy_id},
            {"ruleset_id", d.ruleset_id},
            {"assigned_to_server", d.assigned_to_server},
            {"pending_request_id", d.pending_request_id},
            {"last_assignment_error", nullptr},
            {"enrollment", d.enrollment},
            {"disowned", d.disowned},
            {"created_at", d.created_at},
            {"updated_at", d.updated_at},
            {"last_position", d.last_position}};
  if (const auto& e = d.last_assignment_error) {
    j["last_assignment_error"] = {{"reason", e->reason},       {"request_id", e->request_id},
                                  {"profile_id", e->profile_id}, {"retry_after", OrNull(e->retry_after)},
                                  {"at", e->at}};
  }
  if (d.requested_profile_uuid) j["requested_profile_uuid"] = *d.requested_profile_uuid;
  if (d.removal_request_id) j["removal_request_id"] = *d.removal_request_id;
  if (d.enrolled_at) j["enrolled_at"] = *d.enrolled_at;
  if (d.last_enrollment_refusal) {
    j["last_enrollment_refusal"] = {{"reason", d.last_enrollment_refusal->reason},
                                    {"at", d.last_enrollment_refusal->at}};
  }
  if (d.disown) {
    j["disown"] = {{"request_id", d.disown->request_id},
                   {"requested_by", d.disown->requested_by},
                   {"requested_at", d.disown->requested_at}};
    if (d.disown->result) j["disown"]["result"] = *d.disown->result;
  } else if (d.disown_null) {
    j["disown"] = nullptr;
  }
  return j;
}

json Tree(const DepCountsRecord& c) {
  json j = Counts(c.counts);
  if (c.seq) j["seq"] = *c.seq;
  return j;
}

json Tree(const DepCountsChange& h) {
  json j = Counts(h.counts);
  j["position"] = h.position;
  j["recorded_ms"] = h.recorded_ms;
  return j;
}

using testing::MaybeOdd;
using testing::OddString;

DepDeviceRecord RandomDevice(std::mt19937& rng) {
  auto coin = [&] { return std::uniform_int_distribution<int>(0, 1)(rng) == 1; };
  DepDeviceRecord d;
  for (std::string* f : {&d.serial_number, &d.account_id, &d.model, &d.description, &d.color,
                         &d.asset_tag, &d.os, &d.device_family, &d.device_assigned_by,
                         &d.profile_status, &d.profile_uuid, &d.profile_id, &d.user_id,
                         &d.policy_id, &d.ruleset_id, &d.pending_request_id, &d.enrollment,
                         &d.created_at, &d.updated_at, &d.last_position}) {
    *f = OddString(rng);
  }
  for (std::optional<std::string>* f :
       {&d.device_assigned_date, &d.profile_assign_time, &d.profile_push_time,
        &d.requested_profile_uuid, &d.removal_request_id, &d.enrolled_at}) {
    *f = MaybeOdd(rng);
  }
  d.assigned_to_server = coin();
  d.disowned = coin();
  if (coin()) {
    d.last_assignment_error = DepAssignmentError{OddString(rng), OddString(rng), OddString(rng),
                                                 MaybeOdd(rng), OddString(rng)};
  }
  if (coin()) d.last_enrollment_refusal = DepEnrollmentRefusal{OddString(rng), OddString(rng)};
  if (coin()) {
    d.disown = DepDisownRecord{OddString(rng), OddString(rng), OddString(rng), MaybeOdd(rng)};
  } else {
    d.disown_null = coin();
  }
  return d;
}

TEST(DepRecords, TheDirectCodecWritesTheBytesOfTheJsonTreeAndReadsThemBack) {
  std::mt19937 rng(20261207);
  for (int i = 0; i < 2000; ++i) {
    SCOPED_TRACE(i);
    const DepDeviceRecord d = RandomDevice(rng);
    const std::string bytes = d.Encode();
    ASSERT_EQ(bytes, Tree(d).dump());
    auto back = DepDeviceRecord::Decode(bytes);
    ASSERT_THAT(back, IsOk());
    ASSERT_EQ(Tree(*back), Tree(d));
    ASSERT_EQ(back->Encode(), bytes);

    auto n = [&] { return std::uniform_int_distribution<int64_t>(0, int64_t{1} << 40)(rng); };
    DepCountsRecord c;
    c.counts = DepCounts{n(), n(), n(), n(), n()};
    if (i % 2) c.seq = static_cast<uint64_t>(n());
    ASSERT_EQ(c.Encode(), Tree(c).dump());
    auto cb = DepCountsRecord::Decode(c.Encode());
    ASSERT_THAT(cb, IsOk());
    ASSERT_EQ(Tree(*cb), Tree(c));

    DepCountsChange h;
    h.counts = c.counts;
    h.position = OddString(rng);
    h.recorded_ms = n();
    ASSERT_EQ(h.Encode(), Tree(h).dump());
    auto hb = DepCountsChange::Decode(h.Encode());
    ASSERT_THAT(hb, IsOk());
    ASSERT_EQ(Tree(*hb), Tree(h));
  }
}

TEST(DepRecords, AbsentAndNullKeysReadAsTheirDefaults) {
  auto d = DepDeviceRecord::Decode(
      R"({"serial_number":"C02","profile_status":null,"last_assignment_error":null,"x":[1,{}]})");
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->serial_number, "C02");
  EXPECT_EQ(d->profile_status, "empty");
  EXPECT_EQ(d->enrollment, "not_enrolled");
  EXPECT_FALSE(d->last_assignment_error.has_value());
  EXPECT_FALSE(d->disown.has_value());
  EXPECT_FALSE(d->disown_null);
  // A key given twice: the last wins, as nlohmann::json reads it.
  auto twice = DepDeviceRecord::Decode(R"({"model":"a","model":"b"})");
  ASSERT_THAT(twice, IsOk());
  EXPECT_EQ(twice->model, "b");
}

TEST(DepRecords, BytesThatAreNotUtf8OrNotOneObjectAreCorruption) {
  EXPECT_THAT(DepDeviceRecord::Decode("{\"model\":\"\xff\xfe\"}"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(DepDeviceRecord::Decode(R"({"model":"a"} {"model":"b"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(DepDeviceRecord::Decode(""), StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(DepCountsRecord::Decode(R"({"total":"1"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(DepCountsChange::Decode(R"({"position":5})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
}

}  // namespace
}  // namespace ae::proj
