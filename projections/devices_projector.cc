#include "projections/devices_projector.h"

#include <google/protobuf/util/time_util.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "projections/json_record.h"

namespace ae::proj {

namespace {
using nlohmann::json;
namespace pb = autoenroll::events::v1;

using json_record::Load;
using json_record::When;

std::string DeviceId(const events::Envelope& e) {
  if (e.stream().rfind("device/", 0) != 0) return "";
  return e.stream().substr(7);
}

std::string QueueKey(const std::string& device_id, uint64_t version) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%012llu", static_cast<unsigned long long>(version));
  return MdmQueuePrefix(device_id) + buf;
}

std::string PlatformName(pb::Platform p) {
  switch (p) {
    case pb::PLATFORM_APPLE: return "apple";
    case pb::PLATFORM_ANDROID: return "android";
    default: return "unknown";
  }
}

void ClearQueue(ViewBatch& b, json& d) {
  if (d.contains("pending_commands") && d["pending_commands"].is_object()) {
    for (auto& [uuid, key] : d["pending_commands"].items()) b.Delete("mdm_queue", key.get<std::string>());
  }
  d["pending_commands"] = json::object();
}
}  // namespace

std::string MdmQueuePrefix(const std::string& device_id) { return device_id + '\x1f'; }

namespace {
// Apple no longer assigns the device to this server: its MDM identity ends.
Status RevokeForDep(const events::Envelope& e, ViewBatch& b, const char* reason) {
  constexpr std::string_view kPrefix = "dep-device/";
  if (e.stream().rfind(kPrefix, 0) != 0) return Status::Ok();
  const std::string serial = e.stream().substr(kPrefix.size());
  AE_ASSIGN_OR_RETURN(json identity, Load(b, "mdm_identities", serial));
  if (!identity.is_object() || identity.value("state", "") != "active") return Status::Ok();
  identity["state"] = "revoked";
  identity["revoked_reason"] = reason;
  identity["revoked_at"] = When(e);
  b.Put("mdm_identities", serial, identity.dump());
  return Status::Ok();
}
}  // namespace

Status DevicesProjector::Apply(const RecordedEvent& r, ViewBatch& b) {
  const events::Envelope& e = r.envelope;
  if (e.payload_case() == events::Envelope::kDepDeviceUnassigned) {
    return RevokeForDep(e, b, "dep_unassigned");
  }
  if (e.payload_case() == events::Envelope::kDepDeviceDisowned) {
    return RevokeForDep(e, b, "dep_disowned");
  }
  const std::string id = DeviceId(e);
  if (id.empty()) return Status::Ok();
  auto touch = [&](json& d) {
    d["updated_at"] = When(e);
    d["last_position"] = r.position.ToString();
    b.Put("devices", id, d.dump());
  };
  switch (e.payload_case()) {
    case events::Envelope::kDeviceEnrolled: {
      const auto& p = e.device_enrolled();
      AE_ASSIGN_OR_RETURN(json old, Load(b, "devices", id));
      if (old.is_object()) {
        ClearQueue(b, old);
        if (!old.value("udid", "").empty()) b.Delete("mdm_udids", old.value("udid", ""));
      }
      json d = {{"id", id},
                {"platform", PlatformName(p.platform())},
                {"serial_number", p.serial_number()},
                {"udid", p.udid()},
                {"imei", p.imei()},
                {"model", p.model()},
                {"os_version", p.os_version()},
                {"user_id", p.user_id()},
                {"policy_id", p.policy_id()},
                {"ruleset_id", p.ruleset_id()},
                {"push_topic", p.push_topic()},
                {"status", "enrolled"},
                {"configured", false},
                {"enrolled_at", When(e)},
                {"last_seen_at", When(e)},
                {"last_message_type", ""},
                {"pending_commands", json::object()}};
      if (!p.udid().empty()) b.Put("mdm_udids", p.udid(), id);
      touch(d);
      return Status::Ok();
    }
    case events::Envelope::kDeviceCheckedIn: {
      AE_ASSIGN_OR_RETURN(json d, Load(b, "devices", id));
      if (!d.is_object()) return Status::Ok();
      d["last_seen_at"] = When(e);
      d["last_message_type"] = e.device_checked_in().message_type();
      touch(d);
      return Status::Ok();
    }
    case events::Envelope::kDeviceCommandQueued: {
      const auto& p = e.device_command_queued();
      AE_ASSIGN_OR_RETURN(json d, Load(b, "devices", id));
      if (!d.is_object()) return Status::Ok();
      std::string key = QueueKey(id, e.stream_version());
      json q = {{"command_uuid", p.command_uuid()},
                {"request_type", p.request_type()},
                {"manifest_url", p.manifest_url()}};
      b.Put("mdm_queue", key, q.dump());
      d["pending_commands"][p.command_uuid()] = key;
      touch(d);
      return Status::Ok();
    }
    case events::Envelope::kDeviceCommandCompleted: {
      const auto& p = e.device_command_completed();
      AE_ASSIGN_OR_RETURN(json d, Load(b, "devices", id));
      if (!d.is_object()) return Status::Ok();
      d["last_seen_at"] = When(e);
      if (p.status() != "NotNow" && d["pending_commands"].contains(p.command_uuid())) {
        b.Delete("mdm_queue", d["pending_commands"][p.command_uuid()].get<std::string>());
        d["pending_commands"].erase(p.command_uuid());
      }
      d["last_command"] = {{"command_uuid", p.command_uuid()}, {"status", p.status()},
                           {"error", p.error()}, {"at", When(e)}};
      touch(d);
      return Status::Ok();
    }
    case events::Envelope::kDeviceConfigured: {
      AE_ASSIGN_OR_RETURN(json d, Load(b, "devices", id));
      if (!d.is_object()) return Status::Ok();
      d["configured"] = true;
      touch(d);
      return Status::Ok();
    }
    case events::Envelope::kDeviceCheckedOut: {
      AE_ASSIGN_OR_RETURN(json d, Load(b, "devices", id));
      if (!d.is_object()) return Status::Ok();
      d["status"] = "checked_out";
      ClearQueue(b, d);
      touch(d);
      return Status::Ok();
    }
    case events::Envelope::kDeviceIdentityIssued: {
      const auto& p = e.device_identity_issued();
      json identity = {{"certificate_sha256", p.certificate_sha256()},
                       {"udid", p.udid()},
                       {"signer_sha256", p.signer_sha256()},
                       {"state", "active"},
                       {"issued_at", When(e)}};
      b.Put("mdm_identities", id, identity.dump());
      return Status::Ok();
    }
    case events::Envelope::kDeviceIdentityRevoked: {
      const auto& p = e.device_identity_revoked();
      AE_ASSIGN_OR_RETURN(json identity, Load(b, "mdm_identities", id));
      if (!identity.is_object()) identity = {{"certificate_sha256", p.certificate_sha256()}};
      const std::string current = identity.value("certificate_sha256", "");
      if (!p.certificate_sha256().empty() && p.certificate_sha256() != current) {
        return Status::Ok();  // an earlier identity, already replaced
      }
      identity["state"] = "revoked";
      identity["revoked_reason"] = p.reason();
      identity["revoked_at"] = When(e);
      b.Put("mdm_identities", id, identity.dump());
      return Status::Ok();
    }
    case events::Envelope::kDeviceRemovedFromInventory: {
      AE_ASSIGN_OR_RETURN(json d, Load(b, "devices", id));
      if (!d.is_object()) return Status::Ok();
      ClearQueue(b, d);
      if (!d.value("udid", "").empty()) b.Delete("mdm_udids", d.value("udid", ""));
      b.Delete("devices", id);
      return Status::Ok();
    }
    default:
      return Status::Ok();
  }
}

}  // namespace ae::proj
