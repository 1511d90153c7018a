// Durable appends: raw RocksDB (one synced event per write) against the
// engine's CommandBus on a group-committed RocksDbEventLog.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "domain/command_bus.h"
#include "domain/users/users.h"
#include "events/base/crypto.h"
#include "events/kafka_event_log.h"
#include "events/rocksdb_event_log.h"
#include "tests/bench/bench.h"

namespace ae::bench {

namespace {

// Hard cap per writer, so a loop ends even if the clock misbehaves.
constexpr uint64_t kMaxOpsPerWriter = 50'000'000;
// Latency samples kept per writer (the first ones; enough for a p99).
constexpr size_t kMaxSamplesPerWriter = 200'000;

// PolicyCreated names are padded to this length so an envelope is ~300 B.
constexpr size_t kPolicyNameBytes = 102;

struct WriterStats {
  uint64_t ops = 0;
  uint64_t errors = 0;
  std::string first_error;
  std::vector<double> latencies_us;
};

// Runs `op(writer, i)` from `threads` threads for `seconds`; all writers start
// together. Returns the per-writer stats and the elapsed wall time.
template <typename Op>
double RunWriters(int threads, double seconds, std::vector<WriterStats>& stats, Op op) {
  stats.assign(static_cast<size_t>(threads), WriterStats{});
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      WriterStats& s = stats[static_cast<size_t>(t)];
      s.latencies_us.reserve(kMaxSamplesPerWriter);
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      for (uint64_t i = 0; i < kMaxOpsPerWriter && !stop.load(std::memory_order_relaxed); ++i) {
        auto t0 = std::chrono::steady_clock::now();
        Status st = op(t, i);
        auto us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                      .count();
        if (!st.ok()) {
          if (s.errors++ == 0) s.first_error = st.ToString();
          continue;
        }
        ++s.ops;
        if (s.latencies_us.size() < kMaxSamplesPerWriter) s.latencies_us.push_back(us);
      }
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  Stopwatch watch;
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (auto& th : pool) th.join();
  return watch.Seconds();
}

double Percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// The common JSON line; nullopt-like failure is reported by the caller.
nlohmann::json Summary(const char* figure, const AppendOptions& o, std::vector<WriterStats>& stats,
                       double elapsed) {
  uint64_t ops = 0, errors = 0;
  std::vector<double> lat;
  for (auto& s : stats) {
    ops += s.ops;
    errors += s.errors;
    lat.insert(lat.end(), s.latencies_us.begin(), s.latencies_us.end());
  }
  return {{"figure", figure},
          {"threads", o.threads},
          {"events", ops},
          {"errors", errors},
          {"seconds", elapsed},
          {"per_sec", static_cast<double>(ops) / elapsed},
          {"latency_p50_us", Percentile(lat, 0.50)},
          {"latency_p99_us", Percentile(lat, 0.99)}};
}

Status FirstError(const std::vector<WriterStats>& stats) {
  for (const auto& s : stats) {
    if (s.errors > 0) return Internal("bench.write_failed", s.first_error);
  }
  return Status::Ok();
}

void PutBe64(std::string& s, uint64_t v) {
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

int RawAppend(const AppendOptions& o) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.error_if_exists = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(opts, o.dir, &raw);
  if (!s.ok()) return Fail("raw-append", s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  const std::string value = PseudoRandomBytes(42, o.event_bytes);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  std::vector<WriterStats> stats;
  double elapsed = RunWriters(o.threads, o.seconds, stats, [&](int t, uint64_t i) -> Status {
    std::string key;
    PutBe64(key, static_cast<uint64_t>(t));
    PutBe64(key, i);
    rocksdb::WriteBatch batch;
    batch.Put(key, value);
    rocksdb::Status ws = db->Write(wo, &batch);
    return ws.ok() ? Status::Ok() : Unavailable("bench.write", ws.ToString());
  });
  if (Status e = FirstError(stats); !e.ok()) return Fail("raw-append", e);
  nlohmann::json j = Summary("raw_append", o, stats, elapsed);
  j["event_bytes"] = o.event_bytes;
  PrintResult(j);
  return 0;
}

int EngineAppend(const AppendOptions& o) {
  events::RocksDbEventLogOptions lo;
  lo.path = o.dir;
  lo.sync = true;
  auto log = events::RocksDbEventLog::Open(lo);
  if (!log.ok()) return Fail("engine-append", log.status());
  domain::CommandBus bus(**log);
  const std::string admin_id = HexId(7);
  std::atomic<uint64_t> request_seq{0};
  std::vector<WriterStats> stats;
  double elapsed = RunWriters(o.threads, o.seconds, stats, [&](int t, uint64_t i) -> Status {
    std::string key = "bench-w" + std::to_string(t) + "-" + std::to_string(i);
    std::string name = "Bench policy " + key + " ";
    name.resize(kPolicyNameBytes, 'x');
    domain::CommandContext ctx;  // as the HTTP API stamps it
    ctx.actor.set_kind(autoenroll::events::v1::Actor::KIND_USER);
    ctx.actor.set_id(admin_id);
    ctx.correlation_id = crypto::Hex(crypto::RandomBytes(6)) + "-" + std::to_string(++request_seq);
    auto r = bus.Execute(StreamId("policy", domain::users::RecordKey(key)),
                         domain::users::NamedDecider(
                             domain::users::CreatePolicy{domain::users::RecordKey(key), name}),
                         ctx);
    return r.ok() ? Status::Ok() : r.status();
  });
  if (Status e = FirstError(stats); !e.ok()) return Fail("engine-append", e);
  // The size of what was appended (the stored envelopes).
  size_t bytes = 0, n = 0;
  auto sample = (*log)->Read(LogCursor(), 1000);
  if (sample.ok()) {
    for (const auto& r : *sample) bytes += r.raw.size();
    n = sample->size();
  }
  nlohmann::json j = Summary("engine_append", o, stats, elapsed);
  j["event_bytes"] = n ? bytes / n : 0;
  PrintResult(j);
  return 0;
}

int KafkaEngineAppend(const KafkaBenchOptions& o) {
  events::KafkaEventLogOptions ko;
  ko.brokers = o.brokers;
  ko.topic = o.topic;
  ko.partitions = o.partitions;
  ko.transactional_id = "bench-writer-" + crypto::Hex(crypto::RandomBytes(4));
  ko.cache_path = o.dir;
  ko.append_timeout = std::chrono::seconds(30);
  auto log = events::KafkaEventLog::Open(ko);
  if (!log.ok()) return Fail("kafka-engine-append", log.status());
  if (Status s = (*log)->WaitUntilCaughtUp(std::chrono::seconds(60)); !s.ok()) {
    return Fail("kafka-engine-append", s);
  }
  domain::CommandBus bus(**log);
  const std::string admin_id = HexId(7);
  const std::string run = crypto::Hex(crypto::RandomBytes(4));
  std::atomic<uint64_t> request_seq{0};
  std::vector<WriterStats> stats;
  AppendOptions ao;
  ao.threads = o.threads;
  ao.seconds = o.seconds;
  const auto before = (*log)->writer_stats();
  double elapsed = RunWriters(o.threads, o.seconds, stats, [&](int t, uint64_t i) -> Status {
    std::string key = "bench-" + run + "-w" + std::to_string(t) + "-" + std::to_string(i);
    std::string name = "Bench policy " + key + " ";
    name.resize(kPolicyNameBytes, 'x');
    domain::CommandContext ctx;  // as the HTTP API stamps it
    ctx.actor.set_kind(autoenroll::events::v1::Actor::KIND_USER);
    ctx.actor.set_id(admin_id);
    ctx.correlation_id = crypto::Hex(crypto::RandomBytes(6)) + "-" + std::to_string(++request_seq);
    auto r = bus.Execute(StreamId("policy", domain::users::RecordKey(key)),
                         domain::users::NamedDecider(
                             domain::users::CreatePolicy{domain::users::RecordKey(key), name}),
                         ctx);
    return r.ok() ? Status::Ok() : r.status();
  });
  if (Status e = FirstError(stats); !e.ok()) return Fail("kafka-engine-append", e);
  const auto after = (*log)->writer_stats();
  size_t bytes = 0, n = 0;
  auto sample = (*log)->Read(LogCursor(), 1000);
  if (sample.ok()) {
    for (const auto& r : *sample) bytes += r.raw.size();
    n = sample->size();
  }
  nlohmann::json j = Summary("kafka_engine_append", ao, stats, elapsed);
  const uint64_t txns = after.transactions - before.transactions;
  const uint64_t records = after.records - before.records;
  j["transactions"] = txns;
  j["records_per_transaction"] = txns ? static_cast<double>(records) / txns : 0.0;
  j["event_bytes"] = n ? bytes / n : 0;
  PrintResult(j);
  return 0;
}

}  // namespace ae::bench
