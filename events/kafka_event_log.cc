#include "events/kafka_event_log.h"

#include <google/protobuf/util/time_util.h>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <set>
#include <thread>
#include <utility>

#include "events/base/crypto.h"
#include "events/base/logging.h"
#include "events/kafka_topic_admin.h"

namespace ae::events {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kMirrorBatch = 1000;        // records per mirror write
constexpr int kMirrorPollMs = 100;           // longest consumer poll (the thread wakes on stop)
constexpr milliseconds kMirrorWaitStep{10};  // re-check interval while waiting for the mirror
constexpr int kMinTxnCallMs = 100;           // shortest timeout given to an abort or resume
constexpr char kMirrorGroup[] = "autoenroll-mirror";  // required by librdkafka; never joined
// Keys this log owns in the mirror's meta column family.
constexpr char kMetaTopic[] = "kafka/topic";
constexpr char kMetaCluster[] = "kafka/cluster_id";

int MsUntil(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, INT_MAX));
}

Status LogUnavailable(std::string message) {
  return Unavailable("log.unavailable", std::move(message));
}

std::string ErrName(rd_kafka_resp_err_t err) { return rd_kafka_err2str(err); }

// Properties the log sets itself: changing them would break its guarantees.
const std::set<std::string>& ManagedProperties() {
  static const std::set<std::string> kManaged = {
      "bootstrap.servers", "metadata.broker.list", "transactional.id", "enable.idempotence",
      "isolation.level",   "enable.auto.commit",   "group.id"};
  return kManaged;
}

bool ValidTopicName(const std::string& t) {
  if (t.empty() || t.size() > 249 || t == "." || t == "..") return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// librdkafka -> spdlog. Called from librdkafka's internal threads; the
// "kafka" logger's sinks are thread-safe. Nothing may escape.
void LogCallback(const rd_kafka_t* rk, int level, const char* facility, const char* line) {
  try {
    spdlog::level::level_enum lvl = spdlog::level::debug;  // syslog 7
    if (level <= 2) {
      lvl = spdlog::level::critical;
    } else if (level == 3) {
      lvl = spdlog::level::err;
    } else if (level == 4) {
      lvl = spdlog::level::warn;
    } else if (level <= 6) {
      lvl = spdlog::level::info;
    }
    log::Get("kafka")->log(lvl, "[{}] {}: {}", rd_kafka_name(rk), facility, line);
  } catch (...) {
  }
}

// Errors raised by librdkafka, served on the thread that polls the handle.
void ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* /*opaque*/) {
  try {
    auto logger = log::Get("kafka");
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char buf[512];
      rd_kafka_resp_err_t code = rd_kafka_fatal_error(rk, buf, sizeof buf);
      logger->error("[{}] fatal: {}: {}", rd_kafka_name(rk), rd_kafka_err2name(code), buf);
    } else {
      logger->warn("[{}] {}: {}", rd_kafka_name(rk),
                   rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)), reason);
    }
  } catch (...) {
  }
}

class ConfGuard {  // owns an rd_kafka_conf_t until rd_kafka_new takes it
 public:
  ConfGuard() : conf_(rd_kafka_conf_new()) {}
  ~ConfGuard() {
    if (conf_) rd_kafka_conf_destroy(conf_);
  }
  rd_kafka_conf_t* get() { return conf_; }
  rd_kafka_conf_t* release() { return std::exchange(conf_, nullptr); }
  Status Set(const std::string& key, const std::string& value) {
    char errstr[512];
    if (rd_kafka_conf_set(conf_, key.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      return InvalidArgument("log.invalid_option", "librdkafka property " + key + ": " + errstr,
                             "properties");
    }
    return Status::Ok();
  }
  // Defaults first, then the user's properties, then what the log requires.
  Status Apply(const std::map<std::string, std::string>& defaults,
               const std::map<std::string, std::string>& user,
               const std::map<std::string, std::string>& required) {
    for (const auto* m : {&defaults, &user, &required}) {
      for (const auto& [k, v] : *m) AE_RETURN_IF_ERROR(Set(k, v));
    }
    rd_kafka_conf_set_log_cb(conf_, LogCallback);
    rd_kafka_conf_set_error_cb(conf_, ErrorCallback);
    return Status::Ok();
  }

 private:
  rd_kafka_conf_t* conf_;
};

}  // namespace

// ---- options ------------------------------------------------------------------

Status KafkaEventLogOptions::Validate() const {
  auto bad = [](const char* field, std::string message) {
    return InvalidArgument("log.invalid_option", std::move(message), field);
  };
  if (brokers.empty()) return bad("brokers", "the Kafka log needs bootstrap brokers");
  if (!ValidTopicName(topic)) {
    return bad("topic", "'" + topic + "' is not a Kafka topic name ([a-zA-Z0-9._-], 1..249)");
  }
  if (partitions < 1) return bad("partitions", "a topic needs at least one partition");
  if (replication_factor < 1) return bad("replication_factor", "replication factor must be >= 1");
  if (min_insync_replicas < 1) {
    return bad("min_insync_replicas", "min.insync.replicas must be >= 1");
  }
  if (writer && transactional_id.empty()) {
    return bad("transactional_id", "a writer needs a transactional.id");
  }
  if (cache_path.empty()) return bad("cache_path", "the Kafka log needs a mirror directory");
  if (append_timeout.count() <= 0) return bad("append_timeout", "append_timeout must be > 0");
  for (const auto& [key, value] : properties) {
    if (ManagedProperties().count(key)) {
      return bad("properties", "librdkafka property " + key + " is set by the log itself");
    }
  }
  return Status::Ok();
}

int32_t KafkaEventLog::PartitionFor(std::string_view stream, int32_t partitions) {
  uint32_t h = 2166136261u;  // FNV-1a, 32 bit
  for (unsigned char c : stream) {
    h ^= c;
    h *= 16777619u;
  }
  return static_cast<int32_t>(h % static_cast<uint32_t>(std::max(partitions, 1)));
}

// ---- open and close -------------------------------------------------------------

KafkaEventLog::KafkaEventLog(const KafkaEventLogOptions& options)
    : options_(options), clock_(options.clock ? options.clock : &Clock::Real()) {}

Result<std::unique_ptr<KafkaEventLog>> KafkaEventLog::Open(const KafkaEventLogOptions& options) {
  AE_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<KafkaEventLog> log(new KafkaEventLog(options));
  auto deadline = [&] { return SteadyClock::now() + options.append_timeout; };

  LogStoreOptions so;
  so.path = options.cache_path;
  so.sync = false;  // a cache: after a crash it resumes from what it holds, or is rebuilt
  AE_ASSIGN_OR_RETURN(log->store_, LogStore::Open(so));
  AE_RETURN_IF_ERROR(log->CreateConsumer());
  if (options.writer) AE_RETURN_IF_ERROR(log->CreateProducer());
  AE_RETURN_IF_ERROR(log->LookUpOrCreateTopic(deadline()));
  AE_RETURN_IF_ERROR(log->CheckCacheIdentity(deadline()));
  AE_RETURN_IF_ERROR(log->AssignConsumer());
  KafkaEventLog* self = log.get();
  log->mirror_thread_ = std::jthread([self](std::stop_token stop) { self->MirrorLoop(stop); });

  if (options.writer) {
    // Fences every older producer with this transactional.id and aborts its
    // open transaction.
    if (rd_kafka_error_t* e = rd_kafka_init_transactions(log->producer_, MsUntil(deadline()))) {
      std::string what =
          std::string("cannot initialise the transactional producer: ") + rd_kafka_error_string(e);
      bool retriable =
          rd_kafka_error_is_retriable(e) || rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR__TIMED_OUT;
      rd_kafka_error_destroy(e);
      if (retriable) return LogUnavailable(what);
      return FailedPrecondition("log.writer_refused", what);
    }
  }
  log::Get("kafka")->info(
      "kafka log open: topic {} ({} partitions), {}, mirror {}", options.topic, log->partitions_,
      options.writer ? "writer " + options.transactional_id : "read-only", options.cache_path);
  return log;
}

KafkaEventLog::~KafkaEventLog() {
  // 1. The mirror thread uses consumer_ and store_: stop it first.
  if (mirror_thread_.joinable()) {
    mirror_thread_.request_stop();  // its stop_callback wakes the consumer poll
    mirror_thread_.join();
  }
  // 2. The producer: delivery reports (if any are served) only touch w_.
  if (producer_) rd_kafka_destroy(producer_);
  producer_ = nullptr;
  // 3. The consumer: it never joined a group and commits nothing, so no close.
  // (librdkafka 2.0.2 can hang here when the topic was deleted under the assigned partitions;
  // delete a topic only after its readers are closed.)
  if (consumer_queue_) rd_kafka_queue_destroy(consumer_queue_);
  consumer_queue_ = nullptr;
  if (consumer_) rd_kafka_destroy_flags(consumer_, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  consumer_ = nullptr;
  // 4. store_ (a member) is destroyed after this body.
}

Status KafkaEventLog::CreateConsumer() {
  ConfGuard conf;
  AE_RETURN_IF_ERROR(conf.Apply(
      {{"client.id", "autoenroll-mirror"},
       {"socket.nagle.disable", "true"},
       // A broker answers a fetch as soon as data arrives; this bounds the wait
       // of brokers that cannot (librdkafka's mock holds empty fetches this long).
       {"fetch.wait.max.ms", "100"}},
      options_.properties,
      {{"bootstrap.servers", options_.brokers},
       {"group.id", kMirrorGroup},  // librdkafka needs one for assign(); never joined
       {"isolation.level", "read_committed"},
       {"enable.auto.commit", "false"},
       {"enable.auto.offset.store", "false"},
       {"auto.offset.reset", "error"},        // a missing position is reported, never skipped
       {"enable.partition.eof", "false"}}));  // allow.auto.create.topics: false by default
  char errstr[512];
  consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof errstr);
  if (!consumer_) return LogUnavailable(std::string("cannot create the consumer: ") + errstr);
  conf.release();                         // owned by consumer_ now
  rd_kafka_poll_set_consumer(consumer_);  // errors and logs are served by consumer_poll
  consumer_queue_ = rd_kafka_queue_get_consumer(consumer_);
  return Status::Ok();
}

Status KafkaEventLog::CreateProducer() {
  ConfGuard conf;
  AE_RETURN_IF_ERROR(conf.Apply(
      {{"client.id", "autoenroll-writer"}, {"socket.nagle.disable", "true"}}, options_.properties,
      {{"bootstrap.servers", options_.brokers},
       {"enable.idempotence", "true"},
       {"transactional.id", options_.transactional_id}}));
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaEventLog::DeliveryCallback);
  rd_kafka_conf_set_opaque(conf.get(), this);
  char errstr[512];
  producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof errstr);
  if (!producer_) return LogUnavailable(std::string("cannot create the producer: ") + errstr);
  conf.release();
  return Status::Ok();
}

Status KafkaEventLog::LookUpOrCreateTopic(Deadline deadline) {
  internal::KafkaTopicSpec spec;
  spec.name = options_.topic;
  spec.partitions = options_.partitions;
  spec.replication_factor = options_.replication_factor;
  spec.min_insync_replicas = options_.min_insync_replicas;
  spec.create = options_.writer;
  spec.check_durability = options_.writer;
  spec.check_partitions = options_.writer;
  AE_ASSIGN_OR_RETURN(auto info, internal::EnsureKafkaTopic(producer_ ? producer_ : consumer_,
                                                             spec, deadline));
  partitions_ = info.partitions;
  return Status::Ok();
}

Status KafkaEventLog::CheckCacheIdentity(Deadline deadline) {
  std::string cluster;
  if (char* id = rd_kafka_clusterid(consumer_, MsUntil(deadline))) {
    cluster = id;
    rd_kafka_mem_free(consumer_, id);
  }
  AE_ASSIGN_OR_RETURN(std::string stored_topic, store_->GetMeta(kMetaTopic));
  AE_ASSIGN_OR_RETURN(std::string stored_cluster, store_->GetMeta(kMetaCluster));
  auto mismatch = [&](const std::string& what) {
    return FailedPrecondition("log.cache_mismatch", "the mirror at " + options_.cache_path + " " +
                                                        what +
                                                        "; delete it to rebuild it from the topic");
  };
  if (!stored_topic.empty() && stored_topic != options_.topic) {
    return mismatch("holds topic " + stored_topic + ", not " + options_.topic);
  }
  if (!stored_cluster.empty() && !cluster.empty() && stored_cluster != cluster) {
    return mismatch("comes from cluster " + stored_cluster + ", not " + cluster);
  }
  for (const auto& [p, head] : store_->Heads()) {
    if (p >= partitions_) {
      return mismatch("has partition " + std::to_string(p) + " but the topic has " +
                      std::to_string(partitions_) + " partitions");
    }
  }
  std::map<std::string, std::string> meta;
  if (stored_topic.empty()) meta[kMetaTopic] = options_.topic;
  if (stored_cluster.empty() && !cluster.empty()) meta[kMetaCluster] = cluster;
  if (!meta.empty()) AE_RETURN_IF_ERROR(store_->Write({}, {}, meta));
  return Status::Ok();
}

Status KafkaEventLog::AssignConsumer() {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions_);
  for (int32_t p = 0; p < partitions_; ++p) {
    const int64_t next = store_->Head(p).next_offset;
    rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), p)->offset =
        next > 0 ? next : RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(consumer_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return LogUnavailable("cannot assign the topic's partitions: " + ErrName(err));
  }
  return Status::Ok();
}

// ---- the mirror ----------------------------------------------------------------

void KafkaEventLog::MirrorLoop(std::stop_token stop) {
  auto logger = log::Get("kafka");
  std::stop_callback wake(stop, [this] { rd_kafka_queue_yield(consumer_queue_); });
  rd_kafka_topic_partition_list_t* positions = rd_kafka_topic_partition_list_new(partitions_);
  for (int32_t p = 0; p < partitions_; ++p) {
    rd_kafka_topic_partition_list_add(positions, options_.topic.c_str(), p);
  }
  std::vector<StagedRecord> batch;
  while (!stop.stop_requested()) {
    std::map<std::string, StreamVersion> versions;  // stream versions staged in `batch`
    Status poison;
    int32_t poison_partition = -1;
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, kMirrorPollMs);
    while (m) {
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        poison = StageConsumed(*m, batch, versions);
      } else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
                 m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        poison = Corruption("log.corruption",
                            "partition " + std::to_string(m->partition) +
                                " of the topic does not have the mirror's position (" +
                                rd_kafka_message_errstr(m) +
                                "): the topic lost records or the mirror is not its copy");
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        logger->warn("mirror consumer: {}", rd_kafka_message_errstr(m));
      }
      const int32_t partition = m->partition;
      rd_kafka_message_destroy(m);
      if (!poison.ok()) {
        poison_partition = partition;
        break;
      }
      if (batch.size() >= kMirrorBatch) break;
      m = rd_kafka_consumer_poll(consumer_, 0);
    }
    // The consumer position also moves past transaction markers and aborted
    // records, which are not messages: store it as the partition's next offset.
    std::map<int32_t, int64_t> next;
    if (rd_kafka_position(consumer_, positions) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < positions->cnt; ++i) {
        const auto& e = positions->elems[i];
        if (e.err || e.offset < 0 || e.partition == poison_partition) continue;
        if (e.offset > store_->Head(e.partition).next_offset) next[e.partition] = e.offset;
      }
    }
    if (!batch.empty() || !next.empty()) {
      Status s = store_->Write(batch, next);
      batch.clear();
      if (!s.ok()) {
        SetMirrorError(s.WithContext("mirror write failed; restart to resume"));
        break;
      }
    }
    if (!poison.ok()) {
      SetMirrorError(poison);
      break;
    }
  }
  rd_kafka_topic_partition_list_destroy(positions);
}

Status KafkaEventLog::StageConsumed(const rd_kafka_message_t& m, std::vector<StagedRecord>& batch,
                                    std::map<std::string, StreamVersion>& versions) {
  const LogPosition pos{m.partition, m.offset};
  std::string raw = m.payload ? std::string(static_cast<const char*>(m.payload), m.len) : "";
  Envelope env;
  if (!env.ParseFromString(raw)) {
    return Corruption("log.corruption",
                      "record " + pos.ToString() + " of the topic does not decode as an Envelope");
  }
  if (!ValidStreamId(env.stream()) || env.stream_version() == 0) {
    return Corruption("log.corruption",
                      "record " + pos.ToString() + " has no valid stream and stream_version");
  }
  if (const int32_t home = PartitionFor(env.stream(), partitions_); home != m.partition) {
    return Corruption("log.corruption",
                      "record " + pos.ToString() + " of stream " + env.stream() +
                          " is in partition " + std::to_string(m.partition) + ", not in " +
                          std::to_string(home) + " (FNV-1a of the stream mod " +
                          std::to_string(partitions_) +
                          " partitions): the topic's partition count changed after events were "
                          "written, or another program wrote to it");
  }
  // A stream's versions are consecutive, each written once: a record whose version is
  // already held (stored, or staged in this batch at or above it) comes from a second writer.
  // The stored check is one point lookup: most records of a replay are of streams the mirror
  // has not seen, which the stream index's bloom filters answer without a read.
  bool repeated = false;
  if (auto it = versions.find(env.stream()); it != versions.end()) {
    repeated = env.stream_version() <= it->second;
  }
  if (!repeated) {
    AE_ASSIGN_OR_RETURN(repeated, store_->HasStreamVersion(env.stream(), env.stream_version()));
  }
  if (repeated) {
    return Corruption("log.corruption", "record " + pos.ToString() + " repeats version " +
                                            std::to_string(env.stream_version()) + " of stream " +
                                            env.stream() + " (written by a second writer?)");
  }
  versions[env.stream()] = env.stream_version();
  StagedRecord r;
  r.position = pos;
  r.stream = env.stream();
  r.stream_version = env.stream_version();
  r.hash = crypto::Sha256(raw);
  r.raw = std::move(raw);
  batch.push_back(std::move(r));
  return Status::Ok();
}

void KafkaEventLog::SetMirrorError(const Status& s) {
  log::Get("kafka")->error("the mirror stopped: {}", s.ToString());
  std::lock_guard lock(mu_);
  if (mirror_error_.ok()) mirror_error_ = s;
}

// ---- reads --------------------------------------------------------------------

Result<std::vector<RecordedEvent>> KafkaEventLog::Read(const LogCursor& from, size_t max) const {
  return store_->Read(from, max);
}

Result<EventLog::MatchingRecords> KafkaEventLog::ReadMatching(const LogCursor& from, size_t max,
                                                       const std::vector<int>& cases) const {
  return store_->ReadMatching(from, max, &cases);
}

Result<std::vector<RecordedEvent>> KafkaEventLog::ReadStream(const StreamId& stream,
                                                             StreamVersion from_version,
                                                             size_t max) const {
  return store_->ReadStream(stream.str(), from_version, max);
}

Result<StreamVersion> KafkaEventLog::GetStreamVersion(const StreamId& stream) const {
  return store_->GetStreamVersion(stream.str());
}

Result<LogCursor> KafkaEventLog::Head() const { return store_->HeadCursor(); }

Result<LogCursor> KafkaEventLog::SourceEnd(std::chrono::milliseconds timeout) const {
  AE_ASSIGN_OR_RETURN(auto ends, QueryEnds(SteadyClock::now() + timeout));
  LogCursor end;
  for (const auto& [p, next] : ends) {
    if (next > 0) end.Advance(LogPosition{p, next - 1});
  }
  return end;
}

bool KafkaEventLog::WaitForNew(const LogCursor& cursor, std::chrono::milliseconds timeout) const {
  return store_->WaitForNew(cursor, timeout);
}

Status KafkaEventLog::Health() const {
  {
    std::lock_guard lock(mu_);
    if (!sticky_.ok()) return sticky_;
    if (!mirror_error_.ok()) return mirror_error_;
  }
  // The producer's own fatal errors reach sticky_ through the group-commit leader (which
  // alone touches producer_, and may replace it).
  return Status::Ok();
}

Result<std::map<int32_t, int64_t>> KafkaEventLog::QueryEnds(Deadline deadline) const {
  // One ListOffsets(latest) per partition leader. On this read_committed
  // handle the brokers answer the last stable offset. (offsets_for_times
  // honours its timeout; query_watermark_offsets waits for socket.timeout.ms
  // when a broker is down.)
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions_);
  for (int32_t p = 0; p < partitions_; ++p) {
    rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_END;
  }
  rd_kafka_resp_err_t err =
      rd_kafka_offsets_for_times(consumer_, list, std::max(MsUntil(deadline), 1));
  std::map<int32_t, int64_t> ends;
  for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = list->elems[i];
    if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      err = e.err;
    } else if (e.offset < 0) {
      err = RD_KAFKA_RESP_ERR__BAD_MSG;
    } else {
      ends[e.partition] = e.offset;
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || ends.size() != static_cast<size_t>(partitions_)) {
    return LogUnavailable(
        "cannot read the end of the topic's partitions: " +
        ErrName(err == RD_KAFKA_RESP_ERR_NO_ERROR ? RD_KAFKA_RESP_ERR__BAD_MSG : err));
  }
  return ends;
}

bool KafkaEventLog::WaitForMirror(const std::map<int32_t, int64_t>& next_offsets,
                                  Deadline deadline) const {
  while (true) {
    const LogCursor head = store_->HeadCursor();  // before the check: no wake-up is missed
    bool covered = true;
    for (const auto& [p, next] : next_offsets) {
      if (store_->Head(p).next_offset < next) {
        covered = false;
        break;
      }
    }
    if (covered) return true;
    {
      std::lock_guard lock(mu_);
      if (!mirror_error_.ok()) return false;
    }
    const auto left = deadline - SteadyClock::now();
    if (left <= SteadyClock::duration::zero()) return false;
    // Wakes early on a new record; markers only move next_offset, hence the step.
    store_->WaitForNew(head, std::min<milliseconds>(
                                 std::chrono::duration_cast<milliseconds>(left) + milliseconds(1),
                                 kMirrorWaitStep));
  }
}

Status KafkaEventLog::WaitUntilCaughtUp(std::chrono::milliseconds timeout) const {
  const Deadline deadline = SteadyClock::now() + timeout;
  AE_ASSIGN_OR_RETURN(auto ends, QueryEnds(deadline));
  if (WaitForMirror(ends, deadline)) return Status::Ok();
  {
    std::lock_guard lock(mu_);
    if (!mirror_error_.ok()) return mirror_error_;
  }
  return LogUnavailable("the mirror has not caught up with the topic yet");
}

// ---- appends ------------------------------------------------------------------

Result<AppendResult> KafkaEventLog::Append(const StreamId& stream, ExpectedVersion expected,
                                           std::vector<Envelope> events) {
  if (!ValidStreamId(stream.str())) {
    return InvalidArgument("log.invalid_stream", "invalid stream id '" + stream.str() + "'");
  }
  if (events.empty()) return InvalidArgument("log.no_events", "append of no events");
  if (!options_.writer) {
    return Unavailable("log.read_only", "this Kafka log is a read-only replica");
  }
  AE_RETURN_IF_ERROR(Health());
  internal::AppendRequest req(stream, expected, &events);
  queue_.Submit(req, [this](const std::vector<internal::AppendRequest*>& g) { CommitGroup(g); });
  return std::move(req.result);
}

std::vector<Result<AppendResult>> KafkaEventLog::AppendBatch(std::vector<AppendItem> items) {
  return internal::SubmitBatch(
      queue_, items,
      [this](const AppendItem& item) -> Status {
        if (!ValidStreamId(item.stream.str())) {
          return InvalidArgument("log.invalid_stream",
                                 "invalid stream id '" + item.stream.str() + "'");
        }
        if (item.events.empty()) return InvalidArgument("log.no_events", "append of no events");
        if (!options_.writer) {
          return Unavailable("log.read_only", "this Kafka log is a read-only replica");
        }
        return Health();
      },
      [this](const std::vector<internal::AppendRequest*>& g) { CommitGroup(g); });
}

void KafkaEventLog::SetSticky(const Status& s) {
  log::Get("kafka")->error("appends disabled: {}", s.ToString());
  std::lock_guard lock(mu_);
  if (sticky_.ok()) sticky_ = s;
}

Status KafkaEventLog::FromTxnError(rd_kafka_error_t* error, const std::string& what,
                                   bool outcome_unknown) {
  std::string text = what + ": " + rd_kafka_error_string(error);
  const bool fatal = rd_kafka_error_is_fatal(error);
  const bool fenced = rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__FENCED;
  rd_kafka_error_destroy(error);
  w_.need_sync = true;
  if (fatal) return ProducerFailed(text, fenced, outcome_unknown);
  return LogUnavailable(text);
}

Status KafkaEventLog::ProducerFailed(const std::string& text, bool fenced, bool outcome_unknown) {
  w_.need_sync = true;
  if (fenced) {
    Status s = Unavailable("log.fenced",
                           "this writer was fenced by a newer writer with transactional.id " +
                               options_.transactional_id + " (" + text +
                               "); it keeps serving reads");
    SetSticky(s);
    return s;
  }
  // Not another writer: a producer in a state it cannot leave. A new one takes over.
  w_.restart_producer = true;
  log::Get("kafka")->error("the transactional producer failed ({}); it is restarted", text);
  return LogUnavailable(
      (outcome_unknown ? "outcome unknown: " : "") + text +
      "; the producer is restarted before the next append" +
      (outcome_unknown ? " (the events may still become visible)" : ": nothing was appended"));
}

Status KafkaEventLog::RestartProducer(Deadline deadline) {
  if (producer_) rd_kafka_destroy(producer_);
  producer_ = nullptr;
  w_.txn = TxnState::kIdle;
  w_.need_sync = true;
  w_.deliveries.clear();
  AE_RETURN_IF_ERROR(CreateProducer());
  // Bumps the producer epoch of this transactional.id: the coordinator settles the
  // transaction the failed producer left (a prepared commit completes, anything else aborts).
  if (rd_kafka_error_t* e = rd_kafka_init_transactions(producer_, MsUntil(deadline))) {
    const bool fenced = rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR__FENCED;
    std::string text = std::string("restarting the producer: ") + rd_kafka_error_string(e);
    const bool fatal = rd_kafka_error_is_fatal(e);
    rd_kafka_error_destroy(e);
    if (fatal && fenced) return ProducerFailed(text, true, false);
    return LogUnavailable(text);  // restart_producer stays set: tried again next time
  }
  w_.restart_producer = false;
  log::Get("kafka")->warn("the transactional producer was restarted");
  return Status::Ok();
}

Status KafkaEventLog::Abort(const std::string& why, Deadline deadline) {
  w_.need_sync = true;  // what the brokers hold now is re-read before the next append
  rd_kafka_error_t* e =
      rd_kafka_abort_transaction(producer_, std::max(MsUntil(deadline), kMinTxnCallMs));
  if (!e) {
    w_.txn = TxnState::kIdle;
    log::Get("kafka")->warn("transaction aborted: {}", why);
    return LogUnavailable(why + "; the transaction was aborted: nothing was appended");
  }
  if (rd_kafka_error_is_fatal(e)) return FromTxnError(e, why + "; abort failed");
  if (rd_kafka_error_is_retriable(e)) {
    rd_kafka_error_destroy(e);
    w_.txn = TxnState::kAbortPending;  // never committed: finished before the next append
    log::Get("kafka")->warn("transaction abort pending: {}", why);
    return LogUnavailable(why + "; the transaction is being aborted: nothing was appended");
  }
  std::string text = why + "; abort failed (" + rd_kafka_error_string(e) + ")";
  rd_kafka_error_destroy(e);
  return ProducerFailed(text, false, false);
}

Status KafkaEventLog::ResolvePendingTransaction(Deadline deadline) {
  const int timeout = std::max(MsUntil(deadline), kMinTxnCallMs);
  if (w_.txn == TxnState::kAbortPending) {
    rd_kafka_error_t* e = rd_kafka_abort_transaction(producer_, timeout);
    if (!e) {
      w_.txn = TxnState::kIdle;
      log::Get("kafka")->info("the pending transaction abort completed");
      return Status::Ok();
    }
    if (rd_kafka_error_is_fatal(e) || !rd_kafka_error_is_retriable(e)) {
      if (rd_kafka_error_is_fatal(e)) return FromTxnError(e, "finishing an abort");
      std::string text = std::string("finishing an abort failed (") + rd_kafka_error_string(e) + ")";
      rd_kafka_error_destroy(e);
      return ProducerFailed(text, false, false);
    }
    std::string text = rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
    return LogUnavailable("the previous transaction is still being aborted: " + text);
  }
  if (w_.txn == TxnState::kCommitPending) {
    rd_kafka_error_t* e = rd_kafka_commit_transaction(producer_, timeout);
    if (!e) {
      w_.txn = TxnState::kIdle;
      log::Get("kafka")->warn("the unconfirmed commit completed: its events are in the log");
      return Status::Ok();
    }
    if (rd_kafka_error_is_fatal(e)) return FromTxnError(e, "finishing a commit", true);
    if (rd_kafka_error_txn_requires_abort(e)) {
      std::string text = rd_kafka_error_string(e);
      rd_kafka_error_destroy(e);
      Status s = Abort("the unconfirmed commit failed: " + text, deadline);
      return w_.txn == TxnState::kIdle ? Status::Ok() : s;
    }
    std::string text = rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
    return LogUnavailable("the previous commit is still unconfirmed: " + text);
  }
  return Status::Ok();
}

Status KafkaEventLog::Sync(Deadline deadline) {
  if (!w_.need_sync) {
    // Only this writer appends: a record it did not write means another writer
    // is active (one Kafka did not fence, e.g. another transactional.id).
    for (const auto& [p, head] : store_->Heads()) {
      auto it = w_.last_offset.find(p);
      const int64_t mine = it == w_.last_offset.end() ? -1 : it->second;
      if (head.last_offset > mine) {
        Status s = Unavailable("log.fenced",
                               "another writer appended to partition " + std::to_string(p) +
                                   " (offset " + std::to_string(head.last_offset) +
                                   "); this writer stops and keeps serving reads");
        SetSticky(s);
        return s;
      }
    }
    return Status::Ok();
  }
  AE_ASSIGN_OR_RETURN(auto ends, QueryEnds(deadline));
  if (!WaitForMirror(ends, deadline)) {
    {
      std::lock_guard lock(mu_);
      if (!mirror_error_.ok()) return mirror_error_;
    }
    return LogUnavailable("the mirror has not caught up with the topic within append_timeout");
  }
  w_.last_hash.clear();
  w_.last_offset.clear();
  for (const auto& [p, head] : store_->Heads()) {
    w_.last_hash[p] = head.last_hash;
    w_.last_offset[p] = head.last_offset;
  }
  w_.need_sync = false;
  return Status::Ok();
}

void KafkaEventLog::DeliveryCallback(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m,
                                     void* opaque) {
  // Served on the thread polling the producer: the group-commit leader.
  try {
    static_cast<KafkaEventLog*>(opaque)->OnDelivery(*m);
  } catch (...) {
  }
}

void KafkaEventLog::OnDelivery(const rd_kafka_message_t& m) {
  Delivery d;
  d.err = m.err;
  d.offset = m.offset;
  w_.deliveries[reinterpret_cast<uintptr_t>(m._private)] = d;
}

Status KafkaEventLog::ProduceAndCommit(std::vector<Outgoing>& out, Deadline deadline,
                                       size_t* bad_message) {
  // Keep a quarter of the budget to abort if the brokers do not answer.
  const Deadline produce_deadline = deadline - options_.append_timeout / 4;
  if (rd_kafka_error_t* e = rd_kafka_begin_transaction(producer_)) {
    return FromTxnError(e, "cannot begin a transaction");
  }
  w_.deliveries.clear();
  for (size_t i = 0; i < out.size(); ++i) {
    Outgoing& o = out[i];
    o.id = ++w_.next_id;
    while (true) {
      rd_kafka_vu_t vu[6];
      vu[0].vtype = RD_KAFKA_VTYPE_TOPIC;
      vu[0].u.cstr = options_.topic.c_str();
      vu[1].vtype = RD_KAFKA_VTYPE_PARTITION;
      vu[1].u.i32 = o.partition;
      vu[2].vtype = RD_KAFKA_VTYPE_KEY;
      vu[2].u.mem.ptr = const_cast<char*>(o.key->data());
      vu[2].u.mem.size = o.key->size();
      vu[3].vtype = RD_KAFKA_VTYPE_VALUE;
      vu[3].u.mem.ptr = o.raw.data();
      vu[3].u.mem.size = o.raw.size();
      vu[4].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
      vu[4].u.i = RD_KAFKA_MSG_F_COPY;
      vu[5].vtype = RD_KAFKA_VTYPE_OPAQUE;
      vu[5].u.ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(o.id));
      rd_kafka_error_t* e = rd_kafka_produceva(producer_, vu, 6);
      if (!e) break;
      const rd_kafka_resp_err_t code = rd_kafka_error_code(e);
      if (code == RD_KAFKA_RESP_ERR__QUEUE_FULL && SteadyClock::now() < produce_deadline) {
        rd_kafka_error_destroy(e);
        rd_kafka_poll(producer_, 10);  // serves delivery reports, which frees the queue
        continue;
      }
      if (rd_kafka_error_is_fatal(e) || code == RD_KAFKA_RESP_ERR__FATAL) {
        return FromTxnError(e, "cannot produce");
      }
      if (code == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) *bad_message = i;
      std::string why = std::string("cannot produce: ") + rd_kafka_error_string(e);
      rd_kafka_error_destroy(e);
      return Abort(why, deadline);
    }
  }
  // Every record must be acknowledged before the commit is attempted.
  if (rd_kafka_flush(producer_, MsUntil(produce_deadline)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Abort("the brokers did not acknowledge the records within append_timeout", deadline);
  }
  for (const Outgoing& o : out) {
    auto it = w_.deliveries.find(o.id);
    if (it == w_.deliveries.end() || it->second.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::string err = it == w_.deliveries.end()
                            ? std::string("no delivery report")
                            : ErrName(static_cast<rd_kafka_resp_err_t>(it->second.err));
      char buf[512];
      rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(producer_, buf, sizeof buf);
      if (fatal != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return ProducerFailed(std::string("a record was not delivered: ") + buf,
                              fatal == RD_KAFKA_RESP_ERR__FENCED, false);
      }
      return Abort("a record was not delivered: " + err, deadline);
    }
  }
  if (rd_kafka_error_t* e =
          rd_kafka_commit_transaction(producer_, std::max(MsUntil(deadline), 1))) {
    if (rd_kafka_error_is_fatal(e)) return FromTxnError(e, "commit failed", true);
    std::string text = rd_kafka_error_string(e);
    if (rd_kafka_error_txn_requires_abort(e)) {
      rd_kafka_error_destroy(e);
      return Abort("commit failed: " + text, deadline);
    }
    rd_kafka_error_destroy(e);
    // The broker may or may not have committed: finish it before the next append.
    w_.txn = TxnState::kCommitPending;
    w_.need_sync = true;
    log::Get("kafka")->warn("commit unconfirmed: {}", text);
    return LogUnavailable("outcome unknown: the commit was not confirmed within append_timeout (" +
                          text + "); the events may still become visible");
  }
  return Status::Ok();
}

void KafkaEventLog::CommitGroup(const std::vector<internal::AppendRequest*>& group) {
  const Deadline deadline = SteadyClock::now() + options_.append_timeout;
  Status ready = Health();
  if (ready.ok() && w_.restart_producer) ready = RestartProducer(deadline);
  if (ready.ok()) ready = ResolvePendingTransaction(deadline);
  if (ready.ok()) ready = Sync(deadline);
  if (!ready.ok()) {
    for (auto* r : group) r->result = ready;
    return;
  }

  const int64_t now = clock_->NowMs();
  const auto recorded_at = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(now);
  struct Accepted {
    internal::AppendRequest* req;
    int32_t partition;
    size_t first;  // index into `out`
    size_t count;
    StreamVersion first_version;
    StreamVersion version;  // the stream's version after the append
  };
  std::vector<Accepted> accepted;
  std::vector<Outgoing> out;
  auto versions = store_->NewVersionReader();
  std::map<std::string, StreamVersion> pending;  // versions staged by this group
  std::map<int32_t, std::string> chain;          // per partition: hash of the last staged record
  for (auto* r : group) {
    const std::string& stream = r->stream.str();
    StreamVersion version;
    if (auto it = pending.find(stream); it != pending.end()) {
      version = it->second;
    } else {
      auto v = versions.Get(stream);
      if (!v.ok()) {
        r->result = v.status();
        continue;
      }
      version = *v;
    }
    if (!r->expected.Matches(version)) {
      r->result = Conflict("log.wrong_expected_version",
                           "stream " + stream + " is at version " + std::to_string(version) +
                               ", expected " + r->expected.ToString());
      continue;
    }
    const int32_t p = PartitionFor(stream, partitions_);
    auto link = chain.try_emplace(p, w_.last_hash[p]).first;
    Accepted a{r, p, out.size(), r->events->size(), version + 1, 0};
    for (Envelope& env : *r->events) {
      FillEnvelopeDefaults(env, now);
      env.set_stream(stream);
      env.set_stream_version(++version);
      *env.mutable_recorded_at() = recorded_at;
      env.set_prev_hash(link->second);
      Outgoing o;
      o.partition = p;
      o.key = &stream;
      o.raw = env.SerializeAsString();
      o.hash = crypto::Sha256(o.raw);
      o.event_id = env.event_id();
      link->second = o.hash;
      out.push_back(std::move(o));
    }
    a.version = version;
    pending[stream] = version;
    accepted.push_back(a);
  }
  if (accepted.empty()) return;

  size_t bad_message = SIZE_MAX;
  Status s = ProduceAndCommit(out, deadline, &bad_message);
  if (!s.ok()) {
    for (const Accepted& a : accepted) {
      a.req->result = s;
      if (bad_message >= a.first && bad_message < a.first + a.count) {
        a.req->result =
            InvalidArgument("log.event_too_large", "an event of stream " + a.req->stream.str() +
                                                       " is larger than the brokers accept");
      }
    }
    return;
  }

  committed_txns_.fetch_add(1, std::memory_order_relaxed);
  committed_records_.fetch_add(out.size(), std::memory_order_relaxed);
  // Committed: these records are now the heads of their partitions' chains.
  for (const auto& [p, hash] : chain) w_.last_hash[p] = hash;
  // Record offsets from the delivery reports. A partition's offsets are
  // trusted only when all are known and increasing: librdkafka's mock answers
  // a deduplicated retry with base offset -1, which librdkafka turns into
  // -1, 0, 1, ... for the batch.
  std::vector<int64_t> offsets(out.size(), -1);
  std::map<int32_t, std::vector<size_t>> by_partition;  // indices into `out`, in produce order
  for (size_t i = 0; i < out.size(); ++i) by_partition[out[i].partition].push_back(i);
  std::map<int32_t, int64_t> targets;  // mirror next offsets that cover the records
  std::vector<int32_t> unknown;        // partitions whose offsets are not trusted
  for (const auto& [p, indices] : by_partition) {
    int64_t prev = -1;
    bool known = true;
    for (size_t i : indices) {
      auto it = w_.deliveries.find(out[i].id);
      const int64_t off = it == w_.deliveries.end() ? -1 : it->second.offset;
      if (off < 0 || off <= prev) {
        known = false;
        break;
      }
      prev = off;
    }
    if (!known) {
      unknown.push_back(p);
      continue;
    }
    for (size_t i : indices) offsets[i] = w_.deliveries[out[i].id].offset;
    targets[p] = prev + 1;
    w_.last_offset[p] = prev;
  }
  w_.deliveries.clear();
  bool ends_known = true;
  if (!unknown.empty()) {
    // Wait for those partitions' ends instead, and re-read the heads afterwards.
    w_.need_sync = true;
    auto ends = QueryEnds(deadline);
    ends_known = ends.ok();
    if (ends_known) {
      for (int32_t p : unknown) targets[p] = (*ends)[p];
    }
  }
  // Read-your-writes: answer once the mirror holds the records.
  const bool visible = WaitForMirror(targets, deadline) && ends_known;
  if (!visible) {
    w_.need_sync = true;
    log::Get("kafka")->warn("committed records are not in the mirror yet after append_timeout");
  }
  for (const Accepted& a : accepted) {
    AppendResult res;
    res.stream_version = a.version;
    const int64_t first = offsets[a.first], last = offsets[a.first + a.count - 1];
    if (first >= 0 && last >= 0) {
      res.first = LogPosition{a.partition, first};
      res.last = LogPosition{a.partition, last};
      a.req->result = res;
      continue;
    }
    if (visible) {
      auto recs = store_->ReadStream(a.req->stream.str(), a.first_version, a.count);
      bool ours = recs.ok() && recs->size() == a.count;
      for (size_t i = 0; ours && i < a.count; ++i) {
        ours = (*recs)[i].envelope.event_id() == out[a.first + i].event_id;
      }
      if (ours) {
        res.first = recs->front().position;
        res.last = recs->back().position;
        a.req->result = res;
        continue;
      }
    }
    a.req->result = LogUnavailable(
        "outcome unknown: the transaction was committed but its records are not readable yet; "
        "a retry with the same expected version will report a conflict");
  }
}

}  // namespace ae::events
