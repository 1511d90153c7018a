#include "events/kafka_topic_admin.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <thread>
#include <vector>

#include "events/base/logging.h"

namespace ae::events::internal {
namespace {

using SteadyClock = std::chrono::steady_clock;

int MsUntil(SteadyClock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 1, INT_MAX));
}

Status Unavail(std::string message) { return Unavailable("log.unavailable", std::move(message)); }

Status Invalid(const KafkaTopicSpec& spec, const std::string& problem, const std::string& fix) {
  return FailedPrecondition("log.topic_invalid",
                            "topic " + spec.name + " " + problem + "; " + fix +
                                " (the engine refuses a topic that would break its guarantees)");
}

struct Metadata {
  bool exists = false;
  int brokers = 0;
  int32_t any_broker = -1;  // a broker the metadata lists (to ask for the topic's configuration)
  int32_t partitions = 0;
  int min_replicas = 0;
};

Result<Metadata> ReadMetadata(rd_kafka_t* rk, const std::string& topic,
                              SteadyClock::time_point deadline) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (!rkt) return Unavail("cannot create a topic handle for " + topic);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, MsUntil(deadline));
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unavail("cannot read the metadata of topic " + topic + ": " + rd_kafka_err2str(err));
  }
  Metadata m;
  m.brokers = md->broker_cnt;
  if (md->broker_cnt > 0) m.any_broker = md->brokers[0].id;
  rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (topic != md->topics[i].topic) continue;
    topic_err = md->topics[i].err;
    m.partitions = md->topics[i].partition_cnt;
    m.min_replicas = INT_MAX;
    for (int p = 0; p < md->topics[i].partition_cnt; ++p) {
      m.min_replicas = std::min(m.min_replicas, md->topics[i].partitions[p].replica_cnt);
    }
  }
  rd_kafka_metadata_destroy(md);
  if (topic_err == RD_KAFKA_RESP_ERR_NO_ERROR && m.partitions > 0) {
    m.exists = true;
    return m;
  }
  if (topic_err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
      topic_err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
      topic_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unavail("topic " + topic + ": " + rd_kafka_err2str(topic_err));
  }
  return m;  // missing (or not visible yet)
}

// Runs one Admin request on a temporary queue and returns its result event (null on timeout).
template <typename Issue>
rd_kafka_event_t* AdminCall(rd_kafka_t* rk, rd_kafka_admin_op_t op,
                            SteadyClock::time_point deadline, Issue issue, int32_t broker = -1) {
  char errstr[512];
  rd_kafka_AdminOptions_t* admin = rd_kafka_AdminOptions_new(rk, op);
  rd_kafka_AdminOptions_set_request_timeout(admin, MsUntil(deadline), errstr, sizeof errstr);
  if (broker >= 0) rd_kafka_AdminOptions_set_broker(admin, broker, errstr, sizeof errstr);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  issue(admin, queue);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, MsUntil(deadline) + 1000);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(admin);
  return ev;
}

Status Create(rd_kafka_t* rk, const KafkaTopicSpec& spec, int brokers,
              SteadyClock::time_point deadline) {
  int rf = spec.replication_factor;
  if (brokers > 0 && rf > brokers) {
    log::Get("kafka")->warn(
        "the cluster lists {} broker(s): topic {} is created with replication factor {}, not {}",
        brokers, spec.name, brokers, rf);
    rf = brokers;
  }
  const int min_isr = std::min(spec.min_insync_replicas, rf);
  char errstr[512];
  rd_kafka_NewTopic_t* topic =
      rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, rf, errstr, sizeof errstr);
  if (!topic) return InvalidArgument("log.invalid_option", errstr, "partitions");
  std::vector<std::pair<std::string, std::string>> configs = {
      {"min.insync.replicas", std::to_string(min_isr)},
      {"unclean.leader.election.enable", "false"}};
  if (spec.compacted) {
    configs.push_back({"cleanup.policy", "compact"});
  } else {
    configs.push_back({"cleanup.policy", "delete"});
    configs.push_back({"retention.ms", "-1"});
    configs.push_back({"retention.bytes", "-1"});
  }
  for (const auto& [k, v] : configs) rd_kafka_NewTopic_set_config(topic, k.c_str(), v.c_str());
  rd_kafka_event_t* ev = AdminCall(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, deadline,
                                   [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                                     rd_kafka_CreateTopics(rk, &topic, 1, o, q);
                                   });
  rd_kafka_NewTopic_destroy(topic);
  Status result;
  if (!ev) return Unavail("no answer to CreateTopics for " + spec.name);
  if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::string what = "cannot create topic " + spec.name + ": " + rd_kafka_event_error_string(ev);
    result = rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE
                 ? FailedPrecondition("log.no_topic", what + " (create it on the cluster first)")
                 : Unavail(what);
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    rd_kafka_resp_err_t err =
        n ? rd_kafka_topic_result_error(results[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      log::Get("kafka")->info(
          "created topic {}: {} partition(s), replication factor {}, min.insync.replicas {}, {}",
          spec.name, spec.partitions, rf, min_isr,
          spec.compacted ? "compacted" : "kept forever");
    } else if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      const char* msg = n ? rd_kafka_topic_result_error_string(results[0]) : nullptr;
      result = Unavail("cannot create topic " + spec.name + ": " +
                       (msg ? msg : rd_kafka_err2str(err)));
    }
  }
  rd_kafka_event_destroy(ev);
  return result;
}

Result<std::map<std::string, std::string>> DescribeTopicConfigOnce(
    rd_kafka_t* rk, const std::string& topic, int32_t broker, SteadyClock::time_point deadline,
    bool* unknown);

// The topic's effective configuration. An empty map when the cluster cannot describe
// configurations (librdkafka's mock), which is logged. A broker that has not learnt of a
// topic just created answers UNKNOWN_TOPIC_OR_PART: asked again until `deadline`. Sent to
// `broker` (any broker answers for a topic; this spares the wait for the controller).
Result<std::map<std::string, std::string>> DescribeTopicConfig(rd_kafka_t* rk,
                                                               const std::string& topic,
                                                               int32_t broker,
                                                               SteadyClock::time_point deadline) {
  while (true) {
    bool unknown = false;
    auto config = DescribeTopicConfigOnce(rk, topic, broker, deadline, &unknown);
    if (!unknown || SteadyClock::now() >= deadline) return config;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // metadata propagates
  }
}

Result<std::map<std::string, std::string>> DescribeTopicConfigOnce(
    rd_kafka_t* rk, const std::string& topic, int32_t broker, SteadyClock::time_point deadline,
    bool* unknown) {
  rd_kafka_ConfigResource_t* res =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_event_t* ev = AdminCall(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, deadline,
                                   [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                                     rd_kafka_DescribeConfigs(rk, &res, 1, o, q);
                                   },
                                   broker);
  rd_kafka_ConfigResource_destroy(res);
  if (!ev) return Unavail("no answer to DescribeConfigs for topic " + topic);
  std::map<std::string, std::string> out;
  Status status;
  const rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
  if (err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) {
    log::Get("kafka")->warn("the cluster cannot describe topic configurations: the settings of {} "
                            "are not checked",
                            topic);
  } else if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = Unavail("cannot describe the configuration of topic " + topic + ": " +
                     rd_kafka_event_error_string(ev));
  } else {
    size_t n = 0;
    const rd_kafka_ConfigResource_t** rs = rd_kafka_DescribeConfigs_result_resources(
        rd_kafka_event_DescribeConfigs_result(ev), &n);
    if (n == 1 &&
        rd_kafka_ConfigResource_error(rs[0]) == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      *unknown = true;
    }
    if (n != 1 || rd_kafka_ConfigResource_error(rs[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* why = n == 1 ? rd_kafka_ConfigResource_error_string(rs[0]) : nullptr;
      status = Unavail("cannot describe the configuration of topic " + topic + ": " +
                       (why ? why : "no answer for it"));
    } else {
      size_t m = 0;
      const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(rs[0], &m);
      for (size_t i = 0; i < m; ++i) {
        const char* v = rd_kafka_ConfigEntry_value(entries[i]);
        out[rd_kafka_ConfigEntry_name(entries[i])] = v ? v : "";
      }
    }
  }
  rd_kafka_event_destroy(ev);
  if (!status.ok()) return status;
  return out;
}

Status Check(const KafkaTopicSpec& spec, const Metadata& md,
             const std::map<std::string, std::string>& config) {
  const std::string alter = "change it with kafka-configs.sh --alter --entity-type topics "
                            "--entity-name " + spec.name + " --add-config ";
  if (spec.check_partitions && md.partitions != spec.partitions) {
    return Invalid(spec,
                   "has " + std::to_string(md.partitions) + " partition(s) but the writer is "
                       "configured for " + std::to_string(spec.partitions) +
                       " (--kafka-partitions): a stream's partition is FNV-1a(stream) mod the "
                       "partition count, so the count must stay the one the log was written with",
                   "start the writer with --kafka-partitions " + std::to_string(md.partitions) +
                       " if that is the count the topic has always had, or use a new topic");
  }
  if (spec.check_durability) {
    const int want_rf = md.brokers > 0 ? std::min(spec.replication_factor, md.brokers)
                                       : spec.replication_factor;
    if (md.min_replicas < want_rf) {
      return Invalid(spec,
                     "has replication factor " + std::to_string(md.min_replicas) + ", below " +
                         std::to_string(want_rf) + " (--kafka-replication-factor): the loss of " +
                         "one broker could lose acknowledged events",
                     "reassign its partitions to more brokers, or use a new topic");
    }
    if (!config.empty()) {
      auto it = config.find("min.insync.replicas");
      const int min_isr = it == config.end() ? 1 : std::atoi(it->second.c_str());
      const int want_isr = std::min(spec.min_insync_replicas, md.min_replicas);
      if (min_isr < want_isr) {
        return Invalid(spec,
                       "has min.insync.replicas=" + std::to_string(min_isr) + ", below " +
                           std::to_string(want_isr) + " (--kafka-min-insync-replicas): an event "
                           "acknowledged by too few brokers is lost with its leader",
                       alter + "min.insync.replicas=" + std::to_string(want_isr));
      }
      if (min_isr > md.min_replicas) {
        return Invalid(spec,
                       "has min.insync.replicas=" + std::to_string(min_isr) +
                           " but only " + std::to_string(md.min_replicas) +
                           " replica(s): no write could ever be acknowledged",
                       alter + "min.insync.replicas=" + std::to_string(md.min_replicas));
      }
      it = config.find("unclean.leader.election.enable");
      if (it != config.end() && it->second == "true") {
        return Invalid(spec,
                       "has unclean.leader.election.enable=true: a replica that missed "
                       "acknowledged events could become leader and drop them",
                       alter + "unclean.leader.election.enable=false");
      }
    }
  }
  if (config.empty()) return Status::Ok();  // not described (see DescribeTopicConfig)
  auto value = [&](const char* key) {
    auto it = config.find(key);
    return it == config.end() ? std::string() : it->second;
  };
  const std::string policy = value("cleanup.policy");
  if (spec.compacted) {
    if (policy != "compact") {
      return Invalid(spec,
                     "has cleanup.policy=" + policy + ": person keys would expire with the "
                     "retention, and the personal data in the events with them",
                     alter + "cleanup.policy=compact");
    }
    return Status::Ok();
  }
  if (policy != "delete") {
    return Invalid(spec,
                   "has cleanup.policy=" + policy + ": compaction keeps only the last event of "
                   "each stream, so replay, history and the hash chain would lose events",
                   alter + "cleanup.policy=delete,retention.ms=-1,retention.bytes=-1");
  }
  for (const char* key : {"retention.ms", "retention.bytes"}) {
    if (value(key) != "-1") {
      return Invalid(spec,
                     "has " + std::string(key) + "=" + value(key) + ": the brokers would delete "
                     "old events, and replay, history and the hash chain with them",
                     alter + key + "=-1");
    }
  }
  return Status::Ok();
}

// A topic just created is in the metadata before each partition's leader serves it: a
// ListOffsets or a produce sent then answers UNKNOWN_TOPIC_OR_PART or NOT_LEADER. Asks
// every partition's leader for its end until all answer, or `deadline`.
Status WaitUntilServed(rd_kafka_t* rk, const std::string& topic, int32_t partitions,
                       SteadyClock::time_point deadline) {
  rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR_NO_ERROR;
  while (true) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int32_t p = 0; p < partitions; ++p) {
      rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
    }
    auto attempt = std::min(deadline, SteadyClock::now() + std::chrono::seconds(2));
    last = rd_kafka_offsets_for_times(rk, list, MsUntil(attempt));
    for (int i = 0; !last && i < list->cnt; ++i) {
      if (list->elems[i].err) last = list->elems[i].err;
      else if (list->elems[i].offset < 0) last = RD_KAFKA_RESP_ERR__BAD_MSG;
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (!last) return Status::Ok();
    if (SteadyClock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Unavail("topic " + topic + " was created but its partitions are not served yet: " +
                 rd_kafka_err2str(last));
}

}  // namespace

Result<KafkaTopicInfo> EnsureKafkaTopic(rd_kafka_t* rk, const KafkaTopicSpec& spec,
                                        SteadyClock::time_point deadline) {
  bool created = false;
  Metadata md;
  while (true) {
    AE_ASSIGN_OR_RETURN(md, ReadMetadata(rk, spec.name, deadline));
    if (md.exists) break;
    if (!spec.create && spec.allow_missing) return KafkaTopicInfo{};
    if (!spec.create) {
      return Unavail("topic " + spec.name + " does not exist (its writer creates it)");
    }
    if (!created) {
      AE_RETURN_IF_ERROR(Create(rk, spec, md.brokers, deadline));
      created = true;
      continue;
    }
    if (SteadyClock::now() >= deadline) {
      return Unavail("topic " + spec.name + " was created but is not visible yet");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // metadata propagates
  }
  AE_ASSIGN_OR_RETURN(auto config, DescribeTopicConfig(rk, spec.name, md.any_broker, deadline));
  AE_RETURN_IF_ERROR(Check(spec, md, config));
  if (created) AE_RETURN_IF_ERROR(WaitUntilServed(rk, spec.name, md.partitions, deadline));
  KafkaTopicInfo info;
  info.partitions = md.partitions;
  info.replication_factor = md.min_replicas;
  info.created = created;
  return info;
}

}  // namespace ae::events::internal
