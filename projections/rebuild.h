#pragma once
// Views beside the live ones: the live views directory, and the zero-downtime rebuild.
//
// The live views live in <data>/<name>, where <data>/views.current names the
// directory ("views" when the file is absent). A rebuild writes a new directory,
// and the switch is one atomic rename of views.current: a crash before it keeps the
// old views, a crash after it opens the new ones.
//
// ViewRebuilder (one per process that writes views) rebuilds while the server answers:
//   building   fresh projectors apply the log from position 0 into a new store,
//              with progress (records applied, rate, ETA); cancellable;
//   verifying  the live views (a RocksDB snapshot, so they keep moving) and the
//              new ones are compared at the same log cursor, family by family:
//              projectors are deterministic, so any difference is a live view
//              that drifted (or a projector that changed) and is reported;
//   swapping   the live runner stops, the new store catches up with the head, the
//              two stores exchange their RocksDB instances under the store's
//              exclusive lock (queries wait a moment, never fail, never see a
//              half-built view), views.current is switched and the runner resumes
//              on the new views. The old directory is deleted.
// A failure or a cancel before the swap leaves the live views untouched.
//
// It works on ports handed in by the wiring: the log it replays, the live view store
// and its runner, and the clock that stamps the rebuild (its id, its times, the new
// directory's name). It knows nothing of HTTP: the API renders Progress() as it is.
//
// Thread-safety: every public member of ViewRebuilder is safe from any thread.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "events/base/clock.h"
#include "events/base/status.h"
#include "events/event_log.h"
#include "projections/projection_runner.h"
#include "projections/view_store.h"

namespace ae::proj {

// The directory of the live views of `data_dir` (from views.current).
std::string LiveViewsDir(const std::string& data_dir);
// Makes <data_dir>/<name> the live views directory (atomic, durable).
// kInvalidArgument "views.bad_dir" for a name that is not a views directory's.
Status SetLiveViewsDir(const std::string& data_dir, const std::string& name);
// A fresh directory name for new views: "views-<UTC time of `clock`>-<random>".
std::string NewViewsDirName(const Clock& clock);
// Removes views directories of `data_dir` that are not the live one (left by a crash
// during a rebuild). Returns how many were removed.
size_t RemoveStaleViewsDirs(const std::string& data_dir);

struct ViewRebuildOptions {
  // Refuse to swap when the verification finds a difference with the live views.
  bool require_identical = false;
  // Records between two progress lines in the log.
  uint64_t log_every = 100'000;
};

// Where and whether a rebuild may run; fixed for the rebuilder's life.
struct ViewRebuilderOptions {
  std::string data_dir;  // the new views are written beside the live ones, in here
  // This process does not write views (a tool or a read-only replica): Start refuses.
  bool read_only = false;
  // The live views were opened from a directory given explicitly (not views.current):
  // Start refuses, since the swap could not name them.
  bool custom_views_dir = false;
};

class ViewRebuilder {
 public:
  // `log` is replayed (the raw log: no metrics of its own), `live` and `live_runner`
  // are the views the process answers from and the runner that feeds them. All of them
  // and `clock` must outlive the rebuilder.
  ViewRebuilder(events::EventLog& log, ViewStore& live, ProjectionRunner& live_runner,
                const Clock& clock, ViewRebuilderOptions options);
  ~ViewRebuilder();  // cancels a running rebuild and waits for it

  // Starts a rebuild in the background. kConflict "views.rebuild_running" when one runs;
  // kFailedPrecondition "views.read_only" in a read-only process, "views.custom_dir"
  // when the views directory was given explicitly.
  Status Start(const ViewRebuildOptions& options);
  // Asks a running rebuild to stop (before its swap); false when none runs.
  bool Cancel();
  // Waits until no rebuild runs (tests, shutdown).
  void Wait();
  // {state: idle|building|verifying|swapping|done|failed|cancelled, rebuild_id,
  //  applied, total, percent, rate_per_second, eta_seconds, started_at, finished_at,
  //  position, verification:{compared_at, families:{cf:{keys, differences}},
  //  differences}, views_dir, error:{code, message}}
  nlohmann::json Progress() const;

 private:
  void Run(ViewRebuildOptions options, std::string id);
  Status Build(const ViewRebuildOptions& options);
  void SetState(const std::string& state);
  void Fail(const Status& s);

  events::EventLog& log_;
  ViewStore& live_;
  ProjectionRunner& live_runner_;
  const Clock& clock_;
  const ViewRebuilderOptions options_;
  std::atomic<bool> cancel_{false};
  mutable std::mutex mu_;
  nlohmann::json progress_;  // guarded by mu_
  bool running_ = false;     // guarded by mu_
  std::thread thread_;       // guarded by mu_ (joined by Start/Wait/destructor)
};

}  // namespace ae::proj
