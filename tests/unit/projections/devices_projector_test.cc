// DevicesProjector: the exact bytes of every devices-view record (devices, mdm_udids,
// mdm_queue, mdm_identities) after each kind of event (a rebuilt view must equal a live
// one byte for byte, and older views must keep reading).

#include <google/protobuf/util/time_util.h>

#include "projections/devices_projector.h"
#include "tests/support/test_support.h"

namespace ae::proj {
namespace {

using google::protobuf::util::TimeUtil;
using ::ae::testing::TempDir;
namespace pb = autoenroll::events::v1;

constexpr int64_t kT0 = 1'700'000'000'000;

class DevicesProjectorTest : public ::testing::Test {
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

  // Applies `e` on `stream` as the next event of the log (and of its stream), one second
  // after the last.
  void Apply(const std::string& stream, events::Envelope e) {
    ++n_;
    e.set_stream(stream);
    e.set_stream_version(static_cast<uint64_t>(n_));
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
  static std::string QueueKey(const std::string& device_id, const char* version12) {
    return MdmQueuePrefix(device_id) + version12;
  }

  void Enrolled(const std::string& serial, const std::string& udid) {
    events::Envelope e;
    auto* p = e.mutable_device_enrolled();
    p->set_device_id(serial);
    p->set_platform(pb::PLATFORM_APPLE);
    p->set_serial_number(serial);
    p->set_udid(udid);
    p->set_model("iPad Pro");
    p->set_os_version("17.1");
    p->set_user_id("usr_1");
    p->set_policy_id("pol_1");
    p->set_ruleset_id("rs_1");
    p->set_push_topic("com.apple.mgmt.External.abc");
    p->set_push_token_sha256(std::string(32, '\x11'));
    Apply("device/" + serial, e);
  }
  void Queued(const std::string& serial, const std::string& uuid, const std::string& type,
              const std::string& manifest_url = "") {
    events::Envelope e;
    auto* p = e.mutable_device_command_queued();
    p->set_command_uuid(uuid);
    p->set_request_type(type);
    p->set_manifest_url(manifest_url);
    Apply("device/" + serial, e);
  }
  void Completed(const std::string& serial, const std::string& uuid, const std::string& status,
                 const std::string& error = "") {
    events::Envelope e;
    auto* p = e.mutable_device_command_completed();
    p->set_command_uuid(uuid);
    p->set_status(status);
    p->set_error(error);
    Apply("device/" + serial, e);
  }
  void Issued(const std::string& serial, const std::string& cert) {
    events::Envelope e;
    auto* p = e.mutable_device_identity_issued();
    p->set_certificate_sha256(cert);
    p->set_udid("UDID-" + serial);
    p->set_signer_sha256("5151");
    Apply("device/" + serial, e);
  }
  void Revoked(const std::string& serial, const std::string& cert, const std::string& reason) {
    events::Envelope e;
    auto* p = e.mutable_device_identity_revoked();
    p->set_certificate_sha256(cert);
    p->set_reason(reason);
    Apply("device/" + serial, e);
  }

  TempDir dir_;
  DevicesProjector projector_;
  std::unique_ptr<ViewStore> views_;
  std::unique_ptr<ViewBatch> batch_;
  int64_t n_ = 0;
};

TEST_F(DevicesProjectorTest, InventoryRecordBytesThroughCheckInCommandsAndCheckOut) {
  Enrolled("C02AAA", "UDID-1");
  EXPECT_EQ(Row("devices", "C02AAA"),
            R"({"configured":false,"enrolled_at":"2023-11-14T22:13:21.000Z","id":"C02AAA","imei":"","last_message_type":"","last_position":"1","last_seen_at":"2023-11-14T22:13:21.000Z","model":"iPad Pro","os_version":"17.1","pending_commands":{},"platform":"apple","policy_id":"pol_1","push_topic":"com.apple.mgmt.External.abc","ruleset_id":"rs_1","serial_number":"C02AAA","status":"enrolled","udid":"UDID-1","updated_at":"2023-11-14T22:13:21.000Z","user_id":"usr_1"})");
  EXPECT_EQ(Row("mdm_udids", "UDID-1"), "C02AAA");

  events::Envelope checked_in;
  checked_in.mutable_device_checked_in()->set_message_type("TokenUpdate");
  Apply("device/C02AAA", checked_in);
  EXPECT_EQ(Row("devices", "C02AAA"),
            R"({"configured":false,"enrolled_at":"2023-11-14T22:13:21.000Z","id":"C02AAA","imei":"","last_message_type":"TokenUpdate","last_position":"2","last_seen_at":"2023-11-14T22:13:22.000Z","model":"iPad Pro","os_version":"17.1","pending_commands":{},"platform":"apple","policy_id":"pol_1","push_topic":"com.apple.mgmt.External.abc","ruleset_id":"rs_1","serial_number":"C02AAA","status":"enrolled","udid":"UDID-1","updated_at":"2023-11-14T22:13:22.000Z","user_id":"usr_1"})");

  Queued("C02AAA", "cmd-1", "InstallApplication", "https://apps.example.com/m.plist");
  Queued("C02AAA", "cmd-2", "DeviceConfigured");
  EXPECT_EQ(Row("devices", "C02AAA"),
            R"({"configured":false,"enrolled_at":"2023-11-14T22:13:21.000Z","id":"C02AAA","imei":"","last_message_type":"TokenUpdate","last_position":"4","last_seen_at":"2023-11-14T22:13:22.000Z","model":"iPad Pro","os_version":"17.1","pending_commands":{"cmd-1":"C02AAA\u001f000000000003","cmd-2":"C02AAA\u001f000000000004"},"platform":"apple","policy_id":"pol_1","push_topic":"com.apple.mgmt.External.abc","ruleset_id":"rs_1","serial_number":"C02AAA","status":"enrolled","udid":"UDID-1","updated_at":"2023-11-14T22:13:24.000Z","user_id":"usr_1"})");
  EXPECT_EQ(Row("mdm_queue", QueueKey("C02AAA", "000000000003")),
            R"({"command_uuid":"cmd-1","manifest_url":"https://apps.example.com/m.plist","request_type":"InstallApplication"})");
  EXPECT_EQ(Row("mdm_queue", QueueKey("C02AAA", "000000000004")),
            R"({"command_uuid":"cmd-2","manifest_url":"","request_type":"DeviceConfigured"})");

  // NotNow keeps the command queued; any other answer takes it off the queue.
  Completed("C02AAA", "cmd-1", "NotNow");
  EXPECT_EQ(Row("devices", "C02AAA"),
            R"({"configured":false,"enrolled_at":"2023-11-14T22:13:21.000Z","id":"C02AAA","imei":"","last_command":{"at":"2023-11-14T22:13:25.000Z","command_uuid":"cmd-1","error":"","status":"NotNow"},"last_message_type":"TokenUpdate","last_position":"5","last_seen_at":"2023-11-14T22:13:25.000Z","model":"iPad Pro","os_version":"17.1","pending_commands":{"cmd-1":"C02AAA\u001f000000000003","cmd-2":"C02AAA\u001f000000000004"},"platform":"apple","policy_id":"pol_1","push_topic":"com.apple.mgmt.External.abc","ruleset_id":"rs_1","serial_number":"C02AAA","status":"enrolled","udid":"UDID-1","updated_at":"2023-11-14T22:13:25.000Z","user_id":"usr_1"})");
  EXPECT_NE(Row("mdm_queue", QueueKey("C02AAA", "000000000003")), "");
  Completed("C02AAA", "cmd-1", "Error", "ManifestURL unreachable");
  EXPECT_EQ(Row("devices", "C02AAA"),
            R"({"configured":false,"enrolled_at":"2023-11-14T22:13:21.000Z","id":"C02AAA","imei":"","last_command":{"at":"2023-11-14T22:13:26.000Z","command_uuid":"cmd-1","error":"ManifestURL unreachable","status":"Error"},"last_message_type":"TokenUpdate","last_position":"6","last_seen_at":"2023-11-14T22:13:26.000Z","model":"iPad Pro","os_version":"17.1","pending_commands":{"cmd-2":"C02AAA\u001f000000000004"},"platform":"apple","policy_id":"pol_1","push_topic":"com.apple.mgmt.External.abc","ruleset_id":"rs_1","serial_number":"C02AAA","status":"enrolled","udid":"UDID-1","updated_at":"2023-11-14T22:13:26.000Z","user_id":"usr_1"})");
  EXPECT_EQ(Row("mdm_queue", QueueKey("C02AAA", "000000000003")), "");

  events::Envelope configured;
  configured.mutable_device_configured();
  Apply("device/C02AAA", configured);
  EXPECT_EQ(Row("devices", "C02AAA"),
            R"({"configured":true,"enrolled_at":"2023-11-14T22:13:21.000Z","id":"C02AAA","imei":"","last_command":{"at":"2023-11-14T22:13:26.000Z","command_uuid":"cmd-1","error":"ManifestURL unreachable","status":"Error"},"last_message_type":"TokenUpdate","last_position":"7","last_seen_at":"2023-11-14T22:13:26.000Z","model":"iPad Pro","os_version":"17.1","pending_commands":{"cmd-2":"C02AAA\u001f000000000004"},"platform":"apple","policy_id":"pol_1","push_topic":"com.apple.mgmt.External.abc","ruleset_id":"rs_1","serial_number":"C02AAA","status":"enrolled","udid":"UDID-1","updated_at":"2023-11-14T22:13:27.000Z","user_id":"usr_1"})");

  // Checking out empties the queue; the record stays.
  events::Envelope checked_out;
  checked_out.mutable_device_checked_out();
  Apply("device/C02AAA", checked_out);
  EXPECT_EQ(Row("devices", "C02AAA"),
            R"({"configured":true,"enrolled_at":"2023-11-14T22:13:21.000Z","id":"C02AAA","imei":"","last_command":{"at":"2023-11-14T22:13:26.000Z","command_uuid":"cmd-1","error":"ManifestURL unreachable","status":"Error"},"last_message_type":"TokenUpdate","last_position":"8","last_seen_at":"2023-11-14T22:13:26.000Z","model":"iPad Pro","os_version":"17.1","pending_commands":{},"platform":"apple","policy_id":"pol_1","push_topic":"com.apple.mgmt.External.abc","ruleset_id":"rs_1","serial_number":"C02AAA","status":"checked_out","udid":"UDID-1","updated_at":"2023-11-14T22:13:28.000Z","user_id":"usr_1"})");
  EXPECT_EQ(Row("mdm_queue", QueueKey("C02AAA", "000000000004")), "");
  EXPECT_EQ(Row("mdm_udids", "UDID-1"), "C02AAA");
}

TEST_F(DevicesProjectorTest, ReEnrollmentStartsAFreshRecordAndRemovalDeletesItsRows) {
  Enrolled("C02AAA", "UDID-1");
  Queued("C02AAA", "cmd-1", "DeviceInformation");
  Completed("C02AAA", "cmd-1", "Acknowledged");
  Queued("C02AAA", "cmd-2", "InstallProfile");
  // Enrolled again with another UDID: the old UDID and the old queue go.
  Enrolled("C02AAA", "UDID-2");
  EXPECT_EQ(Row("devices", "C02AAA"),
            R"({"configured":false,"enrolled_at":"2023-11-14T22:13:25.000Z","id":"C02AAA","imei":"","last_message_type":"","last_position":"5","last_seen_at":"2023-11-14T22:13:25.000Z","model":"iPad Pro","os_version":"17.1","pending_commands":{},"platform":"apple","policy_id":"pol_1","push_topic":"com.apple.mgmt.External.abc","ruleset_id":"rs_1","serial_number":"C02AAA","status":"enrolled","udid":"UDID-2","updated_at":"2023-11-14T22:13:25.000Z","user_id":"usr_1"})");
  EXPECT_EQ(Row("mdm_queue", QueueKey("C02AAA", "000000000004")), "");
  EXPECT_EQ(Row("mdm_udids", "UDID-1"), "");
  EXPECT_EQ(Row("mdm_udids", "UDID-2"), "C02AAA");

  Queued("C02AAA", "cmd-3", "InstallProfile");
  EXPECT_EQ(Row("mdm_queue", QueueKey("C02AAA", "000000000006")),
            R"({"command_uuid":"cmd-3","manifest_url":"","request_type":"InstallProfile"})");
  events::Envelope removed;
  removed.mutable_device_removed_from_inventory();
  Apply("device/C02AAA", removed);
  EXPECT_EQ(Row("devices", "C02AAA"), "");
  EXPECT_EQ(Row("mdm_udids", "UDID-2"), "");
  EXPECT_EQ(Row("mdm_queue", QueueKey("C02AAA", "000000000006")), "");
}

TEST_F(DevicesProjectorTest, AndroidDevicesHaveNoUdidRowAndUnknownDevicesWriteNothing) {
  events::Envelope e;
  auto* p = e.mutable_device_enrolled();
  p->set_platform(pb::PLATFORM_ANDROID);
  p->set_serial_number("R58N");
  p->set_imei("356938035643809");
  p->set_model("SM-G991B");
  p->set_os_version("14");
  p->set_policy_id("pol_2");
  Apply("device/R58N", e);
  EXPECT_EQ(Row("devices", "R58N"),
            R"({"configured":false,"enrolled_at":"2023-11-14T22:13:21.000Z","id":"R58N","imei":"356938035643809","last_message_type":"","last_position":"1","last_seen_at":"2023-11-14T22:13:21.000Z","model":"SM-G991B","os_version":"14","pending_commands":{},"platform":"android","policy_id":"pol_2","push_topic":"","ruleset_id":"","serial_number":"R58N","status":"enrolled","udid":"","updated_at":"2023-11-14T22:13:21.000Z","user_id":""})");
  EXPECT_EQ(Row("mdm_udids", ""), "");

  // Events of a device the inventory does not have, or of another stream, write nothing.
  Queued("C02ZZZ", "cmd-9", "DeviceInformation");
  Completed("C02ZZZ", "cmd-9", "Acknowledged");
  events::Envelope checked_in;
  checked_in.mutable_device_checked_in()->set_message_type("Authenticate");
  Apply("device/C02ZZZ", checked_in);
  events::Envelope configured;
  configured.mutable_device_configured();
  Apply("device/C02ZZZ", configured);
  events::Envelope checked_out;
  checked_out.mutable_device_checked_out();
  Apply("device/C02ZZZ", checked_out);
  events::Envelope removed;
  removed.mutable_device_removed_from_inventory();
  Apply("device/C02ZZZ", removed);
  Enrolled("C02YYY", "UDID-Y");
  events::Envelope elsewhere;
  elsewhere.mutable_device_checked_in()->set_message_type("Authenticate");
  Apply("kme-device/C02YYY", elsewhere);
  EXPECT_EQ(Row("devices", "C02ZZZ"), "");
  EXPECT_EQ(Row("mdm_queue", QueueKey("C02ZZZ", "000000000002")), "");
  EXPECT_EQ(Row("devices", "C02YYY"),
            R"({"configured":false,"enrolled_at":"2023-11-14T22:13:28.000Z","id":"C02YYY","imei":"","last_message_type":"","last_position":"8","last_seen_at":"2023-11-14T22:13:28.000Z","model":"iPad Pro","os_version":"17.1","pending_commands":{},"platform":"apple","policy_id":"pol_1","push_topic":"com.apple.mgmt.External.abc","ruleset_id":"rs_1","serial_number":"C02YYY","status":"enrolled","udid":"UDID-Y","updated_at":"2023-11-14T22:13:28.000Z","user_id":"usr_1"})");
}

TEST_F(DevicesProjectorTest, IdentityRecordBytesThroughIssueRevocationAndAppleUnassignment) {
  Issued("C02AAA", "aa01");
  EXPECT_EQ(Row("mdm_identities", "C02AAA"),
            R"({"certificate_sha256":"aa01","issued_at":"2023-11-14T22:13:21.000Z","signer_sha256":"5151","state":"active","udid":"UDID-C02AAA"})");
  // Revoking an earlier identity leaves the current one as it is.
  Revoked("C02AAA", "0000", "replaced");
  EXPECT_EQ(Row("mdm_identities", "C02AAA"),
            R"({"certificate_sha256":"aa01","issued_at":"2023-11-14T22:13:21.000Z","signer_sha256":"5151","state":"active","udid":"UDID-C02AAA"})");
  Revoked("C02AAA", "aa01", "checked_out");
  EXPECT_EQ(Row("mdm_identities", "C02AAA"),
            R"({"certificate_sha256":"aa01","issued_at":"2023-11-14T22:13:21.000Z","revoked_at":"2023-11-14T22:13:23.000Z","revoked_reason":"checked_out","signer_sha256":"5151","state":"revoked","udid":"UDID-C02AAA"})");
  // A new identity replaces the revoked one whole.
  Issued("C02AAA", "aa02");
  EXPECT_EQ(Row("mdm_identities", "C02AAA"),
            R"({"certificate_sha256":"aa02","issued_at":"2023-11-14T22:13:24.000Z","signer_sha256":"5151","state":"active","udid":"UDID-C02AAA"})");

  events::Envelope unassigned;
  unassigned.mutable_dep_device_unassigned()->set_serial_number("C02AAA");
  unassigned.mutable_dep_device_unassigned()->set_account_id("acc_1");
  Apply("dep-device/C02AAA", unassigned);
  EXPECT_EQ(Row("mdm_identities", "C02AAA"),
            R"({"certificate_sha256":"aa02","issued_at":"2023-11-14T22:13:24.000Z","revoked_at":"2023-11-14T22:13:25.000Z","revoked_reason":"dep_unassigned","signer_sha256":"5151","state":"revoked","udid":"UDID-C02AAA"})");
  // A revoked identity stays as it was revoked.
  events::Envelope disowned;
  disowned.mutable_dep_device_disowned()->set_serial_number("C02AAA");
  disowned.mutable_dep_device_disowned()->set_result("SUCCESS");
  Apply("dep-device/C02AAA", disowned);
  EXPECT_EQ(Row("mdm_identities", "C02AAA"),
            R"({"certificate_sha256":"aa02","issued_at":"2023-11-14T22:13:24.000Z","revoked_at":"2023-11-14T22:13:25.000Z","revoked_reason":"dep_unassigned","signer_sha256":"5151","state":"revoked","udid":"UDID-C02AAA"})");

  Issued("C02BBB", "bb01");
  disowned.mutable_dep_device_disowned()->set_serial_number("C02BBB");
  Apply("dep-device/C02BBB", disowned);
  EXPECT_EQ(Row("mdm_identities", "C02BBB"),
            R"({"certificate_sha256":"bb01","issued_at":"2023-11-14T22:13:27.000Z","revoked_at":"2023-11-14T22:13:28.000Z","revoked_reason":"dep_disowned","signer_sha256":"5151","state":"revoked","udid":"UDID-C02BBB"})");
  // Apple's events about a device with no identity write none.
  Apply("dep-device/C02CCC", unassigned);
  EXPECT_EQ(Row("mdm_identities", "C02CCC"), "");
}

TEST_F(DevicesProjectorTest, RevokingAnIdentityNeverRecordedKeepsOnlyWhatTheEventCarries) {
  Revoked("C02DDD", "dd01", "removed_from_inventory");
  EXPECT_EQ(Row("mdm_identities", "C02DDD"),
            R"({"certificate_sha256":"dd01","revoked_at":"2023-11-14T22:13:21.000Z","revoked_reason":"removed_from_inventory","state":"revoked"})");
}

}  // namespace
}  // namespace ae::proj
