// Kafka faults through the binary, on the run's real 3-node cluster: kill -9 of the leader
// broker during a burst of commands, the whole cluster killed and started again, and kill -9
// of the engine in the middle of a transaction. Clients do what a client of the API does:
// a command answered 503 log.unavailable (or not answered at all) is sent again until it is
// answered 201, or 409 when an earlier attempt had landed after all. Afterwards the topic
// holds each command's event exactly once (read by a plain Kafka consumer), the views equal
// a fresh replay of the topic, and the hash chain verifies. The tests restore the cluster
// before they end, also when they fail.
// (librdkafka-level faults a broker cannot be made to give are in
// tests/integration/kafka_mock_test.cc.)

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/e2e/kafka_e2e.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Brings every killed node back and waits for a healthy cluster when it goes out of scope.
struct RestoreCluster {
  KafkaCluster& cluster;
  ~RestoreCluster() {
    Status s = cluster.StartStopped();
    if (s.ok()) s = cluster.WaitUntilHealthy(180);
    EXPECT_THAT(s, IsOk()) << "the shared cluster could not be restored";
  }
};

// What happened to the commands of a burst.
struct BurstTally {
  std::mutex mu;
  std::set<std::string> done;     // usernames answered 201 or 409 in the end
  int created = 0;                // 201
  int landed_earlier = 0;         // 409 after a 503 or no answer: an earlier attempt landed
  int unavailable = 0;            // 503 log.unavailable (then sent again)
  int no_answer = 0;              // the engine was gone (then sent again)
  std::vector<std::string> wrong;  // any other answer
  int imports = 0;                // Knox imports answered 200
  std::vector<std::string> import_answers;
  std::atomic<bool> abandon{false};  // set when the test ends early: the clients stop
};

// Joins the clients when the test ends, also when an assertion ends it early (then they are
// told to stop first).
struct JoinClients {
  BurstTally& tally;
  std::vector<std::thread>& clients;
  ~JoinClients() {
    tally.abandon = true;
    for (auto& t : clients) {
      if (t.joinable()) t.join();
    }
  }
};

// Creates users `prefix`-0 .. `prefix`-(count-1), one at a time, sending each again after a
// 503 log.unavailable or a lost connection, until 201 or 409 (or `deadline`). `port` is read
// anew for every attempt (the engine may be restarted on another port).
void CreateUsers(const std::function<int()>& port, const std::string& token,
                 const std::string& prefix, int count, BurstTally& tally,
                 std::chrono::steady_clock::time_point deadline) {
  for (int i = 0; i < count; ++i) {
    const std::string name = prefix + "-" + std::to_string(i);
    const std::string body = json{{"username", name}, {"role", "device_user"}}.dump();
    bool retried = false;
    while (std::chrono::steady_clock::now() < deadline && !tally.abandon) {
      auto r = CallLoopback(port(), "POST", "/v1/users", body,
                            {{"Authorization", "Bearer " + token}});
      std::lock_guard lock(tally.mu);
      if (r.status == 201 || (r.status == 409 && retried)) {
        (r.status == 201 ? tally.created : tally.landed_earlier)++;
        tally.done.insert(name);
        break;
      }
      if (r.status == 503 && r.json.is_object() && r.json["error"]["code"] == "log.unavailable") {
        ++tally.unavailable;
      } else if (r.status <= 0) {
        ++tally.no_answer;
      } else {
        tally.wrong.push_back(name + ": " + std::to_string(r.status) + " " + r.body);
        break;
      }
      retried = true;
      std::this_thread::sleep_for(milliseconds(50));  // a client's pause before it retries
    }
  }
}

// A Knox portal export of `rows` devices with IMEIs of their own (file `file`).
std::string KnoxExport(int file, int rows) {
  std::string csv = "IMEI,Serial Number,Model\r\n";
  for (int i = 0; i < rows; ++i) {
    std::string imei = std::to_string(350000000000000ULL / 10 + file * 100000ULL + i);
    int sum = 0;  // Luhn check digit
    for (size_t k = 0; k < imei.size(); ++k) {
      int d = imei[imei.size() - 1 - k] - '0';
      if (k % 2 == 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
      sum += d;
    }
    imei += std::to_string((10 - sum % 10) % 10);
    char serial[24];
    std::snprintf(serial, sizeof serial, "R58K%08d", file * 100000 + i);
    csv += imei + "," + serial + ",SM-A536B\r\n";
  }
  return csv;
}

// Imports files 0 .. files-1 of `rows` devices one after the other, each sent again after a
// 503 log.unavailable or a lost connection until it is answered 200 (a re-import of what
// had landed changes nothing). Large imports make long transactions (1000 devices each).
void ImportFiles(const std::function<int()>& port, const std::string& token, int files, int rows,
                 BurstTally& tally, std::chrono::steady_clock::time_point deadline) {
  for (int f = 0; f < files; ++f) {
    const std::string csv = KnoxExport(f, rows);
    while (std::chrono::steady_clock::now() < deadline && !tally.abandon) {
      auto r = CallLoopback(port(), "POST", "/v1/kme/imports", csv,
                            {{"Authorization", "Bearer " + token}}, "text/csv");
      std::lock_guard lock(tally.mu);
      if (r.status == 200) {
        ++tally.imports;
        tally.import_answers.push_back(r.body.substr(0, 400));
        break;
      }
      if (r.status == 503 && r.json.is_object() && r.json["error"]["code"] == "log.unavailable") {
        ++tally.unavailable;
      } else if (r.status <= 0) {
        ++tally.no_answer;
      } else {
        tally.wrong.push_back("import " + std::to_string(f) + ": " + std::to_string(r.status) +
                              " " + r.body.substr(0, 300));
        break;
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
}

// Every user of `tally` is in the views once, its UserCreated is in the topic exactly once,
// nothing else was created, and after the engine stops its views equal a fresh replay.
void ExpectExactlyTheAcknowledgedUsers(KafkaDeployment& kafka, EngineProcess& engine,
                                       const std::string& admin, BurstTally& tally, int commands,
                                       const TempDir& dir, int devices = 0) {
  EXPECT_TRUE(tally.wrong.empty()) << tally.wrong.front();
  EXPECT_EQ(tally.done.size(), static_cast<size_t>(commands)) << "a command never succeeded";
  std::set<std::string> in_views;
  auto page = engine.Get("/v1/users?limit=1000", admin);
  ASSERT_EQ(page.status, 200) << page.body;
  for (const auto& u : page.json["items"]) in_views.insert(u.value("username", ""));
  std::set<std::string> expected = tally.done;
  expected.insert("admin");
  EXPECT_EQ(in_views, expected);
  const auto in_topic = kafka.InTopic("user_created");
  EXPECT_EQ(in_topic.size(), expected.size()) << "events acknowledged vs found in the topic";
  for (const auto& [stream, n] : in_topic) EXPECT_EQ(n, 1) << stream << " is in the topic twice";
  if (devices > 0) {
    const auto imported = kafka.InTopic("kme_device_imported");
    EXPECT_EQ(imported.size(), static_cast<size_t>(devices))
        << "devices imported vs found; the imports answered:\n"
        << [&] {
             std::string all;
             for (const auto& a : tally.import_answers) all += a + "\n";
             return all;
           }();
    for (const auto& [stream, n] : imported) EXPECT_EQ(n, 1) << stream << " imported twice";
    std::printf("imported %zu devices in %d imports\n", imported.size(), tally.imports);
  }
  EXPECT_EQ(engine.Get("/v1/audit/verify", admin).json["ok"], true);
  ASSERT_EQ(engine.Stop(SIGTERM), 0);
  kafka.ExpectViewsEqualAFreshReplayAndTheChainVerifies(engine.data_dir(), dir.Sub("replayed"));
  std::printf("acknowledged %zu users (201: %d, 409 after a retry: %d), %d answers 503 "
              "log.unavailable, %d without answer; UserCreated in the topic: %zu\n",
              tally.done.size(), tally.created, tally.landed_earlier, tally.unavailable,
              tally.no_answer, in_topic.size() - 1);
}

TEST(KafkaFaults, KillingTheLeaderBrokerMidBurstLosesNoAcknowledgedCommand) {
  TempDir dir;
  KafkaDeployment kafka(dir);
  KafkaCluster& cluster = kafka.cluster();
  ASSERT_THAT(cluster.WaitUntilHealthy(), IsOk());
  RestoreCluster restore{cluster};
  EngineProcess writer(dir.Sub("writer"), kafka.ServeArgs("writer", {"-X",
                                                                     "reconnect.backoff.max.ms=500"}));
  ASSERT_THAT(writer.Start(120), IsOk());
  const std::string admin = writer.AdminToken();

  constexpr int kClients = 6, kPerClient = 40;
  BurstTally tally;
  const auto deadline = std::chrono::steady_clock::now() + seconds(300);
  std::vector<std::thread> clients;
  JoinClients join{tally, clients};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      CreateUsers([&] { return writer.port(); }, admin, "leader-" + std::to_string(c),
                  kPerClient, tally, deadline);
    });
  }
  // A quarter into the burst, the leader of partition 0 of the event topic dies.
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(tally.mu);
    return tally.done.size() >= kClients * kPerClient / 4;
  }, seconds(120)));
  auto layout = cluster.Describe(kafka.topic());
  ASSERT_THAT(layout, IsOk());
  const int32_t leader = layout->at(0).leader;
  ASSERT_THAT(cluster.Kill(leader), IsOk());
  // It comes back once the burst has gone on without it for a while.
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(tally.mu);
    return tally.done.size() >= kClients * kPerClient * 3 / 4 || tally.unavailable > 0;
  }, seconds(180)));
  ASSERT_THAT(cluster.StartStopped(), IsOk());
  for (auto& t : clients) t.join();
  ASSERT_THAT(cluster.WaitUntilHealthy(180), IsOk());
  std::printf("killed broker %d (leader of partition 0)\n", leader);
  ExpectExactlyTheAcknowledgedUsers(kafka, writer, admin, tally, kClients * kPerClient, dir);
}

TEST(KafkaFaults, TheWholeClusterDownAndBackLosesNoAcknowledgedCommand) {
  TempDir dir;
  KafkaDeployment kafka(dir);
  KafkaCluster& cluster = kafka.cluster();
  ASSERT_THAT(cluster.WaitUntilHealthy(), IsOk());
  RestoreCluster restore{cluster};
  EngineProcess writer(dir.Sub("writer"),
                       kafka.ServeArgs("writer", {"--kafka-append-timeout-ms", "5000", "-X",
                                                  "reconnect.backoff.max.ms=500"}));
  ASSERT_THAT(writer.Start(120), IsOk());
  const std::string admin = writer.AdminToken();

  BurstTally tally;
  auto port = [&] { return writer.port(); };
  CreateUsers(port, admin, "before", 20, tally, std::chrono::steady_clock::now() + seconds(120));
  auto nodes = cluster.RunningNodes();
  ASSERT_THAT(nodes, IsOk());
  for (int32_t n : *nodes) ASSERT_THAT(cluster.Kill(n), IsOk());

  // Down: a command answers 503 log.unavailable within the append timeout; queries go on.
  auto during = writer.Post("/v1/users", R"({"username":"during-0","role":"device_user"})",
                            admin);
  EXPECT_EQ(during.status, 503) << during.body;
  EXPECT_EQ(during.json["error"]["code"], "log.unavailable") << during.body;
  EXPECT_EQ(writer.Get("/v1/users/before-3", admin).status, 200);
  EXPECT_EQ(writer.Get("/healthz").status, 200);

  // Back: the refused command, sent again, lands once; new commands work.
  ASSERT_THAT(cluster.StartStopped(), IsOk());
  const auto deadline = std::chrono::steady_clock::now() + seconds(240);
  CreateUsers(port, admin, "during", 1, tally, deadline);
  CreateUsers(port, admin, "after", 20, tally, deadline);
  ASSERT_THAT(cluster.WaitUntilHealthy(180), IsOk());
  std::printf("killed all %zu nodes, started them again\n", nodes->size());
  ExpectExactlyTheAcknowledgedUsers(kafka, writer, admin, tally, 41, dir);
}

// Whether a transaction holds back a partition: records past its last stable offset.
bool TransactionOpen(const KafkaDeployment& kafka) {
  auto ends = TopicEnds(kafka.cluster().bootstrap(), kafka.topic(), KafkaDeployment::kPartitions);
  if (!ends.ok()) return false;
  for (const auto& [p, e] : *ends) {
    if (e.high > e.stable) return true;
  }
  return false;
}

// kill -9 of the engine while clients keep it busy, in the middle of a transaction: one
// broker is paused (SIGSTOP), so the engine's transaction cannot complete; the engine dies;
// the broker resumes, and the records the engine had produced become part of the topic as a
// transaction left open (records past the last stable offset). The restarted writer, with
// the same transactional.id, aborts it: none of its records is ever read, and each command
// lands once.
TEST(KafkaFaults, KillingTheEngineMidTransactionLeavesNoHalfTransactionVisible) {
  TempDir dir;
  KafkaDeployment kafka(dir);
  KafkaCluster& cluster = kafka.cluster();
  ASSERT_THAT(cluster.WaitUntilHealthy(), IsOk());
  auto engine = std::make_unique<EngineProcess>(dir.Sub("writer"), kafka.ServeArgs("writer"));
  ASSERT_THAT(engine->Start(120), IsOk());
  const std::string admin = engine->AdminToken();
  std::atomic<int> port{engine->port()};

  // Rounds go on until two kills left a transaction open (at most kMaxRounds): a kill leaves
  // one open only when the engine had produced into it during the pause.
  constexpr int kMaxRounds = 8, kClients = 4, kPerClient = 60, kImports = 6, kImportRows = 3000;
  int rounds = 0;
  BurstTally tally;
  int left_open = 0;
  struct Range {
    int32_t partition;
    int64_t from, to;  // the offsets [from, to) of a transaction the dead writer left open
  };
  std::vector<Range> half_transactions;
  const auto deadline = std::chrono::steady_clock::now() + seconds(420);
  std::vector<std::thread> clients;
  JoinClients join{tally, clients};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      CreateUsers([&] { return port.load(); }, admin, "engine-" + std::to_string(c),
                  kPerClient, tally, deadline);
    });
  }
  clients.emplace_back([&] {
    ImportFiles([&] { return port.load(); }, admin, kImports, kImportRows, tally, deadline);
  });
  for (int round = 0; round < kMaxRounds && left_open < 2; ++round, ++rounds) {
    const size_t target = (round + 1) * kClients * kPerClient / (kMaxRounds + 2);
    ASSERT_TRUE(WaitFor([&] {
      std::lock_guard lock(tally.mu);
      return tally.done.size() >= target;
    }, seconds(120)));
    // Pause a leader of the event topic that is not the writer's transaction coordinator (the
    // leader of the __transaction_state partition its transactional.id hashes to, as Kafka
    // places it: Java's String.hashCode, masked positive, mod the partition count).
    auto coordinators = cluster.Describe("__transaction_state");
    auto leaders = cluster.Describe(kafka.topic());
    ASSERT_THAT(coordinators, IsOk());
    ASSERT_THAT(leaders, IsOk());
    uint32_t hash = 0;  // String.hashCode of an ASCII string, in unsigned arithmetic
    for (unsigned char ch : kafka.transactional_id()) hash = 31 * hash + ch;
    const int32_t coordinator =
        coordinators->at(static_cast<int32_t>((hash & 0x7fffffffu) % coordinators->size())).leader;
    // Nor the leader of the person-key topic, which user commands write first.
    auto keys = cluster.Describe(kafka.topic() + ".keys");
    const int32_t keys_leader = keys.ok() ? keys->at(0).leader : -1;
    int32_t paused = -1;
    for (bool spare_keys : {true, false}) {
      for (int k = 0; k < KafkaDeployment::kPartitions && paused < 0; ++k) {
        const int32_t leader = leaders->at((round + k) % KafkaDeployment::kPartitions).leader;
        if (leader != coordinator && (!spare_keys || leader != keys_leader)) paused = leader;
      }
    }
    ASSERT_GT(paused, 0) << "every partition is led by the coordinator";
    ASSERT_THAT(cluster.Signal(paused, SIGSTOP), IsOk());
    // The engine goes on producing into its open transaction; what it sends sits beyond the
    // high watermark (the paused replica has not fetched it), where no client can see it:
    // give it a moment, which cannot be awaited.
    std::this_thread::sleep_for(milliseconds(1000));
    EXPECT_EQ(engine->Stop(SIGKILL), -SIGKILL);
    ASSERT_THAT(cluster.Signal(paused, SIGCONT), IsOk());
    // Its records reach the high watermark; with no writer to end the transaction, they stay
    // past the last stable offset.
    if (WaitFor([&] { return TransactionOpen(kafka); }, seconds(15))) {
      ++left_open;
      auto ends = TopicEnds(cluster.bootstrap(), kafka.topic(), KafkaDeployment::kPartitions);
      ASSERT_THAT(ends, IsOk());
      for (const auto& [p, e] : *ends) {
        if (e.high > e.stable) half_transactions.push_back({p, e.stable, e.high});
      }
    }
    engine = std::make_unique<EngineProcess>(dir.Sub("writer"), kafka.ServeArgs("writer"));
    ASSERT_THAT(engine->Start(120), IsOk());
    port = engine->port();
    // The new writer settled it: nothing is left hanging.
    EXPECT_TRUE(WaitFor([&] { return !TransactionOpen(kafka); }, seconds(30)))
        << "a transaction of the dead writer is still open";
  }
  for (auto& t : clients) t.join();
  // Whether a kill leaves a transaction open depends on where the dead writer was; the
  // kills that did are checked below, and KafkaEventLog.AbortedAndOpenTransactionsAreNeverRead
  // leaves one open on purpose. Every kill is checked for lost and doubled commands.
  std::printf("%d kills of the engine, %d of them left a transaction open\n", rounds, left_open);
  // None of the records of those transactions is ever read.
  for (const auto& r : ReadTopic(kafka.cluster().bootstrap(), kafka.topic())) {
    for (const Range& h : half_transactions) {
      EXPECT_FALSE(r.partition == h.partition && r.offset >= h.from && r.offset < h.to)
          << "record " << r.partition << ":" << r.offset << " of a half transaction was read";
    }
  }
  EXPECT_EQ(tally.imports, kImports);
  ExpectExactlyTheAcknowledgedUsers(kafka, *engine, admin, tally, kClients * kPerClient, dir,
                                    kImports * kImportRows);
}

}  // namespace
}  // namespace ae::testing
