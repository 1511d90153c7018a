// The Samsung Knox services linked directly (no binary, no HTTP of ours): the portal CSV
// import (KmeIngest) and the Knox Cloud API sync (KnoxSync) over the command bus, a real
// RocksDB log, the real projections, a real secret store, and the Knox simulator on
// 127.0.0.1.

#include <string>

#include <nlohmann/json.hpp>

#include "adapters/samsung_knox/kme_ingest.h"
#include "adapters/samsung_knox/knox_client.h"
#include "adapters/samsung_knox/knox_sync.h"
#include "adapters/simulators/knox_simulator.h"
#include "domain/command_bus.h"
#include "domain/kme/kme.h"
#include "domain/kme/knox_connection.h"
#include "domain/users/users.h"
#include "events/base/crypto.h"
#include "events/rocksdb_event_log.h"
#include "events/secret_store.h"
#include "projections/all_projectors.h"
#include "projections/kme_records.h"
#include "projections/projection_runner.h"
#include "projections/view_store.h"
#include "tests/support/test_support.h"

namespace ae::knox {
namespace {

namespace dkme = ae::domain::kme;
namespace users = ae::domain::users;
namespace v1 = autoenroll::events::v1;
using nlohmann::json;
using ::ae::testing::TempDir;

constexpr const char* kUserIdKey = "knox-ingest-test-user-id-key";
constexpr std::chrono::milliseconds kViewWait{30'000};

std::string Fixture(const std::string& name) {
  return ae::testing::ReadWholeFile(ae::testing::SourceDir() + "/tests/fixtures/kme/" + name);
}

// The devices of tests/fixtures/kme/portal_export_bom_crlf.csv.
constexpr const char* kAliceImei = "350925370583126";  // line 2, alice
constexpr const char* kBobImei = "351750081234564";    // line 3, bob
constexpr const char* kMeid = "A0000012345678";        // line 6, no user

// One engine's parts, as the App wires them, without the App.
class KnoxIngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    events::RocksDbEventLogOptions lo;
    lo.path = dir_.Sub("log");
    auto log = events::RocksDbEventLog::Open(lo);
    ASSERT_THAT(log, IsOk());
    log_ = std::move(log).value();
    auto secrets = events::OpenSecretStore(dir_.Sub("secrets"), dir_.Sub("master-key"), true,
                                           false);
    ASSERT_THAT(secrets, IsOk());
    secrets_ = std::move(secrets).value();
    key_backend_ = std::make_unique<events::SecretStoreKeyBackend>(*secrets_);
    person_keys_ = std::make_unique<events::PersonKeys>(*key_backend_);
    projectors_ = proj::AllProjectors();
    proj::ViewStoreOptions vo;
    vo.path = dir_.Sub("views");
    vo.column_families = proj::AllColumnFamilies(projectors_);
    auto views = proj::ViewStore::Open(vo);
    ASSERT_THAT(views, IsOk());
    views_ = std::move(views).value();
    std::vector<proj::Projector*> ps;
    for (auto& p : projectors_) ps.push_back(p.get());
    proj::ProjectionRunnerOptions ro;
    ro.format = proj::kViewsFormat;
    runner_ = std::make_unique<proj::ProjectionRunner>(*log_, *views_, ps, ro);
    ASSERT_THAT(runner_->Init(), IsOk());
    runner_->Start();
    bus_ = std::make_unique<domain::CommandBus>(*log_);
    ingest_ = std::make_unique<KmeIngest>(*bus_, *person_keys_, Hooks());
    ctx_.actor.set_kind(v1::Actor::KIND_USER);
    ctx_.actor.set_id("admin-id");
    ctx_.correlation_id = "request-7";
  }

  void TearDown() override {
    if (runner_) runner_->Stop();
  }

  // The hooks the App gives the ingest: the views, the users view, the runner.
  KmeIngestHooks Hooks() {
    KmeIngestHooks h;
    h.views = [this](const std::string& cf, const std::string& key) {
      return views_->Get(cf, key);
    };
    h.kme_device = [this](const std::string& id) -> Result<std::optional<KmeViewDevice>> {
      AE_ASSIGN_OR_RETURN(auto rec, proj::ReadKmeRecord<proj::KmeDeviceRecord>(*views_, id));
      if (!rec) return std::optional<KmeViewDevice>();
      KmeViewDevice d;
      d.id = rec->id;
      d.imei = rec->imei;
      d.imei2 = rec->imei2;
      d.meid = rec->meid;
      d.serial_number = rec->serial_number;
      d.model = rec->model;
      d.profile_name = rec->profile_name;
      d.knox_status = rec->knox_status;
      d.tags = rec->tags;
      d.attributes = rec->attributes;
      d.source = rec->source;
      d.user_id = rec->user_id;
      d.user_by_deployment = rec->user_by_deployment;
      d.policy_id = rec->policy_id;
      d.ruleset_id = rec->ruleset_id;
      return std::optional<KmeViewDevice>(std::move(d));
    };
    h.match_user = [this](const std::string& name) -> Result<std::string> {
      if (!users::ValidateUsername(name).ok()) return std::string();
      const std::string id = users::UserIdFor(kUserIdKey, name);
      AE_ASSIGN_OR_RETURN(auto raw, views_->Get("users", id));
      if (!raw) return std::string();
      json rec = json::parse(*raw, nullptr, false);
      if (!rec.is_object() || rec.value("deleted", false)) return std::string();
      return id;
    };
    h.wait_for_views = [this](const LogPosition& p, std::chrono::milliseconds timeout) {
      return runner_->WaitUntilCovers(p, timeout);
    };
    return h;
  }

  std::string CreateUser(const std::string& name) {
    const std::string id = users::UserIdFor(kUserIdKey, name);
    v1::PersonalData pd;
    pd.set_username(name);
    auto sealed = person_keys_->Seal(id, pd);
    EXPECT_THAT(sealed, IsOk());
    auto created = bus_->Execute(
        StreamId("user", id),
        users::UserDecider(users::CreateUser{id, v1::ROLE_DEVICE_USER, *sealed, "test"}), ctx_);
    EXPECT_THAT(created, IsOk());
    EXPECT_TRUE(runner_->WaitUntilCovers(created->position, kViewWait));
    return id;
  }

  // The device id the view gives identifiers ("" none).
  std::string DeviceId(const dkme::Identifiers& ids) {
    auto id = FindKmeDevice(Hooks().views, ids);
    EXPECT_THAT(id, IsOk());
    return id.ok() ? *id : "";
  }

  // The KME device the identifiers name, as the views keep it (nullopt when none).
  std::optional<proj::KmeDeviceRecord> Device(const dkme::Identifiers& ids) {
    const std::string id = DeviceId(ids);
    if (id.empty()) return std::nullopt;
    auto rec = proj::ReadKmeRecord<proj::KmeDeviceRecord>(*views_, id);
    EXPECT_THAT(rec, IsOk());
    return rec.ok() ? *rec : std::nullopt;
  }

  // Records the connection to `simulator` with the credentials it issued.
  void Connect(sim::KnoxSimulator& simulator, const sim::KnoxIssuedCredentials& issued) {
    dkme::KnoxConnection c;
    c.connection_id = "connection-1";
    c.base_url = simulator.base_url();
    c.token_url = simulator.token_url();
    c.client_id = issued.client_id;
    c.client_secret_sha256 = crypto::Sha256(issued.client_secret);
    c.client_secret_ref = KnoxClientSecretName(crypto::Hex(c.client_secret_sha256));
    ASSERT_THAT(secrets_->Put(c.client_secret_ref, issued.client_secret), IsOk());
    ASSERT_THAT(bus_->Execute(StreamId(dkme::kKnoxStream),
                              dkme::KnoxDecider(dkme::ConnectKnox{c}), ctx_),
                IsOk());
  }

  static KnoxSyncOptions SyncOptions() {
    KnoxSyncOptions o;
    o.run_background = false;
    o.page_size = 10;  // three pages
    o.retry = {.base_ms = 10, .max_ms = 100, .deadline_ms = 10'000};
    return o;
  }

  KnoxSyncHooks SyncHooks() {
    KnoxSyncHooks hooks;
    hooks.wait_for_views = [this](const LogCursor& cursor, std::chrono::milliseconds timeout) {
      return runner_->WaitUntilCovers(cursor, timeout);
    };
    return hooks;
  }

  size_t KmeDeviceCount() {
    size_t n = 0;
    EXPECT_THAT(views_->Scan("kme_devices", "", "", [&](std::string_view, std::string_view) {
      ++n;
      return true;
    }),
                IsOk());
    return n;
  }

  TempDir dir_;
  std::unique_ptr<events::RocksDbEventLog> log_;
  std::unique_ptr<events::SecretStore> secrets_;
  std::unique_ptr<events::KeyBackend> key_backend_;
  std::unique_ptr<events::PersonKeys> person_keys_;
  std::vector<std::unique_ptr<proj::Projector>> projectors_;
  std::unique_ptr<proj::ViewStore> views_;
  std::unique_ptr<proj::ProjectionRunner> runner_;
  std::unique_ptr<domain::CommandBus> bus_;
  std::unique_ptr<KmeIngest> ingest_;
  domain::CommandContext ctx_;
};

// ---- the CSV import ---------------------------------------------------------------------

TEST_F(KnoxIngestTest, ImportsAPortalExportIntoTheInventory) {
  const std::string alice = CreateUser("alice");
  const std::string bob = CreateUser("bob");
  auto report = ingest_->ImportCsv(Fixture("portal_export_bom_crlf.csv"), {}, ctx_);
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->rows, 6u);
  EXPECT_EQ(report->created, 5u);
  EXPECT_EQ(report->rejected, 1u);  // line 4: an IMEI Excel turned into 3.5175E+14
  ASSERT_EQ(report->errors.size(), 1u);
  EXPECT_EQ(report->errors[0].line, 4u);
  EXPECT_EQ(report->users_matched, 3u);  // alice twice, bob; carol is no user
  EXPECT_TRUE(report->views_caught_up);
  EXPECT_TRUE(report->position.valid());

  EXPECT_EQ(KmeDeviceCount(), 5u);
  auto a = Device({kAliceImei, "", "", ""});
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->model, "SM-G991B");
  EXPECT_EQ(a->user_id, alice);
  EXPECT_EQ(a->source, "csv");
  auto b = Device({kBobImei, "", "", ""});
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->user_id, bob);
  auto m = Device({"", "", kMeid, ""});
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->user_id, "");  // no User ID: no user

  // Every event the import wrote went through the bus: stamped with the caller's actor and
  // correlation, and the summary closes the import's own stream.
  auto records = log_->Read(LogCursor(), 1000);
  ASSERT_THAT(records, IsOk());
  size_t imported = 0, summaries = 0;
  for (const auto& r : *records) {
    const auto& e = r.envelope;
    if (e.has_kme_device_imported()) ++imported;
    if (e.has_kme_import_completed()) {
      ++summaries;
      EXPECT_EQ(e.stream(), "kme-import/" + report->import_id);
      EXPECT_EQ(e.kme_import_completed().created(), 5u);
    }
    if (e.has_kme_device_imported() || e.has_kme_import_completed()) {
      EXPECT_EQ(e.actor().id(), "admin-id");
      EXPECT_EQ(e.correlation_id(), "request-7");
      EXPECT_FALSE(e.event_id().empty());
    }
  }
  EXPECT_EQ(imported, 5u);
  EXPECT_EQ(summaries, 1u);
}

TEST_F(KnoxIngestTest, ReimportingTheSameFileChangesNothing) {
  CreateUser("alice");
  const std::string csv = Fixture("portal_export_bom_crlf.csv");
  ASSERT_THAT(ingest_->ImportCsv(csv, {}, ctx_), IsOk());
  auto head = log_->Head();
  ASSERT_THAT(head, IsOk());
  auto again = ingest_->ImportCsv(csv, {}, ctx_);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->created, 0u);
  EXPECT_EQ(again->unchanged, 5u);
  EXPECT_EQ(again->events_appended, 1u);  // the summary alone
}

// A view behind the log (here: one that shows nothing) makes the ingest decide against a
// stale state; the bus finds the stream moved on and decides again against the stream, so
// nothing is created twice.
TEST_F(KnoxIngestTest, AStaleViewIsDecidedAgainAgainstTheStream) {
  const std::string csv = Fixture("portal_export_bom_crlf.csv");
  ASSERT_THAT(ingest_->ImportCsv(csv, {}, ctx_), IsOk());
  KmeIngestHooks stale = Hooks();
  stale.views = [](const std::string&, const std::string&) -> Result<std::optional<std::string>> {
    return std::optional<std::string>();
  };
  stale.kme_device = [](const std::string&) -> Result<std::optional<KmeViewDevice>> {
    return std::optional<KmeViewDevice>();
  };
  KmeIngest blind(*bus_, *person_keys_, std::move(stale));
  auto again = blind.ImportCsv(csv, {}, ctx_);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->created, 0u);
  EXPECT_EQ(again->unchanged, 5u);
  EXPECT_EQ(again->events_appended, 1u);
  EXPECT_EQ(KmeDeviceCount(), 5u);
  for (const dkme::Identifiers& ids :
       {dkme::Identifiers{kAliceImei, "", "", ""}, dkme::Identifiers{"", "", kMeid, ""}}) {
    const std::string id = DeviceId(ids);
    ASSERT_FALSE(id.empty());
    auto version = log_->GetStreamVersion(StreamId(dkme::kDeviceStreamType, id));
    ASSERT_THAT(version, IsOk());
    EXPECT_EQ(*version, 1u) << id;  // imported once, never again
  }
}

TEST_F(KnoxIngestTest, ADryRunAppendsNothing) {
  const std::string csv = Fixture("portal_export_bom_crlf.csv");
  KmeImportOptions o;
  o.dry_run = true;
  auto report = ingest_->ImportCsv(csv, o, ctx_);
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->created, 5u);
  EXPECT_EQ(report->events_appended, 0u);
  auto head = log_->Head();
  ASSERT_THAT(head, IsOk());
  auto records = log_->Read(LogCursor(), 10);
  ASSERT_THAT(records, IsOk());
  EXPECT_TRUE(records->empty());
}

TEST_F(KnoxIngestTest, AnEmptyFileIsRefusedBeforeAnythingIsWritten) {
  EXPECT_THAT(ingest_->ImportCsv("", {}, ctx_),
              StatusIs(StatusCode::kInvalidArgument, "kme.import_empty"));
  EXPECT_THAT(ingest_->ImportCsv("\r\n\r\n", {}, ctx_),
              StatusIs(StatusCode::kInvalidArgument, "kme.import_empty"));
  auto records = log_->Read(LogCursor(), 10);
  ASSERT_THAT(records, IsOk());
  EXPECT_TRUE(records->empty());
}

// ---- the Knox Cloud API sync ------------------------------------------------------------

TEST_F(KnoxIngestTest, ASyncImportsTheTenantsDevicesFromTheSimulator) {
  sim::KnoxSimulator simulator;
  const auto issued = simulator.IssueCredentials();
  auto devices = sim::KnoxSimulator::MakeDevices("SY", 25);
  ASSERT_THAT(simulator.AddResellerUpload(devices, {.auto_approve = true}), IsOk());

  Connect(simulator, issued);
  KnoxSync sync(*bus_, *secrets_, *ingest_, Clock::Real(), SyncOptions(), SyncHooks());
  auto report = sync.SyncNow(true);
  ASSERT_THAT(report, IsOk());
  EXPECT_THAT(report->error, IsOk());
  EXPECT_TRUE(report->full);
  EXPECT_EQ(report->devices_seen, 25u);
  EXPECT_EQ(report->created, 25u);
  EXPECT_EQ(report->rejected, 0u);
  ASSERT_TRUE(runner_->WaitUntilCovers(report->position, kViewWait));

  EXPECT_EQ(KmeDeviceCount(), 25u);
  auto d = Device({devices[0].imei, "", "", ""});
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->source, "knox_api");
  EXPECT_EQ(d->model, devices[0].model);
  EXPECT_FALSE(d->attributes["knox_device_id"].empty());

  // The summary is recorded on the connection's stream, through the bus.
  auto knox = LoadKnoxState(*log_);
  ASSERT_THAT(knox, IsOk());
  auto records = log_->ReadStream(StreamId(dkme::kKnoxStream), 1, SIZE_MAX);
  ASSERT_THAT(records, IsOk());
  ASSERT_FALSE(records->empty());
  const auto& last = records->back().envelope;
  ASSERT_TRUE(last.has_kme_sync_completed());
  EXPECT_EQ(last.kme_sync_completed().created(), 25u);
  EXPECT_EQ(last.kme_sync_completed().sync_id(), report->sync_id);

  // A second sync finds nothing new.
  auto again = sync.SyncNow(false);
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(again->error, IsOk());
  EXPECT_EQ(again->created, 0u);
  EXPECT_EQ(again->events_written, 0u);
}

// The sync reads the time it is given (the App's clock), not the machine's: its start, the
// sync id and the incremental window are those of that clock.
TEST_F(KnoxIngestTest, ASyncPlansAndRecordsByTheClockItIsGiven) {
  sim::KnoxSimulator simulator;
  const auto issued = simulator.IssueCredentials();
  ASSERT_THAT(simulator.AddResellerUpload(sim::KnoxSimulator::MakeDevices("CK", 3),
                                          {.auto_approve = true}),
              IsOk());
  Connect(simulator, issued);
  constexpr int64_t kT0 = 1'650'000'000'000;  // 2022-04-15, long before this machine's now
  ManualClock clock(kT0);
  KnoxSync sync(*bus_, *secrets_, *ingest_, clock, SyncOptions(), SyncHooks());

  auto full = sync.SyncNow(false);  // a new connection: full
  ASSERT_THAT(full, IsOk());
  EXPECT_THAT(full->error, IsOk());
  EXPECT_TRUE(full->full);
  EXPECT_EQ(full->started_ms, kT0);
  EXPECT_EQ(full->created, 3u);
  auto records = log_->ReadStream(StreamId(dkme::kKnoxStream), 1, SIZE_MAX);
  ASSERT_THAT(records, IsOk());
  ASSERT_TRUE(records->back().envelope.has_kme_sync_completed());
  EXPECT_EQ(records->back().envelope.kme_sync_completed().started_at().seconds(), kT0 / 1000);
  EXPECT_EQ(records->back().envelope.kme_sync_completed().sync_id(), full->sync_id);

  // An hour later by that clock: incremental, from the first sync's start minus the overlap.
  clock.Advance(3600 * 1000);
  auto incremental = sync.SyncNow(false);
  ASSERT_THAT(incremental, IsOk());
  EXPECT_THAT(incremental->error, IsOk());
  EXPECT_FALSE(incremental->full);
  EXPECT_EQ(incremental->started_ms, kT0 + 3600 * 1000);
  EXPECT_EQ(incremental->changed_after_ms, kT0 - sync.options().policy.overlap_ms);
  EXPECT_EQ(incremental->created, 0u);
}

}  // namespace
}  // namespace ae::knox
