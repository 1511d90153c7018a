#include "domain/devices/devices.h"

#include <algorithm>

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
      break;
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

Result<std::vector<Envelope>> Decide(const DeviceState& s, const Enroll& c) {
  // The same device token again (a retried TokenUpdate): nothing new.
  if (s.enrolled && s.udid == c.enrolled.udid() &&
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

Result<std::vector<Envelope>> Decide(const DeviceState& s, const CheckOut&) {
  if (!s.enrolled) return std::vector<Envelope>{};
  Envelope e;
  e.mutable_device_checked_out()->set_device_id(s.device_id);
  return std::vector<Envelope>{e};
}

Result<std::vector<Envelope>> Decide(const DeviceState& s, const RemoveFromInventory&) {
  if (!s.in_inventory) return NotFound("device.not_found", "no such device in the inventory");
  Envelope e;
  e.mutable_device_removed_from_inventory()->set_device_id(s.device_id);
  return std::vector<Envelope>{e};
}

}  // namespace ae::domain::devices
