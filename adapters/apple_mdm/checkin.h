#pragma once
// The MDM check-in and command-channel messages (apple-dep.md §6.6).
//
// Check-in: the device PUTs a plist to CheckInURL (Content-Type
// application/x-apple-aspen-mdm-checkin): Authenticate, TokenUpdate (with
// AwaitingConfiguration during Setup Assistant), CheckOut. Command channel:
// the device PUTs its status (Idle, or the result of the previous command) to
// ServerURL (application/x-apple-aspen-mdm); the server answers with the next
// command plist, or an empty 200 when it has none.
//
// Parsers accept XML and binary plists, refuse oversized input, never crash on
// malformed input, and name what is wrong. Builders write XML plists; the
// device-side ones serve the device simulator.
//
// Thread-safety: free functions without shared state.

#include <cstddef>
#include <string>
#include <string_view>

#include "events/base/status.h"

namespace ae::mdm {

inline constexpr size_t kMaxCheckinBytes = 1 << 20;        // check-in bodies
inline constexpr size_t kMaxCommandResultBytes = 4 << 20;  // command results (answers can be long)

inline constexpr std::string_view kCheckinContentType = "application/x-apple-aspen-mdm-checkin";
inline constexpr std::string_view kCommandContentType = "application/x-apple-aspen-mdm";

struct CheckinMessage {
  std::string message_type;  // Authenticate, TokenUpdate, CheckOut, or any other the device sends
  std::string udid, serial_number, topic, model, model_name, product_name, os_version,
      build_version, imei, meid;
  std::string token;  // raw bytes of the APNs device token (TokenUpdate)
  std::string push_magic;
  std::string unlock_token;  // raw bytes (TokenUpdate, optional)
  bool awaiting_configuration = false;
  std::string user_id;  // UserID: set on the user channel, empty on the device channel
};

// Parses a check-in body (<= kMaxCheckinBytes). Requires MessageType and UDID;
// TokenUpdate also requires Topic, Token and PushMagic; Authenticate requires
// Topic. Unknown message types are parsed (the caller decides).
// kInvalidArgument "mdm.bad_checkin" with a message naming what is wrong.
Result<CheckinMessage> ParseCheckin(std::string_view body);

struct CommandResult {
  std::string udid;
  std::string status;  // Idle, Acknowledged, Error, NotNow, CommandFormatError
  std::string command_uuid;  // empty for Idle
  std::string error_chain_text;  // "Domain 12: description; ..." for Error
};

// Parses a command-channel body (<= kMaxCommandResultBytes). Requires UDID and
// a known Status, and CommandUUID unless Status is Idle.
// kInvalidArgument "mdm.bad_command_result".
Result<CommandResult> ParseCommandResult(std::string_view body);

struct Command {
  std::string command_uuid;
  std::string request_type;  // InstallApplication | InstallEnterpriseApplication | DeviceConfigured
                             // | InstallProfile
  std::string manifest_url;  // for the two install commands
  std::string payload;       // InstallProfile: the profile (plist or CMS SignedData), as <data>
};

// {CommandUUID, Command: {RequestType, ManifestURL?, Payload? (data), ManagementFlags = 1 for
// InstallApplication (remove the app with the MDM profile)}}.
std::string BuildCommandPlist(const Command& command);

// For the device simulator. kInvalidArgument "mdm.bad_command".
Result<Command> ParseCommandPlist(std::string_view body);

// For the device simulator: the plists a device sends.
std::string BuildCheckinPlist(const CheckinMessage& message);
std::string BuildCommandResultPlist(const CommandResult& result);

}  // namespace ae::mdm
