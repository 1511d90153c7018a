#pragma once
// What the device-facing Apple endpoints share: POST /enroll/apple and the MDM check-in
// (routes_enroll_apple.cc), and the MDM command channel (routes_mdm_apple.cc).

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "adapters/apple_mdm/machine_info.h"
#include "adapters/apple_mdm/mdm_ca.h"
#include "api/server.h"
#include "domain/command_bus.h"

namespace ae::api {

// The enrollment CA and device trust, as loaded at start.
struct AppleEnrollment {
  std::optional<mdm::MdmCa> ca;
  std::optional<mdm::DeviceTrust> trust;
  Status unavailable;  // why enrollment cannot run here, when it cannot
  std::string topic;
};

// A device message's sender: the serial its identity was issued to, and that
// identity's fingerprint (which the device's commands carry to the deciders).
struct DeviceCaller {
  std::string serial;
  std::string identity_sha256;
};

// Checks the message's signature, then that it was made with the device's current
// identity: a new enrollment, a check-out, removal from the inventory and Apple's
// unassignment revoke the one before (mdm_identities). A device enrolled before
// identities were recorded has no record there: any identity of this CA, while Apple
// still assigns the device to us.
Result<DeviceCaller> AuthenticateAppleDevice(App& app, const AppleEnrollment& e,
                                             const Call& call);

// The context of a command the device `serial` sends.
domain::CommandContext AppleDeviceContext(App& app, const std::string& serial);

// An empty text/plain answer.
Reply EmptyReply();

// PUT /mdm/apple/server: the MDM command channel.
void AddAppleCommandRoute(Server& server, std::shared_ptr<const AppleEnrollment> state);

}  // namespace ae::api
