// The rules, jobs and reconciliation view records: Encode writes exactly the bytes the views
// hold (those their projectors have always written), Decode reads them back to the same
// record, and anything else is refused as corruption.

#include "projections/reconciliation_records.h"
#include "projections/rules_records.h"

#include <random>

#include "tests/support/test_support.h"
#include "tests/unit/projections/odd_strings.h"

namespace ae::proj {
namespace {

// Records as the projectors wrote them before they had a type (rules_projector_test.cc and
// enrollments_records_bytes_test.cc pin the projectors to the same bytes).
constexpr const char* kRule =
    R"({"defined_at":"2023-11-14T22:13:21.000Z","disabled":false,"id":"rule_1","last_position":"1","name":"iPads to Alice","priority":-5,"rule":"CgZydWxlXzESDmlQYWRzIHRvIEFsaWNlGPv//////////wEiDwoDZGVwGghpUGFkIFBybyoHEgV1c3JfMQ=="})";
constexpr const char* kRuleDisabled =
    R"({"defined_at":"2023-11-14T22:13:22.000Z","disabled":true,"id":"rule_1","last_position":"2","name":"","priority":3,"rule":"CgZydWxlXzEYAyIPCgNkZXAaCGlQYWQgUHJvKgcSBXVzcl8xMAE="})";
constexpr const char* kJobRunning =
    R"({"assigned":1,"cancelled":false,"completed":false,"done":2,"id":"job_1","last_position":"2","refused":1,"selection":"{\"source\":\"dep\"}","started_at":"2023-11-14T22:13:21.000Z","state":"running","then":"CgZwcm9mXzESBXVzcl8x","total":4,"unchanged":0})";
constexpr const char* kJobFailed =
    R"({"assigned":1,"cancelled":false,"completed":true,"completed_at":"2023-11-14T22:13:24.000Z","done":3,"id":"job_1","last_position":"4","refused":1,"selection":"{\"source\":\"dep\"}","started_at":"2023-11-14T22:13:21.000Z","state":"failed","then":"CgZwcm9mXzESBXVzcl8x","total":4,"unchanged":1})";
constexpr const char* kJobCancelled =
    R"({"assigned":0,"cancelled":true,"completed":true,"completed_at":"2023-11-14T22:13:24.000Z","done":0,"id":"job_3","last_position":"4","refused":0,"selection":"ids","started_at":"2023-11-14T22:13:23.000Z","state":"cancelled","then":"","total":5,"unchanged":0})";
constexpr const char* kOutcome = R"({"device":"SERIAL1","outcome":"assigned"})";
constexpr const char* kOutcomeRefused =
    R"({"code":"device.not_found","device":"imei:35000000000001","outcome":"refused"})";
constexpr const char* kNotEnrolled =
    R"({"device":"C02X1","evidence":["2"],"kind":"dep_assigned_not_enrolled","profile_status":"assigned","since_ms":1700000002000,"source":"dep"})";
constexpr const char* kFailing =
    R"({"device":"C02X1","evidence":["3","4"],"kind":"dep_assignment_failing","reason":"THROTTLED","retry_after_ms":1700000060000,"since_ms":1700000003000,"source":"dep"})";
constexpr const char* kFailingNoRetry =
    R"({"device":"C02X1","evidence":["3","4","5"],"kind":"dep_assignment_failing","reason":"","retry_after_ms":0,"since_ms":1700000003000,"source":"dep"})";
constexpr const char* kReleased =
    R"({"device":"C02X2","disowned":false,"evidence":["9","10"],"kind":"dep_released_in_inventory","since_ms":1700000010000,"source":"dep"})";
constexpr const char* kWithoutUser =
    R"({"device":"imei:35000000000001","evidence":["1"],"kind":"kme_without_user","since_ms":1700000001000,"source":"kme"})";
constexpr const char* kOrphan =
    R"({"device":"ghost","evidence":["2"],"kind":"inventory_without_record","since_ms":1700000002000})";
constexpr const char* kAccount =
    R"({"created_ms":1700000002000,"created_position":"2","id":"acc_1","name":"Main"})";
constexpr const char* kAccountWithToken =
    R"({"created_ms":1700000002000,"created_position":"2","id":"acc_1","name":"Main","token_expiry_ms":1700086400000,"token_ms":1700000003000,"token_position":"3"})";
constexpr const char* kAccountTokenWithoutExpiry =
    R"({"created_ms":1700000002000,"created_position":"2","id":"acc_1","name":"Main","token_expiry_ms":0,"token_ms":1700000004000,"token_position":"4"})";

template <typename Record>
void ExpectRoundTrip(const char* bytes) {
  auto r = Record::Decode(bytes);
  ASSERT_THAT(r, IsOk()) << bytes;
  EXPECT_EQ(r->Encode(), bytes);
}

TEST(RulesReconciliationRecords, EveryRecordTheProjectorsWroteDecodesAndEncodesToTheSameBytes) {
  ExpectRoundTrip<RuleRecord>(kRule);
  ExpectRoundTrip<RuleRecord>(kRuleDisabled);
  ExpectRoundTrip<JobRecord>(kJobRunning);
  ExpectRoundTrip<JobRecord>(kJobFailed);
  ExpectRoundTrip<JobRecord>(kJobCancelled);
  ExpectRoundTrip<JobOutcomeRecord>(kOutcome);
  ExpectRoundTrip<JobOutcomeRecord>(kOutcomeRefused);
  ExpectRoundTrip<ReconciliationFinding>(kNotEnrolled);
  ExpectRoundTrip<ReconciliationFinding>(kFailing);
  ExpectRoundTrip<ReconciliationFinding>(kFailingNoRetry);
  ExpectRoundTrip<ReconciliationFinding>(kReleased);
  ExpectRoundTrip<ReconciliationFinding>(kWithoutUser);
  ExpectRoundTrip<ReconciliationFinding>(kOrphan);
  ExpectRoundTrip<EnrollmentAccountRecord>(kAccount);
  ExpectRoundTrip<EnrollmentAccountRecord>(kAccountWithToken);
  ExpectRoundTrip<EnrollmentAccountRecord>(kAccountTokenWithoutExpiry);
}

TEST(RulesReconciliationRecords, DecodedRecordsHoldTheirFields) {
  auto rule = RuleRecord::Decode(kRule);
  ASSERT_THAT(rule, IsOk());
  EXPECT_EQ(rule->id, "rule_1");
  EXPECT_EQ(rule->priority, -5);
  EXPECT_FALSE(rule->disabled);

  auto job = JobRecord::Decode(kJobFailed);
  ASSERT_THAT(job, IsOk());
  EXPECT_EQ(job->state, "failed");
  EXPECT_EQ(job->StateOf(), "failed");
  EXPECT_EQ(job->total, 4u);
  EXPECT_EQ(job->done, 3u);
  EXPECT_EQ(job->completed_at, "2023-11-14T22:13:24.000Z");
  auto running = JobRecord::Decode(kJobRunning);
  ASSERT_THAT(running, IsOk());
  EXPECT_EQ(running->StateOf(), "running");
  EXPECT_FALSE(running->completed_at.has_value());
  auto cancelled = JobRecord::Decode(kJobCancelled);
  ASSERT_THAT(cancelled, IsOk());
  EXPECT_EQ(cancelled->StateOf(), "cancelled");

  auto refused = JobOutcomeRecord::Decode(kOutcomeRefused);
  ASSERT_THAT(refused, IsOk());
  EXPECT_EQ(refused->code, "device.not_found");

  auto failing = ReconciliationFinding::Decode(kFailing);
  ASSERT_THAT(failing, IsOk());
  EXPECT_EQ(failing->evidence, (std::vector<std::string>{"3", "4"}));
  EXPECT_EQ(failing->retry_after_ms, 1700000060000);
  EXPECT_FALSE(failing->profile_status.has_value());
  EXPECT_FALSE(failing->disowned.has_value());
  auto orphan = ReconciliationFinding::Decode(kOrphan);
  ASSERT_THAT(orphan, IsOk());
  EXPECT_EQ(orphan->source, "");
  EXPECT_FALSE(orphan->reason.has_value());

  auto account = EnrollmentAccountRecord::Decode(kAccount);
  ASSERT_THAT(account, IsOk());
  EXPECT_FALSE(account->token.has_value());
  auto with_token = EnrollmentAccountRecord::Decode(kAccountWithToken);
  ASSERT_THAT(with_token, IsOk());
  ASSERT_TRUE(with_token->token.has_value());
  EXPECT_EQ(with_token->token->expiry_ms, 1700086400000);
  EXPECT_EQ(with_token->token->at_ms, 1700000003000);
  EXPECT_EQ(with_token->token->position, "3");
}

// The finding as a tree, key by key: the oracle of the bytes Encode writes directly.
nlohmann::json Tree(const ReconciliationFinding& f) {
  nlohmann::json j = {
      {"kind", f.kind}, {"device", f.device}, {"since_ms", f.since_ms}, {"evidence", f.evidence}};
  if (!f.source.empty()) j["source"] = f.source;
  if (f.profile_status) j["profile_status"] = *f.profile_status;
  if (f.disowned) j["disowned"] = *f.disowned;
  if (f.reason) j["reason"] = *f.reason;
  if (f.retry_after_ms) j["retry_after_ms"] = *f.retry_after_ms;
  return j;
}

// Findings of every shape, with strings that take every escaping path: Encode (written
// directly) gives the bytes of the nlohmann tree's dump, and Decode reads them back.
TEST(RulesReconciliationRecords, RandomFindingsEncodeAsTheirTreeAndDecodeBack) {
  std::mt19937 rng(20261207);
  auto coin = [&] { return std::uniform_int_distribution<int>(0, 1)(rng) == 1; };
  auto ms = [&] { return std::uniform_int_distribution<int64_t>(-5, 1800000000000)(rng); };
  for (int i = 0; i < 2000; ++i) {
    ReconciliationFinding f;
    f.kind = testing::OddString(rng);
    f.device = testing::OddString(rng);
    f.source = testing::OddString(rng);
    f.since_ms = ms();
    for (int n = std::uniform_int_distribution<int>(0, 3)(rng); n > 0; --n) {
      f.evidence.push_back(testing::OddString(rng));
    }
    f.profile_status = testing::MaybeOdd(rng);
    if (coin()) f.disowned = coin();
    f.reason = testing::MaybeOdd(rng);
    if (coin()) f.retry_after_ms = ms();
    const std::string bytes = f.Encode();
    ASSERT_EQ(bytes, Tree(f).dump()) << i;
    auto back = ReconciliationFinding::Decode(bytes);
    ASSERT_THAT(back, IsOk()) << bytes;
    EXPECT_EQ(back->kind, f.kind);
    EXPECT_EQ(back->device, f.device);
    EXPECT_EQ(back->source, f.source);
    EXPECT_EQ(back->since_ms, f.since_ms);
    EXPECT_EQ(back->evidence, f.evidence);
    EXPECT_EQ(back->profile_status, f.profile_status);
    EXPECT_EQ(back->disowned, f.disowned);
    EXPECT_EQ(back->reason, f.reason);
    // 0 is "none given": written only when set, read back as set.
    EXPECT_EQ(back->retry_after_ms, f.retry_after_ms);
  }
}

TEST(RulesReconciliationRecords, BytesThatAreNoRecordAreCorruption) {
  for (const char* bytes : {"", "not json", "[1,2]", "\"text\"", "42", "{\"id\":"}) {
    EXPECT_THAT(RuleRecord::Decode(bytes), StatusIs(StatusCode::kCorruption, "view.corruption"))
        << bytes;
    EXPECT_THAT(JobRecord::Decode(bytes), StatusIs(StatusCode::kCorruption, "view.corruption"))
        << bytes;
    EXPECT_THAT(JobOutcomeRecord::Decode(bytes),
                StatusIs(StatusCode::kCorruption, "view.corruption"))
        << bytes;
    EXPECT_THAT(ReconciliationFinding::Decode(bytes),
                StatusIs(StatusCode::kCorruption, "view.corruption"))
        << bytes;
    EXPECT_THAT(EnrollmentAccountRecord::Decode(bytes),
                StatusIs(StatusCode::kCorruption, "view.corruption"))
        << bytes;
  }
  // A key holding a value of another type.
  EXPECT_THAT(RuleRecord::Decode(R"({"id":"r","priority":"high"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(RuleRecord::Decode(R"({"id":"r","rule":7})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(JobRecord::Decode(R"({"id":"j","total":"many"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(JobRecord::Decode(R"({"id":"j","completed":"yes"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(JobOutcomeRecord::Decode(R"({"device":["a"],"outcome":"assigned"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(ReconciliationFinding::Decode(R"({"kind":"kme_without_user","evidence":"1"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(ReconciliationFinding::Decode(R"({"kind":"kme_without_user","evidence":[1]})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(ReconciliationFinding::Decode(R"({"kind":"k","since_ms":"yesterday"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(EnrollmentAccountRecord::Decode(R"({"id":"a","token_expiry_ms":"soon"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
}

}  // namespace
}  // namespace ae::proj
