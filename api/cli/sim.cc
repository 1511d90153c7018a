// autoenroll sim apple-dep | apple-device | apple-device-ca: the simulators
// from adapters/simulators as runnable processes, for the demo and operators.
//
// apple-dep serves Apple's DEP web service on one port and a control API on a
// second one (loopback only, JSON in and out) that exposes the simulator's
// test hooks: issue tokens, add/move/remove/activate devices, inject faults.
// apple-device plays one device through automated enrollment against a
// running engine and prints one line per step.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "adapters/apple_dep/types.h"
#include "adapters/apple_mdm/machine_info.h"
#include "adapters/simulators/apple_dep_simulator.h"
#include "adapters/simulators/apple_device_simulator.h"
#include "api/cli/commands.h"
#include "api/http_errors.h"
#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"

namespace ae::cli {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr char kJson[] = "application/json";
constexpr size_t kMaxControlBodyBytes = 1u << 20;  // certificates and small JSON objects
constexpr int64_t kMaxDevicesPerCall = 100'000;
constexpr char kCaFile[] = "device-ca.pem";
constexpr char kCaKeyFile[] = "device-ca-key.pem";

// ---- HOST:PORT ---------------------------------------------------------------

struct Endpoint {
  std::string host;
  int port = 0;
};

// Parses a loopback HOST:PORT ("127.0.0.1:0" or "localhost:8090").
Result<Endpoint> ParseLoopbackListen(std::string_view flag, const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size() || colon + 6 < text.size()) {
    return InvalidArgument("cli.bad_listen",
                           std::string(flag) + " must be HOST:PORT, got '" + text + "'");
  }
  Endpoint e{text.substr(0, colon), 0};
  for (size_t i = colon + 1; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      return InvalidArgument("cli.bad_listen",
                             std::string(flag) + " port must be a number, got '" + text + "'");
    }
    e.port = e.port * 10 + (text[i] - '0');
  }
  if (e.port > 65535) {
    return InvalidArgument("cli.bad_listen", std::string(flag) + " port must be <= 65535");
  }
  if (e.host != "127.0.0.1" && e.host != "localhost") {
    return InvalidArgument("cli.bad_listen",
                           std::string(flag) + " must be on 127.0.0.1 (the simulator is loopback only)");
  }
  e.host = "127.0.0.1";
  return e;
}

// ---- control API -------------------------------------------------------------

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = kJson;
};

Reply JsonReply(const json& j, int status = 200) { return Reply{status, j.dump(), kJson}; }

void WriteError(httplib::Response& res, const Status& s) {
  res.status = api::HttpStatusFor(s.code());
  if (res.status < 400) res.status = 500;
  res.set_content(api::ErrorBody(s).dump(), kJson);
}

Status BadField(const std::string& field, const std::string& message) {
  return InvalidArgument("sim.bad_request", message, field);
}

// The request body as a JSON object; an empty body is {}.
Result<json> BodyObject(const httplib::Request& req) {
  if (req.body.empty()) return json::object();
  json j = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument("sim.bad_json", "the body must be a JSON object");
  }
  return j;
}

Result<std::string> StringField(const json& body, const std::string& name, bool required,
                                std::string fallback = "") {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (required) return BadField(name, name + " is required");
    return fallback;
  }
  if (!it->is_string()) return BadField(name, name + " must be a string");
  if (required && it->get_ref<const std::string&>().empty()) {
    return BadField(name, name + " must not be empty");
  }
  return it->get<std::string>();
}

Result<int64_t> IntField(const json& body, const std::string& name, bool required, int64_t min,
                         int64_t max, int64_t fallback = 0) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (required) return BadField(name, name + " is required");
    return fallback;
  }
  if (!it->is_number_integer()) return BadField(name, name + " must be an integer");
  int64_t v = it->get<int64_t>();
  if (v < min || v > max) {
    return BadField(name, name + " must be in " + std::to_string(min) + ".." + std::to_string(max));
  }
  return v;
}

Result<bool> BoolField(const json& body, const std::string& name) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_boolean()) return BadField(name, name + " must be true or false");
  return it->get<bool>();
}

using ControlHandler = std::function<Result<Reply>(const httplib::Request&, const json& body)>;

// Registers `handler` for `method` `pattern` with JSON parsing and error mapping.
void Route(httplib::Server& http, const std::string& method, const std::string& pattern,
           ControlHandler handler) {
  auto wrapped = [handler = std::move(handler)](const httplib::Request& req,
                                                httplib::Response& res) {
    Result<json> body = BodyObject(req);
    if (!body.ok()) return WriteError(res, body.status());
    Result<Reply> reply = handler(req, *body);
    if (!reply.ok()) return WriteError(res, reply.status());
    res.status = reply->status;
    res.set_content(reply->body, reply->content_type.c_str());
  };
  if (method == "GET") http.Get(pattern, wrapped);
  else http.Post(pattern, wrapped);
}

void AddControlRoutes(httplib::Server& http, sim::AppleDepSimulator& sim) {
  // The .p7m Apple's portal hands out, encrypted to the posted certificate.
  Route(http, "POST", "/sim/tokens", [&sim](const httplib::Request&, const json& b) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(std::string cert, StringField(b, "certificate_pem", true));
    AE_ASSIGN_OR_RETURN(std::string server, StringField(b, "server_name", false, "MDM Server 1"));
    AE_ASSIGN_OR_RETURN(std::string expiry, StringField(b, "expiry", false));
    sim::IssueTokenOptions o;
    if (!expiry.empty() && !ParseRfc3339(expiry, &o.expiry_ms)) {
      return BadField("expiry", "expiry must be an RFC 3339 time, e.g. 2030-01-01T00:00:00Z");
    }
    AE_ASSIGN_OR_RETURN(std::string p7m, sim.IssueToken(cert, server, o));
    return Reply{200, std::move(p7m), "application/pkcs7-mime"};
  });

  Route(http, "POST", "/sim/devices", [&sim](const httplib::Request&, const json& b) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(std::string server, StringField(b, "server_name", true));
    AE_ASSIGN_OR_RETURN(std::string prefix, StringField(b, "prefix", false, "C02"));
    AE_ASSIGN_OR_RETURN(int64_t count, IntField(b, "count", true, 1, kMaxDevicesPerCall));
    if (prefix.size() > 11) return BadField("prefix", "prefix must be at most 11 characters");
    std::vector<dep::Device> devices =
        sim::AppleDepSimulator::MakeDevices(prefix, static_cast<size_t>(count));
    json serials = json::array();
    for (const auto& d : devices) serials.push_back(d.serial_number);
    AE_RETURN_IF_ERROR(sim.AddDevices(server, std::move(devices)));
    return JsonReply({{"server_name", server}, {"serials", serials}}, 201);
  });

  // A device as Apple's details call shows it.
  auto device_state = [&sim](const std::string& serial) -> Result<Reply> {
    std::optional<dep::Device> d = sim.DeviceState(serial);
    if (!d) return NotFound("sim.unknown_device", "no device " + serial);
    return JsonReply(dep::DeviceToJson(*d));
  };
  Route(http, "GET", R"(/sim/devices/([^/]+))",
        [device_state](const httplib::Request& req, const json&) -> Result<Reply> {
          return device_state(req.matches[1]);
        });
  Route(http, "POST", R"(/sim/devices/([^/]+)/activate)",
        [&sim, device_state](const httplib::Request& req, const json&) -> Result<Reply> {
          AE_RETURN_IF_ERROR(sim.ActivateDevice(req.matches[1].str()));
          return device_state(req.matches[1]);
        });
  Route(http, "POST", R"(/sim/devices/([^/]+)/move)",
        [&sim, device_state](const httplib::Request& req, const json& b) -> Result<Reply> {
          AE_ASSIGN_OR_RETURN(std::string to, StringField(b, "to_server_name", true));
          AE_RETURN_IF_ERROR(sim.MoveDevice(req.matches[1].str(), to));
          return device_state(req.matches[1]);
        });
  Route(http, "POST", R"(/sim/devices/([^/]+)/remove)",
        [&sim](const httplib::Request& req, const json&) -> Result<Reply> {
          AE_RETURN_IF_ERROR(sim.RemoveDevice(req.matches[1].str()));
          return JsonReply({{"serial_number", req.matches[1].str()}, {"removed", true}});
        });

  Route(http, "POST", "/sim/faults", [&sim](const httplib::Request&, const json& b) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(std::string path, StringField(b, "path", false));
    AE_ASSIGN_OR_RETURN(int64_t count, IntField(b, "count", false, 1, 1'000'000, 1));
    AE_ASSIGN_OR_RETURN(int64_t status, IntField(b, "status", true, 400, 599));
    AE_ASSIGN_OR_RETURN(std::string body, StringField(b, "body", false));
    std::string retry_after;
    auto ra = b.find("retry_after");
    if (ra != b.end() && !ra->is_null()) {
      if (ra->is_number_integer() && ra->get<int64_t>() >= 0) {
        retry_after = std::to_string(ra->get<int64_t>());
      } else if (ra->is_string()) {
        retry_after = ra->get<std::string>();
      } else {
        return BadField("retry_after", "retry_after must be seconds or an HTTP date");
      }
    }
    sim.InjectFailure(path, static_cast<int>(count), static_cast<int>(status), retry_after, body);
    return JsonReply({{"path", path}, {"count", count}, {"status", status}});
  });

  Route(http, "POST", "/sim/sessions/expire", [&sim](const httplib::Request&, const json&) -> Result<Reply> {
    sim.ExpireSessions();
    return JsonReply({{"expired", true}});
  });

  Route(http, "POST", R"(/sim/servers/([^/]+)/revoke)",
        [&sim](const httplib::Request& req, const json&) -> Result<Reply> {
          AE_RETURN_IF_ERROR(sim.RevokeToken(req.matches[1].str()));
          return JsonReply({{"server_name", req.matches[1].str()}, {"revoked", true}});
        });

  Route(http, "POST", "/sim/terms", [&sim](const httplib::Request&, const json& b) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(bool required, BoolField(b, "required"));
    sim.RequireTermsSigning(required);
    return JsonReply({{"required", required}});
  });

  Route(http, "POST", R"(/sim/serials/([^/]+)/outcome)",
        [&sim](const httplib::Request& req, const json& b) -> Result<Reply> {
          AE_ASSIGN_OR_RETURN(std::string status, StringField(b, "status", false));
          if (!status.empty() && status != "FAILED" && status != "THROTTLED") {
            return BadField("status", "status must be FAILED, THROTTLED or \"\" (clear)");
          }
          AE_ASSIGN_OR_RETURN(int64_t retry, IntField(b, "retry_after_seconds", false, 0,
                                                      7 * 24 * 3600, 0));
          sim.SetSerialOutcome(req.matches[1].str(), sim::SerialOutcome{status, retry});
          return JsonReply({{"serial_number", req.matches[1].str()},
                            {"status", status},
                            {"retry_after_seconds", retry}});
        });
}

// ---- device CA directory -----------------------------------------------------

Status WriteFileExclusive(const fs::path& path, const std::string& content, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return Internal("sim.write_failed", "cannot create " + path.string() + ": " + std::strerror(errno));
  }
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      return Internal("sim.write_failed", "cannot write " + path.string() + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return Internal("sim.write_failed", "cannot sync " + path.string());
  }
  return Status::Ok();
}

Result<std::string> ReadSmallFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Internal("sim.read_failed", "cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > 64 * 1024) return InvalidArgument("sim.bad_device_ca", path.string() + " is too large");
  return s;
}

// Loads the device CA kept in `dir`, creating it on first use.
Result<mdm::TestDeviceAuthority> LoadOrCreateDeviceCa(const std::string& dir) {
  if (dir.empty()) return InvalidArgument("cli.usage", "--device-ca-dir is required");
  const fs::path root(dir);
  const fs::path cert_path = root / kCaFile;
  const fs::path key_path = root / kCaKeyFile;
  std::error_code ec;
  const bool has_cert = fs::exists(cert_path, ec);
  const bool has_key = fs::exists(key_path, ec);
  if (has_cert && has_key) {
    AE_ASSIGN_OR_RETURN(std::string cert, ReadSmallFile(cert_path));
    AE_ASSIGN_OR_RETURN(std::string key, ReadSmallFile(key_path));
    Result<mdm::TestDeviceAuthority> ca = mdm::TestDeviceAuthority::FromPem(cert, key);
    if (!ca.ok()) return ca.status().WithContext(root.string());
    return ca;
  }
  if (has_cert || has_key) {
    return FailedPrecondition("sim.bad_device_ca",
                              root.string() + " holds only one of " + kCaFile + " and " +
                                  kCaKeyFile + "; remove it or restore the other");
  }
  fs::create_directories(root, ec);
  if (ec) return Internal("sim.write_failed", "cannot create " + root.string() + ": " + ec.message());
  AE_ASSIGN_OR_RETURN(mdm::TestDeviceAuthority ca, mdm::TestDeviceAuthority::Generate());
  // The key first: a directory with a certificate but no key is never left behind.
  AE_RETURN_IF_ERROR(WriteFileExclusive(key_path, ca.PrivateKeyPem(), 0600));
  AE_RETURN_IF_ERROR(WriteFileExclusive(cert_path, ca.CaPem(), 0644));
  return ca;
}

fs::path CaCertificatePath(const std::string& dir) {
  std::error_code ec;
  fs::path p = fs::absolute(fs::path(dir) / kCaFile, ec);
  return ec ? fs::path(dir) / kCaFile : p.lexically_normal();
}

// ---- device flow helpers -----------------------------------------------------

// "iPhone14,2" -> "iPhone": the model name is the model's leading letters.
std::string ModelName(const std::string& model) {
  auto digit = std::find_if(model.begin(), model.end(),
                            [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  std::string name(model.begin(), digit);
  return name.empty() ? "iPhone" : name;
}

// A stable UDID for a serial, in the shape of a modern device's.
std::string UdidFor(const std::string& serial) {
  std::string hex = crypto::Hex(crypto::Sha256("udid:" + serial)).substr(0, 16);
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return "00008030-" + hex;
}

// The error code of an engine answer ({"error":{"code"}}), else a short body excerpt.
std::string Reason(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_object()) {
    return j["error"].value("code", "");
  }
  std::string s = body.substr(0, 120);
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

// ---- sim apple-dep -------------------------------------------------------------

int SimAppleDep(const SimAppleDepOptions& options, std::ostream& out, std::ostream& err) {
  Result<Endpoint> dep_at = ParseLoopbackListen("--listen", options.listen);
  if (!dep_at.ok()) {
    err << "sim apple-dep: " << dep_at.status().message() << "\n";
    return 2;
  }
  Result<Endpoint> control_at = ParseLoopbackListen("--control-listen", options.control_listen);
  if (!control_at.ok()) {
    err << "sim apple-dep: " << control_at.status().message() << "\n";
    return 2;
  }

  sim::AppleDepSimulatorOptions sim_options;
  sim_options.port = dep_at->port;
  sim::AppleDepSimulator sim(sim_options);
  if (sim.port() <= 0) {
    err << "sim apple-dep: cannot listen on 127.0.0.1:" << dep_at->port << "\n";
    return 1;
  }

  httplib::Server control;
  control.new_task_queue = [] { return new httplib::ThreadPool(2); };
  control.set_payload_max_length(kMaxControlBodyBytes);
  control.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                                   std::exception_ptr) {
    WriteError(res, Internal("internal", "the control API failed on this request"));
  });
  control.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler's own error
    WriteError(res, api::StatusForHttp(res.status));
  });
  AddControlRoutes(control, sim);
  int control_port = control_at->port;
  if (control_port == 0) {
    control_port = control.bind_to_any_port(control_at->host);
  } else if (!control.bind_to_port(control_at->host, control_port)) {
    control_port = -1;
  }
  if (control_port <= 0) {
    err << "sim apple-dep: cannot listen on 127.0.0.1:" << control_at->port
        << " for the control API\n";
    return 1;
  }

  std::thread control_thread([&control] { control.listen_after_bind(); });
  // stop() is a no-op until the accept loop runs: wait for it (bounded).
  for (int i = 0; i < 5000 && !control.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  out << "listening on " << sim.base_url() << std::endl;
  out << "control on http://127.0.0.1:" << control_port << std::endl;
  err << "sim apple-dep: Apple DEP simulator on " << sim.base_url()
      << "; control API on http://127.0.0.1:" << control_port << ". Ctrl-C stops it.\n";

  OnStop([&control] { control.stop(); });
  while (!StopRequested().load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  OnStop(nullptr);
  control.stop();
  control_thread.join();
  return 0;
}

// ---- sim apple-device-ca -------------------------------------------------------

int SimAppleDeviceCa(const std::string& device_ca_dir, std::ostream& out, std::ostream& err) {
  Result<mdm::TestDeviceAuthority> ca = LoadOrCreateDeviceCa(device_ca_dir);
  if (!ca.ok()) {
    err << "sim apple-device-ca: " << ca.status().ToString() << "\n";
    return ca.status().reason() == "cli.usage" ? 2 : 1;
  }
  out << CaCertificatePath(device_ca_dir).string() << std::endl;
  return 0;
}

// ---- sim apple-device ----------------------------------------------------------

int SimAppleDevice(const SimAppleDeviceOptions& options, std::ostream& out, std::ostream& err) {
  if (options.url.empty() || options.serial.empty()) {
    err << "sim apple-device: --url and --serial are required\n";
    return 2;
  }
  if (options.max_commands < 1) {
    err << "sim apple-device: --max-commands must be >= 1\n";
    return 2;
  }
  Result<mdm::TestDeviceAuthority> ca = LoadOrCreateDeviceCa(options.device_ca_dir);
  if (!ca.ok()) {
    err << "sim apple-device: " << ca.status().ToString() << "\n";
    return ca.status().reason() == "cli.usage" ? 2 : 1;
  }

  std::string base = options.url;
  while (!base.empty() && base.back() == '/') base.pop_back();

  sim::AppleDeviceSimulatorOptions o;
  o.base_url = base;
  o.serial = options.serial;
  o.udid = options.udid.empty() ? UdidFor(options.serial) : options.udid;
  o.model = options.model;
  o.model_name = ModelName(options.model);
  o.os_version = options.os_version;
  o.authority = &*ca;
  if (!options.tls_ca_file.empty()) {
    Result<std::string> pem = ReadSmallFile(options.tls_ca_file);
    if (!pem.ok()) {
      err << "sim apple-device: " << pem.status().ToString() << "\n";
      return 1;
    }
    o.tls_ca_pem = *pem;
  }
  sim::AppleDeviceSimulator device(o);
  out << "device: serial " << o.serial << ", udid " << o.udid << ", " << o.model << " "
      << o.os_version << std::endl;

  // enroll
  Result<sim::EnrollOutcome> enrolled = device.Enroll(base + "/enroll/apple");
  if (!enrolled.ok()) {
    out << "enroll: failed " << enrolled.status().ToString() << std::endl;
    return 1;
  }
  if (enrolled->http_status != 200) {
    out << "enroll: " << enrolled->http_status << " " << Reason(enrolled->error_body) << std::endl;
    return 1;
  }
  out << "enroll: 200" << std::endl;

  // check-ins
  const std::pair<const char*, std::function<Result<int>()>> checkins[] = {
      {"authenticate", [&device] { return device.Authenticate(); }},
      {"token-update",
       [&device, &options] { return device.TokenUpdate(options.await_configured); }},
  };
  for (const auto& [step, call] : checkins) {
    Result<int> status = call();
    if (!status.ok()) {
      out << step << ": failed " << status.status().ToString() << std::endl;
      return 1;
    }
    out << step << ": " << *status << std::endl;
    if (*status != 200) return 1;
  }

  // command loop: each Poll() sends the previous command's result.
  int commands = 0;
  for (int round = 0; round <= options.max_commands; ++round) {
    Result<std::optional<mdm::Command>> next = device.Poll();
    if (!next.ok()) {
      out << "command: failed " << next.status().ToString() << std::endl;
      return 1;
    }
    if (!next->has_value()) {
      out << "done: " << commands << (commands == 1 ? " command" : " commands") << std::endl;
      return 0;
    }
    const mdm::Command& c = **next;
    ++commands;
    out << "command: " << c.request_type << " " << c.command_uuid << " -> Acknowledged"
        << std::endl;
  }
  out << "command: the server sent more than " << options.max_commands << " commands" << std::endl;
  return 1;
}

}  // namespace ae::cli
