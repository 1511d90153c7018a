// The Auto Enrollments list over a filled enrollments view (scripts/bench list): the
// projector's own indexes, filled through EnrollmentsProjector::Apply, and the pages
// ListEnrollments answers (GET /v1/enrollments without HTTP), beside a raw RocksDB prefix
// scan of the same number of records in the same store.

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "events/base/clock.h"
#include "projections/enrollments_projector.h"
#include "tests/bench/bench.h"

namespace ae::bench {

namespace {

namespace pb = autoenroll::events::v1;
using google::protobuf::util::TimeUtil;
using nlohmann::json;

constexpr const char* kRaw = "bench_raw_by_user";  // the raw figure's family

std::vector<std::string> Families() {
  auto cfs = proj::EnrollmentsProjector().column_families();
  cfs.push_back(kRaw);
  return cfs;
}

std::string UserOf(uint64_t i, uint64_t users) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "bench-user-%06llu",
                static_cast<unsigned long long>(Mix64(i) % users));
  return buf;
}

std::string SerialOf(uint64_t i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "F%011llu", static_cast<unsigned long long>(i));
  return buf;
}

Result<std::unique_ptr<proj::ViewStore>> OpenStore(const std::string& dir, bool read_only) {
  proj::ViewStoreOptions o;
  o.path = dir;
  o.column_families = Families();
  o.block_cache_bytes = 512 << 20;
  o.read_only = read_only;
  return proj::ViewStore::Open(o);
}

struct Latencies {
  std::vector<double> us;
  double Percentile(double p) {
    if (us.empty()) return 0;
    std::sort(us.begin(), us.end());
    size_t k = static_cast<size_t>(p * static_cast<double>(us.size() - 1));
    return us[k];
  }
};

}  // namespace

int PrefillEnrollments(const ListBenchOptions& o) {
  auto store = OpenStore(o.dir, false);
  if (!store.ok()) return Fail("open views", store.status());
  proj::EnrollmentsProjector projector;
  const uint64_t users = std::max<uint64_t>(1, o.devices / 1000);
  Stopwatch watch;
  int64_t offset = 0;
  const int64_t t0 = 1'760'000'000'000;
  auto record = [&](events::Envelope e) {
    events::RecordedEvent r;
    r.position.offset = offset++;
    *e.mutable_occurred_at() = TimeUtil::MillisecondsToTimestamp(t0 + r.position.offset);
    r.envelope = std::move(e);
    return r;
  };
  uint64_t events = 0;
  for (uint64_t start = 0; start < o.devices; start += 1000) {
    proj::ViewBatch batch(**store);
    rocksdb::WriteBatch raw;
    for (uint64_t i = start; i < std::min<uint64_t>(o.devices, start + 1000); ++i) {
      const bool dep = i % 2 == 0;
      const std::string user = (Mix64(i ^ 0x77) % 10 == 0) ? "" : UserOf(i, users);
      std::vector<events::Envelope> es;
      std::string id;
      if (dep) {
        id = SerialOf(i);
        events::Envelope e;
        e.set_stream("dep-device/" + id);
        auto* p = e.mutable_dep_device_synced();
        p->set_serial_number(id);
        p->set_account_id("bench-account");
        p->set_model(i % 3 == 0 ? "iPhone15,2" : "iPad13,1");
        es.push_back(std::move(e));
        if (!user.empty()) {
          events::Envelope u;
          u.set_stream("dep-device/" + id);
          u.mutable_device_user_assigned()->set_device_id(id);
          u.mutable_device_user_assigned()->set_user_id(user);
          es.push_back(std::move(u));
        }
      } else {
        char imei[40];
        std::snprintf(imei, sizeof imei, "35%013llu", static_cast<unsigned long long>(i));
        id = std::string("imei:") + imei;
        events::Envelope e;
        e.set_stream("kme-device/" + id);
        auto* p = e.mutable_kme_device_imported();
        p->set_device_id(id);
        p->mutable_identifiers()->set_imei(imei);
        p->mutable_identifiers()->set_serial_number(SerialOf(i));
        p->set_model("SM-G991B");
        p->set_source(pb::KME_SOURCE_CSV);
        p->set_matched_user_id(user);
        es.push_back(std::move(e));
      }
      if (Mix64(i) % 4 == 0) {  // a quarter enrolled
        events::Envelope e;
        e.set_stream("device/" + id);
        auto* p = e.mutable_device_enrolled();
        p->set_device_id(id);
        p->set_platform(dep ? pb::PLATFORM_APPLE : pb::PLATFORM_ANDROID);
        p->set_serial_number(dep ? id : SerialOf(i));
        es.push_back(std::move(e));
      }
      for (auto& e : es) {
        Status s = projector.Apply(record(std::move(e)), batch);
        if (!s.ok()) return Fail("apply", s);
        ++events;
      }
      if (!user.empty()) {
        auto rec = batch.Get("enrollments", (dep ? "dep/" : "kme/") + id);
        if (!rec.ok() || !*rec) return Fail("fill", "a record is missing after its events");
        raw.Put((*store)->cf(kRaw), user + '\0' + (dep ? "dep/" : "kme/") + id, **rec);
      }
    }
    Status s = (*store)->Write(batch);
    if (s.ok()) {
      s = (*store)->WithDb([&](rocksdb::DB* db, const proj::ViewStore::Handles&) {
        rocksdb::Status w = db->Write({}, &raw);
        return w.ok() ? Status::Ok() : Internal("bench.write", w.ToString());
      });
    }
    if (!s.ok()) return Fail("write", s);
  }
  const double secs = watch.Seconds();
  PrintResult({{"devices", o.devices}, {"users", users}, {"events", events}, {"seconds", secs},
               {"per_sec", static_cast<double>(events) / secs}});
  return 0;
}

int ListEnrollmentsBench(const ListBenchOptions& o) {
  auto opened = OpenStore(o.dir, true);
  if (!opened.ok()) return Fail("open views", opened.status());
  const proj::ViewStore& store = **opened;
  const uint64_t users = std::max<uint64_t>(1, o.devices / 1000);
  std::mt19937_64 rng(42);
  auto random_user = [&] { return UserOf(rng() % (o.devices ? o.devices : 1), users); };
  const size_t limit = 100;
  Latencies lat;
  uint64_t requests = 0, items = 0;

  // Deep pages: the cursors of pages 3 and beyond of the combined filter of 50 users, and of
  // every tenth page of the status filter alone (collected before the clock starts).
  struct Query {
    proj::EnrollmentFilter filter;
    std::string cursor;
  };
  std::vector<Query> deep;
  if (o.mode == "deep") {
    for (int u = 0; u < 50; ++u) {
      proj::EnrollmentFilter f;
      f.status = "not_enrolled";
      f.user_id = random_user();
      std::string cursor;
      for (int page = 0; page < 1000; ++page) {
        auto p = proj::ListEnrollments(store, f, cursor, limit);
        if (!p.ok()) return Fail("list", p.status());
        if (p->next_cursor.empty()) break;
        cursor = p->next_cursor;
        if (page >= 2) deep.push_back({f, cursor});
      }
    }
    proj::EnrollmentFilter f;
    f.status = "not_enrolled";
    std::string cursor;
    for (int page = 0; page < 100000; ++page) {
      auto p = proj::ListEnrollments(store, f, cursor, limit);
      if (!p.ok()) return Fail("list", p.status());
      if (p->next_cursor.empty()) break;
      cursor = p->next_cursor;
      if (page % 10 == 9) deep.push_back({f, cursor});
    }
    if (deep.empty()) return Fail("deep", "no deep page (too few devices)");
  }

  Stopwatch watch;
  while (watch.Seconds() < o.seconds) {
    const auto t = std::chrono::steady_clock::now();
    size_t got = 0;
    if (o.mode == "raw") {
      // A prefix scan of one user's records, as many as a page, with their values.
      const std::string prefix = random_user() + '\0';
      Status s = store.Scan(kRaw, prefix, prefix, [&](std::string_view, std::string_view v) {
        got += v.empty() ? 0 : 1;
        return got < limit;
      });
      if (!s.ok()) return Fail("scan", s);
    } else {
      Query q;
      if (o.mode == "first") {
        q.filter.status = "not_enrolled";
        q.filter.user_id = random_user();
      } else {
        q = deep[rng() % deep.size()];
      }
      auto p = proj::ListEnrollments(store, q.filter, q.cursor, limit);
      if (!p.ok()) return Fail("list", p.status());
      got = p->items.size();
    }
    lat.us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t).count());
    ++requests;
    items += got;
  }
  const double secs = watch.Seconds();
  PrintResult({{"mode", o.mode},
               {"devices", o.devices},
               {"requests", requests},
               {"seconds", secs},
               {"per_sec", static_cast<double>(requests) / secs},
               {"items_per_page", requests ? static_cast<double>(items) / requests : 0.0},
               {"p50_us", lat.Percentile(0.5)},
               {"p99_us", lat.Percentile(0.99)}});
  return 0;
}

}  // namespace ae::bench
