#include "projections/as_of.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <limits>
#include <map>

#include "events/base/clock.h"

namespace ae::proj {

using google::protobuf::util::TimeUtil;

namespace {

// Log order: by offset within a partition, by recorded time across partitions.
void SortInLogOrder(std::vector<events::RecordedEvent>& all) {
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    if (a.position.partition == b.position.partition) return a.position.offset < b.position.offset;
    return TimeUtil::TimestampToMilliseconds(a.envelope.recorded_at()) <
           TimeUtil::TimestampToMilliseconds(b.envelope.recorded_at());
  });
}

}  // namespace

bool AsOfPoint::Includes(const events::RecordedEvent& r) const {
  return Includes(r.position, TimeUtil::TimestampToMilliseconds(r.envelope.recorded_at()));
}

bool AsOfPoint::Includes(const LogPosition& at, int64_t recorded_ms) const {
  if (position && at.partition == position->partition) return at.offset <= position->offset;
  // A time; or another partition of a Kafka topic than the position's, ordered
  // by when the log accepted it (time_ms is then the position's own, Resolve).
  return recorded_ms <= time_ms;
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

Result<std::vector<events::RecordedEvent>> StreamEvents(const events::EventLog& log,
                                                        const std::vector<StreamId>& streams,
                                                        size_t max) {
  std::vector<events::RecordedEvent> all;
  for (const auto& s : streams) {
    AE_ASSIGN_OR_RETURN(auto records, log.ReadStream(s, 1, max));
    for (auto& r : records) all.push_back(std::move(r));
  }
  SortInLogOrder(all);
  if (all.size() > max) all.resize(max);
  return all;
}

AsOfReader::AsOfReader(const events::EventLog& log, ViewStore& views) : log_(log), views_(views) {}

Status AsOfReader::Resolve(AsOfPoint* at) const {
  if (!at->position || at->time_ms != 0) return Status::Ok();
  AE_ASSIGN_OR_RETURN(LogCursor head, log_.Head());
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
  AE_ASSIGN_OR_RETURN(auto records, log_.Read(from, 1));
  if (!records.empty() && records.front().position == p) {
    at->time_ms = TimeUtil::TimestampToMilliseconds(records.front().envelope.recorded_at());
  }
  return Status::Ok();
}

Result<std::vector<events::RecordedEvent>> AsOfReader::CachedStreamEvents(
    const std::vector<StreamId>& streams) {
  std::vector<events::RecordedEvent> all;
  for (const auto& s : streams) {
    AE_ASSIGN_OR_RETURN(StreamVersion v, log_.GetStreamVersion(s));
    Records hit;
    {
      std::lock_guard lock(mu_);
      auto it = streams_.find(s.str());
      if (it != streams_.end() && it->second.first == v) hit = it->second.second;
    }
    if (!hit) {
      AE_ASSIGN_OR_RETURN(auto records, log_.ReadStream(s, 1, 100'000));
      if (records.size() != v || v > 1000) return StreamEvents(log_, streams);  // moving, or big
      hit = std::make_shared<const std::vector<events::RecordedEvent>>(std::move(records));
      std::lock_guard lock(mu_);
      if (streams_.size() >= kMaxStreams) streams_.clear();
      streams_[s.str()] = {v, hit};
    }
    all.insert(all.end(), hit->begin(), hit->end());
  }
  if (streams.size() > 1) SortInLogOrder(all);
  return all;
}

Result<std::optional<std::string>> AsOfReader::Read(Projector& projector,
                                                    const std::vector<StreamId>& streams,
                                                    const std::string& cf,
                                                    const std::string& key,
                                                    const AsOfPoint& point) {
  AsOfPoint at = point;
  AE_RETURN_IF_ERROR(Resolve(&at));
  AE_ASSIGN_OR_RETURN(auto records, CachedStreamEvents(streams));
  std::map<std::string, uint64_t> included;  // per stream: how many of its events
  for (const auto& r : records) {
    if (at.Includes(r)) ++included[r.envelope.stream()];
  }
  std::string cache_key = projector.name() + '\x1f' + cf + '\x1f' + key;
  for (const auto& [stream, n] : included) {
    cache_key += '\x1f' + stream + '=' + std::to_string(n);
  }
  {
    std::lock_guard lock(mu_);
    auto it = records_.find(cache_key);
    if (it != records_.end()) return it->second;
  }
  ViewBatch batch(views_, ViewBatch::Isolated{});
  for (const auto& r : records) {
    if (!at.Includes(r)) continue;
    AE_RETURN_IF_ERROR(projector.Apply(r, batch));
  }
  AE_ASSIGN_OR_RETURN(auto raw, batch.Get(cf, key));
  std::lock_guard lock(mu_);
  if (records_.size() >= kMaxRecords) records_.clear();  // bounded; cheap to refill
  records_.emplace(cache_key, raw);
  return raw;
}

}  // namespace ae::proj
