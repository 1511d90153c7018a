#pragma once
// What the Apple DEP routes share (routes_dep_accounts.cc, routes_dep_profiles.cc,
// routes_dep_devices.cc; AddDepRoutes in routes_dep.cc registers them all): reading the
// DEP view records (projections/dep_records.h) and rendering them as the API shows them.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/server.h"
#include "projections/dep_records.h"

namespace ae::api {

// Account and profile ids: 1-64 of [A-Za-z0-9_-].
bool ValidDepId(const std::string& s);
// Serial numbers: 1-64 of [A-Za-z0-9], upper-cased. 400 dep.bad_serial.
Result<std::string> ParseSerial(const std::string& s);

// The record of `key` in Record's table (std::nullopt when there is none).
template <typename Record>
Result<std::optional<Record>> DepView(App& app, const std::string& key) {
  return proj::ReadDepRecord<Record>(app.views(), key);
}

// 404 dep.account_not_found unless the account exists.
Result<proj::DepAccountRecord> LoadDepAccount(App& app, const std::string& id);
// 400 dep.bad_serial for a malformed serial, 404 dep.device_not_found for an unknown one.
Result<proj::DepDeviceRecord> LoadDepDevice(App& app, const std::string& raw_serial);

// `body` with "position" (null when `pos` is not valid), answered with `status`.
Reply Written(int status, nlohmann::json body, const LogPosition& pos);

// The registration of each group of routes.
void AddDepAccountRoutes(Server& server);
void AddDepProfileRoutes(Server& server);
void AddDepDeviceRoutes(Server& server);

}  // namespace ae::api
