#pragma once
// The device inventory: enrolled devices of every platform, their check-ins and
// their MDM command queue, as pure deciders on stream device/<device_id>.
// An Apple device's id is its serial number; an Android device's id is its KME
// device id.
//
// An Apple device's MDM identity: each enrollment profile carries a new one
// (IssueIdentity), which revokes the one before; check-out and removal from the
// inventory revoke it too. Commands from the device name the identity that
// signed them (`identity_sha256`) and are refused with kUnauthenticated
// "mdm.identity_revoked" unless it is the current one. A device enrolled before
// identities were recorded accepts any identity of the engine's CA until its
// first recorded identity or revocation.

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
  bool apple = false;               // enrolled as an Apple device
  std::string identity_sha256;      // the current MDM identity ("" none)
  bool identity_recorded = false;   // an identity was issued or revoked since identities are recorded
  bool identity_fresh = false;      // issued after the last DeviceEnrolled
};
DeviceState Evolve(DeviceState s, const Envelope& e);

// `identity_sha256` in a command: the fingerprint of the MDM identity that
// signed the device's message ("" when the command does not come from an Apple
// device's signed message).
struct Enroll {
  pb::DeviceEnrolled enrolled;   // device_id set
  // Commands to queue with the enrollment (e.g. the agent install).
  std::vector<pb::DeviceCommandQueued> commands;
  std::string identity_sha256;
};
struct CheckIn {
  std::string device_id;
  std::string message_type;
  std::string identity_sha256;
};
// The enrollment profile carries a new identity: it becomes the current one.
struct IssueIdentity {
  std::string device_id;
  std::string certificate_sha256;
  std::string udid;
  std::string signer_sha256;
};
struct QueueCommand {
  pb::DeviceCommandQueued command;
};
struct CompleteCommand {
  std::string command_uuid;
  std::string status;  // Acknowledged, Error, NotNow, CommandFormatError
  std::string error;
  bool marks_configured = false;  // the command was DeviceConfigured
  std::string identity_sha256;
};
struct CheckOut {
  std::string identity_sha256;
};
struct RemoveFromInventory {};

// OK iff a message signed with `identity_sha256` may act for the device;
// IdentityRevoked() otherwise. "" is always accepted (not a signed device message).
Status CheckIdentity(const DeviceState& s, const std::string& identity_sha256);
// kUnauthenticated "mdm.identity_revoked": the identity is not the device's any more.
Status IdentityRevoked();

Result<std::vector<Envelope>> Decide(const DeviceState& s, const Enroll& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const CheckIn& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const IssueIdentity& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const QueueCommand& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const CompleteCommand& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const CheckOut& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const RemoveFromInventory& c);

template <typename Cmd>
Decider<DeviceState> DeviceDecider(Cmd cmd) {
  return {Evolve, [cmd](const DeviceState& s) { return Decide(s, cmd); }};
}

}  // namespace ae::domain::devices
