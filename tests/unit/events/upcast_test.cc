// Upcasting: records of an older schema version read with today's meaning, their
// stored bytes untouched (events/upcast.h).

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "autoenroll/events/v1/events.pb.h"
#include "events/upcast.h"

namespace ae::events {
namespace {

namespace fs = std::filesystem;
using autoenroll::events::v1::Envelope;
using google::protobuf::util::MessageDifferencer;

fs::path GoldenEvents() {
  if (const char* dir = std::getenv("AE_SOURCE_DIR"); dir != nullptr && *dir != '\0') {
    return fs::path(dir) / "tests" / "golden" / "events";
  }
  return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path() / "tests" /
         "golden" / "events";
}

Envelope ReadGolden(const std::string& version, const std::string& name) {
  std::ifstream in(GoldenEvents() / version / (name + ".bin"), std::ios::binary);
  std::ostringstream data;
  data << in.rdbuf();
  Envelope e;
  EXPECT_TRUE(e.ParseFromString(data.str())) << version << "/" << name;
  return e;
}

TEST(Upcast, Version1RefusalReasonsBecomeTheErrorCodesTheDeviceWasAnswered) {
  Envelope dep = ReadGolden("v1", "dep_enrollment_refused");
  ASSERT_EQ(dep.schema_version(), 1u);
  ASSERT_EQ(dep.dep_enrollment_refused().reason(), "unknown_device");
  Upcast(dep);
  EXPECT_EQ(dep.schema_version(), kSchemaVersion);
  EXPECT_EQ(dep.dep_enrollment_refused().reason(), "enroll.unknown_device");
  EXPECT_EQ(dep.dep_enrollment_refused().serial_number(), "C02YL4QRMD6T");

  Envelope kme = ReadGolden("v1", "kme_enrollment_refused");
  ASSERT_EQ(kme.kme_enrollment_refused().reason(), "bad_token");
  Upcast(kme);
  EXPECT_EQ(kme.kme_enrollment_refused().reason(), "kme.bad_token");

  EXPECT_EQ(KmeRefusalReasonV2("not_imported"), "kme.device_not_imported");
  EXPECT_EQ(KmeRefusalReasonV2("no_user"), "kme.no_user");
  EXPECT_EQ(DepRefusalReasonV2("no_profile"), "enroll.no_profile");
  EXPECT_EQ(DepRefusalReasonV2(""), "");
}

// Every other version-1 event keeps its payload; every current event is left as it is.
TEST(Upcast, OnlyTheChangedMeaningsMoveAndCurrentRecordsAreLeftAlone) {
  size_t v1 = 0, current = 0;
  for (const auto& entry : fs::directory_iterator(GoldenEvents() / "v1")) {
    if (entry.path().extension() != ".bin") continue;
    const std::string name = entry.path().stem().string();
    Envelope e = ReadGolden("v1", name);
    Envelope up = e;
    Upcast(up);
    EXPECT_EQ(up.schema_version(), kSchemaVersion) << name;
    if (name == "dep_enrollment_refused" || name == "kme_enrollment_refused") continue;
    up.set_schema_version(e.schema_version());
    EXPECT_TRUE(MessageDifferencer::Equals(up, e)) << name;
    ++v1;
  }
  const std::string now = "v" + std::to_string(kSchemaVersion);
  for (const auto& entry : fs::directory_iterator(GoldenEvents() / now)) {
    if (entry.path().extension() != ".bin") continue;
    Envelope e = ReadGolden(now, entry.path().stem().string());
    ASSERT_EQ(e.schema_version(), kSchemaVersion);
    Envelope up = e;
    Upcast(up);
    EXPECT_TRUE(MessageDifferencer::Equals(up, e)) << entry.path();
    ++current;
  }
  EXPECT_GT(v1, 40u);
  EXPECT_GT(current, 40u);

  // A record from a newer build than this one is not touched.
  Envelope future = ReadGolden(now, "dep_enrollment_refused");
  future.set_schema_version(kSchemaVersion + 1);
  future.mutable_dep_enrollment_refused()->set_reason("no_profile");
  Upcast(future);
  EXPECT_EQ(future.dep_enrollment_refused().reason(), "no_profile");
}

}  // namespace
}  // namespace ae::events
