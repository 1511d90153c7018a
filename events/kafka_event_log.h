#pragma once
// KafkaEventLog: the event log kept in a Kafka topic (mode "kafka").
//
// Data layout. One topic per deployment. Each record is one serialized
// Envelope (the value); its key is the stream id; a stream lives in exactly
// one partition, PartitionFor(stream) = FNV-1a-32(stream) mod partitions, so
// the partition count of the topic must never change. prev_hash chains each
// record to the previous record of the same partition. Positions are Kafka's
// (partition, offset); offsets have gaps (transaction markers).
//
// Reading. Every read is served from a local mirror: a LogStore at
// `cache_path`, fed by one consumer thread (read_committed, manual assignment
// of every partition, no consumer group offsets) that resumes where the mirror
// stopped. The mirror is a cache: deleting it rebuilds it from the topic. A
// record that does not decode, or that repeats a (stream, version) already
// mirrored, stops the mirror at that record; Health() then reports
// kCorruption "log.corruption" and appends are refused (never skipped silently).
//
// Writing. One active writer per deployment, enforced by Kafka's transactional
// producer: Open() calls init_transactions, which fences every older producer
// using the same transactional.id. Appends are group-committed: concurrent
// appenders share one Kafka transaction. Before its first append (and after
// any failed or uncertain transaction) the writer waits until the mirror has
// reached the end of every partition, so expected versions and prev_hash are
// checked against the whole log. Append returns once the transaction is
// committed and the mirror holds its records (read-your-writes).
//
// Failures. Each commit attempt is bounded by `append_timeout` (an Append may
// also wait for the group committed ahead of it):
//   kConflict           log.wrong_expected_version: nothing was produced.
//   kUnavailable        log.unavailable: the brokers could not be reached in
//                       time, or the transaction failed and was aborted.
//                       Nothing was appended, with one exception: when the
//                       broker's answer to the commit itself is lost, the
//                       message says "outcome unknown" and the events may
//                       still become visible. A retry with the same expected
//                       version then fails with kConflict, which is safe.
//   kUnavailable        log.fenced: a newer writer took over (or a record this
//                       writer did not write appeared in the topic); permanent
//                       for this instance, which keeps serving reads: writes go
//                       to the new writer. Any other fatal error of the producer
//                       is kUnavailable log.unavailable: the writer restarts its
//                       producer (same transactional.id, which settles the open
//                       transaction) before the next append.
//                       log.read_only: this instance is a replica.
//
// Threads. Every public method may be called from any thread. The object owns
// one thread, the mirror thread, which alone polls the consumer and writes the
// mirror. The producer is used only by the group-commit leader (one appender
// at a time), which also serves its delivery reports. librdkafka's log lines
// go to the spdlog logger "kafka" (from librdkafka's own threads); no
// exception crosses a librdkafka callback.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "events/base/clock.h"
#include "events/event_log.h"
#include "events/internal/group_commit.h"
#include "events/log_store.h"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_queue_s rd_kafka_queue_t;
typedef struct rd_kafka_message_s rd_kafka_message_t;
typedef struct rd_kafka_error_s rd_kafka_error_t;

namespace ae::events {

struct KafkaEventLogOptions {
  std::string brokers;                      // bootstrap.servers (required)
  std::string topic = "autoenroll.events";  // the log's topic, one per deployment
  // Partitions of the topic: the writer creates it with this many and refuses a topic with
  // another count (a stream's partition is FNV-1a(stream) mod the count). Replicas read
  // whatever count the topic has.
  int32_t partitions = 1;
  // Replication of the topic the writer creates, and the least it accepts of an existing one
  // (both capped to the brokers the cluster lists, so a one-node cluster works).
  int replication_factor = 3;
  int min_insync_replicas = 2;  // min.insync.replicas of the topic (capped to its replicas)
  std::string transactional_id = "autoenroll-writer";  // same on every writer of a deployment
  bool writer = true;                                  // false: read-only replica
  std::string cache_path;                              // directory of the local mirror (required)
  // librdkafka properties (-X key=value), applied to both the producer and the
  // consumer. Tunables may be overridden; the properties this log depends on
  // (bootstrap.servers, transactional.id, enable.idempotence, isolation.level,
  // enable.auto.commit, group.id) are refused by Validate().
  std::map<std::string, std::string> properties;
  // Bound of each commit attempt of Append, and of each broker call made by Open.
  std::chrono::milliseconds append_timeout{10000};
  Clock* clock = nullptr;  // recorded_at source; null = real clock

  // kInvalidArgument "log.invalid_option" (field = the option) when unusable.
  Status Validate() const;
};

class KafkaEventLog : public EventLog {
 public:
  // Validates `options`, opens the mirror, connects, looks up the topic (the
  // writer creates it with `partitions` partitions, `replication_factor` and
  // `min_insync_replicas`, kept forever, when it is missing; a replica fails
  // with kUnavailable), checks the topic's settings (kFailedPrecondition
  // "log.topic_invalid" for one that would break the log's guarantees: see
  // events/kafka_topic_admin.h), checks that the mirror belongs to this
  // topic (kFailedPrecondition "log.cache_mismatch" otherwise) and starts the
  // mirror thread. A writer also initialises its transactional producer, which
  // fences older writers. Does not wait for the mirror to catch up (see
  // WaitUntilCaughtUp). kUnavailable when the brokers do not answer within
  // append_timeout.
  static Result<std::unique_ptr<KafkaEventLog>> Open(const KafkaEventLogOptions& options);

  // Stops the mirror thread, then destroys the producer (an open transaction
  // is left to the broker, which aborts it), the consumer and the mirror.
  // No other method may be running.
  ~KafkaEventLog() override;

  KafkaEventLog(const KafkaEventLog&) = delete;
  KafkaEventLog& operator=(const KafkaEventLog&) = delete;

  // See EventLog and the failure list above.
  std::vector<Result<AppendResult>> AppendBatch(std::vector<AppendItem> items) override;
  Result<AppendResult> Append(const StreamId& stream, ExpectedVersion expected,
                              std::vector<Envelope> events) override;
  // Reads serve what the mirror holds now.
  Result<std::vector<RecordedEvent>> Read(const LogCursor& from, size_t max) const override;
  Result<MatchingRecords> ReadMatching(const LogCursor& from, size_t max,
                                       const std::vector<int>& cases) const override;
  Result<std::vector<RecordedEvent>> ReadStream(const StreamId& stream, StreamVersion from_version,
                                                size_t max) const override;
  Result<StreamVersion> GetStreamVersion(const StreamId& stream) const override;
  Result<LogCursor> Head() const override;
  // The topic's ends (one ListOffsets per partition leader); the head counts the
  // transaction markers the mirror moved past, so Reached() compares like with like.
  Result<LogCursor> SourceEnd(std::chrono::milliseconds timeout) const override;
  bool WaitForNew(const LogCursor& cursor, std::chrono::milliseconds timeout) const override;
  // OK while the log works: for a writer, while it accepts appends; a replica
  // (which never does) reports OK while its mirror keeps up. Otherwise the
  // sticky error: log.fenced or log.corruption.
  Status Health() const override;
  std::string Kind() const override { return "kafka"; }

  // Blocks until the mirror covers the end (last stable offset) of every
  // partition as it was when called. kUnavailable "log.unavailable" when the
  // brokers do not answer or the mirror has not caught up within `timeout`;
  // the mirror's sticky error when it stopped.
  Status WaitUntilCaughtUp(std::chrono::milliseconds timeout) const;

  int32_t partition_count() const { return partitions_; }

  // What this writer committed since Open: transactions and the records in them (their
  // ratio is the group-commit batch). Thread-safe.
  struct WriterStats {
    uint64_t transactions = 0;
    uint64_t records = 0;
  };
  WriterStats writer_stats() const { return {committed_txns_.load(), committed_records_.load()}; }

  // The partition of `stream` in a topic of `partitions` partitions:
  // FNV-1a (32 bit) of the stream id's bytes, modulo `partitions`. Stable.
  static int32_t PartitionFor(std::string_view stream, int32_t partitions);

 private:
  using Deadline = std::chrono::steady_clock::time_point;

  // One produced record of the current transaction, with its delivery report.
  struct Outgoing {
    int32_t partition = 0;
    const std::string* key = nullptr;  // the stream id (owned by the request)
    std::string raw;                   // serialized Envelope
    std::string hash;                  // SHA-256 of raw
    std::string event_id;
    uint64_t id = 0;  // message opaque: key of WriterState::deliveries
  };
  struct Delivery {
    int err = 0;          // rd_kafka_resp_err_t
    int64_t offset = -1;  // < 0: unknown (the broker did not say)
  };
  enum class TxnState {
    kIdle,           // no transaction open
    kAbortPending,   // abort_transaction timed out: finish it before anything else
    kCommitPending,  // commit_transaction timed out: outcome unknown, finish the commit
  };
  // Owned by the group-commit leader (GroupCommitQueue runs one at a time),
  // and by the delivery-report callback, which runs on that same thread.
  struct WriterState {
    TxnState txn = TxnState::kIdle;
    bool need_sync = true;                     // re-read the topic's end before appending
    // The producer hit a fatal error that is not a fencing (e.g. the coordinator answered
    // INVALID_TXN_STATE after a broker died): a new producer with the same
    // transactional.id takes its place before the next append (see RestartProducer).
    bool restart_producer = false;
    std::map<int32_t, std::string> last_hash;  // per partition: hash of the last record
    std::map<int32_t, int64_t> last_offset;    // per partition: offset of the last record
    uint64_t next_id = 0;                      // message ids
    std::map<uint64_t, Delivery> deliveries;   // delivery reports by message id
  };

  explicit KafkaEventLog(const KafkaEventLogOptions& options);

  // Open steps.
  Status CreateConsumer();
  Status CreateProducer();
  Status LookUpOrCreateTopic(Deadline deadline);
  Status CheckCacheIdentity(Deadline deadline);
  Status AssignConsumer();

  // Mirror thread.
  void MirrorLoop(std::stop_token stop);
  // Adds `m` to `batch`; returns a non-OK status for a record that must stop the mirror.
  Status StageConsumed(const rd_kafka_message_t& m, std::vector<StagedRecord>& batch,
                       std::map<std::string, StreamVersion>& versions);
  void SetMirrorError(const Status& s);

  // Writer (group-commit leader).
  void CommitGroup(const std::vector<internal::AppendRequest*>& group);
  Status ResolvePendingTransaction(Deadline deadline);
  Status RestartProducer(Deadline deadline);
  Status Sync(Deadline deadline);
  Status ProduceAndCommit(std::vector<Outgoing>& out, Deadline deadline, size_t* bad_message);
  Status Abort(const std::string& why, Deadline deadline);
  // Destroys `error`. `outcome_unknown`: the error came from a commit, which may still land.
  Status FromTxnError(rd_kafka_error_t* error, const std::string& what,
                      bool outcome_unknown = false);
  Status ProducerFailed(const std::string& text, bool fenced, bool outcome_unknown);
  void SetSticky(const Status& s);
  void OnDelivery(const rd_kafka_message_t& m);
  static void DeliveryCallback(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);

  // Shared helpers.
  Result<std::map<int32_t, int64_t>> QueryEnds(Deadline deadline) const;
  bool WaitForMirror(const std::map<int32_t, int64_t>& next_offsets, Deadline deadline) const;

  const KafkaEventLogOptions options_;
  Clock* clock_ = nullptr;  // const after Open
  int32_t partitions_ = 0;  // const after Open

  // The mirror: written by the mirror thread only, read by anyone. Destroyed
  // after the destructor body, so after the thread and both handles are gone.
  std::unique_ptr<LogStore> store_;
  // librdkafka handles, created by Open and destroyed explicitly by the
  // destructor in this order: mirror thread joined, producer_, consumer_queue_,
  // consumer_.
  rd_kafka_t* consumer_ = nullptr;              // polled by the mirror thread only
  rd_kafka_queue_t* consumer_queue_ = nullptr;  // the consumer's queue, to wake the thread
  rd_kafka_t* producer_ = nullptr;              // writer only; used by the leader only

  internal::GroupCommitQueue queue_{4096};
  WriterState w_;  // group-commit leader only (see WriterState)

  mutable std::mutex mu_;
  Status sticky_;        // guarded by mu_: fenced, or producer unusable
  Status mirror_error_;  // guarded by mu_: the mirror stopped

  std::atomic<uint64_t> committed_txns_{0};     // see writer_stats()
  std::atomic<uint64_t> committed_records_{0};

  std::jthread mirror_thread_;  // started last by Open; joined first by the destructor
};

}  // namespace ae::events
