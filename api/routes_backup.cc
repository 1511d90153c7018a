// /v1/admin/backups: an online backup of the embedded mode, taken by the server that holds
// the data dir (api/cli/backup.h).

#include "api/cli/backup.h"
#include "api/request_body.h"
#include "api/server.h"

namespace ae::api {

void AddBackupRoutes(Server& server) {
  App& app = server.app();
  // {to?, include_master_key?} -> 201 when the backup is complete: where it went and the
  // log position it covers.
  server.Route("POST", "/v1/admin/backups", "/v1/admin/backups", Access::kAdministrator,
               [&app](Call& call) -> Result<Reply> {
                 nlohmann::json body = nlohmann::json::object();
                 if (!call.req.body.empty()) {
                   AE_ASSIGN_OR_RETURN(body, call.Json());
                 }
                 for (const auto& [k, v] : body.items()) {
                   if (k != "to" && k != "include_master_key") {
                     return InvalidArgument("request.unknown_field",
                                            "unknown field " + k + " (to, include_master_key)", k);
                   }
                 }
                 BackupRequest request;
                 AE_ASSIGN_OR_RETURN(request.to, StrField(body, "to", 4096));
                 AE_RETURN_IF_ERROR(CheckText(request.to, "to"));
                 AE_ASSIGN_OR_RETURN(request.include_master_key,
                                     BoolField(body, "include_master_key", false));
                 if (request.to.empty()) {
                   request.to = DefaultBackupDir(app.options().data_dir, app.clock());
                 }
                 AE_ASSIGN_OR_RETURN(BackupInfo info, app.backups().Take(request));
                 return Reply::Json(201, info.ToJson());
               });
  // {last, last_error, succeeded, failed} since the server started.
  server.Route("GET", "/v1/admin/backups", "/v1/admin/backups", Access::kAdministrator,
               [&app](Call&) -> Result<Reply> {
                 return Reply::Json(200, app.backups().Summary());
               });
}

}  // namespace ae::api
