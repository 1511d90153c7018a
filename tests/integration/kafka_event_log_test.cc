// The Kafka log against a real Apache Kafka cluster (scripts/kafka: 3 KRaft nodes on
// loopback): what librdkafka's mock never did. A second writer really fences the first;
// records of aborted and unfinished transactions stay invisible to the log and to kcat with
// read_committed; the writer creates its topics as configured and refuses topics that would
// break its guarantees; replicas follow; the mirror is rebuilt from the topic.

#include "events/kafka_event_log.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "events/kafka_key_store.h"
#include "tests/integration/kafka_log_test_util.h"
#include "tests/support/kafka_log_harness.h"

namespace ae::events {
namespace {

using ::ae::testing::KafkaCluster;
using ::ae::testing::KafkaLogHarness;
using ::ae::testing::MakePolicyEvent;
using ::ae::testing::ReadTopic;
using ::ae::testing::RunShell;
using ::ae::testing::WaitFor;
using std::chrono::seconds;

// A transactional producer that is not the engine: it writes records of its own into a
// topic, so a test can leave a transaction aborted or open.
class RawTransactionalProducer {
 public:
  RawTransactionalProducer(const std::string& bootstrap, const std::string& transactional_id) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "transactional.id", transactional_id.c_str(), errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    EXPECT_NE(rk_, nullptr) << errstr;
    if (!rk_) {
      rd_kafka_conf_destroy(conf);
      return;
    }
    Check(rd_kafka_init_transactions(rk_, 60000), "init_transactions");
  }
  ~RawTransactionalProducer() {
    if (rk_) rd_kafka_destroy(rk_);
  }
  void Begin() { Check(rd_kafka_begin_transaction(rk_), "begin"); }
  // Produces an Envelope of stream `stream` (version `version`) to `partition` and waits until
  // the partition leader has it.
  void Produce(const std::string& topic, int32_t partition, const std::string& stream,
               uint64_t version, const std::string& name) {
    Envelope env = MakePolicyEvent(name);
    env.set_stream(stream);
    env.set_stream_version(version);
    const std::string raw = env.SerializeAsString();
    EXPECT_EQ(rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic.c_str()),
                                RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_KEY(stream.data(), stream.size()),
                                RD_KAFKA_V_VALUE(const_cast<char*>(raw.data()), raw.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_EQ(rd_kafka_flush(rk_, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void Commit() { Check(rd_kafka_commit_transaction(rk_, 30000), "commit"); }
  void Abort() { Check(rd_kafka_abort_transaction(rk_, 30000), "abort"); }

 private:
  static void Check(rd_kafka_error_t* e, const char* what) {
    if (!e) return;
    ADD_FAILURE() << what << ": " << rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
  }
  rd_kafka_t* rk_ = nullptr;
};

// The keys of the records kcat reads from the whole topic with `isolation`.
std::multiset<std::string> KcatKeys(const std::string& bootstrap, const std::string& topic,
                                    const std::string& isolation) {
  std::string out;
  const int rc = RunShell("kcat -C -q -b '" + bootstrap + "' -t '" + topic +
                              "' -X isolation.level=" + isolation +
                              " -o beginning -e -f '%k\\n'",
                          &out, 60);
  EXPECT_EQ(rc, 0) << out;
  std::multiset<std::string> keys;
  size_t at = 0;
  while (at < out.size()) {
    size_t nl = out.find('\n', at);
    if (nl == std::string::npos) nl = out.size();
    if (nl > at) keys.insert(out.substr(at, nl - at));
    at = nl + 1;
  }
  return keys;
}

TEST(KafkaEventLog, ASecondWriterFencesTheFirstAndNothingUnacknowledgedIsVisible) {
  KafkaLogHarness h;
  KafkaEventLog& first = h.kafka();
  ASSERT_THAT(AppendOne(first, "policy/a", ExpectedVersion::NoStream(), "before"), IsOk());

  // The first writer keeps appending while the second one starts with the same
  // transactional.id: the brokers bump the producer epoch and fence the first.
  std::mutex mu;
  std::vector<std::string> acknowledged = {"before"};
  std::vector<Status> refusals;
  std::atomic<bool> stop{false};
  std::atomic<int> attempts{0};
  std::thread zombie([&] {
    for (int i = 0; !stop.load(); ++i) {
      const std::string name = "first-" + std::to_string(i);
      ++attempts;
      auto r = AppendOne(first, "policy/first-" + std::to_string(i % 5), ExpectedVersion::Any(),
                         name);
      std::lock_guard lock(mu);
      if (r.ok()) {
        acknowledged.push_back(name);
      } else {
        refusals.push_back(r.status());
        if (r.status().reason() == "log.fenced") return;
      }
    }
  });
  ASSERT_TRUE(WaitFor([&] { return attempts.load() >= 5; }, seconds(60)));
  auto second = h.OpenAnother(h.Options("second"));
  ASSERT_THAT(second, IsOk());
  const bool fenced = WaitFor(
      [&] {
        std::lock_guard lock(mu);
        return !refusals.empty() && refusals.back().reason() == "log.fenced";
      },
      seconds(60));
  stop = true;
  zombie.join();
  ASSERT_TRUE(fenced) << "the first writer was never refused with log.fenced";
  EXPECT_THAT(first.Health(), StatusIs(StatusCode::kUnavailable, "log.fenced"));
  EXPECT_THAT(AppendOne(first, "policy/zombie", ExpectedVersion::Any(), "zombie"),
              StatusIs(StatusCode::kUnavailable, "log.fenced"));
  EXPECT_NE(refusals.back().message().find("fenced"), std::string::npos)
      << refusals.back().ToString();

  // The new writer carries on; it sees exactly what the first had acknowledged.
  ASSERT_THAT((*second)->WaitUntilCaughtUp(seconds(30)), IsOk());
  ASSERT_THAT(AppendOne(**second, "policy/a", ExpectedVersion::Exactly(1), "after"), IsOk());
  std::multiset<std::string> expected(acknowledged.begin(), acknowledged.end());
  expected.insert("after");
  auto names = Names(ReadAll(**second));
  EXPECT_EQ(std::multiset<std::string>(names.begin(), names.end()), expected);
  auto topic = TopicNames(ReadTopic(h.cluster().bootstrap(), h.topic()));
  EXPECT_EQ(std::multiset<std::string>(topic.begin(), topic.end()), expected)
      << "an append the fenced writer was refused, or one it had not committed, is in the topic";
  EXPECT_TRUE(WaitFor([&] { return *first.GetStreamVersion(StreamId("policy/a")) == 2; }))
      << "a fenced writer keeps serving reads";
  ExpectChainVerifies(**second, expected.size());
}

TEST(KafkaEventLog, WriterStopsOnceAnotherWriterAppended) {
  KafkaLogHarness h;
  KafkaEventLog& first = h.kafka();
  ASSERT_THAT(AppendOne(first, "policy/a", ExpectedVersion::NoStream(), "a1"), IsOk());
  auto second = h.OpenAnother(h.Options("second"));
  ASSERT_THAT(second, IsOk());
  ASSERT_THAT(AppendOne(**second, "policy/b", ExpectedVersion::NoStream(), "b1"), IsOk());
  ASSERT_TRUE(WaitFor([&] { return *first.GetStreamVersion(StreamId("policy/b")) == 1; }));

  EXPECT_THAT(AppendOne(first, "policy/c", ExpectedVersion::NoStream(), "zombie"),
              StatusIs(StatusCode::kUnavailable, "log.fenced"));
  EXPECT_THAT(first.Health(), StatusIs(StatusCode::kUnavailable, "log.fenced"));
  ASSERT_THAT(AppendOne(**second, "policy/c", ExpectedVersion::NoStream(), "c1"), IsOk());
  auto names = TopicNames(ReadTopic(h.cluster().bootstrap(), h.topic()));
  EXPECT_EQ(std::multiset<std::string>(names.begin(), names.end()),
            (std::multiset<std::string>{"a1", "b1", "c1"}));
}

// Records of an aborted transaction, and of one still open, are in the topic (a
// read_uncommitted reader sees them) but never reach the log's readers, a fresh replica, or
// kcat with isolation.level=read_committed.
TEST(KafkaEventLog, AbortedAndOpenTransactionsAreNeverRead) {
  KafkaLogHarness h;
  const std::string bootstrap = h.cluster().bootstrap();
  ASSERT_THAT(AppendOne(h.log(), "policy/real", ExpectedVersion::NoStream(), "real-1"), IsOk());
  const int32_t ghost_partition =
      KafkaEventLog::PartitionFor("policy/ghost", KafkaLogHarness::kPartitions);
  const int32_t open_partition =
      KafkaEventLog::PartitionFor("policy/open", KafkaLogHarness::kPartitions);

  RawTransactionalProducer aborted(bootstrap, KafkaCluster::UniqueName("ae-aborter"));
  aborted.Begin();
  aborted.Produce(h.topic(), ghost_partition, "policy/ghost", 1, "ghost-1");
  aborted.Produce(h.topic(), ghost_partition, "policy/ghost", 2, "ghost-2");
  aborted.Abort();
  RawTransactionalProducer open(bootstrap, KafkaCluster::UniqueName("ae-open"));
  open.Begin();
  open.Produce(h.topic(), open_partition, "policy/open", 1, "open-1");

  // They are in the topic.
  auto uncommitted = KcatKeys(bootstrap, h.topic(), "read_uncommitted");
  EXPECT_EQ(uncommitted.count("policy/ghost"), 2u);
  EXPECT_EQ(uncommitted.count("policy/open"), 1u);
  // A read_committed reader never sees them.
  auto committed = KcatKeys(bootstrap, h.topic(), "read_committed");
  EXPECT_EQ(committed.count("policy/ghost"), 0u);
  EXPECT_EQ(committed.count("policy/open"), 0u);
  EXPECT_EQ(committed.count("policy/real"), 1u);

  // The writer goes on appending to partitions the open transaction does not hold back.
  std::string other;
  for (int i = 0; other.empty(); ++i) {
    const std::string s = "policy/real-" + std::to_string(i);
    if (KafkaEventLog::PartitionFor(s, KafkaLogHarness::kPartitions) != open_partition) other = s;
  }
  ASSERT_THAT(AppendOne(h.log(), other, ExpectedVersion::NoStream(), "real-2"), IsOk());
  // Neither the writer nor a fresh replica sees the aborted or open records: the ghost
  // stream does not exist for them, so it can be started afresh.
  KafkaEventLogOptions ro = h.Options("replica");
  ro.writer = false;
  auto replica = h.OpenAnother(ro);
  ASSERT_THAT(replica, IsOk());
  EXPECT_THAT((*replica)->WaitUntilCaughtUp(seconds(30)), IsOk());
  for (EventLog* log : {&h.log(), static_cast<EventLog*>(replica->get())}) {
    EXPECT_EQ(*log->GetStreamVersion(StreamId("policy/ghost")), 0u);
    EXPECT_EQ(*log->GetStreamVersion(StreamId("policy/open")), 0u);
  }
  auto names = Names(ReadAll(**replica));
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()),
            (std::set<std::string>{"real-1", "real-2"}));

  // Once the open transaction is aborted, its partition moves on, and still shows nothing.
  open.Abort();
  ASSERT_THAT(AppendOne(h.log(), "policy/open", ExpectedVersion::NoStream(), "real-open"),
              IsOk());
  ASSERT_THAT(AppendOne(h.log(), "policy/ghost", ExpectedVersion::NoStream(), "real-ghost"),
              IsOk());
  committed = KcatKeys(bootstrap, h.topic(), "read_committed");
  EXPECT_EQ(committed.count("policy/ghost"), 1u);
  EXPECT_EQ(committed.count("policy/open"), 1u);
  ASSERT_TRUE(WaitFor([&] { return ReadAll(**replica).size() == 4; }, seconds(30)));
  names = Names(ReadAll(**replica));
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()),
            (std::set<std::string>{"real-1", "real-2", "real-open", "real-ghost"}));
  ExpectChainVerifies(h.log(), 4);
  EXPECT_THAT(h.log().Health(), IsOk());
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
  ASSERT_THAT((*replica)->WaitUntilCaughtUp(seconds(30)), IsOk());
  auto mine = ReadAll(h.log());
  auto theirs = ReadAll(**replica);
  ASSERT_EQ(theirs.size(), mine.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    EXPECT_EQ(theirs[i].position, mine[i].position);
    EXPECT_EQ(theirs[i].raw, mine[i].raw);
  }
  ASSERT_THAT(AppendOne(h.log(), "policy/r1", ExpectedVersion::Exactly(1), "later"), IsOk());
  EXPECT_TRUE(WaitFor([&] { return *(*replica)->GetStreamVersion(StreamId("policy/r1")) == 2; }));
  EXPECT_THAT(AppendOne(**replica, "policy/r9", ExpectedVersion::Any(), "from-replica"),
              StatusIs(StatusCode::kUnavailable, "log.read_only"));
  EXPECT_THAT((*replica)->Health(), IsOk());
  EXPECT_EQ(ReadTopic(h.cluster().bootstrap(), h.topic()).size(), 4u);
}

TEST(KafkaEventLog, TheWriterCreatesItsTopicsAsConfigured) {
  KafkaLogHarness h;  // its writer created the topic: 3 partitions, replication 3, min ISR 2
  auto layout = h.cluster().Describe(h.topic());
  ASSERT_THAT(layout, IsOk());
  ASSERT_EQ(layout->size(), 3u);
  for (const auto& [p, l] : *layout) {
    EXPECT_EQ(l.replicas.size(), 3u) << "partition " << p;
    EXPECT_EQ(l.isr.size(), 3u) << "partition " << p;
  }
  auto config = h.cluster().TopicConfig(h.topic());
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ((*config)["min.insync.replicas"], "2");
  EXPECT_EQ((*config)["cleanup.policy"], "delete");
  EXPECT_EQ((*config)["retention.ms"], "-1");
  EXPECT_EQ((*config)["retention.bytes"], "-1");
  EXPECT_EQ((*config)["unclean.leader.election.enable"], "false");

  // The person-key topic: compacted, replicated the same way.
  KafkaKeyBackendOptions ko;
  ko.brokers = h.cluster().bootstrap();
  ko.topic = h.topic() + ".keys";
  ko.sealing_key = std::string(32, 'k');
  auto keys = KafkaKeyBackend::Open(ko);
  ASSERT_THAT(keys, IsOk());
  ASSERT_THAT((*keys)->Put("subject-1", "secret key"), IsOk());
  auto key_layout = h.cluster().Describe(ko.topic);
  ASSERT_THAT(key_layout, IsOk());
  ASSERT_EQ(key_layout->size(), 1u);
  EXPECT_EQ(key_layout->begin()->second.replicas.size(), 3u);
  auto key_config = h.cluster().TopicConfig(ko.topic);
  ASSERT_THAT(key_config, IsOk());
  EXPECT_EQ((*key_config)["cleanup.policy"], "compact");
  EXPECT_EQ((*key_config)["min.insync.replicas"], "2");
  keys->reset();
  EXPECT_THAT(h.cluster().DeleteTopic(ko.topic), IsOk());
}

// The person-key writer's idempotent producer can meet an error it cannot leave (a sequence
// gap after a lost leader): the store replaces it, so keys can be written again and none is
// lost; a reader sees every key written before and after.
TEST(KafkaKeyBackend, AProducerThatFailedFatallyIsReplacedAndNoKeyIsLost) {
  KafkaCluster& cluster = KafkaCluster::Shared();
  KafkaKeyBackendOptions ko;
  ko.brokers = cluster.bootstrap();
  ko.topic = KafkaCluster::UniqueName("ae-keys-fatal");
  ko.sealing_key = std::string(32, 'k');
  auto keys = KafkaKeyBackend::Open(ko);
  ASSERT_THAT(keys, IsOk());
  ASSERT_THAT((*keys)->Put("subject-1", "key one"), IsOk());
  ASSERT_THAT((*keys)->FailProducerForTest(), IsOk());
  ASSERT_THAT((*keys)->Put("subject-2", "key two"), IsOk());
  ASSERT_THAT((*keys)->PutMany({{"subject-3", "key three"}, {"subject-4", "key four"}}), IsOk());

  KafkaKeyBackendOptions ro = ko;
  ro.writer = false;
  auto reader = KafkaKeyBackend::Open(ro);
  ASSERT_THAT(reader, IsOk());
  const std::map<std::string, std::string> want = {{"subject-1", "key one"},
                                                   {"subject-2", "key two"},
                                                   {"subject-3", "key three"},
                                                   {"subject-4", "key four"}};
  for (const auto& [subject, key] : want) {
    auto got = (*reader)->Get(subject);
    ASSERT_THAT(got, IsOk()) << subject;
    EXPECT_EQ(got->value_or("(missing)"), key) << subject;
  }
  reader->reset();
  keys->reset();
  EXPECT_THAT(cluster.DeleteTopic(ko.topic), IsOk());
}

// A topic made beforehand with settings that would break the log's guarantees: the writer
// (and for what it reads, a replica) refuses to open it, and the message names the setting.
TEST(KafkaEventLog, RefusesTopicsThatWouldBreakItsGuarantees) {
  ::ae::testing::TempDir dir;
  KafkaCluster& cluster = KafkaCluster::Shared();
  struct Case {
    const char* name;
    int partitions;
    int replication;
    std::map<std::string, std::string> configs;
    const char* setting;  // what the message must name
    bool replica_refuses;
  };
  const std::vector<Case> cases = {
      {"compacted", 3, 3, {{"cleanup.policy", "compact"}}, "cleanup.policy=compact", true},
      {"retention", 3, 3, {{"retention.ms", "604800000"}}, "retention.ms=604800000", true},
      {"too-few-partitions", 1, 3, {{"retention.ms", "-1"}}, "partition", false},
      {"low-min-isr", 3, 3, {{"retention.ms", "-1"}, {"min.insync.replicas", "1"}},
       "min.insync.replicas=1", false},
      {"one-replica", 3, 1, {{"retention.ms", "-1"}, {"min.insync.replicas", "1"}},
       "replication factor 1", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string topic = KafkaCluster::UniqueName(std::string("ae-bad-") + c.name);
    ASSERT_THAT(cluster.CreateTopic(topic, c.partitions, c.replication, c.configs), IsOk());
    KafkaEventLogOptions o;
    o.brokers = cluster.bootstrap();
    o.topic = topic;
    o.partitions = 3;
    o.transactional_id = KafkaCluster::UniqueName("ae-writer");
    o.cache_path = dir.Sub(topic);
    o.append_timeout = seconds(30);
    auto writer = KafkaEventLog::Open(o);
    EXPECT_THAT(writer, StatusIs(StatusCode::kFailedPrecondition, "log.topic_invalid"));
    if (!writer.ok()) {
      EXPECT_NE(writer.status().message().find(c.setting), std::string::npos)
          << writer.status().ToString();
      EXPECT_NE(writer.status().message().find(topic), std::string::npos);
    }
    o.writer = false;
    o.cache_path = dir.Sub(topic + "-replica");
    auto replica = KafkaEventLog::Open(o);
    if (c.replica_refuses) {
      EXPECT_THAT(replica, StatusIs(StatusCode::kFailedPrecondition, "log.topic_invalid"));
    } else {
      EXPECT_THAT(replica, IsOk()) << "a replica writes nothing: only what it reads matters";
    }
    EXPECT_TRUE(ReadTopic(cluster.bootstrap(), topic).empty()) << "a refusal wrote nothing";
    if (replica.ok()) replica->reset();  // a reader is closed before its topic is deleted
    EXPECT_THAT(cluster.DeleteTopic(topic), IsOk());
  }
  // A person-key topic that is not compacted would lose keys with its retention.
  const std::string keys = KafkaCluster::UniqueName("ae-bad-keys");
  ASSERT_THAT(cluster.CreateTopic(keys, 1, 3, {{"cleanup.policy", "delete"}}), IsOk());
  KafkaKeyBackendOptions ko;
  ko.brokers = cluster.bootstrap();
  ko.topic = keys;
  ko.sealing_key = std::string(32, 'k');
  auto backend = KafkaKeyBackend::Open(ko);
  EXPECT_THAT(backend, StatusIs(StatusCode::kFailedPrecondition, "log.topic_invalid"));
  if (!backend.ok()) {
    EXPECT_NE(backend.status().message().find("cleanup.policy=delete"), std::string::npos);
  }
  EXPECT_THAT(cluster.DeleteTopic(keys), IsOk());
}

// Another program writing to the topic a stream version that is already there:
// a mirror built from the topic stops at it with log.corruption naming the stream and the
// version, and keeps what came before.
TEST(KafkaEventLog, AForeignRecordRepeatingAStreamVersionStopsTheMirror) {
  KafkaLogHarness h;
  for (int i = 0; i < 6; ++i) {
    ASSERT_THAT(AppendOne(h.log(), "policy/p" + std::to_string(i), ExpectedVersion::NoStream(),
                          "p" + std::to_string(i)),
                IsOk());
  }
  h.Close();
  auto records = ReadTopic(h.cluster().bootstrap(), h.topic());
  ASSERT_EQ(records.size(), 6u);
  Envelope first;
  ASSERT_TRUE(first.ParseFromString(records.front().value));
  {
    RawTransactionalProducer other(h.cluster().bootstrap(), KafkaCluster::UniqueName("other"));
    other.Begin();
    other.Produce(h.topic(), records.front().partition, first.stream(), 1, "again");
    other.Commit();
  }
  std::filesystem::remove_all(h.CachePath());
  KafkaEventLogOptions o = h.Options();
  o.writer = false;  // a replica: it only reads
  ASSERT_THAT(h.Reopen(o), IsOk());
  Status caught_up = h.kafka().WaitUntilCaughtUp(seconds(30));
  EXPECT_THAT(caught_up, StatusIs(StatusCode::kCorruption, "log.corruption"));
  EXPECT_NE(caught_up.message().find("repeats version 1 of stream " + first.stream()),
            std::string::npos)
      << caught_up.ToString();
  // The records of the copy's partition before it were mirrored (the other partitions may
  // not have been read yet when the mirror stopped).
  int64_t last_before = -1;
  for (const auto& r : records) {
    if (r.partition == records.front().partition) last_before = std::max(last_before, r.offset);
  }
  auto head = h.log().Head();
  ASSERT_THAT(head, IsOk());
  EXPECT_GT(head->Next(records.front().partition), last_before)
      << "the records before the copy stay mirrored";
}

// Partitions added to a topic after events were written move streams to other partitions:
// the writer configured for the old count refuses the topic, and with the new count its
// mirror finds the records out of place and stops (nothing is appended).
TEST(KafkaEventLog, RefusesATopicWhosePartitionCountChanged) {
  KafkaLogHarness h;
  for (int i = 0; i < 12; ++i) {
    ASSERT_THAT(AppendOne(h.log(), "policy/p" + std::to_string(i), ExpectedVersion::NoStream(),
                          "p" + std::to_string(i)),
                IsOk());
  }
  h.Close();
  ASSERT_THAT(h.cluster().AddPartitions(h.topic(), 6), IsOk());
  EXPECT_THAT(h.Reopen(), StatusIs(StatusCode::kFailedPrecondition, "log.topic_invalid"));
  std::filesystem::remove_all(h.CachePath());
  KafkaEventLogOptions o = h.Options();
  o.partitions = 6;
  ASSERT_THAT(h.Reopen(o), IsOk());
  EXPECT_THAT(h.kafka().WaitUntilCaughtUp(seconds(30)),
              StatusIs(StatusCode::kCorruption, "log.corruption"));
  EXPECT_THAT(AppendOne(h.log(), "policy/new", ExpectedVersion::NoStream(), "new"),
              StatusIs(StatusCode::kCorruption, "log.corruption"));
  EXPECT_EQ(ReadTopic(h.cluster().bootstrap(), h.topic()).size(), 12u);
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

  auto topic = ReadTopic(h.cluster().bootstrap(), h.topic());
  ASSERT_EQ(topic.size(), 10u);
  for (const auto& r : topic) {
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
  ASSERT_THAT(h.kafka().WaitUntilCaughtUp(seconds(30)), IsOk());

  const auto after = ReadAll(h.log());
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].position, before[i].position);
    EXPECT_EQ(after[i].raw, before[i].raw);
  }
  EXPECT_EQ(*h.log().GetStreamVersion(StreamId("policy/m0")), 3u);
  ASSERT_THAT(AppendOne(h.log(), "policy/m0", ExpectedVersion::Exactly(3), "m12"), IsOk());
  ExpectChainVerifies(h.log(), 13);
}

}  // namespace
}  // namespace ae::events
