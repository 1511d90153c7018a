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
#include "api/cli/control_api.h"
#include "api/http_errors.h"
#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"

namespace ae::cli {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr int64_t kMaxDevicesPerCall = 100'000;
constexpr char kCaFile[] = "device-ca.pem";
constexpr char kCaKeyFile[] = "device-ca-key.pem";

void AddControlRoutes(httplib::Server& http, sim::AppleDepSimulator& sim) {
  // The .p7m Apple's portal hands out, encrypted to the posted certificate.
  ControlRoute(http, "POST", "/sim/tokens", [&sim](const httplib::Request&, const json& b) -> Result<ControlReply> {
    AE_ASSIGN_OR_RETURN(std::string cert, StringField(b, "certificate_pem", true));
    AE_ASSIGN_OR_RETURN(std::string server, StringField(b, "server_name", false, "MDM Server 1"));
    AE_ASSIGN_OR_RETURN(std::string expiry, StringField(b, "expiry", false));
    sim::IssueTokenOptions o;
    if (!expiry.empty() && !ParseRfc3339(expiry, &o.expiry_ms)) {
      return BadField("expiry", "expiry must be an RFC 3339 time, e.g. 2030-01-01T00:00:00Z");
    }
    AE_ASSIGN_OR_RETURN(std::string p7m, sim.IssueToken(cert, server, o));
    return ControlReply{200, std::move(p7m), "application/pkcs7-mime"};
  });

  ControlRoute(http, "POST", "/sim/devices", [&sim](const httplib::Request&, const json& b) -> Result<ControlReply> {
    AE_ASSIGN_OR_RETURN(std::string server, StringField(b, "server_name", true));
    AE_ASSIGN_OR_RETURN(std::string prefix, StringField(b, "prefix", false, "C02"));
    AE_ASSIGN_OR_RETURN(int64_t count, IntField(b, "count", true, 1, kMaxDevicesPerCall));
    if (prefix.size() > 11) return BadField("prefix", "prefix must be at most 11 characters");
    std::vector<dep::Device> devices =
        sim::AppleDepSimulator::MakeDevices(prefix, static_cast<size_t>(count));
    json serials = json::array();
    for (const auto& d : devices) serials.push_back(d.serial_number);
    AE_RETURN_IF_ERROR(sim.AddDevices(server, std::move(devices)));
    return ControlJson({{"server_name", server}, {"serials", serials}}, 201);
  });

  // A device as Apple's details call shows it.
  auto device_state = [&sim](const std::string& serial) -> Result<ControlReply> {
    std::optional<dep::Device> d = sim.DeviceState(serial);
    if (!d) return NotFound("sim.unknown_device", "no device " + serial);
    return ControlJson(dep::DeviceToJson(*d));
  };
  ControlRoute(http, "GET", R"(/sim/devices/([^/]+))",
        [device_state](const httplib::Request& req, const json&) -> Result<ControlReply> {
          return device_state(req.matches[1]);
        });
  ControlRoute(http, "POST", R"(/sim/devices/([^/]+)/activate)",
        [&sim, device_state](const httplib::Request& req, const json&) -> Result<ControlReply> {
          AE_RETURN_IF_ERROR(sim.ActivateDevice(req.matches[1].str()));
          return device_state(req.matches[1]);
        });
  ControlRoute(http, "POST", R"(/sim/devices/([^/]+)/move)",
        [&sim, device_state](const httplib::Request& req, const json& b) -> Result<ControlReply> {
          AE_ASSIGN_OR_RETURN(std::string to, StringField(b, "to_server_name", true));
          AE_RETURN_IF_ERROR(sim.MoveDevice(req.matches[1].str(), to));
          return device_state(req.matches[1]);
        });
  ControlRoute(http, "POST", R"(/sim/devices/([^/]+)/remove)",
        [&sim](const httplib::Request& req, const json&) -> Result<ControlReply> {
          AE_RETURN_IF_ERROR(sim.RemoveDevice(req.matches[1].str()));
          return ControlJson({{"serial_number", req.matches[1].str()}, {"removed", true}});
        });

  ControlRoute(http, "POST", "/sim/faults", [&sim](const httplib::Request&, const json& b) -> Result<ControlReply> {
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
    return ControlJson({{"path", path}, {"count", count}, {"status", status}});
  });

  ControlRoute(http, "POST", "/sim/sessions/expire", [&sim](const httplib::Request&, const json&) -> Result<ControlReply> {
    sim.ExpireSessions();
    return ControlJson({{"expired", true}});
  });

  ControlRoute(http, "POST", R"(/sim/servers/([^/]+)/revoke)",
        [&sim](const httplib::Request& req, const json&) -> Result<ControlReply> {
          AE_RETURN_IF_ERROR(sim.RevokeToken(req.matches[1].str()));
          return ControlJson({{"server_name", req.matches[1].str()}, {"revoked", true}});
        });

  ControlRoute(http, "POST", "/sim/terms", [&sim](const httplib::Request&, const json& b) -> Result<ControlReply> {
    AE_ASSIGN_OR_RETURN(bool required, BoolField(b, "required"));
    sim.RequireTermsSigning(required);
    return ControlJson({{"required", required}});
  });

  ControlRoute(http, "POST", R"(/sim/serials/([^/]+)/outcome)",
        [&sim](const httplib::Request& req, const json& b) -> Result<ControlReply> {
          AE_ASSIGN_OR_RETURN(std::string status, StringField(b, "status", false));
          if (!status.empty() && status != "FAILED" && status != "THROTTLED") {
            return BadField("status", "status must be FAILED, THROTTLED or \"\" (clear)");
          }
          AE_ASSIGN_OR_RETURN(int64_t retry, IntField(b, "retry_after_seconds", false, 0,
                                                      7 * 24 * 3600, 0));
          sim.SetSerialOutcome(req.matches[1].str(), sim::SerialOutcome{status, retry});
          return ControlJson({{"serial_number", req.matches[1].str()},
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
    return InvalidArgument("sim.bad_device_ca",
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

  return ServeControlApi(
      "sim apple-dep", *control_at, [&sim](httplib::Server& http) { AddControlRoutes(http, sim); },
      sim.base_url(), "Apple DEP simulator on " + sim.base_url(), out, err);
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
