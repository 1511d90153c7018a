#include "projections/projection_runner.h"

#include <pthread.h>

#include <future>

#include "events/base/logging.h"

namespace ae::proj {

struct ProjectionRunner::InFlight {
  std::unique_ptr<ViewBatch> batch;
  LogCursor at;  // the checkpoint once it is written
  size_t records = 0;
  std::future<Status> written;
};

ProjectionRunner::ProjectionRunner(const events::EventLog& log, ViewStore& store,
                                   std::vector<Projector*> projectors,
                                   ProjectionRunnerOptions options)
    : log_(log), store_(store), projectors_(std::move(projectors)), options_(options) {}

ProjectionRunner::~ProjectionRunner() { Stop(); }

Status ProjectionRunner::Init() {
  AE_ASSIGN_OR_RETURN(auto saved, store_.Get("checkpoints", options_.checkpoint_key));
  LogCursor c;
  if (saved) {
    auto parsed = LogCursor::Parse(*saved);
    if (!parsed) return Corruption("view.bad_checkpoint", "checkpoint does not parse: " + *saved);
    c = *parsed;
  }
  std::lock_guard lock(mu_);
  checkpoint_ = c;
  stats_.checkpoint = c;
  WakeCoveredLocked();  // a reload (after a swap of the store) may jump ahead
  return Status::Ok();
}

LogCursor ProjectionRunner::Applied() const {
  return in_flight_ ? in_flight_->at : checkpoint();
}

void ProjectionRunner::Commit(const ViewBatch& batch, const LogCursor& at, size_t records) {
  for (ViewBatch::Hook hook : batch.after_write()) hook();
  std::lock_guard lock(mu_);
  checkpoint_ = at;
  stats_.checkpoint = at;
  stats_.applied += records;
  stats_.batches += 1;
  stats_.error = Status::Ok();
  WakeCoveredLocked();
}

Status ProjectionRunner::Finish() {
  if (!in_flight_) return Status::Ok();
  std::unique_ptr<InFlight> f = std::move(in_flight_);
  AE_RETURN_IF_ERROR(f->written.get());  // not committed: the next step starts again there
  Commit(*f->batch, f->at, f->records);
  return Status::Ok();
}

Result<size_t> ProjectionRunner::Advance(const LogCursor* limit, bool pipeline) {
  const LogCursor from = Applied();
  auto read = log_.Read(from, options_.batch_size);
  if (!read.ok()) {
    Status finished = Finish();
    return finished.ok() ? read.status() : finished;
  }
  std::vector<events::RecordedEvent>& records = *read;
  if (limit) {
    std::erase_if(records, [&](const events::RecordedEvent& r) {
      return r.position.offset >= limit->Next(r.position.partition);
    });
  }
  if (records.empty()) {
    AE_RETURN_IF_ERROR(Finish());
    return size_t{0};
  }
  auto batch = std::make_unique<ViewBatch>(store_, in_flight_ ? in_flight_->batch.get() : nullptr);
  LogCursor at = from;
  for (const auto& r : records) {
    for (Projector* p : projectors_) {
      Status s = p->Apply(r, *batch);
      if (!s.ok()) {
        Status finished = Finish();  // the batch before is sound: it is kept
        if (!finished.ok()) return finished;
        return s.WithContext("projector " + p->name() + " at record " + r.position.ToString());
      }
    }
    at.Advance(r.position);
  }
  if (!options_.format.empty() && from.next_offsets().empty()) {
    batch->Put("checkpoints", kViewsFormatKey, options_.format);
  }
  batch->Put("checkpoints", options_.checkpoint_key, at.ToString());
  batch->ForgetUnder();
  AE_RETURN_IF_ERROR(Finish());  // the batch before is in the store: this one goes next
  const size_t n = records.size();
  if (pipeline && n >= options_.pipeline_min_records) {
    auto f = std::make_unique<InFlight>();
    f->batch = std::move(batch);
    f->at = at;
    f->records = n;
    const ViewBatch* b = f->batch.get();
    f->written = std::async(std::launch::async, [this, b] {
      pthread_setname_np(pthread_self(), "ae-views-write");
      return store_.Write(*b);  // views and checkpoint together
    });
    in_flight_ = std::move(f);
    return n;
  }
  AE_RETURN_IF_ERROR(store_.Write(*batch));  // views and checkpoint together
  Commit(*batch, at, n);
  return n;
}

Result<size_t> ProjectionRunner::Step(const LogCursor* limit) {
  AE_RETURN_IF_ERROR(Finish());
  return Advance(limit, /*pipeline=*/false);
}

void ProjectionRunner::Start() {
  thread_ = std::jthread([this](std::stop_token stop) {
    pthread_setname_np(pthread_self(), "ae-views");
    auto logger = log::Get("projections");
    while (!stop.stop_requested()) {
      auto n = Advance(nullptr, /*pipeline=*/true);
      if (!n.ok()) {
        bool first = false;
        {
          std::lock_guard lock(mu_);
          first = stats_.error.ok();
          stats_.error = n.status();
        }
        if (first) logger->error("views stopped: {}", n.status().ToString());
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        continue;
      }
      if (*n == 0) log_.WaitForNew(checkpoint(), std::chrono::milliseconds(100));
    }
    Status finished = Finish();
    if (!finished.ok()) logger->error("views stopped: {}", finished.ToString());
  });
}

void ProjectionRunner::Stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

Status ProjectionRunner::CatchUp(const std::function<void(uint64_t)>& progress,
                                 const std::atomic<bool>* cancel) {
  AE_ASSIGN_OR_RETURN(LogCursor head, log_.Head());
  uint64_t applied = 0;
  while (true) {
    if (cancel && cancel->load()) {
      AE_RETURN_IF_ERROR(Finish());
      return Cancelled("view.cancelled", "replay cancelled");
    }
    AE_ASSIGN_OR_RETURN(size_t n, Advance(nullptr, /*pipeline=*/true));
    applied += n;
    if (progress && n > 0) progress(applied);
    if (n == 0) break;
    bool done = true;
    LogCursor at = Applied();
    for (const auto& [p, next] : head.next_offsets()) {
      if (at.Next(p) < next) done = false;
    }
    if (done) break;
  }
  return Finish();
}

Status ProjectionRunner::CatchUpTo(const LogCursor& target,
                                   const std::function<void(uint64_t)>& progress,
                                   const std::atomic<bool>* cancel) {
  auto reached = [&](bool* beyond) {
    LogCursor at = Applied();
    bool done = true;
    for (const auto& [p, next] : target.next_offsets()) {
      if (at.Next(p) < next) done = false;
    }
    for (const auto& [p, next] : at.next_offsets()) {
      if (next > target.Next(p)) *beyond = true;
    }
    return done;
  };
  uint64_t applied = 0;
  while (true) {
    bool beyond = false;
    bool done = reached(&beyond);
    if (beyond) {
      AE_RETURN_IF_ERROR(Finish());
      return FailedPrecondition("view.beyond_target", "the views are at " +
                                                          checkpoint().ToString() +
                                                          ", past " + target.ToString());
    }
    if (done) return Finish();
    if (cancel && cancel->load()) {
      AE_RETURN_IF_ERROR(Finish());
      return Cancelled("view.cancelled", "replay cancelled");
    }
    AE_ASSIGN_OR_RETURN(size_t n, Advance(&target, /*pipeline=*/true));
    applied += n;
    if (progress && n > 0) progress(applied);
    if (n == 0) {
      return Unavailable("view.target_unreachable",
                         "the log has no records up to " + target.ToString() + " after " +
                             checkpoint().ToString());
    }
  }
}

LogCursor ProjectionRunner::checkpoint() const {
  std::lock_guard lock(mu_);
  return checkpoint_;
}

RunnerStats ProjectionRunner::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool ProjectionRunner::CoversLocked(const LogCursor& target) const {
  for (const auto& [p, next] : target.next_offsets()) {
    if (checkpoint_.Next(p) < next) return false;
  }
  return true;
}

void ProjectionRunner::WakeCoveredLocked() const {
  for (Waiter* w : waiters_) {
    if (CoversLocked(*w->target)) w->cv.notify_one();  // under mu_: w lives on its stack
  }
}

bool ProjectionRunner::WaitUntilCovers(const LogPosition& pos,
                                       std::chrono::milliseconds timeout) const {
  return WaitUntilCovers(LogCursor::After(pos), timeout);
}

bool ProjectionRunner::WaitUntilCovers(const LogCursor& cursor,
                                       std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  if (CoversLocked(cursor)) return true;
  if (timeout.count() <= 0) return false;
  Waiter w{&cursor, {}};
  waiters_.push_back(&w);
  bool covered = w.cv.wait_for(lock, timeout, [&] { return CoversLocked(cursor); });
  std::erase(waiters_, &w);
  return covered;
}

}  // namespace ae::proj
