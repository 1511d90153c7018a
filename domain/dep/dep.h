#pragma once
// Apple DEP: accounts (one per Apple MDM server), profiles and devices as pure
// deciders. No I/O here: the API and the Apple adapters build the commands
// (after talking to Apple or the secret store) and the bus appends the events.
//
// Streams:
//   dep-account/<account_id>   key pair, token, account details, state, sync runs
//   dep-profile/<profile_id>   the immutable profile and its definition at Apple
//   dep-device/<serial>        what Apple says (synced), what we asked Apple
//                              (assignment, removal, disown) and its outcome, and
//                              the local assignments (user, policy, rule set)
//
// A sync never touches local assignments, and only real changes become events.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/command_bus.h"

namespace ae::domain::dep {

namespace pb = autoenroll::events::v1;

// ---- accounts -----------------------------------------------------------------

struct AccountState {
  bool exists = false;
  std::string name;
  pb::DepAccountState state = pb::DEP_ACCOUNT_STATE_UNSPECIFIED;
  std::string reason;
  std::string token_sha256;
  std::string consumer_key_sha256;
  std::string token_secret_ref;
  int64_t token_expiry_ms = 0;
  pb::DepAccountDetailsSynced details;
  // The committed sync cursor: only advanced after the page's events are in the log.
  std::string cursor;
  int64_t cursor_time_ms = 0;
  bool fetch_complete = false;  // the cursor is a sync cursor (a fetch completed)
};
AccountState EvolveAccount(AccountState s, const Envelope& e);

struct CreateAccount {
  std::string account_id, name, certificate_pem, private_key_ref, public_key_sha256;
};
struct UploadToken {
  std::string token_sha256;         // raw bytes of the fingerprint
  std::string consumer_key_sha256;  // raw bytes
  std::string secret_ref;
  int64_t expiry_ms = 0;
  bool force = false;  // accept a token whose consumer key differs from the current one
};
struct SetAccountState {
  pb::DepAccountState state;
  std::string reason;
};
struct RecordAccountDetails {
  pb::DepAccountDetailsSynced details;  // account_id filled by the decider
};
// Sync bookkeeping: appended as given (progress is a fact, not a change).
struct RecordSync {
  Envelope event;
};

Result<std::vector<Envelope>> Decide(const AccountState& s, const CreateAccount& c);
Result<std::vector<Envelope>> Decide(const AccountState& s, const UploadToken& c);
Result<std::vector<Envelope>> Decide(const AccountState& s, const SetAccountState& c);
Result<std::vector<Envelope>> Decide(const AccountState& s, const RecordAccountDetails& c);
Result<std::vector<Envelope>> Decide(const AccountState& s, const RecordSync& c);

template <typename Cmd>
Decider<AccountState> AccountDecider(Cmd cmd) {
  return {EvolveAccount, [cmd](const AccountState& s) { return Decide(s, cmd); }};
}

// "awaiting_token", "active", ...
std::string AccountStateName(pb::DepAccountState s);

// ---- profiles -----------------------------------------------------------------

struct ProfileState {
  bool exists = false;
  std::string account_id;
  std::string profile_uuid;   // set once defined at Apple
  std::string failure_code;   // set when Apple refused the definition
};
ProfileState EvolveProfile(ProfileState s, const Envelope& e);

struct DefineProfile {
  pb::DepProfileDefined profile;
};
struct ProfileDefinedAtApple {
  std::string profile_uuid;
};
struct ProfileDefinitionFailed {
  std::string code, message;
};
Result<std::vector<Envelope>> Decide(const ProfileState& s, const DefineProfile& c);
Result<std::vector<Envelope>> Decide(const ProfileState& s, const ProfileDefinedAtApple& c);
Result<std::vector<Envelope>> Decide(const ProfileState& s, const ProfileDefinitionFailed& c);

template <typename Cmd>
Decider<ProfileState> ProfileDecider(Cmd cmd) {
  return {EvolveProfile, [cmd](const ProfileState& s) { return Decide(s, cmd); }};
}

// The skip keys of apple-dep.md §5.2; false for anything else.
bool IsKnownSkipKey(std::string_view key);

// ---- devices ------------------------------------------------------------------

// What Apple says about a device, from a fetch or sync page.
struct AppleDevice {
  std::string serial_number, model, description, color, asset_tag, os, device_family;
  std::optional<int64_t> device_assigned_date_ms;
  std::string op_type;               // "", "added", "modified", "deleted"
  std::optional<int64_t> op_date_ms;
  pb::DepProfileStatus profile_status = pb::DEP_PROFILE_STATUS_UNSPECIFIED;
  std::string profile_uuid;
  std::optional<int64_t> profile_assign_time_ms, profile_push_time_ms;
};

struct DeviceState {
  bool known = false;
  std::string account_id;
  bool assigned_to_server = false;
  AppleDevice apple;                   // the last synced attributes
  int64_t last_op_date_ms = 0;
  // Assignment at Apple.
  std::string profile_id;              // the profile we asked for ("" none)
  std::string profile_uuid;
  std::string pending_request_id;      // assignment sent, no outcome yet
  std::string removal_request_id;
  std::string disown_request_id;
  // When the last assignment or removal outcome was recorded (ms; 0 none): a sync answer
  // asked for before it may predate it at Apple, so its profile status is not taken.
  int64_t profile_outcome_ms = 0;
  bool disowned = false;
  bool removed_on_purpose = false;
  // Local assignments.
  std::string user_id, policy_id, ruleset_id;
  // The refusal the stream's last event records (reason and UDID), "" when its last
  // event is something else: the same refusal again records nothing.
  std::string last_refusal;
};
DeviceState EvolveDevice(DeviceState s, const Envelope& e);

struct ApplySync {
  std::string account_id;
  std::string sync_id;
  AppleDevice device;
  // When the page was asked for (ms; 0 unknown). A page asked for before (or in the same
  // millisecond as) the device's last assignment or removal outcome was recorded keeps that
  // outcome: its profile status may be older.
  int64_t asked_ms = 0;
};
struct AssignDevice {
  // nullopt: unchanged; "": clear.
  std::optional<std::string> profile_id;
  std::string profile_uuid;  // of profile_id (must be defined at Apple)
  std::optional<std::string> user_id, policy_id, ruleset_id;
  std::string request_id;    // for the Apple call
  bool force = false;        // re-send the same profile (a retry)
};
struct AssignmentOutcome {
  std::string request_id;
  bool success = false;
  std::string reason;                  // Apple's per-serial code on failure
  std::optional<int64_t> retry_after_ms;
};
struct RequestProfileRemoval {
  std::string request_id;
};
struct ProfileRemovalOutcome {
  std::string request_id;
  std::string result;
};
struct RequestDisown {
  std::string request_id;
  std::string requested_by;
};
struct DisownOutcome {
  std::string request_id;
  std::string result;
};
// Records why a device's enrollment was refused. Repeating the refusal the
// stream's last event already records appends nothing, so a device (or whoever
// holds its key) retrying cannot grow the log.
struct RefuseEnrollment {
  std::string serial_number;
  std::string reason;
  std::string udid;
};

Result<std::vector<Envelope>> Decide(const DeviceState& s, const ApplySync& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const AssignDevice& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const AssignmentOutcome& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const RequestProfileRemoval& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const ProfileRemovalOutcome& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const RequestDisown& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const DisownOutcome& c);
Result<std::vector<Envelope>> Decide(const DeviceState& s, const RefuseEnrollment& c);

template <typename Cmd>
Decider<DeviceState> DeviceDecider(Cmd cmd) {
  return {EvolveDevice, [cmd](const DeviceState& s) { return Decide(s, cmd); }};
}

// "empty", "assigned", "pushed", "removed" ("" when unknown).
std::string ProfileStatusName(pb::DepProfileStatus s);
// The inverse of ProfileStatusName (DEP_PROFILE_STATUS_UNSPECIFIED for anything else).
pb::DepProfileStatus ProfileStatusFromName(std::string_view name);

// ---- device enrollment --------------------------------------------------------

// What the admission of a device's own enrollment call reads of its DEP device (the
// device's view record, as the API finds it when the device calls).
struct EnrollmentFacts {
  bool known = false;               // synced into one of our accounts
  bool assigned_to_server = false;  // Apple assigns the device to our MDM server
  bool disowned = false;
  std::string profile_id;           // the profile we asked for ("" none)
  pb::DepProfileStatus profile_status = pb::DEP_PROFILE_STATUS_UNSPECIFIED;
  std::string user_id;              // the local user ("" none)
};
// Whether a DEP device may enroll (POST /enroll/apple) or check in now. The first
// refusal that applies, each kPermissionDenied with a message addressed to the device:
//   "enroll.unknown_device"  not synced into any of our accounts;
//   "enroll.not_assigned"    Apple no longer assigns it to us, or it was disowned;
//   "enroll.no_profile"      no profile, or one Apple has not accepted (the status is
//                            neither assigned nor pushed);
//   "enroll.no_user"         no user assigned.
// The status's `reason` is what DepEnrollmentRefused records (RefuseEnrollment).
Status CheckEnrollment(const EnrollmentFacts& f);

}  // namespace ae::domain::dep
