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
#include "api/cli/control_api.h"
#include "api/http_errors.h"
#include "events/base/status.h"

namespace ae::cli {
namespace {

using nlohmann::json;

constexpr int64_t kMaxDevicesPerCall = 100'000;

json DeviceJson(const knox::Device& d) {
  json j = knox::DeviceToJson(d);
  j["imei"] = d.imei;
  j["status"] = std::string(kme::KmeDeviceStatusName(d.state));
  return j;
}

void AddControlRoutes(httplib::Server& http, sim::KnoxSimulator& sim) {
  ControlRoute(http, "POST", "/sim/credentials",
        [&sim](const httplib::Request&, const json& b) -> Result<ControlReply> {
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
          return ControlJson(json({{"client_id", c.client_id},
                             {"client_secret", c.client_secret},
                             {"customer_id", c.customer_id},
                             {"scopes", c.scopes},
                             {"api_url", sim.base_url()},
                             {"token_url", sim.token_url()},
                             {"credential_public_key", sim.CredentialPublicKey()}}), 201);
        });

  ControlRoute(http, "POST", "/sim/devices", [&sim](const httplib::Request&, const json& b) -> Result<ControlReply> {
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
    return ControlJson(json({{"upload_id", up.upload_id},
                       {"status", sim.UploadStatus(up.upload_id).value_or("")},
                       {"devices", std::move(list)}}), 201);
  });

  ControlRoute(http, "GET", R"(/sim/devices/([^/]+))",
        [&sim](const httplib::Request& req, const json&) -> Result<ControlReply> {
          std::optional<knox::Device> d = sim.DeviceState(req.matches[1].str());
          if (!d) return NotFound("sim.unknown_device", "no device " + req.matches[1].str());
          return ControlJson(json(DeviceJson(*d)), 200);
        });

  ControlRoute(http, "POST", R"(/sim/devices/([^/]+)/state)",
        [&sim](const httplib::Request& req, const json& b) -> Result<ControlReply> {
          AE_ASSIGN_OR_RETURN(std::string state, StringField(b, "state", true));
          AE_RETURN_IF_ERROR(sim.SetDeviceState(req.matches[1].str(), state));
          return ControlJson(json(DeviceJson(*sim.DeviceState(req.matches[1].str()))), 200);
        });

  ControlRoute(http, "POST", R"(/sim/devices/([^/]+)/outcome)",
        [&sim](const httplib::Request& req, const json& b) -> Result<ControlReply> {
          AE_ASSIGN_OR_RETURN(std::string outcome, StringField(b, "outcome", false));
          for (char& c : outcome) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          if (!outcome.empty() && outcome != "FAILED" && outcome != "NOT_FOUND" &&
              outcome != "INVALID") {
            return BadField("outcome", "outcome must be FAILED, NOT_FOUND, INVALID or \"\" (clear)");
          }
          sim.SetDeviceOutcome(req.matches[1].str(), outcome);
          return ControlJson(json({{"device", req.matches[1].str()}, {"outcome", outcome}}), 200);
        });

  ControlRoute(http, "POST", "/sim/profiles", [&sim](const httplib::Request&, const json& b) -> Result<ControlReply> {
    AE_ASSIGN_OR_RETURN(std::string name, StringField(b, "name", true));
    AE_ASSIGN_OR_RETURN(std::string customer, StringField(b, "customer_id", false));
    AE_ASSIGN_OR_RETURN(std::string id, sim.AddProfile(name, customer));
    return ControlJson(json({{"id", id}, {"name", name}}), 201);
  });

  ControlRoute(http, "POST", "/sim/faults", [&sim](const httplib::Request&, const json& b) -> Result<ControlReply> {
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
    return ControlJson(json({{"path", path}, {"count", count}, {"status", status}}), 200);
  });

  ControlRoute(http, "POST", "/sim/tokens/expire", [&sim](const httplib::Request&, const json&) -> Result<ControlReply> {
    sim.ExpireTokens();
    return ControlJson(json({{"expired", true}}), 200);
  });
}

}  // namespace

int SimKnox(const SimKnoxOptions& options, std::ostream& out, std::ostream& err) {
  Result<Endpoint> api_at = ParseLoopbackListen("--listen", options.listen);
  if (!api_at.ok()) {
    err << "sim knox: " << api_at.status().message() << "\n";
    return 2;
  }
  Result<Endpoint> control_at = ParseLoopbackListen("--control-listen", options.control_listen);
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

  return ServeControlApi(
      "sim knox", *control_at, [&sim](httplib::Server& http) { AddControlRoutes(http, sim); },
      sim.base_url(),
      "Knox Cloud API simulator on " + sim.base_url() + " (token endpoint " + sim.token_url() + ")",
      out, err);
}

}  // namespace ae::cli
