// The Kafka topic as an analytics feed: the worked example of events/README.md (kcat, then
// protoc with the shipped descriptor set) decodes a record the engine wrote, as written.

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

namespace fs = std::filesystem;

// The first ```sh block after "**Decoding.**" in events/README.md.
std::string DecodingExample() {
  std::string readme = ReadWholeFile(fs::path(SourceDir()) / "events" / "README.md");
  size_t at = readme.find("**Decoding.**");
  if (at == std::string::npos) return "";
  size_t start = readme.find("```sh\n", at);
  if (start == std::string::npos) return "";
  start += 6;
  size_t end = readme.find("```", start);
  return readme.substr(start, end - start);
}

TEST(Feed, TheReadmesKcatAndProtocExampleDecodesARecordOfTheTopic) {
  if (std::system("command -v kcat >/dev/null && command -v protoc >/dev/null") != 0) {
    GTEST_SKIP() << "kcat or protoc is not installed (scripts/setup installs them)";
  }
  TempDir dir;
  ChildProcess kafka;
  auto bootstrap = kafka.Start({"dev-kafka", "--brokers", "1"}, "bootstrap: ");
  ASSERT_THAT(bootstrap, IsOk());
  EngineProcess engine(dir.Sub("data"), {"--kafka-brokers", *bootstrap});
  ASSERT_THAT(engine.Start(60), IsOk());
  ASSERT_EQ(engine.Post("/v1/policies", R"({"name":"Feed sample"})", engine.AdminToken()).status,
            201);

  std::string example = DecodingExample();
  ASSERT_NE(example.find("kcat"), std::string::npos) << example;
  example = std::regex_replace(example, std::regex("BROKER"), *bootstrap);
  // Run where the example expects to be: beside events/events.desc.
  fs::create_directories(dir.path() / "work" / "events");
  fs::copy_file(fs::path(SourceDir()) / "events" / "events.desc",
                dir.path() / "work" / "events" / "events.desc");
  std::ofstream(dir.path() / "work" / "example.sh") << "set -e\n" << example;
  std::string cmd = "cd " + (dir.path() / "work").string() +
                    " && timeout 60 bash example.sh > decoded.txt 2> errors.txt";
  int rc = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0)
      << ReadWholeFile(dir.path() / "work" / "errors.txt");
  std::string decoded = ReadWholeFile(dir.path() / "work" / "decoded.txt");
  // The first record of the topic: the administrator created at the first start.
  EXPECT_NE(decoded.find("event_id: \""), std::string::npos) << decoded;
  EXPECT_NE(decoded.find("stream: \"user/"), std::string::npos) << decoded;
  EXPECT_NE(decoded.find("stream_version: 1"), std::string::npos) << decoded;
  EXPECT_NE(decoded.find("recorded_at {"), std::string::npos) << decoded;
  EXPECT_NE(decoded.find("user_created {"), std::string::npos) << decoded;
}

}  // namespace
}  // namespace ae::testing
