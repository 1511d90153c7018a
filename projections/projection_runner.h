#pragma once
// ProjectionRunner: applies the log, in order, to a set of projectors, writing
// the checkpoint into the SAME RocksDB batch as the view updates. After a crash
// (even kill -9) it resumes exactly after the last committed batch: no record is
// applied twice or lost.
//
// One runner, one checkpoint ("views") for all projectors it owns, so every
// view is at the same position and read-your-writes needs one wait.
//
// Bulk batches are pipelined: while batch N is written to RocksDB on a second thread,
// batch N+1 is read from the log and applied (reading through N's staged writes). The
// checkpoint, WaitUntilCovers and the batch's after-write hooks move only once a batch
// is in the store. A batch of fewer than pipeline_min_records (the live trickle of
// commands) is written at once, on the runner's thread, with no hand-off in its latency.
//
// Thread-safety: Start/Stop from the owner; CatchUp only while not started;
// the accessors and WaitFor* from any thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "events/event_log.h"
#include "projections/projector.h"
#include "projections/view_store.h"

namespace ae::proj {

// The checkpoints key of the views' format (ProjectionRunnerOptions::format).
inline constexpr const char* kViewsFormatKey = "views_format";

struct ProjectionRunnerOptions {
  size_t batch_size = 1000;          // records per view batch (one write each)
  // Batches of at least this many records are written while the next one is applied.
  size_t pipeline_min_records = 256;
  std::string checkpoint_key = "views";
  // Stamped under checkpoints/views_format by the first batch into empty views, so
  // views built by older projectors can be told apart (App rebuilds them). "" = none.
  std::string format;
};

struct RunnerStats {
  uint64_t applied = 0;              // records applied since start
  uint64_t batches = 0;
  LogCursor checkpoint;
  Status error;                      // a poison record or a failing write
};

class ProjectionRunner {
 public:
  ProjectionRunner(const events::EventLog& log, ViewStore& store,
                   std::vector<Projector*> projectors, ProjectionRunnerOptions options = {});
  ~ProjectionRunner();

  // Loads the checkpoint. Must be called once before Start or CatchUp, and again
  // (while stopped) after the store was swapped for another.
  Status Init();
  // Runs the apply loop on its own thread until Stop().
  void Start();
  void Stop();

  // Applies synchronously until the log's head at call time is covered
  // (replay). `progress(applied)` is called after each batch; `cancel` stops it.
  Status CatchUp(const std::function<void(uint64_t)>& progress = nullptr,
                 const std::atomic<bool>* cancel = nullptr);

  // Applies synchronously until the checkpoint equals `target` (records past it, per
  // partition, are left alone): two runners brought to one cursor hold the same views.
  // kFailedPrecondition "view.beyond_target" when the checkpoint is already past it.
  Status CatchUpTo(const LogCursor& target,
                   const std::function<void(uint64_t)>& progress = nullptr,
                   const std::atomic<bool>* cancel = nullptr);

  // One step: read a batch after the checkpoint, apply, commit (written before it
  // returns). Returns the number of records applied (0 when nothing was there). With
  // `limit`, records at or past limit->Next(partition) are not applied.
  Result<size_t> Step(const LogCursor* limit = nullptr);

  LogCursor checkpoint() const;
  RunnerStats stats() const;
  // Blocks until the views cover `pos` (true) or `timeout` passes (false).
  bool WaitUntilCovers(const LogPosition& pos, std::chrono::milliseconds timeout) const;
  bool WaitUntilCovers(const LogCursor& cursor, std::chrono::milliseconds timeout) const;

 private:
  // A batch applied and being written on another thread.
  struct InFlight;
  // Reads and applies the batch after the last one applied; a large one is left in flight
  // when `pipeline`, else written before it returns. 0 when nothing was there (and then
  // nothing is in flight).
  Result<size_t> Advance(const LogCursor* limit, bool pipeline);
  // Waits for the batch in flight, if any, and commits it.
  Status Finish();
  // After a batch is in the store: hooks, checkpoint, stats, waiters.
  void Commit(const ViewBatch& batch, const LogCursor& at, size_t records);
  // Where the next batch starts: after the one in flight, else the checkpoint.
  LogCursor Applied() const;

  const events::EventLog& log_;
  ViewStore& store_;
  std::vector<Projector*> projectors_;
  ProjectionRunnerOptions options_;

  // A thread in WaitUntilCovers. Each has its own condition variable and is woken only
  // once the views cover its target: with dozens of writers waiting, one shared
  // notify_all per batch woke them all to find most of them not covered yet.
  struct Waiter {
    const LogCursor* target;
    std::condition_variable cv;
  };
  bool CoversLocked(const LogCursor& target) const;
  void WakeCoveredLocked() const;

  std::unique_ptr<InFlight> in_flight_;  // the applying thread's only

  mutable std::mutex mu_;
  mutable std::vector<Waiter*> waiters_;  // guarded by mu_
  LogCursor checkpoint_;            // guarded by mu_; memory only after disk
  RunnerStats stats_;               // guarded by mu_
  std::jthread thread_;             // last: stopped before the members above go
};

}  // namespace ae::proj
