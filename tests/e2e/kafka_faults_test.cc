// Kafka faults through the binary: a cluster that stops answering (its process
// stopped with SIGSTOP, so connections hang rather than close), then resumes.
// Appends fail with 503 log.unavailable within the append timeout, reads go on from
// the views, and after the cluster returns nothing is lost or duplicated: in the
// topic (read back by a fresh query replica that builds its views from it) or in
// the writer's views. The librdkafka-level faults (leader change, request errors,
// a fenced writer, lost acknowledgements) are in tests/integration/kafka_event_log_test.cc.

#include <chrono>
#include <fstream>
#include <set>

#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;

std::string UserBody(const std::string& name) {
  return json{{"username", name}, {"role", "device_user"}}.dump();
}

std::set<std::string> Usernames(EngineProcess& engine, const std::string& admin) {
  std::set<std::string> out;
  auto page = engine.Get("/v1/users?limit=1000", admin);
  for (const auto& u : page.json["items"]) out.insert(u.value("username", ""));
  return out;
}

TEST(KafkaFaults, AStalledClusterFails503ThenRecoversWithNothingLostOrDuplicated) {
  TempDir dir;
  ChildProcess kafka;
  auto bootstrap = kafka.Start({"dev-kafka", "--brokers", "3"}, "bootstrap: ");
  ASSERT_THAT(bootstrap, IsOk());
  const std::string key_file = dir.Sub("master-key");
  {
    std::ofstream(key_file) << std::string(64, 'b') << "\n";
  }
  auto args = [&](const std::string& role) {
    return std::vector<std::string>{"--kafka-brokers", *bootstrap, "--role", role,
                                    "--master-key-file", key_file,
                                    "--kafka-append-timeout-ms", "3000",
                                    "-X", "reconnect.backoff.max.ms=200",
                                    "-X", "socket.timeout.ms=2000"};
  };
  EngineProcess writer(dir.Sub("writer"), args("writer"));
  ASSERT_THAT(writer.Start(60), IsOk());
  const std::string admin = writer.AdminToken();

  std::set<std::string> accepted;
  for (int i = 0; i < 10; ++i) {
    const std::string name = "before" + std::to_string(i);
    auto r = writer.Post("/v1/users", UserBody(name), admin);
    ASSERT_EQ(r.status, 201) << r.body;
    accepted.insert(name);
  }

  // The cluster stops answering: appends fail with a clear 503, queries go on.
  kafka.Signal(SIGSTOP);
  auto stalled = writer.Post("/v1/users", UserBody("stalled"), admin);
  kafka.Signal(SIGCONT);  // before any assertion can return early
  EXPECT_EQ(stalled.status, 503) << stalled.body;
  EXPECT_EQ(stalled.json["error"]["code"], "log.unavailable") << stalled.body;
  kafka.Signal(SIGSTOP);
  auto read = writer.Get("/v1/users/before3", admin);
  EXPECT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(writer.Get("/healthz").status, 200);

  // The cluster returns: the refused request, sent again, is created once.
  kafka.Signal(SIGCONT);
  int last_status = 0;
  ASSERT_TRUE(WaitFor([&] {
    last_status = writer.Post("/v1/users", UserBody("stalled"), admin).status;
    return last_status == 201 || last_status == 409;
  }, std::chrono::seconds(60))) << last_status;
  accepted.insert("stalled");
  for (int i = 0; i < 10; ++i) {
    const std::string name = "after" + std::to_string(i);
    auto r = writer.Post("/v1/users", UserBody(name), admin);
    ASSERT_EQ(r.status, 201) << r.body;
    accepted.insert(name);
  }

  // Every accepted user once in the writer's views and in the topic's events.
  std::set<std::string> expected = accepted;
  expected.insert("admin");
  EXPECT_EQ(Usernames(writer, admin), expected);
  auto events = writer.Get("/v1/events?type=UserCreated&limit=1000", admin);
  ASSERT_EQ(events.status, 200) << events.body;
  std::set<std::string> streams;
  for (const auto& e : events.json["items"]) {
    EXPECT_TRUE(streams.insert(e.value("stream", "")).second) << "created twice: " << e.dump();
  }
  EXPECT_EQ(streams.size(), expected.size());
  auto audit = writer.Get("/v1/audit/verify", admin);
  EXPECT_EQ(audit.json["ok"], true) << audit.body;

  // A fresh replica builds its views from the topic alone: the same users.
  EngineProcess replica(dir.Sub("replica"), args("reader"));
  ASSERT_THAT(replica.Start(60), IsOk());
  std::set<std::string> seen;
  EXPECT_TRUE(WaitFor([&] {
    seen = Usernames(replica, admin);
    return seen == expected;
  }, std::chrono::seconds(30)));
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(replica.Get("/v1/audit/verify", admin).json["ok"], true);
}

}  // namespace
}  // namespace ae::testing
