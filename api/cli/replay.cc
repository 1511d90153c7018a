// replay: the views rebuilt from the log (in place, into --out, or up to --until), also
// while a Kafka topic's mirror fills.

#include <chrono>
#include <filesystem>
#include <set>

#include <google/protobuf/util/time_util.h>
#include <nlohmann/json.hpp>

#include "api/cli/commands.h"
#include "events/base/clock.h"
#include "projections/rebuild.h"

namespace ae::cli {

namespace fs = std::filesystem;

Result<LogCursor> ResolveUntil(const events::EventLog& log, const std::string& text) {
  if (auto pos = LogPosition::Parse(text)) return LogCursor::After(*pos);
  if (auto cursor = LogCursor::Parse(text); cursor && text.find(':') != std::string::npos &&
                                            text.find('T') == std::string::npos) {
    return *cursor;
  }
  int64_t until_ms = 0;
  if (!ParseRfc3339(text, &until_ms)) {
    return InvalidArgument("replay.bad_until",
                           "--until must be a log position (e.g. 1234 or 0:1234,1:99) or an "
                           "RFC 3339 time, not '" + text + "'");
  }
  // Every record recorded at or before the time, per partition (times are stamped by the
  // writer in log order within a partition).
  LogCursor read, until;
  std::set<int32_t> done;
  while (!StopRequested().load()) {
    AE_ASSIGN_OR_RETURN(auto batch, log.Read(read, 1000));
    if (batch.empty()) break;
    for (const auto& r : batch) {
      read.Advance(r.position);
      if (done.count(r.position.partition)) continue;
      int64_t at = google::protobuf::util::TimeUtil::TimestampToMilliseconds(
          r.envelope.recorded_at());
      if (at <= until_ms) {
        until.Advance(r.position);
      } else {
        done.insert(r.position.partition);
      }
    }
  }
  if (StopRequested().load()) return Cancelled("replay.cancelled", "stopped");
  return until;
}

// Applies the views while the log's mirror fills, until the views hold everything the
// log's source held when called. Fails when the mirror stops advancing for 30 s.
Status FollowMirror(api::App& app, const std::function<void(uint64_t)>& progress) {
  events::EventLog& log = app.raw_log();
  AE_ASSIGN_OR_RETURN(LogCursor end, log.SourceEnd(std::chrono::seconds(30)));
  auto last_move = std::chrono::steady_clock::now();
  LogCursor seen;
  uint64_t before = 0, in_pass = 0;  // records applied by earlier passes, by this one
  auto counted = [&](uint64_t n) {
    in_pass = n;
    progress(before + n);
  };
  while (true) {
    // Reached is read before the last pass, so that the pass sees all it covers.
    const bool reached = log.Reached(end);
    in_pass = 0;
    AE_RETURN_IF_ERROR(app.runner().CatchUp(counted, &StopRequested()));
    before += in_pass;
    if (reached) return Status::Ok();
    AE_RETURN_IF_ERROR(log.Health());
    AE_ASSIGN_OR_RETURN(LogCursor head, log.Head());
    if (!(head == seen)) {
      seen = head;
      last_move = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - last_move > std::chrono::seconds(30)) {
      return Unavailable("log.unavailable", "the mirror stopped at " + head.ToString() +
                                                " short of the topic's end " + end.ToString());
    }
    log.WaitForNew(head, std::chrono::milliseconds(100));
  }
}

int Replay(const ReplayOptions& o, std::ostream& out, std::ostream& err) {
  api::AppOptions opts = o.app;
  fs::path data(opts.data_dir);
  if (!o.until.empty() && o.out_dir.empty()) {
    err << "replay: --until needs --out DIR (the live views always follow the log)\n";
    return 2;
  }
  const std::string previous = proj::LiveViewsDir(opts.data_dir);
  const std::string name = proj::NewViewsDirName(*opts.clock);
  fs::path target = o.out_dir.empty() ? data / name : fs::path(o.out_dir);
  std::error_code ec;
  if (fs::exists(target, ec) && !fs::is_empty(target, ec)) {
    err << "replay: " << target << " exists and is not empty\n";
    return 1;
  }
  opts.views_dir = target.string();
  // Beside a running server the log is read without its lock; in place, the
  // server must be stopped (the writable open takes the lock).
  opts.read_only_log = !o.out_dir.empty();
  // From Kafka: a replay never writes to the topic, so it opens it as a replica (it fences no
  // writer), and it applies the views while the mirror is still filling instead of after.
  const bool follow_mirror = !opts.kafka_brokers.empty() && o.until.empty();
  if (!opts.kafka_brokers.empty()) opts.kafka_writer = false;
  if (follow_mirror) opts.kafka_catch_up_at_open = false;
  auto app = api::App::Open(opts);
  if (!app.ok()) {
    err << "replay: " << app.status().ToString() << "\n";
    if (o.out_dir.empty()) fs::remove_all(target, ec);
    return 1;
  }
  auto started = std::chrono::steady_clock::now();
  auto progress = [&](uint64_t applied) {
    if (applied % 100000 < 1000) err << "replay: " << applied << " records applied\n";
  };
  Status s;
  LogCursor until;
  if (follow_mirror) {
    s = FollowMirror(**app, progress);
  } else if (o.until.empty()) {
    s = (*app)->runner().CatchUp(progress, &StopRequested());
  } else {
    auto resolved = ResolveUntil((*app)->raw_log(), o.until);
    s = resolved.ok() ? (*app)->runner().CatchUpTo(*resolved, progress, &StopRequested())
                      : resolved.status();
    if (s.reason() == "view.target_unreachable") s = Status::Ok();  // past the head: all of it
  }
  if (!s.ok()) {
    err << "replay: " << s.ToString() << "\n";
    app->reset();
    if (o.out_dir.empty()) fs::remove_all(target, ec);
    return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  auto stats = (*app)->runner().stats();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  app->reset();
  if (o.out_dir.empty()) {
    // The new directory becomes the live one in one rename; the old one goes.
    Status set = proj::SetLiveViewsDir(opts.data_dir, name);
    if (!set.ok()) {
      err << "replay: " << set.ToString() << "\n";
      fs::remove_all(target, ec);
      return 1;
    }
    if (fs::path(previous) != target) fs::remove_all(previous, ec);
  }
  out << nlohmann::json({{"records", stats.applied},
                         {"position", stats.checkpoint.ToString()},
                         {"views", target.string()},
                         {"seconds", secs}})
             .dump()
      << std::endl;
  return 0;
}

}  // namespace ae::cli
