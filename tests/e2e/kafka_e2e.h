#pragma once
// One deployment of the engine in Kafka mode on the run's real cluster, for the e2e tests:
// a topic and transactional id of its own (3 partitions; replication factor 3 and
// min.insync.replicas 2, the engine's defaults), a master key shared by its writer and
// replicas, and the checks that nothing acknowledged was lost or doubled.

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "tests/support/engine_process.h"
#include "tests/support/kafka_cluster.h"
#include "tests/support/test_support.h"
#include "tests/support/view_compare.h"

namespace ae::testing {

class KafkaDeployment {
 public:
  explicit KafkaDeployment(const TempDir& dir)
      : cluster_(KafkaCluster::Shared()),
        topic_(KafkaCluster::UniqueName("ae-e2e")),
        transactional_id_(KafkaCluster::UniqueName("ae-e2e-writer")),
        key_file_(dir.Sub("master-key")) {
    std::ofstream(key_file_) << std::string(64, 'c') << "\n";
  }
  ~KafkaDeployment() {
    (void)cluster_.DeleteTopic(topic_);
    (void)cluster_.DeleteTopic(topic_ + ".keys");
  }

  KafkaCluster& cluster() const { return cluster_; }
  const std::string& topic() const { return topic_; }
  const std::string& transactional_id() const { return transactional_id_; }
  static constexpr int kPartitions = 3;

  // The log options of every command of this deployment (serve, replay, audit verify).
  std::vector<std::string> LogArgs() const {
    return {"--kafka-brokers", cluster_.bootstrap(), "--kafka-topic", topic_,
            "--kafka-partitions", std::to_string(kPartitions), "--kafka-transactional-id",
            transactional_id_, "--master-key-file", key_file_};
  }
  // `serve` options: the log's, the role, and `extra`.
  std::vector<std::string> ServeArgs(const std::string& role,
                                     const std::vector<std::string>& extra = {}) const {
    auto args = LogArgs();
    args.insert(args.end(), {"--role", role});
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // The records of the topic whose payload is `payload` (e.g. "user_created"), read with
  // read_committed by a plain Kafka consumer: stream -> how many times.
  std::map<std::string, int> InTopic(const std::string& payload) const {
    std::map<std::string, int> out;
    for (const auto& r : ReadTopic(cluster_.bootstrap(), topic_)) {
      events::Envelope env;
      EXPECT_TRUE(env.ParseFromString(r.value));
      const auto* oneof = env.GetDescriptor()->FindOneofByName("payload");
      const auto* field = env.GetReflection()->GetOneofFieldDescriptor(env, oneof);
      if (field && field->name() == payload) ++out[env.stream()];
    }
    return out;
  }

  // With the engine stopped: the views of `data_dir` equal views rebuilt from the topic by
  // `autoenroll replay --out`, and `autoenroll audit verify` finds the hash chain whole.
  void ExpectViewsEqualAFreshReplayAndTheChainVerifies(const std::string& data_dir,
                                                       const std::string& scratch) const {
    auto args = LogArgs();
    std::vector<std::string> replay = {"replay", "--data-dir", data_dir, "--out", scratch};
    replay.insert(replay.end(), args.begin(), args.end());
    auto r = RunTool(replay, {}, 300);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(DiffViewStores(LiveViewsDir(data_dir), scratch), "");
    std::vector<std::string> verify = {"audit", "verify", "--data-dir", data_dir};
    verify.insert(verify.end(), args.begin(), args.end());
    auto v = RunTool(verify, {}, 300);
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  }

 private:
  KafkaCluster& cluster_;
  std::string topic_;
  std::string transactional_id_;
  std::string key_file_;
};

}  // namespace ae::testing
