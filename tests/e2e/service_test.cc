// autoenroll as a service, over the binary: its configuration (flags, AUTOENROLL_*
// variables, a TOML file; `config show`), its log (JSON lines, a log file reopened on
// SIGHUP), SIGTERM draining the requests in flight, and the data directory's format.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "tests/support/engine_process.h"
#include "tests/support/test_support.h"

namespace ae::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) lines.push_back(l);
  }
  return lines;
}

// The value of a gauge or counter in the engine's /metrics (-1 when absent).
double Metric(EngineProcess& engine, const std::string& token, const std::string& name) {
  auto r = engine.Get("/metrics", token);
  for (const auto& line : Lines(r.body)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

std::string MdmServerUri(EngineProcess& engine) {
  auto r = engine.Get("/v1/kme/settings", engine.AdminToken());
  EXPECT_EQ(r.status, 200) << r.body;
  return r.json.value("mdm_server_uri", "");
}

// ---- configuration ---------------------------------------------------------------------

TEST(ServiceConfig, AFlagBeatsTheEnvironmentWhichBeatsTheFileWhichBeatsTheDefault) {
  TempDir dir;
  const fs::path config = dir.path() / "autoenroll.toml";
  WriteFile(config,
            "# as an operator writes it\n"
            "public-url = \"https://file.example\"\n"
            "enroll-burst = 7\n");
  const std::string env_url = "https://env.example";
  const std::string flag_url = "https://flag.example";
  {
    EngineProcess engine(dir.Sub("data"), {"--config", config.string()});
    ASSERT_THAT(engine.Start(), IsOk());
    EXPECT_EQ(MdmServerUri(engine), "https://file.example/enroll/android");
    EXPECT_EQ(engine.Stop(), 0);
  }
  {
    EngineProcess engine(dir.Sub("data"), {"--config", config.string()},
                         {{"AUTOENROLL_PUBLIC_URL", env_url}});
    ASSERT_THAT(engine.Start(), IsOk());
    EXPECT_EQ(MdmServerUri(engine), env_url + "/enroll/android");
    EXPECT_EQ(engine.Stop(), 0);
  }
  {
    EngineProcess engine(dir.Sub("data"), {"--config", config.string(), "--public-url", flag_url},
                         {{"AUTOENROLL_PUBLIC_URL", env_url}});
    ASSERT_THAT(engine.Start(), IsOk());
    EXPECT_EQ(MdmServerUri(engine), flag_url + "/enroll/android");
    EXPECT_EQ(engine.Stop(), 0);
  }
  // The same order in `config show`, for every key: flag, then variable, then file, then
  // the default; the variable of --config itself names the file.
  auto shown = RunTool({"config", "show", "--enroll-rate", "3"},
                       {{"AUTOENROLL_CONFIG", config.string()},
                        {"AUTOENROLL_ENROLL_BURST", "9"},
                        {"AUTOENROLL_ENROLL_RATE", "4"}});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("\nenroll-rate = 3\n"));            // flag over variable
  EXPECT_THAT(shown.out, HasSubstr("\nenroll-burst = 9\n"));           // variable over file
  EXPECT_THAT(shown.out, HasSubstr("\npublic-url = \"https://file.example\"\n"));  // file
  EXPECT_THAT(shown.out, HasSubstr("\nhttp-head-timeout = 10\n"));     // default
  EXPECT_THAT(shown.out, HasSubstr("\nshutdown-timeout = 30\n"));
}

TEST(ServiceConfig, ConfigShowMasksEverySecret) {
  TempDir dir;
  const std::string seed = crypto::Hex(crypto::RandomBytes(24));
  const fs::path config = dir.path() / "autoenroll.toml";
  WriteFile(config, "admin-token = \"" + seed + "\"\n"
                    "kafka-brokers = \"127.0.0.1:9092\"\n"
                    "kafka-property = [\"security.protocol=SASL_SSL\", "
                    "\"sasl.password=pw-from-the-file\"]\n"
                    "knox-api-url = \"https://knox:url-password@knox.example/api\"\n");
  auto shown = RunTool({"config", "show", "--config", config.string()},
                       {{"AUTOENROLL_KAFKA_PROPERTY", "ssl.key.password=pw-from-the-env\n"
                                                      "sasl.username=ops"}});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  for (const std::string& secret : {seed, std::string("pw-from-the-file"),
                                   std::string("pw-from-the-env"), std::string("url-password")}) {
    EXPECT_THAT(shown.out, Not(HasSubstr(secret)));
  }
  EXPECT_THAT(shown.out, HasSubstr("\nadmin-token = \"***\"\n"));
  // The variable's properties replace the file's, one per line of the variable.
  EXPECT_THAT(shown.out,
              HasSubstr("\nkafka-property = [\"ssl.key.password=***\", \"sasl.username=ops\"]\n"));
  EXPECT_THAT(shown.out, HasSubstr("\nknox-api-url = \"https://knox:***@knox.example/api\"\n"));
  EXPECT_THAT(shown.out, HasSubstr("\nkafka-brokers = \"127.0.0.1:9092\"\n"));

  // What config show prints is a configuration file serve reads (secrets aside).
  WriteFile(dir.path() / "shown.toml", shown.out);
  auto again = RunTool({"config", "show", "--config", (dir.path() / "shown.toml").string()});
  EXPECT_EQ(again.exit_code, 0) << again.err;
}

// packaging/autoenroll.toml names every key serve takes, commented out, with its default.
TEST(ServiceConfig, TheShippedFileDocumentsEveryKeyWithItsDefault) {
  TempDir dir;
  std::string uncommented = "\n";
  const fs::path shipped = fs::path(SourceDir()) / "packaging/autoenroll.toml";
  for (const auto& line : Lines(ReadWholeFile(shipped))) {
    if (line.size() > 1 && line[0] == '#' && std::islower(static_cast<unsigned char>(line[1]))) {
      uncommented += line.substr(1) + "\n";
    }
  }
  WriteFile(dir.path() / "all.toml", uncommented);
  auto from_file = RunTool({"config", "show", "--config", (dir.path() / "all.toml").string()});
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  auto defaults = RunTool({"config", "show"});
  ASSERT_EQ(defaults.exit_code, 0) << defaults.err;
  EXPECT_EQ(from_file.out, defaults.out) << "a default in the file differs";
  for (const auto& line : Lines(defaults.out)) {
    if (line[0] == '#') continue;
    const std::string key = line.substr(0, line.find(' '));
    EXPECT_THAT(uncommented, HasSubstr("\n" + key + " = ")) << key << " is not in the file";
  }
}

TEST(ServiceConfig, AnUnknownKeyOrABadValueIsRefusedNamingTheFileTheLineAndTheKey) {
  TempDir dir;
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"listen = \"127.0.0.1:0\"\nlisten-port = 8080\n", ":2: unknown key 'listen-port'"},
      {"\n\nhttp-threads = \"many\"\n", ":3: http-threads: expected an integer, got a string"},
      {"http-head-timeout = 0\n", ":1: http-head-timeout: --http-head-timeout: Value 0 not in "
                                  "range 1 to 300"},
      {"role = \"leader\"\n", ":1: role: --role: leader not in {writer,reader}"},
      {"log-format = \"xml\"\n", ":1: log-format: --log-format: xml not in {text,json}"},
      {"public-metrics = \"yes\"\n", ":1: public-metrics: expected a boolean, got a string"},
      {"[serve]\nlisten = \"127.0.0.1:0\"\n", ":1: unknown key 'serve'"},
      {"listen = \n", ":1: not valid TOML"},
  };
  int n = 0;
  for (const auto& c : cases) {
    const fs::path config = dir.path() / ("case" + std::to_string(++n) + ".toml");
    WriteFile(config, c.text);
    const std::string data = dir.Sub("data" + std::to_string(n));
    // Overridden by a flag or not, a bad entry is refused.
    auto r = RunTool({"serve", "--config", config.string(), "--data-dir", data, "--listen",
                      "127.0.0.1:0", "--http-threads", "4"});
    EXPECT_EQ(r.exit_code, 2) << c.text << r.err;
    EXPECT_THAT(r.err, HasSubstr(config.string() + c.expected)) << c.text;
    EXPECT_FALSE(fs::exists(data)) << "nothing is started: " << c.text;
    auto shown = RunTool({"config", "show", "--config", config.string()});
    EXPECT_EQ(shown.exit_code, 2) << c.text;
    EXPECT_THAT(shown.err, HasSubstr(config.string() + c.expected)) << c.text;
  }
  auto missing = RunTool({"serve", "--config", dir.Sub("nowhere.toml")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("cannot read the configuration file " +
                                     dir.Sub("nowhere.toml")));
  // The administrator's seed is never taken from the command line (ps shows it).
  auto on_cli = RunTool({"serve", "--admin-token", std::string(40, 'a')});
  EXPECT_EQ(on_cli.exit_code, 2);
  EXPECT_THAT(on_cli.err, HasSubstr("AUTOENROLL_ADMIN_TOKEN"));
}

// ---- logs and signals --------------------------------------------------------------------

TEST(ServiceLogs, JsonLinesCarryTimeLevelComponentMessageAndTheRequestId) {
  TempDir dir;
  const fs::path log_file = dir.path() / "autoenroll.log";
  EngineProcess engine(dir.Sub("data"),
                       {"--log-format", "json", "--log-file", log_file.string()});
  ASSERT_THAT(engine.Start(), IsOk());
  auto r = engine.Post("/v1/kme/settings/rotate-token", "{}", engine.AdminToken());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(WaitFor([&] {
    return ReadWholeFile(log_file).find("enrollment token was rotated") != std::string::npos;
  }));
  EXPECT_EQ(engine.Stop(), 0);
  EXPECT_EQ(engine.LogText(), "") << "everything went to the file";

  bool saw_start = false, saw_request = false;
  for (const auto& line : Lines(ReadWholeFile(log_file))) {
    json j = json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    ASSERT_TRUE(j["time"].is_string()) << line;
    int64_t ms = 0;
    EXPECT_TRUE(ParseRfc3339(j["time"].get<std::string>(), &ms)) << line;
    EXPECT_TRUE(j["level"].is_string()) << line;
    EXPECT_TRUE(j["component"].is_string()) << line;
    EXPECT_TRUE(j["message"].is_string()) << line;
    const std::string message = j.value("message", "");
    if (message.find("autoenroll serving on") != std::string::npos) {
      saw_start = true;
      EXPECT_EQ(j["level"], "info");
      EXPECT_EQ(j["component"], "api");
      EXPECT_FALSE(j.contains("request_id")) << "no request: " << line;
    }
    if (message.find("enrollment token was rotated") != std::string::npos) {
      saw_request = true;
      EXPECT_EQ(j["component"], "kme");
      ASSERT_TRUE(j["request_id"].is_string()) << line;
      EXPECT_FALSE(j["request_id"].get<std::string>().empty());
    }
  }
  EXPECT_TRUE(saw_start);
  EXPECT_TRUE(saw_request);
}

TEST(ServiceLogs, SighupAfterTheLogFileWasMovedWritesToANewFile) {
  TempDir dir;
  const fs::path log_file = dir.path() / "autoenroll.log";
  const fs::path rotated = dir.path() / "autoenroll.log.1";
  EngineProcess engine(dir.Sub("data"), {"--log-file", log_file.string()});
  ASSERT_THAT(engine.Start(), IsOk());
  ASSERT_TRUE(WaitFor([&] {
    return ReadWholeFile(log_file).find("autoenroll serving on") != std::string::npos;
  }));
  fs::rename(log_file, rotated);  // what logrotate does, before its postrotate SIGHUP
  engine.Signal(SIGHUP);
  ASSERT_TRUE(WaitFor([&] {
    return ReadWholeFile(log_file).find("log file reopened") != std::string::npos;
  })) << "no new log file after SIGHUP";
  auto r = engine.Post("/v1/kme/settings/rotate-token", "{}", engine.AdminToken());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(WaitFor([&] {
    return ReadWholeFile(log_file).find("enrollment token was rotated") != std::string::npos;
  }));
  EXPECT_EQ(engine.Stop(), 0);
  const std::string old_text = ReadWholeFile(rotated);
  EXPECT_THAT(old_text, HasSubstr("autoenroll serving on"));
  EXPECT_THAT(old_text, Not(HasSubstr("enrollment token was rotated")));
  EXPECT_THAT(ReadWholeFile(log_file), HasSubstr("stopped"));
  EXPECT_EQ(fs::status(log_file).permissions() & (fs::perms::group_all | fs::perms::others_all),
            fs::perms::none);
}

// A TCP connection for a request sent in parts.
class SlowClient {
 public:
  explicit SlowClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    timeval tv{30, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0;
  }
  ~SlowClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  bool Send(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  // Everything the engine sends until it closes the connection.
  std::string ReadAll() {
    std::string in;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd_, buf, sizeof buf, 0)) > 0) in.append(buf, static_cast<size_t>(n));
    return in;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

TEST(ServiceSignals, SigtermLetsARequestInFlightFinishThenExitsZero) {
  TempDir dir;
  EngineProcess engine(dir.Sub("data"), {"--shutdown-timeout", "60"});
  ASSERT_THAT(engine.Start(), IsOk());
  const std::string token = engine.AdminToken();
  // A body larger than the gate holds (64 KiB) is read by a worker as it arrives.
  const std::string user = R"({"username":"late-ann","role":"device_user"})";
  const std::string body = std::string(100 * 1024, ' ') + user;
  SlowClient client(engine.port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                          token + "\r\nContent-Type: application/json\r\n"));
  ASSERT_TRUE(WaitFor([&] {
    return Metric(engine, token, "autoenroll_http_connections_waiting") >= 1;
  })) << "the connection waits for its head";
  ASSERT_TRUE(client.Send("Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                          body.substr(0, 80 * 1024)));
  ASSERT_TRUE(WaitFor([&] {
    return Metric(engine, token, "autoenroll_http_connections_waiting") == 0;
  })) << "a worker reads the body";

  engine.Signal(SIGTERM);
  ASSERT_TRUE(WaitFor([&] {
    return engine.LogText().find("stopping: no new connections") != std::string::npos;
  }));
  EXPECT_EQ(CallLoopback(engine.port(), "GET", "/healthz").status, -1)
      << "no new connection after SIGTERM";
  ASSERT_TRUE(client.Send(body.substr(80 * 1024)));
  const std::string answer = client.ReadAll();
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 201"));
  EXPECT_THAT(answer, HasSubstr("\"username\":\"late-ann\""));
  EXPECT_EQ(engine.Stop(0), 0) << engine.LogText();  // waits for the exit, sends nothing
  EXPECT_THAT(engine.LogText(), HasSubstr("stopped"));

  EngineProcess again(dir.Sub("data"));
  ASSERT_THAT(again.Start(), IsOk());
  auto users = again.Get("/v1/users/late-ann", again.AdminToken());
  EXPECT_EQ(users.status, 200) << users.body;
  EXPECT_EQ(again.Stop(), 0);
}

// ---- the data directory's format -------------------------------------------------------

// Every file under `root`, with its content.
std::map<std::string, std::string> Snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) files[fs::relative(e.path(), root).string()] = ReadWholeFile(e.path());
  }
  return files;
}

// A data dir as engines wrote them before data directories recorded their format: the same
// parts without FORMAT, which is all format 1 differs by (one administrator, one user "ann").
fs::path MakeFormat1DataDir(const TempDir& dir) {
  const fs::path data = dir.path() / "data";
  EngineProcess engine(data.string());
  EXPECT_THAT(engine.Start(), IsOk());
  auto ann = engine.Post("/v1/users", R"({"username": "ann", "role": "device_user"})",
                         engine.AdminToken());
  EXPECT_EQ(ann.status, 201) << ann.body;
  EXPECT_EQ(engine.Stop(), 0) << engine.LogText();
  fs::remove(data / "FORMAT");
  return data;
}

TEST(DataDirFormat, ADataDirOfAnOlderFormatIsUpgradedInPlace) {
  TempDir dir;
  const fs::path data = MakeFormat1DataDir(dir);
  ASSERT_FALSE(fs::exists(data / "FORMAT"));
  EngineProcess engine(data.string());
  ASSERT_THAT(engine.Start(), IsOk());
  auto ann = engine.Get("/v1/users/ann", engine.AdminToken());
  EXPECT_EQ(ann.status, 200) << ann.body;
  EXPECT_EQ(ReadWholeFile(data / "FORMAT"), "2\n");
  EXPECT_THAT(engine.LogText(),
              HasSubstr("upgraded the data directory " + data.string() + " from format 1 to "
                        "format 2"));
  EXPECT_EQ(engine.Stop(), 0);

  // A new data dir is marked from its first start.
  EngineProcess fresh(dir.Sub("fresh"));
  ASSERT_THAT(fresh.Start(), IsOk());
  EXPECT_EQ(ReadWholeFile(dir.path() / "fresh" / "FORMAT"), "2\n");
  EXPECT_EQ(fresh.Stop(), 0) << fresh.LogText();
}

TEST(DataDirFormat, ADataDirOfANewerFormatIsRefusedAndLeftUntouched) {
  TempDir dir;
  const fs::path data = MakeFormat1DataDir(dir);
  WriteFile(data / "FORMAT", "3\n");
  const auto before = Snapshot(data);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"serve", "--data-dir", data.string(), "--listen", "127.0.0.1:0"},
        std::vector<std::string>{"replay", "--data-dir", data.string()},
        std::vector<std::string>{"audit", "verify", "--data-dir", data.string()},
        std::vector<std::string>{"secrets", "rotate-master-key", "--data-dir", data.string()}}) {
    auto r = RunTool(args);
    EXPECT_NE(r.exit_code, 0) << args[0] << ": " << r.out;
    EXPECT_THAT(r.err + r.out, HasSubstr("data_dir.too_new")) << args[0];
    EXPECT_THAT(r.err + r.out, HasSubstr("the data directory " + data.string() +
                                         " is of format 3, written by a newer autoenroll"))
        << args[0];
    EXPECT_THAT(r.err + r.out, HasSubstr("reads formats 1 to 2")) << args[0];
    EXPECT_EQ(Snapshot(data), before) << args[0] << " wrote to the data directory";
  }
}

}  // namespace
}  // namespace ae::testing
