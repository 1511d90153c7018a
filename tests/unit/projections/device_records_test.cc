// The devices view records: Encode writes exactly the bytes the views hold (those the
// devices projector has always written), Decode reads them back to the same record, and
// anything else is refused as corruption.

#include "projections/device_records.h"

#include "tests/support/test_support.h"

namespace ae::proj {
namespace {

// Records as the devices projector wrote them before they had a type
// (devices_projector_test.cc pins the projector to the same bytes).
constexpr const char* kDevice =
    R"({"configured":true,"enrolled_at":"2023-11-14T22:13:21.000Z","id":"C02AAA","imei":"","last_command":{"at":"2023-11-14T22:13:26.000Z","command_uuid":"cmd-1","error":"ManifestURL unreachable","status":"Error"},"last_message_type":"TokenUpdate","last_position":"7","last_seen_at":"2023-11-14T22:13:26.000Z","model":"iPad Pro","os_version":"17.1","pending_commands":{"cmd-2":"C02AAA\u001f000000000004"},"platform":"apple","policy_id":"pol_1","push_topic":"com.apple.mgmt.External.abc","ruleset_id":"rs_1","serial_number":"C02AAA","status":"enrolled","udid":"UDID-1","updated_at":"2023-11-14T22:13:27.000Z","user_id":"usr_1"})";
constexpr const char* kAndroidDevice =
    R"({"configured":false,"enrolled_at":"2023-11-14T22:13:21.000Z","id":"R58N","imei":"356938035643809","last_message_type":"","last_position":"1","last_seen_at":"2023-11-14T22:13:21.000Z","model":"SM-G991B","os_version":"14","pending_commands":{},"platform":"android","policy_id":"pol_2","push_topic":"","ruleset_id":"","serial_number":"R58N","status":"enrolled","udid":"","updated_at":"2023-11-14T22:13:21.000Z","user_id":""})";
constexpr const char* kQueued =
    R"({"command_uuid":"cmd-1","manifest_url":"https://apps.example.com/m.plist","request_type":"InstallApplication"})";
constexpr const char* kIdentity =
    R"({"certificate_sha256":"aa02","issued_at":"2023-11-14T22:13:24.000Z","revoked_at":"2023-11-14T22:13:25.000Z","revoked_reason":"dep_unassigned","signer_sha256":"5151","state":"revoked","udid":"UDID-C02AAA"})";
constexpr const char* kActiveIdentity =
    R"({"certificate_sha256":"aa01","issued_at":"2023-11-14T22:13:21.000Z","signer_sha256":"5151","state":"active","udid":"UDID-C02AAA"})";
constexpr const char* kIdentityRevokedUnrecorded =
    R"({"certificate_sha256":"dd01","revoked_at":"2023-11-14T22:13:21.000Z","revoked_reason":"removed_from_inventory","state":"revoked"})";

template <typename Record>
void ExpectRoundTrip(const char* bytes) {
  auto r = Record::Decode(bytes);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->Encode(), bytes);
}

TEST(DeviceRecords, EveryRecordTheProjectorWroteDecodesAndEncodesToTheSameBytes) {
  ExpectRoundTrip<DeviceRecord>(kDevice);
  ExpectRoundTrip<DeviceRecord>(kAndroidDevice);
  ExpectRoundTrip<MdmQueuedCommand>(kQueued);
  ExpectRoundTrip<MdmIdentityRecord>(kIdentity);
  ExpectRoundTrip<MdmIdentityRecord>(kActiveIdentity);
  ExpectRoundTrip<MdmIdentityRecord>(kIdentityRevokedUnrecorded);
  ExpectRoundTrip<MdmUdidRecord>("C02AAA");
}

TEST(DeviceRecords, ADeviceEncodesToTheBytesTheProjectorWrote) {
  DeviceRecord d;
  d.id = d.serial_number = "C02AAA";
  d.platform = "apple";
  d.udid = "UDID-1";
  d.model = "iPad Pro";
  d.os_version = "17.1";
  d.user_id = "usr_1";
  d.policy_id = "pol_1";
  d.ruleset_id = "rs_1";
  d.push_topic = "com.apple.mgmt.External.abc";
  d.status = "enrolled";
  d.configured = true;
  d.enrolled_at = "2023-11-14T22:13:21.000Z";
  d.last_seen_at = "2023-11-14T22:13:26.000Z";
  d.last_message_type = "TokenUpdate";
  d.pending_commands["cmd-2"] = MdmQueueKey("C02AAA", 4);
  d.last_command = DeviceCommandOutcome{"cmd-1", "Error", "ManifestURL unreachable",
                                        "2023-11-14T22:13:26.000Z"};
  d.updated_at = "2023-11-14T22:13:27.000Z";
  d.last_position = "7";
  EXPECT_EQ(d.Encode(), kDevice);
}

TEST(DeviceRecords, DecodeReadsTheFieldsTheApiAndTheCommandChannelUse) {
  auto d = DeviceRecord::Decode(kDevice);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->status, "enrolled");
  EXPECT_TRUE(d->configured);
  ASSERT_EQ(d->pending_commands.size(), 1u);
  EXPECT_EQ(d->pending_commands.at("cmd-2"), MdmQueuePrefix("C02AAA") + "000000000004");
  ASSERT_TRUE(d->last_command.has_value());
  EXPECT_EQ(d->last_command->status, "Error");
  EXPECT_EQ(d->last_command->ToJson().dump(),
            R"({"at":"2023-11-14T22:13:26.000Z","command_uuid":"cmd-1","error":"ManifestURL unreachable","status":"Error"})");

  auto android = DeviceRecord::Decode(kAndroidDevice);
  ASSERT_THAT(android, IsOk());
  EXPECT_EQ(android->last_command, std::nullopt);
  EXPECT_EQ(android->imei, "356938035643809");

  auto i = MdmIdentityRecord::Decode(kIdentityRevokedUnrecorded);
  ASSERT_THAT(i, IsOk());
  EXPECT_EQ(i->state, "revoked");
  EXPECT_EQ(i->issued_at, std::nullopt);
  EXPECT_EQ(i->udid, std::nullopt);
  EXPECT_EQ(i->revoked_reason, "removed_from_inventory");

  auto q = MdmQueuedCommand::Decode(kQueued);
  ASSERT_THAT(q, IsOk());
  EXPECT_EQ(q->request_type, "InstallApplication");
}

// A record without its state or status is neither active nor enrolled: a device is never
// let in on a record that does not say so.
TEST(DeviceRecords, AMissingStateOrStatusReadsAsNeitherActiveNorEnrolled) {
  auto i = MdmIdentityRecord::Decode(R"({"certificate_sha256":"aa01"})");
  ASSERT_THAT(i, IsOk());
  EXPECT_EQ(i->state, "");
  auto d = DeviceRecord::Decode(R"({"id":"C02AAA"})");
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->status, "");
}

TEST(DeviceRecords, QueueKeysSortInTheOrderTheCommandsWereQueued) {
  EXPECT_EQ(MdmQueueKey("C02AAA", 12), std::string("C02AAA\x1f") + "000000000012");
  EXPECT_LT(MdmQueueKey("C02AAA", 9), MdmQueueKey("C02AAA", 10));
  EXPECT_EQ(MdmQueueKey("C02AAA", 9).rfind(MdmQueuePrefix("C02AAA"), 0), 0u);
}

TEST(DeviceRecords, BytesThatAreNotARecordAreCorruption) {
  EXPECT_THAT(DeviceRecord::Decode("{not json"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(DeviceRecord::Decode("[1,2]"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(DeviceRecord::Decode(R"({"id":"C02AAA","configured":"yes"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(DeviceRecord::Decode(R"({"id":"C02AAA","pending_commands":["cmd-1"]})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(DeviceRecord::Decode(R"({"id":"C02AAA","pending_commands":{"cmd-1":3}})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(DeviceRecord::Decode(R"({"id":"C02AAA","last_command":"Error"})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(MdmQueuedCommand::Decode(R"({"command_uuid":7})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(MdmIdentityRecord::Decode(R"({"certificate_sha256":"aa01","state":true})"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(MdmIdentityRecord::Decode("null"),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(MdmUdidRecord::Decode(""), StatusIs(StatusCode::kCorruption, "view.corruption"));
  EXPECT_THAT(DeviceRecord::FromJson(nlohmann::json("C02AAA")),
              StatusIs(StatusCode::kCorruption, "view.corruption"));
}

}  // namespace
}  // namespace ae::proj
