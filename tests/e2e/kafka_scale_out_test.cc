// Scale-out on the run's real Kafka cluster (3 brokers; the topic has 3 partitions,
// replication factor 3 and min.insync.replicas 2): one writer, one query replica, each with
// its own views. A write through the writer is read through the replica with min_position;
// when the writer dies the replica keeps answering queries and a new writer carries on the
// same log.

#include "tests/e2e/kafka_e2e.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;

TEST(KafkaScaleOut, ReplicaReadsTheWritersWritesAndOutlivesTheWriter) {
  TempDir dir;
  KafkaDeployment kafka(dir);
  auto engine_args = [&](const std::string& role) { return kafka.ServeArgs(role); };
  auto writer = std::make_unique<EngineProcess>(dir.Sub("writer"), engine_args("writer"));
  ASSERT_THAT(writer->Start(60), IsOk());
  const std::string admin = writer->AdminToken();
  ASSERT_FALSE(admin.empty());
  EngineProcess reader(dir.Sub("reader"), engine_args("reader"));
  ASSERT_THAT(reader.Start(60), IsOk());

  auto created = writer->Post(
      "/v1/users", R"({"username":"alice","role":"device_user","email":"alice@example.com"})",
      admin);
  ASSERT_EQ(created.status, 201) << created.body;
  std::string pos = created.Header("X-Log-Position");
  ASSERT_FALSE(pos.empty());
  auto read = reader.Get("/v1/users/alice?min_position=" + pos, admin);
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.json["email"], "alice@example.com");  // the person key reached the replica

  auto refused = reader.Post("/v1/policies", R"({"name":"nope"})", admin);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.json["error"]["code"], "log.read_only");

  // The writer dies: queries go on from the replica's views.
  writer->Stop(SIGKILL);
  EXPECT_EQ(reader.Get("/v1/users/alice", admin).status, 200);
  EXPECT_EQ(reader.Get("/healthz").status, 200);

  // A new writer with the same transactional id carries on the log.
  writer = std::make_unique<EngineProcess>(dir.Sub("writer2"), engine_args("writer"));
  ASSERT_THAT(writer->Start(60), IsOk());
  auto policy = writer->Post("/v1/policies", R"({"name":"After failover"})", admin);
  ASSERT_EQ(policy.status, 201) << policy.body << writer->LogText();
  auto listed = reader.Get("/v1/policies?min_position=" + policy.Header("X-Log-Position"), admin);
  ASSERT_EQ(listed.status, 200) << listed.body;
  ASSERT_EQ(listed.json["items"].size(), 1u);
  EXPECT_EQ(listed.json["items"][0]["name"], "After failover");
  auto audit = reader.Get("/v1/audit/verify", admin);
  EXPECT_EQ(audit.json["ok"], true) << audit.body;

  // Forgetting through the writer reaches the replica.
  auto forget = writer->Delete("/v1/users/alice?forget=true", admin);
  ASSERT_EQ(forget.status, 200) << forget.body;
  auto gone = reader.Get("/v1/users/alice?min_position=" + forget.Header("X-Log-Position"), admin);
  EXPECT_EQ(gone.status, 404) << gone.body;
  auto events = reader.Get("/v1/events?limit=1000", admin);
  EXPECT_EQ(events.body.find("alice@example.com"), std::string::npos);
}

}  // namespace
}  // namespace ae::testing

namespace ae::testing {
namespace {

// The engine does not start against an event topic that would lose events: it exits with
// log.topic_invalid, naming the setting.
TEST(KafkaTopics, TheEngineRefusesToStartOnACompactedEventTopic) {
  TempDir dir;
  KafkaDeployment kafka(dir);
  ASSERT_THAT(kafka.cluster().CreateTopic(kafka.topic(), KafkaDeployment::kPartitions, 3,
                                          {{"cleanup.policy", "compact"}}),
              IsOk());
  std::vector<std::string> args = {"serve", "--data-dir", dir.Sub("data"), "--listen",
                                   "127.0.0.1:0"};
  for (const auto& a : kafka.ServeArgs("writer")) args.push_back(a);
  auto r = RunTool(args, {}, 60);
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.err.find("log.topic_invalid"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cleanup.policy=compact"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("listening on"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ae::testing
