// The zero-downtime rebuild and the views as they were, against a real RocksDB log and
// real view stores, through the projections library alone (no server, no HTTP).

#include <filesystem>

#include <nlohmann/json.hpp>

#include "events/base/crypto.h"
#include "events/rocksdb_event_log.h"
#include "projections/all_projectors.h"
#include "projections/as_of.h"
#include "projections/dep_records.h"
#include "projections/dep_projector.h"
#include "projections/rebuild.h"
#include "tests/support/test_support.h"
#include "tests/support/view_compare.h"

namespace ae::proj {
namespace {

namespace fs = std::filesystem;
namespace pb = autoenroll::events::v1;
using ::ae::testing::TempDir;
using nlohmann::json;

std::unique_ptr<events::RocksDbEventLog> OpenLog(const std::string& path, Clock* clock = nullptr) {
  events::RocksDbEventLogOptions o;
  o.path = path;
  o.clock = clock;
  auto log = events::RocksDbEventLog::Open(o);
  EXPECT_THAT(log, IsOk());
  return log.ok() ? std::move(log).value() : nullptr;
}

events::Envelope Synced(const std::string& serial, const std::string& model) {
  events::Envelope e;
  auto* p = e.mutable_dep_device_synced();
  p->set_serial_number(serial);
  p->set_account_id("acc1");
  p->set_model(model);
  p->set_op_type("added");
  return e;
}

events::Envelope StatusChanged(const std::string& serial, pb::DepProfileStatus status) {
  events::Envelope e;
  e.mutable_dep_profile_status_changed()->set_serial_number(serial);
  e.mutable_dep_profile_status_changed()->set_status(status);
  return e;
}

events::Envelope UserAssigned(const std::string& serial, const std::string& user) {
  events::Envelope e;
  e.mutable_device_user_assigned()->set_device_id(serial);
  e.mutable_device_user_assigned()->set_user_id(user);
  return e;
}

LogPosition Append(events::EventLog& log, const StreamId& stream,
                   std::vector<events::Envelope> events) {
  auto r = log.Append(stream, ExpectedVersion::Any(), std::move(events));
  EXPECT_THAT(r, IsOk());
  return r.ok() ? r->last : LogPosition{};
}

// Users with tokens, DEP devices with statuses and users, and enrolled devices: every
// projector has something to write.
void AppendFleet(events::EventLog& log, int from, int to) {
  for (int i = from; i < to; ++i) {
    const std::string user = "user" + std::to_string(i % 7);
    events::Envelope created;
    created.mutable_user_created()->set_user_id(user);
    created.mutable_user_created()->set_role(pb::ROLE_DEVICE_USER);
    events::Envelope token;
    token.mutable_user_token_issued()->set_user_id(user);
    token.mutable_user_token_issued()->set_token_id("t" + std::to_string(i));
    token.mutable_user_token_issued()->set_token_sha256(crypto::Sha256(std::to_string(i)));
    std::vector<events::Envelope> user_events;
    if (i < 7) user_events.push_back(created);
    user_events.push_back(token);
    Append(log, StreamId("user", user), user_events);

    const std::string serial = "C02" + std::to_string(1000 + i % 11);
    Append(log, StreamId("dep-device", serial),
           {Synced(serial, "iPhone " + std::to_string(i)),
            StatusChanged(serial, i % 2 ? pb::DEP_PROFILE_STATUS_ASSIGNED
                                        : pb::DEP_PROFILE_STATUS_PUSHED),
            UserAssigned(serial, user)});
    if (i % 4 == 0) {
      events::Envelope enrolled;
      auto* p = enrolled.mutable_device_enrolled();
      p->set_device_id(serial);
      p->set_platform(pb::PLATFORM_APPLE);
      p->set_serial_number(serial);
      p->set_udid("udid-" + serial);
      p->set_user_id(user);
      Append(log, StreamId("device", serial), {enrolled});
    }
  }
}

// A data dir with its event log, and live views fed by a runner, as a server wires them.
class ViewRebuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.Sub("data");
    fs::create_directories(data_);
    log_ = OpenLog((fs::path(data_) / "log").string());
    ASSERT_NE(log_, nullptr);
    for (auto& p : projectors_) ps_.push_back(p.get());
    ViewStoreOptions vo;
    vo.path = LiveViewsDir(data_);
    vo.column_families = AllColumnFamilies(projectors_);
    auto views = ViewStore::Open(vo);
    ASSERT_THAT(views, IsOk());
    views_ = std::move(views).value();
    ProjectionRunnerOptions ro;
    ro.batch_size = 5;  // live views grow in small batches, the rebuild in large ones
    ro.format = kViewsFormat;
    runner_ = std::make_unique<ProjectionRunner>(*log_, *views_, ps_, ro);
    ASSERT_THAT(runner_->Init(), IsOk());
  }
  void TearDown() override {
    rebuilder_.reset();
    if (runner_) runner_->Stop();
  }
  ViewRebuilder& Rebuilder(ViewRebuilderOptions o = {}) {
    o.data_dir = data_;
    rebuilder_ = std::make_unique<ViewRebuilder>(*log_, *views_, *runner_, clock_, o);
    return *rebuilder_;
  }
  // Closes the live views (the runner first), so another store may open their directory.
  void CloseLiveViews() {
    rebuilder_.reset();
    runner_->Stop();
    runner_.reset();
    views_.reset();
  }
  // A replay of the whole log into a fresh directory, by a runner of its own.
  std::string FreshReplay() {
    ViewStoreOptions vo;
    vo.path = dir_.Sub("fresh");
    vo.column_families = AllColumnFamilies(projectors_);
    auto fresh = ViewStore::Open(vo);
    EXPECT_THAT(fresh, IsOk());
    ProjectionRunnerOptions ro;
    ro.format = kViewsFormat;
    ProjectionRunner replay(*log_, **fresh, ps_, ro);
    EXPECT_THAT(replay.Init(), IsOk());
    EXPECT_THAT(replay.CatchUp(), IsOk());
    return vo.path;
  }
  std::vector<std::string> ViewsDirs() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(data_)) {
      std::string n = e.path().filename().string();
      if (e.is_directory() && n.rfind("views", 0) == 0) names.push_back(n);
    }
    return names;
  }

  TempDir dir_;
  std::string data_;
  ManualClock clock_{1'790'000'000'000};
  std::unique_ptr<events::RocksDbEventLog> log_;
  std::vector<std::unique_ptr<Projector>> projectors_ = AllProjectors();
  std::vector<Projector*> ps_;
  std::unique_ptr<ViewStore> views_;
  std::unique_ptr<ProjectionRunner> runner_;
  std::unique_ptr<ViewRebuilder> rebuilder_;
};

TEST_F(ViewRebuilderTest, ARebuildEqualsTheLiveViewsByteForByteAndTakesTheirPlace) {
  // Live views built while the log grows, batch by batch.
  runner_->Start();
  AppendFleet(*log_, 0, 40);
  auto head = log_->Head();
  ASSERT_THAT(head, IsOk());
  ASSERT_TRUE(runner_->WaitUntilCovers(*head, std::chrono::seconds(30)));
  const std::string before = LiveViewsDir(data_);

  ViewRebuildOptions strict;
  strict.require_identical = true;
  ASSERT_THAT(Rebuilder().Start(strict), IsOk());
  rebuilder_->Wait();
  json p = rebuilder_->Progress();
  ASSERT_EQ(p.value("state", ""), "done") << p.dump();
  // The verification compared every family, and the live views matched key for key.
  EXPECT_EQ(p["verification"].value("differences", -1), 0) << p.dump();
  EXPECT_GT(p["verification"]["families"]["dep_devices"].value("keys", 0), 0) << p.dump();
  EXPECT_GT(p["verification"]["families"]["users"].value("keys", 0), 0) << p.dump();
  EXPECT_EQ(p.value("applied", 0), static_cast<int>(head->Next(0)));
  EXPECT_EQ(p.value("started_at", ""), FormatRfc3339(clock_.NowMs()));
  // The new directory is live (named after the injected clock's time), the old one gone.
  const std::string after = LiveViewsDir(data_);
  EXPECT_NE(after, before);
  EXPECT_EQ(fs::path(after).filename().string().rfind("views-20260921", 0), 0u) << after;
  EXPECT_EQ(ViewsDirs(), std::vector<std::string>{fs::path(after).filename().string()});
  EXPECT_EQ(views_->path(), after);

  // The live runner resumed on the new views: a new record reaches them.
  Append(*log_, StreamId("dep-device", "C02NEW"), {Synced("C02NEW", "iPad")});
  head = log_->Head();
  ASSERT_TRUE(runner_->WaitUntilCovers(*head, std::chrono::seconds(30)));
  auto rec = views_->Get("dep_devices", "C02NEW");
  ASSERT_THAT(rec, IsOk());
  ASSERT_TRUE(rec->has_value());

  CloseLiveViews();
  EXPECT_EQ(testing::DiffViewStores(after, FreshReplay()), "");
}

TEST_F(ViewRebuilderTest, ADriftedLiveViewIsReportedAndRequireIdenticalKeepsTheLiveViews) {
  AppendFleet(*log_, 0, 12);
  ASSERT_THAT(runner_->CatchUp(), IsOk());
  // A record no event wrote: what a bug or a hand edit leaves behind.
  ViewBatch drift(*views_);
  drift.Put("dep_devices", "C02DRIFT", R"({"serial_number":"C02DRIFT"})");
  ASSERT_THAT(views_->Write(drift, true), IsOk());
  const std::string before = LiveViewsDir(data_);

  ViewRebuildOptions strict;
  strict.require_identical = true;
  ASSERT_THAT(Rebuilder().Start(strict), IsOk());
  rebuilder_->Wait();
  json p = rebuilder_->Progress();
  EXPECT_EQ(p.value("state", ""), "failed") << p.dump();
  EXPECT_EQ(p["error"].value("code", ""), "views.rebuild_differs") << p.dump();
  EXPECT_EQ(p["verification"].value("differences", 0), 1) << p.dump();
  EXPECT_EQ(p["verification"]["families"]["dep_devices"].value("differences", 0), 1);
  // Nothing moved: the same live directory, the drift still in it, no new directory left.
  EXPECT_EQ(LiveViewsDir(data_), before);
  EXPECT_EQ(ViewsDirs(), std::vector<std::string>{fs::path(before).filename().string()});
  auto kept = views_->Get("dep_devices", "C02DRIFT");
  ASSERT_THAT(kept, IsOk());
  EXPECT_TRUE(kept->has_value());

  // Without require_identical the rebuilt views replace the drifted ones.
  ASSERT_THAT(rebuilder_->Start({}), IsOk());
  rebuilder_->Wait();
  p = rebuilder_->Progress();
  EXPECT_EQ(p.value("state", ""), "done") << p.dump();
  EXPECT_EQ(p["verification"].value("differences", 0), 1) << p.dump();
  auto gone = views_->Get("dep_devices", "C02DRIFT");
  ASSERT_THAT(gone, IsOk());
  EXPECT_FALSE(gone->has_value());
  const std::string after = LiveViewsDir(data_);
  CloseLiveViews();
  EXPECT_EQ(testing::DiffViewStores(after, FreshReplay()), "");
}

TEST_F(ViewRebuilderTest, AProcessThatDoesNotOwnItsViewsDirectoryRefusesToRebuild) {
  ViewRebuilderOptions read_only;
  read_only.read_only = true;
  EXPECT_THAT(Rebuilder(read_only).Start({}),
              StatusIs(StatusCode::kFailedPrecondition, "views.read_only"));
  ViewRebuilderOptions custom;
  custom.custom_views_dir = true;
  EXPECT_THAT(Rebuilder(custom).Start({}),
              StatusIs(StatusCode::kFailedPrecondition, "views.custom_dir"));
  EXPECT_EQ(rebuilder_->Progress().value("state", ""), "idle");
  EXPECT_FALSE(rebuilder_->Cancel());
}

// ---- the views as they were ---------------------------------------------------------

class AsOfReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = OpenLog(dir_.Sub("log"), &clock_);
    ASSERT_NE(log_, nullptr);
    ViewStoreOptions vo;
    vo.path = dir_.Sub("views");
    vo.column_families = AllColumnFamilies(projectors_);
    auto views = ViewStore::Open(vo);
    ASSERT_THAT(views, IsOk());
    views_ = std::move(views).value();
    reader_ = std::make_unique<AsOfReader>(*log_, *views_);
  }
  Result<std::optional<DepDeviceRecord>> DeviceAt(const std::string& serial,
                                                   const AsOfPoint& at) {
    return reader_->ReadRecord<DepDeviceRecord>(dep_, {StreamId("dep-device", serial)}, serial,
                                                at);
  }
  static AsOfPoint At(LogPosition p) {
    AsOfPoint at;
    at.position = p;
    return at;
  }

  TempDir dir_;
  ManualClock clock_{1'790'000'000'000};
  std::unique_ptr<events::RocksDbEventLog> log_;
  std::vector<std::unique_ptr<Projector>> projectors_ = AllProjectors();
  std::unique_ptr<ViewStore> views_;
  std::unique_ptr<AsOfReader> reader_;
  DepProjector dep_;
};

TEST_F(AsOfReaderTest, AReadAtAPositionReturnsTheRecordAsItWasThen) {
  const StreamId s("dep-device", "C02AAA");
  LogPosition synced = Append(*log_, s, {Synced("C02AAA", "iPhone 15")});
  Append(*log_, StreamId("dep-device", "C02BBB"), {Synced("C02BBB", "iPad")});  // another
  LogPosition ann = Append(*log_, s, {UserAssigned("C02AAA", "ann")});
  LogPosition bob = Append(*log_, s, {UserAssigned("C02AAA", "bob")});

  auto then = DeviceAt("C02AAA", At(synced));
  ASSERT_THAT(then, IsOk());
  ASSERT_TRUE(then->has_value());
  EXPECT_EQ((*then)->model, "iPhone 15");
  EXPECT_EQ((*then)->user_id, "");
  EXPECT_EQ((*then)->last_position, synced.ToString());
  auto with_ann = DeviceAt("C02AAA", At(ann));
  ASSERT_THAT(with_ann, IsOk());
  ASSERT_TRUE(with_ann->has_value());
  EXPECT_EQ((*with_ann)->user_id, "ann");
  // A position between two of the stream's events holds the earlier one.
  auto between = DeviceAt("C02AAA", At(LogPosition{0, bob.offset - 1}));
  ASSERT_THAT(between, IsOk());
  ASSERT_TRUE(between->has_value());
  EXPECT_EQ((*between)->user_id, "ann");
  auto now = reader_->Read(dep_, {StreamId("dep-device", "C02AAA")}, "dep_devices", "C02AAA",
                           At(bob));
  ASSERT_THAT(now, IsOk());
  ASSERT_TRUE(now->has_value());
  auto now_record = DepDeviceRecord::Decode(**now);
  ASSERT_THAT(now_record, IsOk());
  EXPECT_EQ(now_record->user_id, "bob");
  // Before its first event the record did not exist.
  Append(*log_, StreamId("dep-device", "C02CCC"), {Synced("C02CCC", "iPad")});
  auto not_yet = DeviceAt("C02CCC", At(bob));
  ASSERT_THAT(not_yet, IsOk());
  EXPECT_FALSE(not_yet->has_value());

  // At the head, the point-in-time record is the live one, byte for byte.
  std::vector<Projector*> ps;
  for (auto& p : projectors_) ps.push_back(p.get());
  ProjectionRunner runner(*log_, *views_, ps);
  ASSERT_THAT(runner.Init(), IsOk());
  ASSERT_THAT(runner.CatchUp(), IsOk());
  auto live = views_->Get("dep_devices", "C02AAA");
  ASSERT_THAT(live, IsOk());
  ASSERT_TRUE(live->has_value());
  EXPECT_EQ(**now, **live);
  // The scratch batch never reached the live views: the past read after them is unchanged.
  auto again = DeviceAt("C02AAA", At(synced));
  ASSERT_THAT(again, IsOk());
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->Encode(), (*then)->Encode());
}

TEST_F(AsOfReaderTest, AReadAtATimeIncludesWhatTheLogHadRecordedByThen) {
  const StreamId s("dep-device", "C02TTT");
  Append(*log_, s, {Synced("C02TTT", "iPhone 15")});
  clock_.Advance(60'000);
  const int64_t between = clock_.NowMs() - 30'000;
  Append(*log_, s, {StatusChanged("C02TTT", pb::DEP_PROFILE_STATUS_ASSIGNED)});

  auto point = ParseAsOf(FormatRfc3339(between));
  ASSERT_THAT(point, IsOk());
  ASSERT_TRUE(point->has_value());
  auto then = DeviceAt("C02TTT", **point);
  ASSERT_THAT(then, IsOk());
  ASSERT_TRUE(then->has_value());
  EXPECT_EQ((*then)->profile_status, "empty");
  auto later = ParseAsOf(FormatRfc3339(clock_.NowMs()));
  ASSERT_THAT(later, IsOk());
  auto now = DeviceAt("C02TTT", **later);
  ASSERT_THAT(now, IsOk());
  ASSERT_TRUE(now->has_value());
  EXPECT_EQ((*now)->profile_status, "assigned");
}

TEST_F(AsOfReaderTest, ReadersOfTwoLogsKeepTheirRecordsApart) {
  // Same stream, same number of events, different facts: each reader answers from its own
  // log, whatever the other one read before.
  auto other_log = OpenLog(dir_.Sub("other-log"));
  ViewStoreOptions vo;
  vo.path = dir_.Sub("other-views");
  vo.column_families = AllColumnFamilies(projectors_);
  auto other_views = ViewStore::Open(vo);
  ASSERT_THAT(other_views, IsOk());
  AsOfReader other(*other_log, **other_views);
  LogPosition here =
      Append(*log_, StreamId("dep-device", "C02SAME"), {Synced("C02SAME", "iPhone")});
  LogPosition there =
      Append(*other_log, StreamId("dep-device", "C02SAME"), {Synced("C02SAME", "iPad")});

  auto mine = DeviceAt("C02SAME", At(here));
  ASSERT_THAT(mine, IsOk());
  ASSERT_TRUE(mine->has_value());
  EXPECT_EQ((*mine)->model, "iPhone");
  auto theirs = other.ReadRecord<DepDeviceRecord>(dep_, {StreamId("dep-device", "C02SAME")},
                                                  "C02SAME", At(there));
  ASSERT_THAT(theirs, IsOk());
  ASSERT_TRUE(theirs->has_value());
  EXPECT_EQ((*theirs)->model, "iPad");
}

TEST(AsOfPoint, ABadPointNamesTheField) {
  EXPECT_THAT(ParseAsOf("yesterday"), StatusIs(StatusCode::kInvalidArgument, "request.bad_as_of"));
  EXPECT_EQ(ParseAsOf("yesterday").status().field(), "as_of");
  auto none = ParseAsOf("");
  ASSERT_THAT(none, IsOk());
  EXPECT_FALSE(none->has_value());
  auto pos = ParseAsOf("0:17");
  ASSERT_THAT(pos, IsOk());
  ASSERT_TRUE(pos->has_value());
  ASSERT_TRUE((*pos)->position.has_value());
  EXPECT_EQ((*pos)->position->offset, 17);
}

}  // namespace
}  // namespace ae::proj
