// Behaviour specific to the embedded log: sticky errors, tamper evidence, group commit, the
// stream index's blooms.

#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>

#include <set>
#include <thread>

#include "events/hash_chain.h"
#include "events/rocksdb_event_log.h"
#include "tests/support/test_support.h"

namespace ae::events {
namespace {

using ::ae::testing::FaultInjection;
using ::ae::testing::MakePolicyEvent;
using ::ae::testing::TempDir;

std::unique_ptr<RocksDbEventLog> OpenLog(const TempDir& dir, rocksdb::Env* env = nullptr) {
  RocksDbEventLogOptions o;
  o.path = dir.Sub("log");
  o.env = env;
  auto r = RocksDbEventLog::Open(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

TEST(RocksDbEventLog, FailedDurableWriteMakesTheLogRefuseAppendsUntilReopened) {
  TempDir dir;
  FaultInjection faults;
  auto log = OpenLog(dir, faults.env());
  ASSERT_THAT(log->Append(StreamId("policy", "a"), ExpectedVersion::Any(), {MakePolicyEvent("a")}),
              IsOk());
  faults.SetFailWrites(true);
  EXPECT_THAT(log->Append(StreamId("policy", "b"), ExpectedVersion::Any(), {MakePolicyEvent("b")}),
              StatusIs(StatusCode::kUnavailable, "log.unavailable"));
  faults.SetFailWrites(false);
  // Sticky: the disk works again, but what reached it is indeterminate.
  EXPECT_THAT(log->Append(StreamId("policy", "c"), ExpectedVersion::Any(), {MakePolicyEvent("c")}),
              StatusIs(StatusCode::kUnavailable, "log.unavailable"));
  EXPECT_THAT(log->Health(), StatusIs(StatusCode::kUnavailable, "log.unavailable"));
  log.reset();
  auto reopened = OpenLog(dir);
  ASSERT_NE(reopened, nullptr);
  EXPECT_THAT(reopened->Health(), IsOk());
  ASSERT_THAT(reopened->Append(StreamId("policy", "d"), ExpectedVersion::Any(),
                               {MakePolicyEvent("d")}),
              IsOk());
  auto report = VerifyChain(*reopened);
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->ok) << report->problem;
  auto c = reopened->ReadStream(StreamId("policy", "c"), 1, SIZE_MAX);
  ASSERT_THAT(c, IsOk());
  EXPECT_TRUE(c->empty()) << "a refused append must not appear after restart";
}

TEST(RocksDbEventLog, AlteredRecordIsNamedByVerification) {
  TempDir dir;
  auto log = OpenLog(dir);
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT(log->Append(StreamId("policy", "p"), ExpectedVersion::Any(),
                            {MakePolicyEvent("v" + std::to_string(i))}),
                IsOk());
  }
  auto all = log->Read(LogCursor(), 10);
  ASSERT_THAT(all, IsOk());
  Envelope tampered = (*all)[2].envelope;
  tampered.mutable_policy_created()->set_name("evil");
  ASSERT_THAT(log->store().CorruptRecordForTest((*all)[2].position, tampered.SerializeAsString()),
              IsOk());
  auto report = VerifyChain(*log);
  ASSERT_THAT(report, IsOk());
  EXPECT_FALSE(report->ok);
  // Record 3 no longer chains to the altered record 2.
  EXPECT_EQ(report->broken_at, (*all)[3].position);
}

TEST(RocksDbEventLog, ConcurrentWritersAreGroupCommittedWithoutLoss) {
  TempDir dir;
  auto log = OpenLog(dir);
  constexpr int kThreads = 16, kPerThread = 50;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<LogPosition> positions;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = log->Append(StreamId("policy", "w" + std::to_string(t)),
                             ExpectedVersion::Exactly(i), {MakePolicyEvent("x")});
        ASSERT_THAT(r, IsOk());
        std::lock_guard lock(mu);
        positions.insert(r->last);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(positions.size(), size_t{kThreads * kPerThread});
  auto report = VerifyChain(*log);
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->ok);
  EXPECT_EQ(report->records, uint64_t{kThreads * kPerThread});
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(*log->GetStreamVersion(StreamId("policy", "w" + std::to_string(t))),
              StreamVersion{kPerThread});
  }
}

// Streams whose ids prefix one another keep their own versions and events, and the version
// of a stream the log has never seen is answered by the stream index's memtable bloom.
TEST(RocksDbEventLog, StreamsThatPrefixOneAnotherStayApartAndAnUnknownOneIsAnsweredByTheBloom) {
  TempDir dir;
  auto log = OpenLog(dir);
  ASSERT_NE(log, nullptr);
  for (const char* id : {"1", "10", "100"}) {
    for (int i = 0; i < 3; ++i) {
      ASSERT_THAT(log->Append(StreamId("policy", id), ExpectedVersion::Any(),
                              {MakePolicyEvent(std::string(id) + "-" + std::to_string(i))}),
                  IsOk());
    }
  }
  ASSERT_THAT(log->Append(StreamId("policy", "10"), ExpectedVersion::Exactly(3),
                          {MakePolicyEvent("10-3")}),
              IsOk());
  auto version = [&](const char* id) {
    auto v = log->GetStreamVersion(StreamId("policy", id));
    EXPECT_THAT(v, IsOk());
    return v.ok() ? *v : StreamVersion{999};
  };
  EXPECT_EQ(version("1"), 3u);
  EXPECT_EQ(version("10"), 4u);
  EXPECT_EQ(version("100"), 3u);
  auto ten = log->ReadStream(StreamId("policy", "10"), 2, 10);
  ASSERT_THAT(ten, IsOk());
  ASSERT_EQ(ten->size(), 3u);
  for (const auto& r : *ten) EXPECT_EQ(r.envelope.stream(), "policy/10");
  EXPECT_EQ(ten->back().envelope.policy_created().name(), "10-3");

  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
  rocksdb::get_perf_context()->Reset();
  EXPECT_EQ(version("1000"), 0u);
  EXPECT_EQ(rocksdb::get_perf_context()->bloom_memtable_miss_count, 1u);
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
}

}  // namespace
}  // namespace ae::events
