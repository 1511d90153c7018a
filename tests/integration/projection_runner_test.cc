// The projection runner against a real log and view store.

#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "events/base/crypto.h"
#include "projections/all_projectors.h"
#include "projections/projection_runner.h"
#include "tests/support/log_harness.h"
#include "tests/support/view_compare.h"

namespace ae::proj {
namespace {

using ::ae::testing::MakePolicyEvent;
using ::ae::testing::TempDir;

// Counts events per stream: read-modify-write, so a stale read or a double
// apply shows as a wrong count. Fails on a policy named "poison".
class CountingProjector : public Projector {
 public:
  std::string name() const override { return "count"; }
  std::vector<std::string> column_families() const override { return {"count"}; }
  Status Apply(const RecordedEvent& r, ViewBatch& b) override {
    if (r.envelope.policy_created().name() == "poison") {
      return Corruption("test.poison", "cannot apply this record");
    }
    AE_ASSIGN_OR_RETURN(auto v, b.Get("count", r.envelope.stream()));
    int n = v ? std::stoi(*v) : 0;
    b.Put("count", r.envelope.stream(), std::to_string(n + 1));
    return Status::Ok();
  }
};

class ProjectionRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenViews(); }
  void OpenViews(const std::string& sub = "views") {
    runner_.reset();
    views_.reset();
    ViewStoreOptions o;
    o.path = dir_.Sub(sub);
    o.column_families = {"count"};
    auto v = ViewStore::Open(o);
    ASSERT_THAT(v, IsOk());
    views_ = std::move(v).value();
    runner_ = std::make_unique<ProjectionRunner>(log_.log(), *views_,
                                                 std::vector<Projector*>{&counting_});
    ASSERT_THAT(runner_->Init(), IsOk());
  }
  // A runner of `projector` (the counting one when null) that pipelines every batch of
  // `batch_size` records.
  void Pipelined(size_t batch_size, Projector* projector = nullptr) {
    ProjectionRunnerOptions o;
    o.batch_size = batch_size;
    o.pipeline_min_records = 1;
    runner_ = std::make_unique<ProjectionRunner>(
        log_.log(), *views_, std::vector<Projector*>{projector ? projector : &counting_}, o);
    ASSERT_THAT(runner_->Init(), IsOk());
  }
  void Append(const std::string& stream, const std::string& name) {
    ASSERT_THAT(log_.log().Append(StreamId("policy", stream), ExpectedVersion::Any(),
                                  {MakePolicyEvent(name)}),
                IsOk());
  }
  std::string Count(const std::string& stream) {
    auto v = views_->Get("count", "policy/" + stream);
    return v.ok() && *v ? **v : "none";
  }

  TempDir dir_;
  testing::RocksDbLogHarness log_;
  CountingProjector counting_;
  std::unique_ptr<ViewStore> views_;
  std::unique_ptr<ProjectionRunner> runner_;
};

TEST_F(ProjectionRunnerTest, TwoEventsOfOneStreamInOneBatchSeeEachOther) {
  Append("d", "a");
  Append("d", "b");
  Append("d", "c");
  auto n = runner_->Step();
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 3u);  // one batch
  EXPECT_EQ(Count("d"), "3");
}

TEST_F(ProjectionRunnerTest, ResumesAfterTheCheckpointWithoutReapplying) {
  Append("d", "a");
  Append("d", "b");
  ASSERT_THAT(runner_->CatchUp(), IsOk());
  OpenViews();  // as after a restart
  EXPECT_EQ(runner_->checkpoint().Next(0), 2);
  Append("d", "c");
  ASSERT_THAT(runner_->CatchUp(), IsOk());
  EXPECT_EQ(Count("d"), "3");
}

TEST_F(ProjectionRunnerTest, APoisonRecordStopsTheViewsAtThatRecord) {
  Append("d", "a");
  Append("d", "poison");
  Append("d", "c");
  auto n = runner_->Step();
  EXPECT_THAT(n, StatusIs(StatusCode::kCorruption, "test.poison"));
  EXPECT_NE(n.status().message().find("at record 1"), std::string::npos) << n.status().message();
  // Nothing of the failed batch is visible, and the checkpoint did not move.
  EXPECT_EQ(Count("d"), "none");
  EXPECT_EQ(runner_->checkpoint().Next(0), 0);
  runner_->Start();
  ASSERT_TRUE(testing::WaitFor([&] { return !runner_->stats().error.ok(); }));
  EXPECT_EQ(runner_->stats().error.reason(), "test.poison");
  runner_->Stop();
}

TEST_F(ProjectionRunnerTest, WaitsUntilAPositionIsCovered) {
  runner_->Start();
  auto r = log_.log().Append(StreamId("policy", "w"), ExpectedVersion::Any(),
                             {MakePolicyEvent("x")});
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(runner_->WaitUntilCovers(r->last, std::chrono::seconds(10)));
  EXPECT_EQ(Count("w"), "1");
  EXPECT_FALSE(runner_->WaitUntilCovers(LogPosition{0, r->last.offset + 100},
                                        std::chrono::milliseconds(50)));
  runner_->Stop();
}

TEST_F(ProjectionRunnerTest, EachWaiterWakesOnceItsOwnPositionIsCovered) {
  ProjectionRunnerOptions one_by_one;
  one_by_one.batch_size = 1;
  runner_ = std::make_unique<ProjectionRunner>(log_.log(), *views_,
                                               std::vector<Projector*>{&counting_}, one_by_one);
  ASSERT_THAT(runner_->Init(), IsOk());
  for (int i = 0; i < 10; ++i) Append("q" + std::to_string(i), "x");
  // Waiters at positions 0..9, registered in reverse; the views then advance one record
  // per step.
  std::vector<std::atomic<bool>> woke(10);
  std::vector<std::thread> waiters;
  for (int i = 9; i >= 0; --i) {
    waiters.emplace_back([&, i] {
      woke[i] = runner_->WaitUntilCovers(LogPosition{0, i}, std::chrono::seconds(30));
    });
  }
  // Each step must wake the waiter it covers (a waiter that is never woken times out
  // after 30 s and fails here), whichever order the waiters registered in.
  for (int applied = 0; applied < 10; ++applied) {
    ASSERT_THAT(runner_->Step(), IsOk());
    ASSERT_TRUE(testing::WaitFor([&] { return woke[applied].load(); })) << "waiter " << applied;
  }
  for (auto& t : waiters) t.join();
  EXPECT_EQ(Count("q9"), "1");
}

// Batches of at least pipeline_min_records are written while the next one is applied. The
// counts are read-modify-write across batches, so a batch that did not see the one in
// flight before it, or a record applied twice, shows as a wrong count.
TEST_F(ProjectionRunnerTest, PipelinedBatchesSeeTheBatchInFlightAndEndLikeOneByOne) {
  for (int i = 0; i < 200; ++i) Append("p" + std::to_string(i % 3), "x");
  Pipelined(7);
  std::vector<uint64_t> progress;
  ASSERT_THAT(runner_->CatchUp([&](uint64_t n) { progress.push_back(n); }), IsOk());
  EXPECT_EQ(Count("p0"), "67");
  EXPECT_EQ(Count("p1"), "67");
  EXPECT_EQ(Count("p2"), "66");
  EXPECT_EQ(runner_->checkpoint().Next(0), 200);  // the last batch is written, not in flight
  EXPECT_EQ(runner_->stats().applied, 200u);
  EXPECT_EQ(runner_->stats().batches, 29u);  // 28 of 7 and one of 4
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), 200u);

  // Live: the same through the runner's thread, with more records arriving meanwhile.
  runner_->Start();
  for (int i = 0; i < 100; ++i) Append("p" + std::to_string(i % 3), "x");
  auto last = log_.log().Append(StreamId("policy", "p0"), ExpectedVersion::Any(),
                                {MakePolicyEvent("x")});
  ASSERT_THAT(last, IsOk());
  ASSERT_TRUE(runner_->WaitUntilCovers(last->last, std::chrono::seconds(30)));
  runner_->Stop();
  EXPECT_EQ(Count("p0"), "102");
  EXPECT_EQ(Count("p1"), "100");
  EXPECT_EQ(Count("p2"), "99");

  // A store built one batch at a time, never pipelined, holds the same bytes.
  ViewStoreOptions o;
  o.path = dir_.Sub("one-by-one");
  o.column_families = {"count"};
  auto other = ViewStore::Open(o);
  ASSERT_THAT(other, IsOk());
  ProjectionRunnerOptions unpipelined;
  unpipelined.batch_size = 7;
  unpipelined.pipeline_min_records = 1000;
  ProjectionRunner one_by_one(log_.log(), **other, {&counting_}, unpipelined);
  ASSERT_THAT(one_by_one.Init(), IsOk());
  ASSERT_THAT(one_by_one.CatchUp(), IsOk());
  other->reset();
  runner_.reset();
  views_.reset();
  EXPECT_EQ(testing::DiffViewStores(dir_.Sub("views"), dir_.Sub("one-by-one")), "");
}

// A poison record in the batch after one in flight: the batch in flight is sound and is
// kept; the failed one leaves nothing, and the checkpoint stops before it.
TEST_F(ProjectionRunnerTest, APoisonRecordAfterABatchInFlightKeepsThatBatch) {
  for (const char* name : {"a", "b", "c", "poison", "e"}) Append("d", name);
  Pipelined(2);
  EXPECT_THAT(runner_->CatchUp(), StatusIs(StatusCode::kCorruption, "test.poison"));
  EXPECT_EQ(Count("d"), "2");
  EXPECT_EQ(runner_->checkpoint().Next(0), 2);
  EXPECT_EQ(runner_->stats().applied, 2u);
}

TEST_F(ProjectionRunnerTest, ABatchReadsThroughTheBatchUnderItThenTheStore) {
  ViewBatch stored(*views_);
  stored.Put("count", "kept", "s1");
  stored.Put("count", "deleted", "s2");
  ASSERT_THAT(views_->Write(stored), IsOk());
  ViewBatch under(*views_);
  under.Put("count", "kept", "u1");
  under.Put("count", "new", "u3");
  under.Delete("count", "deleted");
  ViewBatch top(*views_, &under);
  top.Put("count", "new", "t3");
  auto get = [&](const std::string& key) {
    auto v = top.Get("count", key);
    EXPECT_THAT(v, IsOk());
    return v.ok() && *v ? **v : "none";
  };
  EXPECT_EQ(get("kept"), "u1");
  EXPECT_EQ(get("deleted"), "none");
  EXPECT_EQ(get("new"), "t3");  // its own write first
  top.ForgetUnder();
  EXPECT_EQ(get("kept"), "s1");
  EXPECT_EQ(get("deleted"), "s2");
  EXPECT_EQ(top.count(), 1u);  // reads stage nothing
}

// The hooks a batch asks for run once per batch, after it is in the store.
ViewStore* hooked_store = nullptr;
std::vector<std::string> hook_saw;
void SeeCountOfH() {
  auto v = hooked_store->Get("count", "policy/h");
  hook_saw.push_back(v.ok() && *v ? **v : "none");
}
class HookingProjector : public CountingProjector {
 public:
  Status Apply(const RecordedEvent& r, ViewBatch& b) override {
    AE_RETURN_IF_ERROR(CountingProjector::Apply(r, b));
    b.AfterWrite(&SeeCountOfH);
    return Status::Ok();
  }
};

TEST_F(ProjectionRunnerTest, AfterWriteHooksRunOncePerBatchOnceItIsInTheStore) {
  for (int i = 0; i < 9; ++i) Append("h", "x");
  HookingProjector hooking;
  Pipelined(3, &hooking);
  hooked_store = views_.get();
  hook_saw.clear();
  ASSERT_THAT(runner_->CatchUp(), IsOk());
  EXPECT_EQ(hook_saw, (std::vector<std::string>{"3", "6", "9"}));
  hooked_store = nullptr;
}

TEST(ProjectionRebuild, RebuiltViewsAreByteIdenticalToLiveOnes) {
  TempDir dir;
  testing::RocksDbLogHarness log;
  auto projectors = AllProjectors();
  std::vector<Projector*> ps;
  for (auto& p : projectors) ps.push_back(p.get());
  ViewStoreOptions o;
  o.column_families = AllColumnFamilies(projectors);
  o.path = dir.Sub("live");
  auto live = ViewStore::Open(o);
  ASSERT_THAT(live, IsOk());
  // Live: small batches interleaved with appends.
  ProjectionRunner live_runner(log.log(), **live, ps, ProjectionRunnerOptions{7});
  ASSERT_THAT(live_runner.Init(), IsOk());
  for (int i = 0; i < 60; ++i) {
    std::string id = "user" + std::to_string(i % 9);
    events::Envelope created;
    created.mutable_user_created()->set_user_id(id);
    created.mutable_user_created()->set_role(autoenroll::events::v1::ROLE_DEVICE_USER);
    events::Envelope token;
    token.mutable_user_token_issued()->set_user_id(id);
    token.mutable_user_token_issued()->set_token_id("t" + std::to_string(i));
    token.mutable_user_token_issued()->set_token_sha256(crypto::Sha256(std::to_string(i)));
    std::vector<events::Envelope> batch;
    if (i < 9) batch.push_back(created);
    batch.push_back(token);
    if (i % 5 == 0) batch.push_back(MakePolicyEvent("policy" + std::to_string(i)));
    ASSERT_THAT(log.log().Append(StreamId("user", id), ExpectedVersion::Any(), batch), IsOk());
    if (i % 3 == 0) {
      ASSERT_THAT(live_runner.Step(), IsOk());
    }
  }
  ASSERT_THAT(live_runner.CatchUp(), IsOk());
  live->reset();
  o.path = dir.Sub("rebuilt");
  auto rebuilt = ViewStore::Open(o);
  ASSERT_THAT(rebuilt, IsOk());
  ProjectionRunner rebuild_runner(log.log(), **rebuilt, ps);
  ASSERT_THAT(rebuild_runner.Init(), IsOk());
  ASSERT_THAT(rebuild_runner.CatchUp(), IsOk());
  rebuilt->reset();
  EXPECT_EQ(testing::DiffViewStores(dir.Sub("live"), dir.Sub("rebuilt")), "");
}

// The families the projectors read mostly for keys they do not hold (a new device's record)
// keep a bloom in each memtable: a read of a missing key skips the memtable's skip list
// there, and only there.
TEST(ViewStorePointReads, AMissingKeyOfAPointReadFamilyIsAnsweredByTheMemtableBloom) {
  TempDir dir;
  auto projectors = AllProjectors();
  const auto families = AllColumnFamilies(projectors);
  const auto point_read = AllPointReadFamilies(projectors);
  for (const char* f : {"dep_devices", "kme_devices", "kme_ids", "kme_versions", "enrollments"}) {
    EXPECT_NE(std::find(point_read.begin(), point_read.end(), f), point_read.end()) << f;
  }
  for (const auto& f : point_read) {
    EXPECT_NE(std::find(families.begin(), families.end(), f), families.end()) << f;
  }
  ViewStoreOptions o;
  o.path = dir.Sub("views");
  o.column_families = families;
  o.point_read_families = point_read;
  auto views = ViewStore::Open(o);
  ASSERT_THAT(views, IsOk());
  ViewBatch b(**views);
  b.Put("dep_devices", "C02HELD", "{}");
  b.Put("dep_accounts", "acc_held", "{}");
  ASSERT_THAT((*views)->Write(b), IsOk());

  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
  rocksdb::get_perf_context()->Reset();
  auto missing = (*views)->Get("dep_devices", "C02MISSING");
  ASSERT_THAT(missing, IsOk());
  EXPECT_FALSE(missing->has_value());
  EXPECT_EQ(rocksdb::get_perf_context()->bloom_memtable_miss_count, 1u);
  auto held = (*views)->Get("dep_devices", "C02HELD");
  ASSERT_THAT(held, IsOk());
  EXPECT_EQ(*held, std::optional<std::string>("{}"));
  EXPECT_EQ(rocksdb::get_perf_context()->bloom_memtable_hit_count, 1u);
  rocksdb::get_perf_context()->Reset();
  auto elsewhere = (*views)->Get("dep_accounts", "acc_missing");
  ASSERT_THAT(elsewhere, IsOk());
  EXPECT_FALSE(elsewhere->has_value());
  EXPECT_EQ(rocksdb::get_perf_context()->bloom_memtable_miss_count, 0u);  // no bloom there
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
}

}  // namespace
}  // namespace ae::proj
