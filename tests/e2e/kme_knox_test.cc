// The Knox Cloud API sync over the autoenroll binary, against `autoenroll sim knox`: the
// connection settings, devices imported as source "knox_api" through the same events as
// the portal CSV, users matched by userName, uploads approved, idempotent re-syncs, one
// device whatever the source, and the connection's state when Samsung refuses the secret.

#include <set>

#include "adapters/samsung_knox/knox_client.h"
#include "events/base/clock.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

std::string S(const json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

constexpr const char* kDeviceEventTypes[] = {"KmeDeviceImported", "KmeDeviceUpdated",
                                             "DeviceUserAssigned"};

class KmeKnoxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto api = sim_.Start({"sim", "knox", "--listen", "127.0.0.1:0"}, "listening on ");
    ASSERT_THAT(api, IsOk());
    api_url_ = *api;
    auto control = sim_.ReadLine("control on ");
    ASSERT_THAT(control, IsOk());
    control_port_ = PortOf(*control);
    engine_ = std::make_unique<EngineProcess>(
        dir_.Sub("data"),
        std::vector<std::string>{"--knox-api-url", api_url_, "--knox-sync-interval", "0"});
    ASSERT_THAT(engine_->Start(), IsOk());
    admin_ = engine_->AdminToken();
    ASSERT_FALSE(admin_.empty());
  }

  HttpAnswer Control(const std::string& method, const std::string& path,
                     const json& body = nullptr) {
    return CallLoopback(control_port_, method, path, body.is_null() ? "" : body.dump());
  }
  json Credentials() {
    auto c = Control("POST", "/sim/credentials", {{"scopes", "kme"}});
    EXPECT_EQ(c.status, 201) << c.body;
    return c.json;
  }
  // A reseller upload of `count` devices; their {id, imei, serial, model}.
  json Upload(int count, const std::string& prefix, bool auto_approve) {
    auto up = Control("POST", "/sim/devices",
                      {{"count", count}, {"prefix", prefix}, {"auto_approve", auto_approve}});
    EXPECT_EQ(up.status, 201) << up.body;
    return up.json;
  }
  // The Knox portal's side: a client of the tenant (to assign EMM user ids, as an
  // administrator does in the Knox console).
  std::unique_ptr<knox::KnoxClientImpl> PortalClient(const json& creds) {
    knox::KnoxClientOptions o;
    o.base_url = creds.value("api_url", "");
    o.token_url = creds.value("token_url", "");
    o.credential_public_key = creds.value("credential_public_key", "");
    o.retry = {.base_ms = 10, .max_ms = 100, .deadline_ms = 10'000};
    auto client = knox::KnoxClientImpl::Create(
        o, {creds.value("client_id", ""), creds.value("client_secret", "")}, Clock::Real(),
        http::Sleeper::Real(), http::Random::Real());
    EXPECT_THAT(client, IsOk());
    return client.ok() ? std::move(client).value() : nullptr;
  }

  void CreateUser(const std::string& name) {
    auto u = engine_->Post("/v1/users", json{{"username", name}, {"role", "device_user"}}.dump(),
                           admin_);
    ASSERT_EQ(u.status, 201) << u.body;
  }
  HttpAnswer Connect(const json& body) {
    return engine_->Send("PUT", "/v1/kme/knox", body.dump(), admin_, "application/json");
  }
  json Knox() {
    auto k = engine_->Get("/v1/kme/knox", admin_);
    EXPECT_EQ(k.status, 200) << k.body;
    return k.json;
  }
  // Waits for a sync other than `after` (a sync id, "" = any) and returns its summary.
  json WaitForSync(const std::string& after) {
    json last;
    bool done = WaitFor(
        [&] {
          json k = Knox();
          if (!k.is_object() || !k["last_sync"].is_object()) return false;
          if (k["last_sync"].value("sync_id", "") == after) return false;
          last = k;
          return true;
        },
        std::chrono::seconds(60));
    EXPECT_TRUE(done) << "no sync after " << after << ": " << Knox().dump();
    return last;
  }
  json SyncAndWait(const std::string& after, bool full = false) {
    auto s = engine_->Post(std::string("/v1/kme/knox/sync") + (full ? "?full=true" : ""), "",
                           admin_);
    EXPECT_EQ(s.status, 202) << s.body;
    return WaitForSync(after);
  }
  std::vector<json> Events(const std::string& type = "") {
    std::vector<json> out;
    std::string cursor;
    for (int page = 0; page < 100; ++page) {
      std::string path = "/v1/events?limit=1000" + (type.empty() ? "" : "&type=" + type) +
                         (cursor.empty() ? "" : "&cursor=" + cursor);
      auto r = engine_->Get(path, admin_);
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) break;
      for (const auto& e : r.json["items"]) out.push_back(e);
      if (r.json["next_cursor"].is_null()) break;
      cursor = r.json["next_cursor"].get<std::string>();
    }
    return out;
  }
  size_t DeviceEventCount() {
    size_t n = 0;
    for (const char* t : kDeviceEventTypes) n += Events(t).size();
    return n;
  }
  json Device(const std::string& id) {
    auto d = engine_->Get("/v1/kme/devices/" + id, admin_);
    EXPECT_EQ(d.status, 200) << id << ": " << d.body;
    return d.json;
  }
  std::vector<json> Devices() {
    auto d = engine_->Get("/v1/kme/devices?limit=1000", admin_);
    EXPECT_EQ(d.status, 200) << d.body;
    std::vector<json> out;
    if (d.json.is_object()) {
      for (const auto& x : d.json["items"]) out.push_back(x);
    }
    return out;
  }

  TempDir dir_;
  ChildProcess sim_;
  std::string api_url_;
  int control_port_ = 0;
  std::unique_ptr<EngineProcess> engine_;
  std::string admin_;
};

TEST_F(KmeKnoxTest, ASyncImportsKnoxDevicesMatchesUsersApprovesUploadsAndChangesNothingTwice) {
  CreateUser("alice");
  CreateUser("bob");
  const json creds = Credentials();
  const std::string secret = S(creds["client_secret"]);

  // Connect (no devices yet): the connection's first sync runs at once.
  auto put = Connect({{"client_id", creds["client_id"]},
                      {"client_secret", secret},
                      {"auto_approve_uploads", true}});
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json["configured"], true);
  EXPECT_EQ(put.json["base_url"], api_url_);
  EXPECT_EQ(put.json["token_url"], api_url_ + "/ams/v1/oauth2/token");
  EXPECT_EQ(put.json["client_id"], creds["client_id"]);
  EXPECT_EQ(put.json["auto_approve_uploads"], true);
  EXPECT_FALSE(put.Header("X-Log-Position").empty());
  EXPECT_THAT(put.body, Not(HasSubstr(secret)));
  json first = WaitForSync("");
  EXPECT_EQ(first["state"], "ok") << first.dump();
  EXPECT_EQ(first["last_sync"]["devices_seen"], 0);
  EXPECT_EQ(first["last_sync"]["full"], true);

  // The tenant: 5 approved devices, 3 with an EMM user id (two name engine users), and a
  // pending upload of 2 more.
  auto profile = Control("POST", "/sim/profiles", {{"name", "Corp DO"}});
  ASSERT_EQ(profile.status, 201) << profile.body;
  const json approved = Upload(5, "K1", true);
  ASSERT_EQ(approved["devices"].size(), 5u);
  const json pending = Upload(2, "K2", false);
  ASSERT_EQ(pending["status"], "Pending");
  auto portal = PortalClient(creds);
  ASSERT_NE(portal, nullptr);
  auto assigned = portal->AssignProfile(
      S(profile.json["id"]),
      {{S(approved["devices"][0]["id"]), "alice", ""},
       {S(approved["devices"][1]["id"]), "bob", "one-time-password"},
       {S(approved["devices"][2]["id"]), "nobody@example.com", ""}});
  ASSERT_THAT(assigned, IsOk());

  // A device the portal CSV brought in first, and one only the CSV knows.
  const std::string shared_imei = S(approved["devices"][3]["imei"]);
  const std::string shared_serial = S(approved["devices"][3]["serial"]);
  const std::string csv = "IMEI/MEID,Serial number,Model,User ID,Order number\n" + shared_imei +
                          "," + shared_serial + ",SM-G991B,,PO-7\n350925370583126,,SM-A536B,,PO-7\n";
  auto imported = engine_->Post("/v1/kme/imports", csv, admin_, "text/csv");
  ASSERT_EQ(imported.status, 200) << imported.body;
  ASSERT_EQ(imported.json["created"], 2);

  json second = SyncAndWait(S(first["last_sync"]["sync_id"]));
  const json& s2 = second["last_sync"];
  EXPECT_EQ(second["state"], "ok") << second.dump();
  EXPECT_FALSE(s2.contains("error")) << s2.dump();
  EXPECT_EQ(s2["uploads_approved"], 1) << s2.dump();
  EXPECT_EQ(s2["devices_seen"], 7) << s2.dump();
  EXPECT_EQ(s2["created"], 6) << s2.dump();  // the CSV's device is updated, not created
  EXPECT_EQ(s2["updated"], 1) << s2.dump();
  EXPECT_EQ(s2["rejected"], 0) << s2.dump();
  EXPECT_EQ(s2["users_matched"], 2) << s2.dump();
  EXPECT_EQ(s2["full"], false) << s2.dump();  // after a successful first sync
  EXPECT_EQ(Control("GET", "/sim/devices/" + S(pending["devices"][0]["id"]))
                .json["status"],
            "UNASSIGNED");

  // The devices, as /v1/kme/devices shows them: one per device whatever the source.
  std::vector<json> devices = Devices();
  EXPECT_EQ(devices.size(), 8u);
  std::set<std::string> sources;
  for (const auto& d : devices) sources.insert(d.value("source", ""));
  EXPECT_EQ(sources, (std::set<std::string>{"csv", "knox_api"}));
  json alice = Device(S(approved["devices"][0]["imei"]));
  EXPECT_EQ(alice["source"], "knox_api");
  EXPECT_EQ(alice["user"], "alice");
  EXPECT_EQ(alice["profile_name"], "Corp DO");
  EXPECT_EQ(alice["knox_status"], "PROFILE_ASSIGNED");
  EXPECT_EQ(alice["serial_number"], approved["devices"][0]["serial"]);
  EXPECT_EQ(alice["attributes"]["knox_device_id"], approved["devices"][0]["id"]);
  EXPECT_EQ(alice["attributes"]["upload_id"], approved["upload_id"]);
  EXPECT_EQ(Device(S(approved["devices"][1]["serial"]))["user"], "bob");
  EXPECT_EQ(Device(S(approved["devices"][2]["imei"]))["user"], "");  // no such engine user
  json from_pending = Device(S(pending["devices"][1]["imei"]));
  EXPECT_EQ(from_pending["source"], "knox_api");
  EXPECT_EQ(from_pending["knox_status"], "UNASSIGNED");
  EXPECT_EQ(from_pending["attributes"]["upload_id"], pending["upload_id"]);
  json shared = Device(shared_serial);
  EXPECT_EQ(shared["id"], "imei:" + shared_imei);
  EXPECT_EQ(shared["source"], "csv");  // how the record was first made
  EXPECT_EQ(shared["attributes"]["knox_device_id"], approved["devices"][3]["id"]);
  auto history = engine_->Get("/v1/kme/devices/" + shared_serial + "/history", admin_);
  ASSERT_EQ(history.status, 200) << history.body;
  ASSERT_EQ(history.json["count"], 2) << history.body;
  EXPECT_EQ(history.json["items"][0]["summary"], "imported from the Knox portal CSV");
  EXPECT_EQ(history.json["items"][1]["summary"], "updated from the Knox Cloud API");
  for (const auto& e : Events("KmeDeviceImported")) {
    if (e["data"].value("source", "") != "KME_SOURCE_KNOX_API") continue;
    EXPECT_EQ(e["data"]["import_id"], s2["sync_id"]);  // the sync's device events
  }

  // Nothing changed at Samsung: a sync appends no device event, full or not.
  const size_t device_events = DeviceEventCount();
  json third = SyncAndWait(S(s2["sync_id"]));
  EXPECT_EQ(third["last_sync"]["devices_seen"], 7) << third.dump();
  EXPECT_EQ(third["last_sync"]["unchanged"], 7) << third.dump();
  EXPECT_EQ(third["last_sync"]["events_written"], 0) << third.dump();
  json fourth = SyncAndWait(S(third["last_sync"]["sync_id"]), /*full=*/true);
  EXPECT_EQ(fourth["last_sync"]["full"], true);
  EXPECT_EQ(fourth["last_sync"]["unchanged"], 7) << fourth.dump();
  EXPECT_EQ(fourth["last_sync"]["events_written"], 0) << fourth.dump();
  EXPECT_EQ(DeviceEventCount(), device_events);

  // A change at Samsung comes through as an update.
  ASSERT_EQ(Control("POST",
                    "/sim/devices/" + S(approved["devices"][4]["id"]) + "/state",
                    {{"state", "Enrolled"}})
                .status,
            200);
  json fifth = SyncAndWait(S(fourth["last_sync"]["sync_id"]));
  EXPECT_EQ(fifth["last_sync"]["updated"], 1) << fifth.dump();
  EXPECT_EQ(fifth["last_sync"]["created"], 0) << fifth.dump();
  EXPECT_EQ(Device(S(approved["devices"][4]["imei"]))["knox_status"], "ENROLLED");

  // The client secret is in no answer, no event and no log line.
  EXPECT_THAT(engine_->Get("/v1/kme/knox", admin_).body, Not(HasSubstr(secret)));
  std::string all_events;
  for (const auto& e : Events()) all_events += e.dump();
  EXPECT_THAT(all_events, HasSubstr("KmeKnoxConnected"));
  EXPECT_THAT(all_events, Not(HasSubstr(secret)));
  EXPECT_THAT(all_events, Not(HasSubstr("one-time-password")));
  EXPECT_THAT(engine_->LogText(), Not(HasSubstr(secret)));
  EXPECT_THAT(engine_->LogText(), HasSubstr("knox sync"));
}

TEST_F(KmeKnoxTest, AWrongSecretMakesTheConnectionUnauthorizedUntilItIsFixed) {
  const json creds = Credentials();
  Upload(3, "U1", true);
  auto put = Connect({{"client_id", creds["client_id"]}, {"client_secret", "not-the-secret"}});
  ASSERT_EQ(put.status, 200) << put.body;
  json bad = WaitForSync("");
  EXPECT_EQ(bad["state"], "unauthorized") << bad.dump();
  EXPECT_EQ(bad["last_sync"]["error"]["code"], "knox.unauthorized") << bad.dump();
  EXPECT_EQ(bad["last_sync"]["devices_seen"], 0);
  EXPECT_EQ(Devices().size(), 0u);
  EXPECT_EQ(engine_->Get("/healthz").status, 200);

  // The right secret: a new connection, synced at once.
  auto fixed = Connect({{"client_id", creds["client_id"]}, {"client_secret", creds["client_secret"]}});
  ASSERT_EQ(fixed.status, 200) << fixed.body;
  EXPECT_EQ(fixed.json["state"], "never_synced");
  EXPECT_TRUE(fixed.json["last_sync"].is_null());
  json ok = WaitForSync(S(bad["last_sync"]["sync_id"]));
  EXPECT_EQ(ok["state"], "ok") << ok.dump();
  EXPECT_EQ(ok["last_sync"]["created"], 3) << ok.dump();
  EXPECT_EQ(Devices().size(), 3u);
  EXPECT_THAT(engine_->LogText(), Not(HasSubstr(S(creds["client_secret"]))));
  EXPECT_THAT(engine_->LogText(), Not(HasSubstr("not-the-secret")));

  // Changing a setting keeps the secret when none is sent.
  auto again = Connect({{"client_id", creds["client_id"]}, {"auto_approve_uploads", true}});
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json["auto_approve_uploads"], true);
  json kept = WaitForSync(S(ok["last_sync"]["sync_id"]));
  EXPECT_EQ(kept["state"], "ok") << kept.dump();
}

TEST_F(KmeKnoxTest, AnAnswerSamsungRefusesMakesTheConnectionUnavailable) {
  const json creds = Credentials();
  ASSERT_EQ(Control("POST", "/sim/faults",
                    {{"path", "/kcs/v1/kme/devices/list"}, {"status", 404}, {"count", 1}})
                .status,
            200);
  auto put = Connect({{"client_id", creds["client_id"]}, {"client_secret", creds["client_secret"]}});
  ASSERT_EQ(put.status, 200) << put.body;
  json failed = WaitForSync("");
  EXPECT_EQ(failed["state"], "unavailable") << failed.dump();
  EXPECT_TRUE(failed["last_sync"]["error"].is_object()) << failed.dump();
  json next = SyncAndWait(S(failed["last_sync"]["sync_id"]));
  EXPECT_EQ(next["state"], "ok") << next.dump();
  EXPECT_EQ(next["last_sync"]["full"], true);  // no successful sync before it
}

TEST_F(KmeKnoxTest, ADeviceWithoutAUsableIdentifierIsRejectedAndTheSyncGoesOn) {
  const json creds = Credentials();
  // Samsung's first page: a device whose "mei" a spreadsheet mangled, and a good one.
  const json page = {{"totalCount", 2},
                     {"deviceList",
                      {{{"id", "X1"}, {"mei", "3.50925E+14"}, {"model", "SM-G991B"}},
                       {{"id", "X2"},
                        {"mei", "352099001761481"},
                        {"serialNumber", "R58X0000001"},
                        {"model", "SM-G991B"}}}}};
  ASSERT_EQ(Control("POST", "/sim/faults",
                    {{"path", "/kcs/v1/kme/devices/list"},
                     {"status", 200},
                     {"count", 1},
                     {"body", page.dump()}})
                .status,
            200);
  auto put = Connect({{"client_id", creds["client_id"]}, {"client_secret", creds["client_secret"]}});
  ASSERT_EQ(put.status, 200) << put.body;
  json synced = WaitForSync("");
  const json& last = synced["last_sync"];
  EXPECT_EQ(synced["state"], "ok") << synced.dump();
  EXPECT_FALSE(last.contains("error")) << last.dump();
  EXPECT_EQ(last["devices_seen"], 2) << last.dump();
  EXPECT_EQ(last["created"], 1) << last.dump();
  EXPECT_EQ(last["rejected"], 1) << last.dump();
  ASSERT_EQ(last["errors"].size(), 1u) << last.dump();
  EXPECT_EQ(last["errors"][0]["code"], "kme.bad_identifier");
  EXPECT_EQ(last["errors"][0]["knox_device_id"], "X1");
  json good = Device("R58X0000001");
  EXPECT_EQ(good["imei"], "352099001761481");
  EXPECT_EQ(good["attributes"]["knox_device_id"], "X2");
}

TEST_F(KmeKnoxTest, StoppingTheEngineCancelsASyncThatIsWaitingForSamsung) {
  // Nothing answers there: the sync retries with backoff until its deadline (minutes).
  auto put = Connect({{"client_id", "c"},
                      {"client_secret", "s"},
                      {"base_url", "http://127.0.0.1:1"},
                      {"token_url", "http://127.0.0.1:1/token"}});
  ASSERT_EQ(put.status, 200) << put.body;
  ASSERT_TRUE(WaitFor([&] { return engine_->LogText().find("retrying in") != std::string::npos; },
                      std::chrono::seconds(30)))
      << engine_->LogText();
  EXPECT_EQ(engine_->Stop(SIGTERM), 0);  // within EngineProcess's 30 s, not the minutes
  EngineProcess restarted(engine_->data_dir(), {"--knox-sync-interval", "0"});
  ASSERT_THAT(restarted.Start(), IsOk());
  auto k = restarted.Get("/v1/kme/knox", admin_);
  ASSERT_EQ(k.status, 200) << k.body;
  EXPECT_EQ(k.json["last_sync"]["error"]["code"], "kme.knox_sync_cancelled") << k.body;
  EXPECT_EQ(k.json["state"], "never_synced") << k.body;  // a cancelled sync leaves the state
}

TEST_F(KmeKnoxTest, ConnectionSettingsAreValidatedAndNeedAnAdministrator) {
  EXPECT_EQ(Knox()["configured"], false);
  EXPECT_EQ(Knox()["base_url"], api_url_);  // the --knox-api-url default
  EXPECT_EQ(Knox()["state"], "never_synced");
  auto sync = engine_->Post("/v1/kme/knox/sync", "", admin_);
  EXPECT_EQ(sync.status, 409) << sync.body;
  EXPECT_EQ(sync.json["error"]["code"], "kme.knox_not_connected");

  auto expect_400 = [&](const json& body, const std::string& code, const std::string& field) {
    auto r = Connect(body);
    EXPECT_EQ(r.status, 400) << body.dump() << " -> " << r.body;
    EXPECT_EQ(r.json["error"]["code"], code) << r.body;
    EXPECT_EQ(r.json["error"]["field"], field) << r.body;
  };
  expect_400({{"client_secret", "s"}}, "request.missing_field", "client_id");
  expect_400({{"client_id", "c"}}, "request.missing_field", "client_secret");
  expect_400({{"client_id", "c"}, {"client_secret", "s"}, {"base_url", "ftp://knox"}},
             "kme.knox_bad_url", "base_url");
  expect_400({{"client_id", "c"}, {"client_secret", "s"}, {"token_url", "not a url"}},
             "kme.knox_bad_url", "token_url");
  expect_400({{"client_id", "c"}, {"client_secret", "s"}, {"auto_approve_uploads", "yes"}},
             "request.bad_field", "auto_approve_uploads");
  expect_400({{"client_id", 7}, {"client_secret", "s"}}, "request.bad_field", "client_id");
  expect_400({{"client_id", "c"}, {"client_secret", "s"}, {"customer_id", std::string(65, '1')}},
             "request.bad_field", "customer_id");

  // A device manager may read and sync, not connect.
  auto u = engine_->Post("/v1/users", R"({"username":"manny","role":"device_manager"})", admin_);
  ASSERT_EQ(u.status, 201) << u.body;
  auto t = engine_->Post("/v1/users/manny/tokens", "", admin_);
  ASSERT_EQ(t.status, 201) << t.body;
  const std::string manager = S(t.json["token"]);
  auto denied = engine_->Send("PUT", "/v1/kme/knox",
                              json{{"client_id", "c"}, {"client_secret", "s"}}.dump(), manager,
                              "application/json");
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_EQ(engine_->Get("/v1/kme/knox", manager).status, 200);

  // Explicit URLs (where nothing answers: no call leaves this machine); then disconnect.
  auto put = Connect({{"client_id", "c"},
                      {"client_secret", "s"},
                      {"base_url", "http://127.0.0.1:1/knox/"},
                      {"token_url", "http://127.0.0.1:1/token"},
                      {"customer_id", "1000000001"}});
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json["base_url"], "http://127.0.0.1:1/knox");
  EXPECT_EQ(put.json["token_url"], "http://127.0.0.1:1/token");
  EXPECT_EQ(put.json["customer_id"], "1000000001");
  auto del = engine_->Delete("/v1/kme/knox", admin_);
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(del.json["configured"], false);
  EXPECT_EQ(Knox()["configured"], false);
  EXPECT_EQ(engine_->Post("/v1/kme/knox/sync", "", admin_).status, 409);
  EXPECT_EQ(engine_->Delete("/v1/kme/knox", admin_).status, 200);  // idempotent
}

}  // namespace
}  // namespace ae::testing
