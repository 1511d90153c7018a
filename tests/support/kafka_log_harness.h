#pragma once
// Kafka log harnesses, with a restart on the same cluster and mirror directory:
//
// KafkaLogHarness: a KafkaEventLog writer on the run's real Apache Kafka cluster
// (tests/support/kafka_cluster.h), on a topic and transactional id of its own that the
// writer creates as in production (3 partitions, so positions are partition-aware;
// replication factor 3 and min.insync.replicas 2 on the 3-node test cluster). The topic is
// deleted when the harness goes. Used by the shared conformance suite and
// tests/integration/kafka_event_log_test.cc.
//
// KafkaMockLogHarness: the same on librdkafka's in-process mock cluster (3 brokers), for the
// errors a real broker cannot be made to give (tests/integration/kafka_mock_test.cc).
//
// A harness that cannot open its log throws std::runtime_error: the test fails with the
// reason (for the real cluster, how to start one).

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "events/kafka_dev_cluster.h"
#include "events/kafka_event_log.h"
#include "tests/support/kafka_cluster.h"
#include "tests/support/test_support.h"

namespace ae::testing {

// Kafka protocol request types (ApiKey) for rd_kafka_mock_push_request_errors;
// librdkafka keeps its names for them in a private header.
namespace kafka_api {
inline constexpr int16_t kProduce = 0;
inline constexpr int16_t kFetch = 1;
inline constexpr int16_t kListOffsets = 2;
inline constexpr int16_t kMetadata = 3;
inline constexpr int16_t kInitProducerId = 22;
inline constexpr int16_t kAddPartitionsToTxn = 24;
inline constexpr int16_t kEndTxn = 26;
}  // namespace kafka_api

inline void ThrowIfError(const Status& s) {
  if (!s.ok()) throw std::runtime_error(s.ToString());
}

class KafkaLogHarness {
 public:
  static constexpr int kPartitions = 3;

  KafkaLogHarness()
      : cluster_(KafkaCluster::Shared()),
        topic_(KafkaCluster::UniqueName("ae-log")),
        transactional_id_(KafkaCluster::UniqueName("ae-writer")) {
    ThrowIfError(Reopen());
  }
  ~KafkaLogHarness() {
    log_.reset();
    (void)cluster_.DeleteTopic(topic_);  // best effort: the topic is this harness's alone
  }

  events::EventLog& log() { return *log_; }
  events::KafkaEventLog& kafka() { return *log_; }
  KafkaCluster& cluster() { return cluster_; }
  const std::string& topic() const { return topic_; }

  // The writer's options; `cache` names its mirror directory under the harness's temporary
  // directory (other logs of a test use other names).
  events::KafkaEventLogOptions Options(const std::string& cache = "cache") const {
    events::KafkaEventLogOptions o;
    o.brokers = cluster_.bootstrap();
    o.topic = topic_;
    o.partitions = kPartitions;
    o.transactional_id = transactional_id_;
    o.cache_path = dir_.Sub(cache);
    // The first transactional writer of a fresh cluster waits for the transaction log's
    // partitions to load; a busy machine needs more than the default 10 s.
    o.append_timeout = std::chrono::seconds(30);
    return o;
  }

  // Closes the log (if open) and opens it again with the same options on the same cluster
  // and mirror directory.
  Status Reopen() { return Reopen(Options()); }
  Status Reopen(const events::KafkaEventLogOptions& options) {
    log_.reset();
    auto r = events::KafkaEventLog::Open(options);
    if (!r.ok()) return r.status();
    log_ = std::move(r).value();
    return Status::Ok();
  }
  void Close() { log_.reset(); }

  // Another log (a second writer, a replica) on the same cluster.
  Result<std::unique_ptr<events::KafkaEventLog>> OpenAnother(
      const events::KafkaEventLogOptions& options) {
    return events::KafkaEventLog::Open(options);
  }

  std::string CachePath(const std::string& cache = "cache") const { return dir_.Sub(cache); }

 private:
  // Destroyed in reverse order: the log first, the temporary directory (the mirror) last.
  TempDir dir_;
  KafkaCluster& cluster_;
  std::string topic_;
  std::string transactional_id_;
  std::unique_ptr<events::KafkaEventLog> log_;
};

class KafkaMockLogHarness {
 public:
  static constexpr int kBrokers = 3;
  static constexpr int kPartitions = 3;
  static constexpr const char* kTopic = "autoenroll.events";

  KafkaMockLogHarness() {
    Status s = cluster_.Start(kBrokers);
    if (s.ok()) s = cluster_.CreateTopic(kTopic, kPartitions);
    if (s.ok()) s = Reopen();
    ThrowIfError(s);
  }

  events::EventLog& log() { return *log_; }
  events::KafkaEventLog& kafka() { return *log_; }
  events::DevKafkaCluster& cluster() { return cluster_; }
  rd_kafka_mock_cluster_t* mock() { return cluster_.mock(); }

  events::KafkaEventLogOptions Options(const std::string& cache = "cache") const {
    events::KafkaEventLogOptions o;
    o.brokers = cluster_.bootstraps();
    o.topic = kTopic;
    o.partitions = kPartitions;
    o.cache_path = dir_.Sub(cache);
    return o;
  }

  Status Reopen() { return Reopen(Options()); }
  Status Reopen(const events::KafkaEventLogOptions& options) {
    log_.reset();
    auto r = events::KafkaEventLog::Open(options);
    if (!r.ok()) return r.status();
    log_ = std::move(r).value();
    return Status::Ok();
  }
  void Close() { log_.reset(); }

 private:
  // Destroyed in reverse order: the log before the cluster it talks to, the temporary
  // directory (holding the mirror) last.
  TempDir dir_;
  events::DevKafkaCluster cluster_;
  std::unique_ptr<events::KafkaEventLog> log_;
};

}  // namespace ae::testing
