// /healthz, /readyz, /metrics.
//
// What an anonymous caller learns: that the process is up (/healthz) and whether it is
// ready (/readyz: {ready} and 200 or 503). The reasons, the log kind and the positions
// need a device_manager's token; /metrics needs one too unless --public-metrics.

#include "api/cli/backup.h"
#include "api/server.h"

namespace ae::api {

void AddOpsRoutes(Server& server) {
  App& app = server.app();
  server.Route("GET", "/healthz", "/healthz", Access::kPublic, [](Call&) -> Result<Reply> {
    return Reply::Json(200, {{"status", "ok"}});
  });
  server.Route("GET", "/readyz", "/readyz", Access::kPublic, [&app](Call& call) -> Result<Reply> {
    nlohmann::json body;
    Status log_health = app.log().Health();
    auto stats = app.runner().stats();
    int64_t lag = app.ViewLag();
    bool ready = log_health.ok() && stats.error.ok() && lag >= 0 && lag < 10000;
    body["ready"] = ready;
    if (!domain::users::RoleAtLeast(call.who.role, domain::users::Role::ROLE_DEVICE_MANAGER)) {
      return Reply::Json(ready ? 200 : 503, body);
    }
    body["log"] = log_health.ok() ? "ok" : log_health.message();
    body["log_kind"] = app.log().Kind();
    body["views"] = stats.error.ok() ? "ok" : stats.error.message();
    body["view_lag"] = lag;
    body["view_position"] = stats.checkpoint.ToString();
    return Reply::Json(ready ? 200 : 503, body);
  });
  server.Route("GET", "/metrics", "/metrics",
               server.options().public_metrics ? Access::kPublic : Access::kDeviceManager,
               [&app](Call&) -> Result<Reply> {
    Reply r;
    auto stats = app.runner().stats();
    std::string text = app.metrics().RenderHttp();
    text += "# HELP autoenroll_projection_lag_records Records in the log not yet applied to the views.\n"
            "# TYPE autoenroll_projection_lag_records gauge\n"
            "autoenroll_projection_lag_records " + std::to_string(app.ViewLag()) + "\n";
    text += "# HELP autoenroll_projection_applied_total Records applied to the views since start.\n"
            "# TYPE autoenroll_projection_applied_total counter\n"
            "autoenroll_projection_applied_total " + std::to_string(stats.applied) + "\n";
    text += "# HELP autoenroll_projection_healthy 1 while the views are being applied.\n"
            "# TYPE autoenroll_projection_healthy gauge\n"
            "autoenroll_projection_healthy " + std::string(stats.error.ok() ? "1" : "0") + "\n";
    text += "# HELP autoenroll_log_healthy 1 while the log accepts appends.\n"
            "# TYPE autoenroll_log_healthy gauge\n"
            "autoenroll_log_healthy " + std::string(app.log().Health().ok() ? "1" : "0") + "\n";
    text += app.backups().MetricsText();
    r.raw = std::move(text);
    r.content_type = "text/plain; version=0.0.4";
    return r;
  });
}

}  // namespace ae::api
