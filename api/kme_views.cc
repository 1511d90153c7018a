#include "api/kme_views.h"

#include <algorithm>
#include <array>

#include "adapters/samsung_knox/identifiers.h"
#include "api/lookup.h"
#include "api/policy_delivery.h"
#include "projections/device_records.h"

namespace ae::api {

namespace csv = ae::kme;
namespace dkme = ae::domain::kme;
using nlohmann::json;

ae::knox::ViewGet KmeViewGet(App& app) {
  return [&app](const std::string& cf, const std::string& key) { return app.views().Get(cf, key); };
}

ae::knox::KmeViewDevice KmeViewDeviceOf(const proj::KmeDeviceRecord& r) {
  ae::knox::KmeViewDevice d;
  d.id = r.id;
  d.imei = r.imei;
  d.imei2 = r.imei2;
  d.meid = r.meid;
  d.serial_number = r.serial_number;
  d.model = r.model;
  d.profile_name = r.profile_name;
  d.knox_status = r.knox_status;
  d.tags = r.tags;
  d.attributes = r.attributes;
  d.source = r.source;
  d.user_id = r.user_id;
  d.user_by_deployment = r.user_by_deployment;
  d.policy_id = r.policy_id;
  d.ruleset_id = r.ruleset_id;
  return d;
}

ae::knox::KmeIngestHooks KmeIngestHooksFor(App& app) {
  ae::knox::KmeIngestHooks hooks;
  hooks.views = KmeViewGet(app);
  hooks.kme_device =
      [&app](const std::string& device_id) -> Result<std::optional<ae::knox::KmeViewDevice>> {
    AE_ASSIGN_OR_RETURN(auto rec, LoadKmeDevice(app, device_id));
    if (!rec) return std::optional<ae::knox::KmeViewDevice>();
    return std::optional<ae::knox::KmeViewDevice>(KmeViewDeviceOf(*rec));
  };
  hooks.match_user = [&app](const std::string& knox_user_id) -> Result<std::string> {
    auto resolved =
        ResolveUserId(app, knox_user_id, domain::users::Role::ROLE_DEVICE_USER, "user_id");
    if (resolved.ok()) return *resolved;
    if (resolved.status().code() == StatusCode::kUnprocessable) return std::string();  // none
    return resolved.status();
  };
  hooks.wait_for_views = [&app](const LogPosition& position, std::chrono::milliseconds timeout) {
    return app.runner().WaitUntilCovers(position, timeout);
  };
  return hooks;
}

ae::knox::AndroidEnrollmentHooks AndroidEnrollmentHooksFor(App& app) {
  ae::knox::AndroidEnrollmentHooks hooks;
  hooks.views = KmeViewGet(app);
  hooks.inventory_device =
      [&app](const std::string& device_id) -> Result<std::optional<ae::knox::InventoryDevice>> {
    AE_ASSIGN_OR_RETURN(auto rec,
                        proj::ReadDeviceRecord<proj::DeviceRecord>(app.views(), device_id));
    if (!rec) return std::optional<ae::knox::InventoryDevice>();
    return std::optional<ae::knox::InventoryDevice>(ae::knox::InventoryDevice{rec->status});
  };
  hooks.delivery_of = [&app](const std::string& policy_id, const std::string& ruleset_id) {
    return AndroidDeliveryOf(app, policy_id, ruleset_id);
  };
  hooks.agent_policy = [&app](const domain::policies::Delivered& what) {
    return AndroidPolicyJson(app, what);
  };
  return hooks;
}

Result<std::string> FindKmeDevice(App& app, const dkme::Identifiers& ids) {
  return ae::knox::FindKmeDevice(KmeViewGet(app), ids);
}

Result<std::optional<proj::KmeDeviceRecord>> LoadKmeDevice(App& app,
                                                           const std::string& device_id) {
  return proj::ReadKmeRecord<proj::KmeDeviceRecord>(app.views(), device_id);
}

Result<dkme::Identifiers> ParseKmeIdentifiers(const std::string& imei, const std::string& imei2,
                                              const std::string& meid,
                                              const std::string& serial) {
  csv::DeviceIdentity identity;
  struct Field {
    const std::string* value;
    const char* name;
    csv::IdentifierColumn column;
    bool second;
  };
  const std::array<Field, 4> fields = {{{&imei, "imei", csv::IdentifierColumn::kAny, false},
                                        {&imei2, "imei2", csv::IdentifierColumn::kImeiOnly, true},
                                        {&meid, "meid", csv::IdentifierColumn::kAny, false},
                                        {&serial, "serial_number",
                                         csv::IdentifierColumn::kSerialOnly, false}}};
  for (const auto& f : fields) {
    if (f.value->empty()) continue;
    auto parsed = csv::ParseIdentifierCell(*f.value, f.column);
    if (!parsed.ok()) {
      return InvalidArgument("kme.bad_identifier",
                             std::string(f.name) + ": " + parsed.status().message(), f.name);
    }
    for (const auto& id : *parsed) {
      Status added = identity.Add(id, f.second);
      if (!added.ok()) {
        return InvalidArgument("kme.bad_identifier",
                               std::string(f.name) + ": " + added.message(), f.name);
      }
    }
  }
  return dkme::Identifiers{identity.imei, identity.imei2, identity.meid, identity.serial};
}

Result<std::string> ResolveKmeDeviceRef(App& app, const std::string& ref) {
  if (ref.empty() || ref.size() > 128) {
    return NotFound("kme.device_not_found", "no KME device '" + ref + "'");
  }
  AE_ASSIGN_OR_RETURN(auto rec, LoadKmeDevice(app, ref));
  if (rec) return ref;
  // "imei:…", "meid:…", "sn:…" device ids whose device is gone, or a bare identifier.
  std::string value = ref;
  auto colon = ref.find(':');
  if (colon != std::string::npos) value = ref.substr(colon + 1);
  auto parsed = csv::ParseIdentifierCell(value, csv::IdentifierColumn::kAny);
  if (parsed.ok() && !parsed->empty()) {
    csv::DeviceIdentity identity;
    for (const auto& id : *parsed) identity.Add(id).IgnoreError();
    AE_ASSIGN_OR_RETURN(std::string id, FindKmeDevice(
                                            app, dkme::Identifiers{identity.imei, identity.imei2,
                                                                   identity.meid,
                                                                   identity.serial}));
    if (!id.empty()) return id;
  }
  // A serial that also reads as another kind of identifier (e.g. 14 hex digits).
  std::string upper = value;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  AE_ASSIGN_OR_RETURN(auto owner, app.views().Get("kme_ids", "serial:" + upper));
  if (owner) return *owner;
  return NotFound("kme.device_not_found", "no KME device '" + ref + "'");
}

}  // namespace ae::api
