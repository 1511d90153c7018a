// One conformance suite, run against every EventLog implementation. This file is built
// twice (tests/CMakeLists.txt): against the embedded RocksDB log, and, with
// AE_KAFKA_CONFORMANCE, against the Kafka log on the run's real Apache Kafka cluster
// (3 brokers, a topic of 3 partitions with replication factor 3 and min.insync.replicas 2).

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "events/hash_chain.h"
#include "events/upcast.h"
#ifdef AE_KAFKA_CONFORMANCE
#include "tests/support/kafka_log_harness.h"
#else
#include "tests/support/log_harness.h"
#endif

namespace ae::events {
namespace {

using ::ae::testing::MakePolicyEvent;

template <typename H>
class EventLogConformance : public ::testing::Test {
 protected:
  H harness_;
  EventLog& log() { return harness_.log(); }

  std::vector<Envelope> Events(std::initializer_list<const char*> names) {
    std::vector<Envelope> v;
    for (const char* n : names) v.push_back(MakePolicyEvent(n));
    return v;
  }
  std::vector<RecordedEvent> ReadAll() {
    std::vector<RecordedEvent> all;
    LogCursor c;
    while (true) {
      auto r = log().Read(c, 100);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok() || r->empty()) break;
      for (auto& e : *r) {
        c.Advance(e.position);
        all.push_back(std::move(e));
      }
    }
    return all;
  }
};

#ifdef AE_KAFKA_CONFORMANCE
using LogHarnesses = ::testing::Types<::ae::testing::KafkaLogHarness>;
#else
using LogHarnesses = ::testing::Types<::ae::testing::RocksDbLogHarness>;
#endif
// Test names say which log: EventLogConformance/RocksDb.* and EventLogConformance/Kafka.*.
struct LogName {
  template <typename H>
  static std::string GetName(int) {
#ifdef AE_KAFKA_CONFORMANCE
    return "Kafka";
#else
    return "RocksDb";
#endif
  }
};
TYPED_TEST_SUITE(EventLogConformance, LogHarnesses, LogName);

TYPED_TEST(EventLogConformance, AppendedEventsReadBackInOrderWithHeaders) {
  auto r = this->log().Append(StreamId("policy", "a"), ExpectedVersion::NoStream(),
                              this->Events({"a1", "a2", "a3"}));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->stream_version, 3u);
  EXPECT_LT(r->first, r->last);
  auto all = this->ReadAll();
  ASSERT_EQ(all.size(), 3u);
  for (size_t i = 0; i < all.size(); ++i) {
    const Envelope& e = all[i].envelope;
    EXPECT_EQ(e.stream(), "policy/a");
    EXPECT_EQ(e.stream_version(), i + 1);
    EXPECT_FALSE(e.event_id().empty());
    EXPECT_TRUE(e.has_recorded_at());
    EXPECT_EQ(e.policy_created().name(), std::string("a") + std::to_string(i + 1));
    if (i > 0) {
      EXPECT_LT(all[i - 1].position, all[i].position);
    }
  }
  EXPECT_EQ(all.front().position, r->first);
  EXPECT_EQ(all.back().position, r->last);
}

TYPED_TEST(EventLogConformance, AppendBatchDecidesEachItemOnItsOwn) {
  ASSERT_THAT(this->log().Append(StreamId("policy", "b"), ExpectedVersion::NoStream(),
                                 this->Events({"b1"})),
              IsOk());
  std::vector<EventLog::AppendItem> items;
  items.push_back({StreamId("policy", "a"), ExpectedVersion::NoStream(), this->Events({"a1", "a2"})});
  items.push_back({StreamId("policy", "b"), ExpectedVersion::NoStream(), this->Events({"b2"})});
  items.push_back({StreamId("policy", "c"), ExpectedVersion::NoStream(), this->Events({"c1"})});
  items.push_back({StreamId("policy", "d"), ExpectedVersion::NoStream(), {}});
  auto results = this->log().AppendBatch(std::move(items));
  ASSERT_EQ(results.size(), 4u);
  ASSERT_THAT(results[0], IsOk());
  EXPECT_EQ(results[0]->stream_version, 2u);
  EXPECT_THAT(results[1], StatusIs(StatusCode::kConflict, "log.wrong_expected_version"));
  ASSERT_THAT(results[2], IsOk());
  EXPECT_EQ(results[2]->stream_version, 1u);
  EXPECT_THAT(results[3], StatusIs(StatusCode::kInvalidArgument, "log.no_events"));
  auto all = this->ReadAll();
  ASSERT_EQ(all.size(), 4u);  // b1, a1, a2, c1: the refused items wrote nothing
  std::map<std::string, int> per_stream;
  for (const auto& r : all) per_stream[r.envelope.stream()]++;
  EXPECT_EQ(per_stream, (std::map<std::string, int>{{"policy/a", 2}, {"policy/b", 1}, {"policy/c", 1}}));
  auto b = this->log().ReadStream(StreamId("policy", "b"));
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->size(), 1u);
}

TYPED_TEST(EventLogConformance, WrongExpectedVersionWritesNothing) {
  StreamId s("policy", "b");
  ASSERT_THAT(this->log().Append(s, ExpectedVersion::NoStream(), this->Events({"b1"})), IsOk());
  EXPECT_THAT(this->log().Append(s, ExpectedVersion::NoStream(), this->Events({"x", "y"})),
              StatusIs(StatusCode::kConflict, "log.wrong_expected_version"));
  EXPECT_THAT(this->log().Append(s, ExpectedVersion::Exactly(5), this->Events({"x"})),
              StatusIs(StatusCode::kConflict, "log.wrong_expected_version"));
  EXPECT_EQ(this->ReadAll().size(), 1u);
  EXPECT_EQ(*this->log().GetStreamVersion(s), 1u);
  ASSERT_THAT(this->log().Append(s, ExpectedVersion::Exactly(1), this->Events({"b2"})), IsOk());
  ASSERT_THAT(this->log().Append(s, ExpectedVersion::Any(), this->Events({"b3"})), IsOk());
  EXPECT_EQ(*this->log().GetStreamVersion(s), 3u);
}

TYPED_TEST(EventLogConformance, RejectsEmptyAppendAndBadStreamIds) {
  EXPECT_THAT(this->log().Append(StreamId("policy", "c"), ExpectedVersion::Any(), {}),
              StatusIs(StatusCode::kInvalidArgument, "log.no_events"));
  EXPECT_THAT(this->log().Append(StreamId("nostreamtype"), ExpectedVersion::Any(),
                                 this->Events({"x"})),
              StatusIs(StatusCode::kInvalidArgument, "log.invalid_stream"));
  EXPECT_TRUE(this->ReadAll().empty());
}

TYPED_TEST(EventLogConformance, ReadsFromAPositionAndByStream) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT(this->log().Append(StreamId("policy", "s" + std::to_string(i % 2)),
                                   ExpectedVersion::Any(),
                                   this->Events({"e"})),
                IsOk());
  }
  auto all = this->ReadAll();
  ASSERT_EQ(all.size(), 5u);
  LogCursor after_second = LogCursor::After(all[1].position);
  auto rest = this->log().Read(after_second, 100);
  ASSERT_THAT(rest, IsOk());
  // Everything after the second record of its partition.
  size_t expected = 0;
  for (const auto& e : all) {
    if (e.position.partition != all[1].position.partition || e.position > all[1].position) {
      ++expected;
    }
  }
  // Partitions other than all[1]'s are read from their start.
  EXPECT_EQ(rest->size(), expected);
  auto s0 = this->log().ReadStream(StreamId("policy", "s0"), 1, SIZE_MAX);
  ASSERT_THAT(s0, IsOk());
  ASSERT_EQ(s0->size(), 3u);
  for (size_t i = 0; i < s0->size(); ++i) EXPECT_EQ((*s0)[i].envelope.stream_version(), i + 1);
  auto s0_from2 = this->log().ReadStream(StreamId("policy", "s0"), 2, SIZE_MAX);
  ASSERT_THAT(s0_from2, IsOk());
  EXPECT_EQ(s0_from2->size(), 2u);
  auto none = this->log().ReadStream(StreamId("policy", "missing"), 1, SIZE_MAX);
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(*this->log().GetStreamVersion(StreamId("policy", "missing")), 0u);
}

TYPED_TEST(EventLogConformance, SubscriberSeesEveryEventOnce) {
  std::mutex mu;
  std::vector<std::string> seen;
  Subscription sub(this->log(), LogCursor(),
                   [&](const std::vector<RecordedEvent>& batch, const LogCursor&) {
                     std::lock_guard lock(mu);
                     for (const auto& r : batch) seen.push_back(r.envelope.policy_created().name());
                     return Status::Ok();
                   });
  for (int i = 0; i < 20; ++i) {
    ASSERT_THAT(this->log().Append(StreamId("policy", "sub"), ExpectedVersion::Any(),
                                   {MakePolicyEvent("n" + std::to_string(i))}),
                IsOk());
  }
  ASSERT_TRUE(::ae::testing::WaitFor([&] {
    std::lock_guard lock(mu);
    return seen.size() >= 20;
  }));
  sub.Stop();
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(seen[i], "n" + std::to_string(i));
}

// A reader of a few kinds of event gets only those, decoded, and a cursor past every record
// it passed over; a subscription with those kinds hands its handler the same.
TYPED_TEST(EventLogConformance, AReadOfSomeKindsGetsThoseAndReachesPastTheRest) {
  auto user = [](const std::string& id) {
    Envelope e;
    e.mutable_user_created()->set_user_id(id);
    return e;
  };
  for (int i = 0; i < 10; ++i) {
    std::vector<Envelope> events = {MakePolicyEvent("p" + std::to_string(i))};
    if (i % 3 == 0) events.push_back(user("u" + std::to_string(i)));
    ASSERT_THAT(this->log().Append(StreamId("policy", "m" + std::to_string(i)),
                                   ExpectedVersion::Any(), events),
                IsOk());
  }
  auto all = this->log().Read(LogCursor(), 100);
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 14u);
  LogCursor end;  // past the last record (a Kafka head may count a transaction marker too)
  for (const auto& r : *all) end.Advance(r.position);
  const auto* head = &end;
  const std::vector<int> users = {Envelope::kUserCreated};
  auto read = this->log().ReadMatching(LogCursor(), 100, users);
  ASSERT_THAT(read, IsOk());
  std::vector<std::string> ids;  // in order within a partition; Kafka has several
  for (const auto& r : read->records) ids.push_back(r.envelope.user_created().user_id());
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"u0", "u3", "u6", "u9"}));
  EXPECT_EQ(read->reached, *head);
  for (const auto& r : read->records) EXPECT_FALSE(r.raw.empty());

  // Bounded like Read: `max` records looked at, kept or not.
  auto first = this->log().ReadMatching(LogCursor(), 3, users);
  ASSERT_THAT(first, IsOk());
  auto plain = this->log().Read(LogCursor(), 3);
  ASSERT_THAT(plain, IsOk());
  LogCursor looked;
  size_t kept = 0;
  for (const auto& r : *plain) {
    looked.Advance(r.position);
    kept += r.envelope.has_user_created();
  }
  EXPECT_EQ(first->reached, looked);
  EXPECT_EQ(first->records.size(), kept);
  auto past_end = this->log().ReadMatching(*head, 100, users);
  ASSERT_THAT(past_end, IsOk());
  EXPECT_TRUE(past_end->records.empty());
  EXPECT_EQ(past_end->reached, *head);

  std::mutex mu;
  std::vector<std::string> seen;
  LogCursor reached;
  Subscription sub(
      this->log(), LogCursor(),
      [&](const std::vector<RecordedEvent>& batch, const LogCursor& at) {
        std::lock_guard lock(mu);
        for (const auto& r : batch) seen.push_back(r.envelope.user_created().user_id());
        reached = at;
        return Status::Ok();
      },
      4, users);
  ASSERT_TRUE(::ae::testing::WaitFor([&] {
    std::lock_guard lock(mu);
    return reached == *head;
  }));
  sub.Stop();
  EXPECT_EQ(sub.cursor(), *head);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"u0", "u3", "u6", "u9"}));
}

TEST(PayloadCaseOf, ReadsTheCaseFromTheTagsAndRefusesWhatIsNotAnEnvelope) {
  Envelope policy = MakePolicyEvent("x");
  policy.set_stream("policy/x");
  policy.set_stream_version(7);
  EXPECT_EQ(PayloadCaseOf(policy.SerializeAsString()), Envelope::kPolicyCreated);
  Envelope user;
  user.mutable_user_created()->set_user_id("u");
  user.set_correlation_id("after the payload");
  EXPECT_EQ(PayloadCaseOf(user.SerializeAsString()), Envelope::kUserCreated);
  EXPECT_EQ(PayloadCaseOf(Envelope().SerializeAsString()), Envelope::PAYLOAD_NOT_SET);
  EXPECT_EQ(PayloadCaseOf(""), Envelope::PAYLOAD_NOT_SET);
  std::string cut = policy.SerializeAsString();
  cut.resize(cut.size() - 1);
  EXPECT_EQ(PayloadCaseOf(cut), std::nullopt);
  EXPECT_EQ(PayloadCaseOf("\xff\xff\xff"), std::nullopt);
  // Two payloads on the wire: the last one wins, as when it is parsed.
  std::string both = policy.SerializeAsString() + user.SerializeAsString();
  Envelope parsed;
  ASSERT_TRUE(parsed.ParseFromString(both));
  EXPECT_EQ(PayloadCaseOf(both), parsed.payload_case());
}

TYPED_TEST(EventLogConformance, HashChainLinksEveryRecord) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_THAT(this->log().Append(StreamId("policy", "h" + std::to_string(i)),
                                   ExpectedVersion::NoStream(), this->Events({"x", "y"})),
                IsOk());
  }
  auto report = VerifyChain(this->log());
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->records, 20u);
  EXPECT_FALSE(report->head_hash.empty());
}

TYPED_TEST(EventLogConformance, SurvivesRestart) {
  ASSERT_THAT(this->log().Append(StreamId("policy", "r"), ExpectedVersion::NoStream(),
                                 this->Events({"r1", "r2"})),
              IsOk());
  auto before = this->ReadAll();
  ASSERT_THAT(this->harness_.Reopen(), IsOk());
  auto after = this->ReadAll();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].position, before[i].position);
    EXPECT_EQ(after[i].raw, before[i].raw);
  }
  EXPECT_EQ(*this->log().GetStreamVersion(StreamId("policy", "r")), 2u);
  EXPECT_THAT(this->log().Append(StreamId("policy", "r"), ExpectedVersion::NoStream(),
                                 this->Events({"dup"})),
              StatusIs(StatusCode::kConflict, "log.wrong_expected_version"));
  ASSERT_THAT(this->log().Append(StreamId("policy", "r"), ExpectedVersion::Exactly(2),
                                 this->Events({"r3"})),
              IsOk());
  auto report = VerifyChain(this->log());
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->records, 3u);
}

// A record written at schema version 1 is read with today's meaning (events/upcast.h),
// after a restart too, while its stored bytes, and so the chain, stay as written.
TYPED_TEST(EventLogConformance, OlderSchemaVersionsAreReadUpcastAndStoredAsWritten) {
  Envelope old;
  old.set_schema_version(1);
  old.mutable_kme_enrollment_refused()->set_reason("not_imported");
  Envelope now;
  now.mutable_kme_enrollment_refused()->set_reason("kme.no_user");
  ASSERT_THAT(this->log().Append(StreamId("kme-device", "d1"), ExpectedVersion::NoStream(),
                                 {old, now}),
              IsOk());
  for (int round = 0; round < 2; ++round) {
    auto all = this->ReadAll();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].envelope.schema_version(), kSchemaVersion);
    EXPECT_EQ(all[0].envelope.kme_enrollment_refused().reason(), "kme.device_not_imported");
    Envelope stored;
    ASSERT_TRUE(stored.ParseFromString(all[0].raw));
    EXPECT_EQ(stored.schema_version(), 1u);
    EXPECT_EQ(stored.kme_enrollment_refused().reason(), "not_imported");
    EXPECT_EQ(all[1].envelope.schema_version(), kSchemaVersion);  // stamped by the log
    EXPECT_EQ(all[1].envelope.kme_enrollment_refused().reason(), "kme.no_user");
    auto by_stream = this->log().ReadStream(StreamId("kme-device", "d1"), 1, 10);
    ASSERT_THAT(by_stream, IsOk());
    ASSERT_EQ(by_stream->size(), 2u);
    EXPECT_EQ((*by_stream)[0].envelope.kme_enrollment_refused().reason(),
              "kme.device_not_imported");
    auto report = VerifyChain(this->log());
    ASSERT_THAT(report, IsOk());
    EXPECT_TRUE(report->ok) << report->problem;
    ASSERT_THAT(this->harness_.Reopen(), IsOk());
  }
}

TYPED_TEST(EventLogConformance, ConcurrentAppendersToOneStreamExactlyOneWins) {
  constexpr int kThreads = 8;
  std::atomic<int> wins{0}, conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto r = this->log().Append(StreamId("policy", "race"), ExpectedVersion::NoStream(),
                                  {MakePolicyEvent("t" + std::to_string(t))});
      if (r.ok()) ++wins;
      else if (r.status().code() == StatusCode::kConflict) ++conflicts;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
  EXPECT_EQ(this->ReadAll().size(), 1u);
}

TYPED_TEST(EventLogConformance, HeadCoversEverythingAppended) {
  auto r = this->log().Append(StreamId("policy", "head"), ExpectedVersion::Any(),
                              this->Events({"a", "b"}));
  ASSERT_THAT(r, IsOk());
  auto head = this->log().Head();
  ASSERT_THAT(head, IsOk());
  EXPECT_TRUE(head->Covers(r->last));
  EXPECT_FALSE(this->log().WaitForNew(*head, std::chrono::milliseconds(10)));
  EXPECT_TRUE(this->log().WaitForNew(LogCursor(), std::chrono::milliseconds(10)));
}

}  // namespace
}  // namespace ae::events
