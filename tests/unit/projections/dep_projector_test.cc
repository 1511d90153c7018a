// DepProjector: the exact bytes of every DEP view record after each kind of event (a
// rebuilt view must equal a live one byte for byte, and older views must keep reading).

#include <google/protobuf/util/time_util.h>

#include "projections/dep_projector.h"
#include "tests/support/test_support.h"

namespace ae::proj {
namespace {

using google::protobuf::util::TimeUtil;
using ::ae::testing::TempDir;
namespace pb = autoenroll::events::v1;

constexpr int64_t kT0 = 1'700'000'000'000;

class DepProjectorTest : public ::testing::Test {
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
    *e.mutable_recorded_at() = TimeUtil::MillisecondsToTimestamp(kT0 + n_ * 1000 + 5);
    RecordedEvent r;
    r.position = LogPosition{0, static_cast<int64_t>(n_)};
    r.envelope = std::move(e);
    ASSERT_THAT(projector_.Apply(r, *batch_), IsOk());
  }
  std::string Row(const std::string& cf, const std::string& key) {
    auto raw = batch_->Get(cf, key);
    EXPECT_THAT(raw, IsOk());
    if (!raw.ok() || !*raw) return "";
    return **raw;
  }
  static google::protobuf::Timestamp At(int64_t ms) {
    return TimeUtil::MillisecondsToTimestamp(ms);
  }

  void DefineAccount() {
    events::Envelope created;
    auto* c = created.mutable_dep_account_created();
    c->set_account_id("acc_1");
    c->set_name("Main");
    c->set_certificate_pem("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    c->set_public_key_sha256(std::string("\x01\xab\xff", 3));
    Apply("dep-account/acc_1", created);
  }
  void Synced(const std::string& serial) {
    events::Envelope e;
    auto* p = e.mutable_dep_device_synced();
    p->set_serial_number(serial);
    p->set_account_id("acc_1");
    p->set_model("iPad Pro");
    p->set_description("IPAD PRO 11");
    p->set_color("space gray");
    p->set_asset_tag("A-1");
    p->set_os("iPadOS");
    p->set_device_family("iPad");
    *p->mutable_device_assigned_date() = At(kT0 - 86'400'000);
    p->set_device_assigned_by("sub-7");
    Apply("dep-device/" + serial, e);
  }

  TempDir dir_;
  DepProjector projector_;
  std::unique_ptr<ViewStore> views_;
  std::unique_ptr<ViewBatch> batch_;
  int64_t n_ = 0;
};

TEST_F(DepProjectorTest, AccountRecordBytesThroughTokenDetailsAndSyncs) {
  DefineAccount();
  EXPECT_EQ(Row("dep_accounts", "acc_1"),
            R"({"certificate_pem":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n","created_at":"2023-11-14T22:13:21.000Z","cursor_at":null,"id":"acc_1","last_position":"1","last_sync_at":null,"last_sync_error":null,"name":"Main","org_address":"","org_email":"","org_id":"","org_name":"","org_phone":"","public_key_sha256":"01abff","server_name":"","server_uuid":"","state":"awaiting_token","state_reason":"","sync":null,"token_expires_at":null,"token_fingerprint":null,"updated_at":"2023-11-14T22:13:21.000Z"})");

  events::Envelope token;
  token.mutable_dep_token_uploaded()->set_token_sha256(std::string(32, '\x5a'));
  *token.mutable_dep_token_uploaded()->mutable_access_token_expiry() = At(kT0 + 3'600'000);
  Apply("dep-account/acc_1", token);
  events::Envelope state;
  state.mutable_dep_account_state_changed()->set_state(pb::DEP_ACCOUNT_STATE_ACTIVE);
  state.mutable_dep_account_state_changed()->set_reason("token accepted");
  Apply("dep-account/acc_1", state);
  events::Envelope details;
  auto* d = details.mutable_dep_account_details_synced();
  d->set_server_name("MDM");
  d->set_server_uuid("u-1");
  d->set_org_name("Example");
  d->set_org_email("it@example.com");
  d->set_org_phone("+1 555");
  d->set_org_address("1 Main St");
  d->set_org_id("o-1");
  d->set_org_type("edu");
  d->set_org_version("v2");
  d->set_admin_id("admin-1");
  d->set_facilitator_id("f-1");
  Apply("dep-account/acc_1", details);
  events::Envelope started;
  started.mutable_dep_sync_started()->set_sync_id("s1");
  started.mutable_dep_sync_started()->set_mode("fetch");
  Apply("dep-account/acc_1", started);
  events::Envelope progressed;
  progressed.mutable_dep_sync_progressed()->set_pages(2);
  progressed.mutable_dep_sync_progressed()->set_devices_seen(150);
  progressed.mutable_dep_sync_progressed()->set_events_written(12);
  Apply("dep-account/acc_1", progressed);
  events::Envelope completed;
  completed.mutable_dep_sync_completed()->set_devices_seen(151);
  completed.mutable_dep_sync_completed()->set_events_written(13);
  Apply("dep-account/acc_1", completed);
  EXPECT_EQ(Row("dep_accounts", "acc_1"),
            R"({"admin_id":"admin-1","certificate_pem":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n","created_at":"2023-11-14T22:13:21.000Z","cursor_at":"2023-11-14T22:13:27.000Z","facilitator_id":"f-1","id":"acc_1","last_position":"7","last_sync_at":"2023-11-14T22:13:27.000Z","last_sync_error":null,"name":"Main","org_address":"1 Main St","org_email":"it@example.com","org_id":"o-1","org_name":"Example","org_phone":"+1 555","org_type":"edu","org_version":"v2","public_key_sha256":"01abff","server_name":"MDM","server_uuid":"u-1","state":"active","state_reason":"token accepted","sync":{"completed_at":"2023-11-14T22:13:27.000Z","devices_seen":151,"events_written":13,"id":"s1","mode":"fetch","pages":2,"running":false,"started_at":"2023-11-14T22:13:25.000Z"},"token_expires_at":"2023-11-14T23:13:20.000Z","token_fingerprint":"5a5a5a5a5a5a5a5a","updated_at":"2023-11-14T22:13:27.000Z"})");

  // A new sync replaces the last one's progress; a failure keeps the last success.
  started.mutable_dep_sync_started()->set_sync_id("s2");
  started.mutable_dep_sync_started()->set_mode("sync");
  Apply("dep-account/acc_1", started);
  events::Envelope failed;
  failed.mutable_dep_sync_failed()->set_code("dep.unavailable");
  failed.mutable_dep_sync_failed()->set_message("Apple answered 503");
  Apply("dep-account/acc_1", failed);
  EXPECT_EQ(Row("dep_accounts", "acc_1"),
            R"({"admin_id":"admin-1","certificate_pem":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n","created_at":"2023-11-14T22:13:21.000Z","cursor_at":"2023-11-14T22:13:27.000Z","facilitator_id":"f-1","id":"acc_1","last_position":"9","last_sync_at":"2023-11-14T22:13:27.000Z","last_sync_error":{"at":"2023-11-14T22:13:29.000Z","code":"dep.unavailable","message":"Apple answered 503"},"name":"Main","org_address":"1 Main St","org_email":"it@example.com","org_id":"o-1","org_name":"Example","org_phone":"+1 555","org_type":"edu","org_version":"v2","public_key_sha256":"01abff","server_name":"MDM","server_uuid":"u-1","state":"active","state_reason":"token accepted","sync":{"devices_seen":0,"events_written":0,"id":"s2","mode":"sync","pages":0,"running":false,"started_at":"2023-11-14T22:13:28.000Z"},"token_expires_at":"2023-11-14T23:13:20.000Z","token_fingerprint":"5a5a5a5a5a5a5a5a","updated_at":"2023-11-14T22:13:29.000Z"})");
}

TEST_F(DepProjectorTest, AccountSyncEventsWithoutAStartedSyncKeepOnlyWhatTheyCarry) {
  DefineAccount();
  events::Envelope failed;
  failed.mutable_dep_sync_failed()->set_code("dep.auth");
  Apply("dep-account/acc_1", failed);
  events::Envelope progressed;
  progressed.mutable_dep_sync_progressed()->set_pages(1);
  Apply("dep-account/acc_1", progressed);
  EXPECT_EQ(Row("dep_accounts", "acc_1"),
            R"({"certificate_pem":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n","created_at":"2023-11-14T22:13:21.000Z","cursor_at":"2023-11-14T22:13:23.000Z","id":"acc_1","last_position":"3","last_sync_at":null,"last_sync_error":{"at":"2023-11-14T22:13:22.000Z","code":"dep.auth","message":""},"name":"Main","org_address":"","org_email":"","org_id":"","org_name":"","org_phone":"","public_key_sha256":"01abff","server_name":"","server_uuid":"","state":"awaiting_token","state_reason":"","sync":{"devices_seen":0,"events_written":0,"pages":1,"running":false},"token_expires_at":null,"token_fingerprint":null,"updated_at":"2023-11-14T22:13:23.000Z"})");
  // Events of an account the view does not have write nothing.
  Apply("dep-account/acc_9", failed);
  EXPECT_EQ(Row("dep_accounts", "acc_9"), "");
}

TEST_F(DepProjectorTest, ProfileRecordBytesWhenAppleDefinesOrRefusesIt) {
  events::Envelope defined;
  auto* p = defined.mutable_dep_profile_defined();
  p->set_profile_id("prof_1");
  p->set_account_id("acc_1");
  p->set_profile_name("Staff");
  p->set_url("https://mdm.example.com/enroll/apple");
  p->set_is_mandatory(true);
  p->set_is_supervised(true);
  p->set_await_device_configured(true);
  p->add_skip_setup_items("Location");
  p->add_skip_setup_items("Siri");
  p->set_support_phone_number("+1 555");
  p->set_department("IT");
  p->set_language("en");
  p->add_anchor_certs("QUJD");
  p->set_auto_advance_setup(true);
  Apply("dep-profile/prof_1", defined);
  EXPECT_EQ(Row("dep_profiles", "prof_1"),
            R"({"account_id":"acc_1","allow_pairing":false,"anchor_certs":["QUJD"],"auto_advance_setup":true,"await_device_configured":true,"configuration_web_url":"","created_at":"2023-11-14T22:13:21.000Z","department":"IT","do_not_use_profile_from_backup":false,"error":null,"id":"prof_1","is_mandatory":true,"is_mdm_removable":false,"is_multi_user":false,"is_supervised":true,"language":"en","last_position":"1","org_magic":"","profile_name":"Staff","profile_uuid":"","region":"","skip_setup_items":["Location","Siri"],"state":"pending","supervising_host_certs":[],"support_email_address":"","support_phone_number":"+1 555","updated_at":"2023-11-14T22:13:21.000Z","url":"https://mdm.example.com/enroll/apple"})");

  events::Envelope refused;
  refused.mutable_dep_profile_definition_failed()->set_code("dep.bad_profile");
  refused.mutable_dep_profile_definition_failed()->set_message("url is not https");
  Apply("dep-profile/prof_1", refused);
  EXPECT_EQ(Row("dep_profiles", "prof_1"),
            R"({"account_id":"acc_1","allow_pairing":false,"anchor_certs":["QUJD"],"auto_advance_setup":true,"await_device_configured":true,"configuration_web_url":"","created_at":"2023-11-14T22:13:21.000Z","department":"IT","do_not_use_profile_from_backup":false,"error":{"code":"dep.bad_profile","message":"url is not https"},"id":"prof_1","is_mandatory":true,"is_mdm_removable":false,"is_multi_user":false,"is_supervised":true,"language":"en","last_position":"2","org_magic":"","profile_name":"Staff","profile_uuid":"","region":"","skip_setup_items":["Location","Siri"],"state":"failed","supervising_host_certs":[],"support_email_address":"","support_phone_number":"+1 555","updated_at":"2023-11-14T22:13:22.000Z","url":"https://mdm.example.com/enroll/apple"})");

  events::Envelope accepted;
  accepted.mutable_dep_profile_defined_at_apple()->set_profile_uuid("UUID-1");
  Apply("dep-profile/prof_1", accepted);
  EXPECT_EQ(Row("dep_profiles", "prof_1"),
            R"({"account_id":"acc_1","allow_pairing":false,"anchor_certs":["QUJD"],"auto_advance_setup":true,"await_device_configured":true,"configuration_web_url":"","created_at":"2023-11-14T22:13:21.000Z","department":"IT","do_not_use_profile_from_backup":false,"error":null,"id":"prof_1","is_mandatory":true,"is_mdm_removable":false,"is_multi_user":false,"is_supervised":true,"language":"en","last_position":"3","org_magic":"","profile_name":"Staff","profile_uuid":"UUID-1","region":"","skip_setup_items":["Location","Siri"],"state":"defined","supervising_host_certs":[],"support_email_address":"","support_phone_number":"+1 555","updated_at":"2023-11-14T22:13:23.000Z","url":"https://mdm.example.com/enroll/apple"})");
}

TEST_F(DepProjectorTest, DeviceRecordBytesThroughAssignmentFailureRetryAndSuccess) {
  Synced("C02AAA");
  EXPECT_EQ(Row("dep_devices", "C02AAA"),
            R"({"account_id":"acc_1","asset_tag":"A-1","assigned_to_server":true,"color":"space gray","created_at":"2023-11-14T22:13:21.000Z","description":"IPAD PRO 11","device_assigned_by":"sub-7","device_assigned_date":"2023-11-13T22:13:20.000Z","device_family":"iPad","disowned":false,"enrollment":"not_enrolled","last_assignment_error":null,"last_position":"1","model":"iPad Pro","os":"iPadOS","pending_request_id":"","policy_id":"","profile_assign_time":null,"profile_id":"","profile_push_time":null,"profile_status":"empty","profile_uuid":"","ruleset_id":"","serial_number":"C02AAA","updated_at":"2023-11-14T22:13:21.000Z","user_id":""})");
  EXPECT_EQ(Row("dep_counts", "acc_1"),
            R"({"assigned":0,"empty":1,"pushed":0,"removed":0,"seq":1,"total":1})");

  events::Envelope requested;
  auto* rq = requested.mutable_dep_profile_assignment_requested();
  rq->set_profile_id("prof_1");
  rq->set_profile_uuid("UUID-1");
  rq->set_request_id("req-1");
  Apply("dep-device/C02AAA", requested);
  events::Envelope failed;
  auto* f = failed.mutable_dep_profile_assignment_failed();
  f->set_profile_id("prof_1");
  f->set_request_id("req-1");
  f->set_reason("THROTTLED");
  *f->mutable_retry_after() = At(kT0 + 60'000);
  Apply("dep-device/C02AAA", failed);
  EXPECT_EQ(Row("dep_retries", "C02AAA"),
            R"({"due":"2023-11-14T22:14:20.000Z","profile_id":"prof_1","profile_uuid":"UUID-1"})");
  EXPECT_EQ(Row("dep_devices", "C02AAA"),
            R"({"account_id":"acc_1","asset_tag":"A-1","assigned_to_server":true,"color":"space gray","created_at":"2023-11-14T22:13:21.000Z","description":"IPAD PRO 11","device_assigned_by":"sub-7","device_assigned_date":"2023-11-13T22:13:20.000Z","device_family":"iPad","disowned":false,"enrollment":"not_enrolled","last_assignment_error":{"at":"2023-11-14T22:13:23.000Z","profile_id":"prof_1","reason":"THROTTLED","request_id":"req-1","retry_after":"2023-11-14T22:14:20.000Z"},"last_position":"3","model":"iPad Pro","os":"iPadOS","pending_request_id":"","policy_id":"","profile_assign_time":null,"profile_id":"prof_1","profile_push_time":null,"profile_status":"empty","profile_uuid":"","requested_profile_uuid":"UUID-1","ruleset_id":"","serial_number":"C02AAA","updated_at":"2023-11-14T22:13:23.000Z","user_id":""})");

  rq->set_request_id("req-2");
  Apply("dep-device/C02AAA", requested);
  EXPECT_EQ(Row("dep_retries", "C02AAA"), "");
  events::Envelope assigned;
  assigned.mutable_dep_profile_assigned()->set_profile_id("prof_1");
  assigned.mutable_dep_profile_assigned()->set_profile_uuid("UUID-1");
  assigned.mutable_dep_profile_assigned()->set_request_id("req-2");
  Apply("dep-device/C02AAA", assigned);
  events::Envelope status;
  auto* s = status.mutable_dep_profile_status_changed();
  s->set_serial_number("C02AAA");
  s->set_status(pb::DEP_PROFILE_STATUS_PUSHED);
  s->set_profile_uuid("UUID-1");
  *s->mutable_profile_assign_time() = At(kT0 + 4000);
  *s->mutable_profile_push_time() = At(kT0 + 5500);
  Apply("dep-device/C02AAA", status);
  EXPECT_EQ(Row("dep_devices", "C02AAA"),
            R"({"account_id":"acc_1","asset_tag":"A-1","assigned_to_server":true,"color":"space gray","created_at":"2023-11-14T22:13:21.000Z","description":"IPAD PRO 11","device_assigned_by":"sub-7","device_assigned_date":"2023-11-13T22:13:20.000Z","device_family":"iPad","disowned":false,"enrollment":"not_enrolled","last_assignment_error":null,"last_position":"6","model":"iPad Pro","os":"iPadOS","pending_request_id":"","policy_id":"","profile_assign_time":"2023-11-14T22:13:24.000Z","profile_id":"prof_1","profile_push_time":"2023-11-14T22:13:25.500Z","profile_status":"pushed","profile_uuid":"UUID-1","requested_profile_uuid":"UUID-1","ruleset_id":"","serial_number":"C02AAA","updated_at":"2023-11-14T22:13:26.000Z","user_id":""})");
  EXPECT_EQ(Row("dep_counts", "acc_1"),
            R"({"assigned":0,"empty":0,"pushed":1,"removed":0,"seq":3,"total":1})");
  EXPECT_EQ(Row("dep_counts_history", DepCountsHistoryKey("acc_1", 2)),
            R"({"assigned":1,"empty":0,"position":"5","pushed":0,"recorded_ms":1700000005005,"removed":0,"total":1})");
}

TEST_F(DepProjectorTest, DeviceRecordBytesThroughAssignmentsEnrollmentRemovalAndDisown) {
  Synced("C02BBB");
  events::Envelope user;
  user.mutable_device_user_assigned()->set_user_id("usr_1");
  Apply("dep-device/C02BBB", user);
  events::Envelope policy;
  policy.mutable_device_policy_assigned()->set_policy_id("pol_1");
  Apply("dep-device/C02BBB", policy);
  events::Envelope ruleset;
  ruleset.mutable_device_ruleset_assigned()->set_ruleset_id("rs_1");
  Apply("dep-device/C02BBB", ruleset);
  Apply("kme-device/C02BBB", user);  // another source's device: not this view's
  events::Envelope enrolled;
  enrolled.mutable_device_enrolled()->set_platform(pb::PLATFORM_APPLE);
  enrolled.mutable_device_enrolled()->set_serial_number("C02BBB");
  Apply("device/C02BBB", enrolled);
  events::Envelope refused;
  refused.mutable_dep_enrollment_refused()->set_reason("enroll.not_assigned");
  Apply("dep-device/C02BBB", refused);
  events::Envelope checked_out;
  checked_out.mutable_device_checked_out()->set_device_id("C02BBB");
  Apply("device/C02BBB", checked_out);
  events::Envelope removal;
  removal.mutable_dep_profile_removal_requested()->set_request_id("rm-1");
  Apply("dep-device/C02BBB", removal);
  EXPECT_EQ(Row("dep_devices", "C02BBB"),
            R"({"account_id":"acc_1","asset_tag":"A-1","assigned_to_server":true,"color":"space gray","created_at":"2023-11-14T22:13:21.000Z","description":"IPAD PRO 11","device_assigned_by":"sub-7","device_assigned_date":"2023-11-13T22:13:20.000Z","device_family":"iPad","disowned":false,"enrolled_at":"2023-11-14T22:13:26.000Z","enrollment":"not_enrolled","last_assignment_error":null,"last_enrollment_refusal":{"at":"2023-11-14T22:13:27.000Z","reason":"enroll.not_assigned"},"last_position":"9","model":"iPad Pro","os":"iPadOS","pending_request_id":"","policy_id":"pol_1","profile_assign_time":null,"profile_id":"","profile_push_time":null,"profile_status":"empty","profile_uuid":"","removal_request_id":"rm-1","ruleset_id":"rs_1","serial_number":"C02BBB","updated_at":"2023-11-14T22:13:29.000Z","user_id":"usr_1"})");

  events::Envelope removed;
  removed.mutable_dep_profile_removed()->set_request_id("rm-1");
  Apply("dep-device/C02BBB", removed);
  events::Envelope disown;
  disown.mutable_dep_device_disown_requested()->set_request_id("do-1");
  disown.mutable_dep_device_disown_requested()->set_requested_by("usr_admin");
  Apply("dep-device/C02BBB", disown);
  events::Envelope disowned;
  disowned.mutable_dep_device_disowned()->set_result("SUCCESS");
  Apply("dep-device/C02BBB", disowned);
  EXPECT_EQ(Row("dep_devices", "C02BBB"),
            R"({"account_id":"acc_1","asset_tag":"A-1","assigned_to_server":false,"color":"space gray","created_at":"2023-11-14T22:13:21.000Z","description":"IPAD PRO 11","device_assigned_by":"sub-7","device_assigned_date":"2023-11-13T22:13:20.000Z","device_family":"iPad","disown":{"request_id":"do-1","requested_at":"2023-11-14T22:13:31.000Z","requested_by":"usr_admin","result":"SUCCESS"},"disowned":true,"enrolled_at":"2023-11-14T22:13:26.000Z","enrollment":"not_enrolled","last_assignment_error":null,"last_enrollment_refusal":{"at":"2023-11-14T22:13:27.000Z","reason":"enroll.not_assigned"},"last_position":"12","model":"iPad Pro","os":"iPadOS","pending_request_id":"","policy_id":"pol_1","profile_assign_time":null,"profile_id":"","profile_push_time":null,"profile_status":"removed","profile_uuid":"","removal_request_id":"","ruleset_id":"rs_1","serial_number":"C02BBB","updated_at":"2023-11-14T22:13:32.000Z","user_id":"usr_1"})");
  // Released from the server: no longer counted on the account.
  EXPECT_EQ(Row("dep_counts", "acc_1"),
            R"({"assigned":0,"empty":0,"pushed":0,"removed":0,"seq":3,"total":0})");
}

TEST_F(DepProjectorTest, DeviceRecordBytesForAStatusBeforeSyncAndADisownWithoutRequest) {
  events::Envelope status;
  status.mutable_dep_profile_status_changed()->set_serial_number("C02CCC");
  status.mutable_dep_profile_status_changed()->set_status(pb::DEP_PROFILE_STATUS_ASSIGNED);
  Apply("dep-device/C02CCC", status);
  events::Envelope disowned;
  disowned.mutable_dep_device_disowned()->set_result("NOT_ACCESSIBLE");
  Apply("dep-device/C02CCC", disowned);
  EXPECT_EQ(Row("dep_devices", "C02CCC"),
            R"({"account_id":"","asset_tag":"","assigned_to_server":false,"color":"","created_at":"2023-11-14T22:13:21.000Z","description":"","device_assigned_by":"","device_assigned_date":null,"device_family":"","disown":null,"disowned":true,"enrollment":"not_enrolled","last_assignment_error":null,"last_position":"2","model":"","os":"","pending_request_id":"","policy_id":"","profile_assign_time":null,"profile_id":"","profile_push_time":null,"profile_status":"assigned","profile_uuid":"","ruleset_id":"","serial_number":"C02CCC","updated_at":"2023-11-14T22:13:22.000Z","user_id":""})");
  Synced("C02CCC");
  events::Envelope unassigned;
  unassigned.mutable_dep_device_unassigned()->set_serial_number("C02CCC");
  Apply("dep-device/C02CCC", unassigned);
  EXPECT_EQ(Row("dep_counts", "acc_1"),
            R"({"assigned":0,"empty":0,"pushed":0,"removed":0,"seq":2,"total":0})");
}

}  // namespace
}  // namespace ae::proj
