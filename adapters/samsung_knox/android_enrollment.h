#pragma once
// AndroidEnrollment: the engine's side of a Samsung device enrolling itself (samsung-kme.md
// §2: KME's MDM agent after a Bluetooth/NFC or Wi-Fi provisioning, or the Knox Deployment
// App), and of the agent asking for its policy afterwards. A service over ports, like the
// KME ingest: the command bus (the only writer; the device, settings and user streams are
// read through its log), the secret store (the enrollment token, the self-signed server
// certificate), the person keys (the Knox Deployment App's user), the clock, and hooks that
// read the views (AndroidEnrollmentHooks). It knows no HTTP and no App: the routes
// (api/routes_enroll_android.cc) parse the request, call it and render its answer.
//
// The enrollment token. The settings stream (kme-settings) records the current token by
// its SHA-256 and a reference into the secret store ("kme/enrollment-token/<id>"); a device
// presents the token itself, compared in constant time (CheckToken).
//
// Enroll, after the token and the whole request were checked:
//  1. the identifiers name the device (the kme_ids view; when the view has not applied it
//     yet, the stream of the id the identifiers derive is the authority);
//  2. dkme::CheckEnrollment decides whether the device may enroll from `source`;
//  3. a device the Knox Deployment App enrolls that no source imported is recorded first:
//     its user (created when the settings allow it, dkme::CheckDeploymentUser, checked
//     against the user's stream before its person key is made, and again inside the append)
//     and the device (KmeDeviceImported, source knox_deployment, the Knox user id sealed
//     under the user's key);
//  4. DeviceEnrolled (stream device/<id>), then the device is handed its policy and rule
//     set: DevicePolicyDelivered (channel android_agent) unless that is what it was handed
//     last.
// Every refusal past the token (an identifier conflict, a device that may not enroll, a
// user that may not be created) is recorded as KmeEnrollmentRefused with its reason and
// answered with the one status NotAllowed(), so a caller learns nothing about other devices
// or users.
//
// The agent (AuthenticateAgent) presents the token and its identifiers; only an enrolled
// device is answered. DeliverPolicy and Acknowledge record what it was handed and what it
// answered (DevicePolicyDelivered / DevicePolicyAcknowledged, channel android_agent).
//
// Thread-safety: thread-safe. Making the token and the certificate on first use is
// serialised by a lock of its own; everything else relies on the bus's expected versions.

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "adapters/samsung_knox/kme_ingest.h"
#include "domain/command_bus.h"
#include "domain/kme/kme.h"
#include "domain/policies/policies.h"
#include "events/base/clock.h"
#include "events/secret_store.h"

namespace ae::knox {

// A device of the inventory of enrolled devices (the views' devices), as much of it as
// the enrollment needs.
struct InventoryDevice {
  std::string status;  // enrolled | checked_out ("" neither)
};

// The inventory device `device_id`: nullopt when there is none; kCorruption
// "view.corruption" when its record is not one.
using InventoryDeviceLookup =
    std::function<Result<std::optional<InventoryDevice>>(const std::string& device_id)>;

// What the enrollment reads besides the log.
struct AndroidEnrollmentHooks {
  // The views: kme_ids.
  ViewGet views;
  // The inventory (devices): only an enrolled device's agent is answered.
  InventoryDeviceLookup inventory_device;
  // What an Android device with `policy_id` and `ruleset_id` is to be handed (their current
  // versions, channel android_agent); nullopt when it has neither.
  std::function<Result<std::optional<domain::policies::Delivered>>(
      const std::string& policy_id, const std::string& ruleset_id)>
      delivery_of;
  // What the agent receives of `what`: {policy: {id, name, version, android_config} | null,
  // ruleset: {id, name, version, rules} | null}.
  std::function<Result<nlohmann::json>(const domain::policies::Delivered& what)> agent_policy;
};

// What a device sends to enroll (POST /enroll/android), once parsed.
struct AndroidEnrollRequest {
  domain::kme::KmeSource source = autoenroll::events::v1::KME_SOURCE_CSV;
  domain::kme::Identifiers ids;  // at least one
  std::string model;             // "" when not sent
  std::string user_name;         // the Knox Deployment App's user_id ("" none); personal data
};

// What the device is handed: its policy and rule set (the agent's answer, AgentPolicy)
// and the position of the delivery (invalid when nothing new was recorded).
struct AndroidHanded {
  nlohmann::json policy;  // {policy: ... | null, ruleset: ... | null}
  LogPosition position;
};

struct AndroidEnrolled {
  std::string device_id;
  std::string policy_id, ruleset_id;
  AndroidHanded handed;
  LogPosition position;  // of the last event recorded (the delivery, else the enrollment)
};

// An enrolled device an agent request names.
struct AndroidAgent {
  std::string device_id;
  domain::kme::DeviceState state;
  domain::CommandContext ctx;  // the request's, with the device as its actor
};

struct AndroidAcknowledged {
  bool recorded = false;  // false: the same answer was recorded before
  LogPosition position;
};

class AndroidEnrollment {
 public:
  // `user_id_key` keys the user ids made from usernames (users::UserIdFor).
  AndroidEnrollment(domain::CommandBus& bus, events::SecretStore& secrets,
                    events::PersonKeys& person_keys, const Clock& clock,
                    std::string user_id_key, AndroidEnrollmentHooks hooks);

  // The one answer of every refusal past the enrollment token: kPermissionDenied
  // "enroll.not_allowed".
  static Status NotAllowed();

  // ---- the Knox Deployment App settings ------------------------------------------------

  // The settings as the log has them (stream kme-settings).
  Result<domain::kme::SettingsState> Settings() const;
  // The current enrollment token; when there is none, "" or (`create`) a new one, recorded
  // (`created_at` then gets its position).
  Result<std::string> CurrentToken(const domain::CommandContext& ctx, bool create,
                                   LogPosition* created_at = nullptr);
  // A new enrollment token replaces the current one (whose secret is deleted).
  struct Rotated {
    std::string token;
    LogPosition position;
  };
  Result<Rotated> RotateToken(const domain::CommandContext& ctx);
  // The server's certificate (PEM): the file `tls_cert_path` (--tls-cert) when given, else a
  // self-signed one made once and kept in the secret store ("kme/server-certificate",
  // "kme/server-key"). kInternal "kme.certificate" when the file cannot be read.
  Result<std::string> ServerCertificatePem(const std::string& tls_cert_path);
  // The SHA-256 fingerprint of that certificate as Knox shows it (AB:CD:...).
  // kInternal "kme.certificate" when it is not a PEM certificate.
  Result<std::string> ServerCertificateFingerprint(const std::string& tls_cert_path);

  // ---- the device ------------------------------------------------------------------------

  // The settings when `token` is the current enrollment token; NotAllowed() otherwise (not
  // recorded: a caller without the token learns nothing and writes nothing).
  Result<domain::kme::SettingsState> CheckToken(const std::string& token) const;

  // Enrolls the device `request` names (see above). `settings` is what CheckToken answered;
  // `ctx` is the request's (its actor is set to the device). NotAllowed() when refused (the
  // refusal recorded); other errors as the log answers.
  Result<AndroidEnrolled> Enroll(const domain::kme::SettingsState& settings,
                                 const AndroidEnrollRequest& request, domain::CommandContext ctx);

  // The enrolled device `ids` name (after CheckToken); NotAllowed() for any other.
  Result<AndroidAgent> AuthenticateAgent(const domain::kme::Identifiers& ids,
                                         domain::CommandContext ctx) const;
  // Hands the agent the current versions of its policy and rule set (recorded as delivered
  // unless that is what it was handed last).
  Result<AndroidHanded> DeliverPolicy(const AndroidAgent& agent);
  // Records the agent's answer to what it was handed: a version 0 names nothing of that
  // kind; `status` "Acknowledged" or "Error" (domain/policies: AcknowledgeAndroid), `error`
  // its message (an Error is recorded each time, the same Acknowledged once).
  // kFailedPrecondition "policy.not_delivered" unless that is what it was handed last.
  Result<AndroidAcknowledged> Acknowledge(const AndroidAgent& agent, uint32_t policy_version,
                                          uint32_t ruleset_version, const std::string& status,
                                          const std::string& error);

 private:
  struct NewToken {
    std::string token;
    LogPosition position;
  };
  Result<NewToken> MakeToken(const domain::CommandContext& ctx, bool only_if_missing);
  Result<domain::kme::DeviceState> LoadDevice(const std::string& device_id) const;
  Status Refuse(const domain::CommandContext& ctx, const std::string& device_id,
                const domain::kme::Identifiers& ids, domain::kme::KmeSource source,
                const Status& why);
  Result<std::string> CreateDeploymentUser(const domain::CommandContext& ctx,
                                           const domain::kme::SettingsState& settings,
                                           const std::string& username);
  Result<AndroidHanded> Deliver(const domain::CommandContext& ctx, const std::string& device_id,
                                const domain::kme::DeviceState& state);

  domain::CommandBus& bus_;
  events::SecretStore& secrets_;
  events::PersonKeys& person_keys_;
  const Clock& clock_;
  const std::string user_id_key_;
  const AndroidEnrollmentHooks hooks_;
  std::mutex make_mu_;  // one token or certificate made at a time
};

}  // namespace ae::knox
