#include "api/history.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "events/codec.h"

namespace ae::api {

using nlohmann::json;
using google::protobuf::util::TimeUtil;
namespace pb = autoenroll::events::v1;

bool AsOfPoint::Includes(const events::RecordedEvent& r) const {
  return Includes(r.position, TimeUtil::TimestampToMilliseconds(r.envelope.recorded_at()));
}

bool AsOfPoint::Includes(const LogPosition& at, int64_t recorded_ms) const {
  if (position && at.partition == position->partition) return at.offset <= position->offset;
  // A time; or another partition of a Kafka topic than the position's, ordered
  // by when the log accepted it (time_ms is then the position's own, ResolveAsOf).
  return recorded_ms <= time_ms;
}

Status ResolveAsOf(App& app, AsOfPoint* at) {
  if (!at->position || at->time_ms != 0) return Status::Ok();
  AE_ASSIGN_OR_RETURN(LogCursor head, app.log().Head());
  if (head.next_offsets().size() <= 1) return Status::Ok();  // one partition: offsets order all
  const LogPosition& p = *at->position;
  if (p.offset >= head.Next(p.partition)) {
    at->time_ms = std::numeric_limits<int64_t>::max();  // past the head: everything so far
    return Status::Ok();
  }
  // Read only partition p from p.offset: every other partition starts at its head.
  LogCursor from;
  for (const auto& [part, next] : head.next_offsets()) {
    if (part != p.partition && next > 0) from.Advance({part, next - 1});
  }
  if (p.offset > 0) from.Advance({p.partition, p.offset - 1});
  AE_ASSIGN_OR_RETURN(auto records, app.log().Read(from, 1));
  if (!records.empty() && records.front().position == p) {
    at->time_ms = TimeUtil::TimestampToMilliseconds(records.front().envelope.recorded_at());
  }
  return Status::Ok();
}

Result<std::optional<AsOfPoint>> ParseAsOf(const std::string& text) {
  if (text.empty()) return std::optional<AsOfPoint>();
  AsOfPoint p;
  if (auto pos = LogPosition::Parse(text); pos && pos->valid()) {
    p.position = *pos;
    return std::optional<AsOfPoint>(p);
  }
  if (ParseRfc3339(text, &p.time_ms)) return std::optional<AsOfPoint>(p);
  return InvalidArgument("request.bad_as_of",
                         "as_of must be an RFC 3339 time (2026-11-25T10:00:00Z) or a log position",
                         "as_of");
}

Result<std::vector<events::RecordedEvent>> StreamEvents(App& app,
                                                        const std::vector<StreamId>& streams,
                                                        size_t max) {
  std::vector<events::RecordedEvent> all;
  for (const auto& s : streams) {
    AE_ASSIGN_OR_RETURN(auto records, app.log().ReadStream(s, 1, max));
    for (auto& r : records) all.push_back(std::move(r));
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    if (a.position.partition == b.position.partition) return a.position.offset < b.position.offset;
    return TimeUtil::TimestampToMilliseconds(a.envelope.recorded_at()) <
           TimeUtil::TimestampToMilliseconds(b.envelope.recorded_at());
  });
  if (all.size() > max) all.resize(max);
  return all;
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

namespace {

// Point-in-time records are immutable: the events of a stream never change, so the record
// a projector builds from the first n events of each stream is the same every time. They
// are kept (bounded) by table, key and the number of events included per stream. Personal
// data is opened when an answer is rendered, never here, so a forget still applies.
class AsOfCache {
 public:
  std::optional<json> Find(const std::string& k) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(k);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }
  void Put(const std::string& k, const json& v) {
    std::lock_guard lock(mu_);
    if (entries_.size() >= kMaxEntries) entries_.clear();  // bounded; cheap to refill
    entries_.emplace(k, v);
  }

 private:
  static constexpr size_t kMaxEntries = 8192;
  std::mutex mu_;
  std::unordered_map<std::string, json> entries_;
};

AsOfCache& Cache() {
  static AsOfCache cache;
  return cache;
}

// The events of a stream, by the stream's version: a stream at version v always holds the
// same v events, so they are read and decoded once per version (bounded).
class StreamCache {
 public:
  using Records = std::shared_ptr<const std::vector<events::RecordedEvent>>;
  Records Find(const std::string& stream, StreamVersion v) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(stream);
    if (it == entries_.end() || it->second.first != v) return nullptr;
    return it->second.second;
  }
  void Put(const std::string& stream, StreamVersion v, Records r) {
    std::lock_guard lock(mu_);
    if (entries_.size() >= kMaxStreams) entries_.clear();
    entries_[stream] = {v, std::move(r)};
  }

 private:
  static constexpr size_t kMaxStreams = 1024;
  std::mutex mu_;
  std::unordered_map<std::string, std::pair<StreamVersion, Records>> entries_;
};

StreamCache& Streams() {
  static StreamCache cache;
  return cache;
}

// StreamEvents through StreamCache, for streams of at most 1000 events.
Result<std::vector<events::RecordedEvent>> CachedStreamEvents(App& app,
                                                              const std::vector<StreamId>& streams) {
  std::vector<events::RecordedEvent> all;
  for (const auto& s : streams) {
    AE_ASSIGN_OR_RETURN(StreamVersion v, app.log().GetStreamVersion(s));
    auto hit = Streams().Find(s.str(), v);
    if (!hit) {
      AE_ASSIGN_OR_RETURN(auto records, app.log().ReadStream(s, 1, 100'000));
      if (records.size() != v || v > 1000) return StreamEvents(app, streams);  // moving, or big
      hit = std::make_shared<const std::vector<events::RecordedEvent>>(std::move(records));
      Streams().Put(s.str(), v, hit);
    }
    all.insert(all.end(), hit->begin(), hit->end());
  }
  if (streams.size() > 1) {
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      if (a.position.partition == b.position.partition) return a.position.offset < b.position.offset;
      return TimeUtil::TimestampToMilliseconds(a.envelope.recorded_at()) <
             TimeUtil::TimestampToMilliseconds(b.envelope.recorded_at());
    });
  }
  return all;
}

}  // namespace

Result<json> AsOf(App& app, proj::Projector& projector, const std::vector<StreamId>& streams,
                  const std::string& cf, const std::string& key, const AsOfPoint& point) {
  AsOfPoint at = point;
  AE_RETURN_IF_ERROR(ResolveAsOf(app, &at));
  AE_ASSIGN_OR_RETURN(auto records, CachedStreamEvents(app, streams));
  std::map<std::string, uint64_t> included;  // per stream: how many of its events
  for (const auto& r : records) {
    if (at.Includes(r)) ++included[r.envelope.stream()];
  }
  std::string cache_key = projector.name() + '\x1f' + cf + '\x1f' + key;
  for (const auto& [stream, n] : included) {
    cache_key += '\x1f' + stream + '=' + std::to_string(n);
  }
  if (auto hit = Cache().Find(cache_key)) return *hit;
  proj::ViewBatch batch(app.views(), proj::ViewBatch::Isolated{});
  for (const auto& r : records) {
    if (!at.Includes(r)) continue;
    AE_RETURN_IF_ERROR(projector.Apply(r, batch));
  }
  AE_ASSIGN_OR_RETURN(auto raw, batch.Get(cf, key));
  json j;
  if (raw) {
    j = json::parse(*raw, nullptr, false);
    if (!j.is_object()) return Corruption("view.corruption", "record does not parse");
  }
  Cache().Put(cache_key, j);
  return j;
}

}  // namespace ae::api
