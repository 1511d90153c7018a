// Behaviour specific to the Kafka log, against librdkafka's mock cluster:
// fencing, read-only replicas, injected broker errors, a full outage, readers
// that are not our code, and rebuilding the local mirror from the topic.

#include "events/kafka_event_log.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <ostream>
#include <set>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

#include "events/hash_chain.h"
#include "events/kafka_dev_cluster.h"
#include "tests/support/kafka_log_harness.h"

namespace ae::events {
namespace {

using ::ae::testing::KafkaLogHarness;
using ::ae::testing::MakePolicyEvent;
using ::ae::testing::WaitFor;
using std::chrono::milliseconds;
using std::chrono::seconds;
namespace api = ::ae::testing::kafka_api;

Result<AppendResult> AppendOne(EventLog& log, const std::string& stream, ExpectedVersion expected,
                               const std::string& name) {
  return log.Append(StreamId(stream), expected, {MakePolicyEvent(name)});
}

std::vector<RecordedEvent> ReadAll(const EventLog& log) {
  std::vector<RecordedEvent> all;
  LogCursor cursor;
  while (true) {
    auto batch = log.Read(cursor, 100);
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    if (!batch.ok() || batch->empty()) break;
    for (auto& r : *batch) {
      cursor.Advance(r.position);
      all.push_back(std::move(r));
    }
  }
  return all;
}

std::vector<std::string> Names(const std::vector<RecordedEvent>& records) {
  std::vector<std::string> names;
  for (const auto& r : records) names.push_back(r.envelope.policy_created().name());
  return names;
}

void ExpectChainVerifies(const EventLog& log, uint64_t records) {
  auto report = VerifyChain(log);
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->records, records);
}

// One record of the topic as any Kafka client sees it.
struct TopicRecord {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
};

// Reads the whole topic (up to each partition's current end) with a plain
// read_committed librdkafka consumer: no code of ours is involved.
std::vector<TopicRecord> ReadTopic(const std::string& brokers) {
  std::vector<TopicRecord> out;
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] :
       std::map<std::string, std::string>{{"bootstrap.servers", brokers},
                                          {"group.id", "analytics"},
                                          {"isolation.level", "read_committed"},
                                          {"enable.auto.commit", "false"},
                                          {"log_level", "3"}}) {
    EXPECT_EQ(rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr),
              RD_KAFKA_CONF_OK)
        << errstr;
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (!rk) {
    ADD_FAILURE() << errstr;
    rd_kafka_conf_destroy(conf);
    return out;
  }
  rd_kafka_poll_set_consumer(rk);
  const int partitions = KafkaLogHarness::kPartitions;
  std::map<int32_t, int64_t> ends;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    EXPECT_EQ(rd_kafka_query_watermark_offsets(rk, KafkaLogHarness::kTopic, p, &low, &high, 10000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    ends[p] = high;
    rd_kafka_topic_partition_list_add(list, KafkaLogHarness::kTopic, p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  EXPECT_EQ(rd_kafka_assign(rk, list), RD_KAFKA_RESP_ERR_NO_ERROR);
  bool done = WaitFor(
      [&] {
        while (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 10)) {
          if (!m->err) {
            TopicRecord r;
            r.partition = m->partition;
            r.offset = m->offset;
            if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
            if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
            out.push_back(std::move(r));
          }
          rd_kafka_message_destroy(m);
        }
        EXPECT_EQ(rd_kafka_position(rk, list), RD_KAFKA_RESP_ERR_NO_ERROR);
        for (int i = 0; i < list->cnt; ++i) {
          const int64_t end = ends[list->elems[i].partition];
          if (end > 0 && list->elems[i].offset < end) return false;
        }
        return true;
      },
      seconds(20));
  EXPECT_TRUE(done) << "the topic was not read to its end";
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  return out;
}

// The broker leading `partition` of the harness's topic, from the cluster's metadata.
int32_t LeaderOf(const std::string& brokers, int32_t partition) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  EXPECT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), errstr, sizeof errstr),
            RD_KAFKA_CONF_OK);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return -1;
  }
  int32_t leader = -1;
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 1, nullptr, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int t = 0; t < md->topic_cnt; ++t) {
      if (std::string(md->topics[t].topic) != KafkaLogHarness::kTopic) continue;
      for (int p = 0; p < md->topics[t].partition_cnt; ++p) {
        if (md->topics[t].partitions[p].id == partition)
          leader = md->topics[t].partitions[p].leader;
      }
    }
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_destroy(rk);
  return leader;
}

std::vector<std::string> TopicNames(const std::vector<TopicRecord>& records) {
  std::vector<std::string> names;
  for (const auto& r : records) {
    Envelope env;
    EXPECT_TRUE(env.ParseFromString(r.value));
    names.push_back(env.policy_created().name());
  }
  return names;
}

TEST(KafkaEventLog, FencedWriterRefusesAppendsAndWritesNothing) {
  KafkaLogHarness h;
  KafkaEventLog& first = h.kafka();
  ASSERT_THAT(AppendOne(first, "policy/a", ExpectedVersion::NoStream(), "before"), IsOk());

  // A second writer with the same transactional.id takes over.
  auto second = h.OpenAnother(h.Options("second"));
  ASSERT_THAT(second, IsOk());
  // Its InitProducerId makes a real broker answer the older producer with
  // PRODUCER_FENCED; the 2.0.2 mock does not bump the epoch by itself, so the
  // test gives that answer to the first writer's next transactional request.
  rd_kafka_mock_push_request_errors(h.mock(), api::kAddPartitionsToTxn, 1,
                                    RD_KAFKA_RESP_ERR_PRODUCER_FENCED);

  EXPECT_THAT(AppendOne(first, "policy/zombie", ExpectedVersion::Any(), "zombie-1"),
              StatusIs(StatusCode::kFailedPrecondition, "log.fenced"));
  EXPECT_THAT(AppendOne(first, "policy/zombie", ExpectedVersion::Any(), "zombie-2"),
              StatusIs(StatusCode::kFailedPrecondition, "log.fenced"));
  EXPECT_THAT(first.Health(), StatusIs(StatusCode::kFailedPrecondition, "log.fenced"));

  // The new writer appends, and both see it.
  ASSERT_THAT(AppendOne(**second, "policy/a", ExpectedVersion::Exactly(1), "after"), IsOk());
  EXPECT_EQ(Names(ReadAll(**second)), (std::vector<std::string>{"before", "after"}));
  EXPECT_TRUE(WaitFor([&] { return *first.GetStreamVersion(StreamId("policy/a")) == 2; }))
      << "a fenced writer keeps serving reads";

  // Nothing the fenced writer attempted reached the topic.
  EXPECT_EQ(TopicNames(ReadTopic(h.cluster().bootstraps())),
            (std::vector<std::string>{"before", "after"}));
  ExpectChainVerifies(**second, 2);
}

TEST(KafkaEventLog, WriterStopsOnceAnotherWriterAppended) {
  KafkaLogHarness h;
  KafkaEventLog& first = h.kafka();
  ASSERT_THAT(AppendOne(first, "policy/a", ExpectedVersion::NoStream(), "a1"), IsOk());
  // No error is injected here: whether or not the brokers fenced the first
  // writer, a record it did not write tells it that it is not the writer.
  auto second = h.OpenAnother(h.Options("second"));
  ASSERT_THAT(second, IsOk());
  ASSERT_THAT(AppendOne(**second, "policy/b", ExpectedVersion::NoStream(), "b1"), IsOk());
  ASSERT_TRUE(WaitFor([&] { return *first.GetStreamVersion(StreamId("policy/b")) == 1; }));

  EXPECT_THAT(AppendOne(first, "policy/c", ExpectedVersion::NoStream(), "zombie"),
              StatusIs(StatusCode::kFailedPrecondition, "log.fenced"));
  EXPECT_THAT(first.Health(), StatusIs(StatusCode::kFailedPrecondition, "log.fenced"));
  ASSERT_THAT(AppendOne(**second, "policy/c", ExpectedVersion::NoStream(), "c1"), IsOk());
  auto names = TopicNames(ReadTopic(h.cluster().bootstraps()));
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()),
            (std::set<std::string>{"a1", "b1", "c1"}));
  EXPECT_EQ(names.size(), 3u);
}

TEST(KafkaEventLog, ReadOnlyReplicaFollowsTheWriterAndRefusesAppends) {
  KafkaLogHarness h;
  for (const char* s : {"policy/r1", "policy/r2", "policy/r3"}) {
    ASSERT_THAT(AppendOne(h.log(), s, ExpectedVersion::NoStream(), s), IsOk());
  }
  KafkaEventLogOptions o = h.Options("replica");
  o.writer = false;
  auto replica = h.OpenAnother(o);
  ASSERT_THAT(replica, IsOk());
  EXPECT_EQ((*replica)->Kind(), "kafka");
  ASSERT_THAT((*replica)->WaitUntilCaughtUp(seconds(10)), IsOk());
  auto mine = ReadAll(h.log());
  auto theirs = ReadAll(**replica);
  ASSERT_EQ(theirs.size(), mine.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    EXPECT_EQ(theirs[i].position, mine[i].position);
    EXPECT_EQ(theirs[i].raw, mine[i].raw);
  }

  // It follows new appends.
  ASSERT_THAT(AppendOne(h.log(), "policy/r1", ExpectedVersion::Exactly(1), "later"), IsOk());
  EXPECT_TRUE(WaitFor([&] { return *(*replica)->GetStreamVersion(StreamId("policy/r1")) == 2; }));

  // It refuses to write, and its refusal wrote nothing.
  EXPECT_THAT(AppendOne(**replica, "policy/r9", ExpectedVersion::Any(), "from-replica"),
              StatusIs(StatusCode::kFailedPrecondition, "log.read_only"));
  EXPECT_THAT((*replica)->Health(), IsOk());
  EXPECT_EQ(ReadTopic(h.cluster().bootstraps()).size(), 4u);
}

TEST(KafkaEventLog, InjectedBrokerErrorsNeverDuplicateEvents) {
  KafkaLogHarness h;
  struct Scenario {
    const char* name;
    int16_t api;
    std::vector<rd_kafka_resp_err_t> errors;
  };
  const std::vector<Scenario> scenarios = {
      // Retried inside librdkafka: the append succeeds once.
      {"produce-not-enough-replicas",
       api::kProduce,
       {RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS}},
      {"produce-disconnected", api::kProduce, {RD_KAFKA_RESP_ERR__TRANSPORT}},
      {"add-partitions-coordinator-moved",
       api::kAddPartitionsToTxn,
       {RD_KAFKA_RESP_ERR_NOT_COORDINATOR}},
      {"commit-coordinator-unavailable",
       api::kEndTxn,
       {RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE}},
      {"commit-concurrent-transactions", api::kEndTxn, {RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS}},
      // The transaction must be aborted: kUnavailable, and a retry succeeds.
      {"produce-rejected", api::kProduce, {RD_KAFKA_RESP_ERR_INVALID_RECORD}},
      {"add-partitions-denied",
       api::kAddPartitionsToTxn,
       {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED}},
  };
  const std::string stream = "policy/injected";
  StreamVersion version = 0;
  for (const Scenario& s : scenarios) {
    SCOPED_TRACE(s.name);
    rd_kafka_mock_push_request_errors_array(h.mock(), s.api, s.errors.size(), s.errors.data());
    auto r = AppendOne(h.log(), stream, ExpectedVersion::Exactly(version), s.name);
    // What a caller does with kUnavailable: retry the same append, with the same
    // expected version, a few times.
    for (int attempt = 1; !r.ok() && attempt < 5; ++attempt) {
      EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable, "log.unavailable"));
      r = AppendOne(h.log(), stream, ExpectedVersion::Exactly(version), s.name);
    }
    ASSERT_THAT(r, IsOk());
    version = r->stream_version;
    rd_kafka_mock_clear_request_errors(h.mock(), s.api);
  }

  // Each append is in the log exactly once, in order, and nothing else is.
  auto all = ReadAll(h.log());
  std::vector<std::string> expected;
  for (const Scenario& s : scenarios) expected.push_back(s.name);
  EXPECT_EQ(Names(all), expected);
  std::set<std::string> ids;
  for (const auto& r : all) ids.insert(r.envelope.event_id());
  EXPECT_EQ(ids.size(), all.size());
  ExpectChainVerifies(h.log(), scenarios.size());
  // The topic itself holds the same records, without duplicates.
  auto topic = ReadTopic(h.cluster().bootstraps());
  ASSERT_EQ(topic.size(), all.size());
  for (size_t i = 0; i < topic.size(); ++i) {
    EXPECT_EQ(topic[i].value, all[i].raw);
    EXPECT_EQ((LogPosition{topic[i].partition, topic[i].offset}), all[i].position);
  }
}

// The leader of every partition moves to another broker, twice, between and during
// appends (the writer learns it from NOT_LEADER answers and metadata): every append
// lands once, in order, and the chain and the topic agree.
TEST(KafkaEventLog, LeaderChangesNeverLoseOrDuplicateAnAppend) {
  KafkaLogHarness h;
  const std::string stream = "policy/leaders";
  std::vector<std::string> expected;
  StreamVersion version = 0;
  for (int round = 0; round < 6; ++round) {
    const int32_t leader = 1 + round % 3;
    for (int32_t p = 0; p < KafkaLogHarness::kPartitions; ++p) {
      ASSERT_EQ(rd_kafka_mock_partition_set_leader(h.mock(), KafkaLogHarness::kTopic, p, leader),
                RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    if (round % 2 == 1) {
      // The old leader still answers the next produce with NOT_LEADER_FOR_PARTITION.
      const rd_kafka_resp_err_t moved[] = {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION};
      rd_kafka_mock_push_request_errors_array(h.mock(), api::kProduce, 1, moved);
    }
    for (int i = 0; i < 3; ++i) {
      const std::string name = "r" + std::to_string(round) + "-" + std::to_string(i);
      auto r = AppendOne(h.log(), stream, ExpectedVersion::Exactly(version), name);
      for (int attempt = 1; !r.ok() && attempt < 5; ++attempt) {
        EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable, "log.unavailable"));
        r = AppendOne(h.log(), stream, ExpectedVersion::Exactly(version), name);
      }
      ASSERT_THAT(r, IsOk()) << name;
      version = r->stream_version;
      expected.push_back(name);
    }
    rd_kafka_mock_clear_request_errors(h.mock(), api::kProduce);
  }
  auto events = h.log().ReadStream(StreamId(stream), 1, SIZE_MAX);
  ASSERT_THAT(events, IsOk());
  EXPECT_EQ(Names(*events), expected);
  ExpectChainVerifies(h.log(), expected.size());
  EXPECT_EQ(TopicNames(ReadTopic(h.cluster().bootstraps())), expected);
}

TEST(KafkaEventLog, LostProduceAcknowledgementIsNotADuplicate) {
  KafkaLogHarness h;
  KafkaEventLogOptions o = h.Options();
  o.properties["socket.timeout.ms"] = "1000";  // the client gives up on a request after 1 s
  ASSERT_THAT(h.Reopen(o), IsOk());
  const std::string stream = "policy/ack";
  ASSERT_THAT(AppendOne(h.log(), stream, ExpectedVersion::NoStream(), "first"), IsOk());
  // The leader stores the next batch but answers after the client gave up on
  // it: the client sends the batch again and the broker must deduplicate it.
  const int32_t leader = LeaderOf(
      h.cluster().bootstraps(), KafkaEventLog::PartitionFor(stream, KafkaLogHarness::kPartitions));
  ASSERT_GT(leader, 0);
  ASSERT_EQ(rd_kafka_mock_broker_push_request_error_rtts(h.mock(), leader, api::kProduce, 1,
                                                         RD_KAFKA_RESP_ERR_NO_ERROR, 3000),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  auto r = h.log().Append(StreamId(stream), ExpectedVersion::Exactly(1),
                          {MakePolicyEvent("second"), MakePolicyEvent("third")});
  for (int attempt = 1; !r.ok() && attempt < 5; ++attempt) {
    EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable, "log.unavailable"));
    r = h.log().Append(StreamId(stream), ExpectedVersion::Exactly(1),
                       {MakePolicyEvent("second"), MakePolicyEvent("third")});
  }
  ASSERT_THAT(r, IsOk());
  size_t unused = 1;
  ASSERT_EQ(rd_kafka_mock_broker_error_stack_cnt(h.mock(), leader, api::kProduce, &unused),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(unused, 0u) << "the delayed answer was not exercised";
  auto events = h.log().ReadStream(StreamId(stream), 1, SIZE_MAX);
  ASSERT_THAT(events, IsOk());
  EXPECT_EQ(Names(*events), (std::vector<std::string>{"first", "second", "third"}));
  EXPECT_EQ(r->first, (*events)[1].position);
  EXPECT_EQ(r->last, (*events)[2].position);
  ExpectChainVerifies(h.log(), 3);
  EXPECT_EQ(TopicNames(ReadTopic(h.cluster().bootstraps())),
            (std::vector<std::string>{"first", "second", "third"}));
}

TEST(KafkaEventLog, UnconfirmedCommitIsSettledBeforeTheNextAppend) {
  KafkaLogHarness h;
  const std::string writer_id = h.Options().transactional_id;
  ASSERT_EQ(rd_kafka_mock_coordinator_set(h.mock(), "transaction", writer_id.c_str(), 1),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  KafkaEventLogOptions o = h.Options();
  o.append_timeout = seconds(2);
  o.properties["socket.timeout.ms"] = "1000";  // the client gives up on a request after 1 s
  ASSERT_THAT(h.Reopen(o), IsOk());
  const std::string stream = "policy/unconfirmed";
  ASSERT_THAT(AppendOne(h.log(), stream, ExpectedVersion::NoStream(), "a"), IsOk());

  // The coordinator answers the next commits only after the client gave up.
  ASSERT_EQ(rd_kafka_mock_broker_push_request_error_rtts(
                h.mock(), 1, api::kEndTxn, 3, RD_KAFKA_RESP_ERR_NO_ERROR, 3000,
                RD_KAFKA_RESP_ERR_NO_ERROR, 3000, RD_KAFKA_RESP_ERR_NO_ERROR, 3000),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  auto r = AppendOne(h.log(), stream, ExpectedVersion::Exactly(1), "b");
  ASSERT_THAT(r, StatusIs(StatusCode::kUnavailable, "log.unavailable"));
  // The caller retries; the log first settles the earlier commit, which did
  // land, so the retry is told the stream moved on instead of writing twice.
  for (int attempt = 0; attempt < 10 && r.status().code() == StatusCode::kUnavailable; ++attempt) {
    r = AppendOne(h.log(), stream, ExpectedVersion::Exactly(1), "b");
  }
  EXPECT_THAT(r, StatusIs(StatusCode::kConflict, "log.wrong_expected_version"));
  auto events = h.log().ReadStream(StreamId(stream), 1, SIZE_MAX);
  ASSERT_THAT(events, IsOk());
  EXPECT_EQ(Names(*events), (std::vector<std::string>{"a", "b"}));
  ExpectChainVerifies(h.log(), 2);
  EXPECT_EQ(TopicNames(ReadTopic(h.cluster().bootstraps())), (std::vector<std::string>{"a", "b"}));
}

TEST(KafkaEventLog, AllBrokersDownFailsWithinTheTimeoutAndRecovers) {
  KafkaLogHarness h;
  KafkaEventLogOptions o = h.Options();
  o.append_timeout = seconds(2);
  o.properties["reconnect.backoff.max.ms"] = "200";  // reconnect promptly once the brokers return
  ASSERT_THAT(h.Reopen(o), IsOk());
  const std::string stream = "policy/outage";
  ASSERT_THAT(AppendOne(h.log(), stream, ExpectedVersion::NoStream(), "before"), IsOk());

  ASSERT_EQ(rd_kafka_mock_broker_set_down(h.mock(), -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_THAT(AppendOne(h.log(), stream, ExpectedVersion::Exactly(1), "during-1"),
              StatusIs(StatusCode::kUnavailable, "log.unavailable"));
  EXPECT_THAT(AppendOne(h.log(), stream, ExpectedVersion::Exactly(1), "during-2"),
              StatusIs(StatusCode::kUnavailable, "log.unavailable"));
  EXPECT_THAT(h.log().Health(), IsOk()) << "an outage is not a sticky error";

  ASSERT_EQ(rd_kafka_mock_broker_set_up(h.mock(), -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(
      WaitFor([&] { return h.kafka().WaitUntilCaughtUp(milliseconds(500)).ok(); }, seconds(20)))
      << "the brokers are reachable again";
  ASSERT_THAT(AppendOne(h.log(), stream, ExpectedVersion::Exactly(1), "after"), IsOk());

  auto events = h.log().ReadStream(StreamId(stream), 1, SIZE_MAX);
  ASSERT_THAT(events, IsOk());
  EXPECT_EQ(Names(*events), (std::vector<std::string>{"before", "after"}));
  ExpectChainVerifies(h.log(), 2);
  EXPECT_EQ(TopicNames(ReadTopic(h.cluster().bootstraps())),
            (std::vector<std::string>{"before", "after"}));
}

TEST(KafkaEventLog, AnyKafkaConsumerCanDecodeTheTopic) {
  KafkaLogHarness h;
  for (int i = 0; i < 10; ++i) {
    const std::string stream = "policy/s" + std::to_string(i % 5);
    ASSERT_THAT(AppendOne(h.log(), stream, ExpectedVersion::Any(), "e" + std::to_string(i)),
                IsOk());
  }
  std::map<LogPosition, std::string> logged;
  for (const auto& r : ReadAll(h.log())) logged[r.position] = r.raw;

  auto topic = ReadTopic(h.cluster().bootstraps());
  ASSERT_EQ(topic.size(), 10u);
  for (const TopicRecord& r : topic) {
    autoenroll::events::v1::Envelope env;
    ASSERT_TRUE(env.ParseFromString(r.value)) << "record " << r.partition << ":" << r.offset;
    EXPECT_EQ(r.key, env.stream());
    EXPECT_EQ(r.partition, KafkaEventLog::PartitionFor(env.stream(), KafkaLogHarness::kPartitions));
    EXPECT_EQ((logged[LogPosition{r.partition, r.offset}]), r.value);
  }
}

TEST(KafkaEventLog, DeletedMirrorIsRebuiltFromTheTopic) {
  KafkaLogHarness h;
  for (int i = 0; i < 12; ++i) {
    ASSERT_THAT(AppendOne(h.log(), "policy/m" + std::to_string(i % 4), ExpectedVersion::Any(),
                          "m" + std::to_string(i)),
                IsOk());
  }
  const auto before = ReadAll(h.log());
  ASSERT_EQ(before.size(), 12u);

  h.Close();
  std::filesystem::remove_all(h.CachePath());
  ASSERT_THAT(h.Reopen(), IsOk());
  ASSERT_THAT(h.kafka().WaitUntilCaughtUp(seconds(10)), IsOk());

  const auto after = ReadAll(h.log());
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].position, before[i].position);
    EXPECT_EQ(after[i].raw, before[i].raw);
  }
  EXPECT_EQ(*h.log().GetStreamVersion(StreamId("policy/m0")), 3u);
  // The rebuilt mirror carries the chain on.
  ASSERT_THAT(AppendOne(h.log(), "policy/m0", ExpectedVersion::Exactly(3), "m12"), IsOk());
  ExpectChainVerifies(h.log(), 13);
}

TEST(KafkaEventLog, OptionsTheLogDependsOnCannotBeOverridden) {
  KafkaEventLogOptions o;
  o.brokers = "127.0.0.1:1";
  o.cache_path = "/nonexistent";
  o.properties["isolation.level"] = "read_uncommitted";
  EXPECT_THAT(KafkaEventLog::Open(o), StatusIs(StatusCode::kInvalidArgument, "log.invalid_option"));
  o.properties.clear();
  o.topic = "bad topic";
  EXPECT_THAT(o.Validate(), StatusIs(StatusCode::kInvalidArgument, "log.invalid_option"));
}

TEST(KafkaEventLog, OpenFailsWithinItsTimeoutWhenNoBrokerAnswers) {
  ::ae::testing::TempDir dir;
  KafkaEventLogOptions o;
  o.brokers = "127.0.0.1:1";  // nothing listens there
  o.cache_path = dir.Sub("cache");
  o.append_timeout = seconds(1);
  EXPECT_THAT(KafkaEventLog::Open(o), StatusIs(StatusCode::kUnavailable, "log.unavailable"));
}

// An ostream buffer that one thread writes while another reads the text.
class SharedText : public std::streambuf {
 public:
  std::string str() const {
    std::lock_guard lock(mu_);
    return text_;
  }

 protected:
  int overflow(int c) override {
    if (c != traits_type::eof()) {
      std::lock_guard lock(mu_);
      text_.push_back(static_cast<char>(c));
    }
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    std::lock_guard lock(mu_);
    text_.append(s, static_cast<size_t>(n));
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::string text_;
};

TEST(DevKafka, PrintsItsBootstrapAddressAndServesAnEventLogUntilStopped) {
  ::ae::testing::TempDir dir;
  SharedText text;
  std::ostream out(&text);
  std::atomic<bool> stop{false};
  int rc = -1;
  std::thread dev([&] { rc = RunDevKafka(1, out, stop); });
  struct StopAndJoin {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~StopAndJoin() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
  } guard{stop, dev};

  std::string line;
  ASSERT_TRUE(WaitFor([&] {
    const std::string s = text.str();
    const size_t nl = s.find('\n');
    if (nl != std::string::npos) line = s.substr(0, nl);
    return nl != std::string::npos;
  }));
  const std::string prefix = "bootstrap: ";
  ASSERT_EQ(line.rfind(prefix, 0), 0u) << line;
  {
    KafkaEventLogOptions o;
    o.brokers = line.substr(prefix.size());
    o.cache_path = dir.Sub("cache");
    auto log = KafkaEventLog::Open(o);
    ASSERT_THAT(log, IsOk());
    EXPECT_EQ((*log)->partition_count(), 1);
    ASSERT_THAT(AppendOne(**log, "policy/dev", ExpectedVersion::NoStream(), "hello"), IsOk());
    EXPECT_EQ(Names(ReadAll(**log)), (std::vector<std::string>{"hello"}));
  }
  stop = true;
  dev.join();
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace ae::events
