#include "api/history.h"

#include <google/protobuf/util/time_util.h>

#include "events/codec.h"

namespace ae::api {

using nlohmann::json;
using google::protobuf::util::TimeUtil;
namespace pb = autoenroll::events::v1;

Status ResolveAsOf(App& app, AsOfPoint* at) { return app.as_of().Resolve(at); }

Result<std::vector<events::RecordedEvent>> StreamEvents(App& app,
                                                        const std::vector<StreamId>& streams,
                                                        size_t max) {
  return proj::StreamEvents(app.log(), streams, max);
}

namespace {
std::string Status(pb::DepProfileStatus s) {
  std::string n = pb::DepProfileStatus_Name(s);
  if (n.rfind("DEP_PROFILE_STATUS_", 0) == 0) n = n.substr(19);
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n;
}
std::string OrNone(const std::string& s) { return s.empty() ? "none" : s; }
std::string KmeSourceText(pb::KmeSource s) {
  switch (s) {
    case pb::KME_SOURCE_CSV: return "the Knox portal CSV";
    case pb::KME_SOURCE_KNOX_API: return "the Knox Cloud API";
    case pb::KME_SOURCE_KNOX_DEPLOYMENT: return "the Knox Deployment App";
    default: return "Knox";
  }
}
}  // namespace

std::string Summary(const events::Envelope& e) {
  switch (e.payload_case()) {
    case events::Envelope::kDepDeviceSynced: {
      const auto& p = e.dep_device_synced();
      std::string op = p.op_type().empty() ? "listed by a fetch" : p.op_type() + " at Apple";
      return "Apple: device " + op + " (" + p.model() + ", account " + p.account_id() + ")";
    }
    case events::Envelope::kDepProfileStatusChanged: {
      const auto& p = e.dep_profile_status_changed();
      return "Apple reports profile status " + Status(p.status()) +
             (p.profile_uuid().empty() ? "" : " (profile " + p.profile_uuid() + ")");
    }
    case events::Envelope::kDepDeviceUnassigned:
      return "Apple: device no longer assigned to this MDM server";
    case events::Envelope::kDepProfileAssignmentRequested:
      return "profile " + e.dep_profile_assignment_requested().profile_id() + " sent to Apple";
    case events::Envelope::kDepProfileAssigned:
      return "Apple accepted profile " + e.dep_profile_assigned().profile_id() + " (assigned)";
    case events::Envelope::kDepProfileAssignmentFailed: {
      const auto& p = e.dep_profile_assignment_failed();
      std::string s = "Apple refused profile " + p.profile_id() + ": " + p.reason();
      if (p.has_retry_after()) {
        s += ", retry after " + FormatRfc3339(TimeUtil::TimestampToMilliseconds(p.retry_after()));
      }
      return s;
    }
    case events::Envelope::kDepProfileRemovalRequested: return "profile removal sent to Apple";
    case events::Envelope::kDepProfileRemoved:
      return "Apple removed the profile (" + e.dep_profile_removed().result() + ")";
    case events::Envelope::kDepDeviceDisownRequested:
      return "disown requested by user " + e.dep_device_disown_requested().requested_by();
    case events::Envelope::kDepDeviceDisowned:
      return "Apple disowned the device (" + e.dep_device_disowned().result() + ")";
    case events::Envelope::kDepEnrollmentRefused:
      return "enrollment refused: " + e.dep_enrollment_refused().reason();
    case events::Envelope::kDeviceUserAssigned:
      return "user set to " + OrNone(e.device_user_assigned().user_id());
    case events::Envelope::kDevicePolicyAssigned:
      return "policy set to " + OrNone(e.device_policy_assigned().policy_id());
    case events::Envelope::kDeviceRulesetAssigned:
      return "rule set set to " + OrNone(e.device_ruleset_assigned().ruleset_id());
    case events::Envelope::kDeviceEnrolled:
      return "enrolled (" + e.device_enrolled().model() + ")";
    case events::Envelope::kDeviceCheckedIn:
      return "check-in: " + e.device_checked_in().message_type();
    case events::Envelope::kDevicePolicyDelivered: {
      const auto& p = e.device_policy_delivered();
      std::string what;
      if (!p.policy_id().empty()) {
        what = "policy " + p.policy_id() + " version " + std::to_string(p.policy_version());
      }
      if (!p.ruleset_id().empty()) {
        what += std::string(what.empty() ? "" : " and ") + "rule set " + p.ruleset_id() +
                " version " + std::to_string(p.ruleset_version());
      }
      return what + (p.channel() == "apple_mdm" ? " sent as InstallProfile"
                                                : " handed to the Android agent");
    }
    case events::Envelope::kDevicePolicyAcknowledged: {
      const auto& p = e.device_policy_acknowledged();
      std::string what = !p.policy_id().empty()
                             ? "policy " + p.policy_id() + " version " +
                                   std::to_string(p.policy_version())
                             : "rule set " + p.ruleset_id() + " version " +
                                   std::to_string(p.ruleset_version());
      return "device answered " + what + ": " + p.status() +
             (p.error().empty() ? "" : " (" + p.error() + ")");
    }
    case events::Envelope::kPolicyCreated:
      return "policy " + e.policy_created().name() + " created (version 1)";
    case events::Envelope::kPolicyUpdated:
      return "policy " + e.policy_updated().name() + " version " +
             std::to_string(e.policy_updated().version());
    case events::Envelope::kPolicyDeleted:
      return "policy deleted";
    case events::Envelope::kRulesetCreated:
      return "rule set " + e.ruleset_created().name() + " created (version 1)";
    case events::Envelope::kRulesetUpdated:
      return "rule set " + e.ruleset_updated().name() + " version " +
             std::to_string(e.ruleset_updated().version());
    case events::Envelope::kRulesetDeleted:
      return "rule set deleted";
    case events::Envelope::kDeviceCommandQueued:
      return "command queued: " + e.device_command_queued().request_type();
    case events::Envelope::kDeviceCommandCompleted:
      return "command " + e.device_command_completed().command_uuid() + ": " +
             e.device_command_completed().status();
    case events::Envelope::kDeviceConfigured: return "released from Setup Assistant (configured)";
    case events::Envelope::kDeviceCheckedOut: return "checked out (MDM profile removed)";
    case events::Envelope::kDeviceRemovedFromInventory: return "removed from the inventory";
    case events::Envelope::kKmeDeviceImported:
      return "imported from " + KmeSourceText(e.kme_device_imported().source());
    case events::Envelope::kKmeDeviceUpdated:
      return "updated from " + KmeSourceText(e.kme_device_updated().source());
    case events::Envelope::kKmeKnoxConnected:
      return "Knox Cloud API connected (" + e.kme_knox_connected().base_url() + ", client " +
             e.kme_knox_connected().client_id() + ")";
    case events::Envelope::kKmeKnoxDisconnected: return "Knox Cloud API disconnected";
    case events::Envelope::kKmeEnrollmentRefused:
      return "enrollment refused: " + e.kme_enrollment_refused().reason();
    case events::Envelope::kKmeDeploymentUserOverridden: {
      const auto& p = e.kme_deployment_user_overridden();
      std::string by = p.source() == pb::KME_SOURCE_UNSPECIFIED ? "an administrator"
                                                                : KmeSourceText(p.source());
      return "user conflict: " + by + " replaced user " + p.deployment_user_id() +
             " (bound by the Knox Deployment App) with " + OrNone(p.user_id());
    }
    case events::Envelope::kKmeDeploymentSettingsChanged:
      return std::string("the Knox Deployment App ") +
             (e.kme_deployment_settings_changed().creates_users() ? "may" : "may not") +
             " create users";
    case events::Envelope::kKmeSyncCompleted: {
      const auto& p = e.kme_sync_completed();
      std::string s = std::string(p.full() ? "full" : "incremental") + " Knox sync: " +
                      std::to_string(p.devices_seen()) + " devices, " +
                      std::to_string(p.created()) + " created, " + std::to_string(p.updated()) +
                      " updated, " + std::to_string(p.rejected()) + " rejected";
      if (p.uploads_approved() > 0) {
        s += ", " + std::to_string(p.uploads_approved()) + " uploads approved";
      }
      if (!p.error().empty()) s += "; stopped: " + p.error();
      return s;
    }
    default:
      return events::PayloadType(e);
  }
}

Result<json> History(App& app, const std::vector<StreamId>& streams) {
  AE_ASSIGN_OR_RETURN(auto records, StreamEvents(app, streams));
  json items = json::array();
  for (const auto& r : records) {
    const auto& e = r.envelope;
    std::string kind = pb::Actor::Kind_Name(e.actor().kind());
    if (kind.rfind("KIND_", 0) == 0) kind = kind.substr(5);
    for (char& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    json event = events::RecordToJson(r);
    items.push_back({{"position", r.position.ToString()},
                     {"time", FormatRfc3339(TimeUtil::TimestampToMilliseconds(e.occurred_at()))},
                     {"recorded_at",
                      FormatRfc3339(TimeUtil::TimestampToMilliseconds(e.recorded_at()))},
                     {"type", events::PayloadType(e)},
                     {"stream", e.stream()},
                     {"actor", {{"kind", kind}, {"id", e.actor().id()}}},
                     {"summary", Summary(e)},
                     {"event", event.value("data", json::object())}});
  }
  size_t n = items.size();
  return json{{"items", std::move(items)}, {"count", n}};
}

}  // namespace ae::api
