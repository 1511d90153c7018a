// Apple DEP end to end: the autoenroll binary against the Apple DEP simulator,
// both on loopback. Account -> token -> sync -> profile -> assignment -> pushed
// -> removed, with the failure paths an administrator meets.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "adapters/apple_dep/server_identity.h"
#include "adapters/apple_mdm/checkin.h"
#include "adapters/apple_mdm/machine_info.h"
#include "adapters/apple_mdm/mdm_ca.h"
#include "adapters/simulators/apple_device_simulator.h"
#include "adapters/simulators/apple_dep_simulator.h"
#include "events/base/crypto.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr char kServer[] = "MDM Server 1";

class DepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto authority = mdm::TestDeviceAuthority::Generate();
    ASSERT_TRUE(authority.ok());
    authority_.emplace(std::move(*authority));
    std::string ca_path = dir_.Sub("device-ca.pem");
    std::ofstream(ca_path) << authority_->CaPem();
    engine_ = std::make_unique<EngineProcess>(
        dir_.Sub("data"), std::vector<std::string>{"--apple-dep-url", sim_.base_url(),
                                                   "--dep-sync-interval", "3600",
                                                   "--dep-retry-tick", "1",
                                                   "--apple-device-ca", ca_path,
                                                   "--agent-manifest-url",
                                                   "https://apps.example.com/agent.plist"});
    ASSERT_THAT(engine_->Start(), IsOk());
    admin_ = engine_->AdminToken();
  }

  // An account with an uploaded token for `server` and `devices` devices at Apple.
  json ActiveAccount(size_t devices, const std::string& server = kServer,
                     const std::string& prefix = "C02") {
    auto acc = engine_->Post("/v1/dep/accounts", json{{"name", server}}.dump(), admin_);
    EXPECT_EQ(acc.status, 201) << acc.body;
    std::string id = acc.json.value("id", "");
    auto cert = engine_->Get("/v1/dep/accounts/" + id + "/certificate", admin_);
    EXPECT_EQ(cert.status, 200);
    auto p7m = sim_.IssueToken(cert.body, server);
    EXPECT_TRUE(p7m.ok());
    if (devices > 0) {
      EXPECT_THAT(sim_.AddDevices(server, sim::AppleDepSimulator::MakeDevices(prefix, devices)),
                  IsOk());
    }
    auto up = engine_->Send("PUT", "/v1/dep/accounts/" + id + "/token", *p7m, admin_,
                            "application/pkcs7-mime");
    EXPECT_EQ(up.status, 200) << up.body;
    if (devices > 0) WaitForCount(id, "total", devices);
    return up.json;
  }

  json Account(const std::string& id) { return engine_->Get("/v1/dep/accounts/" + id, admin_).json; }

  void WaitForCount(const std::string& id, const std::string& bucket, size_t n) {
    EXPECT_TRUE(WaitFor([&] {
      return Account(id)["device_counts"].value(bucket, 0) == static_cast<int>(n);
    }, std::chrono::seconds(30))) << Account(id).dump();
  }

  json Device(const std::string& serial) {
    return engine_->Get("/v1/dep/devices/" + serial, admin_).json;
  }

  bool WaitForDevice(const std::string& serial, const std::function<bool(const json&)>& pred) {
    return WaitFor([&] { return pred(Device(serial)); }, std::chrono::seconds(30));
  }

  json DefineProfile(const std::string& account_id, const std::string& name,
                     bool await_configured = false) {
    auto p = engine_->Post("/v1/dep/profiles",
                           json{{"account_id", account_id},
                                {"profile_name", name},
                                {"is_mandatory", true},
                                {"is_mdm_removable", false},
                                {"is_supervised", true},
                                {"await_device_configured", await_configured},
                                {"skip_setup_items", {"AppleID", "TOS", "SIMSetup"}},
                                {"department", "IT"}}
                               .dump(),
                           admin_);
    EXPECT_EQ(p.status, 201) << p.body;
    return p.json;
  }

  void Sync(const std::string& id) {
    auto s = engine_->Post("/v1/dep/accounts/" + id + "/sync", "", admin_);
    EXPECT_EQ(s.status, 202) << s.body;
  }

  std::unique_ptr<sim::AppleDeviceSimulator> Phone(const std::string& serial,
                                                   const mdm::TestDeviceAuthority* authority = nullptr) {
    sim::AppleDeviceSimulatorOptions o;
    o.base_url = "http://127.0.0.1:" + std::to_string(engine_->port());
    o.serial = serial;
    o.udid = "00008030-" + serial;
    o.authority = authority ? authority : &*authority_;
    o.sha1 = true;  // as real devices sign; the device CA expired long ago, as Apple's did
    return std::make_unique<sim::AppleDeviceSimulator>(o);
  }
  std::string Enroll() { return "http://127.0.0.1:" + std::to_string(engine_->port()) + "/enroll/apple"; }

  // An account with `n` devices, a profile and a user; the first `ready` devices are
  // assigned both (they may enroll). Returns the serials.
  std::vector<std::string> EnrollableDevices(size_t n, size_t ready, std::string* account = nullptr) {
    json acc = ActiveAccount(n);
    std::string id = acc["id"];
    if (account != nullptr) *account = id;
    json profile = DefineProfile(id, "Staff");
    EXPECT_EQ(engine_->Post("/v1/users", R"({"username":"dora","role":"device_user"})", admin_).status, 201);
    std::vector<std::string> serials;
    const json items = engine_->Get("/v1/dep/devices", admin_).json["items"];
    for (const auto& d : items) serials.push_back(d["serial_number"]);
    EXPECT_EQ(serials.size(), n);
    serials.resize(n);
    for (size_t i = 0; i < ready && i < serials.size(); ++i) {
      EXPECT_EQ(engine_->Send("PATCH", "/v1/dep/devices/" + serials[i],
                              json{{"profile_id", profile["id"]}, {"user", "dora"}}.dump(), admin_,
                              "application/json").status, 200);
      EXPECT_TRUE(WaitForDevice(serials[i], [](const json& j) { return j["profile_status"] == "assigned"; }));
    }
    return serials;
  }

  // An Idle poll of the command channel signed with the phone's identity: the status.
  int IdlePoll(sim::AppleDeviceSimulator& phone) {
    const std::string body = mdm::BuildCommandResultPlist({phone.options().udid, "Idle", "", ""});
    auto sig = phone.MdmSignatureForTest(body);
    EXPECT_THAT(sig, IsOk());
    auto status = phone.PutForTest(phone.profile()->server_url, mdm::kCommandContentType, body, *sig);
    EXPECT_THAT(status, IsOk());
    return status.ok() ? *status : 0;
  }

  size_t CountEvents(const std::string& type) {
    return engine_->Get("/v1/events?type=" + type, admin_).json["items"].size();
  }

  TempDir dir_;
  std::optional<mdm::TestDeviceAuthority> authority_;
  sim::AppleDepSimulator sim_;
  std::unique_ptr<EngineProcess> engine_;
  std::string admin_;
};

TEST_F(DepTest, AccountMakesItsKeyPairAndWaitsForItsToken) {
  auto acc = engine_->Post("/v1/dep/accounts", R"({"name":"Campus"})", admin_);
  ASSERT_EQ(acc.status, 201) << acc.body;
  EXPECT_EQ(acc.json["state"], "awaiting_token");
  EXPECT_EQ(acc.json["name"], "Campus");
  EXPECT_FALSE(acc.Header("X-Log-Position").empty());
  std::string id = acc.json["id"];
  auto cert = engine_->Get("/v1/dep/accounts/" + id + "/certificate", admin_);
  ASSERT_EQ(cert.status, 200);
  EXPECT_EQ(cert.Header("Content-Type"), "application/x-pem-file");
  EXPECT_NE(cert.body.find("-----BEGIN CERTIFICATE-----"), std::string::npos);
  EXPECT_TRUE(dep::CertificatePublicKeyFingerprint(cert.body).ok());
  auto list = engine_->Get("/v1/dep/accounts", admin_);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json["items"].size(), 1u);
  EXPECT_EQ(list.json["items"][0]["id"], id);
  EXPECT_EQ(engine_->Get("/v1/dep/accounts/nope", admin_).status, 404);
  EXPECT_EQ(engine_->Post("/v1/dep/accounts", R"({})", admin_).status, 400);
  // Syncing without a token is refused with a reason.
  auto sync = engine_->Post("/v1/dep/accounts/" + id + "/sync", "", admin_);
  EXPECT_EQ(sync.status, 409);
  EXPECT_EQ(sync.json["error"]["code"], "dep.account_inactive");
}

TEST_F(DepTest, TokenUploadAcceptsApplesFileAndRefusesWrongOnesWithReasons) {
  auto a = engine_->Post("/v1/dep/accounts", R"({"name":"A"})", admin_);
  auto b = engine_->Post("/v1/dep/accounts", R"({"name":"B"})", admin_);
  std::string ida = a.json["id"], idb = b.json["id"];
  std::string cert_a = engine_->Get("/v1/dep/accounts/" + ida + "/certificate", admin_).body;
  std::string cert_b = engine_->Get("/v1/dep/accounts/" + idb + "/certificate", admin_).body;

  // A token made for B's certificate does not open with A's key.
  auto for_b = sim_.IssueToken(cert_b, "Server B");
  ASSERT_TRUE(for_b.ok());
  auto wrong = engine_->Send("PUT", "/v1/dep/accounts/" + ida + "/token", *for_b, admin_,
                             "application/pkcs7-mime");
  EXPECT_EQ(wrong.status, 422);
  EXPECT_EQ(wrong.json["error"]["code"], "dep.token_not_for_this_account");

  auto garbage = engine_->Send("PUT", "/v1/dep/accounts/" + ida + "/token", "not a token", admin_,
                               "application/pkcs7-mime");
  EXPECT_EQ(garbage.status, 422);
  EXPECT_EQ(garbage.json["error"]["code"], "dep.token_malformed");

  sim::IssueTokenOptions expired;
  expired.expiry_ms = Clock::Real().NowMs() - 3600'000;
  auto old = sim_.IssueToken(cert_a, "Server A", expired);
  ASSERT_TRUE(old.ok());
  auto past = engine_->Send("PUT", "/v1/dep/accounts/" + ida + "/token", *old, admin_,
                            "application/pkcs7-mime");
  EXPECT_EQ(past.status, 422);
  EXPECT_EQ(past.json["error"]["code"], "dep.token_expired");
  EXPECT_EQ(Account(ida)["state"], "awaiting_token");  // nothing was lost or half-written

  // Apple's own layout, wrapped JSON, OpenSSL header: all accepted.
  sim::IssueTokenOptions wrapped;
  wrapped.p7m.wrap_json_at = 37;
  wrapped.p7m.message_markers = false;
  auto good = sim_.IssueToken(cert_a, "Server A", wrapped);
  ASSERT_TRUE(good.ok());
  auto ok = engine_->Send("PUT", "/v1/dep/accounts/" + ida + "/token", *good, admin_,
                          "application/pkcs7-mime");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.json["state"], "active");
  EXPECT_TRUE(ok.json["token_expires_at"].is_string());
  EXPECT_TRUE(ok.json["token_warning"].is_null());
  // Account details come from Apple's /account.
  EXPECT_TRUE(WaitFor([&] { return Account(ida)["server_name"] == "Server A"; },
                      std::chrono::seconds(20)));
  EXPECT_EQ(Account(ida)["server_uuid"], *sim_.ServerUuid("Server A"));

  // A renewal (same MDM server, new credentials) replaces the token and warns near expiry.
  sim::IssueTokenOptions soon;
  soon.expiry_ms = Clock::Real().NowMs() + 10LL * 24 * 3600 * 1000;
  auto renewed = sim_.IssueToken(cert_a, "Server A", soon);
  ASSERT_TRUE(renewed.ok());
  auto up = engine_->Send("PUT", "/v1/dep/accounts/" + ida + "/token", *renewed, admin_,
                          "application/pkcs7-mime");
  // The simulator's renewal issues a new consumer key only for a new server, so
  // this is the same server's token.
  ASSERT_EQ(up.status, 200) << up.body;
  EXPECT_EQ(up.json["token_warning"], "expires_soon");

  // Only administrators upload tokens.
  auto u = engine_->Post("/v1/users", R"({"username":"mgr","role":"device_manager"})", admin_);
  auto t = engine_->Post("/v1/users/mgr/tokens", "", admin_);
  auto denied = engine_->Send("PUT", "/v1/dep/accounts/" + ida + "/token", *renewed,
                              t.json["token"], "application/pkcs7-mime");
  EXPECT_EQ(denied.status, 403);
}

TEST_F(DepTest, SyncPagesDevicesIntoTheInventoryAndOnlyRealChangesBecomeEvents) {
  json acc = ActiveAccount(250);
  std::string id = acc["id"];
  json counts = Account(id)["device_counts"];
  EXPECT_EQ(counts["total"], 250);
  EXPECT_EQ(counts["empty"], 250);
  // Paging through every device.
  std::set<std::string> serials;
  std::string cursor;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = engine_->Get("/v1/dep/devices?limit=100" +
                                 (cursor.empty() ? std::string() : "&cursor=" + cursor),
                             admin_);
    ASSERT_EQ(page.status, 200) << page.body;
    for (const auto& d : page.json["items"]) serials.insert(d["serial_number"].get<std::string>());
    if (page.json["next_cursor"].is_null()) break;
    cursor = page.json["next_cursor"];
  }
  EXPECT_EQ(serials.size(), 250u);
  std::string serial = *serials.begin();
  json d = Device(serial);
  EXPECT_EQ(d["profile_status"], "empty");
  EXPECT_TRUE(d["user"].is_null());
  EXPECT_EQ(d["account_id"], id);
  EXPECT_EQ(d["assigned_to_server"], true);
  EXPECT_FALSE(d["model"].get<std::string>().empty());

  // A second sync with nothing new at Apple appends no device event.
  auto before = engine_->Get("/v1/events?type=DepDeviceSynced&limit=1000", admin_);
  Sync(id);
  ASSERT_TRUE(WaitFor([&] {
    return Account(id)["sync"].value("running", true) == false &&
           Account(id)["sync"].value("mode", "") == "sync";
  }, std::chrono::seconds(20)));
  auto after = engine_->Get("/v1/events?type=DepDeviceSynced&limit=1000", admin_);
  EXPECT_EQ(after.json["items"].size(), before.json["items"].size());

  // Apple-side changes arrive on the next sync: a removal keeps the record.
  ASSERT_THAT(sim_.RemoveDevice(serial), IsOk());
  Sync(id);
  ASSERT_TRUE(WaitForDevice(serial, [](const json& j) { return j["assigned_to_server"] == false; }));
  WaitForCount(id, "total", 249);
  // Filters.
  auto filtered = engine_->Get("/v1/dep/devices?profile_status=pushed", admin_);
  EXPECT_EQ(filtered.json["items"].size(), 0u);
  EXPECT_EQ(engine_->Get("/v1/dep/devices?profile_status=bogus", admin_).status, 400);
  EXPECT_EQ(engine_->Get("/v1/dep/devices/NOSUCHSERIAL", admin_).status, 404);
}

TEST_F(DepTest, ProfilesAreValidatedDefinedAtAppleAndNeverDeleted) {
  json acc = ActiveAccount(0);
  std::string id = acc["id"];
  json p = DefineProfile(id, "Staff iPhones");
  EXPECT_EQ(p["state"], "defined");
  EXPECT_FALSE(p["profile_uuid"].get<std::string>().empty());
  auto at_apple = sim_.ProfileState(p["profile_uuid"].get<std::string>());
  ASSERT_TRUE(at_apple.has_value());
  EXPECT_EQ(at_apple->profile_name, "Staff iPhones");
  EXPECT_EQ(at_apple->is_mandatory, true);
  EXPECT_EQ(at_apple->skip_setup_items, (std::vector<std::string>{"AppleID", "TOS", "SIMSetup"}));
  EXPECT_NE(at_apple->url.find("/enroll/apple"), std::string::npos);

  auto bad_key = engine_->Post("/v1/dep/profiles",
                               json{{"account_id", id}, {"profile_name", "x"},
                                    {"skip_setup_items", {"appleid"}}}.dump(), admin_);
  EXPECT_EQ(bad_key.status, 400);
  EXPECT_EQ(bad_key.json["error"]["code"], "dep.skip_item_invalid");
  EXPECT_EQ(bad_key.json["error"]["field"], "skip_setup_items");
  auto no_name = engine_->Post("/v1/dep/profiles", json{{"account_id", id}}.dump(), admin_);
  EXPECT_EQ(no_name.status, 400);
  auto no_account = engine_->Post("/v1/dep/profiles",
                                  json{{"account_id", "acc_nope"}, {"profile_name", "x"}}.dump(),
                                  admin_);
  EXPECT_EQ(no_account.status, 422);
  EXPECT_EQ(no_account.json["error"]["code"], "dep.unknown_account");
  EXPECT_EQ(no_account.json["error"]["field"], "account_id");

  auto del = engine_->Delete("/v1/dep/profiles/" + p["id"].get<std::string>(), admin_);
  EXPECT_EQ(del.status, 405);
  EXPECT_EQ(del.json["error"]["code"], "dep.profile_delete_not_supported");
  auto list = engine_->Get("/v1/dep/profiles", admin_);
  EXPECT_EQ(list.json["items"].size(), 1u);
}

TEST_F(DepTest, AssignmentPushRemovalAndReassignmentFollowTheProductStatuses) {
  json acc = ActiveAccount(20);
  std::string id = acc["id"];
  json profile = DefineProfile(id, "Field");
  std::string pid = profile["id"], uuid = profile["profile_uuid"];
  ASSERT_EQ(engine_->Post("/v1/users", R"({"username":"bob","role":"device_user"})", admin_).status, 201);
  ASSERT_EQ(engine_->Post("/v1/policies", R"({"name":"Standard"})", admin_).status, 201);
  std::string serial = engine_->Get("/v1/dep/devices?limit=1", admin_).json["items"][0]["serial_number"];

  auto patched = engine_->Send("PATCH", "/v1/dep/devices/" + serial,
                               json{{"profile_id", pid}, {"user", "bob"}, {"policy", "Standard"}}.dump(),
                               admin_, "application/json");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json["user"], "bob");
  EXPECT_EQ(patched.json["policy"], "Standard");
  EXPECT_FALSE(patched.Header("X-Log-Position").empty());
  ASSERT_TRUE(WaitForDevice(serial, [](const json& j) { return j["profile_status"] == "assigned"; }))
      << Device(serial).dump();
  EXPECT_EQ(sim_.DeviceState(serial)->profile_uuid, uuid);
  WaitForCount(id, "assigned", 1);

  // The device fetched its profile at activation: "pushed" after the next sync;
  // the sync leaves the local assignments alone.
  ASSERT_THAT(sim_.ActivateDevice(serial), IsOk());
  Sync(id);
  ASSERT_TRUE(WaitForDevice(serial, [](const json& j) { return j["profile_status"] == "pushed"; }));
  EXPECT_EQ(Device(serial)["user"], "bob");
  EXPECT_FALSE(Device(serial)["profile_push_time"].is_null());

  // The device's story, in order, with a line for a human on each step.
  auto history = engine_->Get("/v1/dep/devices/" + serial + "/history", admin_);
  ASSERT_EQ(history.status, 200) << history.body;
  std::vector<std::string> types;
  for (const auto& h : history.json["items"]) {
    types.push_back(h["type"]);
    EXPECT_FALSE(h["summary"].get<std::string>().empty());
    EXPECT_FALSE(h["position"].get<std::string>().empty());
    EXPECT_TRUE(h["time"].is_string());
  }
  auto index = [&](const std::string& t) {
    return std::find(types.begin(), types.end(), t) - types.begin();
  };
  ASSERT_LT(index("DepDeviceSynced"), index("DepProfileAssignmentRequested"));
  ASSERT_LT(index("DepProfileAssignmentRequested"), index("DepProfileAssigned"));
  EXPECT_NE(std::find(types.begin(), types.end(), "DeviceUserAssigned"), types.end());
  EXPECT_EQ(history.json["items"].back()["type"], "DepProfileStatusChanged");
  EXPECT_NE(history.json["items"].back()["summary"].get<std::string>().find("pushed"),
            std::string::npos);
  // As it was when the assignment was accepted by us, before Apple answered.
  std::string at = patched.Header("X-Log-Position");
  auto then = engine_->Get("/v1/dep/devices/" + serial + "?as_of=" + at, admin_);
  ASSERT_EQ(then.status, 200) << then.body;
  EXPECT_EQ(then.json["profile_status"], "empty");
  EXPECT_EQ(then.json["user"], "bob");
  EXPECT_EQ(then.json["assignment_pending"], true);
  auto before = engine_->Get("/v1/dep/devices/" + serial + "?as_of=2000-01-01T00:00:00Z", admin_);
  EXPECT_EQ(before.status, 404);
  EXPECT_EQ(engine_->Get("/v1/dep/devices/" + serial + "?as_of=yesterday", admin_).status, 400);
  // The account's device counts then, and at a time after the push.
  auto account_then = engine_->Get("/v1/dep/accounts/" + id + "?as_of=" + at, admin_);
  ASSERT_EQ(account_then.status, 200) << account_then.body;
  EXPECT_EQ(account_then.json["device_counts"],
            json({{"total", 20}, {"empty", 20}, {"assigned", 0}, {"pushed", 0}, {"removed", 0}}));
  EXPECT_EQ(account_then.json["state"], "active");
  EXPECT_EQ(account_then.json["as_of"], at);
  std::string pushed_at = FormatRfc3339(Clock::Real().NowMs() + 1000);
  auto account_pushed = engine_->Get("/v1/dep/accounts/" + id + "?as_of=" + pushed_at, admin_);
  ASSERT_EQ(account_pushed.status, 200) << account_pushed.body;
  EXPECT_EQ(account_pushed.json["device_counts"],
            json({{"total", 20}, {"empty", 19}, {"assigned", 0}, {"pushed", 1}, {"removed", 0}}));
  EXPECT_EQ(engine_->Get("/v1/dep/accounts/" + id + "?as_of=2000-01-01T00:00:00Z", admin_).status,
            404);

  // Unassigned at Apple and re-assigned after a push: "removed", ready for a new profile.
  std::string other_cert =
      engine_->Get("/v1/dep/accounts/" + id + "/certificate", admin_).body;  // any cert will do
  ASSERT_TRUE(sim_.IssueToken(other_cert, "Elsewhere").ok());
  ASSERT_THAT(sim_.MoveDevice(serial, "Elsewhere"), IsOk());
  ASSERT_THAT(sim_.MoveDevice(serial, kServer), IsOk());
  Sync(id);
  ASSERT_TRUE(WaitForDevice(serial, [](const json& j) {
    return j["profile_status"] == "removed" && j["assigned_to_server"] == true;
  })) << Device(serial).dump();
  EXPECT_EQ(Device(serial)["user"], "bob");
  auto again = engine_->Send("PATCH", "/v1/dep/devices/" + serial, json{{"profile_id", pid}}.dump(),
                             admin_, "application/json");
  ASSERT_EQ(again.status, 200);
  ASSERT_TRUE(WaitForDevice(serial, [](const json& j) { return j["profile_status"] == "assigned"; }));

  // Removing the profile at Apple.
  auto removed = engine_->Delete("/v1/dep/devices/" + serial + "/profile", admin_);
  EXPECT_EQ(removed.status, 202);
  ASSERT_TRUE(WaitForDevice(serial, [](const json& j) { return j["profile_status"] == "removed"; }));
  EXPECT_EQ(sim_.DeviceState(serial)->profile_status, dep::ProfileStatus::kRemoved);

  // Bad assignments are refused with the field named.
  auto unknown_user = engine_->Send("PATCH", "/v1/dep/devices/" + serial, R"({"user":"nobody"})",
                                    admin_, "application/json");
  EXPECT_EQ(unknown_user.status, 422);
  EXPECT_EQ(unknown_user.json["error"]["field"], "user");
  auto unknown_profile = engine_->Send("PATCH", "/v1/dep/devices/" + serial,
                                       R"({"profile_id":"prof_nope"})", admin_, "application/json");
  EXPECT_EQ(unknown_profile.status, 422);
  EXPECT_EQ(unknown_profile.json["error"]["code"], "dep.unknown_profile");
  EXPECT_EQ(unknown_profile.json["error"]["field"], "profile_id");
  // The path naming a profile that does not exist is the 404 of its own code.
  EXPECT_EQ(engine_->Get("/v1/dep/profiles/prof_nope", admin_).json["error"]["code"],
            "dep.profile_not_found");
  auto bad_field = engine_->Send("PATCH", "/v1/dep/devices/" + serial, R"({"color":"red"})", admin_,
                                 "application/json");
  EXPECT_EQ(bad_field.status, 400);
  // Clearing the user.
  auto cleared = engine_->Send("PATCH", "/v1/dep/devices/" + serial, R"({"user":null})", admin_,
                               "application/json");
  ASSERT_EQ(cleared.status, 200);
  EXPECT_TRUE(cleared.json["user"].is_null());
}

TEST_F(DepTest, ThrottledAssignmentIsRetriedAfterAppleSaysSoAndNeverDuplicated) {
  json acc = ActiveAccount(5);
  std::string id = acc["id"];
  json profile = DefineProfile(id, "Retry");
  auto items = engine_->Get("/v1/dep/devices", admin_).json["items"];
  std::string serial = items[0]["serial_number"];
  sim_.SetSerialOutcome(serial, {"THROTTLED", 2});
  auto patched = engine_->Send("PATCH", "/v1/dep/devices/" + serial,
                               json{{"profile_id", profile["id"]}}.dump(), admin_, "application/json");
  ASSERT_EQ(patched.status, 200);
  ASSERT_TRUE(WaitForDevice(serial, [](const json& j) {
    return j["last_assignment_error"].is_object() &&
           j["last_assignment_error"]["reason"] == "THROTTLED";
  })) << Device(serial).dump();
  EXPECT_TRUE(Device(serial)["last_assignment_error"]["retry_after"].is_string());
  EXPECT_EQ(Device(serial)["profile_status"], "empty");
  sim_.SetSerialOutcome(serial, {"", 0});
  ASSERT_TRUE(WaitForDevice(serial, [](const json& j) { return j["profile_status"] == "assigned"; }))
      << Device(serial).dump();
  EXPECT_TRUE(Device(serial)["last_assignment_error"].is_null());
  // One success, one failure: no duplicates.
  auto ok = engine_->Get("/v1/events?type=DepProfileAssigned", admin_);
  EXPECT_EQ(ok.json["items"].size(), 1u);
}

TEST_F(DepTest, DisownNeedsAnAdministratorAndTheSerialRepeated) {
  json acc = ActiveAccount(3);
  std::string id = acc["id"];
  std::string serial = engine_->Get("/v1/dep/devices?limit=1", admin_).json["items"][0]["serial_number"];
  engine_->Post("/v1/users", R"({"username":"mgr","role":"device_manager"})", admin_);
  std::string mgr = engine_->Post("/v1/users/mgr/tokens", "", admin_).json["token"];
  auto body = json{{"confirm_serial_number", serial}}.dump();
  EXPECT_EQ(engine_->Post("/v1/dep/devices/" + serial + "/disown", body, mgr).status, 403);
  auto unconfirmed = engine_->Post("/v1/dep/devices/" + serial + "/disown",
                                   R"({"confirm_serial_number":"WRONG"})", admin_);
  EXPECT_EQ(unconfirmed.status, 400);
  EXPECT_EQ(unconfirmed.json["error"]["code"], "dep.disown_not_confirmed");
  EXPECT_TRUE(sim_.DeviceState(serial).has_value());
  auto done = engine_->Post("/v1/dep/devices/" + serial + "/disown", body, admin_);
  ASSERT_EQ(done.status, 202) << done.body;
  ASSERT_TRUE(WaitForDevice(serial, [](const json& j) { return j["disowned"] == true; }));
  EXPECT_EQ(Device(serial)["assigned_to_server"], false);
  // Who did it is on record.
  auto ev = engine_->Get("/v1/events?type=DepDeviceDisownRequested", admin_);
  ASSERT_EQ(ev.json["items"].size(), 1u);
  EXPECT_NE(ev.json["items"][0].dump().find("requested_by"), std::string::npos);
}

TEST_F(DepTest, RevokedTokenAndUnsignedTermsBecomeTheAccountsState) {
  json acc = ActiveAccount(2);
  std::string id = acc["id"];
  sim_.RequireTermsSigning(true);
  Sync(id);
  ASSERT_TRUE(WaitFor([&] { return Account(id)["state"] == "terms_not_signed"; },
                      std::chrono::seconds(20))) << Account(id).dump();
  EXPECT_TRUE(Account(id)["last_sync_error"].is_object());
  sim_.RequireTermsSigning(false);
  // A token upload reactivates the account.
  std::string cert = engine_->Get("/v1/dep/accounts/" + id + "/certificate", admin_).body;
  auto p7m = sim_.IssueToken(cert, kServer);
  ASSERT_TRUE(p7m.ok());
  ASSERT_EQ(engine_->Send("PUT", "/v1/dep/accounts/" + id + "/token", *p7m, admin_,
                          "application/pkcs7-mime").status, 200);
  EXPECT_EQ(Account(id)["state"], "active");
  ASSERT_THAT(sim_.RevokeToken(kServer), IsOk());
  sim_.ExpireSessions();
  Sync(id);
  ASSERT_TRUE(WaitFor([&] { return Account(id)["state"] == "token_rejected"; },
                      std::chrono::seconds(20))) << Account(id).dump();
}

// A whole run (people with personal data and API tokens, an account and its Apple token, a
// profile, an assignment, a device's enrollment, a sync) leaves no secret (nor a token's
// hash) in the engine's log, its events, its answers or any file of its data dir, and no
// personal data in its log.
TEST_F(DepTest, AWholeRunLeavesNoSecretInLogsEventsAnswersOrFilesAndNoPersonInTheLog) {
  json acc = ActiveAccount(3);
  std::string id = acc["id"];
  json profile = DefineProfile(id, "Secrets");
  const std::string person = "quentin.zorvath", email = "quentin.zorvath@example.org",
                    display = "Quentin Zorvath";
  auto created = engine_->Post("/v1/users", json{{"username", person}, {"role", "device_user"},
                                                 {"email", email}, {"display_name", display}}
                                                .dump(), admin_);
  ASSERT_EQ(created.status, 201) << created.body;
  auto user_token = engine_->Post("/v1/users/" + person + "/tokens", "", admin_);
  ASSERT_EQ(user_token.status, 201) << user_token.body;
  const std::string api_token = user_token.json.value("token", "");
  ASSERT_FALSE(api_token.empty());
  std::string serial = engine_->Get("/v1/dep/devices?limit=1", admin_).json["items"][0]["serial_number"];
  ASSERT_EQ(engine_->Send("PATCH", "/v1/dep/devices/" + serial,
                          json{{"profile_id", profile["id"]}, {"user", person}}.dump(), admin_,
                          "application/json").status, 200);
  ASSERT_TRUE(WaitForDevice(serial, [](const json& j) { return j["profile_status"] == "assigned"; }));
  auto enrolled = Phone(serial)->Enroll(Enroll());
  ASSERT_TRUE(enrolled.ok()) << enrolled.status().ToString();
  EXPECT_EQ(enrolled->http_status, 200) << enrolled->error_body;
  Sync(id);

  // The OAuth values of Apple's token, and those the engine sent to Apple.
  auto issued = sim_.IssuedToken(kServer);
  ASSERT_TRUE(issued.has_value());
  std::string consumer_key, access_token;
  for (const auto& r : sim_.Requests()) {
    if (r.path != "/session") continue;
    std::string auth = r.headers.count("Authorization") ? r.headers.find("Authorization")->second : "";
    std::smatch m;
    if (std::regex_search(auth, m, std::regex(R"re(oauth_consumer_key="([^"]+)")re"))) consumer_key = m[1];
    if (std::regex_search(auth, m, std::regex(R"re(oauth_token="([^"]+)")re"))) access_token = m[1];
  }
  ASSERT_FALSE(consumer_key.empty());
  ASSERT_EQ(access_token, issued->access_token);
  std::vector<std::string> secrets = {consumer_key,           issued->consumer_secret,
                                      issued->access_token,   issued->access_secret,
                                      admin_,                 api_token,
                                      "PRIVATE KEY"};
  // Nor any unsalted hash of an API token (events name tokens by id; verifiers are keyed).
  for (const std::string& t : {admin_, api_token}) {
    const std::string sha = crypto::Sha256(t);
    for (const std::string& form :
         {sha, crypto::Hex(sha), crypto::Base64(sha), crypto::Base64Url(sha)}) {
      secrets.push_back(form);
    }
  }
  const std::vector<std::string> personal = {person, email, display};
  auto events = engine_->Get("/v1/events?limit=1000", admin_);
  auto account = engine_->Get("/v1/dep/accounts/" + id, admin_);
  auto device = engine_->Get("/v1/dep/devices/" + serial, admin_);
  ASSERT_EQ(engine_->Stop(), 0);
  const std::string log = engine_->LogText();  // the whole run, start to stop
  EXPECT_NE(log.find("stopping"), std::string::npos);
  for (const auto& s : secrets) {
    EXPECT_EQ(events.body.find(s), std::string::npos) << s;
    EXPECT_EQ(account.body.find(s), std::string::npos) << s;
    EXPECT_EQ(device.body.find(s), std::string::npos) << s;
    EXPECT_EQ(log.find(s), std::string::npos) << s;
  }
  for (const auto& p : personal) EXPECT_EQ(log.find(p), std::string::npos) << p;
  // Every file of the data dir: the secret store is encrypted, the log and views hold none.
  for (const auto& entry : fs::recursive_directory_iterator(engine_->data_dir())) {
    if (!entry.is_regular_file()) continue;
    if (entry.path().filename() == "admin-token") continue;  // the bootstrap token, mode 0600
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto& s : secrets) {
      EXPECT_EQ(bytes.find(s), std::string::npos) << s << " in " << entry.path();
    }
  }
}

TEST_F(DepTest, DeviceEnrollsChecksInGetsTheAgentAndIsReleasedFromSetup) {
  json acc = ActiveAccount(3);
  std::string id = acc["id"];
  json profile = DefineProfile(id, "Supervised", /*await_configured=*/true);
  ASSERT_EQ(engine_->Post("/v1/users", R"({"username":"carol","role":"device_user"})", admin_).status, 201);
  auto items = engine_->Get("/v1/dep/devices", admin_).json["items"];
  std::string serial = items[0]["serial_number"], no_profile = items[1]["serial_number"],
              no_user = items[2]["serial_number"];
  ASSERT_EQ(engine_->Send("PATCH", "/v1/dep/devices/" + serial,
                          json{{"profile_id", profile["id"]}, {"user", "carol"}}.dump(), admin_,
                          "application/json").status, 200);
  ASSERT_EQ(engine_->Send("PATCH", "/v1/dep/devices/" + no_user,
                          json{{"profile_id", profile["id"]}}.dump(), admin_,
                          "application/json").status, 200);
  ASSERT_TRUE(WaitForDevice(serial, [](const json& j) { return j["profile_status"] == "assigned"; }));
  ASSERT_TRUE(WaitForDevice(no_user, [](const json& j) { return j["profile_status"] == "assigned"; }));

  // Refusals: each answered 403 enroll.not_allowed; the reason is recorded for the
  // devices of the account.
  auto refused = Phone(no_profile)->Enroll(Enroll());
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->http_status, 403);
  EXPECT_NE(refused->error_body.find("enroll.not_allowed"), std::string::npos) << refused->error_body;
  auto refused_user = Phone(no_user)->Enroll(Enroll());
  ASSERT_TRUE(refused_user.ok());
  EXPECT_EQ(refused_user->http_status, 403);
  EXPECT_NE(refused_user->error_body.find("enroll.not_allowed"), std::string::npos);
  auto unknown = Phone("F2LUNKNOWN01")->Enroll(Enroll());
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->http_status, 403);
  EXPECT_NE(unknown->error_body.find("enroll.not_allowed"), std::string::npos);
  auto stranger_ca = mdm::TestDeviceAuthority::Generate("Not Apple");
  ASSERT_TRUE(stranger_ca.ok());
  auto forged = Phone(serial, &*stranger_ca)->Enroll(Enroll());
  ASSERT_TRUE(forged.ok());
  EXPECT_EQ(forged->http_status, 403);
  EXPECT_NE(forged->error_body.find("enroll.not_allowed"), std::string::npos);
  auto garbage = engine_->Post("/enroll/apple", std::string(2000, 'x'), "", "application/pkcs7-signature");
  EXPECT_EQ(garbage.status, 400);
  auto events = engine_->Get("/v1/events?type=DepEnrollmentRefused", admin_);
  ASSERT_EQ(events.json["items"].size(), 2u);  // not the unknown serial's, nor the forgery's
  std::set<std::string> reasons;
  for (const auto& e : events.json["items"]) reasons.insert(e["data"]["reason"].get<std::string>());
  EXPECT_EQ(reasons, (std::set<std::string>{"enroll.no_profile", "enroll.no_user"}));
  // The same refusal again is not recorded twice.
  ASSERT_EQ(Phone(no_profile)->Enroll(Enroll())->http_status, 403);
  EXPECT_EQ(CountEvents("DepEnrollmentRefused"), 2u);

  // The assigned device with a user enrolls.
  auto phone = Phone(serial);
  auto enrolled = phone->Enroll(Enroll());
  ASSERT_TRUE(enrolled.ok()) << enrolled.status().ToString();
  ASSERT_EQ(enrolled->http_status, 200) << enrolled->error_body;
  EXPECT_EQ(enrolled->content_type, "application/x-apple-aspen-config");
  ASSERT_TRUE(enrolled->profile.has_value());
  EXPECT_NE(enrolled->profile->server_url.find("/mdm/apple/server"), std::string::npos);
  EXPECT_NE(enrolled->profile->checkin_url.find("/mdm/apple/checkin"), std::string::npos);
  EXPECT_EQ(enrolled->profile->topic.rfind("com.apple.mgmt.External.", 0), 0u);
  EXPECT_TRUE(enrolled->profile->sign_message);
  auto auth = phone->Authenticate();
  ASSERT_TRUE(auth.ok());
  EXPECT_EQ(*auth, 200);
  EXPECT_EQ(engine_->Get("/v1/devices/" + serial, admin_).status, 404);  // not until TokenUpdate
  auto token = phone->TokenUpdate(/*awaiting_configuration=*/true);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, 200);
  auto inventory = engine_->Get("/v1/devices/" + serial, admin_);
  ASSERT_EQ(inventory.status, 200) << inventory.body;
  EXPECT_EQ(inventory.json["platform"], "apple");
  EXPECT_EQ(inventory.json["status"], "enrolled");
  EXPECT_EQ(inventory.json["user"], "carol");
  EXPECT_EQ(inventory.json["configured"], false);
  EXPECT_EQ(Device(serial)["enrollment"], "enrolled");
  auto list = engine_->Get("/v1/devices", admin_);
  EXPECT_EQ(list.json["items"].size(), 1u);

  // The agent install first, then DeviceConfigured releases Setup Assistant.
  auto commands = phone->RunCommandLoop(10);
  ASSERT_TRUE(commands.ok()) << commands.status().ToString();
  ASSERT_EQ(commands->size(), 2u);
  EXPECT_EQ((*commands)[0].request_type, "InstallApplication");
  EXPECT_EQ((*commands)[0].manifest_url, "https://apps.example.com/agent.plist");
  EXPECT_EQ((*commands)[1].request_type, "DeviceConfigured");
  inventory = engine_->Get("/v1/devices/" + serial, admin_);
  EXPECT_EQ(inventory.json["configured"], true);
  EXPECT_EQ(inventory.json["pending_commands"], 0);
  auto story = engine_->Get("/v1/devices/" + serial + "/history", admin_);
  ASSERT_EQ(story.status, 200);
  std::string text = story.body;
  for (const char* t : {"DepDeviceSynced", "DepProfileAssigned", "DeviceCheckedIn",
                        "DeviceEnrolled", "DeviceCommandQueued", "DeviceCommandCompleted",
                        "DeviceConfigured"}) {
    EXPECT_NE(text.find(t), std::string::npos) << t;
  }
  auto nothing = phone->Poll();
  ASSERT_TRUE(nothing.ok());
  EXPECT_FALSE(nothing->has_value());
  // A repeated TokenUpdate queues nothing twice.
  ASSERT_EQ(*phone->TokenUpdate(false), 200);
  EXPECT_EQ(engine_->Get("/v1/events?type=DeviceEnrolled", admin_).json["items"].size(), 1u);

  // Messages without this server's identity are refused.
  auto unsigned_put = engine_->Send("PUT", "/mdm/apple/checkin", "<plist/>", "",
                                    "application/x-apple-aspen-mdm-checkin");
  EXPECT_EQ(unsigned_put.status, 401);

  // CheckOut, then removal from the inventory: the DEP record stays.
  ASSERT_EQ(*phone->CheckOut(), 200);
  EXPECT_EQ(engine_->Get("/v1/devices/" + serial, admin_).json["status"], "checked_out");
  EXPECT_EQ(*phone->Authenticate(), 401);  // the identity ended with the check-out
  auto removed = engine_->Delete("/v1/devices/" + serial, admin_);
  EXPECT_EQ(removed.status, 200) << removed.body;
  EXPECT_EQ(engine_->Get("/v1/devices/" + serial, admin_).status, 404);
  EXPECT_EQ(Device(serial)["profile_status"], "assigned");
  EXPECT_EQ(Device(serial)["user"], "carol");
}

// Device A's genuine certificate and key sign a MachineInfo that names device B,
// which is assigned a profile and a user: B's enrollment is not handed out.
TEST_F(DepTest, MachineInfoNamingAnotherDeviceIsRefused) {
  std::vector<std::string> serials = EnrollableDevices(2, 2);
  const std::string& a = serials[0];
  const std::string& b = serials[1];
  struct Case {
    std::string cert_serial;  // "" : a certificate that carries only the UDID
    std::string udid;         // what the MachineInfo claims, with SERIAL = b
  };
  for (const Case& c : {Case{a, "00008030-" + a}, Case{a, "00008030-" + b}, Case{"", "00008030-" + b}}) {
    auto device_a = authority_->IssueDeviceCertificate("00008030-" + a, c.cert_serial);
    ASSERT_THAT(device_a, IsOk());
    sim::AppleDeviceSimulatorOptions o;
    o.base_url = "http://127.0.0.1:" + std::to_string(engine_->port());
    o.serial = b;
    o.udid = c.udid;
    o.device_certificate = *device_a;
    auto outcome = sim::AppleDeviceSimulator(o).Enroll(Enroll());
    ASSERT_THAT(outcome, IsOk());
    EXPECT_EQ(outcome->http_status, 403) << c.cert_serial << " " << c.udid;
    EXPECT_NE(outcome->error_body.find("enroll.not_allowed"), std::string::npos) << outcome->error_body;
    EXPECT_FALSE(outcome->profile.has_value());
  }
  EXPECT_EQ(CountEvents("DeviceIdentityIssued"), 0u);
  // B itself enrolls.
  auto phone_b = Phone(b);
  auto enrolled = phone_b->Enroll(Enroll());
  ASSERT_THAT(enrolled, IsOk());
  EXPECT_EQ(enrolled->http_status, 200) << enrolled->error_body;
}

// Unknown serial, not synced, no profile, no user, no longer assigned at Apple: the caller
// cannot tell them apart.
TEST_F(DepTest, EnrollmentRefusalsRevealNothingAboutTheSerial) {
  std::string account;
  std::vector<std::string> serials = EnrollableDevices(3, 1, &account);
  json profile = engine_->Get("/v1/dep/profiles", admin_).json["items"][0];
  // serials[1]: a profile but no user; serials[2]: nothing.
  ASSERT_EQ(engine_->Send("PATCH", "/v1/dep/devices/" + serials[1],
                          json{{"profile_id", profile["id"]}}.dump(), admin_, "application/json")
                .status,
            200);
  ASSERT_TRUE(WaitForDevice(serials[1], [](const json& j) { return j["profile_status"] == "assigned"; }));
  ASSERT_THAT(sim_.RemoveDevice(serials[0]), IsOk());  // ready, then taken away at Apple
  Sync(account);
  ASSERT_TRUE(WaitForDevice(serials[0], [](const json& j) { return j["assigned_to_server"] == false; }));
  std::set<std::string> answers;
  for (const std::string& serial : {serials[0], serials[1], serials[2], std::string("C02NEVERSEEN")}) {
    auto outcome = Phone(serial)->Enroll(Enroll());
    ASSERT_THAT(outcome, IsOk());
    EXPECT_EQ(outcome->http_status, 403) << serial;
    json body = json::parse(outcome->error_body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << outcome->error_body;
    answers.insert(body["error"].value("code", "") + " " + body["error"].value("message", ""));
  }
  EXPECT_EQ(answers.size(), 1u) << json(answers).dump();
  EXPECT_EQ(answers.begin()->rfind("enroll.not_allowed ", 0), 0u) << *answers.begin();
  // Administrators see why, for the account's devices.
  std::set<std::string> reasons;
  const json refusals = engine_->Get("/v1/events?type=DepEnrollmentRefused", admin_).json["items"];
  for (const auto& e : refusals) {
    reasons.insert(e["data"]["serial_number"].get<std::string>() + " " +
                   e["data"]["reason"].get<std::string>());
  }
  EXPECT_EQ(reasons, (std::set<std::string>{serials[0] + " enroll.not_assigned",
                                            serials[1] + " enroll.no_user",
                                            serials[2] + " enroll.no_profile"}));
}

// The MachineInfo's signer must be valid now (Apple's CAs may be long expired).
TEST_F(DepTest, ExpiredDeviceCertificateIsRefused) {
  std::vector<std::string> serials = EnrollableDevices(1, 1);
  sim::AppleDeviceSimulatorOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(engine_->port());
  o.serial = serials[0];
  o.udid = "00008030-" + serials[0];
  o.authority = &*authority_;
  o.expired_cert = true;
  auto outcome = sim::AppleDeviceSimulator(o).Enroll(Enroll());
  ASSERT_THAT(outcome, IsOk());
  EXPECT_EQ(outcome->http_status, 403);
  EXPECT_NE(outcome->error_body.find("enroll.not_allowed"), std::string::npos) << outcome->error_body;
  EXPECT_EQ(CountEvents("DeviceIdentityIssued"), 0u);
}

// Each enrollment profile carries a new identity; the one before stops working.
TEST_F(DepTest, ReenrollmentRevokesThePreviousIdentity) {
  std::vector<std::string> serials = EnrollableDevices(1, 1);
  auto before = Phone(serials[0]);
  auto first = before->Enroll(Enroll());
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(first->http_status, 200) << first->error_body;
  ASSERT_EQ(*before->Authenticate(), 200);
  ASSERT_EQ(*before->TokenUpdate(false), 200);
  ASSERT_EQ(IdlePoll(*before), 200);

  auto after = Phone(serials[0]);  // the same device, erased and enrolling again
  auto second = after->Enroll(Enroll());
  ASSERT_THAT(second, IsOk());
  ASSERT_EQ(second->http_status, 200) << second->error_body;
  EXPECT_EQ(*before->Authenticate(), 401);
  EXPECT_EQ(*before->TokenUpdate(false), 401);
  EXPECT_EQ(IdlePoll(*before), 401);
  EXPECT_EQ(*after->Authenticate(), 200);
  EXPECT_EQ(*after->TokenUpdate(false), 200);
  auto commands = after->RunCommandLoop(10);
  ASSERT_THAT(commands, IsOk());
  EXPECT_EQ(commands->size(), 1u);  // the agent, queued again by the new enrollment

  // Recorded by fingerprint: two identities issued, the first revoked as replaced.
  auto first_sha = mdm::CertificateSha256Hex(first->identity_certificate_pem);
  auto second_sha = mdm::CertificateSha256Hex(second->identity_certificate_pem);
  ASSERT_THAT(first_sha, IsOk());
  ASSERT_THAT(second_sha, IsOk());
  auto issued = engine_->Get("/v1/events?type=DeviceIdentityIssued", admin_).json["items"];
  ASSERT_EQ(issued.size(), 2u);
  EXPECT_EQ(issued[0]["data"]["certificate_sha256"], *first_sha);
  EXPECT_EQ(issued[1]["data"]["certificate_sha256"], *second_sha);
  EXPECT_EQ(issued[1]["data"]["udid"], "00008030-" + serials[0]);
  auto revoked = engine_->Get("/v1/events?type=DeviceIdentityRevoked", admin_).json["items"];
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0]["data"]["certificate_sha256"], *first_sha);
  EXPECT_EQ(revoked[0]["data"]["reason"], "replaced");
}

// Removal from the inventory and from the MDM server at Apple end the identity.
TEST_F(DepTest, RemovalRevokesTheIdentity) {
  std::string account;
  std::vector<std::string> serials = EnrollableDevices(2, 2, &account);
  std::vector<std::unique_ptr<sim::AppleDeviceSimulator>> phones;
  for (const auto& serial : serials) {
    phones.push_back(Phone(serial));
    auto enrolled = phones.back()->Enroll(Enroll());
    ASSERT_THAT(enrolled, IsOk());
    ASSERT_EQ(enrolled->http_status, 200) << enrolled->error_body;
    ASSERT_EQ(*phones.back()->Authenticate(), 200);
    ASSERT_EQ(*phones.back()->TokenUpdate(false), 200);
    ASSERT_EQ(IdlePoll(*phones.back()), 200);
  }
  auto removed = engine_->Delete("/v1/devices/" + serials[0], admin_);
  ASSERT_EQ(removed.status, 200) << removed.body;  // answered once the views hold it
  EXPECT_EQ(IdlePoll(*phones[0]), 401);
  EXPECT_EQ(*phones[0]->Authenticate(), 401);
  EXPECT_EQ(*phones[0]->TokenUpdate(false), 401);  // it cannot enroll itself back in
  EXPECT_EQ(IdlePoll(*phones[1]), 200);

  ASSERT_THAT(sim_.RemoveDevice(serials[1]), IsOk());
  Sync(account);
  // One runner applies every view: once the DEP view has the unassignment, so has the identity.
  ASSERT_TRUE(WaitForDevice(serials[1], [](const json& j) { return j["assigned_to_server"] == false; }));
  EXPECT_EQ(IdlePoll(*phones[1]), 401);
  EXPECT_EQ(*phones[1]->Authenticate(), 401);
}

}  // namespace
}  // namespace ae::testing
