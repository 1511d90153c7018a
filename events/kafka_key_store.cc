#include "events/kafka_key_store.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>

#include "events/base/crypto.h"
#include "events/base/logging.h"
#include "events/kafka_topic_admin.h"

namespace ae::events {

namespace {

Status Unavail(const std::string& what) { return Unavailable("log.unavailable", what); }

// The delivery outcome of one key record; written by the delivery callback,
// which runs inside rd_kafka_flush on the producing thread.
struct Delivery {
  bool done = false;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
};

Result<rd_kafka_conf_t*> MakeConf(const KafkaKeyBackendOptions& o) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  auto set = [&](const std::string& k, const std::string& v) {
    return rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) == RD_KAFKA_CONF_OK;
  };
  bool ok = set("bootstrap.servers", o.brokers) && set("socket.nagle.disable", "true");
  for (const auto& [k, v] : o.properties) ok = ok && set(k, v);
  if (!ok) {
    rd_kafka_conf_destroy(conf);
    return InvalidArgument("kafka.bad_property", err);
  }
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int level, const char* fac,
                                    const char* line) {
    auto l = log::Get("kafka");
    if (level <= 3) l->error("keys {}: {}", fac, line);
    else if (level <= 4) l->warn("keys {}: {}", fac, line);
    else l->debug("keys {}: {}", fac, line);
  });
  return conf;
}

}  // namespace

Result<std::unique_ptr<KafkaKeyBackend>> KafkaKeyBackend::Open(
    const KafkaKeyBackendOptions& options) {
  if (options.sealing_key.size() != crypto::kAeadKeyBytes) {
    return InvalidArgument("kafka.bad_sealing_key", "the key sealing key must be 32 bytes");
  }
  std::unique_ptr<KafkaKeyBackend> b(new KafkaKeyBackend(options));
  char err[512];
  if (options.writer) AE_RETURN_IF_ERROR(b->NewProducer());
  AE_ASSIGN_OR_RETURN(rd_kafka_conf_t * cconf, MakeConf(options));
  rd_kafka_conf_set(cconf, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_conf_set(cconf, "group.id", "autoenroll-keys", err, sizeof err);
  rd_kafka_conf_set(cconf, "enable.partition.eof", "false", err, sizeof err);
  b->consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof err);
  if (!b->consumer_) return Unavail(std::string("keys consumer: ") + err);
  rd_kafka_poll_set_consumer(b->consumer_);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, options.topic.c_str(), 0)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  auto assigned = rd_kafka_assign(b->consumer_, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  if (assigned) return Unavail(std::string("keys assign: ") + rd_kafka_err2str(assigned));
  // The writer creates the compacted topic; everyone checks it. A replica started before
  // the writer ever ran finds no topic yet, and reads it once it exists.
  internal::KafkaTopicSpec spec;
  spec.name = options.topic;
  spec.partitions = 1;
  spec.replication_factor = options.replication_factor;
  spec.min_insync_replicas = options.min_insync_replicas;
  spec.compacted = true;
  spec.create = options.writer;
  spec.allow_missing = !options.writer;
  spec.check_durability = options.writer;
  AE_RETURN_IF_ERROR(internal::EnsureKafkaTopic(b->producer_ ? b->producer_ : b->consumer_, spec,
                                                b->NewDeadline())
                         .status());
  b->thread_ = std::jthread([p = b.get()](std::stop_token st) { p->ConsumeLoop(st); });
  AE_RETURN_IF_ERROR(b->CatchUp(b->NewDeadline()));
  return b;
}

Status KafkaKeyBackend::NewProducer() {
  if (producer_) {
    // Unusable after a fatal error: what it still holds is dropped (each Delivery of an
    // unfinished write is leaked on purpose, see ProduceMany).
    rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(producer_);
    producer_ = nullptr;
  }
  char err[512];
  AE_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, MakeConf(options_));
  rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    auto* d = static_cast<Delivery*>(m->_private);
    d->err = m->err;
    d->done = true;
  });
  producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!producer_) return Unavail(std::string("keys producer: ") + err);
  return Status::Ok();
}

Status KafkaKeyBackend::FailProducerForTest() {
  if (!producer_) return Unavailable("log.read_only", "this replica does not write keys");
  std::lock_guard produce_lock(produce_mu_);
  rd_kafka_resp_err_t e = rd_kafka_test_fatal_error(
      producer_, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "raised by a test");
  if (e) return Unavail(std::string("keys: cannot raise a fatal error: ") + rd_kafka_err2str(e));
  return Status::Ok();
}

KafkaKeyBackend::~KafkaKeyBackend() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
  if (consumer_) {
    rd_kafka_consumer_close(consumer_);
    rd_kafka_destroy(consumer_);
  }
  if (producer_) {
    rd_kafka_flush(producer_, 2000);
    rd_kafka_destroy(producer_);
  }
}

void KafkaKeyBackend::ConsumeLoop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, 100);
    if (!m) continue;
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        log::Get("kafka")->warn("keys consumer: {}", rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
      continue;
    }
    std::string subject(static_cast<const char*>(m->key), m->key_len);
    std::optional<std::string> key;
    if (m->payload) {
      auto opened = crypto::Open(options_.sealing_key,
                                 std::string_view(static_cast<const char*>(m->payload), m->len),
                                 subject);
      if (opened.ok()) key = std::move(opened).value();
      else log::Get("kafka")->error("keys: a key record does not open (wrong master key?)");
    }
    {
      std::lock_guard lock(mu_);
      if (key) keys_[subject] = *key;
      else keys_.erase(subject);
      next_offset_ = m->offset + 1;
    }
    advanced_.notify_all();
    rd_kafka_message_destroy(m);
  }
}

namespace {
int MsUntil(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - std::chrono::steady_clock::now()).count();
  return static_cast<int>(std::max<int64_t>(left, 1));
}
}  // namespace

Status KafkaKeyBackend::CatchUp(Deadline deadline) {
  // The end of the key topic's one partition. offsets_for_times honours its timeout;
  // query_watermark_offsets waits for socket.timeout.ms while a broker does not answer.
  // While its leader moves (a broker lost, a topic just created) the partition answers
  // NOT_LEADER or LEADER_NOT_AVAILABLE: asked again, with fresh metadata, until `deadline`.
  int64_t high = 0;
  rd_kafka_t* handle = producer_ ? producer_ : consumer_;
  while (true) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), 0)->offset =
        RD_KAFKA_OFFSET_END;
    auto err = rd_kafka_offsets_for_times(
        handle, list, MsUntil(std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(2))));
    if (!err) {
      err = list->elems[0].err;
      high = list->elems[0].offset;
      if (!err && high < 0) err = RD_KAFKA_RESP_ERR__BAD_MSG;
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
        err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      return Status::Ok();  // no keys yet
    }
    if (!err) break;
    bool moving = err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                  err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                  err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
                  err == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT;
    if (!moving || std::chrono::steady_clock::now() >= deadline) {
      return Unavail(std::string("keys: ") + rd_kafka_err2str(err));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::unique_lock lock(mu_);
  if (!advanced_.wait_until(lock, deadline, [&] { return next_offset_ >= high; })) {
    return Unavail("keys: the key topic could not be read to its end in time");
  }
  return Status::Ok();
}

Result<std::optional<std::string>> KafkaKeyBackend::Get(const std::string& subject_id) {
  {
    std::lock_guard lock(mu_);
    auto it = keys_.find(subject_id);
    if (it != keys_.end()) return std::optional<std::string>(it->second);
  }
  AE_RETURN_IF_ERROR(CatchUp(NewDeadline()));
  std::lock_guard lock(mu_);
  auto it = keys_.find(subject_id);
  if (it == keys_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status KafkaKeyBackend::Produce(const std::string& subject_id, const std::string* value,
                                Deadline deadline) {
  return ProduceMany({{subject_id, value}}, deadline);
}

Status KafkaKeyBackend::ProduceMany(
    const std::vector<std::pair<std::string, const std::string*>>& records, Deadline deadline) {
  if (!producer_) return Unavailable("log.read_only", "this replica does not write keys");
  std::lock_guard produce_lock(produce_mu_);
  // An idempotent producer that met a fatal error (a sequence gap the broker cannot
  // reconcile, an epoch fenced) refuses every later record: a new one takes over, and the
  // records go again (a key record written twice is the same key: the topic is compacted).
  for (int attempt = 0;; ++attempt) {
    if (char why[256]; rd_kafka_fatal_error(producer_, why, sizeof why)) {
      log::Get("kafka")->error("keys: the producer failed ({}); it is restarted", why);
      AE_RETURN_IF_ERROR(NewProducer());
    }
    Status s = ProduceOnce(records, deadline);
    if (s.ok() || attempt > 0 || !rd_kafka_fatal_error(producer_, nullptr, 0)) return s;
  }
}

Status KafkaKeyBackend::ProduceOnce(
    const std::vector<std::pair<std::string, const std::string*>>& records, Deadline deadline) {
  // On the heap: if the broker never answers, a late delivery report must not
  // write into a finished stack frame (the records are then leaked on purpose).
  std::vector<Delivery*> deliveries;
  deliveries.reserve(records.size());
  auto all_done = [&] {
    for (Delivery* d : deliveries) {
      if (!d->done) return false;
    }
    return true;
  };
  for (const auto& [subject_id, value] : records) {
    auto* delivery = new Delivery;
    auto err = rd_kafka_producev(
        producer_, RD_KAFKA_V_TOPIC(options_.topic.c_str()), RD_KAFKA_V_PARTITION(0),
        RD_KAFKA_V_KEY(subject_id.data(), subject_id.size()),
        RD_KAFKA_V_VALUE(value ? const_cast<char*>(value->data()) : nullptr,
                         value ? value->size() : 0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(delivery), RD_KAFKA_V_END);
    if (err) {
      delete delivery;
      rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_flush(producer_, 1000);
      if (all_done()) {
        for (Delivery* d : deliveries) delete d;
      }
      return Unavail(std::string("keys produce: ") + rd_kafka_err2str(err));
    }
    deliveries.push_back(delivery);
  }
  if (rd_kafka_flush(producer_, MsUntil(deadline)) != 0 || !all_done()) {
    // The records may still go out later; `deliveries` must outlive them.
    rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(producer_, 1000);
    if (!all_done()) return Unavail("keys: the key could not be stored in time");
  }
  rd_kafka_resp_err_t result = RD_KAFKA_RESP_ERR_NO_ERROR;
  for (Delivery* d : deliveries) {
    if (d->err && !result) result = d->err;
    delete d;
  }
  if (result) return Unavail(std::string("keys: ") + rd_kafka_err2str(result));
  return CatchUp(deadline);
}

Status KafkaKeyBackend::Put(const std::string& subject_id, const std::string& key) {
  AE_ASSIGN_OR_RETURN(std::string sealed, crypto::Seal(options_.sealing_key, key, subject_id));
  return Produce(subject_id, &sealed, NewDeadline());
}

Status KafkaKeyBackend::PutMany(const std::vector<std::pair<std::string, std::string>>& keys) {
  std::vector<std::string> sealed;
  sealed.reserve(keys.size());
  for (const auto& [subject_id, key] : keys) {
    AE_ASSIGN_OR_RETURN(std::string s, crypto::Seal(options_.sealing_key, key, subject_id));
    sealed.push_back(std::move(s));
  }
  std::vector<std::pair<std::string, const std::string*>> records;
  records.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) records.emplace_back(keys[i].first, &sealed[i]);
  return ProduceMany(records, NewDeadline());
}

Status KafkaKeyBackend::Destroy(const std::string& subject_id) {
  AE_RETURN_IF_ERROR(Produce(subject_id, nullptr, NewDeadline()));
  std::lock_guard lock(mu_);
  keys_.erase(subject_id);
  return Status::Ok();
}

}  // namespace ae::events
