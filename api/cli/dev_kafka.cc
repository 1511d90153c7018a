#include <iostream>
#include <thread>

#include "api/cli/commands.h"
#include "events/kafka_dev_cluster.h"

namespace ae::cli {

int DevKafka(int brokers, int partitions, std::ostream& out, std::ostream& err) {
  events::DevKafkaCluster cluster;
  Status s = cluster.Start(brokers);
  // The mock cannot create topics on request: make the engine's topics now.
  if (s.ok()) s = cluster.CreateTopic("autoenroll.events", partitions);
  if (s.ok()) s = cluster.CreateTopic("autoenroll.events.keys", 1);
  if (!s.ok()) {
    err << "dev-kafka: " << s.ToString() << "\n";
    return 1;
  }
  out << "bootstrap: " << cluster.bootstraps() << std::endl;
  err << "dev-kafka: librdkafka mock cluster with " << brokers << " broker(s); topic "
      << "autoenroll.events has " << partitions << " partition(s). Ctrl-C stops it.\n";
  while (!StopRequested().load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return 0;
}

}  // namespace ae::cli
