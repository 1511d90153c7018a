// The dry run of an enrollment rule over a log of devices, and the raw read of that log.

#include "tests/bench/bench_rules.h"

#include <cstdio>
#include <filesystem>

#include "adapters/assignment/rule_dry_run.h"
#include "events/rocksdb_event_log.h"
#include "tests/bench/bench.h"

namespace ae::bench {

namespace fs = std::filesystem;
namespace v1 = autoenroll::events::v1;

namespace {
Result<std::unique_ptr<events::RocksDbEventLog>> OpenLog(const std::string& data_dir,
                                                         bool fresh) {
  const fs::path path = fs::path(data_dir) / "log";
  if (fresh && fs::exists(path)) return InvalidArgument("bench.exists", path.string() + " exists");
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  events::RocksDbEventLogOptions lo;
  lo.path = path.string();
  lo.sync = false;
  return events::RocksDbEventLog::Open(lo);
}
}  // namespace

int PrefillDevices(const RulesBenchOptions& o) {
  auto log = OpenLog(o.data_dir, true);
  if (!log.ok()) return Fail("prefill-devices", log.status());
  Stopwatch watch;
  uint64_t written = 0;
  std::vector<events::EventLog::AppendItem> items;
  char id[64];
  for (uint64_t k = 0; written < o.events; ++k) {
    events::EventLog::AppendItem item{StreamId(), ExpectedVersion::NoStream(), {}};
    if (k % 2 == 0) {
      std::snprintf(id, sizeof id, "imei:35%013llu", static_cast<unsigned long long>(k));
      item.stream = StreamId("kme-device", id);
      events::Envelope e;
      auto* p = e.mutable_kme_device_imported();
      p->set_device_id(id);
      p->mutable_identifiers()->set_imei(id + 5);
      p->set_model(k % 6 == 0 ? "SM-G991B" : "SM-A536B");
      p->set_profile_name("Default Profile");
      p->add_tags(k % 3 == 0 ? "north" : "south");
      p->set_source(v1::KME_SOURCE_CSV);
      item.events.push_back(std::move(e));
      if (k % 4 == 0 && written + 2 <= o.events) {
        events::Envelope a;
        a.mutable_device_policy_assigned()->set_device_id(id);
        a.mutable_device_policy_assigned()->set_policy_id("manual");
        item.events.push_back(std::move(a));
      }
    } else {
      std::snprintf(id, sizeof id, "C02%09llu", static_cast<unsigned long long>(k));
      item.stream = StreamId("dep-device", id);
      events::Envelope e;
      auto* p = e.mutable_dep_device_synced();
      p->set_serial_number(id);
      p->set_account_id("bench-account");
      p->set_model("iPhone 14");
      p->set_os("iOS");
      p->set_device_family("iPhone");
      item.events.push_back(std::move(e));
    }
    written += item.events.size();
    items.push_back(std::move(item));
    if (items.size() == 1000 || written >= o.events) {
      for (auto& r : (*log)->AppendBatch(std::move(items))) {
        if (!r.ok()) return Fail("prefill-devices", r.status());
      }
      items.clear();
    }
  }
  PrintResult({{"figure", "prefill_devices"}, {"events", written}, {"seconds", watch.Seconds()}});
  return 0;
}

int RuleDryRun(const RulesBenchOptions& o) {
  auto log = OpenLog(o.data_dir, false);
  if (!log.ok()) return Fail("rule-dry-run", log.status());
  domain::rules::Rule rule;
  rule.id = "bench";
  rule.name = "bench";
  rule.when.add_knox_tags("north");
  rule.then.set_policy_id("bench-policy");
  assign::DryRunOptions opts;
  Stopwatch watch;
  auto report = assign::DryRunRule(**log, rule, std::nullopt, opts);
  if (!report.ok()) return Fail("rule-dry-run", report.status());
  double secs = watch.Seconds();
  PrintResult({{"figure", "rule_dry_run"},
               {"events", report->events_read},
               {"devices", report->devices_seen},
               {"matched", report->matched},
               {"would_change", report->would_change_count},
               {"seconds", secs},
               {"per_sec", secs > 0 ? report->events_read / secs : 0}});
  return 0;
}

int RawLogRead(const RulesBenchOptions& o) {
  auto log = OpenLog(o.data_dir, false);
  if (!log.ok()) return Fail("raw-log-read", log.status());
  Stopwatch watch;
  LogCursor cursor;
  uint64_t n = 0;
  while (true) {
    auto records = (*log)->Read(cursor, 4096);
    if (!records.ok()) return Fail("raw-log-read", records.status());
    if (records->empty()) break;
    for (const auto& r : *records) cursor.Advance(r.position);
    n += records->size();
  }
  double secs = watch.Seconds();
  PrintResult({{"figure", "raw_log_read"},
               {"events", n},
               {"seconds", secs},
               {"per_sec", secs > 0 ? n / secs : 0}});
  return 0;
}

}  // namespace ae::bench
