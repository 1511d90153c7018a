#include "events/rocksdb_event_log.h"

#include <google/protobuf/util/time_util.h>

#include <map>

#include "events/base/crypto.h"
#include "events/base/logging.h"
#include "events/upcast.h"

namespace ae::events {

void FillEnvelopeDefaults(Envelope& env, int64_t now_ms) {
  if (env.event_id().empty()) env.set_event_id(crypto::UuidV7(now_ms));
  if (!env.has_occurred_at()) {
    *env.mutable_occurred_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(now_ms);
  }
  if (env.schema_version() == 0) env.set_schema_version(kSchemaVersion);
}

std::vector<Result<AppendResult>> EventLog::AppendBatch(std::vector<AppendItem> items) {
  std::vector<Result<AppendResult>> out;
  out.reserve(items.size());
  for (auto& item : items) out.push_back(Append(item.stream, item.expected, std::move(item.events)));
  return out;
}

Result<std::unique_ptr<RocksDbEventLog>> RocksDbEventLog::Open(
    const RocksDbEventLogOptions& options) {
  std::unique_ptr<RocksDbEventLog> log(new RocksDbEventLog(options));
  log->clock_ = options.clock ? options.clock : &Clock::Real();
  LogStoreOptions so;
  so.path = options.path;
  so.sync = options.sync;
  so.env = options.env;
  so.read_only = options.read_only;
  AE_ASSIGN_OR_RETURN(log->store_, LogStore::Open(so));
  return log;
}

Result<AppendResult> RocksDbEventLog::Append(const StreamId& stream, ExpectedVersion expected,
                                             std::vector<Envelope> events) {
  if (!ValidStreamId(stream.str())) {
    return InvalidArgument("log.invalid_stream", "invalid stream id '" + stream.str() + "'");
  }
  if (events.empty()) return InvalidArgument("log.no_events", "append of no events");
  if (options_.read_only) return Unavailable("log.read_only", "the log is open read-only");
  internal::AppendRequest req(stream, expected, &events);
  queue_.Submit(req, [this](const std::vector<internal::AppendRequest*>& g) { CommitGroup(g); });
  return std::move(req.result);
}

std::vector<Result<AppendResult>> RocksDbEventLog::AppendBatch(std::vector<AppendItem> items) {
  return internal::SubmitBatch(
      queue_, items,
      [this](const AppendItem& item) -> Status {
        if (!ValidStreamId(item.stream.str())) {
          return InvalidArgument("log.invalid_stream",
                                 "invalid stream id '" + item.stream.str() + "'");
        }
        if (item.events.empty()) return InvalidArgument("log.no_events", "append of no events");
        if (options_.read_only) return Unavailable("log.read_only", "the log is open read-only");
        return Status::Ok();
      },
      [this](const std::vector<internal::AppendRequest*>& g) { CommitGroup(g); });
}

void RocksDbEventLog::CommitGroup(const std::vector<internal::AppendRequest*>& group) {
  Status sticky = Health();
  if (!sticky.ok()) {
    for (auto* r : group) r->result = sticky;
    return;
  }
  const int64_t now = clock_->NowMs();
  const auto recorded_at = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(now);
  PartitionHead head = store_->Head(0);
  int64_t next = head.next_offset;
  std::string prev = head.last_hash;
  auto versions = store_->NewVersionReader();
  std::map<std::string, StreamVersion> pending;  // versions staged by this group
  std::vector<StagedRecord> staged;
  std::vector<internal::AppendRequest*> accepted;
  for (auto* r : group) {
    StreamVersion version;
    auto it = pending.find(r->stream.str());
    if (it != pending.end()) {
      version = it->second;
    } else {
      auto v = versions.Get(r->stream.str());
      if (!v.ok()) {
        r->result = v.status();
        continue;
      }
      version = *v;
    }
    if (!r->expected.Matches(version)) {
      r->result = Conflict("log.wrong_expected_version",
                           "stream " + r->stream.str() + " is at version " +
                               std::to_string(version) + ", expected " + r->expected.ToString());
      continue;
    }
    AppendResult res;
    res.first = LogPosition{0, next};
    for (Envelope& env : *r->events) {
      FillEnvelopeDefaults(env, now);
      env.set_stream(r->stream.str());
      env.set_stream_version(++version);
      *env.mutable_recorded_at() = recorded_at;
      env.set_prev_hash(prev);
      StagedRecord rec;
      rec.position = LogPosition{0, next++};
      rec.stream = r->stream.str();
      rec.stream_version = version;
      rec.raw = env.SerializeAsString();
      rec.hash = crypto::Sha256(rec.raw);
      prev = rec.hash;
      staged.push_back(std::move(rec));
    }
    res.last = LogPosition{0, next - 1};
    res.stream_version = version;
    pending[r->stream.str()] = version;
    r->result = res;
    accepted.push_back(r);
  }
  if (staged.empty()) return;
  Status s = store_->Write(staged);
  if (!s.ok()) {
    Status err = Unavailable("log.unavailable",
                             "durable write failed; the log refuses appends until restarted: " +
                                 s.message());
    log::Get("events")->error("log write failed, appends disabled: {}", s.ToString());
    {
      std::lock_guard lock(sticky_mu_);
      sticky_error_ = err;
    }
    for (auto* r : accepted) r->result = err;
  }
}

Result<std::vector<RecordedEvent>> RocksDbEventLog::Read(const LogCursor& from, size_t max) const {
  return store_->Read(from, max);
}

Result<EventLog::MatchingRecords> RocksDbEventLog::ReadMatching(const LogCursor& from, size_t max,
                                                       const std::vector<int>& cases) const {
  return store_->ReadMatching(from, max, &cases);
}

Result<std::vector<RecordedEvent>> RocksDbEventLog::ReadStream(const StreamId& stream,
                                                               StreamVersion from_version,
                                                               size_t max) const {
  return store_->ReadStream(stream.str(), from_version, max);
}

Result<StreamVersion> RocksDbEventLog::GetStreamVersion(const StreamId& stream) const {
  return store_->GetStreamVersion(stream.str());
}

Result<LogCursor> RocksDbEventLog::Head() const { return store_->HeadCursor(); }

bool RocksDbEventLog::WaitForNew(const LogCursor& cursor, std::chrono::milliseconds timeout) const {
  return store_->WaitForNew(cursor, timeout);
}

Status RocksDbEventLog::Health() const {
  std::lock_guard lock(sticky_mu_);
  return sticky_error_;
}

}  // namespace ae::events
