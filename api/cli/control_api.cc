#include "api/cli/control_api.h"

#include <cctype>
#include <chrono>
#include <thread>

#include "api/cli/commands.h"
#include "api/http_errors.h"

namespace ae::cli {

using nlohmann::json;

namespace {
constexpr size_t kMaxControlBodyBytes = 1u << 20;  // certificates and small JSON objects

void WriteError(httplib::Response& res, const Status& s) {
  res.status = api::HttpStatusFor(s.code());
  if (res.status < 400) res.status = 500;
  res.set_content(api::ErrorBody(s).dump(), "application/json");
}
}  // namespace

Result<Endpoint> ParseLoopbackListen(std::string_view flag, const std::string& text) {
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
  if (e.host != "127.0.0.1" && e.host != "localhost") {
    return bad("must be on 127.0.0.1 (the simulator is loopback only)");
  }
  e.host = "127.0.0.1";
  return e;
}

ControlReply ControlJson(const json& j, int status) {
  return ControlReply{status, j.dump(), "application/json"};
}

Status BadField(const std::string& field, const std::string& message) {
  return InvalidArgument("sim.bad_request", message, field);
}

Result<std::string> StringField(const json& body, const std::string& name, bool required,
                                std::string fallback) {
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
                         int64_t max, int64_t fallback) {
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

Result<bool> BoolField(const json& body, const std::string& name, std::optional<bool> fallback) {
  auto it = body.find(name);
  if ((it == body.end() || it->is_null()) && fallback) return *fallback;
  if (it == body.end() || !it->is_boolean()) return BadField(name, name + " must be true or false");
  return it->get<bool>();
}

void ControlRoute(httplib::Server& http, const std::string& method, const std::string& pattern,
                  ControlHandler handler) {
  auto wrapped = [handler = std::move(handler)](const httplib::Request& req,
                                                httplib::Response& res) {
    json body = json::object();
    if (!req.body.empty()) {
      body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
      if (body.is_discarded() || !body.is_object()) {
        return WriteError(res, InvalidArgument("sim.bad_json", "the body must be a JSON object"));
      }
    }
    Result<ControlReply> reply = handler(req, body);
    if (!reply.ok()) return WriteError(res, reply.status());
    res.status = reply->status;
    res.set_content(reply->body, reply->content_type.c_str());
  };
  if (method == "GET") {
    http.Get(pattern, wrapped);
  } else {
    http.Post(pattern, wrapped);
  }
}

int ServeControlApi(const std::string& command, const Endpoint& at,
                    const std::function<void(httplib::Server&)>& add_routes,
                    const std::string& service_url, const std::string& banner,
                    std::ostream& out, std::ostream& err) {
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
  add_routes(control);
  int port = at.port;
  if (port == 0) {
    port = control.bind_to_any_port(at.host);
  } else if (!control.bind_to_port(at.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    err << command << ": cannot listen on 127.0.0.1:" << at.port << " for the control API\n";
    return 1;
  }
  std::thread thread([&control] { control.listen_after_bind(); });
  // stop() is a no-op until the accept loop runs: wait for it (bounded).
  for (int i = 0; i < 5000 && !control.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  out << "listening on " << service_url << std::endl;
  out << "control on http://127.0.0.1:" << port << std::endl;
  err << command << ": " << banner << "; control API on http://127.0.0.1:" << port
      << ". Ctrl-C stops it.\n";
  OnStop([&control] { control.stop(); });
  while (!StopRequested().load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  OnStop(nullptr);
  control.stop();
  thread.join();
  return 0;
}

}  // namespace ae::cli
