#pragma once
// The device inventory: enrolled devices of every platform, their check-ins and
// their MDM command queue, as pure deciders on stream device/<device_id>.
// An Apple device's id is its serial number; an Android device's id is its KME
// device id.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "domain/command_bus.h"

namespace ae::domain::devices {

namespace pb = autoenroll::events::v1;

struct DeviceState {
  std::string device_id;
  bool enrolled = false;      // enrolled and not removed / checked out
  bool in_inventory = false;  // enrolled once and not removed since
  uint64_t enrollments = 0;
  std::string udid;
  std::string push_token_sha256;
  bool configured = false;
  // command_uuid -> request type, in queue order of arrival.
  std::vector<std::pair<std::string, std::string>> queue;
};
DeviceState Evolve(DeviceState s, const Envelope& e);

struct Enroll {
  pb::DeviceEnrolled enrolled;   // device_id set
  // Commands to queue with the enrollment (e.g. the agent install).
  std::vector<pb::DeviceCommandQueued> commands;
};
struct CheckIn {
  std::string device_id;
  std::string message_type;
};
struct QueueCommand {
  pb::DeviceCommandQueued command;
};
struct CompleteCommand {
  std::string command_uuid;
  std::string status;  // Acknowledged, Error, NotNow, CommandFormatError
  std::string error;
  bool marks_configured = false;  // the command was DeviceConfigured
};
struct CheckOut {};
struct RemoveFromInventory {};

Result<std::vector<Envelope>> Decide(const DeviceState& s, const Enroll& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const CheckIn& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const QueueCommand& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const CompleteCommand& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const CheckOut& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const RemoveFromInventory& c);

template <typename Cmd>
Decider<DeviceState> DeviceDecider(Cmd cmd) {
  return {Evolve, [cmd](const DeviceState& s) { return Decide(s, cmd); }};
}

}  // namespace ae::domain::devices
