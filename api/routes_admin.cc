// Administration: /v1/admin/views/rebuild (the zero-downtime rebuild of every view,
// projections/rebuild.h) and /v1/admin/routes (every route with the role it needs).

#include "api/server.h"
#include "projections/rebuild.h"

namespace ae::api {

void AddAdminRoutes(Server& server) {
  App& app = server.app();
  AddBackupRoutes(server);
  // Every route with the least role it needs ("public": no token), for operators and for
  // the test that walks every route with every role. Registered last (serve.cc), so it
  // lists itself too.
  server.Route("GET", "/v1/admin/routes", "/v1/admin/routes", Access::kAdministrator,
               [&server](Call&) -> Result<Reply> {
                 nlohmann::json items = nlohmann::json::array();
                 for (const auto& r : server.routes()) {
                   const char* role = r.access == Access::kPublic          ? "public"
                                      : r.access == Access::kDeviceUser    ? "device_user"
                                      : r.access == Access::kDeviceManager ? "device_manager"
                                                                           : "administrator";
                   items.push_back({{"method", r.method}, {"path", r.label}, {"role", role}});
                 }
                 return Reply::Json(200, {{"items", items}, {"count", items.size()}});
               });
  // Starts a rebuild: 202 with its progress; 409 views.rebuild_running when one runs.
  // ?require_identical=true refuses the swap when the live views differ from the new ones.
  server.Route("POST", "/v1/admin/views/rebuild", "/v1/admin/views/rebuild",
               Access::kAdministrator, [&app](Call& call) -> Result<Reply> {
                 std::string strict = call.Param("require_identical", "false");
                 if (strict != "true" && strict != "false") {
                   return InvalidArgument("request.bad_param",
                                          "require_identical must be true or false",
                                          "require_identical");
                 }
                 proj::ViewRebuildOptions o;
                 o.require_identical = strict == "true";
                 AE_RETURN_IF_ERROR(app.rebuilder().Start(o));
                 return Reply::Json(202, app.rebuilder().Progress());
               });
  server.Route("GET", "/v1/admin/views/rebuild", "/v1/admin/views/rebuild",
               Access::kAdministrator, [&app](Call&) -> Result<Reply> {
                 return Reply::Json(200, app.rebuilder().Progress());
               });
  // Cancels a running rebuild before its swap: 202; 404 views.no_rebuild when none runs.
  server.Route("DELETE", "/v1/admin/views/rebuild", "/v1/admin/views/rebuild",
               Access::kAdministrator, [&app](Call&) -> Result<Reply> {
                 if (!app.rebuilder().Cancel()) {
                   return NotFound("views.no_rebuild", "no rebuild is running");
                 }
                 return Reply::Json(202, app.rebuilder().Progress());
               });
}

}  // namespace ae::api
