// autoenroll sim knox: the Samsung Knox Cloud API simulator (adapters/simulators) as a
// runnable process, for the demo and operators.
//
// It serves the KME API and the OAuth token endpoint on one port, and a control API on a
// second one (loopback only, JSON in and out) that exposes the simulator's test hooks:
//   POST /sim/credentials            {customer_id?, scopes?}       -> client credentials
//   POST /sim/devices                {count, prefix?, customer_id?, reseller_id?,
//                                     reseller_name?, auto_approve?, default_profile_id?}
//                                    -> a reseller upload of `count` devices (201)
//   GET  /sim/devices/{id}           any identifier -> the device as devices/list shows it
//   POST /sim/devices/{id}/state     {state}                       -> e.g. "Enrolled"
//   POST /sim/devices/{id}/outcome   {outcome: FAILED|NOT_FOUND|INVALID|""}
//   POST /sim/profiles               {name, customer_id?}          -> {id, name} (201)
//   POST /sim/faults                 {path?, count?, status, retry_after?, body?}
//   POST /sim/tokens/expire                                        -> every token dies

#include <httplib.h>

#include <cctype>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "adapters/samsung_knox/knox_client.h"
#include "adapters/simulators/knox_simulator.h"
#include "api/cli/commands.h"
#include "api/http_errors.h"
#include "events/base/status.h"

namespace ae::cli {
namespace {

using nlohmann::json;

constexpr char kJson[] = "application/json";
constexpr size_t kMaxControlBodyBytes = 1u << 20;
constexpr int64_t kMaxDevicesPerCall = 100'000;

struct Endpoint {
  std::string host;
  int port = 0;
};

// A loopback HOST:PORT ("127.0.0.1:0" or "localhost:8090").
Result<Endpoint> ParseLoopback(std::string_view flag, const std::string& text) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("cli.bad_listen", std::string(flag) + " " + why + ", got '" + text + "'");
  };
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size() || colon + 6 < text.size()) {
    return bad("must be HOST:PORT");
  }
  Endpoint e{text.substr(0, colon), 0};
  for (size_t i = colon + 1; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return bad("port must be a number");
    e.port = e.port * 10 + (text[i] - '0');
  }
  if (e.port > 65535) return bad("port must be <= 65535");
  if (e.host != "127.0.0.1" && e.host != "localhost") return bad("must be on 127.0.0.1");
  e.host = "127.0.0.1";
  return e;
}

struct Reply {
  int status = 200;
  json body;
};

void WriteError(httplib::Response& res, const Status& s) {
  res.status = api::HttpStatusFor(s.code());
  if (res.status < 400) res.status = 500;
  res.set_content(api::ErrorBody(s).dump(), kJson);
}

Status BadField(const std::string& field, const std::string& message) {
  return InvalidArgument("sim.bad_request", message, field);
}

Result<std::string> StringField(const json& b, const std::string& name, bool required,
                                std::string fallback = "") {
  auto it = b.find(name);
  if (it == b.end() || it->is_null()) {
    if (required) return BadField(name, name + " is required");
    return fallback;
  }
  if (!it->is_string()) return BadField(name, name + " must be a string");
  if (required && it->get_ref<const std::string&>().empty()) {
    return BadField(name, name + " must not be empty");
  }
  return it->get<std::string>();
}

Result<int64_t> IntField(const json& b, const std::string& name, bool required, int64_t min,
                         int64_t max, int64_t fallback = 0) {
  auto it = b.find(name);
  if (it == b.end() || it->is_null()) {
    if (required) return BadField(name, name + " is required");
    return fallback;
  }
  if (!it->is_number_integer()) return BadField(name, name + " must be an integer");
  const int64_t v = it->get<int64_t>();
  if (v < min || v > max) {
    return BadField(name, name + " must be in " + std::to_string(min) + ".." + std::to_string(max));
  }
  return v;
}

Result<bool> BoolField(const json& b, const std::string& name, bool fallback) {
  auto it = b.find(name);
  if (it == b.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) return BadField(name, name + " must be true or false");
  return it->get<bool>();
}

using Handler = std::function<Result<Reply>(const httplib::Request&, const json& body)>;

void Route(httplib::Server& http, const std::string& method, const std::string& pattern,
           Handler handler) {
  auto wrapped = [handler = std::move(handler)](const httplib::Request& req,
                                                httplib::Response& res) {
    json body = json::object();
    if (!req.body.empty()) {
      body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
      if (body.is_discarded() || !body.is_object()) {
        return WriteError(res, InvalidArgument("sim.bad_json", "the body must be a JSON object"));
      }
    }
    Result<Reply> reply = handler(req, body);
    if (!reply.ok()) return WriteError(res, reply.status());
    res.status = reply->status;
    res.set_content(reply->body.dump(), kJson);
  };
  if (method == "GET") {
    http.Get(pattern, wrapped);
  } else {
    http.Post(pattern, wrapped);
  }
}

json DeviceJson(const knox::Device& d) {
  json j = knox::DeviceToJson(d);
  j["imei"] = d.imei;
  j["status"] = std::string(kme::KmeDeviceStatusName(d.state));
  return j;
}

void AddControlRoutes(httplib::Server& http, sim::KnoxSimulator& sim) {
  Route(http, "POST", "/sim/credentials",
        [&sim](const httplib::Request&, const json& b) -> Result<Reply> {
          AE_ASSIGN_OR_RETURN(std::string customer, StringField(b, "customer_id", false));
          std::vector<std::string> scopes;
          auto it = b.find("scopes");
          if (it != b.end() && !it->is_null()) {
            if (it->is_string()) {
              std::string s = it->get<std::string>();
              size_t i = 0;
              while (i < s.size()) {
                size_t j = s.find(' ', i);
                if (j == std::string::npos) j = s.size();
                if (j > i) scopes.push_back(s.substr(i, j - i));
                i = j + 1;
              }
            } else if (it->is_array()) {
              for (const json& v : *it) {
                if (!v.is_string()) return BadField("scopes", "scopes must be strings");
                scopes.push_back(v.get<std::string>());
              }
            } else {
              return BadField("scopes", "scopes must be a list or a space-separated string");
            }
          }
          sim::KnoxIssuedCredentials c = sim.IssueCredentials(customer, scopes);
          return Reply{201, {{"client_id", c.client_id},
                             {"client_secret", c.client_secret},
                             {"customer_id", c.customer_id},
                             {"scopes", c.scopes},
                             {"api_url", sim.base_url()},
                             {"token_url", sim.token_url()},
                             {"credential_public_key", sim.CredentialPublicKey()}}};
        });

  Route(http, "POST", "/sim/devices", [&sim](const httplib::Request&, const json& b) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(int64_t count, IntField(b, "count", true, 1, kMaxDevicesPerCall));
    AE_ASSIGN_OR_RETURN(std::string prefix, StringField(b, "prefix", false));
    AE_ASSIGN_OR_RETURN(int64_t first, IntField(b, "first_index", false, 1, 999'999, 1));
    if (prefix.size() > 4) return BadField("prefix", "prefix must be at most 4 characters");
    for (char c : prefix) {
      if (!std::isalnum(static_cast<unsigned char>(c))) {
        return BadField("prefix", "prefix must be letters and digits");
      }
    }
    sim::ResellerUploadOptions o;
    AE_ASSIGN_OR_RETURN(o.customer_id, StringField(b, "customer_id", false));
    AE_ASSIGN_OR_RETURN(o.reseller_id, StringField(b, "reseller_id", false, o.reseller_id));
    AE_ASSIGN_OR_RETURN(o.reseller_name, StringField(b, "reseller_name", false, o.reseller_name));
    AE_ASSIGN_OR_RETURN(o.auto_approve, BoolField(b, "auto_approve", false));
    AE_ASSIGN_OR_RETURN(o.default_profile_id, StringField(b, "default_profile_id", false));
    auto devices = sim::KnoxSimulator::MakeDevices(prefix, static_cast<size_t>(count),
                                                   static_cast<size_t>(first));
    AE_ASSIGN_OR_RETURN(sim::ResellerUploadResult up, sim.AddResellerUpload(devices, o));
    json list = json::array();
    for (size_t i = 0; i < devices.size(); ++i) {
      list.push_back({{"id", up.device_ids[i]},
                      {"imei", devices[i].imei},
                      {"serial", devices[i].serial},
                      {"model", devices[i].model}});
    }
    return Reply{201, {{"upload_id", up.upload_id},
                       {"status", sim.UploadStatus(up.upload_id).value_or("")},
                       {"devices", std::move(list)}}};
  });

  Route(http, "GET", R"(/sim/devices/([^/]+))",
        [&sim](const httplib::Request& req, const json&) -> Result<Reply> {
          std::optional<knox::Device> d = sim.DeviceState(req.matches[1].str());
          if (!d) return NotFound("sim.unknown_device", "no device " + req.matches[1].str());
          return Reply{200, DeviceJson(*d)};
        });

  Route(http, "POST", R"(/sim/devices/([^/]+)/state)",
        [&sim](const httplib::Request& req, const json& b) -> Result<Reply> {
          AE_ASSIGN_OR_RETURN(std::string state, StringField(b, "state", true));
          AE_RETURN_IF_ERROR(sim.SetDeviceState(req.matches[1].str(), state));
          return Reply{200, DeviceJson(*sim.DeviceState(req.matches[1].str()))};
        });

  Route(http, "POST", R"(/sim/devices/([^/]+)/outcome)",
        [&sim](const httplib::Request& req, const json& b) -> Result<Reply> {
          AE_ASSIGN_OR_RETURN(std::string outcome, StringField(b, "outcome", false));
          for (char& c : outcome) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          if (!outcome.empty() && outcome != "FAILED" && outcome != "NOT_FOUND" &&
              outcome != "INVALID") {
            return BadField("outcome", "outcome must be FAILED, NOT_FOUND, INVALID or \"\" (clear)");
          }
          sim.SetDeviceOutcome(req.matches[1].str(), outcome);
          return Reply{200, {{"device", req.matches[1].str()}, {"outcome", outcome}}};
        });

  Route(http, "POST", "/sim/profiles", [&sim](const httplib::Request&, const json& b) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(std::string name, StringField(b, "name", true));
    AE_ASSIGN_OR_RETURN(std::string customer, StringField(b, "customer_id", false));
    AE_ASSIGN_OR_RETURN(std::string id, sim.AddProfile(name, customer));
    return Reply{201, {{"id", id}, {"name", name}}};
  });

  Route(http, "POST", "/sim/faults", [&sim](const httplib::Request&, const json& b) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(std::string path, StringField(b, "path", false));
    AE_ASSIGN_OR_RETURN(int64_t count, IntField(b, "count", false, 1, 1'000'000, 1));
    AE_ASSIGN_OR_RETURN(int64_t status, IntField(b, "status", true, 200, 599));
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
    return Reply{200, {{"path", path}, {"count", count}, {"status", status}}};
  });

  Route(http, "POST", "/sim/tokens/expire", [&sim](const httplib::Request&, const json&) -> Result<Reply> {
    sim.ExpireTokens();
    return Reply{200, {{"expired", true}}};
  });
}

}  // namespace

int SimKnox(const SimKnoxOptions& options, std::ostream& out, std::ostream& err) {
  Result<Endpoint> api_at = ParseLoopback("--listen", options.listen);
  if (!api_at.ok()) {
    err << "sim knox: " << api_at.status().message() << "\n";
    return 2;
  }
  Result<Endpoint> control_at = ParseLoopback("--control-listen", options.control_listen);
  if (!control_at.ok()) {
    err << "sim knox: " << control_at.status().message() << "\n";
    return 2;
  }

  sim::KnoxSimulatorOptions sim_options;
  sim_options.port = api_at->port;
  sim::KnoxSimulator sim(sim_options);
  if (sim.port() <= 0) {
    err << "sim knox: cannot listen on 127.0.0.1:" << api_at->port << "\n";
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
    err << "sim knox: cannot listen on 127.0.0.1:" << control_at->port << " for the control API\n";
    return 1;
  }

  std::thread control_thread([&control] { control.listen_after_bind(); });
  // stop() is a no-op until the accept loop runs: wait for it (bounded).
  for (int i = 0; i < 5000 && !control.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  out << "listening on " << sim.base_url() << std::endl;
  out << "control on http://127.0.0.1:" << control_port << std::endl;
  err << "sim knox: Knox Cloud API simulator on " << sim.base_url() << " (token endpoint "
      << sim.token_url() << "); control API on http://127.0.0.1:" << control_port
      << ". Ctrl-C stops it.\n";

  OnStop([&control] { control.stop(); });
  while (!StopRequested().load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  OnStop(nullptr);
  control.stop();
  control_thread.join();
  return 0;
}

}  // namespace ae::cli
