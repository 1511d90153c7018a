// Projection apply: the engine's ProjectionRunner::CatchUp with every projector
// against a plain RocksDB batched apply of the same number of events.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "api/app.h"
#include "events/rocksdb_event_log.h"
#include "projections/all_projectors.h"
#include "projections/projection_runner.h"
#include "tests/bench/bench.h"

namespace ae::bench {

namespace fs = std::filesystem;
namespace v1 = autoenroll::events::v1;

bool IsUserUnit(uint64_t k) { return k % 5 != 4; }

std::vector<events::Envelope> UnitEvents(uint64_t k, bool force_single, StreamId& stream,
                                         const std::string& admin_id) {
  std::vector<events::Envelope> out;
  char name[64];
  if (IsUserUnit(k) && !force_single) {
    const std::string id = HexId(k);
    stream = StreamId("user", id);
    // What PersonKeys::Seal makes of {username, display_name, email}.
    v1::PersonalData pd;
    std::snprintf(name, sizeof name, "bench-user-%07llu", static_cast<unsigned long long>(k));
    pd.set_username(name);
    pd.set_display_name(std::string("Bench User ") + std::to_string(k));
    pd.set_email(std::string(name) + "@example.com");
    events::Envelope created;
    auto* c = created.mutable_user_created();
    c->set_user_id(id);
    c->set_role(v1::ROLE_DEVICE_USER);
    c->mutable_personal()->set_subject_id(id);
    c->mutable_personal()->set_key_version(1);
    c->mutable_personal()->set_ciphertext(
        PseudoRandomBytes(k, 12 + pd.SerializeAsString().size() + 16));
    out.push_back(std::move(created));
    events::Envelope token;
    auto* t = token.mutable_user_token_issued();
    t->set_user_id(id);
    std::string sha = PseudoRandomBytes(k ^ 0xabcdefULL, 32);
    t->set_token_id(HexId(k ^ 0x1234ULL).substr(0, 16));
    t->set_token_sha256(sha);
    out.push_back(std::move(token));
  } else if (k % 50 == 49) {
    std::snprintf(name, sizeof name, "ruleset-%07llu", static_cast<unsigned long long>(k));
    stream = StreamId("ruleset", name);
    events::Envelope e;
    e.mutable_ruleset_created()->set_ruleset_id(name);
    e.mutable_ruleset_created()->set_name(std::string("Rule set ") + std::to_string(k));
    out.push_back(std::move(e));
  } else {
    std::snprintf(name, sizeof name, "policy-%07llu", static_cast<unsigned long long>(k));
    stream = StreamId("policy", name);
    events::Envelope e;
    e.mutable_policy_created()->set_policy_id(name);
    e.mutable_policy_created()->set_name(std::string("Policy ") + std::to_string(k));
    out.push_back(std::move(e));
  }
  for (auto& e : out) {  // as CommandBus::Stamp does for an HTTP request
    e.mutable_actor()->set_kind(v1::Actor::KIND_USER);
    e.mutable_actor()->set_id(admin_id);
    e.set_correlation_id(HexId(k ^ 0x77ULL).substr(0, 12) + "-" + std::to_string(k));
  }
  return out;
}

int PrefillLog(const PrefillLogOptions& o) {
  const fs::path path = fs::path(o.data_dir) / "log";
  if (fs::exists(path)) return Fail("prefill-log", path.string() + " exists");
  std::error_code ec;
  fs::create_directories(o.data_dir, ec);
  if (ec) return Fail("prefill-log", "cannot create " + o.data_dir + ": " + ec.message());
  events::RocksDbEventLogOptions lo;
  lo.path = path.string();
  lo.sync = false;  // the prefill only: what is timed later reads this log
  auto log = events::RocksDbEventLog::Open(lo);
  if (!log.ok()) return Fail("prefill-log", log.status());

  // Plan the units so that they hold exactly o.events events.
  uint64_t units = 0, total = 0;
  while (total < o.events) total += IsUserUnit(units++) ? 2 : 1;
  const bool last_single = total > o.events;  // the last user unit becomes a policy

  const std::string admin_id = HexId(7);
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::string first_error;
  std::mutex error_mu;
  Stopwatch watch;
  std::vector<std::thread> pool;
  for (int t = 0; t < o.threads; ++t) {
    pool.emplace_back([&] {
      for (uint64_t k = next++; k < units && !failed.load(); k = next++) {
        StreamId stream;
        auto evs = UnitEvents(k, last_single && k + 1 == units, stream, admin_id);
        auto r = (*log)->Append(stream, ExpectedVersion::NoStream(), std::move(evs));
        if (!r.ok()) {
          std::lock_guard lock(error_mu);
          if (!failed.exchange(true)) first_error = r.status().ToString();
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  if (failed.load()) return Fail("prefill-log", first_error);
  double secs = watch.Seconds();
  auto head = (*log)->Head();
  if (!head.ok()) return Fail("prefill-log", head.status());
  uint64_t records = static_cast<uint64_t>(head->Next(0));
  size_t bytes = 0, n = 0;
  auto sample = (*log)->Read(LogCursor(), 1000);
  if (sample.ok()) {
    for (const auto& r : *sample) bytes += r.raw.size();
    n = sample->size();
  }
  if (records != o.events) {
    return Fail("prefill-log", "wrote " + std::to_string(records) + " records, wanted " +
                                   std::to_string(o.events));
  }
  // Make it a whole data dir (master key, secret store, views) as `serve` would
  // leave it, so `autoenroll replay` opens it read-only beside no server.
  log->reset();
  api::AppOptions ao;
  ao.data_dir = o.data_dir;
  auto app = api::App::Open(ao);
  if (!app.ok()) return Fail("prefill-log", app.status());
  app->reset();
  PrintResult({{"figure", "prefill_log"},
               {"events", records},
               {"seconds", secs},
               {"event_bytes", n ? bytes / n : 0}});
  return 0;
}

int RawApply(const ApplyOptions& o) {
  rocksdb::DBOptions dbo;
  dbo.create_if_missing = true;
  dbo.create_missing_column_families = true;
  dbo.error_if_exists = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const char* n : {"default", "checkpoints", "view_a", "view_b", "view_c"}) {
    cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(dbo, o.dir, cfs, &handles, &raw);
  if (!s.ok()) return Fail("raw-apply", s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  // A small pool of distinct values, so the loop measures RocksDB, not a generator.
  std::vector<std::string> values;
  for (uint64_t i = 0; i < 64; ++i) values.push_back(PseudoRandomBytes(i, o.value_bytes));

  rocksdb::WriteOptions wo;  // WAL on, not synced (views are rebuilt from the log)
  Stopwatch watch;
  uint64_t batches = 0;
  for (uint64_t i = 0; i < o.events && s.ok();) {
    rocksdb::WriteBatch batch;
    uint64_t end = std::min<uint64_t>(o.events, i + o.batch);
    for (; i < end; ++i) {
      std::string key = HexId(i);
      const std::string& v = values[i % values.size()];
      batch.Put(handles[2], key, v);
      batch.Put(handles[3], key, v);
      batch.Put(handles[4], key, v);
    }
    batch.Put(handles[1], "views", std::to_string(i));
    s = db->Write(wo, &batch);
    ++batches;
  }
  double secs = watch.Seconds();
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  if (!s.ok()) return Fail("raw-apply", s.ToString());
  PrintResult({{"figure", "raw_apply"},
               {"events", o.events},
               {"batches", batches},
               {"seconds", secs},
               {"per_sec", static_cast<double>(o.events) / secs}});
  return 0;
}

int EngineApply(const ApplyOptions& o) {
  events::RocksDbEventLogOptions lo;
  lo.path = (fs::path(o.data_dir) / "log").string();
  lo.read_only = true;
  auto log = events::RocksDbEventLog::Open(lo);
  if (!log.ok()) return Fail("engine-apply", log.status());
  if (fs::exists(o.dir)) return Fail("engine-apply", o.dir + " exists");
  auto projectors = proj::AllProjectors();
  proj::ViewStoreOptions vo;
  vo.path = o.dir;
  vo.column_families = proj::AllColumnFamilies(projectors);
  auto views = proj::ViewStore::Open(vo);
  if (!views.ok()) return Fail("engine-apply", views.status());
  std::vector<proj::Projector*> ps;
  for (auto& p : projectors) ps.push_back(p.get());
  proj::ProjectionRunner runner(**log, **views, ps);
  if (Status s = runner.Init(); !s.ok()) return Fail("engine-apply", s);
  Stopwatch watch;
  Status s = runner.CatchUp();
  double secs = watch.Seconds();
  if (!s.ok()) return Fail("engine-apply", s);
  auto stats = runner.stats();
  PrintResult({{"figure", "engine_apply"},
               {"events", stats.applied},
               {"batches", stats.batches},
               {"seconds", secs},
               {"per_sec", static_cast<double>(stats.applied) / secs}});
  return 0;
}

}  // namespace ae::bench
