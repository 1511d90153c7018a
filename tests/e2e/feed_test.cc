// The Kafka topic as an analytics feed, on the run's real cluster: the worked example of
// events/README.md (kcat with read_committed, then protoc with the shipped descriptor set)
// decodes a record the engine wrote, as written; and its consumer-group line (kcat -G) reads
// every event of the topic once.

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/e2e/kafka_e2e.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

namespace fs = std::filesystem;

// The first ```sh block after `heading` in events/README.md.
std::string ReadmeExample(const std::string& heading) {
  std::string readme = ReadWholeFile(fs::path(SourceDir()) / "events" / "README.md");
  size_t at = readme.find(heading);
  if (at == std::string::npos) return "";
  size_t start = readme.find("```sh\n", at);
  if (start == std::string::npos) return "";
  start += 6;
  size_t end = readme.find("```", start);
  return readme.substr(start, end - start);
}

// The example with this deployment's broker list and topic.
std::string ForDeployment(std::string example, const KafkaDeployment& kafka) {
  example = std::regex_replace(example, std::regex("BROKER"), kafka.cluster().bootstrap());
  // The topic's name, not the protobuf package (autoenroll.events.v1).
  return std::regex_replace(example, std::regex("autoenroll\\.events(?![.\\w])"), kafka.topic());
}

TEST(Feed, TheReadmesKcatAndProtocExampleDecodesARecordOfTheTopic) {
  if (std::system("command -v kcat >/dev/null && command -v protoc >/dev/null") != 0) {
    GTEST_SKIP() << "kcat or protoc is not installed (scripts/setup installs them)";
  }
  TempDir dir;
  KafkaDeployment kafka(dir);
  EngineProcess engine(dir.Sub("data"), kafka.ServeArgs("writer"));
  ASSERT_THAT(engine.Start(60), IsOk());
  ASSERT_EQ(engine.Post("/v1/policies", R"({"name":"Feed sample"})", engine.AdminToken()).status,
            201);

  std::string example = ReadmeExample("**Decoding.**");
  ASSERT_NE(example.find("kcat"), std::string::npos) << example;
  ASSERT_NE(example.find("isolation.level=read_committed"), std::string::npos) << example;
  example = ForDeployment(example, kafka);
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
  // The first record of the topic's first partition to answer: the administrator's creation
  // or the policy.
  EXPECT_NE(decoded.find("event_id: \""), std::string::npos) << decoded;
  EXPECT_NE(decoded.find("stream: \""), std::string::npos) << decoded;
  EXPECT_NE(decoded.find("stream_version: 1"), std::string::npos) << decoded;
  EXPECT_NE(decoded.find("recorded_at {"), std::string::npos) << decoded;
  EXPECT_TRUE(decoded.find("user_created {") != std::string::npos ||
              decoded.find("policy_created {") != std::string::npos)
      << decoded;
}

TEST(Feed, TheReadmesConsumerGroupLineReadsEveryEventOnce) {
  if (std::system("command -v kcat >/dev/null") != 0) {
    GTEST_SKIP() << "kcat is not installed (scripts/setup installs it)";
  }
  TempDir dir;
  KafkaDeployment kafka(dir);
  EngineProcess engine(dir.Sub("data"), kafka.ServeArgs("writer"));
  ASSERT_THAT(engine.Start(60), IsOk());
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(engine.Post("/v1/policies", "{\"name\":\"p" + std::to_string(i) + "\"}",
                          engine.AdminToken()).status,
              201);
  }
  const auto records = ReadTopic(kafka.cluster().bootstrap(), kafka.topic());
  std::string example = ReadmeExample("**Consumer groups.**");
  ASSERT_NE(example.find(" -G "), std::string::npos) << example;
  // Read to the end (-e) instead of waiting for more.
  example = std::regex_replace(ForDeployment(example, kafka), std::regex("kcat "), "kcat -e ");
  std::string out;
  ASSERT_EQ(RunShell(example, &out, 120), 0) << example << out;
  std::multiset<std::string> seen;
  const std::regex line_re("partition (\\d+) offset (\\d+) stream .*");
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, line_re)) seen.insert(m[1].str() + ":" + m[2].str());
  }
  std::multiset<std::string> expected;
  for (const auto& r : records) {
    expected.insert(std::to_string(r.partition) + ":" + std::to_string(r.offset));
  }
  EXPECT_EQ(seen, expected);
}

}  // namespace
}  // namespace ae::testing
