#include "tests/support/kafka_cluster.h"

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>

#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using std::chrono::seconds;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// A librdkafka handle for admin and metadata requests, destroyed with its owner.
class Handle {
 public:
  Handle(const std::string& bootstrap, rd_kafka_type_t type,
         const std::map<std::string, std::string>& extra = {}) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    std::map<std::string, std::string> props = {{"bootstrap.servers", bootstrap},
                                                {"log_level", "2"}};
    for (const auto& [k, v] : extra) props[k] = v;
    for (const auto& [k, v] : props) {
      if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) !=
          RD_KAFKA_CONF_OK) {
        error_ = errstr;
      }
    }
    rk_ = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk_) {
      rd_kafka_conf_destroy(conf);
      error_ = errstr;
    }
  }
  ~Handle() {
    if (rk_) rd_kafka_destroy_flags(rk_, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  }
  rd_kafka_t* get() const { return rk_; }
  Status status() const {
    return rk_ ? Status::Ok() : Internal("test.kafka", "cannot create a client: " + error_);
  }

 private:
  rd_kafka_t* rk_ = nullptr;
  std::string error_;
};

// One admin request; returns its result event (null on timeout).
template <typename Issue>
rd_kafka_event_t* Admin(rd_kafka_t* rk, rd_kafka_admin_op_t op, Issue issue) {
  rd_kafka_AdminOptions_t* o = rd_kafka_AdminOptions_new(rk, op);
  char errstr[512];
  rd_kafka_AdminOptions_set_operation_timeout(o, 30000, errstr, sizeof errstr);
  rd_kafka_AdminOptions_set_request_timeout(o, 30000, errstr, sizeof errstr);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  issue(o, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 35000);
  rd_kafka_queue_destroy(q);
  rd_kafka_AdminOptions_destroy(o);
  return ev;
}

Status TopicResult(rd_kafka_event_t* ev, const rd_kafka_topic_result_t** results, size_t n,
                   const std::string& what) {
  if (!ev) return Unavailable("test.kafka", what + ": no answer");
  Status s;
  if (rd_kafka_event_error(ev)) {
    s = Unavailable("test.kafka", what + ": " + rd_kafka_event_error_string(ev));
  } else if (n != 1 || rd_kafka_topic_result_error(results[0])) {
    s = Unavailable("test.kafka", what + ": " +
                                      (n == 1 ? rd_kafka_topic_result_error_string(results[0])
                                              : "no result"));
  }
  rd_kafka_event_destroy(ev);
  return s;
}

}  // namespace

KafkaCluster& KafkaCluster::Shared() {
  static std::mutex mu;
  static std::unique_ptr<KafkaCluster> shared;
  std::lock_guard lock(mu);
  if (shared) return *shared;
  std::string bootstrap = Env("AE_KAFKA_BOOTSTRAP");
  std::string dir = Env("AE_KAFKA_DIR");
  if (bootstrap.empty() && dir.empty() && !Env("AE_BINARY").empty()) {
    // ctest's fixture cluster: <build>/kafka-cluster, beside <build>/api/autoenroll.
    dir = (std::filesystem::path(Env("AE_BINARY")).parent_path().parent_path() / "kafka-cluster")
              .string();
  }
  std::string problem;
  if (bootstrap.empty() && !dir.empty()) {
    std::string status;
    const int rc = RunShell(Quote(SourceDir() + "/scripts/kafka") + " status --dir " + Quote(dir),
                            &status, 60);
    if (rc != 0) {
      problem = "the cluster in " + dir + " is not running (scripts/kafka status: " +
                (status.empty() ? std::string("no cluster") : status) + ")";
    } else {
      std::ifstream in(dir + "/bootstrap");
      std::getline(in, bootstrap);
    }
  }
  if (bootstrap.empty()) {
    throw std::runtime_error(
        "no Apache Kafka cluster for this test" + (problem.empty() ? "" : ": " + problem) +
        ". Run it through ctest (its fixture kafka.cluster.start starts one with scripts/kafka) "
        "or scripts/test, or start one yourself: `scripts/kafka start --brokers 3 --dir DIR`, "
        "then set AE_KAFKA_DIR=DIR (or AE_KAFKA_BOOTSTRAP=HOST:PORT,...)");
  }
  shared.reset(new KafkaCluster(bootstrap, dir));
  return *shared;
}

std::string KafkaCluster::UniqueName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", rd());
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + "-" +
         suffix;
}

Status KafkaCluster::CreateTopic(const std::string& name, int partitions, int replication_factor,
                                 const std::map<std::string, std::string>& configs) {
  Handle h(bootstrap_, RD_KAFKA_PRODUCER);
  AE_RETURN_IF_ERROR(h.status());
  char errstr[512];
  rd_kafka_NewTopic_t* t =
      rd_kafka_NewTopic_new(name.c_str(), partitions, replication_factor, errstr, sizeof errstr);
  if (!t) return InvalidArgument("test.kafka", errstr);
  for (const auto& [k, v] : configs) rd_kafka_NewTopic_set_config(t, k.c_str(), v.c_str());
  rd_kafka_event_t* ev = Admin(h.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS, [&](auto* o, auto* q) {
    rd_kafka_CreateTopics(h.get(), &t, 1, o, q);
  });
  rd_kafka_NewTopic_destroy(t);
  size_t n = 0;
  const rd_kafka_topic_result_t** r =
      ev ? rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n)
         : nullptr;
  AE_RETURN_IF_ERROR(TopicResult(ev, r, n, "CreateTopics " + name));
  // Visible to everyone once every partition has a leader.
  if (!WaitFor([&] {
        auto d = Describe(name);
        if (!d.ok() || d->size() != static_cast<size_t>(partitions)) return false;
        for (const auto& [p, l] : *d) {
          if (l.leader < 0) return false;
        }
        return true;
      }, seconds(30))) {
    return Unavailable("test.kafka", "topic " + name + " has no leaders after 30 s");
  }
  return Status::Ok();
}

Status KafkaCluster::DeleteTopic(const std::string& name) {
  Handle h(bootstrap_, RD_KAFKA_PRODUCER);
  AE_RETURN_IF_ERROR(h.status());
  rd_kafka_DeleteTopic_t* t = rd_kafka_DeleteTopic_new(name.c_str());
  rd_kafka_event_t* ev = Admin(h.get(), RD_KAFKA_ADMIN_OP_DELETETOPICS, [&](auto* o, auto* q) {
    rd_kafka_DeleteTopics(h.get(), &t, 1, o, q);
  });
  rd_kafka_DeleteTopic_destroy(t);
  size_t n = 0;
  const rd_kafka_topic_result_t** r =
      ev ? rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n)
         : nullptr;
  return TopicResult(ev, r, n, "DeleteTopics " + name);
}

Status KafkaCluster::AddPartitions(const std::string& name, int total) {
  Handle h(bootstrap_, RD_KAFKA_PRODUCER);
  AE_RETURN_IF_ERROR(h.status());
  char errstr[512];
  rd_kafka_NewPartitions_t* np =
      rd_kafka_NewPartitions_new(name.c_str(), static_cast<size_t>(total), errstr, sizeof errstr);
  if (!np) return InvalidArgument("test.kafka", errstr);
  rd_kafka_event_t* ev =
      Admin(h.get(), RD_KAFKA_ADMIN_OP_CREATEPARTITIONS,
            [&](auto* o, auto* q) { rd_kafka_CreatePartitions(h.get(), &np, 1, o, q); });
  rd_kafka_NewPartitions_destroy(np);
  size_t n = 0;
  const rd_kafka_topic_result_t** r =
      ev ? rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &n)
         : nullptr;
  AE_RETURN_IF_ERROR(TopicResult(ev, r, n, "CreatePartitions " + name));
  if (!WaitFor([&] {
        auto d = Describe(name);
        return d.ok() && d->size() == static_cast<size_t>(total);
      }, seconds(30))) {
    return Unavailable("test.kafka", "topic " + name + " did not grow to " +
                                         std::to_string(total) + " partitions");
  }
  return Status::Ok();
}

Result<std::map<int32_t, PartitionLayout>> KafkaCluster::Describe(const std::string& topic) {
  return DescribeTopic(bootstrap_, topic);
}

Result<std::map<int32_t, PartitionLayout>> DescribeTopic(const std::string& bootstrap,
                                                         const std::string& topic) {
  Handle h(bootstrap, RD_KAFKA_PRODUCER);
  AE_RETURN_IF_ERROR(h.status());
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(h.get(), topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(h.get(), 0, rkt, &md, 10000);
  rd_kafka_topic_destroy(rkt);
  if (err) return Unavailable("test.kafka", std::string("metadata: ") + rd_kafka_err2str(err));
  std::map<int32_t, PartitionLayout> out;
  bool found = false;
  for (int t = 0; t < md->topic_cnt; ++t) {
    if (topic != md->topics[t].topic || md->topics[t].err) continue;
    found = true;
    for (int p = 0; p < md->topics[t].partition_cnt; ++p) {
      const rd_kafka_metadata_partition_t& mp = md->topics[t].partitions[p];
      PartitionLayout& l = out[mp.id];
      l.leader = mp.leader;
      l.replicas.assign(mp.replicas, mp.replicas + mp.replica_cnt);
      l.isr.assign(mp.isrs, mp.isrs + mp.isr_cnt);
    }
  }
  rd_kafka_metadata_destroy(md);
  if (!found) return NotFound("test.kafka", "no topic " + topic);
  return out;
}

Result<std::map<std::string, std::string>> KafkaCluster::TopicConfig(const std::string& topic) {
  Handle h(bootstrap_, RD_KAFKA_PRODUCER);
  AE_RETURN_IF_ERROR(h.status());
  rd_kafka_ConfigResource_t* res =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_event_t* ev = Admin(h.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, [&](auto* o, auto* q) {
    rd_kafka_DescribeConfigs(h.get(), &res, 1, o, q);
  });
  rd_kafka_ConfigResource_destroy(res);
  if (!ev) return Unavailable("test.kafka", "DescribeConfigs: no answer");
  std::map<std::string, std::string> out;
  size_t n = 0;
  const rd_kafka_ConfigResource_t** rs =
      rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
  Status s;
  if (rd_kafka_event_error(ev) || n != 1 || rd_kafka_ConfigResource_error(rs[0])) {
    s = Unavailable("test.kafka", "DescribeConfigs of " + topic + " failed");
  } else {
    size_t m = 0;
    const rd_kafka_ConfigEntry_t** e = rd_kafka_ConfigResource_configs(rs[0], &m);
    for (size_t i = 0; i < m; ++i) {
      const char* v = rd_kafka_ConfigEntry_value(e[i]);
      out[rd_kafka_ConfigEntry_name(e[i])] = v ? v : "";
    }
  }
  rd_kafka_event_destroy(ev);
  if (!s.ok()) return s;
  return out;
}

Status KafkaCluster::Script(const std::string& args, std::string* out) const {
  if (dir_.empty()) {
    return FailedPrecondition("test.kafka",
                              "this test controls the cluster's nodes: set AE_KAFKA_DIR to the "
                              "directory of `scripts/kafka start --brokers 3 --dir DIR`");
  }
  std::string text;
  const int rc = RunShell(Quote(SourceDir() + "/scripts/kafka") + " " + args + " --dir " +
                              Quote(dir_) + (out ? "" : " 2>&1"),  // a failure says why
                          &text, 240);
  if (out) *out = text;
  if (rc != 0) {
    return Unavailable("test.kafka", "scripts/kafka " + args + " failed (" +
                                         std::to_string(rc) + "): " + text);
  }
  return Status::Ok();
}

Result<std::set<int32_t>> KafkaCluster::RunningNodes() {
  std::string text;
  Status s = Script("status", &text);  // exits 1 when a node is down: the lines still count
  std::set<int32_t> up;
  std::istringstream in(text);
  std::string line;
  bool any = false;
  while (std::getline(in, line)) {
    int id = 0;
    char state[8] = {0};
    if (std::sscanf(line.c_str(), "node %d port %*d pid %*s %7s", &id, state) == 2) {
      any = true;
      if (std::string(state) == "up") up.insert(id);
    }
  }
  if (!any) return s.ok() ? Internal("test.kafka", "no nodes in: " + text) : s;
  return up;
}

Status KafkaCluster::Kill(int32_t node) { return Script("kill " + std::to_string(node)); }

Status KafkaCluster::Signal(int32_t node, int sig) {
  std::string text;
  (void)Script("status", &text);
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    int id = 0, pid = 0;
    if (std::sscanf(line.c_str(), "node %d port %*d pid %d up", &id, &pid) == 2 && id == node) {
      if (::kill(pid, sig) != 0) return Internal("test.kafka", "kill failed");
      return Status::Ok();
    }
  }
  return NotFound("test.kafka", "node " + std::to_string(node) + " is not running: " + text);
}

Status KafkaCluster::StartStopped() { return Script("start"); }

Status KafkaCluster::WaitUntilHealthy(int timeout_s) {
  std::string last = "no answer";
  const bool healthy = WaitFor(
      [&] {
        auto nodes = RunningNodes();
        if (!nodes.ok()) {
          last = nodes.status().ToString();
          return false;
        }
        Handle h(bootstrap_, RD_KAFKA_PRODUCER);
        if (!h.status().ok()) return false;
        const rd_kafka_metadata_t* md = nullptr;
        if (rd_kafka_metadata(h.get(), 1, nullptr, &md, 5000)) {
          last = "no metadata";
          return false;
        }
        bool ok = md->broker_cnt == static_cast<int>(nodes->size());
        if (!ok) last = std::to_string(md->broker_cnt) + " broker(s) registered";
        for (int t = 0; ok && t < md->topic_cnt; ++t) {
          for (int p = 0; ok && p < md->topics[t].partition_cnt; ++p) {
            const auto& mp = md->topics[t].partitions[p];
            if (mp.leader < 0 || mp.isr_cnt != mp.replica_cnt) {
              ok = false;
              last = std::string(md->topics[t].topic) + "[" + std::to_string(mp.id) +
                     "] has " + std::to_string(mp.isr_cnt) + " of " +
                     std::to_string(mp.replica_cnt) + " replicas in sync";
            }
          }
        }
        rd_kafka_metadata_destroy(md);
        return ok;
      },
      seconds(timeout_s));
  if (healthy) return Status::Ok();
  return Unavailable("test.kafka", "the cluster is not healthy after " +
                                       std::to_string(timeout_s) + " s: " + last);
}

std::vector<TopicRecord> ReadTopic(const std::string& bootstrap, const std::string& topic,
                                   const std::string& isolation) {
  std::vector<TopicRecord> out;
  Handle h(bootstrap, RD_KAFKA_CONSUMER,
           {{"group.id", KafkaCluster::UniqueName("reader")},
            {"isolation.level", isolation},
            {"enable.auto.commit", "false"}});
  if (!h.status().ok()) {
    ADD_FAILURE() << h.status().ToString();
    return out;
  }
  rd_kafka_t* rk = h.get();
  rd_kafka_poll_set_consumer(rk);
  auto layout = DescribeTopic(bootstrap, topic);
  if (!layout.ok()) {
    ADD_FAILURE() << layout.status().ToString();
    return out;
  }
  // The ends a reader of this isolation level sees (the last stable offset for read_committed).
  rd_kafka_topic_partition_list_t* ends = rd_kafka_topic_partition_list_new(layout->size());
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(layout->size());
  for (const auto& [p, l] : *layout) {
    rd_kafka_topic_partition_list_add(ends, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  EXPECT_EQ(rd_kafka_offsets_for_times(rk, ends, 20000), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::map<int32_t, int64_t> end;
  for (int i = 0; i < ends->cnt; ++i) end[ends->elems[i].partition] = ends->elems[i].offset;
  rd_kafka_topic_partition_list_destroy(ends);
  EXPECT_EQ(rd_kafka_assign(rk, list), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::map<int32_t, std::vector<TopicRecord>> by_partition;
  const bool done = WaitFor(
      [&] {
        while (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 10)) {
          if (!m->err && m->offset < end[m->partition]) {
            TopicRecord r;
            r.partition = m->partition;
            r.offset = m->offset;
            if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
            if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
            by_partition[r.partition].push_back(std::move(r));
          }
          rd_kafka_message_destroy(m);
        }
        if (rd_kafka_position(rk, list) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
        for (int i = 0; i < list->cnt; ++i) {
          const int64_t e = end[list->elems[i].partition];
          if (e > 0 && list->elems[i].offset < e) return false;
        }
        return true;
      },
      seconds(30));
  EXPECT_TRUE(done) << "topic " << topic << " was not read to its end";
  rd_kafka_topic_partition_list_destroy(list);
  for (auto& [p, records] : by_partition) {
    for (auto& r : records) out.push_back(std::move(r));
  }
  return out;
}

Result<std::map<int32_t, PartitionEnds>> TopicEnds(const std::string& bootstrap,
                                                   const std::string& topic, int partitions) {
  Handle h(bootstrap, RD_KAFKA_CONSUMER,
           {{"group.id", KafkaCluster::UniqueName("ends")}, {"isolation.level", "read_committed"}});
  AE_RETURN_IF_ERROR(h.status());
  std::map<int32_t, PartitionEnds> out;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int32_t p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
  }
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(h.get(), list, 20000);
  for (int i = 0; !err && i < list->cnt; ++i) {
    err = list->elems[i].err;
    out[list->elems[i].partition].stable = list->elems[i].offset;
  }
  rd_kafka_topic_partition_list_destroy(list);
  // The high watermark: asked by a read_uncommitted client (on a read_committed one the
  // brokers answer the last stable offset here too).
  Handle u(bootstrap, RD_KAFKA_CONSUMER,
           {{"group.id", KafkaCluster::UniqueName("ends")}, {"isolation.level", "read_uncommitted"}});
  AE_RETURN_IF_ERROR(u.status());
  for (int32_t p = 0; !err && p < partitions; ++p) {
    int64_t low = 0;
    err = rd_kafka_query_watermark_offsets(u.get(), topic.c_str(), p, &low, &out[p].high, 20000);
  }
  if (err) return Unavailable("test.kafka", std::string("offsets: ") + rd_kafka_err2str(err));
  return out;
}

int RunShell(const std::string& command, std::string* out, int timeout_s) {
  const std::string full = "timeout -k 5 " + std::to_string(timeout_s) + " /bin/sh -c " +
                           Quote(command);
  FILE* f = ::popen(full.c_str(), "r");
  if (!f) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  const int status = ::pclose(f);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace ae::testing
