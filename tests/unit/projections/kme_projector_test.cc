// KmeProjector: the exact bytes of every KME view record after each kind of event (a
// rebuilt view must equal a live one byte for byte, and older views must keep reading).

#include <google/protobuf/util/time_util.h>

#include "projections/kme_projector.h"
#include "tests/support/test_support.h"

namespace ae::proj {
namespace {

using google::protobuf::util::TimeUtil;
using ::ae::testing::TempDir;
namespace v1 = autoenroll::events::v1;

constexpr int64_t kT0 = 1'700'000'000'000;

class KmeProjectorTest : public ::testing::Test {
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
  void Apply(const std::string& stream, events::Envelope e, uint64_t stream_version = 0) {
    ++n_;
    e.set_stream(stream);
    e.set_stream_version(stream_version);
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
  static google::protobuf::Timestamp At(int64_t ms) {
    return TimeUtil::MillisecondsToTimestamp(ms);
  }

  static events::Envelope Imported(v1::KmeSource source, const std::string& user) {
    events::Envelope e;
    auto* p = e.mutable_kme_device_imported();
    p->set_device_id("imei:35000000000001");
    p->mutable_identifiers()->set_imei("350000000000011");
    p->mutable_identifiers()->set_imei2("350000000000029");
    p->mutable_identifiers()->set_serial_number("R58M1234");
    p->set_model("Galaxy A54");
    p->set_profile_name("Corp");
    p->add_tags("floor-2");
    p->add_tags("alpha");
    (*p->mutable_attributes())["site"] = "Berlin";
    (*p->mutable_attributes())["cost_center"] = "42";
    p->set_knox_status("Uploaded");
    p->set_source(source);
    p->set_import_id("imp-1");
    p->set_line(3);
    p->set_matched_user_id(user);
    return e;
  }

  TempDir dir_;
  KmeProjector projector_;
  std::unique_ptr<ViewStore> views_;
  std::unique_ptr<ViewBatch> batch_;
  int64_t n_ = 0;
};

constexpr const char* kDevice = "imei:35000000000001";
constexpr const char* kStream = "kme-device/imei:35000000000001";

TEST_F(KmeProjectorTest, DeviceRecordBytesThroughImportAssignmentsConflictAndEnrollment) {
  Apply(kStream, Imported(v1::KME_SOURCE_CSV, "usr_1"), 1);
  EXPECT_EQ(Row("kme_devices", kDevice),
            R"({"attributes":{"cost_center":"42","site":"Berlin"},"created_at":"2023-11-14T22:13:21.000Z","id":"imei:35000000000001","imei":"350000000000011","imei2":"350000000000029","knox_status":"Uploaded","last_position":"1","model":"Galaxy A54","profile_name":"Corp","serial_number":"R58M1234","source":"csv","tags":["floor-2","alpha"],"updated_at":"2023-11-14T22:13:21.000Z","user_id":"usr_1"})");
  EXPECT_EQ(Row("kme_versions", kDevice), "1");
  EXPECT_EQ(Row("kme_ids", "imei:35000000000001"), kDevice);
  EXPECT_EQ(Row("kme_ids", "imei:35000000000002"), kDevice);
  EXPECT_EQ(Row("kme_ids", "serial:R58M1234"), kDevice);
  EXPECT_EQ(Row("kme_by_user", std::string("usr_1/") + kDevice), "");

  // The import's own user again: nothing changes but the version.
  events::Envelope same;
  same.mutable_device_user_assigned()->set_device_id(kDevice);
  same.mutable_device_user_assigned()->set_user_id("usr_1");
  Apply(kStream, same, 2);
  EXPECT_EQ(Row("kme_versions", kDevice), "2");
  EXPECT_EQ(Row("kme_devices", kDevice).find(R"("last_position":"1")") != std::string::npos,
            true);

  events::Envelope policy;
  policy.mutable_device_policy_assigned()->set_device_id(kDevice);
  policy.mutable_device_policy_assigned()->set_policy_id("kiosk");
  Apply(kStream, policy, 3);
  events::Envelope ruleset;
  ruleset.mutable_device_ruleset_assigned()->set_device_id(kDevice);
  ruleset.mutable_device_ruleset_assigned()->set_ruleset_id("strict");
  Apply(kStream, ruleset, 4);
  events::Envelope by_device;  // the Knox Deployment App binds another user
  by_device.mutable_device_user_assigned()->set_device_id(kDevice);
  by_device.mutable_device_user_assigned()->set_user_id("usr_2");
  by_device.mutable_actor()->set_kind(v1::Actor::KIND_DEVICE);
  by_device.mutable_actor()->set_id(kStream);
  Apply(kStream, by_device, 5);
  EXPECT_EQ(Row("kme_devices", kDevice),
            R"({"attributes":{"cost_center":"42","site":"Berlin"},"created_at":"2023-11-14T22:13:21.000Z","id":"imei:35000000000001","imei":"350000000000011","imei2":"350000000000029","knox_status":"Uploaded","last_position":"5","model":"Galaxy A54","policy_id":"kiosk","profile_name":"Corp","ruleset_id":"strict","serial_number":"R58M1234","source":"csv","tags":["floor-2","alpha"],"updated_at":"2023-11-14T22:13:25.000Z","user_by_deployment":true,"user_id":"usr_2"})");
  EXPECT_EQ(Row("kme_by_user", std::string("usr_1/") + kDevice), "<none>");
  EXPECT_EQ(Row("kme_by_user", std::string("usr_2/") + kDevice), "");

  events::Envelope overridden;
  auto* o = overridden.mutable_kme_deployment_user_overridden();
  o->set_device_id(kDevice);
  o->set_deployment_user_id("usr_2");
  o->set_user_id("usr_3");
  o->set_source(v1::KME_SOURCE_CSV);
  o->set_import_id("imp-2");
  o->set_line(7);
  Apply(kStream, overridden, 6);
  events::Envelope to_user_3;  // the CSV's user wins
  to_user_3.mutable_device_user_assigned()->set_device_id(kDevice);
  to_user_3.mutable_device_user_assigned()->set_user_id("usr_3");
  Apply(kStream, to_user_3, 7);
  events::Envelope cleared;  // an administrator clears policy and conflicts again
  cleared.mutable_device_policy_assigned()->set_device_id(kDevice);
  cleared.mutable_device_policy_assigned()->set_policy_id("");
  Apply(kStream, cleared, 8);
  EXPECT_EQ(Row("kme_devices", kDevice),
            R"({"attributes":{"cost_center":"42","site":"Berlin"},"created_at":"2023-11-14T22:13:21.000Z","id":"imei:35000000000001","imei":"350000000000011","imei2":"350000000000029","knox_status":"Uploaded","last_position":"8","model":"Galaxy A54","profile_name":"Corp","ruleset_id":"strict","serial_number":"R58M1234","source":"csv","tags":["floor-2","alpha"],"updated_at":"2023-11-14T22:13:28.000Z","user_conflict":{"at":"2023-11-14T22:13:26.000Z","by":"csv","deployment_user_id":"usr_2","import_id":"imp-2","line":7,"position":"6","user_id":"usr_3"},"user_id":"usr_3"})");

  events::Envelope by_admin;
  auto* a = by_admin.mutable_kme_deployment_user_overridden();
  a->set_device_id(kDevice);
  a->set_deployment_user_id("usr_2");
  Apply(kStream, by_admin, 9);
  events::Envelope enrolled;
  enrolled.mutable_device_enrolled()->set_device_id(kDevice);
  enrolled.mutable_device_enrolled()->set_platform(v1::PLATFORM_ANDROID);
  Apply(std::string("device/") + kDevice, enrolled, 1);
  EXPECT_EQ(Row("kme_devices", kDevice),
            R"({"attributes":{"cost_center":"42","site":"Berlin"},"created_at":"2023-11-14T22:13:21.000Z","enrolled_at":"2023-11-14T22:13:30.000Z","enrollment":"enrolled","id":"imei:35000000000001","imei":"350000000000011","imei2":"350000000000029","knox_status":"Uploaded","last_position":"10","model":"Galaxy A54","profile_name":"Corp","ruleset_id":"strict","serial_number":"R58M1234","source":"csv","tags":["floor-2","alpha"],"updated_at":"2023-11-14T22:13:30.000Z","user_conflict":{"at":"2023-11-14T22:13:29.000Z","by":"administrator","deployment_user_id":"usr_2","position":"9","user_id":""},"user_id":"usr_3"})");
  EXPECT_EQ(Row("kme_versions", kDevice), "9");  // the device/ stream is not the KME stream
}

TEST_F(KmeProjectorTest, AnUpdateRewritesTheAttributesAndReindexes) {
  Apply(kStream, Imported(v1::KME_SOURCE_KNOX_DEPLOYMENT, "usr_1"), 1);
  EXPECT_EQ(Row("kme_devices", kDevice),
            R"({"attributes":{"cost_center":"42","site":"Berlin"},"created_at":"2023-11-14T22:13:21.000Z","id":"imei:35000000000001","imei":"350000000000011","imei2":"350000000000029","knox_status":"Uploaded","last_position":"1","model":"Galaxy A54","profile_name":"Corp","serial_number":"R58M1234","source":"knox_deployment","tags":["floor-2","alpha"],"updated_at":"2023-11-14T22:13:21.000Z","user_by_deployment":true,"user_id":"usr_1"})");
  events::Envelope updated;
  auto* u = updated.mutable_kme_device_updated();
  u->set_device_id(kDevice);
  u->mutable_identifiers()->set_imei("350000000000011");
  u->mutable_identifiers()->set_meid("A0000012345678");
  u->set_model("Galaxy A55");
  u->set_source(v1::KME_SOURCE_KNOX_API);
  Apply(kStream, updated, 2);
  EXPECT_EQ(Row("kme_devices", kDevice),
            R"({"created_at":"2023-11-14T22:13:21.000Z","id":"imei:35000000000001","imei":"350000000000011","last_position":"2","meid":"A0000012345678","model":"Galaxy A55","source":"knox_deployment","updated_at":"2023-11-14T22:13:22.000Z","user_by_deployment":true,"user_id":"usr_1"})");
  EXPECT_EQ(Row("kme_ids", "imei:35000000000001"), kDevice);
  EXPECT_EQ(Row("kme_ids", "imei:35000000000002"), "<none>");
  EXPECT_EQ(Row("kme_ids", "serial:R58M1234"), "<none>");
  EXPECT_EQ(Row("kme_ids", "meid:A0000012345678"), kDevice);

  // An administrator's assignment of the same user is no longer the App's.
  events::Envelope same;
  same.mutable_device_user_assigned()->set_device_id(kDevice);
  same.mutable_device_user_assigned()->set_user_id("usr_1");
  same.mutable_actor()->set_kind(v1::Actor::KIND_USER);
  Apply(kStream, same, 3);
  EXPECT_EQ(Row("kme_devices", kDevice),
            R"({"created_at":"2023-11-14T22:13:21.000Z","id":"imei:35000000000001","imei":"350000000000011","last_position":"3","meid":"A0000012345678","model":"Galaxy A55","source":"knox_deployment","updated_at":"2023-11-14T22:13:23.000Z","user_id":"usr_1"})");
  events::Envelope unassigned;
  unassigned.mutable_device_user_assigned()->set_device_id(kDevice);
  Apply(kStream, unassigned, 4);
  EXPECT_EQ(Row("kme_devices", kDevice),
            R"({"created_at":"2023-11-14T22:13:21.000Z","id":"imei:35000000000001","imei":"350000000000011","last_position":"4","meid":"A0000012345678","model":"Galaxy A55","source":"knox_deployment","updated_at":"2023-11-14T22:13:24.000Z"})");
  EXPECT_EQ(Row("kme_by_user", std::string("usr_1/") + kDevice), "<none>");
}

TEST_F(KmeProjectorTest, ADeviceWithoutSourceOrUserKeepsAnEmptySource) {
  events::Envelope e;
  auto* p = e.mutable_kme_device_imported();
  p->mutable_identifiers()->set_serial_number("R58M0001");
  Apply("kme-device/sn:R58M0001", e, 1);
  EXPECT_EQ(Row("kme_devices", "sn:R58M0001"),
            R"({"created_at":"2023-11-14T22:13:21.000Z","id":"sn:R58M0001","last_position":"1","serial_number":"R58M0001","source":"","updated_at":"2023-11-14T22:13:21.000Z"})");
  // Events before the record, or of another platform, write no record.
  events::Envelope refused;
  refused.mutable_kme_enrollment_refused();
  Apply("kme-device/sn:R58M0002", refused, 1);
  EXPECT_EQ(Row("kme_devices", "sn:R58M0002"), "<none>");
  EXPECT_EQ(Row("kme_versions", "sn:R58M0002"), "1");
  events::Envelope apple;
  apple.mutable_device_enrolled()->set_device_id("sn:R58M0001");
  apple.mutable_device_enrolled()->set_platform(v1::PLATFORM_APPLE);
  Apply("device/sn:R58M0001", apple, 1);
  EXPECT_EQ(Row("kme_devices", "sn:R58M0001").find("enrolled"), std::string::npos);
}

TEST_F(KmeProjectorTest, SettingsRecordBytesForTheTokenAndTheKnoxConnection) {
  events::Envelope token;
  token.mutable_kme_enrollment_token_rotated()->set_token_sha256(std::string("\x01\xab\xff", 3));
  token.mutable_kme_enrollment_token_rotated()->set_secret_ref("kme/enrollment-token/01abff");
  Apply("kme-settings/default", token, 1);
  EXPECT_EQ(Row("kme_settings", "enrollment_token"),
            R"({"last_position":"1","rotated_at":"2023-11-14T22:13:21.000Z","secret_ref":"kme/enrollment-token/01abff","token_sha256":"01abff"})");

  events::Envelope connected;
  auto* c = connected.mutable_kme_knox_connected();
  c->set_connection_id("c1");
  c->set_base_url("http://127.0.0.1:9100");
  c->set_token_url("http://127.0.0.1:9100/ams/v1/oauth2/token");
  c->set_client_id("kme-app-1");
  c->set_customer_id("1000000001");
  c->set_auto_approve_uploads(true);
  c->set_client_secret_ref("kme/knox/client_secret/0123456789abcdef");
  c->set_client_secret_sha256(std::string(2, '\x01'));
  Apply("kme-knox/default", connected, 1);
  EXPECT_EQ(Row("kme_settings", "knox"),
            R"({"auto_approve_uploads":true,"base_url":"http://127.0.0.1:9100","client_id":"kme-app-1","client_secret_ref":"kme/knox/client_secret/0123456789abcdef","client_secret_sha256":"0101","configured":true,"connected_at":"2023-11-14T22:13:22.000Z","connection_id":"c1","customer_id":"1000000001","last_position":"2","state":"never_synced","token_url":"http://127.0.0.1:9100/ams/v1/oauth2/token"})");

  events::Envelope full;
  auto* s = full.mutable_kme_sync_completed();
  s->set_sync_id("s1");
  s->set_connection_id("c1");
  *s->mutable_started_at() = At(kT0 + 500);
  s->set_full(true);
  s->set_devices_seen(7);
  s->set_events_written(6);
  s->set_created(5);
  s->set_updated(1);
  s->set_unchanged(1);
  s->set_rejected(1);
  s->set_users_matched(2);
  s->set_uploads_approved(1);
  s->set_connection_state("ok");
  auto* x = s->add_errors();
  x->set_code("kme.no_identifier");
  x->set_message("Knox device 42: no IMEI, MEID or serial number");
  x->set_knox_device_id("42");
  auto* y = s->add_errors();
  y->set_code("kme.bad_identifier");
  y->set_message("line 9: imei");
  y->set_line(9);
  Apply("kme-knox/default", full, 2);
  EXPECT_EQ(Row("kme_settings", "knox"),
            R"({"auto_approve_uploads":true,"base_url":"http://127.0.0.1:9100","client_id":"kme-app-1","client_secret_ref":"kme/knox/client_secret/0123456789abcdef","client_secret_sha256":"0101","configured":true,"connected_at":"2023-11-14T22:13:22.000Z","connection_id":"c1","customer_id":"1000000001","last_position":"3","last_success_at":"2023-11-14T22:13:20.500Z","last_sync":{"at":"2023-11-14T22:13:23.000Z","created":5,"devices_seen":7,"errors":[{"code":"kme.no_identifier","knox_device_id":"42","message":"Knox device 42: no IMEI, MEID or serial number"},{"code":"kme.bad_identifier","line":9,"message":"line 9: imei"}],"events_written":6,"full":true,"rejected":1,"started_at":"2023-11-14T22:13:20.500Z","sync_id":"s1","unchanged":1,"updated":1,"uploads_approved":1,"users_matched":2},"state":"ok","token_url":"http://127.0.0.1:9100/ams/v1/oauth2/token"})");

  events::Envelope failed;
  auto* f = failed.mutable_kme_sync_completed();
  f->set_sync_id("s2");
  f->set_connection_id("c1");
  *f->mutable_started_at() = At(kT0 + 3500);
  *f->mutable_changed_after() = At(kT0 + 500);
  f->set_error("knox.unauthorized");
  f->set_error_message("the token was refused");
  Apply("kme-knox/default", failed, 3);
  EXPECT_EQ(Row("kme_settings", "knox"),
            R"({"auto_approve_uploads":true,"base_url":"http://127.0.0.1:9100","client_id":"kme-app-1","client_secret_ref":"kme/knox/client_secret/0123456789abcdef","client_secret_sha256":"0101","configured":true,"connected_at":"2023-11-14T22:13:22.000Z","connection_id":"c1","customer_id":"1000000001","last_position":"4","last_success_at":"2023-11-14T22:13:20.500Z","last_sync":{"at":"2023-11-14T22:13:24.000Z","changed_after":"2023-11-14T22:13:20.500Z","created":0,"devices_seen":0,"error":{"code":"knox.unauthorized","message":"the token was refused"},"events_written":0,"full":false,"rejected":0,"started_at":"2023-11-14T22:13:23.500Z","sync_id":"s2","unchanged":0,"updated":0,"uploads_approved":0,"users_matched":0},"state":"ok","token_url":"http://127.0.0.1:9100/ams/v1/oauth2/token"})");

  events::Envelope other;  // another connection's disconnect changes nothing
  other.mutable_kme_knox_disconnected()->set_connection_id("c0");
  Apply("kme-knox/default", other, 4);
  EXPECT_NE(Row("kme_settings", "knox").find(R"("last_position":"4")"), std::string::npos);
  events::Envelope disconnected;
  disconnected.mutable_kme_knox_disconnected()->set_connection_id("c1");
  Apply("kme-knox/default", disconnected, 5);
  EXPECT_EQ(Row("kme_settings", "knox"),
            R"({"configured":false,"disconnected_at":"2023-11-14T22:13:26.000Z","last_position":"6"})");
  Apply("kme-knox/default", full, 6);  // a sync after the disconnect changes nothing
  EXPECT_EQ(Row("kme_settings", "knox"),
            R"({"configured":false,"disconnected_at":"2023-11-14T22:13:26.000Z","last_position":"6"})");
}

}  // namespace
}  // namespace ae::proj
