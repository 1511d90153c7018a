// Kafka mode against a real cluster: the raw figures of librdkafka (a transactional
// producer, a read_committed consumer) beside which scripts/bench puts the engine's (its
// commands on a KafkaEventLog, bench_appends.cc; `autoenroll replay` from the topic), and the
// prefill of the topic that replay reads.

#include <librdkafka/rdkafka.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "events/base/crypto.h"
#include "events/kafka_event_log.h"
#include "tests/bench/bench.h"

namespace ae::bench {
namespace {

rd_kafka_t* NewClient(rd_kafka_type_t type, const std::map<std::string, std::string>& props,
                      std::string* error) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      *error = errstr;
      rd_kafka_conf_destroy(conf);
      return nullptr;
    }
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
  if (!rk) {
    *error = errstr;
    rd_kafka_conf_destroy(conf);
  }
  return rk;
}

std::string TxnError(rd_kafka_error_t* e) {
  std::string s = rd_kafka_error_string(e);
  rd_kafka_error_destroy(e);
  return s;
}

}  // namespace

int KafkaRawProduce(const KafkaBenchOptions& o) {
  std::string error;
  rd_kafka_t* rk = NewClient(RD_KAFKA_PRODUCER,
                             {{"bootstrap.servers", o.brokers},
                              {"transactional.id", "bench-raw-" + crypto::Hex(crypto::RandomBytes(4))},
                              {"socket.nagle.disable", "true"},  // as the engine's producer
                              {"log_level", "3"}},
                             &error);
  if (!rk) return Fail("kafka-raw-produce", error);
  struct Destroy {
    rd_kafka_t* rk;
    ~Destroy() { rd_kafka_destroy(rk); }
  } destroy{rk};
  if (rd_kafka_error_t* e = rd_kafka_init_transactions(rk, 60000)) {
    return Fail("kafka-raw-produce", "init_transactions: " + TxnError(e));
  }
  const std::string value = PseudoRandomBytes(42, o.event_bytes);
  const size_t batch = std::max<size_t>(1, o.batch);
  uint64_t records = 0, transactions = 0;
  Stopwatch watch;
  while (watch.Seconds() < o.seconds) {
    if (rd_kafka_error_t* e = rd_kafka_begin_transaction(rk)) {
      return Fail("kafka-raw-produce", "begin: " + TxnError(e));
    }
    for (size_t i = 0; i < batch; ++i) {
      const std::string key = "bench-" + std::to_string(records + i);
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(o.topic.c_str()),
          RD_KAFKA_V_PARTITION(static_cast<int32_t>((records + i) % o.partitions)),
          RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err) return Fail("kafka-raw-produce", rd_kafka_err2str(err));
    }
    if (rd_kafka_error_t* e = rd_kafka_commit_transaction(rk, 60000)) {
      return Fail("kafka-raw-produce", "commit: " + TxnError(e));
    }
    records += batch;
    ++transactions;
  }
  const double elapsed = watch.Seconds();
  PrintResult({{"figure", "kafka_raw_produce"},
               {"events", records},
               {"transactions", transactions},
               {"records_per_transaction", batch},
               {"seconds", elapsed},
               {"per_sec", static_cast<double>(records) / elapsed}});
  return 0;
}

int KafkaRawConsume(const KafkaBenchOptions& o) {
  std::string error;
  rd_kafka_t* rk = NewClient(RD_KAFKA_CONSUMER,
                             {{"bootstrap.servers", o.brokers},
                              {"group.id", "bench-consume"},  // never joined (assign)
                              {"isolation.level", "read_committed"},
                              {"enable.auto.commit", "false"},
                              {"socket.nagle.disable", "true"},
                              {"log_level", "3"}},
                             &error);
  if (!rk) return Fail("kafka-raw-consume", error);
  rd_kafka_poll_set_consumer(rk);
  struct Destroy {
    rd_kafka_t* rk;
    ~Destroy() { rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE); }
  } destroy{rk};
  rd_kafka_topic_partition_list_t* ends = rd_kafka_topic_partition_list_new(o.partitions);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(o.partitions);
  for (int32_t p = 0; p < o.partitions; ++p) {
    rd_kafka_topic_partition_list_add(ends, o.topic.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_topic_partition_list_add(list, o.topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, ends, 30000);
  std::map<int32_t, int64_t> end;
  for (int i = 0; !err && i < ends->cnt; ++i) end[ends->elems[i].partition] = ends->elems[i].offset;
  rd_kafka_topic_partition_list_destroy(ends);
  if (err) {
    rd_kafka_topic_partition_list_destroy(list);
    return Fail("kafka-raw-consume", std::string("end offsets: ") + rd_kafka_err2str(err));
  }
  // With apply_dir: the writes a replay cannot avoid, at the raw speed of RocksDB.
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  std::vector<std::string> values;
  rocksdb::WriteBatch batch;
  rocksdb::Status ws;
  if (!o.apply_dir.empty()) {
    rocksdb::DBOptions dbo;
    dbo.create_if_missing = true;
    dbo.create_missing_column_families = true;
    dbo.error_if_exists = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    for (const char* n : {"default", "records", "view_a", "view_b", "view_c"}) {
      descs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    }
    rocksdb::DB* raw = nullptr;
    ws = rocksdb::DB::Open(dbo, o.apply_dir, descs, &cfs, &raw);
    if (!ws.ok()) {
      rd_kafka_topic_partition_list_destroy(list);
      return Fail("kafka-raw-consume", ws.ToString());
    }
    db.reset(raw);
    for (uint64_t i = 0; i < 64; ++i) values.push_back(PseudoRandomBytes(i, 300));
  }
  uint64_t batched = 0;
  auto flush = [&] {
    if (!db || batched == 0 || !ws.ok()) return;
    batch.Put(cfs[0], "checkpoint", std::to_string(batched));
    ws = db->Write(rocksdb::WriteOptions(), &batch);
    batch.Clear();
    batched = 0;
  };
  Stopwatch watch;
  rd_kafka_assign(rk, list);
  uint64_t records = 0, bytes = 0;
  std::map<int32_t, int64_t> done;  // partition -> next offset seen
  auto finished = [&] {
    for (const auto& [p, e] : end) {
      if (e > 0 && done[p] < e) return false;
    }
    return true;
  };
  while (!finished() && watch.Seconds() < 600) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (!m) {
      // Markers and aborted records move the position without a message.
      if (rd_kafka_position(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < list->cnt; ++i) {
          done[list->elems[i].partition] =
              std::max(done[list->elems[i].partition], list->elems[i].offset);
        }
      }
      continue;
    }
    if (!m->err) {
      ++records;
      bytes += m->len;
      done[m->partition] = std::max(done[m->partition], m->offset + 1);
      if (db) {
        char key[24];
        std::snprintf(key, sizeof key, "%04d%016lld", static_cast<int>(m->partition),
                      static_cast<long long>(m->offset));
        batch.Put(cfs[1], key, rocksdb::Slice(static_cast<const char*>(m->payload), m->len));
        const std::string& v = values[records % values.size()];
        const std::string id = HexId(records);
        batch.Put(cfs[2], id, v);
        batch.Put(cfs[3], id, v);
        batch.Put(cfs[4], id, v);
        if (++batched == 1000) flush();
      }
    }
    rd_kafka_message_destroy(m);
  }
  flush();
  const double elapsed = watch.Seconds();
  rd_kafka_topic_partition_list_destroy(list);
  if (db) {
    for (auto* h : cfs) db->DestroyColumnFamilyHandle(h);
    db.reset();
  }
  if (!ws.ok()) return Fail("kafka-raw-consume", ws.ToString());
  if (!finished()) return Fail("kafka-raw-consume", "the topic was not read to its end");
  PrintResult({{"figure", o.apply_dir.empty() ? "kafka_raw_consume" : "kafka_raw_consume_apply"},
               {"events", records},
               {"bytes", bytes},
               {"seconds", elapsed},
               {"per_sec", static_cast<double>(records) / elapsed}});
  return 0;
}

int KafkaPrefill(const KafkaBenchOptions& o) {
  events::KafkaEventLogOptions ko;
  ko.brokers = o.brokers;
  ko.topic = o.topic;
  ko.partitions = o.partitions;
  ko.transactional_id = "bench-prefill-" + crypto::Hex(crypto::RandomBytes(4));
  ko.cache_path = o.dir;
  ko.append_timeout = std::chrono::seconds(60);
  auto log = events::KafkaEventLog::Open(ko);
  if (!log.ok()) return Fail("kafka-prefill", log.status());
  uint64_t units = 0, total = 0;
  while (total < o.events) total += IsUserUnit(units++) ? 2 : 1;
  const bool last_single = total > o.events;
  const std::string admin_id = HexId(7);
  constexpr uint64_t kChunk = 2000;  // units per AppendBatch
  Stopwatch watch;
  uint64_t appended = 0;
  for (uint64_t first = 0; first < units; first += kChunk) {
    std::vector<events::EventLog::AppendItem> items;
    for (uint64_t k = first; k < std::min(units, first + kChunk); ++k) {
      StreamId stream;
      auto evs = UnitEvents(k, last_single && k + 1 == units, stream, admin_id);
      appended += evs.size();
      items.push_back({stream, ExpectedVersion::NoStream(), std::move(evs)});
    }
    for (auto& r : (*log)->AppendBatch(std::move(items))) {
      if (!r.ok()) return Fail("kafka-prefill", r.status());
    }
  }
  const double elapsed = watch.Seconds();
  size_t bytes = 0, n = 0;
  auto sample = (*log)->Read(LogCursor(), 1000);
  if (sample.ok()) {
    for (const auto& r : *sample) bytes += r.raw.size();
    n = sample->size();
  }
  PrintResult({{"figure", "kafka_prefill"},
               {"events", appended},
               {"event_bytes", n ? bytes / n : 0},
               {"seconds", elapsed}});
  return 0;
}

}  // namespace ae::bench
