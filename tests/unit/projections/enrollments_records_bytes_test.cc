// EnrollmentsProjector: the exact bytes of every reconciliation finding and DEP account
// record (enrollment_accounts) after each kind of event that writes one (a rebuilt view must
// equal a live one byte for byte, and older views must keep reading).

#include <google/protobuf/util/time_util.h>

#include "projections/enrollments_projector.h"
#include "tests/support/test_support.h"

namespace ae::proj {
namespace {

using google::protobuf::util::TimeUtil;
using ::ae::testing::TempDir;
namespace pb = autoenroll::events::v1;

constexpr int64_t kT0 = 1'700'000'000'000;

class EnrollmentsRecordsBytesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ViewStoreOptions o;
    o.path = dir_.Sub("views");
    o.column_families = projector_.column_families();
    auto v = ViewStore::Open(o);
    ASSERT_THAT(v, IsOk());
    views_ = std::move(v).value();
    batch_ = std::make_unique<ViewBatch>(*views_, ViewBatch::Isolated{});
  }

  // Applies `e` on `stream` as the next event of the log, one second after the last.
  void Apply(const std::string& stream, events::Envelope e) {
    ++n_;
    e.set_stream(stream);
    *e.mutable_occurred_at() = TimeUtil::MillisecondsToTimestamp(kT0 + n_ * 1000);
    RecordedEvent r;
    r.position = LogPosition{0, static_cast<int64_t>(n_)};
    r.envelope = std::move(e);
    ASSERT_THAT(projector_.Apply(r, *batch_), IsOk());
  }
  // The value of `key` in `cf`; "<none>" when there is none.
  std::string Row(const std::string& cf, const std::string& key) {
    auto raw = batch_->Get(cf, key);
    EXPECT_THAT(raw, IsOk());
    if (!raw.ok() || !*raw) return "<none>";
    return **raw;
  }
  static std::string Finding(const std::string& kind, const std::string& subject) {
    return kind + '\0' + subject;
  }
  // The 8-byte big-endian time that starts a dep_assigned_not_enrolled subject.
  static std::string BigEndian(uint64_t v) {
    std::string k;
    for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>((v >> shift) & 0xff));
    return k;
  }
  static google::protobuf::Timestamp At(int64_t ms) {
    return TimeUtil::MillisecondsToTimestamp(ms);
  }

  void Synced(const std::string& serial) {
    events::Envelope e;
    e.mutable_dep_device_synced()->set_serial_number(serial);
    e.mutable_dep_device_synced()->set_account_id("acc_1");
    e.mutable_dep_device_synced()->set_model("iPad Pro");
    Apply("dep-device/" + serial, e);
  }
  void Enrolled(const std::string& id, pb::Platform platform) {
    events::Envelope e;
    e.mutable_device_enrolled()->set_device_id(id);
    e.mutable_device_enrolled()->set_serial_number(id);
    e.mutable_device_enrolled()->set_platform(platform);
    Apply("device/" + id, e);
  }

  TempDir dir_;
  EnrollmentsProjector projector_;
  std::unique_ptr<ViewStore> views_;
  std::unique_ptr<ViewBatch> batch_;
  int64_t n_ = 0;
};

TEST_F(EnrollmentsRecordsBytesTest, DepFindingsThroughAssignmentFailureReleaseAndEnrollment) {
  Synced("C02X1");  // 1
  events::Envelope assigned;
  assigned.mutable_dep_profile_status_changed()->set_serial_number("C02X1");
  assigned.mutable_dep_profile_status_changed()->set_status(pb::DEP_PROFILE_STATUS_ASSIGNED);
  Apply("dep-device/C02X1", assigned);  // 2
  const std::string not_enrolled =
      Finding("dep_assigned_not_enrolled", BigEndian(kT0 + 2000) + '\0' + "dep/C02X1");
  EXPECT_EQ(Row("reconciliation", not_enrolled),
            R"({"device":"C02X1","evidence":["2"],"kind":"dep_assigned_not_enrolled","profile_status":"assigned","since_ms":1700000002000,"source":"dep"})");

  events::Envelope failed;
  failed.mutable_dep_profile_assignment_failed()->set_serial_number("C02X1");
  failed.mutable_dep_profile_assignment_failed()->set_reason("THROTTLED");
  *failed.mutable_dep_profile_assignment_failed()->mutable_retry_after() = At(kT0 + 60'000);
  Apply("dep-device/C02X1", failed);  // 3
  Apply("dep-device/C02X1", failed);  // 4
  const std::string failing = Finding("dep_assignment_failing", "dep/C02X1");
  EXPECT_EQ(Row("reconciliation", failing),
            R"({"device":"C02X1","evidence":["3","4"],"kind":"dep_assignment_failing","reason":"THROTTLED","retry_after_ms":1700000060000,"since_ms":1700000003000,"source":"dep"})");
  failed.mutable_dep_profile_assignment_failed()->clear_retry_after();
  failed.mutable_dep_profile_assignment_failed()->set_reason("");
  Apply("dep-device/C02X1", failed);  // 5
  EXPECT_EQ(Row("reconciliation", failing),
            R"({"device":"C02X1","evidence":["3","4","5"],"kind":"dep_assignment_failing","reason":"","retry_after_ms":0,"since_ms":1700000003000,"source":"dep"})");

  Enrolled("C02X1", pb::PLATFORM_APPLE);  // 6: enrolled, no longer assigned-not-enrolled
  EXPECT_EQ(Row("reconciliation", not_enrolled), "<none>");
  events::Envelope disowned;
  disowned.mutable_dep_device_disowned()->set_serial_number("C02X1");
  Apply("dep-device/C02X1", disowned);  // 7
  EXPECT_EQ(Row("reconciliation", Finding("dep_released_in_inventory", "dep/C02X1")),
            R"({"device":"C02X1","disowned":true,"evidence":["6","7"],"kind":"dep_released_in_inventory","since_ms":1700000007000,"source":"dep"})");

  events::Envelope unassigned;  // another DEP device, released without a disown
  Synced("C02X2");  // 8
  Enrolled("C02X2", pb::PLATFORM_APPLE);  // 9
  unassigned.mutable_dep_device_unassigned()->set_serial_number("C02X2");
  Apply("dep-device/C02X2", unassigned);  // 10
  EXPECT_EQ(Row("reconciliation", Finding("dep_released_in_inventory", "dep/C02X2")),
            R"({"device":"C02X2","disowned":false,"evidence":["9","10"],"kind":"dep_released_in_inventory","since_ms":1700000010000,"source":"dep"})");
}

TEST_F(EnrollmentsRecordsBytesTest, KmeWithoutUserFinding) {
  events::Envelope imported;
  imported.mutable_kme_device_imported()->set_device_id("imei:35000000000001");
  imported.mutable_kme_device_imported()->mutable_identifiers()->set_imei("350000000000011");
  Apply("kme-device/imei:35000000000001", imported);
  const std::string key = Finding("kme_without_user", "kme/imei:35000000000001");
  EXPECT_EQ(Row("reconciliation", key),
            R"({"device":"imei:35000000000001","evidence":["1"],"kind":"kme_without_user","since_ms":1700000001000,"source":"kme"})");

  events::Envelope user;
  user.mutable_device_user_assigned()->set_device_id("imei:35000000000001");
  user.mutable_device_user_assigned()->set_user_id("usr_1");
  Apply("kme-device/imei:35000000000001", user);
  EXPECT_EQ(Row("reconciliation", key), "<none>");
  user.mutable_device_user_assigned()->set_user_id("");
  Apply("kme-device/imei:35000000000001", user);
  EXPECT_EQ(Row("reconciliation", key),
            R"({"device":"imei:35000000000001","evidence":["3"],"kind":"kme_without_user","since_ms":1700000003000,"source":"kme"})");
}

TEST_F(EnrollmentsRecordsBytesTest, InventoryWithoutRecordUntilTheRecordComes) {
  Enrolled("C02Y1", pb::PLATFORM_APPLE);  // 1
  EXPECT_EQ(Row("reconciliation", Finding("inventory_without_record", "C02Y1")),
            R"({"device":"C02Y1","evidence":["1"],"kind":"inventory_without_record","since_ms":1700000001000,"source":"dep"})");
  Enrolled("ghost", pb::PLATFORM_UNSPECIFIED);  // 2: neither DEP nor KME
  EXPECT_EQ(Row("reconciliation", Finding("inventory_without_record", "ghost")),
            R"({"device":"ghost","evidence":["2"],"kind":"inventory_without_record","since_ms":1700000002000})");
  EXPECT_EQ(Row("enrollment_inventory", "C02Y1"), "");

  // The DEP record comes: the device takes the finding's enrollment.
  Synced("C02Y1");  // 3
  EXPECT_EQ(Row("reconciliation", Finding("inventory_without_record", "C02Y1")), "<none>");
  EXPECT_EQ(Row("enrollment_inventory", "C02Y1"), "dep/C02Y1");
  auto raw = batch_->Get("enrollments", "dep/C02Y1");
  ASSERT_THAT(raw, IsOk());
  ASSERT_TRUE(raw->has_value());
  auto rec = DecodeEnrollment(**raw);
  ASSERT_THAT(rec, IsOk());
  EXPECT_TRUE(rec->enrolled);
  EXPECT_TRUE(rec->in_inventory);
  EXPECT_TRUE(rec->ever_enrolled);
  EXPECT_EQ(rec->enrolled_ms, kT0 + 1000);
  EXPECT_EQ(rec->enrolled_position, "1");
}

TEST_F(EnrollmentsRecordsBytesTest, AnOrphanFindingThatIsNotJsonStillGivesTheDeviceItsEnrollment) {
  batch_->Put("reconciliation", Finding("inventory_without_record", "C02Y1"), "not json");
  batch_->Put("enrollment_inventory", "C02Y1", "");
  Synced("C02Y1");
  EXPECT_EQ(Row("reconciliation", Finding("inventory_without_record", "C02Y1")), "<none>");
  auto raw = batch_->Get("enrollments", "dep/C02Y1");
  ASSERT_THAT(raw, IsOk());
  ASSERT_TRUE(raw->has_value());
  auto rec = DecodeEnrollment(**raw);
  ASSERT_THAT(rec, IsOk());
  EXPECT_TRUE(rec->enrolled);
  EXPECT_EQ(rec->enrolled_ms, 0);
  EXPECT_EQ(rec->enrolled_position, "");
}

TEST_F(EnrollmentsRecordsBytesTest, AccountRecordBytesThroughCreationAndTokens) {
  events::Envelope early;  // a token before the account: nothing
  early.mutable_dep_token_uploaded()->set_account_id("acc_1");
  Apply("dep-account/acc_1", early);  // 1
  EXPECT_EQ(Row("enrollment_accounts", "acc_1"), "<none>");

  events::Envelope created;
  created.mutable_dep_account_created()->set_account_id("acc_1");
  created.mutable_dep_account_created()->set_name("Main");
  Apply("dep-account/acc_1", created);  // 2
  EXPECT_EQ(Row("enrollment_accounts", "acc_1"),
            R"({"created_ms":1700000002000,"created_position":"2","id":"acc_1","name":"Main"})");

  events::Envelope token;
  token.mutable_dep_token_uploaded()->set_account_id("acc_1");
  *token.mutable_dep_token_uploaded()->mutable_access_token_expiry() = At(kT0 + 86'400'000);
  Apply("dep-account/acc_1", token);  // 3
  EXPECT_EQ(Row("enrollment_accounts", "acc_1"),
            R"({"created_ms":1700000002000,"created_position":"2","id":"acc_1","name":"Main","token_expiry_ms":1700086400000,"token_ms":1700000003000,"token_position":"3"})");
  Apply("dep-account/acc_1", early);  // 4: a token without an expiry
  EXPECT_EQ(Row("enrollment_accounts", "acc_1"),
            R"({"created_ms":1700000002000,"created_position":"2","id":"acc_1","name":"Main","token_expiry_ms":0,"token_ms":1700000004000,"token_position":"4"})");

  created.mutable_dep_account_created()->set_name("");
  Apply("dep-account/acc_1", created);  // 5: created again: the token keys go
  EXPECT_EQ(Row("enrollment_accounts", "acc_1"),
            R"({"created_ms":1700000005000,"created_position":"5","id":"acc_1","name":""})");

  // Other events on the account's stream write nothing.
  events::Envelope other;
  other.mutable_dep_device_synced()->set_serial_number("");
  Apply("dep-account/acc_1", other);
  EXPECT_EQ(Row("enrollment_accounts", "acc_1"),
            R"({"created_ms":1700000005000,"created_position":"5","id":"acc_1","name":""})");
}

TEST_F(EnrollmentsRecordsBytesTest, AnAccountRecordThatIsNotJsonIsCorruption) {
  batch_->Put("enrollment_accounts", "acc_1", "not json");
  events::Envelope token;
  token.mutable_dep_token_uploaded()->set_account_id("acc_1");
  token.set_stream("dep-account/acc_1");
  RecordedEvent r;
  r.position = LogPosition{0, 1};
  r.envelope = std::move(token);
  EXPECT_THAT(projector_.Apply(r, *batch_), StatusIs(StatusCode::kCorruption, "view.corruption"));
}

}  // namespace
}  // namespace ae::proj
