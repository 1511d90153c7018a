// The admission of a DEP device's own enrollment call: each refusal, in its order.

#include <gtest/gtest.h>

#include "domain/dep/dep.h"
#include "tests/support/test_support.h"

namespace ae::domain::dep {
namespace {

// A device that may enroll: synced, assigned to us, its profile accepted, a user set.
EnrollmentFacts Ready() {
  EnrollmentFacts f;
  f.known = true;
  f.assigned_to_server = true;
  f.profile_id = "prof_1";
  f.profile_status = pb::DEP_PROFILE_STATUS_ASSIGNED;
  f.user_id = "u_ann";
  return f;
}

TEST(DepEnrollmentAdmission, ADeviceWithAnAcceptedProfileAndAUserMayEnroll) {
  EXPECT_THAT(CheckEnrollment(Ready()), IsOk());
  EnrollmentFacts pushed = Ready();
  pushed.profile_status = pb::DEP_PROFILE_STATUS_PUSHED;  // the device fetched it already
  EXPECT_THAT(CheckEnrollment(pushed), IsOk());
}

TEST(DepEnrollmentAdmission, ADeviceNoSyncBroughtIsUnknown) {
  EXPECT_THAT(CheckEnrollment(EnrollmentFacts{}),
              StatusIs(StatusCode::kPermissionDenied, "enroll.unknown_device"));
}

TEST(DepEnrollmentAdmission, ADeviceAppleNoLongerAssignsToUsIsNotAssigned) {
  EnrollmentFacts f = Ready();
  f.assigned_to_server = false;
  EXPECT_THAT(CheckEnrollment(f), StatusIs(StatusCode::kPermissionDenied, "enroll.not_assigned"));
}

TEST(DepEnrollmentAdmission, ADisownedDeviceIsNotAssigned) {
  EnrollmentFacts f = Ready();
  f.disowned = true;
  EXPECT_THAT(CheckEnrollment(f), StatusIs(StatusCode::kPermissionDenied, "enroll.not_assigned"));
}

TEST(DepEnrollmentAdmission, ADeviceWithoutAProfileHasNoProfile) {
  EnrollmentFacts f = Ready();
  f.profile_id = "";
  EXPECT_THAT(CheckEnrollment(f), StatusIs(StatusCode::kPermissionDenied, "enroll.no_profile"));
}

TEST(DepEnrollmentAdmission, AProfileAppleHasNotAcceptedOrRemovedIsNoProfile) {
  for (auto status : {pb::DEP_PROFILE_STATUS_UNSPECIFIED, pb::DEP_PROFILE_STATUS_EMPTY,
                      pb::DEP_PROFILE_STATUS_REMOVED}) {
    EnrollmentFacts f = Ready();
    f.profile_status = status;
    EXPECT_THAT(CheckEnrollment(f), StatusIs(StatusCode::kPermissionDenied, "enroll.no_profile"))
        << pb::DepProfileStatus_Name(status);
  }
}

TEST(DepEnrollmentAdmission, ADeviceWithoutAUserHasNoUser) {
  EnrollmentFacts f = Ready();
  f.user_id = "";
  EXPECT_THAT(CheckEnrollment(f), StatusIs(StatusCode::kPermissionDenied, "enroll.no_user"));
}

TEST(DepEnrollmentAdmission, TheFirstRefusalThatAppliesIsTheOneGiven) {
  EnrollmentFacts f;  // unknown: nothing else is looked at
  f.assigned_to_server = false;
  EXPECT_EQ(CheckEnrollment(f).reason(), "enroll.unknown_device");
  f = Ready();
  f.disowned = true;
  f.profile_id = "";
  f.user_id = "";
  EXPECT_EQ(CheckEnrollment(f).reason(), "enroll.not_assigned");
  f.disowned = false;
  EXPECT_EQ(CheckEnrollment(f).reason(), "enroll.no_profile");
  f.profile_id = "prof_1";
  EXPECT_EQ(CheckEnrollment(f).reason(), "enroll.no_user");
}

TEST(DepEnrollmentAdmission, TheRefusalMessageSpeaksToTheDevice) {
  EnrollmentFacts f = Ready();
  f.user_id = "";
  EXPECT_EQ(CheckEnrollment(f).message(), "this device has no user assigned");
  EXPECT_EQ(CheckEnrollment(EnrollmentFacts{}).message(),
            "this device is not in any synced DEP account");
}

TEST(DepProfileStatusNames, TheViewsNamesReadBackAsTheirStatus) {
  for (auto status : {pb::DEP_PROFILE_STATUS_EMPTY, pb::DEP_PROFILE_STATUS_ASSIGNED,
                      pb::DEP_PROFILE_STATUS_PUSHED, pb::DEP_PROFILE_STATUS_REMOVED}) {
    EXPECT_EQ(ProfileStatusFromName(ProfileStatusName(status)), status);
  }
  EXPECT_EQ(ProfileStatusFromName(""), pb::DEP_PROFILE_STATUS_UNSPECIFIED);
  EXPECT_EQ(ProfileStatusFromName("fetched"), pb::DEP_PROFILE_STATUS_UNSPECIFIED);
}

}  // namespace
}  // namespace ae::domain::dep
