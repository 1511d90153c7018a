// `autoenroll audit export`: one stream's records with the hash chain to the head, in a
// file that the documented procedure (bash, coreutils, openssl) checks without autoenroll.

#include <filesystem>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

using nlohmann::json;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// The procedure written at the top of the export ("#   " lines), run with bash.
ToolResult RunProcedure(const std::string& export_path, const std::string& script_path) {
  std::istringstream in(ReadWholeFile(export_path));
  std::string script;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("#   ", 0) == 0) script += line.substr(4) + "\n";
  }
  WriteFile(script_path, script);
  ToolResult r;
  std::string cmd = "bash " + script_path + " > " + script_path + ".out 2>&1";
  int rc = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = ReadWholeFile(script_path + ".out");
  return r;
}

TEST(AuditExport, AStreamsExportVerifiesWithoutAutoenrollAndTamperingIsFound) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  EngineProcess engine(data);
  ASSERT_THAT(engine.Start(), IsOk());
  const std::string admin = engine.AdminToken();
  ASSERT_EQ(engine.Post("/v1/users", R"({"username":"erin","role":"device_user"})", admin).status,
            201);
  std::string csv = "IMEI,Serial Number,Model\r\n356938035643809,R58A0001,SM-S911B\r\n"
                    "354406065117427,R58A0002,SM-S911B\r\n";
  ASSERT_EQ(engine.Post("/v1/kme/imports", csv, admin, "text/csv").status, 200);
  auto patched = engine.Send("PATCH", "/v1/kme/devices/356938035643809", R"({"user":"erin"})",
                             admin, "application/json");
  ASSERT_EQ(patched.status, 200) << patched.body;
  // More records of other streams after the device's: the chain runs past them.
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(engine.Post("/v1/policies", "{\"name\":\"p" + std::to_string(i) + "\"}", admin)
                  .status, 201);
  }
  const std::string id = engine.Get("/v1/kme/devices/356938035643809", admin).json["id"];
  auto verified = engine.Get("/v1/audit/verify", admin);
  ASSERT_EQ(verified.json["ok"], true);
  const std::string head = verified.json["head_hash"];
  ASSERT_EQ(engine.Stop(SIGTERM), 0);

  const std::string file = dir.Sub("device.aetrail");
  auto exported = RunTool({"audit", "export", "--data-dir", data, "--stream", "kme-device/" + id,
                           "--out", file});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  const std::string text = ReadWholeFile(file);
  // Two records of the device (imported, user assigned), the chain to the head.
  int records = 0;
  std::string head_line;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("record ", 0) == 0) ++records;
    if (line.rfind("head ", 0) == 0) head_line = line;
  }
  EXPECT_EQ(records, 2);
  EXPECT_NE(head_line.find(" " + head), std::string::npos) << head_line << " vs " << head;

  auto ok = RunProcedure(file, dir.Sub("verify.sh"));
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_NE(ok.out.find("OK: 2 records chained to head " + head), std::string::npos) << ok.out;

  // A changed record: its bytes no longer hash to its line.
  {
    std::string bad = text;
    size_t at = bad.find("\nrecord ");
    ASSERT_NE(at, std::string::npos);
    size_t b64 = bad.find('\n', at + 1) - 10;  // inside the base64 of the first record
    bad[b64] = bad[b64] == 'A' ? 'B' : 'A';
    const std::string tampered = dir.Sub("tampered.aetrail");
    WriteFile(tampered, std::regex_replace(bad, std::regex(file), tampered));
    auto r = RunProcedure(tampered, dir.Sub("verify2.sh"));
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find("do not hash"), std::string::npos) << r.out;
  }
  // A record rewritten with a hash to match: it leaves the chain.
  {
    std::string bad = text;
    size_t at = bad.find("\nchain ");
    ASSERT_NE(at, std::string::npos);
    size_t hash_at = bad.find(' ', bad.find(' ', at + 1) + 1) + 1;
    bad[hash_at] = bad[hash_at] == '0' ? '1' : '0';
    const std::string tampered = dir.Sub("tampered2.aetrail");
    WriteFile(tampered, std::regex_replace(bad, std::regex(file), tampered));
    auto r = RunProcedure(tampered, dir.Sub("verify3.sh"));
    EXPECT_NE(r.exit_code, 0) << r.out;
  }
  auto unknown = RunTool({"audit", "export", "--data-dir", data, "--stream", "kme-device/none"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no stream"), std::string::npos);
}

}  // namespace
}  // namespace ae::testing
