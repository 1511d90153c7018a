#pragma once
// KafkaCluster: the real Apache Kafka cluster (scripts/kafka, KRaft on loopback) that the
// Kafka tests run against. One cluster serves a whole test run: scripts/test and .ci/run
// start it once, and ctest's fixture `kafka.cluster.start` starts one in
// <build>/kafka-cluster when a Kafka test runs without one (`kafka.cluster.stop` stops it).
//
// Where the tests find it:
//   AE_KAFKA_BOOTSTRAP   bootstrap servers of a running cluster
//   AE_KAFKA_DIR         its scripts/kafka directory (needed by tests that kill brokers)
// When both are unset: the ctest fixture's cluster, <build>/kafka-cluster (from AE_BINARY).
// Without a cluster, Shared() throws, and the test fails with a message naming
// `scripts/kafka start`.
//
// Each test uses topics and transactional ids of its own (UniqueName), so tests never see
// each other's records. Tests that kill brokers restore the cluster (StartStopped, then
// WaitUntilHealthy) before they end; ctest runs the Kafka tests one at a time
// (RESOURCE_LOCK kafka_cluster).
//
// Thread-safety: Shared() may be called from any thread; the other methods from one test
// thread at a time.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "events/base/status.h"

namespace ae::testing {

// One record of a topic as any Kafka client sees it.
struct TopicRecord {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
};

struct PartitionLayout {
  int32_t leader = -1;
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
};

class KafkaCluster {
 public:
  // The run's cluster; throws std::runtime_error (which fails the test with its message)
  // when there is none.
  static KafkaCluster& Shared();

  const std::string& bootstrap() const { return bootstrap_; }
  const std::string& dir() const { return dir_; }  // "" when only AE_KAFKA_BOOTSTRAP is known

  // A name no other test of any run on this cluster uses: "<prefix>-<pid>-<n>-<random>".
  static std::string UniqueName(const std::string& prefix);

  // Admin requests (librdkafka).
  Status CreateTopic(const std::string& name, int partitions, int replication_factor,
                     const std::map<std::string, std::string>& configs = {});
  Status DeleteTopic(const std::string& name);
  Status AddPartitions(const std::string& name, int total);  // CreatePartitions
  // partition -> layout; kNotFound when the topic does not exist.
  Result<std::map<int32_t, PartitionLayout>> Describe(const std::string& topic);
  // The topic's configuration as the brokers report it.
  Result<std::map<std::string, std::string>> TopicConfig(const std::string& topic);

  // Node control through scripts/kafka (needs dir()).
  Result<std::set<int32_t>> RunningNodes();   // node ids whose JVM runs
  Status Kill(int32_t node);                  // kill -9 of that node's JVM
  Status Signal(int32_t node, int sig);       // e.g. SIGSTOP / SIGCONT: a node that hangs
  Status StartStopped();                      // `scripts/kafka start`: revives killed nodes
  // Every node runs and registered, and every partition of every topic (the internal ones
  // included) has its whole replica set in sync.
  Status WaitUntilHealthy(int timeout_s = 120);

 private:
  KafkaCluster(std::string bootstrap, std::string dir)
      : bootstrap_(std::move(bootstrap)), dir_(std::move(dir)) {}
  Status Script(const std::string& args, std::string* out = nullptr) const;

  std::string bootstrap_;
  std::string dir_;
};

// The partitions of `topic` on the cluster at `bootstrap` (kNotFound when it does not exist).
Result<std::map<int32_t, PartitionLayout>> DescribeTopic(const std::string& bootstrap,
                                                         const std::string& topic);

// Reads a whole topic, up to each partition's end as it is when called, with a plain
// librdkafka consumer of `isolation` ("read_committed" or "read_uncommitted"): no code of
// ours is involved. Records come in partition order, then offset order.
std::vector<TopicRecord> ReadTopic(const std::string& bootstrap, const std::string& topic,
                                   const std::string& isolation = "read_committed");

// Per partition: the end a read_committed reader sees (the last stable offset) and the high
// watermark (records of open transactions included).
struct PartitionEnds {
  int64_t stable = -1;
  int64_t high = -1;
};
Result<std::map<int32_t, PartitionEnds>> TopicEnds(const std::string& bootstrap,
                                                   const std::string& topic, int partitions);

// Runs `command` with /bin/sh; returns its exit code and sets *out to its standard output.
int RunShell(const std::string& command, std::string* out = nullptr, int timeout_s = 120);

}  // namespace ae::testing
