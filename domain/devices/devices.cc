#include "domain/devices/devices.h"

#include <algorithm>
#include <optional>

namespace ae::domain::devices {

DeviceState Evolve(DeviceState s, const Envelope& e) {
  switch (e.payload_case()) {
    case Envelope::kDeviceEnrolled:
      s.device_id = e.device_enrolled().device_id();
      s.enrolled = true;
      s.in_inventory = true;
      s.enrollments++;
      s.udid = e.device_enrolled().udid();
      s.push_token_sha256 = e.device_enrolled().push_token_sha256();
      s.configured = false;
      s.queue.clear();
      s.apple = e.device_enrolled().platform() == pb::PLATFORM_APPLE;
      s.identity_fresh = false;
      break;
    case Envelope::kDeviceIdentityIssued:
      if (s.device_id.empty()) s.device_id = e.device_identity_issued().device_id();
      s.identity_sha256 = e.device_identity_issued().certificate_sha256();
      s.identity_recorded = true;
      s.identity_fresh = true;
      break;
    case Envelope::kDeviceIdentityRevoked: {
      const std::string& revoked = e.device_identity_revoked().certificate_sha256();
      if (revoked.empty() || revoked == s.identity_sha256) s.identity_sha256.clear();
      s.identity_recorded = true;
      break;
    }
    case Envelope::kDeviceCommandQueued:
      s.queue.emplace_back(e.device_command_queued().command_uuid(),
                           e.device_command_queued().request_type());
      break;
    case Envelope::kDeviceCommandCompleted: {
      const auto& p = e.device_command_completed();
      if (p.status() != "NotNow") {
        auto it = std::find_if(s.queue.begin(), s.queue.end(),
                               [&](const auto& q) { return q.first == p.command_uuid(); });
        if (it != s.queue.end()) s.queue.erase(it);
      }
      break;
    }
    case Envelope::kDeviceConfigured:
      s.configured = true;
      break;
    case Envelope::kDeviceCheckedOut:
      s.enrolled = false;
      s.queue.clear();
      break;
    case Envelope::kDeviceRemovedFromInventory:
      s.enrolled = false;
      s.in_inventory = false;
      s.queue.clear();
      break;
    default:
      break;
  }
  return s;
}

namespace {

// The revocation of the device's current identity, if it has one. A device enrolled
// before identities were recorded has an unknown one: `legacy` names it (the identity
// that signed the message, or "" for every identity the device was issued), or nullopt
// when the device has none (not an Apple device).
std::optional<Envelope> Revocation(const DeviceState& s, const std::string& device_id,
                                   const std::string& reason,
                                   std::optional<std::string> legacy) {
  std::string sha;
  if (!s.identity_sha256.empty()) {
    sha = s.identity_sha256;
  } else if (!s.identity_recorded && legacy) {
    sha = *legacy;
  } else {
    return std::nullopt;
  }
  Envelope e;
  auto* p = e.mutable_device_identity_revoked();
  p->set_device_id(device_id);
  p->set_certificate_sha256(sha);
  p->set_reason(reason);
  return e;
}

}  // namespace

Status IdentityRevoked() {
  return Unauthenticated("mdm.identity_revoked",
                         "this device identity was revoked; the device must enroll again");
}

Status CheckIdentity(const DeviceState& s, const std::string& identity_sha256) {
  if (identity_sha256.empty() || !s.identity_recorded) return Status::Ok();
  if (!s.identity_sha256.empty() && s.identity_sha256 == identity_sha256) return Status::Ok();
  return IdentityRevoked();
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const IssueIdentity& c) {
  if (c.device_id.empty() || c.certificate_sha256.empty()) {
    return InvalidArgument("device.bad_identity", "an identity needs a device and a fingerprint");
  }
  if (s.identity_sha256 == c.certificate_sha256) return std::vector<Envelope>{};  // a replay
  std::vector<Envelope> out;
  // A device enrolled before identities were recorded loses its unknown one.
  auto revoked = Revocation(s, c.device_id, "replaced",
                            s.apple ? std::optional<std::string>("") : std::nullopt);
  if (revoked) out.push_back(std::move(*revoked));
  Envelope e;
  auto* p = e.mutable_device_identity_issued();
  p->set_device_id(c.device_id);
  p->set_certificate_sha256(c.certificate_sha256);
  p->set_udid(c.udid);
  p->set_signer_sha256(c.signer_sha256);
  out.push_back(std::move(e));
  return out;
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const Enroll& c) {
  AE_RETURN_IF_ERROR(CheckIdentity(s, c.identity_sha256));
  // The same device token again (a retried TokenUpdate) with no new identity since:
  // nothing new.
  if (s.enrolled && !s.identity_fresh && s.udid == c.enrolled.udid() &&
      s.push_token_sha256 == c.enrolled.push_token_sha256()) {
    return std::vector<Envelope>{};
  }
  std::vector<Envelope> out;
  Envelope e;
  *e.mutable_device_enrolled() = c.enrolled;
  out.push_back(std::move(e));
  for (const auto& cmd : c.commands) {
    Envelope q;
    *q.mutable_device_command_queued() = cmd;
    q.mutable_device_command_queued()->set_device_id(c.enrolled.device_id());
    out.push_back(std::move(q));
  }
  return out;
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const CheckIn& c) {
  AE_RETURN_IF_ERROR(CheckIdentity(s, c.identity_sha256));
  if (!s.enrolled && c.message_type != "Authenticate") {
    return PermissionDenied("mdm.not_enrolled", "the device is not enrolled");
  }
  Envelope e;
  e.mutable_device_checked_in()->set_device_id(c.device_id);
  e.mutable_device_checked_in()->set_message_type(c.message_type);
  return std::vector<Envelope>{e};
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const QueueCommand& c) {
  if (!s.enrolled) return FailedPrecondition("device.not_enrolled", "the device is not enrolled");
  Envelope e;
  *e.mutable_device_command_queued() = c.command;
  e.mutable_device_command_queued()->set_device_id(s.device_id);
  return std::vector<Envelope>{e};
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const CompleteCommand& c) {
  AE_RETURN_IF_ERROR(CheckIdentity(s, c.identity_sha256));
  auto it = std::find_if(s.queue.begin(), s.queue.end(),
                         [&](const auto& q) { return q.first == c.command_uuid; });
  if (!s.enrolled || it == s.queue.end()) return std::vector<Envelope>{};  // stale or repeated
  std::vector<Envelope> out;
  Envelope e;
  auto* p = e.mutable_device_command_completed();
  p->set_device_id(s.device_id);
  p->set_command_uuid(c.command_uuid);
  p->set_status(c.status);
  p->set_error(c.error);
  out.push_back(std::move(e));
  const bool configures = c.marks_configured || it->second == "DeviceConfigured";
  if (configures && c.status == "Acknowledged" && !s.configured) {
    Envelope d;
    d.mutable_device_configured()->set_device_id(s.device_id);
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const CheckOut& c) {
  AE_RETURN_IF_ERROR(CheckIdentity(s, c.identity_sha256));
  std::vector<Envelope> out;
  if (s.enrolled) {
    Envelope e;
    e.mutable_device_checked_out()->set_device_id(s.device_id);
    out.push_back(std::move(e));
  }
  // The identity that signed the CheckOut ends with it.
  auto revoked = Revocation(s, s.device_id, "checked_out",
                            c.identity_sha256.empty() ? std::nullopt
                                                      : std::optional<std::string>(c.identity_sha256));
  if (revoked) out.push_back(std::move(*revoked));
  return out;
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const RemoveFromInventory&) {
  if (!s.in_inventory) return NotFound("device.not_found", "no such device in the inventory");
  std::vector<Envelope> out;
  Envelope e;
  e.mutable_device_removed_from_inventory()->set_device_id(s.device_id);
  out.push_back(std::move(e));
  auto revoked = Revocation(s, s.device_id, "removed_from_inventory",
                            s.apple ? std::optional<std::string>("") : std::nullopt);
  if (revoked) out.push_back(std::move(*revoked));
  return out;
}

}  // namespace ae::domain::devices
