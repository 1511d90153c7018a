// KmeProjector's Knox Cloud API record (kme_settings "knox"): the connection, its state and
// its last sync, from the events of stream kme-knox/default only.

#include <google/protobuf/util/time_util.h>

#include <nlohmann/json.hpp>

#include "domain/kme/knox_connection.h"
#include "projections/kme_projector.h"
#include "tests/support/test_support.h"

namespace ae::proj {
namespace {

using google::protobuf::util::TimeUtil;
using nlohmann::json;
using ::ae::testing::TempDir;
namespace v1 = autoenroll::events::v1;

constexpr int64_t kT0 = 1'700'000'000'000;

class KmeKnoxProjectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ViewStoreOptions o;
    o.path = dir_.Sub("views");
    o.column_families = projector_.column_families();
    auto v = ViewStore::Open(o);
    ASSERT_THAT(v, IsOk());
    views_ = std::move(v).value();
    batch_ = std::make_unique<ViewBatch>(*views_, ViewBatch::Isolated{});
  }

  void Apply(events::Envelope e, int64_t at_ms) {
    e.set_stream(domain::kme::kKnoxStream);
    e.set_stream_version(++version_);
    *e.mutable_occurred_at() = TimeUtil::MillisecondsToTimestamp(at_ms);
    RecordedEvent r;
    r.position = LogPosition{0, static_cast<int64_t>(version_)};
    r.envelope = std::move(e);
    ASSERT_THAT(projector_.Apply(r, *batch_), IsOk());
  }
  json Record() {
    auto raw = batch_->Get("kme_settings", "knox");
    EXPECT_THAT(raw, IsOk());
    if (!raw.ok() || !*raw) return json();
    return json::parse(**raw);
  }

  static events::Envelope Connected(const std::string& id) {
    events::Envelope e;
    auto* p = e.mutable_kme_knox_connected();
    p->set_connection_id(id);
    p->set_base_url("http://127.0.0.1:9100");
    p->set_token_url("http://127.0.0.1:9100/ams/v1/oauth2/token");
    p->set_client_id("kme-app-1");
    p->set_customer_id("1000000001");
    p->set_auto_approve_uploads(true);
    p->set_client_secret_ref("kme/knox/client_secret/0123456789abcdef");
    p->set_client_secret_sha256(std::string(32, '\x01'));
    return e;
  }
  static events::Envelope Synced(const std::string& connection, const std::string& sync_id,
                                 const std::string& error, const std::string& state) {
    events::Envelope e;
    auto* p = e.mutable_kme_sync_completed();
    p->set_sync_id(sync_id);
    p->set_connection_id(connection);
    *p->mutable_started_at() = TimeUtil::MillisecondsToTimestamp(kT0 + 1000);
    p->set_full(true);
    p->set_devices_seen(7);
    p->set_created(5);
    p->set_unchanged(1);
    p->set_rejected(1);
    p->set_uploads_approved(1);
    p->set_error(error);
    p->set_error_message(error.empty() ? "" : "refused");
    p->set_connection_state(state);
    auto* x = p->add_errors();
    x->set_code("kme.no_identifier");
    x->set_message("Knox device 42: no IMEI, MEID or serial number");
    x->set_knox_device_id("42");
    return e;
  }

  TempDir dir_;
  KmeProjector projector_;
  std::unique_ptr<ViewStore> views_;
  std::unique_ptr<ViewBatch> batch_;
  uint64_t version_ = 0;
};

TEST_F(KmeKnoxProjectorTest, AConnectionIsNeverSyncedUntilItsFirstSync) {
  Apply(Connected("c1"), kT0);
  json rec = Record();
  EXPECT_EQ(rec["configured"], true);
  EXPECT_EQ(rec["base_url"], "http://127.0.0.1:9100");
  EXPECT_EQ(rec["client_id"], "kme-app-1");
  EXPECT_EQ(rec["customer_id"], "1000000001");
  EXPECT_EQ(rec["auto_approve_uploads"], true);
  EXPECT_EQ(rec["state"], "never_synced");
  EXPECT_FALSE(rec.contains("last_sync"));
  EXPECT_EQ(rec["last_position"], (LogPosition{0, 1}.ToString()));
}

TEST_F(KmeKnoxProjectorTest, ASyncSetsTheLastSyncAndTheState) {
  Apply(Connected("c1"), kT0);
  Apply(Synced("c1", "s1", "", "ok"), kT0 + 5000);
  json rec = Record();
  EXPECT_EQ(rec["state"], "ok");
  EXPECT_EQ(rec["last_sync"]["sync_id"], "s1");
  EXPECT_EQ(rec["last_sync"]["devices_seen"], 7);
  EXPECT_EQ(rec["last_sync"]["created"], 5);
  EXPECT_EQ(rec["last_sync"]["uploads_approved"], 1);
  EXPECT_EQ(rec["last_sync"]["full"], true);
  EXPECT_EQ(rec["last_sync"]["at"], FormatRfc3339(kT0 + 5000));
  EXPECT_EQ(rec["last_sync"]["started_at"], FormatRfc3339(kT0 + 1000));
  EXPECT_EQ(rec["last_sync"]["errors"][0]["knox_device_id"], "42");
  EXPECT_FALSE(rec["last_sync"].contains("error"));
  EXPECT_EQ(rec["last_success_at"], FormatRfc3339(kT0 + 1000));

  Apply(Synced("c1", "s2", "knox.unauthorized", "unauthorized"), kT0 + 9000);
  rec = Record();
  EXPECT_EQ(rec["state"], "unauthorized");
  EXPECT_EQ(rec["last_sync"]["sync_id"], "s2");
  EXPECT_EQ(rec["last_sync"]["error"]["code"], "knox.unauthorized");
  EXPECT_EQ(rec["last_success_at"], FormatRfc3339(kT0 + 1000));  // the earlier one

  Apply(Synced("c1", "s3", "kme.knox_sync_cancelled", ""), kT0 + 9500);
  EXPECT_EQ(Record()["state"], "unauthorized");  // a cancelled sync leaves the state
}

TEST_F(KmeKnoxProjectorTest, ASyncOfAnOlderConnectionChangesNothing) {
  Apply(Connected("c1"), kT0);
  Apply(Connected("c2"), kT0 + 1000);
  Apply(Synced("c1", "s1", "", "ok"), kT0 + 2000);
  json rec = Record();
  EXPECT_EQ(rec["connection_id"], "c2");
  EXPECT_EQ(rec["state"], "never_synced");
  EXPECT_FALSE(rec.contains("last_sync"));
}

TEST_F(KmeKnoxProjectorTest, DisconnectingClearsTheConnection) {
  Apply(Connected("c1"), kT0);
  Apply(Synced("c1", "s1", "", "ok"), kT0 + 2000);
  events::Envelope d;
  d.mutable_kme_knox_disconnected()->set_connection_id("c1");
  Apply(d, kT0 + 3000);
  json rec = Record();
  EXPECT_EQ(rec["configured"], false);
  EXPECT_FALSE(rec.contains("client_id"));
  EXPECT_FALSE(rec.contains("last_sync"));
  EXPECT_EQ(rec["disconnected_at"], FormatRfc3339(kT0 + 3000));
}

}  // namespace
}  // namespace ae::proj
