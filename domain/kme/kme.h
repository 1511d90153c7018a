#pragma once
// Samsung Knox Mobile Enrollment (spec samsung-kme.md): the device records imported from
// the Knox portal CSV (or created by the Knox Deployment App), their local assignments,
// the enrollment token and the Android enrollment. Pure deciders: no I/O, no clock;
// sealed personal data and secrets' hashes arrive inside the commands.
//
// Streams:
//   kme-device/<device_id>  KmeDeviceImported, KmeDeviceUpdated, DeviceUserAssigned,
//                           DevicePolicyAssigned, DeviceRuleSetAssigned, KmeEnrollmentRefused,
//                           KmeDeploymentUserOverridden
//   kme-settings/default    KmeEnrollmentTokenRotated, KmeDeploymentSettingsChanged
//   kme-import/<import_id>  KmeImportCompleted (one per import that was not a dry run)
//   kme-enrollment/refused  KmeEnrollmentRefused of devices that have no record
//   kme-knox/default        KmeKnoxConnected, KmeKnoxDisconnected, KmeSyncCompleted (the
//                           Knox Cloud API connection: knox_connection.h)
//   device/<device_id>      DeviceEnrolled (platform ANDROID): the inventory's stream
//
// Device id: derived once, when the device is first recorded, from its primary identifier
// (DeviceIdFor): "imei:<15 digits>" (the first IMEI), else "meid:<14 hex digits>", else
// "sn:<serial>". It never changes afterwards, even if the identifiers do: a device is found
// by any of its identifiers through the KME view's index (MatchKeys).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "domain/command_bus.h"
#include "domain/users/users.h"

namespace ae::domain::kme {

namespace v1 = autoenroll::events::v1;
using KmeSource = v1::KmeSource;
using SealedPersonal = v1::SealedPersonal;

inline constexpr const char* kDeviceStreamType = "kme-device";
inline constexpr const char* kSettingsStream = "kme-settings/default";
inline constexpr const char* kRefusalStream = "kme-enrollment/refused";
inline constexpr const char* kInventoryStreamType = "device";
inline constexpr const char* kDeploymentTag = "knox_deployment";

// The normalised identifiers of one device (ae::kme::DeviceIdentity's form): IMEIs of 15
// digits, MEID of 14 upper-case hex digits, serial upper case. Empty = absent.
struct Identifiers {
  std::string imei, imei2, meid, serial;
  bool empty() const { return imei.empty() && imei2.empty() && meid.empty() && serial.empty(); }
  bool operator==(const Identifiers&) const = default;
};

// "imei:<imei>", else "meid:<meid>", else "sn:<serial>"; "" when `ids` is empty.
std::string DeviceIdFor(const Identifiers& ids);

// The index keys of a device, one per identifier: "imei:<first 14 digits>", "meid:<MEID>",
// "serial:<serial>" (the same keys as ae::kme::DeviceIdentity::MatchKeys). Two devices
// are the same when their keys intersect.
std::vector<std::string> MatchKeys(const Identifiers& ids);

Identifiers FromProto(const v1::KmeIdentifiers& p);
v1::KmeIdentifiers ToProto(const Identifiers& ids);

// "csv", "knox_api", "knox_deployment" ("" when unspecified).
std::string SourceName(KmeSource source);

// ---------------------------------------------------------------- device record --

struct DeviceState {
  bool exists = false;
  std::string device_id;
  Identifiers ids;
  std::string model;
  std::string profile_name;
  std::string knox_status;
  std::vector<std::string> tags;
  std::map<std::string, std::string> attributes;
  KmeSource source = v1::KME_SOURCE_UNSPECIFIED;  // how the record was first made
  std::string user_id, policy_id, ruleset_id;     // local assignments ("" none)
  // user_id was bound by the Knox Deployment App (a device), not by an import or an
  // administrator: an import or an administrator replaces it.
  bool user_by_deployment = false;
  bool operator==(const DeviceState&) const = default;
};
// Total: events of other streams or types leave `s` unchanged. Who bound the user is read
// from the records: a KmeDeviceImported of source KNOX_DEPLOYMENT with a matched user, or
// a DeviceUserAssigned whose actor is a device (the Knox Deployment App's enrollment),
// sets user_by_deployment; any other DeviceUserAssigned clears it.
DeviceState Evolve(DeviceState s, const Envelope& e);

// What a CSV row, a Knox Cloud API device (or an enrollment of the Knox Deployment App)
// says about a device. A
// std::nullopt field is not known to the source (the file has no such column) and keeps
// its current value. An attribute with an empty value removes that attribute.
struct DeviceObservation {
  Identifiers ids;
  std::optional<std::string> model, profile_name, knox_status;
  std::optional<std::vector<std::string>> tags;
  std::map<std::string, std::string> attributes;
};

// The record `observed` makes of `s`. Identifiers: IMEIs the device does not have are
// added (when they no longer fit in two slots, the observed IMEIs replace the old ones); an
// observed MEID or serial replaces the old one; an absent identifier keeps the old one.
// Known fields are replaced, attributes overlaid.
DeviceState Merge(const DeviceState& s, const DeviceObservation& observed);

// Record a device as the source sees it.
struct ImportDevice {
  std::string device_id;  // the id of a new device (DeviceIdFor of the identifiers)
  DeviceObservation observed;
  KmeSource source = v1::KME_SOURCE_CSV;
  std::string import_id;  // the CSV import's id, or the Knox Cloud API sync's id
  uint64_t line = 0;      // the CSV line (0 from the Knox Cloud API)
  std::string matched_user_id;  // the existing user the source names ("" none)
  SealedPersonal knox_user;     // the source's Knox user id, sealed (optional)
};
// New device: KmeDeviceImported, then DeviceUserAssigned when a user matched (the import's
// matched_user_id already makes that user the device's user; the second event states the
// assignment for every consumer of device assignments).
// Known device: KmeDeviceUpdated with the whole merged record when it differs, then
// DeviceUserAssigned when a user matched and the device has none (an import never
// overrides an administrator's or an import's assignment). A user the Knox Deployment App
// bound is no such assignment: the matched user replaces it, after a
// KmeDeploymentUserOverridden that records the conflict (when the users differ; the same
// user is assigned again, so that it is the import's from then on). Nothing differs: no
// event.
// A Knox Deployment App enrollment (source KNOX_DEPLOYMENT) only ever creates a record: on
// a known device it decides nothing.
// kInvalidArgument "kme.no_identifier" when the observation has no identifier.
Result<std::vector<Envelope>> Decide(const DeviceState& s, const ImportDevice& c);

enum class ImportOutcome { kCreated, kUpdated, kUnchanged };
ImportOutcome OutcomeOf(const std::vector<Envelope>& decided);

// Local assignments (an administrator's). std::nullopt leaves a value; "" clears it.
// Unchanged values append nothing, except a user the Knox Deployment App bound, which is
// assigned again (the administrator's from then on). Replacing a user the Knox Deployment
// App bound records the conflict first (KmeDeploymentUserOverridden, source UNSPECIFIED).
// kNotFound "kme.device_not_found" when the device has no record.
struct AssignDevice {
  std::string device_id;
  std::optional<std::string> user_id, policy_id, ruleset_id;
};
Result<std::vector<Envelope>> Decide(const DeviceState& s, const AssignDevice& c);

// A refused enrollment, recorded on the device's stream (or kRefusalStream). The device is
// answered one code whatever the reason; the reason is for administrators.
struct RefuseEnrollment {
  std::string device_id;  // "" when the device has no record
  Identifiers ids;
  std::string reason;  // kme.device_not_imported, kme.no_user, kme.already_imported, ...
  KmeSource source = v1::KME_SOURCE_UNSPECIFIED;
};
Result<std::vector<Envelope>> Decide(const DeviceState& s, const RefuseEnrollment& c);

// Whether a device may enroll with `source` (KME or the Knox Deployment App), checked
// against its record (std::nullopt: the device has no record):
//   kPermissionDenied "kme.device_not_imported" (KME, no record),
//                     "kme.no_user"             (no user assigned),
//   kFailedPrecondition "kme.already_imported"  (Knox Deployment App, but the device was
//                                                registered through the CSV or the API).
// A Knox Deployment enrollment of a device with no record is allowed here: the caller
// checks the user it names (CheckDeploymentUser), then records the user and the device.
// The status's `reason` is the refusal's reason.
Status CheckEnrollment(const DeviceState& s, KmeSource source);

// ------------------------------------------------------------ Android enrollment --

// The state of stream device/<device_id>, as far as enrollment goes.
struct EnrollmentState {
  bool enrolled = false;  // a DeviceEnrolled not followed by DeviceRemovedFromInventory
  v1::DeviceEnrolled last;
};
EnrollmentState EvolveEnrollment(EnrollmentState s, const Envelope& e);

struct EnrollAndroid {
  std::string device_id;
  std::string user_id, policy_id, ruleset_id;
  Identifiers ids;
  std::string model;
};
// DeviceEnrolled (platform ANDROID) unless the device is enrolled already with the same
// user, policy, rule set and identifiers (then no event: enrolling again is idempotent).
// kFailedPrecondition "kme.no_user" without a user.
Result<std::vector<Envelope>> Decide(const EnrollmentState& s, const EnrollAndroid& c);

// ---------------------------------------------------------------- settings --

struct SettingsState {
  bool has_token = false;
  std::string token_sha256;  // raw 32 bytes
  std::string secret_ref;    // the secret store's name of the token
  // The Knox Deployment App may create the user an enrollment names (off until an
  // administrator turns it on).
  bool deployment_creates_users = false;
};
SettingsState EvolveSettings(SettingsState s, const Envelope& e);

// The token's hash and where the token itself is kept (the secret store).
struct RotateEnrollmentToken {
  std::string token_sha256;
  std::string secret_ref;
  bool only_if_missing = false;  // the lazy first token: no event when one exists
};
Result<std::vector<Envelope>> Decide(const SettingsState& s, const RotateEnrollmentToken& c);

// An administrator's change of the Knox Deployment App settings. std::nullopt keeps a
// setting. KmeDeploymentSettingsChanged (with every setting) when one changes; else no
// event.
struct ChangeDeploymentSettings {
  std::optional<bool> creates_users;
};
Result<std::vector<Envelope>> Decide(const SettingsState& s, const ChangeDeploymentSettings& c);

// ------------------------------------------------------- Knox Deployment App users --

// Whether a Knox Deployment App enrollment of a device that has no record may bind the
// device to the user it names, given the settings and that user's state (user/<id>; a
// user that never existed has exists == false). A device proves nothing about a person,
// so the App never binds an existing user (one day: only after checking the password the
// person gave) and creates one only when the administrator allowed it:
//   kPermissionDenied "kme.user_role_not_allowed"  the user exists with a role above
//                                                   device_user (deleted or not);
//                     "kme.user_exists"            the user exists, or existed (binding an
//                                                   existing user needs their password,
//                                                   which the engine cannot check yet);
//                     "kme.user_creation_disabled" the user does not exist and the
//                                                   administrator has not allowed the App
//                                                   to create users.
// OK: the caller creates the user (role device_user, only while the user stream is still
// empty) and then the device.
Status CheckDeploymentUser(const SettingsState& settings, const users::UserState& user);

// ---------------------------------------------------------------- bus binding --

template <typename Cmd>
Decider<DeviceState> DeviceDecider(Cmd cmd) {
  return {Evolve, [cmd = std::move(cmd)](const DeviceState& s) { return Decide(s, cmd); }};
}
inline Decider<EnrollmentState> EnrollmentDecider(EnrollAndroid cmd) {
  return {EvolveEnrollment,
          [cmd = std::move(cmd)](const EnrollmentState& s) { return Decide(s, cmd); }};
}
inline Decider<SettingsState> SettingsDecider(RotateEnrollmentToken cmd) {
  return {EvolveSettings,
          [cmd = std::move(cmd)](const SettingsState& s) { return Decide(s, cmd); }};
}
inline Decider<SettingsState> SettingsDecider(ChangeDeploymentSettings cmd) {
  return {EvolveSettings,
          [cmd = std::move(cmd)](const SettingsState& s) { return Decide(s, cmd); }};
}

}  // namespace ae::domain::kme
