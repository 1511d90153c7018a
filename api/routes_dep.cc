// Apple DEP: accounts, server token, sync, profiles, devices, assignment,
// removal and disown (API.md "Apple DEP"). The routes are in routes_dep_accounts.cc,
// routes_dep_profiles.cc and routes_dep_devices.cc; what they share is here.

#include "api/routes_dep.h"

namespace ae::api {

using nlohmann::json;

bool ValidDepId(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

Result<std::string> ParseSerial(const std::string& s) {
  if (s.empty() || s.size() > 64) {
    return InvalidArgument("dep.bad_serial", "a serial number has 1 to 64 letters and digits");
  }
  std::string out;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      return InvalidArgument("dep.bad_serial", "a serial number has only letters and digits");
    }
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

Result<proj::DepAccountRecord> LoadDepAccount(App& app, const std::string& id) {
  if (!ValidDepId(id)) return NotFound("dep.account_not_found", "no DEP account " + id);
  AE_ASSIGN_OR_RETURN(auto a, DepView<proj::DepAccountRecord>(app, id));
  if (!a) return NotFound("dep.account_not_found", "no DEP account " + id);
  return std::move(*a);
}

Result<proj::DepDeviceRecord> LoadDepDevice(App& app, const std::string& raw_serial) {
  AE_ASSIGN_OR_RETURN(std::string serial, ParseSerial(raw_serial));
  AE_ASSIGN_OR_RETURN(auto d, DepView<proj::DepDeviceRecord>(app, serial));
  if (!d) return NotFound("dep.device_not_found", "no DEP device " + serial);
  return std::move(*d);
}

Reply Written(int status, json body, const LogPosition& pos) {
  body["position"] = pos.valid() ? json(pos.ToString()) : json(nullptr);
  Reply r = Reply::Json(status, std::move(body));
  r.position = pos;
  return r;
}

void AddDepRoutes(Server& server) {
  AddDepAccountRoutes(server);
  AddDepProfileRoutes(server);
  AddDepDeviceRoutes(server);
}

}  // namespace ae::api
