// DEP JSON objects (lenient parsing, §4.1) and the error classification (§2.2, §3).

#include "adapters/apple_dep/dep_errors.h"
#include "adapters/apple_dep/types.h"
#include "tests/support/test_support.h"

namespace ae::dep {
namespace {

using nlohmann::json;

TEST(DepTypes, SyncDeviceParsesEveryDocumentedField) {
  json j = json::parse(R"({
    "serial_number": "C02XK1ABCD12", "model": "MacBook Pro", "description": "MBP 14",
    "color": "SPACE GRAY", "asset_tag": "A-1", "os": "OSX", "device_family": "Mac",
    "profile_status": "pushed", "profile_uuid": "C1F123098EB5074580041E69883004C3",
    "profile_assign_time": "2018-09-08T16:49:09Z", "profile_push_time": "2018-09-09T10:00:00Z",
    "device_assigned_date": "2018-09-01T00:00:00Z", "device_assigned_by": "a@example.com",
    "op_type": "modified", "op_date": "2018-09-09T10:00:00Z",
    "mdm_migration_deadline": "2025-01-01T00:00:00Z",
    "wifi_mac_address": "aa:bb", "imei": ["1", "2"], "eid": "E1",
    "is_replacement_device": true
  })");
  auto d = DeviceFromJson(j);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->serial_number, "C02XK1ABCD12");
  EXPECT_EQ(d->profile_status, ProfileStatus::kPushed);
  EXPECT_EQ(d->op_type, OpType::kModified);
  EXPECT_EQ(d->op_date_ms, 1'536'487'200'000);
  EXPECT_EQ(d->profile_assign_time_ms, 1'536'425'349'000);
  EXPECT_EQ(d->imei, (std::vector<std::string>{"1", "2"}));
  EXPECT_TRUE(d->is_replacement_device);
  // And writes back what it read.
  EXPECT_EQ(DeviceToJson(*d), j);
}

TEST(DepTypes, DeviceParsingToleratesWhatProductionSends) {
  json j = json::parse(R"({"serial_number": "X1", "profile_status": "",
    "profile_assign_time": "", "op_type": "teleported", "color": 7, "brand_new_field": {"a": 1}})");
  auto d = DeviceFromJson(j);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->profile_status, ProfileStatus::kNone);
  EXPECT_FALSE(d->profile_assign_time_ms.has_value());
  EXPECT_FALSE(d->device_assigned_date_ms.has_value());
  EXPECT_EQ(d->op_type, OpType::kUnknown);
  EXPECT_EQ(d->op_type_raw, "teleported");
  EXPECT_EQ(d->color, "");
  EXPECT_THAT(DeviceFromJson(json::array()), StatusIs(StatusCode::kInternal, kBadResponse));
}

TEST(DepTypes, PageNeedsACursorAndToleratesMissingDevices) {
  auto page = DevicePageFromJson(json::parse(R"({"cursor": "abc", "more_to_follow": true})"));
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(page->cursor, "abc");
  EXPECT_TRUE(page->more_to_follow);
  EXPECT_TRUE(page->devices.empty());
  EXPECT_THAT(DevicePageFromJson(json::parse(R"({"devices": []})")),
              StatusIs(StatusCode::kInternal, kBadResponse));
  EXPECT_THAT(DevicePageFromJson(json::parse(R"({"cursor": "c", "devices": {}})")),
              StatusIs(StatusCode::kInternal, kBadResponse));
}

TEST(DepTypes, ProfileRoundTripsEveryFieldAndOmitsUnsetOnes) {
  Profile p;
  p.profile_name = "Corp ADE";
  p.url = "https://mdm.example.com/mdm/dep/enroll";
  p.configuration_web_url = "https://mdm.example.com/web";
  p.is_supervised = true;
  p.is_mdm_removable = false;
  p.is_mandatory = true;
  p.allow_pairing = false;
  p.await_device_configured = true;
  p.is_multi_user = false;
  p.auto_advance_setup = true;
  p.is_return_to_service = false;
  p.do_not_use_profile_from_backup = true;
  p.org_magic = "6F0C1D6E-7B7A-4F9D-9C1E-2D0B6B1C1A11";
  p.department = "IT";
  p.support_phone_number = "+1 555 0100";
  p.support_email_address = "it@example.com";
  p.language = "en";
  p.region = "US";
  p.anchor_certs = {"MIIF"};
  p.supervising_host_certs = {"MIIG"};
  p.skip_setup_items = {"AppleID", "Siri", "TOS"};
  p.devices = {"C02T0HL0GGC0"};
  json j = ProfileToJson(p);
  EXPECT_EQ(j["is_mdm_removable"], false) << "an explicit false must be sent";
  auto back = ProfileFromJson(j);
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(*back, p);

  Profile minimal;
  minimal.profile_name = "n";
  minimal.url = "https://x";
  EXPECT_EQ(ProfileToJson(minimal), json::parse(R"({"profile_name":"n","url":"https://x"})"));
}

TEST(DepTypes, ProfileRejectsWrongTypesNamingTheField) {
  auto p = ProfileFromJson(json::parse(R"({"profile_name": "n", "is_supervised": "yes"})"));
  EXPECT_THAT(p, StatusIs(StatusCode::kInvalidArgument, "dep.bad_profile"));
  EXPECT_EQ(p.status().field(), "is_supervised");
  EXPECT_THAT(ProfileFromJson(json::parse(R"({"skip_setup_items": ["a", 1]})")),
              StatusIs(StatusCode::kInvalidArgument, "dep.bad_profile"));
}

TEST(DepTypes, AccountLimitsFallBackToTheDocumentedValues) {
  auto a = AccountDetailFromJson(json::parse(R"({"server_name": "S", "urls": [
    {"uri": "/server/devices", "http_method": ["POST"],
     "limit": {"default": 1000, "maximum": 5000}}]})"));
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->MaxLimit("/server/devices"), 5000);
  EXPECT_EQ(a->DefaultLimit("/server/devices"), 1000);
  EXPECT_EQ(a->MaxLimit("/devices/sync"), 1000);
  EXPECT_EQ(a->DefaultLimit("/devices/sync"), 100);
}

TEST(DepTypes, PerSerialResultsKeepApplesCode) {
  auto r = SerialResultsFromJson(json::parse(R"({"devices": {"A": "SUCCESS",
    "B": "NOT_ACCESSIBLE", "C": "FAILED", "D": "THROTTLED", "E": "SOMETHING_NEW"}})"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->at("A").status, SerialStatus::kSuccess);
  EXPECT_EQ(r->at("B").status, SerialStatus::kNotAccessible);
  EXPECT_EQ(r->at("C").status, SerialStatus::kFailed);
  EXPECT_EQ(r->at("D").status, SerialStatus::kThrottled);
  EXPECT_EQ(r->at("E").status, SerialStatus::kUnknown);
  EXPECT_EQ(r->at("E").code, "SOMETHING_NEW");
}

TEST(DepErrors, FindsApplesCodeInEveryBodyStyle) {
  EXPECT_EQ(AppleErrorCode("INVALID_CURSOR"), "INVALID_CURSOR");
  EXPECT_EQ(AppleErrorCode("\"INVALID_CURSOR\"\n"), "INVALID_CURSOR");
  EXPECT_EQ(AppleErrorCode("\"token_rejected\""), "token_rejected");
  EXPECT_EQ(AppleErrorCode(R"({"code": "T_C_NOT_SIGNED", "message": "x"})"), "T_C_NOT_SIGNED");
  EXPECT_EQ(AppleErrorCode("oauth_problem=signature_invalid&x=1"), "signature_invalid");
  EXPECT_EQ(AppleErrorCode("<html>Forbidden</html>"), "");
  EXPECT_EQ(AppleErrorCode(""), "");
}

TEST(DepErrors, ClassifiesApplesAnswers) {
  EXPECT_THAT(StatusForAppleError("GET /account", 403, "\"T_C_NOT_SIGNED\""),
              StatusIs(StatusCode::kFailedPrecondition, kTermsNotSigned));
  EXPECT_THAT(StatusForAppleError("GET /session", 401, "\"token_rejected\""),
              StatusIs(StatusCode::kUnauthenticated, kTokenRejected));
  EXPECT_THAT(StatusForAppleError("GET /session", 403, "signature_invalid"),
              StatusIs(StatusCode::kUnauthenticated, kTokenRejected));
  EXPECT_THAT(StatusForAppleError("GET /account", 403, "ACCESS_DENIED"),
              StatusIs(StatusCode::kPermissionDenied, kAccessDenied));
  EXPECT_THAT(StatusForAppleError("POST /server/devices", 400, "EXHAUSTED_CURSOR"),
              StatusIs(StatusCode::kFailedPrecondition, kExhaustedCursor));
  EXPECT_THAT(StatusForAppleError("POST /devices/sync", 400, "\"EXPIRED_CURSOR\""),
              StatusIs(StatusCode::kFailedPrecondition, kExpiredCursor));
  EXPECT_THAT(StatusForAppleError("POST /devices/sync", 400, "INVALID_CURSOR"),
              StatusIs(StatusCode::kFailedPrecondition, kInvalidCursor));
  EXPECT_THAT(StatusForAppleError("GET /profile", 400, "NOT_FOUND"),
              StatusIs(StatusCode::kNotFound, kProfileNotFound));
  EXPECT_THAT(StatusForAppleError("PUT /profile/devices", 404, ""),
              StatusIs(StatusCode::kNotFound, kProfileNotFound));
  EXPECT_THAT(StatusForAppleError("POST /profile", 400, "CONFIG_NAME_REQUIRED"),
              StatusIs(StatusCode::kInvalidArgument, "dep.config_name_required"));
  EXPECT_THAT(StatusForAppleError("POST /devices", 400, "<html>"),
              StatusIs(StatusCode::kInvalidArgument, kRequestRejected));
  Status s = StatusForAppleError("POST /profile", 400, "\"FLAGS_INVALID\"");
  EXPECT_NE(s.message().find("POST /profile"), std::string::npos);
  EXPECT_NE(s.message().find("FLAGS_INVALID"), std::string::npos);
}

}  // namespace
}  // namespace ae::dep
