// Analytics consumers as Kafka users expect them, on the run's real cluster: the Python
// example (examples/analytics/consume.py, Confluent's client from PyPI in the virtualenv
// that examples/analytics/setup makes) in one consumer group. Two copies split the event
// topic's partitions and together see every event exactly once; a copy started after they
// stopped resumes from the group's committed offsets and sees only what came since.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/e2e/kafka_e2e.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

extern char** environ;

namespace ae::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

// One copy of examples/analytics/consume.py; its JSON lines go to a file.
class AnalyticsConsumer {
 public:
  AnalyticsConsumer(const std::string& out, const std::string& bootstrap, const std::string& topic,
                    const std::string& group)
      : out_(out) {
    std::vector<std::string> args = {SourceDir() + "/examples/analytics/.venv/bin/python",
                                     SourceDir() + "/examples/analytics/consume.py",
                                     "--bootstrap", bootstrap, "--topic", topic, "--group", group};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, (out + ".err").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    EXPECT_GT(pid_, 0) << "cannot start " << args[0];
  }
  ~AnalyticsConsumer() { Stop(); }

  // SIGTERM: the consumer commits and leaves the group. Returns its exit code.
  int Stop() {
    if (pid_ <= 0) return exit_code_;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return exit_code_;
  }

  // Its latest assignment, and the positions ("p:o") of the events it printed.
  std::set<int> Assignment() const { return Parse().first; }
  std::vector<std::string> Events() const { return Parse().second; }
  std::string Errors() const { return ReadWholeFile(out_ + ".err"); }

 private:
  std::pair<std::set<int>, std::vector<std::string>> Parse() const {
    std::set<int> assigned;
    std::vector<std::string> events;
    std::istringstream in(ReadWholeFile(out_));
    for (std::string line; std::getline(in, line);) {
      auto j = json::parse(line, nullptr, false);
      if (!j.is_object()) continue;  // a line being written
      if (j.contains("assigned")) {
        assigned = j["assigned"].get<std::set<int>>();
      } else if (j.contains("offset")) {
        events.push_back(std::to_string(j["partition"].get<int>()) + ":" +
                         std::to_string(j["offset"].get<int64_t>()));
      }
    }
    return {assigned, events};
  }

  std::string out_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

std::set<std::string> Positions(const std::vector<TopicRecord>& records) {
  std::set<std::string> out;
  for (const auto& r : records) {
    out.insert(std::to_string(r.partition) + ":" + std::to_string(r.offset));
  }
  return out;
}

TEST(KafkaConsumerGroup, TwoConsumersSplitThePartitionsAndARestartResumesFromTheCommittedOffset) {
  std::string setup;
  ASSERT_EQ(RunShell(SourceDir() + "/examples/analytics/setup", &setup, 600), 0) << setup;
  TempDir dir;
  KafkaDeployment kafka(dir);
  EngineProcess engine(dir.Sub("data"), kafka.ServeArgs("writer"));
  ASSERT_THAT(engine.Start(60), IsOk());
  const std::string admin = engine.AdminToken();
  const std::string bootstrap = kafka.cluster().bootstrap();
  const std::string group = KafkaCluster::UniqueName("analytics");

  // Two copies of the consumer join the group and split the partitions between them.
  AnalyticsConsumer a(dir.Sub("a.jsonl"), bootstrap, kafka.topic(), group);
  AnalyticsConsumer b(dir.Sub("b.jsonl"), bootstrap, kafka.topic(), group);
  ASSERT_TRUE(WaitFor([&] {
    const auto pa = a.Assignment(), pb = b.Assignment();
    std::set<int> all(pa.begin(), pa.end());
    all.insert(pb.begin(), pb.end());
    return !pa.empty() && !pb.empty() && all.size() == pa.size() + pb.size() &&
           all == std::set<int>{0, 1, 2};
  }, seconds(90))) << a.Errors() << b.Errors();

  // What was there before the split (the administrator's events) went to whoever held the
  // partitions then; what comes now goes to the copy that holds its partition.
  const auto before_split = Positions(ReadTopic(bootstrap, kafka.topic()));
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(engine.Post("/v1/policies", json{{"name", "first-" + std::to_string(i)}}.dump(),
                          admin).status,
              201);
  }
  const auto first = Positions(ReadTopic(bootstrap, kafka.topic()));
  ASSERT_GE(first.size(), 31u);
  ASSERT_TRUE(WaitFor([&] { return a.Events().size() + b.Events().size() >= first.size(); },
                      seconds(60)))
      << a.Errors() << b.Errors();
  const auto ea = a.Events(), eb = b.Events();
  std::multiset<std::string> together(ea.begin(), ea.end());
  together.insert(eb.begin(), eb.end());
  EXPECT_EQ(together, std::multiset<std::string>(first.begin(), first.end()))
      << "together the two consumers saw every event exactly once";
  const auto pa = a.Assignment(), pb = b.Assignment();
  int split_a = 0, split_b = 0;
  for (const auto& e : ea) {
    if (before_split.count(e)) continue;
    EXPECT_TRUE(pa.count(std::stoi(e))) << "a read " << e;
    ++split_a;
  }
  for (const auto& e : eb) {
    if (before_split.count(e)) continue;
    EXPECT_TRUE(pb.count(std::stoi(e))) << "b read " << e;
    ++split_b;
  }
  EXPECT_GT(split_a, 0);
  EXPECT_GT(split_b, 0);
  EXPECT_EQ(a.Stop(), 0) << a.Errors();
  EXPECT_EQ(b.Stop(), 0) << b.Errors();

  // While the group has no consumer, more events; a restarted consumer resumes from the
  // group's committed offsets: it sees these and none of the first ones again.
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(engine.Post("/v1/policies", json{{"name", "later-" + std::to_string(i)}}.dump(),
                          admin).status,
              201);
  }
  std::set<std::string> later;
  for (const auto& p : Positions(ReadTopic(bootstrap, kafka.topic()))) {
    if (!first.count(p)) later.insert(p);
  }
  ASSERT_EQ(later.size(), 10u);
  AnalyticsConsumer c(dir.Sub("c.jsonl"), bootstrap, kafka.topic(), group);
  ASSERT_TRUE(WaitFor([&] { return c.Events().size() >= later.size(); }, seconds(90)))
      << c.Errors();
  const auto ec = c.Events();
  EXPECT_EQ(std::multiset<std::string>(ec.begin(), ec.end()),
            std::multiset<std::string>(later.begin(), later.end()));
  EXPECT_EQ(c.Stop(), 0) << c.Errors();
}

}  // namespace
}  // namespace ae::testing
