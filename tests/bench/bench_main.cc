// autoenroll-bench: one measurement per invocation; see tests/bench/bench.h and
// scripts/bench (which runs them, takes medians and prints the table).
//
//   raw-append     --dir D --threads T --seconds S
//   engine-append  --dir D --threads T --seconds S
//   prefill-log    --data-dir D --events N
//   raw-apply      --dir D --events N
//   engine-apply   --data-dir D --dir VIEWS
//   prefill-users  --data-dir D --users N
//   raw-http       --dir D --records N --listen 127.0.0.1:0
//   kme-csv        --out F --rows N --users U [--first K]
//   raw-kme-read   --file F
//   raw-dep-fetch  --control URL --url URL [--server NAME]
//   kafka-engine-append  --brokers B --topic T --dir D [--partitions P --threads T --seconds S]
//   kafka-raw-produce    --brokers B --topic T [--partitions P --batch N --seconds S]
//   kafka-raw-consume    --brokers B --topic T [--partitions P --apply-dir D]
//   kafka-prefill        --brokers B --topic T --dir D [--partitions P --events N]
//   prefill-devices --data-dir D --events N
//   rule-dry-run    --data-dir D
//   raw-log-read    --data-dir D

#include <CLI/CLI.hpp>
#include <iostream>

#include "events/base/logging.h"
#include "tests/bench/bench.h"
#include "tests/bench/bench_dep.h"
#include "tests/bench/bench_kme.h"
#include "tests/bench/bench_rules.h"

namespace ae::bench {

void PrintResult(const nlohmann::json& j) { std::cout << j.dump() << std::endl; }

int Fail(const std::string& what, const Status& s) { return Fail(what, s.ToString()); }

int Fail(const std::string& what, const std::string& message) {
  std::cerr << "autoenroll-bench " << what << ": " << message << std::endl;
  return 1;
}

uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string PseudoRandomBytes(uint64_t seed, size_t n) {
  std::string out;
  out.reserve(n + 8);
  uint64_t s = seed;
  while (out.size() < n) {
    s = Mix64(s);
    out.append(reinterpret_cast<const char*>(&s), sizeof s);
  }
  out.resize(n);
  return out;
}

std::string HexId(uint64_t seed) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(32);
  uint64_t a = Mix64(seed), b = Mix64(seed ^ 0x5bd1e995u);
  for (uint64_t w : {a, b}) {
    for (int i = 0; i < 16; ++i) out.push_back(kHex[(w >> (4 * i)) & 0xf]);
  }
  return out;
}

}  // namespace ae::bench

int main(int argc, char** argv) {
  namespace b = ae::bench;
  CLI::App cli{"autoenroll-bench: engine and raw-library measurements for scripts/bench"};
  cli.require_subcommand(1);

  b::AppendOptions raw_append, engine_append;
  auto add_append = [&cli](const char* name, const char* help, b::AppendOptions& o) {
    auto* c = cli.add_subcommand(name, help);
    c->add_option("--dir", o.dir, "fresh directory for the RocksDB instance")->required();
    c->add_option("--threads", o.threads, "concurrent writers")
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
    c->add_option("--seconds", o.seconds, "measured duration")
        ->capture_default_str()
        ->check(CLI::Range(0.1, 600.0));
    c->add_option("--event-bytes", o.event_bytes, "raw value size")->capture_default_str();
    return c;
  };
  auto* raw_append_cmd =
      add_append("raw-append", "RocksDB sync=true, one event per write", raw_append);
  auto* engine_append_cmd = add_append(
      "engine-append", "CommandBus + RocksDbEventLog, one event per command", engine_append);

  b::PrefillLogOptions prefill_log;
  auto* prefill_log_cmd = cli.add_subcommand("prefill-log", "fill <data-dir>/log with events");
  prefill_log_cmd->add_option("--data-dir", prefill_log.data_dir, "data dir")->required();
  prefill_log_cmd->add_option("--events", prefill_log.events, "events")->capture_default_str();
  prefill_log_cmd->add_option("--threads", prefill_log.threads, "appending threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));

  b::ApplyOptions raw_apply, engine_apply;
  auto* raw_apply_cmd = cli.add_subcommand("raw-apply", "RocksDB batched 3-CF apply");
  raw_apply_cmd->add_option("--dir", raw_apply.dir, "fresh DB directory")->required();
  raw_apply_cmd->add_option("--events", raw_apply.events, "events")->capture_default_str();
  raw_apply_cmd->add_option("--batch", raw_apply.batch, "events per WriteBatch")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  raw_apply_cmd->add_option("--value-bytes", raw_apply.value_bytes, "bytes per put")
      ->capture_default_str();
  auto* engine_apply_cmd = cli.add_subcommand("engine-apply", "ProjectionRunner::CatchUp");
  engine_apply_cmd->add_option("--data-dir", engine_apply.data_dir, "data dir with the log")
      ->required();
  engine_apply_cmd->add_option("--dir", engine_apply.dir, "fresh views directory")->required();

  b::PrefillUsersOptions prefill_users;
  auto* prefill_users_cmd = cli.add_subcommand("prefill-users", "create users as the API does");
  prefill_users_cmd->add_option("--data-dir", prefill_users.data_dir, "data dir")->required();
  prefill_users_cmd->add_option("--users", prefill_users.users, "users")->capture_default_str();
  prefill_users_cmd->add_option("--threads", prefill_users.threads, "concurrent creators")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));

  b::RawHttpOptions raw_http;
  auto* raw_http_cmd = cli.add_subcommand("raw-http", "tuned cpp-httplib + one RocksDB Get");
  raw_http_cmd->add_option("--dir", raw_http.dir, "fresh DB directory")->required();
  raw_http_cmd->add_option("--records", raw_http.records, "records")->capture_default_str();
  raw_http_cmd->add_option("--listen", raw_http.listen, "HOST:PORT")->capture_default_str();
  raw_http_cmd->add_option("--threads", raw_http.threads, "HTTP worker threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));

  b::RawDepFetchOptions raw_dep_fetch;
  auto* raw_dep_fetch_cmd =
      cli.add_subcommand("raw-dep-fetch", "the DEP client alone paging a simulator's devices");
  raw_dep_fetch_cmd->add_option("--control", raw_dep_fetch.control, "simulator control URL")
      ->required();
  raw_dep_fetch_cmd->add_option("--url", raw_dep_fetch.url, "simulator DEP URL")->required();
  raw_dep_fetch_cmd->add_option("--server", raw_dep_fetch.server, "MDM server name")
      ->capture_default_str();
  raw_dep_fetch_cmd->add_option("--devices", raw_dep_fetch.devices, "first add this many devices")
      ->capture_default_str();
  b::KmeCsvOptions kme_csv;
  auto* kme_csv_cmd = cli.add_subcommand("kme-csv", "write a generated Knox portal export");
  kme_csv_cmd->add_option("--out", kme_csv.out, "file to write")->required();
  kme_csv_cmd->add_option("--rows", kme_csv.rows, "devices")->capture_default_str();
  kme_csv_cmd->add_option("--users", kme_csv.users, "bench users (half the User IDs exist)")
      ->capture_default_str();
  kme_csv_cmd->add_option("--first", kme_csv.first, "number of the first device")
      ->capture_default_str();
  b::RawKmeReadOptions raw_kme_read;
  auto* raw_kme_read_cmd = cli.add_subcommand("raw-kme-read", "the Knox CSV reader alone");
  raw_kme_read_cmd->add_option("--file", raw_kme_read.file, "CSV file")->required();

  b::KafkaBenchOptions kafka_engine, kafka_raw, kafka_consume, kafka_prefill;
  auto add_kafka = [&cli](const char* name, const char* help, b::KafkaBenchOptions& o) {
    auto* c = cli.add_subcommand(name, help);
    c->add_option("--brokers", o.brokers, "bootstrap servers")->required();
    c->add_option("--topic", o.topic, "event topic")->required();
    c->add_option("--partitions", o.partitions, "partitions of the topic")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    return c;
  };
  auto* kafka_engine_cmd = add_kafka(
      "kafka-engine-append", "CommandBus + KafkaEventLog, one event per command", kafka_engine);
  kafka_engine_cmd->add_option("--dir", kafka_engine.dir, "fresh mirror directory")->required();
  kafka_engine_cmd->add_option("--threads", kafka_engine.threads, "concurrent writers")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  kafka_engine_cmd->add_option("--seconds", kafka_engine.seconds, "measured duration")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
  auto* kafka_raw_cmd =
      add_kafka("kafka-raw-produce", "librdkafka transactional produce, acks=all", kafka_raw);
  kafka_raw_cmd->add_option("--batch", kafka_raw.batch, "records per transaction")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  kafka_raw_cmd->add_option("--event-bytes", kafka_raw.event_bytes, "value size")
      ->capture_default_str();
  kafka_raw_cmd->add_option("--seconds", kafka_raw.seconds, "measured duration")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
  auto* kafka_consume_cmd =
      add_kafka("kafka-raw-consume", "librdkafka read_committed consume of the topic", kafka_consume);
  kafka_consume_cmd->add_option("--apply-dir", kafka_consume.apply_dir,
                                "also write each record and a 3-family apply into a fresh RocksDB here");
  auto* kafka_prefill_cmd =
      add_kafka("kafka-prefill", "fill the topic through a KafkaEventLog", kafka_prefill);
  kafka_prefill_cmd->add_option("--dir", kafka_prefill.dir, "fresh mirror directory")->required();
  kafka_prefill_cmd->add_option("--events", kafka_prefill.events, "events")->capture_default_str();

  b::ListBenchOptions prefill_list, list;
  auto* prefill_list_cmd =
      cli.add_subcommand("prefill-enrollments", "fill an enrollments view with devices");
  prefill_list_cmd->add_option("--dir", prefill_list.dir, "fresh views directory")->required();
  prefill_list_cmd->add_option("--devices", prefill_list.devices, "devices")->capture_default_str();
  auto* list_cmd = cli.add_subcommand("list-enrollments", "pages of the Auto Enrollments list");
  list_cmd->add_option("--dir", list.dir, "a prefilled views directory")->required();
  list_cmd->add_option("--devices", list.devices, "devices it was filled with")
      ->capture_default_str();
  list_cmd->add_option("--mode", list.mode, "raw | first | deep")
      ->check(CLI::IsMember({"raw", "first", "deep"}))
      ->capture_default_str();
  list_cmd->add_option("--seconds", list.seconds, "measured duration")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
  b::RulesBenchOptions rules_prefill, rules_dry, rules_raw;
  auto* prefill_devices_cmd =
      cli.add_subcommand("prefill-devices", "a log of KME and DEP device events");
  prefill_devices_cmd->add_option("--data-dir", rules_prefill.data_dir, "data dir (fresh log)")
      ->required();
  prefill_devices_cmd->add_option("--events", rules_prefill.events, "events")
      ->capture_default_str();
  auto* rule_dry_run_cmd = cli.add_subcommand("rule-dry-run", "an enrollment rule's dry run");
  rule_dry_run_cmd->add_option("--data-dir", rules_dry.data_dir, "data dir")->required();
  auto* raw_log_read_cmd = cli.add_subcommand("raw-log-read", "EventLog::Read of the whole log");
  raw_log_read_cmd->add_option("--data-dir", rules_raw.data_dir, "data dir")->required();

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = cli.exit(e);
    return rc == 0 ? 0 : 2;
  }
  ae::log::Init("warn");

  if (*prefill_list_cmd) return b::PrefillEnrollments(prefill_list);
  if (*list_cmd) return b::ListEnrollmentsBench(list);
  if (*raw_append_cmd) return b::RawAppend(raw_append);
  if (*engine_append_cmd) return b::EngineAppend(engine_append);
  if (*prefill_log_cmd) return b::PrefillLog(prefill_log);
  if (*raw_apply_cmd) return b::RawApply(raw_apply);
  if (*engine_apply_cmd) return b::EngineApply(engine_apply);
  if (*prefill_users_cmd) return b::PrefillUsers(prefill_users);
  if (*raw_http_cmd) return b::RawHttp(raw_http);
  if (*raw_dep_fetch_cmd) return b::RawDepFetch(raw_dep_fetch);
  if (*kme_csv_cmd) return b::KmeCsv(kme_csv);
  if (*raw_kme_read_cmd) return b::RawKmeRead(raw_kme_read);
  if (*kafka_engine_cmd) return b::KafkaEngineAppend(kafka_engine);
  if (*kafka_raw_cmd) return b::KafkaRawProduce(kafka_raw);
  if (*kafka_consume_cmd) return b::KafkaRawConsume(kafka_consume);
  if (*kafka_prefill_cmd) return b::KafkaPrefill(kafka_prefill);
  if (*prefill_devices_cmd) return b::PrefillDevices(rules_prefill);
  if (*rule_dry_run_cmd) return b::RuleDryRun(rules_dry);
  if (*raw_log_read_cmd) return b::RawLogRead(rules_raw);
  return 2;
}
