#pragma once
// DevKafkaCluster: librdkafka's in-process mock Kafka cluster, for tests and
// `autoenroll dev-kafka`. Its brokers listen on 127.0.0.1 (ephemeral ports).
//
// What the librdkafka 2.0.2 mock does NOT do (tests must not rely on it):
//   - CreateTopics (the Admin API): create topics with CreateTopic() instead;
//   - transaction isolation: records are readable as soon as they are produced,
//     aborted records stay readable, and there are no commit/abort markers;
//   - fencing: InitProducerId from a second producer with the same
//     transactional.id does not bump the first producer's epoch. Tests emulate
//     the broker's answer to the zombie with injected errors instead;
//   - TCP_NODELAY: a multi-partition commit takes ~43 ms (see PERFORMANCE.md).
//
// Thread-safety: Start() and the destructor must not race with other calls;
// the accessors and CreateTopic() may be called from any thread after Start().
// The raw handle may be used with the rd_kafka_mock_* functions from any thread.

#include <atomic>
#include <ostream>
#include <string>

#include "events/base/status.h"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace ae::events {

class DevKafkaCluster {
 public:
  DevKafkaCluster() = default;
  // Destroys the cluster (closing every listener) and then its owner handle.
  ~DevKafkaCluster();
  DevKafkaCluster(const DevKafkaCluster&) = delete;
  DevKafkaCluster& operator=(const DevKafkaCluster&) = delete;

  // Starts `brokers` (1..16) mock brokers with ids 1..brokers.
  // kInvalidArgument on a bad count, kFailedPrecondition when already started,
  // kUnavailable when librdkafka cannot create the cluster.
  Status Start(int brokers);

  // The bootstrap.servers list ("127.0.0.1:port,..."); "" before Start().
  const std::string& bootstraps() const { return bootstraps_; }

  // The raw mock cluster, for error injection (rd_kafka_mock_push_request_errors,
  // rd_kafka_mock_broker_set_down/up, rd_kafka_mock_partition_set_leader, ...).
  // Null before Start(). Owned by this object.
  rd_kafka_mock_cluster_t* mock() const { return mock_; }

  // Number of brokers started (ids are 1..broker_count()).
  int broker_count() const { return brokers_; }

  // Creates `name` with `partitions` partitions (the mock's stand-in for the
  // Admin API, which it does not implement). kInvalidArgument on bad input,
  // kFailedPrecondition before Start(), kUnavailable when the mock refuses.
  Status CreateTopic(const std::string& name, int partitions);

 private:
  // Destruction order matters: mock_ must be destroyed before owner_, which
  // the mock uses for its internal bookkeeping. Both are destroyed explicitly
  // in that order by the destructor.
  rd_kafka_t* owner_ = nullptr;  // dummy producer handle required by the mock
  rd_kafka_mock_cluster_t* mock_ = nullptr;
  std::string bootstraps_;
  int brokers_ = 0;
};

// `autoenroll dev-kafka --brokers N`: starts a mock cluster of `brokers`
// brokers, creates the default topic "autoenroll.events" (1 partition, the
// KafkaEventLogOptions default, since the mock cannot create topics on
// request), writes "bootstrap: <servers>" as a line of its own to `out` and
// flushes it, then blocks until `stop` becomes true (polled every 100 ms).
// Returns 0 after a clean stop, 1 when the cluster could not be started (the
// reason is written to `out` as "error: ...").
int RunDevKafka(int brokers, std::ostream& out, const std::atomic<bool>& stop);

}  // namespace ae::events
