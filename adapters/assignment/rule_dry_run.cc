#include "adapters/assignment/rule_dry_run.h"

#include <google/protobuf/util/time_util.h>

#include <array>
#include <unordered_map>

namespace ae::assign {

namespace {
namespace rules = domain::rules;
using events::Envelope;
using google::protobuf::util::TimeUtil;

enum Field { kProfile = 0, kUser = 1, kPolicy = 2, kRuleSet = 3 };
constexpr std::array<const char*, 4> kFieldNames = {"profile_id", "user", "policy", "ruleset"};

struct Tracked {
  std::string device, source, account_id;
  std::array<std::string, 4> current;
  std::array<bool, 4> manual{};
};

class Replay {
 public:
  Replay(const rules::Rule& rule, const std::optional<rules::DepProfileRef>& profile,
         const DryRunOptions& options)
      : rule_(rule), profile_(profile), options_(options) {}

  void Apply(const events::RecordedEvent& r) {
    const Envelope& e = r.envelope;
    switch (e.payload_case()) {
      case Envelope::kDepDeviceSynced:
        if (e.stream_version() == 1 && Appeared(r)) First(e.stream(), rules::FactsOf(e.dep_device_synced()));
        return;
      case Envelope::kKmeDeviceImported:
        if (Appeared(r)) First(e.stream(), rules::FactsOf(e.kme_device_imported()));
        return;
      case Envelope::kDeviceUserAssigned:
        Assigned(e.stream(), kUser, e.device_user_assigned().user_id(),
                 e.device_user_assigned().rule_id());
        return;
      case Envelope::kDevicePolicyAssigned:
        Assigned(e.stream(), kPolicy, e.device_policy_assigned().policy_id(),
                 e.device_policy_assigned().rule_id());
        return;
      case Envelope::kDeviceRulesetAssigned:
        Assigned(e.stream(), kRuleSet, e.device_ruleset_assigned().ruleset_id(),
                 e.device_ruleset_assigned().rule_id());
        return;
      case Envelope::kDepProfileAssignmentRequested:
        Assigned(e.stream(), kProfile, e.dep_profile_assignment_requested().profile_id(),
                 e.dep_profile_assignment_requested().rule_id());
        return;
      case Envelope::kDepProfileRemoved:
        if (Tracked* t = Find(e.stream())) t->current[kProfile].clear();
        return;
      default:
        return;
    }
  }

  void Finish(DryRunReport& out) {
    out.devices_seen = seen_;
    out.matched = tracked_.size();
    std::array<std::string, 4> to = {rule_.then.profile_id(), rule_.then.user_id(),
                                     rule_.then.policy_id(), rule_.then.ruleset_id()};
    for (const auto& t : tracked_) {
      DeviceChange change;
      change.device = t.device;
      change.source = t.source;
      for (int f = 0; f < 4; ++f) {
        if (to[f].empty() || t.manual[f] || t.current[f] == to[f]) continue;
        if (f == kProfile && (t.source != "dep" || !profile_ ||
                              profile_->account_id != t.account_id)) {
          continue;
        }
        change.changes.push_back({kFieldNames[f], t.current[f], to[f]});
      }
      if (change.changes.empty()) continue;
      ++out.would_change_count;
      if (out.would_change.size() < options_.limit) {
        out.would_change.push_back(std::move(change));
      } else {
        out.truncated = true;
      }
    }
  }

 private:
  bool Appeared(const events::RecordedEvent& r) const {
    if (options_.since_position && r.position.partition == options_.since_position->partition) {
      return r.position.offset >= options_.since_position->offset;
    }
    if (options_.since_position || options_.since_ms > 0) {
      return TimeUtil::TimestampToMilliseconds(r.envelope.recorded_at()) >= options_.since_ms;
    }
    return true;
  }

  void First(const std::string& stream, const rules::DeviceFacts& facts) {
    if (index_.count(stream)) return;
    ++seen_;
    if (!rules::Matches(rule_.when, facts)) return;
    index_.emplace(stream, tracked_.size());
    Tracked t;
    t.device = facts.device_id;
    t.source = facts.source;
    t.account_id = facts.account_id;
    tracked_.push_back(std::move(t));
  }

  Tracked* Find(const std::string& stream) {
    if (tracked_.empty()) return nullptr;
    auto it = index_.find(stream);
    return it == index_.end() ? nullptr : &tracked_[it->second];
  }

  void Assigned(const std::string& stream, Field f, const std::string& value,
                const std::string& rule_id) {
    Tracked* t = Find(stream);
    if (t == nullptr) return;
    t->current[f] = value;
    if (rule_id.empty()) t->manual[f] = true;
  }

  const rules::Rule& rule_;
  const std::optional<rules::DepProfileRef>& profile_;
  const DryRunOptions& options_;
  uint64_t seen_ = 0;
  std::vector<Tracked> tracked_;
  std::unordered_map<std::string, size_t> index_;  // stream -> tracked_
};
}  // namespace

Result<DryRunReport> DryRunRule(const events::EventLog& log, const rules::Rule& rule,
                                const std::optional<rules::DepProfileRef>& profile,
                                const DryRunOptions& options) {
  DryRunReport out;
  AE_ASSIGN_OR_RETURN(LogCursor head, log.Head());
  LogCursor cursor;
  // One partition (the embedded log): nothing before the position can have appeared since.
  if (options.since_position && options.since_position->offset > 0 &&
      head.next_offsets().size() <= 1) {
    cursor = LogCursor::After({options.since_position->partition,
                               options.since_position->offset - 1});
  }
  Replay replay(rule, profile, options);
  while (true) {
    AE_ASSIGN_OR_RETURN(auto records, log.Read(cursor, std::max<size_t>(options.read_batch, 1)));
    if (records.empty()) break;
    for (const auto& r : records) {
      // Records appended after the run began are not part of it.
      if (!head.Covers(r.position)) continue;
      replay.Apply(r);
      ++out.events_read;
      cursor.Advance(r.position);
    }
    bool past_head = true;
    for (const auto& [p, next] : head.next_offsets()) past_head = past_head && cursor.Next(p) >= next;
    if (past_head) break;
  }
  replay.Finish(out);
  out.head = cursor;
  return out;
}

}  // namespace ae::assign
