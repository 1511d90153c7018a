// The Knox Cloud API's error bodies and value types (samsung-kme.md §4.3, §4.6, §6.2):
// pure parsing, no sockets.

#include <nlohmann/json.hpp>

#include "adapters/samsung_knox/knox_errors.h"
#include "adapters/samsung_knox/knox_types.h"
#include "tests/support/test_support.h"

namespace ae::knox {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;

TEST(KnoxErrors, ParsesEveryDocumentedShape) {
  auto a = ParseKnoxError(R"({"errorId":"e1","code":4000019,"message":"TOO_MANY_DEVICES","data":"x"})");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->code, "4000019");
  EXPECT_EQ(a->symbol, "TOO_MANY_DEVICES");
  auto b = ParseKnoxError(R"({"code":["4030000"],"message":["AUTHENTICATION_FAIL"],"data":["expired"]})");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->code, "4030000");
  EXPECT_EQ(b->data, "expired");
  EXPECT_TRUE(IsTokenFailure(403, R"({"code":["4030000"],"message":["AUTHENTICATION_FAIL"]})"));
  EXPECT_FALSE(IsTokenFailure(403, R"({"code":40300000,"message":"AUTHORIZATION_FAIL"})"));
  EXPECT_FALSE(ParseKnoxError("<html>").has_value());
  EXPECT_THAT(StatusForKnoxError("GET x", 409, R"({"code":"4091700","message":"BULK_ENROLL_PROFILE_NAME_CONFLICT"})"),
              StatusIs(StatusCode::kAlreadyExists, "knox.4091700"));
  EXPECT_THAT(StatusForKnoxError("GET x", 403, R"({"code":4030004,"message":"RESELLER_BLOCKED"})"),
              StatusIs(StatusCode::kPermissionDenied, "knox.4030004"));
  EXPECT_THAT(StatusForKnoxError("GET x", 400, "bad"),
              StatusIs(StatusCode::kInvalidArgument, kRequestRejected));
  EXPECT_THAT(StatusForKnoxError("GET x", 405, R"({"code":4050000,"message":"METHOD_NOT_ALLOWED"})"),
              StatusIs(StatusCode::kInvalidArgument, kMethodNotAllowed));
  EXPECT_THAT(StatusForKnoxError("GET x", 404, ""), StatusIs(StatusCode::kNotFound, kNotFoundNoCode));
  EXPECT_THAT(StatusForKnoxError("PUT x", 500, R"({"code":5000006,"message":"RSA_DECRYPTION_FAIL"})"),
              StatusIs(StatusCode::kFailedPrecondition, kRsaDecryptionFail));
  auto oauth = ParseKnoxError(R"({"error":"invalid_scope","error_description":"no kme"})");
  ASSERT_TRUE(oauth);
  EXPECT_EQ(oauth->code, "invalid_scope");
  EXPECT_EQ(oauth->data, "no kme");
  EXPECT_THAT(StatusForTokenError(400, R"({"error":"invalid_scope"})"),
              StatusIs(StatusCode::kPermissionDenied, kForbidden));
  EXPECT_THAT(StatusForTokenError(401, R"({"error":"invalid_client"})"),
              StatusIs(StatusCode::kUnauthenticated, kUnauthorized));
}

TEST(KnoxTypes, ParsesTolerantlyAndKeepsUnknownMembers) {
  auto d = DeviceFromJson(json::parse(
      R"({"id": 123, "mei": "35092537058312", "serialNumber": "r58m12abcde", "state": "Cancelled by user",
          "tags": "tag 1 , tag 2,", "updateTime": "1700000500000", "wifiMac": "A1B2"})"));
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->id, "123");
  EXPECT_EQ(d->imei, "350925370583126") << "a 14-digit IMEI gets its check digit";
  EXPECT_EQ(d->serial, "R58M12ABCDE");
  EXPECT_EQ(d->state, KmeDeviceStatus::kCanceledByUser);
  EXPECT_THAT(d->tags, ElementsAre("tag 1", "tag 2"));
  EXPECT_EQ(d->update_time_ms, 1'700'000'500'000);
  EXPECT_EQ(d->extra["wifiMac"], "A1B2");
  auto meid = DeviceFromJson(json::parse(R"({"id": "x", "mei": "a0000012345678", "state": "Exempted"})"));
  ASSERT_THAT(meid, IsOk());
  EXPECT_EQ(meid->meid, "A0000012345678");
  EXPECT_EQ(meid->state, KmeDeviceStatus::kUnknown);
  EXPECT_EQ(meid->state_raw, "Exempted");
  EXPECT_THAT(DeviceFromJson(json::parse(R"({"id": "x", "updateTime": true})")),
              StatusIs(StatusCode::kInternal, kBadResponse));
  auto results = DeviceResultsFromJson(
      json::parse(R"({"successDeviceList": ["r58a"], "failedDeviceList": [{"deviceId": "B", "code": "4001703", "message": "pending"}]})"),
      {"R58A", "B", "C"});
  ASSERT_THAT(results, IsOk());
  EXPECT_EQ(results->at("R58A").outcome, DeviceOutcome::kSuccess);
  EXPECT_EQ(results->at("B"), (DeviceResult{DeviceOutcome::kFailed, "4001703", "pending"}));
  EXPECT_EQ(results->at("C").outcome, DeviceOutcome::kUnreported);
  auto all_or_nothing = DeviceResultsFromJson(json::object(), {"A"});
  ASSERT_THAT(all_or_nothing, IsOk());
  EXPECT_EQ(all_or_nothing->at("A").outcome, DeviceOutcome::kSuccess);
}

}  // namespace
}  // namespace ae::knox
