#include "events/kafka_dev_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <thread>

namespace ae::events {

DevKafkaCluster::~DevKafkaCluster() {
  if (mock_) rd_kafka_mock_cluster_destroy(mock_);
  mock_ = nullptr;
  if (owner_) rd_kafka_destroy(owner_);
  owner_ = nullptr;
}

Status DevKafkaCluster::Start(int brokers) {
  if (brokers < 1 || brokers > 16) {
    return InvalidArgument("kafka.invalid_brokers",
                           "a dev cluster has 1 to 16 brokers, not " + std::to_string(brokers),
                           "brokers");
  }
  if (mock_) return FailedPrecondition("kafka.already_started", "the dev cluster is running");
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The owner handle never connects anywhere; keep it quiet.
  if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return Internal("kafka.config", errstr);
  }
  rd_kafka_t* owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!owner) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new frees conf only on success
    return Unavailable("kafka.unavailable",
                       std::string("cannot create the owner handle: ") + errstr);
  }
  rd_kafka_mock_cluster_t* mock = rd_kafka_mock_cluster_new(owner, brokers);
  if (!mock) {
    rd_kafka_destroy(owner);
    return Unavailable("kafka.unavailable", "cannot create the mock cluster");
  }
  owner_ = owner;
  mock_ = mock;
  brokers_ = brokers;
  bootstraps_ = rd_kafka_mock_cluster_bootstraps(mock_);
  return Status::Ok();
}

Status DevKafkaCluster::CreateTopic(const std::string& name, int partitions) {
  if (!mock_) return FailedPrecondition("kafka.not_started", "start the dev cluster first");
  if (name.empty() || partitions < 1) {
    return InvalidArgument("kafka.invalid_topic", "a topic needs a name and partitions >= 1");
  }
  const int replication = brokers_ < 3 ? brokers_ : 3;
  rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(mock_, name.c_str(), partitions, replication);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unavailable("kafka.unavailable",
                       "cannot create topic " + name + ": " + rd_kafka_err2str(err));
  }
  return Status::Ok();
}

int RunDevKafka(int brokers, std::ostream& out, const std::atomic<bool>& stop) {
  DevKafkaCluster cluster;
  Status s = cluster.Start(brokers);
  if (s.ok()) s = cluster.CreateTopic("autoenroll.events", 1);
  if (!s.ok()) {
    out << "error: " << s.ToString() << std::endl;
    return 1;
  }
  out << "bootstrap: " << cluster.bootstraps() << std::endl;  // endl flushes
  while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return 0;
}

}  // namespace ae::events
