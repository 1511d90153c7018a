// The enrollments view on a real RocksDB: its indexes and counts follow every change of a
// device, the list's pages (any filter, any page size, short pages from the examination
// budget) equal a filter over every record, a replay in other batches writes the same
// bytes, and an inventory device without a DEP/KME record is a finding until it leaves.

#include <google/protobuf/util/time_util.h>

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "projections/enrollments_projector.h"
#include "tests/support/test_support.h"
#include "tests/support/view_compare.h"

namespace ae::testing {
namespace {

using google::protobuf::util::TimeUtil;
using nlohmann::json;
namespace pb = autoenroll::events::v1;
using proj::EnrollmentFilter;
using proj::EnrollmentRecord;

class EnrollmentsView : public ::testing::Test {
 protected:
  std::unique_ptr<proj::ViewStore> Open(const std::string& name) {
    proj::ViewStoreOptions o;
    o.path = dir_.Sub(name);
    o.column_families = proj::EnrollmentsProjector().column_families();
    auto v = proj::ViewStore::Open(o);
    EXPECT_THAT(v, IsOk());
    return v.ok() ? std::move(*v) : nullptr;
  }

  events::Envelope Event(const std::string& stream) {
    events::Envelope e;
    e.set_stream(stream);
    *e.mutable_occurred_at() = TimeUtil::MillisecondsToTimestamp(1'760'000'000'000 + next_ * 1000);
    return e;
  }
  void Add(events::Envelope e) {
    events::RecordedEvent r;
    r.position.offset = next_++;
    r.envelope = std::move(e);
    log_.push_back(std::move(r));
  }
  void Synced(const std::string& serial, const std::string& model) {
    auto e = Event("dep-device/" + serial);
    e.mutable_dep_device_synced()->set_serial_number(serial);
    e.mutable_dep_device_synced()->set_model(model);
    Add(std::move(e));
  }
  void Imported(const std::string& id, const std::string& imei, const std::string& user) {
    auto e = Event("kme-device/" + id);
    auto* p = e.mutable_kme_device_imported();
    p->set_device_id(id);
    p->mutable_identifiers()->set_imei(imei);
    p->mutable_identifiers()->set_serial_number(imei + "S");  // q "35" matches it twice
    p->set_model("SM-G991B");
    p->set_matched_user_id(user);
    Add(std::move(e));
  }
  void User(const std::string& stream, const std::string& user) {
    auto e = Event(stream);
    e.mutable_device_user_assigned()->set_user_id(user);
    Add(std::move(e));
  }
  void Policy(const std::string& stream, const std::string& policy) {
    auto e = Event(stream);
    e.mutable_device_policy_assigned()->set_policy_id(policy);
    Add(std::move(e));
  }
  void Enrolled(const std::string& id, bool apple) {
    auto e = Event("device/" + id);
    e.mutable_device_enrolled()->set_device_id(id);
    e.mutable_device_enrolled()->set_serial_number(id);
    e.mutable_device_enrolled()->set_platform(apple ? pb::PLATFORM_APPLE : pb::PLATFORM_ANDROID);
    Add(std::move(e));
  }
  void Removed(const std::string& id) {
    auto e = Event("device/" + id);
    e.mutable_device_removed_from_inventory()->set_device_id(id);
    Add(std::move(e));
  }

  // Applies log_[from..] in batches of `batch`.
  void Apply(proj::ViewStore& store, size_t batch, size_t from = 0) {
    proj::EnrollmentsProjector p;
    for (size_t i = from; i < log_.size(); i += batch) {
      proj::ViewBatch b(store);
      for (size_t k = i; k < std::min(log_.size(), i + batch); ++k) {
        ASSERT_THAT(p.Apply(log_[k], b), IsOk());
      }
      ASSERT_THAT(store.Write(b), IsOk());
    }
  }

  std::map<std::string, EnrollmentRecord> Records(proj::ViewStore& store) {
    std::map<std::string, EnrollmentRecord> out;
    EXPECT_THAT(store.Scan("enrollments", "", "", [&](std::string_view k, std::string_view v) {
      auto r = proj::DecodeEnrollment(v);
      EXPECT_THAT(r, IsOk());
      if (r.ok()) out[std::string(k)] = *r;
      return true;
    }), IsOk());
    return out;
  }
  std::set<std::string> Keys(proj::ViewStore& store, const std::string& cf) {
    std::set<std::string> out;
    EXPECT_THAT(store.Scan(cf, "", "", [&](std::string_view k, std::string_view) {
      out.insert(std::string(k));
      return true;
    }), IsOk());
    return out;
  }

  // Every page of the list under `f`, `limit` at a time.
  std::vector<std::string> Walk(proj::ViewStore& store, const EnrollmentFilter& f, size_t limit,
                                size_t budget = 100000) {
    std::vector<std::string> out;
    std::string cursor;
    for (int pages = 0; pages < 10000; ++pages) {
      auto page = proj::ListEnrollments(store, f, cursor, limit, budget);
      EXPECT_THAT(page, IsOk());
      if (!page.ok()) break;
      EXPECT_LE(page->items.size(), limit);
      for (const auto& r : page->items) out.push_back(r.Key());
      if (page->next_cursor.empty()) break;
      cursor = page->next_cursor;
    }
    return out;
  }

  TempDir dir_;
  std::vector<events::RecordedEvent> log_;
  int64_t next_ = 0;
};


TEST_F(EnrollmentsView, IndexesCountsAndPagesMatchTheRecordsUnderEveryFilter) {
  const std::vector<std::string> users = {"u-ann", "u-bob", "u-cid", ""};
  for (int i = 0; i < 300; ++i) {
    const std::string n = std::to_string(1000 + i);
    if (i % 2 == 0) {
      Synced("C02" + n, i % 3 == 0 ? "iPhone15,2" : "iPad13,1");
      if (!users[i % 4].empty()) User("dep-device/C02" + n, users[i % 4]);
      if (i % 5 == 0) Enrolled("C02" + n, true);
    } else {
      Imported("imei:35" + n, "35" + n, users[(i / 2) % 4]);
      if (i % 7 == 0) Enrolled("imei:35" + n, false);
    }
    if (i % 6 == 0) Policy(i % 2 == 0 ? "dep-device/C02" + n : "kme-device/imei:35" + n, "std");
  }
  // Changes: users move, devices leave the inventory, policies are cleared.
  for (int i = 0; i < 300; i += 9) {
    const std::string n = std::to_string(1000 + i);
    const std::string stream = i % 2 == 0 ? "dep-device/C02" + n : "kme-device/imei:35" + n;
    User(stream, users[(i + 1) % 4]);
    if (i % 5 == 0 && i % 2 == 0) Removed("C02" + n);
    if (i % 6 == 0) Policy(stream, "");
  }
  auto store = Open("views");
  Apply(*store, 64);
  auto records = Records(*store);
  ASSERT_EQ(records.size(), 300u);

  // Every index entry is a record's, and every record has its entries; the counts add up.
  std::map<std::string, std::set<std::string>> want;
  std::map<std::string, int> counts;
  for (const auto& [key, r] : records) {
    auto add = [&](const std::string& cf, const std::string& v) {
      if (v.empty()) return;
      want[cf].insert(v + '\0' + key);
      ++counts[cf + '\0' + v];
    };
    add("enrollments_by_source", r.source);
    add("enrollments_by_status", proj::EnrollmentStatus(r));
    add("enrollments_by_user", r.user_id);
    add("enrollments_by_policy", r.policy_id);
    add("enrollments_by_ruleset", r.ruleset_id);
  }
  for (const auto& [cf, keys] : want) EXPECT_EQ(Keys(*store, cf), keys) << cf;
  std::map<std::string, int> stored_counts;
  ASSERT_THAT(store->Scan("enrollments_counts", "", "", [&](std::string_view k, std::string_view v) {
    stored_counts[std::string(k)] = std::stoi(std::string(v));
    return true;
  }), IsOk());
  EXPECT_EQ(stored_counts, counts);

  // Pages under each filter (and combinations), at several sizes and budgets, equal a filter
  // over every record, each device once, in one walk.
  std::vector<EnrollmentFilter> filters;
  for (const std::string source : {"", "dep", "kme"}) {
    for (const std::string status : {"", "not_enrolled", "enrolled", "removed"}) {
      for (const std::string user : {"", "u-ann", "u-cid"}) {
        for (const std::string q : {"", "C02", "35", "IPHONE", "SM-G", "C021"}) {
          filters.push_back({source, status, user, "", "", q});
        }
      }
    }
  }
  filters.push_back({"", "", "", "std", "", ""});
  filters.push_back({"dep", "", "u-bob", "std", "", ""});
  for (const auto& f : filters) {
    std::set<std::string> expected;
    for (const auto& [key, r] : records) {
      if (!f.source.empty() && r.source != f.source) continue;
      if (!f.status.empty() && proj::EnrollmentStatus(r) != f.status) continue;
      if (!f.user_id.empty() && r.user_id != f.user_id) continue;
      if (!f.policy_id.empty() && r.policy_id != f.policy_id) continue;
      if (!f.q.empty()) {
        bool hit = false;
        for (const auto& t : proj::EnrollmentSearchTerms(r)) hit |= t.rfind(f.q, 0) == 0;
        if (!hit) continue;
      }
      expected.insert(key);
    }
    const std::string what = f.source + "|" + f.status + "|" + f.user_id + "|" + f.policy_id +
                             "|" + f.q;
    for (size_t limit : {1, 7, 1000}) {
      for (size_t budget : {size_t{5}, size_t{100000}}) {
        auto walked = Walk(*store, f, limit, budget);
        EXPECT_EQ(std::set<std::string>(walked.begin(), walked.end()), expected)
            << what << " limit " << limit << " budget " << budget;
        EXPECT_EQ(walked.size(), expected.size()) << what << ": a device listed twice";
      }
    }
  }
}

TEST_F(EnrollmentsView, ReplayInOtherBatchesWritesTheSameBytes) {
  for (int i = 0; i < 50; ++i) {
    const std::string n = std::to_string(100 + i);
    Synced("C02" + n, "iPhone15,2");
    User("dep-device/C02" + n, i % 2 ? "u-ann" : "u-bob");
    Imported("imei:35" + n, "35" + n, i % 3 ? "" : "u-ann");
    if (i % 4 == 0) Enrolled("C02" + n, true);
    if (i % 8 == 0) Removed("C02" + n);
  }
  Enrolled("ghost-1", false);
  auto a = Open("a");
  auto b = Open("b");
  Apply(*a, 1);
  Apply(*b, 1000);
  a.reset();
  b.reset();
  EXPECT_EQ(DiffViewStores(dir_.Sub("a"), dir_.Sub("b")), "");
}

TEST_F(EnrollmentsView, InventoryDeviceWithoutRecordIsAFindingUntilItLeaves) {
  Enrolled("imei:359999", false);  // no KME record
  auto store = Open("views");
  Apply(*store, 10);
  auto finding = store->Get("reconciliation", std::string("inventory_without_record") + '\0' +
                                                  "imei:359999");
  ASSERT_THAT(finding, IsOk());
  ASSERT_TRUE(finding->has_value());
  json f = json::parse(**finding);
  EXPECT_EQ(f["device"], "imei:359999");
  EXPECT_EQ(f["evidence"], json::array({"0"}));
  Removed("imei:359999");
  Apply(*store, 10, 1);
  finding = store->Get("reconciliation", std::string("inventory_without_record") + '\0' +
                                             "imei:359999");
  ASSERT_THAT(finding, IsOk());
  EXPECT_FALSE(finding->has_value());
  EXPECT_TRUE(Keys(*store, "reconciliation").empty());
}

TEST_F(EnrollmentsView, ACursorOfAnotherFilterOrNoCursorAtAllIsRefused) {
  for (int i = 0; i < 5; ++i) Synced("C02X" + std::to_string(i), "iPhone15,2");
  auto store = Open("views");
  Apply(*store, 10);
  EnrollmentFilter dep{"dep", "", "", "", "", ""};
  auto page = proj::ListEnrollments(*store, dep, "", 2);
  ASSERT_THAT(page, IsOk());
  ASSERT_FALSE(page->next_cursor.empty());
  EXPECT_THAT(proj::ListEnrollments(*store, dep, page->next_cursor, 2), IsOk());
  EnrollmentFilter kme{"kme", "", "", "", "", ""};
  EXPECT_THAT(proj::ListEnrollments(*store, kme, page->next_cursor, 2),
              StatusIs(StatusCode::kInvalidArgument, "request.bad_cursor"));
  EXPECT_THAT(proj::ListEnrollments(*store, dep, "garbage!", 2),
              StatusIs(StatusCode::kInvalidArgument, "request.bad_cursor"));
}

}  // namespace
}  // namespace ae::testing
