// The inventory of enrolled devices, every platform (API.md "Inventory").

#include "api/history.h"
#include "api/lookup.h"
#include "api/policy_delivery.h"
#include "api/server.h"
#include "domain/devices/devices.h"
#include "projections/device_records.h"
#include "projections/devices_projector.h"

namespace ae::api {

namespace ddev = domain::devices;
using nlohmann::json;

namespace {

bool ValidDeviceId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != ':' &&
        c != '.') {
      return false;
    }
  }
  return true;
}

json RenderInventoryDevice(App& app, const proj::DeviceRecord& d) {
  json out = {{"id", d.id},
              {"platform", d.platform},
              {"serial_number", d.serial_number},
              {"udid", d.udid},
              {"imei", d.imei},
              {"model", d.model},
              {"os_version", d.os_version},
              {"user", UsernameOf(app, d.user_id)},
              {"policy", PolicyName(app, d.policy_id)},
              {"ruleset", RuleSetName(app, d.ruleset_id)},
              {"status", d.status},
              {"configured", d.configured},
              {"enrolled_at", d.enrolled_at},
              {"last_seen_at", d.last_seen_at},
              {"last_message_type", d.last_message_type},
              {"pending_commands", d.pending_commands.size()},
              {"last_command", d.last_command ? d.last_command->ToJson() : json(nullptr)},
              {"updated_at", d.updated_at},
              {"policy_delivery", PolicyDeliveryJson(app, d.id)}};
  for (const char* k : {"user", "policy", "ruleset"}) {
    if (out[k] == "") out[k] = nullptr;
  }
  return out;
}

Result<proj::DeviceRecord> LoadInventoryDevice(App& app, const std::string& id) {
  if (!ValidDeviceId(id)) return NotFound("device.not_found", "no device " + id);
  AE_ASSIGN_OR_RETURN(auto d, proj::ReadDeviceRecord<proj::DeviceRecord>(app.views(), id));
  if (!d) return NotFound("device.not_found", "no device " + id + " in the inventory");
  return std::move(*d);
}

}  // namespace

void AddDeviceRoutes(Server& server) {
  App& app = server.app();

  server.Route("GET", "/v1/devices", "/v1/devices", Access::kDeviceManager,
               [&app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(Page page, ParsePage(call));
    const std::string platform = call.Param("platform");
    json items = json::array();
    std::optional<std::string> next;
    std::string last;
    AE_RETURN_IF_ERROR(app.views().Scan(proj::DeviceRecord::kTable, "", page.cursor,
                                        [&](std::string_view k, std::string_view v) {
      if (!page.cursor.empty() && k == page.cursor) return true;
      if (items.size() == page.limit) {
        next = last;
        return false;
      }
      last = std::string(k);
      auto d = proj::DeviceRecord::Decode(v);
      if (!d.ok()) return true;
      if (!platform.empty() && d->platform != platform) return true;
      items.push_back(RenderInventoryDevice(app, *d));
      return true;
    }));
    return Reply::Json(200, PageJson(std::move(items), next));
  });

  server.Route("GET", R"(/v1/devices/([^/]+))", "/v1/devices/{id}", Access::kDeviceManager,
               [&app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(auto as_of, proj::ParseAsOf(call.Param("as_of")));
    if (as_of) {
      const std::string id = call.req.matches[1];
      if (!ValidDeviceId(id)) return NotFound("device.not_found", "no device " + id);
      proj::DevicesProjector projector;
      AE_ASSIGN_OR_RETURN(auto then, AsOf<proj::DeviceRecord>(app, projector,
                                                              {StreamId("device", id)}, id, *as_of));
      if (!then) {
        return NotFound("device.not_found", "no device " + id + " in the inventory at that point");
      }
      json out = RenderInventoryDevice(app, *then);
      out["as_of"] = call.Param("as_of");
      return Reply::Json(200, out);
    }
    AE_ASSIGN_OR_RETURN(proj::DeviceRecord d, LoadInventoryDevice(app, call.req.matches[1]));
    return Reply::Json(200, RenderInventoryDevice(app, d));
  });

  server.Route("GET", R"(/v1/devices/([^/]+)/history)", "/v1/devices/{id}/history",
               Access::kDeviceManager, [&app](Call& call) -> Result<Reply> {
    const std::string id = call.req.matches[1];
    if (!ValidDeviceId(id)) return NotFound("device.not_found", "no device " + id);
    // An Apple device's DEP story belongs to it too (its id is its serial).
    AE_ASSIGN_OR_RETURN(json h, History(app, {StreamId("device", id), StreamId("dep-device", id),
                                              StreamId("kme-device", id)}));
    if (h["items"].empty()) return NotFound("device.not_found", "no device " + id);
    h["id"] = id;
    return Reply::Json(200, h);
  });

  server.Route("DELETE", R"(/v1/devices/([^/]+))", "/v1/devices/{id}", Access::kDeviceManager,
               [&server, &app](Call& call) -> Result<Reply> {
    const std::string id = call.req.matches[1];
    if (!ValidDeviceId(id)) return NotFound("device.not_found", "no device " + id);
    AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(StreamId("device", id),
                                                    ddev::DeviceDecider(ddev::RemoveFromInventory{}),
                                                    call.Context()));
    AE_RETURN_IF_ERROR(server.WaitForViews(res.position));
    Reply r = Reply::Json(200, {{"id", id}, {"removed", true},
                                {"position", res.position.valid() ? json(res.position.ToString())
                                                                  : json(nullptr)}});
    r.position = res.position;
    return r;
  });
}

}  // namespace ae::api
