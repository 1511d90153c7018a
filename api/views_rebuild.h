#pragma once
// Views beside the live ones: the live views directory, and the zero-downtime rebuild.
//
// The live views live in <data>/<name>, where <data>/views.current names the
// directory ("views" when the file is absent). A rebuild writes a new directory,
// and the switch is one atomic rename of views.current: a crash before it keeps the
// old views, a crash after it opens the new ones.
//
// ViewRebuilder (one per App) rebuilds while the server answers:
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
// Thread-safety: every public member is safe from any thread.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "events/base/status.h"

namespace ae::api {

class App;

// The directory of the live views of `data_dir` (from views.current).
std::string LiveViewsDir(const std::string& data_dir);
// Makes <data_dir>/<name> the live views directory (atomic, durable).
Status SetLiveViewsDir(const std::string& data_dir, const std::string& name);
// A fresh directory name for new views: "views-<UTC time>-<random>".
std::string NewViewsDirName();
// Removes views directories of `data_dir` that are not the live one (left by a crash
// during a rebuild). Returns how many were removed.
size_t RemoveStaleViewsDirs(const std::string& data_dir);

struct ViewRebuildOptions {
  // Refuse to swap when the verification finds a difference with the live views.
  bool require_identical = false;
  // Records between two progress lines in the log.
  uint64_t log_every = 100'000;
};

class ViewRebuilder {
 public:
  explicit ViewRebuilder(App& app);
  ~ViewRebuilder();  // cancels a running rebuild and waits for it

  // Starts a rebuild in the background. kConflict "views.rebuild_running" when one runs;
  // kFailedPrecondition "views.read_only" in a read-only process.
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

  App& app_;
  std::atomic<bool> cancel_{false};
  mutable std::mutex mu_;
  nlohmann::json progress_;  // guarded by mu_
  bool running_ = false;     // guarded by mu_
  std::thread thread_;       // guarded by mu_ (joined by Start/Wait/destructor)
};

}  // namespace ae::api
