#pragma once
// The topics of the Kafka mode: created with the settings the log's guarantees need, and
// checked before use, through librdkafka's Admin API (CreateTopics, DescribeConfigs) and
// the cluster's metadata. Shared by KafkaEventLog (the event topic) and KafkaKeyBackend
// (the person-key topic).
//
// What each kind of topic must be:
//   events  cleanup.policy=delete with retention.ms=-1 and retention.bytes=-1: the log is
//           kept whole (compaction or retention would delete events, and with them replay
//           and the hash chain); and, for the writer, exactly the configured partition
//           count (a stream's partition is FNV-1a(stream) mod the count).
//   keys    cleanup.policy=compact (a person key is superseded only by its tombstone).
// For the writer (check_durability) both must also be safe to acknowledge: replication
// factor >= min(configured, brokers), min.insync.replicas >= min(configured, that factor)
// and <= the factor, unclean.leader.election.enable=false.
// A topic that breaks any of these is refused with kFailedPrecondition "log.topic_invalid",
// whose message names the topic, the setting, and how to fix it.
//
// Thread-safety: the functions use the given handle only for Admin and metadata requests
// on temporary queues; any thread may call them.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "events/base/status.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace ae::events::internal {

struct KafkaTopicSpec {
  std::string name;
  int32_t partitions = 1;
  // Capped to the brokers the cluster lists (a one-node development cluster), with a warning.
  int replication_factor = 3;
  int min_insync_replicas = 2;  // capped to the replication factor
  bool compacted = false;       // false: the event topic; true: the key topic
  bool create = false;          // create the topic when it does not exist
  bool allow_missing = false;   // a missing topic (not created) is no error: partitions = 0
  bool check_durability = false;  // the writer: replication, min ISR, unclean election
  bool check_partitions = false;  // the writer of the event topic: exactly `partitions`
};

struct KafkaTopicInfo {
  int32_t partitions = 0;
  int replication_factor = 0;  // the smallest replica count of its partitions
  bool created = false;        // this call created it (and waited until its partitions serve)
};

// Looks the topic up (creating it when spec.create and it is missing) and checks it. A
// topic it creates is returned once every partition's leader answers ListOffsets, so that
// the first produce or read does not meet UNKNOWN_TOPIC_OR_PART or NOT_LEADER.
// kUnavailable "log.unavailable" when the cluster does not answer before `deadline`, or the
// topic is missing and not to be created; kFailedPrecondition "log.topic_invalid" (see
// above) or "log.no_topic" (the cluster cannot create topics on request).
Result<KafkaTopicInfo> EnsureKafkaTopic(rd_kafka_t* rk, const KafkaTopicSpec& spec,
                                        std::chrono::steady_clock::time_point deadline);

}  // namespace ae::events::internal
