// The command bus against a real log: version checks, retries, no-ops.

#include <thread>

#include "domain/command_bus.h"
#include "domain/users/users.h"
#include "tests/support/log_harness.h"

namespace ae::domain {
namespace {

// A counter stream: each command appends one PolicyCreated named after the
// count it saw, so a lost update would show as a duplicate name.
struct Count {
  int n = 0;
};

Decider<Count> Increment() {
  return {[](Count c, const Envelope&) {
            c.n++;
            return c;
          },
          [](const Count& c) -> Result<std::vector<Envelope>> {
            Envelope e;
            e.mutable_policy_created()->set_name(std::to_string(c.n));
            return std::vector<Envelope>{e};
          }};
}

TEST(CommandBus, ConcurrentCommandsOnOneStreamAreRetriedNotLost) {
  testing::RocksDbLogHarness h;
  CommandBus bus(h.log(), Clock::Real(), /*max_attempts=*/100);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (bus.Execute(StreamId("counter", "x"), Increment(), {}).ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 100);
  auto events = h.log().ReadStream(StreamId("counter", "x"), 1, SIZE_MAX);
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(events->size(), 100u);
  for (size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].envelope.policy_created().name(), std::to_string(i));
  }
}

TEST(CommandBus, AnswersWithThePositionAndStampsTheActor) {
  testing::RocksDbLogHarness h;
  CommandBus bus(h.log());
  CommandContext ctx;
  ctx.actor.set_kind(Actor::KIND_USER);
  ctx.actor.set_id("u-7");
  ctx.correlation_id = "req-1";
  auto r = bus.Execute(StreamId("counter", "y"), Increment(), ctx);
  ASSERT_THAT(r, IsOk());
  auto head = h.log().Head();
  EXPECT_TRUE(head->Covers(r->position));
  auto events = h.log().ReadStream(StreamId("counter", "y"), 1, SIZE_MAX);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].position, r->position);
  EXPECT_EQ((*events)[0].envelope.actor().id(), "u-7");
  EXPECT_EQ((*events)[0].envelope.correlation_id(), "req-1");
}

TEST(CommandBus, ADecisionErrorAppendsNothingAndANoOpReturnsTheLastPosition) {
  testing::RocksDbLogHarness h;
  CommandBus bus(h.log());
  auto created = bus.Execute(StreamId("policy", "p"),
                             users::NamedDecider(users::CreatePolicy{"p", "P"}), {});
  ASSERT_THAT(created, IsOk());
  EXPECT_THAT(bus.Execute(StreamId("policy", "p"),
                          users::NamedDecider(users::CreatePolicy{"p", "P"}), {}),
              StatusIs(StatusCode::kAlreadyExists, "policy.already_exists"));
  EXPECT_EQ(*h.log().GetStreamVersion(StreamId("policy", "p")), 1u);
  Decider<Count> noop{[](Count c, const Envelope&) { return c; },
                      [](const Count&) -> Result<std::vector<Envelope>> {
                        return std::vector<Envelope>{};
                      }};
  auto r = bus.Execute(StreamId("policy", "p"), noop, {});
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->events.empty());
  EXPECT_EQ(r->position, created->position);
}

}  // namespace
}  // namespace ae::domain
