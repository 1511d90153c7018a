#pragma once
// The loopback control API that `autoenroll sim ...` serves beside a simulator:
// HOST:PORT parsing (loopback only), JSON field readers with stable errors, a
// route wrapper mapping Status to the project's JSON errors, and the serve loop
// (bind, print the two URLs, run until a stop signal).

#include <httplib.h>

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "events/base/status.h"

namespace ae::cli {

struct Endpoint {
  std::string host;
  int port = 0;
};
// A loopback HOST:PORT ("127.0.0.1:0" or "localhost:8090"); kInvalidArgument
// "cli.bad_listen" naming `flag` otherwise.
Result<Endpoint> ParseLoopbackListen(std::string_view flag, const std::string& text);

struct ControlReply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};
ControlReply ControlJson(const nlohmann::json& j, int status = 200);

// kInvalidArgument "sim.bad_request" with `field`.
Status BadField(const std::string& field, const std::string& message);
Result<std::string> StringField(const nlohmann::json& body, const std::string& name,
                                bool required, std::string fallback = "");
Result<int64_t> IntField(const nlohmann::json& body, const std::string& name, bool required,
                         int64_t min, int64_t max, int64_t fallback = 0);
// Required when `fallback` is empty.
Result<bool> BoolField(const nlohmann::json& body, const std::string& name,
                       std::optional<bool> fallback = std::nullopt);

// The body is parsed as a JSON object ({} when empty; "sim.bad_json" otherwise).
using ControlHandler =
    std::function<Result<ControlReply>(const httplib::Request&, const nlohmann::json& body)>;
void ControlRoute(httplib::Server& http, const std::string& method, const std::string& pattern,
                  ControlHandler handler);

// Serves the control API on `at` until a stop signal: prints "listening on
// <service_url>" and "control on http://127.0.0.1:<port>" on `out`, and
// `banner` on `err`. 0 after a stop, 1 when it cannot bind.
int ServeControlApi(const std::string& command, const Endpoint& at,
                    const std::function<void(httplib::Server&)>& add_routes,
                    const std::string& service_url, const std::string& banner,
                    std::ostream& out, std::ostream& err);

}  // namespace ae::cli
