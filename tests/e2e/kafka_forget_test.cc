// Forgetting a person in Kafka mode, on the run's real cluster: the person key lives in the
// compacted key topic, and forgetting writes its tombstone. The writer and a query replica
// answer with the person gone, a replica started afterwards (reading the whole topic) never
// opens the person's data, the hash chain stays whole, and no byte of the person is in
// plaintext in the engines' data dirs or in the brokers' files.

#include <filesystem>

#include "tests/e2e/kafka_e2e.h"
#include "tests/support/data_dir_search.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;

TEST(KafkaForget, AForgottenPersonIsGoneForEveryReplicaAndLeavesNoPlaintext) {
  TempDir dir;
  KafkaDeployment kafka(dir);
  const std::vector<std::string> needles = {"erin.forget", "erin.forget@example.org",
                                            "erin forgetme"};
  EngineProcess writer(dir.Sub("writer"), kafka.ServeArgs("writer"));
  ASSERT_THAT(writer.Start(60), IsOk());
  const std::string admin = writer.AdminToken();
  EngineProcess reader(dir.Sub("reader"), kafka.ServeArgs("reader"));
  ASSERT_THAT(reader.Start(60), IsOk());

  auto created = writer.Post("/v1/users",
                             R"({"username":"Erin.Forget","role":"device_user",)"
                             R"("email":"erin.forget@example.org","display_name":"Erin Forgetme"})",
                             admin);
  ASSERT_EQ(created.status, 201) << created.body;
  auto seen = reader.Get("/v1/users/erin.forget?min_position=" + created.Header("X-Log-Position"),
                         admin);
  ASSERT_EQ(seen.status, 200) << seen.body;
  EXPECT_EQ(seen.json["email"], "erin.forget@example.org");

  ASSERT_EQ(writer.Post("/v1/policies", R"({"name":"Plainly Kept Policy"})", admin).status, 201);
  auto forgotten = writer.Delete("/v1/users/erin.forget?forget=true", admin);
  ASSERT_EQ(forgotten.status, 200) << forgotten.body;
  const std::string pos = forgotten.Header("X-Log-Position");
  EXPECT_EQ(writer.Get("/v1/users/erin.forget", admin).status, 404);
  EXPECT_EQ(reader.Get("/v1/users/erin.forget?min_position=" + pos, admin).status, 404);

  // A replica that starts now reads the whole topic, the UserCreated included: the person's
  // key is a tombstone in the key topic, so nothing of the person opens.
  EngineProcess late(dir.Sub("late"), kafka.ServeArgs("reader"));
  ASSERT_THAT(late.Start(60), IsOk());
  EXPECT_EQ(late.Get("/v1/users/erin.forget?min_position=" + pos, admin).status, 404);
  for (EngineProcess* e : {&writer, &reader, &late}) {
    auto events = e->Get("/v1/events?limit=1000", admin);
    ASSERT_EQ(events.status, 200) << events.body;
    EXPECT_NE(events.body.find("UserCreated"), std::string::npos) << "the history stays";
    for (const auto& n : needles) EXPECT_EQ(Lower(events.body).find(n), std::string::npos) << n;
    EXPECT_EQ(e->Get("/v1/audit/verify", admin).json["ok"], true);
  }
  for (EngineProcess* e : {&writer, &reader, &late}) ASSERT_EQ(e->Stop(SIGTERM), 0);

  // Nothing of the person in plaintext: the engines' data dirs (RocksDB read key by key)
  // and every file of the brokers (the topic's segments are not compressed).
  for (const char* d : {"writer", "reader", "late"}) {
    EXPECT_EQ(FindInDataDir(dir.Sub(d), needles), "") << d;
  }
  const std::string brokers = kafka.cluster().dir();
  if (!brokers.empty()) {
    // The brokers keep removing the folders of other tests' deleted topics while this walks
    // them: a walk that meets one vanishing starts again (this deployment's topics stay).
    std::string found;
    bool walked = false;
    for (int attempt = 0; attempt < 20 && !walked; ++attempt) {
      found.clear();
      try {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(brokers)) {
          if (!entry.is_regular_file()) continue;
          const std::string path = entry.path().string();
          if (path.find(kafka.topic()) == std::string::npos) continue;  // this deployment's
          const std::string bytes = Lower(ReadWholeFile(entry.path()));
          for (const auto& n : needles) {
            if (bytes.find(n) != std::string::npos) found += path + ": " + n + "\n";
          }
        }
        walked = true;
      } catch (const std::filesystem::filesystem_error& e) {
        if (e.code() != std::errc::no_such_file_or_directory) throw;
      }
    }
    ASSERT_TRUE(walked) << "the brokers' folders kept changing under the walk";
    EXPECT_EQ(found, "");
  }
  // The search finds what is there (a plain value the engine keeps: the policy's name).
  EXPECT_NE(FindInDataDir(dir.Sub("writer"), {"plainly kept policy"}), "");
}

}  // namespace
}  // namespace ae::testing
