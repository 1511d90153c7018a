// The Knox Cloud API connection deciders: given events, when a command, then events or an
// error; and the sync plan.

#include <google/protobuf/util/time_util.h>

#include "domain/kme/knox_connection.h"
#include "tests/support/test_support.h"

namespace ae::domain::kme {
namespace {

using google::protobuf::util::TimeUtil;
constexpr int64_t kHour = 3600 * 1000;
constexpr int64_t kT0 = 1'700'000'000'000;

KnoxConnection Connection(std::string id = "c1", std::string secret_seed = "s1") {
  KnoxConnection c;
  c.connection_id = std::move(id);
  c.base_url = "https://eu-kcs-api.samsungknox.com";
  c.token_url = "https://api.samsungknox.com/ams/v1/oauth2/token";
  c.client_id = "kme-app-1";
  c.client_secret_ref = "kme/knox/client_secret/" + secret_seed;
  c.client_secret_sha256 = std::string(31, 'x') + secret_seed.back();
  return c;
}

KnoxState Given(const std::vector<Envelope>& events) {
  KnoxState s;
  for (const auto& e : events) s = EvolveKnox(std::move(s), e);
  return s;
}

Envelope Connected(const KnoxConnection& c) {
  auto out = Decide(KnoxState{}, ConnectKnox{c});
  EXPECT_THAT(out, IsOk());
  return out.ok() && !out->empty() ? out->front() : Envelope{};
}

Envelope Sync(const std::string& connection_id, int64_t started, bool full,
              const std::string& error = "") {
  Envelope e;
  auto* p = e.mutable_kme_sync_completed();
  p->set_sync_id("sync-" + std::to_string(started));
  p->set_connection_id(connection_id);
  *p->mutable_started_at() = TimeUtil::MillisecondsToTimestamp(started);
  p->set_full(full);
  p->set_error(error);
  return e;
}

TEST(KnoxDecider, ConnectRecordsTheSettingsAndOnlyTheSecretsReference) {
  KnoxConnection c = Connection();
  c.customer_id = "1000000001";
  c.auto_approve_uploads = true;
  auto out = Decide(KnoxState{}, ConnectKnox{c});
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), 1u);
  const auto& p = out->front().kme_knox_connected();
  EXPECT_EQ(p.connection_id(), "c1");
  EXPECT_EQ(p.base_url(), c.base_url);
  EXPECT_EQ(p.token_url(), c.token_url);
  EXPECT_EQ(p.client_id(), "kme-app-1");
  EXPECT_EQ(p.customer_id(), "1000000001");
  EXPECT_TRUE(p.auto_approve_uploads());
  EXPECT_EQ(p.client_secret_ref(), c.client_secret_ref);
  EXPECT_EQ(p.client_secret_sha256().size(), 32u);

  KnoxState s = Given(*out);
  EXPECT_TRUE(s.connected);
  EXPECT_TRUE(s.connection.SameSettings(c));
  EXPECT_EQ(s.connection.connection_id, "c1");
}

TEST(KnoxDecider, ConnectingAgainWithTheSameSettingsAppendsNothing) {
  KnoxState s = Given({Connected(Connection("c1"))});
  auto again = Decide(s, ConnectKnox{Connection("c2")});  // a fresh id, same settings
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->empty());
}

TEST(KnoxDecider, ANewSecretOrSettingMakesANewConnection) {
  KnoxState s = Given({Connected(Connection("c1", "s1"))});
  auto secret = Decide(s, ConnectKnox{Connection("c2", "s2")});
  ASSERT_THAT(secret, IsOk());
  ASSERT_EQ(secret->size(), 1u);
  EXPECT_EQ(secret->front().kme_knox_connected().connection_id(), "c2");
  KnoxConnection approve = Connection("c3");
  approve.auto_approve_uploads = true;
  auto setting = Decide(s, ConnectKnox{approve});
  ASSERT_THAT(setting, IsOk());
  EXPECT_EQ(setting->size(), 1u);
}

TEST(KnoxDecider, ConnectNeedsUrlsClientIdAndTheSecretsReference) {
  KnoxConnection c = Connection();
  c.client_id.clear();
  EXPECT_THAT(Decide(KnoxState{}, ConnectKnox{c}),
              StatusIs(StatusCode::kInvalidArgument, "kme.knox_bad_connection"));
  c = Connection();
  c.client_secret_sha256 = "short";
  EXPECT_THAT(Decide(KnoxState{}, ConnectKnox{c}),
              StatusIs(StatusCode::kInvalidArgument, "kme.knox_bad_connection"));
  c = Connection();
  c.base_url.clear();
  EXPECT_THAT(Decide(KnoxState{}, ConnectKnox{c}),
              StatusIs(StatusCode::kInvalidArgument, "kme.knox_bad_connection"));
}

TEST(KnoxDecider, DisconnectIsRecordedOnceAndForgetsTheConnection) {
  KnoxState s = Given({Connected(Connection("c1"))});
  auto out = Decide(s, DisconnectKnox{});
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ(out->front().kme_knox_disconnected().connection_id(), "c1");
  KnoxState after = Given({Connected(Connection("c1")), out->front()});
  EXPECT_FALSE(after.connected);
  auto again = Decide(after, DisconnectKnox{});
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->empty());
}

TEST(KnoxDecider, OnlySuccessfulSyncsOfTheCurrentConnectionMoveItsIncrementalStart) {
  KnoxState s = Given({Connected(Connection("c1")), Sync("c1", kT0, true),
                       Sync("c1", kT0 + kHour, false),
                       Sync("c1", kT0 + 2 * kHour, false, "knox.unavailable"),
                       Sync("old", kT0 + 3 * kHour, true)});
  EXPECT_EQ(s.last_success_started_ms, kT0 + kHour);
  EXPECT_EQ(s.last_full_success_started_ms, kT0);
  // A new connection starts from nothing.
  KnoxState n = Given({Connected(Connection("c1")), Sync("c1", kT0, true),
                       Connected(Connection("c2", "s2"))});
  EXPECT_EQ(n.last_success_started_ms, 0);
  EXPECT_EQ(n.connection.connection_id, "c2");
}

TEST(KnoxDecider, ASyncSummaryIsRecordedAsGiven) {
  RecordKnoxSync c;
  c.summary = Sync("c1", kT0, true).kme_sync_completed();
  c.summary.set_devices_seen(5);
  auto out = Decide(KnoxState{}, c);
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ(out->front().kme_sync_completed().devices_seen(), 5u);
  c.summary.clear_sync_id();
  EXPECT_THAT(Decide(KnoxState{}, c),
              StatusIs(StatusCode::kInvalidArgument, "kme.knox_bad_sync"));
}

TEST(KnoxSyncPlan, AFirstSyncIsFullThenChangesAfterTheLastStartMinusTheOverlap) {
  KnoxSyncPolicy policy;
  policy.full_every_ms = 24 * kHour;
  policy.overlap_ms = 5 * 60 * 1000;
  KnoxState fresh = Given({Connected(Connection())});
  EXPECT_TRUE(PlanKnoxSync(fresh, false, kT0, policy).full);

  KnoxState synced = Given({Connected(Connection()), Sync("c1", kT0, true),
                            Sync("c1", kT0 + kHour, false)});
  KnoxSyncPlan plan = PlanKnoxSync(synced, false, kT0 + 2 * kHour, policy);
  EXPECT_FALSE(plan.full);
  EXPECT_EQ(plan.changed_after_ms, kT0 + kHour - policy.overlap_ms);
  EXPECT_TRUE(PlanKnoxSync(synced, true, kT0 + 2 * kHour, policy).full);  // ?full=true
  EXPECT_TRUE(PlanKnoxSync(synced, false, kT0 + 24 * kHour, policy).full);  // a day later
}

TEST(KnoxSyncPlan, AFailedFirstSyncKeepsTheNextOneFull) {
  KnoxState s = Given({Connected(Connection()), Sync("c1", kT0, true, "knox.unauthorized")});
  EXPECT_TRUE(PlanKnoxSync(s, false, kT0 + kHour).full);
}

TEST(KnoxConnectionState, FollowsTheReasonASyncStoppedWith) {
  EXPECT_EQ(KnoxConnectionStateFor(""), "ok");
  EXPECT_EQ(KnoxConnectionStateFor("knox.unauthorized"), "unauthorized");
  EXPECT_EQ(KnoxConnectionStateFor("knox.forbidden"), "unauthorized");
  EXPECT_EQ(KnoxConnectionStateFor("kme.knox_secret_missing"), "unauthorized");
  EXPECT_EQ(KnoxConnectionStateFor("knox.unavailable"), "unavailable");
  EXPECT_EQ(KnoxConnectionStateFor("knox.rate_limited"), "unavailable");
  EXPECT_EQ(KnoxConnectionStateFor("knox.bad_response"), "unavailable");
  EXPECT_EQ(KnoxConnectionStateFor(kKnoxSyncCancelled), "");
}

}  // namespace
}  // namespace ae::domain::kme
