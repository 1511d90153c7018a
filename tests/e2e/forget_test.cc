// Forgetting a person, through the binary: every answer shows a redaction marker, the
// device's history and the hash chain stay whole, and no byte of the person is left in
// the data dir (every RocksDB instance read key by key, every other file byte by byte).

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "adapters/samsung_knox/identifiers.h"
#include "tests/support/data_dir_search.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;

// A valid 15-digit IMEI (Luhn check digit) from a number below 10^12.
std::string Imei(uint64_t body) {
  std::string s = std::to_string(35000000000000ULL + body);
  return s + kme::ImeiCheckDigit(s);
}

TEST(Forget, AForgottenPersonLeavesNoPlaintextAndTheHistoryAndChainStayWhole) {
  TempDir dir;
  EngineProcess engine(dir.Sub("data"));
  ASSERT_THAT(engine.Start(), IsOk());
  const std::string admin = engine.AdminToken();
  const std::vector<std::string> needles = {"carol.forget", "carol.forget@example.org",
                                            "carol forgetme"};
  // The person: a user with an e-mail and a display name, a Knox user id on an imported
  // device, and an assignment.
  ASSERT_EQ(engine.Post("/v1/users",
                        R"({"username":"Carol.Forget","role":"device_user",)"
                        R"("email":"carol.forget@example.org","display_name":"Carol Forgetme"})",
                        admin).status, 201);
  ASSERT_EQ(engine.Post("/v1/users", R"({"username":"dave","role":"device_user"})", admin).status,
            201);
  std::string csv = "IMEI,Serial Number,Model,User ID\r\n";
  csv += Imei(1) + ",R58F0001,SM-A536B,carol.forget\r\n";
  csv += Imei(2) + ",R58F0002,SM-A536B,dave\r\n";
  auto imported = engine.Post("/v1/kme/imports", csv, admin, "text/csv");
  ASSERT_EQ(imported.status, 200) << imported.body;
  ASSERT_EQ(imported.json["users_matched"], 2);
  auto patched = engine.Send("PATCH", "/v1/kme/devices/" + Imei(2), R"({"user":"Carol.Forget"})",
                             admin, "application/json");
  ASSERT_EQ(patched.status, 200) << patched.body;
  auto device = engine.Get("/v1/kme/devices/" + Imei(1), admin);
  ASSERT_EQ(device.status, 200);
  ASSERT_EQ(Lower(device.json.value("user", "")), "carol.forget");
  auto history_before = engine.Get("/v1/kme/devices/" + Imei(1) + "/history", admin);
  ASSERT_EQ(history_before.status, 200);

  // Only an administrator forgets.
  auto t = engine.Post("/v1/users/dave/tokens", "", admin);
  ASSERT_EQ(t.status, 201);
  EXPECT_EQ(engine.Delete("/v1/users/carol.forget?forget=true", t.json["token"]).status, 403);
  auto forgotten = engine.Delete("/v1/users/carol.forget?forget=true", admin);
  ASSERT_EQ(forgotten.status, 200) << forgotten.body;
  EXPECT_EQ(forgotten.json["forgotten"], true);

  // Answers show the marker; the devices, their histories and the chain are whole.
  EXPECT_EQ(engine.Get("/v1/users/carol.forget", admin).status, 404);
  for (int n : {1, 2}) {
    auto d = engine.Get("/v1/kme/devices/" + Imei(n), admin);
    ASSERT_EQ(d.status, 200) << d.body;
    EXPECT_EQ(d.json["user"], "[redacted]") << d.body;
  }
  auto history_after = engine.Get("/v1/kme/devices/" + Imei(1) + "/history", admin);
  ASSERT_EQ(history_after.status, 200);
  EXPECT_EQ(history_after.json["count"], history_before.json["count"]);
  auto events = engine.Get("/v1/events?limit=1000", admin);
  ASSERT_EQ(events.status, 200);
  for (const auto& n : needles) {
    EXPECT_EQ(Lower(events.body).find(n), std::string::npos) << n;
    EXPECT_EQ(Lower(history_after.body).find(n), std::string::npos) << n;
  }
  EXPECT_EQ(engine.Get("/v1/audit/verify", admin).json["ok"], true);
  ASSERT_EQ(engine.Stop(SIGTERM), 0);

  const std::string data = dir.Sub("data");
  auto exported = RunTool({"events", "export", "--data-dir", data});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  for (const auto& n : needles) EXPECT_EQ(Lower(exported.out).find(n), std::string::npos) << n;
  EXPECT_EQ(RunTool({"audit", "verify", "--data-dir", data}).exit_code, 0);
  // Nothing of the person anywhere in the data dir, decrypted or not.
  EXPECT_EQ(FindInDataDir(data, needles), "");
  // The search finds what is there (a plain value the engine keeps: the device model).
  EXPECT_NE(FindInDataDir(data, {"sm-a536b"}), "");
}

}  // namespace
}  // namespace ae::testing
