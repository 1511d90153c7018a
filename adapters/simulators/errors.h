#pragma once
// Reason catalogue of the Apple and Samsung simulators (tests and the demo): `sim.`.
// Each entry is a reason code raised in the source tree, with the HTTP status it is answered
// with and its meaning; api/ERRORS.md shows them all. See events/base/reason_info.h.

#include "events/base/reason_info.h"

namespace ae::sim {

inline constexpr ReasonInfo kReasons[] = {
    {"sim.bad_device", 400, "a simulated device needs a serial number"},
    {"sim.bad_device_ca", 400, "the device CA files are too large or incomplete"},
    {"sim.bad_device_certificate", 400, "the simulated device's certificate or key is not PEM"},
    {"sim.bad_json", 400, "the body must be a JSON object"},
    {"sim.bad_profile", 400,
     "the profile is not valid (no name, or its PKCS#12 identity does not open)"},
    {"sim.bad_request", 400, "a field of the control request is invalid; `field` names it"},
    {"sim.bad_server", 400, "a simulated MDM server needs a name"},
    {"sim.bad_state", 400, "a state is required"},
    {"sim.bad_url", 400, "the URL is not an http(s) URL"},
    {"sim.device_exists", 409, "the simulator already has this device"},
    {"sim.http_status", 503, "the server's command channel answered with an error"},
    {"sim.no_device_identity", 409,
     "the simulated device has neither an authority nor a device certificate"},
    {"sim.no_profile", 409, "the simulated device has no assigned profile"},
    {"sim.not_enrolled", 409, "the simulated device holds no identity"},
    {"sim.profile_exists", 409, "the profile name is already used"},
    {"sim.read_failed", 500, "a simulator file cannot be read"},
    {"sim.sign_failed", 500, "the simulated device cannot sign its message"},
    {"sim.too_many_commands", 504,
     "the server still had commands after the simulator's last round"},
    {"sim.transport", 503, "the server cannot be reached"},
    {"sim.unknown_client", 404, "the simulator knows no such client id"},
    {"sim.unknown_device", 404, "the simulator knows no such device"},
    {"sim.unknown_profile", 404, "the simulator knows no such profile"},
    {"sim.unknown_server", 404, "the simulator knows no such MDM server"},
    {"sim.write_failed", 500, "a simulator file cannot be written"},
};

}  // namespace ae::sim
