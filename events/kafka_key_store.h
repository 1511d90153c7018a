#pragma once
// KafkaKeyBackend: person keys in a compacted Kafka topic shared by every
// process of a deployment (the writer and its query replicas), so that each
// can open the personal data in the events while a forgotten person's key is
// gone everywhere.
//
// The same class keeps the API token verifiers in "<events topic>.tokens"
// (api/api_tokens.h), under a sealing key of their own.
//
// Topic "<events topic>.keys", one partition, cleanup.policy=compact (the writer
// creates it so, replicated like the event topic, and Open refuses a topic that is not
// compacted: kFailedPrecondition "log.topic_invalid"). Record
// key = subject id; value = the person key sealed with AES-256-GCM under a key
// derived from the master key (bound to the subject id); a tombstone (null
// value) forgets the person. Keys are held in memory only: nothing of them is
// written to the data dir.
//
// Threads: one consumer thread owned by this object feeds the map; Put and
// Destroy (writer only) produce synchronously. Every method is thread-safe.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "events/secret_store.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace ae::events {

struct KafkaKeyBackendOptions {
  std::string brokers;
  std::string topic = "autoenroll.events.keys";
  bool writer = true;                             // replicas only read
  std::string sealing_key;                        // 32 bytes, derived from the master key
  std::map<std::string, std::string> properties;  // librdkafka pass-through (-X)
  std::chrono::milliseconds timeout{10000};        // bounds Open and each Get, Put and Destroy
  // Replication of the topic the writer creates, and the least it accepts of an existing one
  // (see events/kafka_topic_admin.h).
  int replication_factor = 3;
  int min_insync_replicas = 2;
};

class KafkaKeyBackend : public KeyBackend {
 public:
  static Result<std::unique_ptr<KafkaKeyBackend>> Open(const KafkaKeyBackendOptions& options);
  ~KafkaKeyBackend() override;

  // On a miss, waits (bounded) until the consumer has read the topic to its
  // current end, so a key produced before this call is seen.
  Result<std::optional<std::string>> Get(const std::string& subject_id) override;
  Status Put(const std::string& subject_id, const std::string& key) override;
  // Produces every record, then waits for them together (one flush).
  Status PutMany(const std::vector<std::pair<std::string, std::string>>& keys) override;
  Status Destroy(const std::string& subject_id) override;

  // Raises a fatal error in the writer's idempotent producer, as the broker can (for example a
  // sequence gap after a lost leader); the next write replaces the producer. For tests.
  Status FailProducerForTest();

 private:
  explicit KafkaKeyBackend(KafkaKeyBackendOptions options) : options_(std::move(options)) {}
  // Each call is bounded by one deadline (options_.timeout from its start).
  using Deadline = std::chrono::steady_clock::time_point;
  Deadline NewDeadline() const { return std::chrono::steady_clock::now() + options_.timeout; }
  Status Produce(const std::string& subject_id, const std::string* sealed, Deadline deadline);
  // `records`: (subject id, sealed value or nullptr for a tombstone).
  Status ProduceMany(const std::vector<std::pair<std::string, const std::string*>>& records,
                     Deadline deadline);
  Status ProduceOnce(const std::vector<std::pair<std::string, const std::string*>>& records,
                     Deadline deadline);  // under produce_mu_
  Status CatchUp(Deadline deadline);
  // A new idempotent producer in place of producer_ (destroyed first, when there is one).
  Status NewProducer();
  void ConsumeLoop(std::stop_token stop);

  KafkaKeyBackendOptions options_;
  rd_kafka_t* producer_ = nullptr;  // writer only
  rd_kafka_t* consumer_ = nullptr;
  std::mutex produce_mu_;  // one key record in flight at a time
  std::mutex mu_;
  std::condition_variable advanced_;
  std::unordered_map<std::string, std::string> keys_;  // guarded by mu_
  int64_t next_offset_ = 0;                            // guarded by mu_
  std::jthread thread_;  // last: stopped before the handles above are destroyed
};

}  // namespace ae::events
