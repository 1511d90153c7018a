#pragma once
// Helpers of the Kafka log's integration tests (tests/integration/kafka_*_test.cc).

#include <string>
#include <vector>

#include "events/hash_chain.h"
#include "events/kafka_event_log.h"
#include "tests/support/kafka_cluster.h"
#include "tests/support/test_support.h"

namespace ae::events {

inline Result<AppendResult> AppendOne(EventLog& log, const std::string& stream,
                                      ExpectedVersion expected, const std::string& name) {
  return log.Append(StreamId(stream), expected, {::ae::testing::MakePolicyEvent(name)});
}

inline std::vector<RecordedEvent> ReadAll(const EventLog& log) {
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

inline std::vector<std::string> Names(const std::vector<RecordedEvent>& records) {
  std::vector<std::string> names;
  for (const auto& r : records) names.push_back(r.envelope.policy_created().name());
  return names;
}

inline void ExpectChainVerifies(const EventLog& log, uint64_t records) {
  auto report = VerifyChain(log);
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->records, records);
}

// The PolicyCreated names of records read from the topic itself.
inline std::vector<std::string> TopicNames(const std::vector<::ae::testing::TopicRecord>& records) {
  std::vector<std::string> names;
  for (const auto& r : records) {
    Envelope env;
    EXPECT_TRUE(env.ParseFromString(r.value));
    names.push_back(env.policy_created().name());
  }
  return names;
}

}  // namespace ae::events
