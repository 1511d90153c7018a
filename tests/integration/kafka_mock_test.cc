// The Kafka log against librdkafka's mock cluster, only for what a real broker cannot be
// made to do on demand: injected request errors, a leader that still answers NOT_LEADER, a
// produce acknowledgement and a commit answer that arrive after the client gave up. Also the
// mock behind `autoenroll dev-kafka`, and the options (no cluster). Everything a real broker
// can show (fencing, isolation, topic creation, broker and engine loss) is tested against a
// real cluster: tests/integration/kafka_event_log_test.cc and tests/e2e/kafka_*_test.cc.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <ostream>
#include <set>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

#include "events/kafka_dev_cluster.h"
#include "events/kafka_event_log.h"
#include "tests/integration/kafka_log_test_util.h"
#include "tests/support/kafka_log_harness.h"

namespace ae::events {
namespace {

using ::ae::testing::KafkaMockLogHarness;
using ::ae::testing::MakePolicyEvent;
using ::ae::testing::ReadTopic;
using ::ae::testing::WaitFor;
using std::chrono::milliseconds;
using std::chrono::seconds;
namespace api = ::ae::testing::kafka_api;

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
      if (std::string(md->topics[t].topic) != KafkaMockLogHarness::kTopic) continue;
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

TEST(KafkaMock, InjectedBrokerErrorsNeverDuplicateEvents) {
  KafkaMockLogHarness h;
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
  auto topic = ReadTopic(h.cluster().bootstraps(), KafkaMockLogHarness::kTopic);
  ASSERT_EQ(topic.size(), all.size());
  for (size_t i = 0; i < topic.size(); ++i) {
    EXPECT_EQ(topic[i].value, all[i].raw);
    EXPECT_EQ((LogPosition{topic[i].partition, topic[i].offset}), all[i].position);
  }
}

// The leader of every partition moves to another broker, twice, between and during
// appends (the writer learns it from NOT_LEADER answers and metadata): every append
// lands once, in order, and the chain and the topic agree.
TEST(KafkaMock, LeaderChangesNeverLoseOrDuplicateAnAppend) {
  KafkaMockLogHarness h;
  const std::string stream = "policy/leaders";
  std::vector<std::string> expected;
  StreamVersion version = 0;
  for (int round = 0; round < 6; ++round) {
    const int32_t leader = 1 + round % 3;
    for (int32_t p = 0; p < KafkaMockLogHarness::kPartitions; ++p) {
      ASSERT_EQ(rd_kafka_mock_partition_set_leader(h.mock(), KafkaMockLogHarness::kTopic, p, leader),
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
  EXPECT_EQ(TopicNames(ReadTopic(h.cluster().bootstraps(), KafkaMockLogHarness::kTopic)), expected);
}

TEST(KafkaMock, LostProduceAcknowledgementIsNotADuplicate) {
  KafkaMockLogHarness h;
  KafkaEventLogOptions o = h.Options();
  o.properties["socket.timeout.ms"] = "1000";  // the client gives up on a request after 1 s
  ASSERT_THAT(h.Reopen(o), IsOk());
  const std::string stream = "policy/ack";
  ASSERT_THAT(AppendOne(h.log(), stream, ExpectedVersion::NoStream(), "first"), IsOk());
  // The leader stores the next batch but answers after the client gave up on
  // it: the client sends the batch again and the broker must deduplicate it.
  const int32_t leader = LeaderOf(
      h.cluster().bootstraps(), KafkaEventLog::PartitionFor(stream, KafkaMockLogHarness::kPartitions));
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
  EXPECT_EQ(TopicNames(ReadTopic(h.cluster().bootstraps(), KafkaMockLogHarness::kTopic)),
            (std::vector<std::string>{"first", "second", "third"}));
}

TEST(KafkaMock, UnconfirmedCommitIsSettledBeforeTheNextAppend) {
  KafkaMockLogHarness h;
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
  EXPECT_EQ(TopicNames(ReadTopic(h.cluster().bootstraps(), KafkaMockLogHarness::kTopic)), (std::vector<std::string>{"a", "b"}));
}

TEST(KafkaEventLogOptions, OptionsTheLogDependsOnCannotBeOverridden) {
  KafkaEventLogOptions o;
  o.brokers = "127.0.0.1:1";
  o.cache_path = "/nonexistent";
  o.properties["isolation.level"] = "read_uncommitted";
  EXPECT_THAT(KafkaEventLog::Open(o), StatusIs(StatusCode::kInvalidArgument, "log.invalid_option"));
  o.properties.clear();
  o.topic = "bad topic";
  EXPECT_THAT(o.Validate(), StatusIs(StatusCode::kInvalidArgument, "log.invalid_option"));
}

TEST(KafkaEventLogOptions, OpenFailsWithinItsTimeoutWhenNoBrokerAnswers) {
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

TEST(DevKafkaMock, PrintsItsBootstrapAddressAndServesAnEventLogUntilStopped) {
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
