#pragma once
// KafkaLogHarness: a KafkaEventLog writer on librdkafka's in-process mock
// cluster (3 brokers, a topic of 3 partitions, so positions are partition-aware),
// with a restart on the same cluster and mirror directory. Used by the shared
// conformance suite and by tests/integration/kafka_event_log_test.cc.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "events/kafka_dev_cluster.h"
#include "events/kafka_event_log.h"
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

class KafkaLogHarness {
 public:
  static constexpr int kBrokers = 3;
  static constexpr int kPartitions = 3;
  static constexpr const char* kTopic = "autoenroll.events";

  KafkaLogHarness() {
    Status s = cluster_.Start(kBrokers);
    if (s.ok()) s = cluster_.CreateTopic(kTopic, kPartitions);
    if (s.ok()) s = Reopen();
    AE_CHECK_OK(s);
  }

  events::EventLog& log() { return *log_; }
  events::KafkaEventLog& kafka() { return *log_; }
  events::DevKafkaCluster& cluster() { return cluster_; }
  rd_kafka_mock_cluster_t* mock() { return cluster_.mock(); }

  // The writer's options; `cache` names its mirror directory under the
  // harness's temporary directory (other logs of a test use other names).
  events::KafkaEventLogOptions Options(const std::string& cache = "cache") const {
    events::KafkaEventLogOptions o;
    o.brokers = cluster_.bootstraps();
    o.topic = kTopic;
    o.partitions = kPartitions;
    o.cache_path = dir_.Sub(cache);
    return o;
  }

  // Closes the log (if open) and opens it again with the same options on the
  // same cluster and mirror directory.
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
  static void AE_CHECK_OK(const Status& s) { ASSERT_TRUE(s.ok()) << s.ToString(); }

  // Destroyed in reverse order: the log before the cluster it talks to,
  // the temporary directory (holding the mirror) last.
  TempDir dir_;
  events::DevKafkaCluster cluster_;
  std::unique_ptr<events::KafkaEventLog> log_;
};

}  // namespace ae::testing
