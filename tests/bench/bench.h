#pragma once
// autoenroll-bench: the measurements behind scripts/bench. Each subcommand
// measures ONE figure, engine or raw library, and prints ONE JSON line on
// stdout; scripts/bench runs them several times, takes medians and prints the
// table. Diagnostics go to stderr. Exit codes: 0 success, 1 failure, 2 usage.
//
// Not a test: nothing here asserts on timings.

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "events/base/status.h"
#include "events/event_log.h"

namespace ae::bench {

// Wall-clock stopwatch (steady clock).
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// Prints `j` as one line on stdout (and flushes).
void PrintResult(const nlohmann::json& j);
// Prints "<what>: <status>" on stderr and returns 1.
int Fail(const std::string& what, const Status& s);
int Fail(const std::string& what, const std::string& message);

// Deterministic pseudo-random bytes (splitmix64), cheap enough not to show in
// a profile; `n` bytes derived from `seed`.
std::string PseudoRandomBytes(uint64_t seed, size_t n);
uint64_t Mix64(uint64_t x);
// 32 lowercase hex characters derived from `seed` (shaped like a user id).
std::string HexId(uint64_t seed);

// --- subcommands (each returns the process exit code) -------------------------

struct AppendOptions {
  std::string dir;     // fresh directory for the RocksDB instance
  int threads = 1;     // concurrent writers
  double seconds = 5;  // measured duration
  size_t event_bytes = 300;
};
// Raw RocksDB: sync=true WriteBatch of one `event_bytes` value per write.
int RawAppend(const AppendOptions& o);
// Engine: PolicyCreated commands through domain::CommandBus on a RocksDbEventLog
// (sync=true), every command on a fresh stream, `threads` writers.
int EngineAppend(const AppendOptions& o);

struct PrefillLogOptions {
  std::string data_dir;  // the log goes to <data_dir>/log (must not exist)
  uint64_t events = 1'000'000;
  int threads = 4;
};
// Fills a log with realistic user/token/policy events (sync=false: prefill only).
int PrefillLog(const PrefillLogOptions& o);
// The prefilled log is made of units: a user (UserCreated + UserTokenIssued on
// user/<id>, 2 events) four times out of five, else a policy (or every tenth
// time a rule set), 1 event each. Unit `k`'s events and stream (a user unit
// becomes a policy when `force_single`).
bool IsUserUnit(uint64_t k);
std::vector<events::Envelope> UnitEvents(uint64_t k, bool force_single, StreamId& stream,
                                         const std::string& admin_id);

struct ApplyOptions {
  std::string dir;       // raw: DB directory; engine: the views directory (fresh)
  std::string data_dir;  // engine: data dir holding the prefilled log
  uint64_t events = 1'000'000;
  size_t batch = 1000;
  size_t value_bytes = 300;
};
// Raw RocksDB: `events` events, 3 column-family puts each, 1000 per WriteBatch,
// one checkpoint put per batch, WAL on, sync=false.
int RawApply(const ApplyOptions& o);
// Engine: ProjectionRunner::CatchUp of the prefilled log into a fresh ViewStore
// with every projector.
int EngineApply(const ApplyOptions& o);

struct PrefillUsersOptions {
  std::string data_dir;
  uint64_t users = 10'000;
  int threads = 16;
};
// Creates users exactly as POST /v1/users does (App, PersonKeys::Seal, CommandBus).
int PrefillUsers(const PrefillUsersOptions& o);

struct RawHttpOptions {
  std::string dir;  // RocksDB directory (fresh)
  uint64_t records = 10'000;
  std::string listen = "127.0.0.1:0";
  int threads = 96;
};
// A minimal cpp-httplib server tuned as PERFORMANCE.md says; GET /v1/users/<name>
// answers one RocksDB Get as JSON. Prints "listening on http://host:port" and
// serves until SIGINT/SIGTERM.
int RawHttp(const RawHttpOptions& o);

// --- Kafka mode, against a real cluster (scripts/kafka; scripts/bench kafka) -----------

struct KafkaBenchOptions {
  std::string brokers;       // bootstrap servers
  std::string topic;         // the event topic (created by kafka-prefill or kafka-engine-append)
  int partitions = 3;
  int threads = 16;          // kafka-engine-append: concurrent writers
  double seconds = 5;        // measured duration of the appends and produces
  size_t batch = 16;         // kafka-raw-produce: records per transaction
  size_t event_bytes = 300;  // kafka-raw-produce: value size
  uint64_t events = 100'000;  // kafka-prefill
  std::string dir;           // the Kafka log's mirror directory (fresh)
  // kafka-raw-consume: when set, also write what a replay must write into a fresh RocksDB
  // there: each record under its position, and a batched 3-family apply as raw-apply does.
  std::string apply_dir;
};
// Engine: PolicyCreated commands through domain::CommandBus on a KafkaEventLog (group
// commit: concurrent commands share a transaction), every command on a fresh stream. Also
// reports the transactions and the records per transaction.
int KafkaEngineAppend(const KafkaBenchOptions& o);
// Raw: librdkafka's transactional producer (idempotent, acks=all), `batch` records of
// `event_bytes` per transaction, spread over the partitions, one transaction at a time.
int KafkaRawProduce(const KafkaBenchOptions& o);
// Raw: a plain read_committed consumer of the whole topic (assign, no processing). With
// `apply_dir`: the same consume, and per record a RocksDB put of the record and three puts
// of ~300 bytes (raw-apply's work), 1000 records per WriteBatch, WAL on, not synced.
int KafkaRawConsume(const KafkaBenchOptions& o);
// Fills the topic with `events` prefill-log events through a KafkaEventLog writer.
int KafkaPrefill(const KafkaBenchOptions& o);

struct ListBenchOptions {
  std::string dir;            // the views directory (prefill: fresh)
  uint64_t devices = 1'000'000;
  std::string mode = "first"; // raw | first | deep
  double seconds = 5;
};
// Fills an enrollments view with `devices` DEP and KME devices (half each, users of about
// 1000 devices each, nine in ten with a user, a quarter enrolled) through
// EnrollmentsProjector, and beside it a plain family keyed <user> NUL <device> holding the
// same records (the raw figure's).
int PrefillEnrollments(const ListBenchOptions& o);
// Pages of 100 for `seconds`, one at a time: `first` = the first page of status=not_enrolled
// and a random user; `deep` = a page at a cursor deep in that filter or in status alone;
// `raw` = a RocksDB prefix scan of 100 records of a random user.
int ListEnrollmentsBench(const ListBenchOptions& o);

}  // namespace ae::bench
