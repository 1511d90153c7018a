#include "projections/rebuild.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>

#include "events/base/crypto.h"
#include "events/base/durable_file.h"
#include "events/base/logging.h"
#include "projections/all_projectors.h"
#include "projections/users_projector.h"

namespace ae::proj {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr char kPointer[] = "views.current";

bool ValidViewsName(const std::string& name) {
  return !name.empty() && name.size() < 128 && name.rfind("views", 0) == 0 &&
         name.find('/') == std::string::npos && name != "views.current" &&
         name.find("..") == std::string::npos;
}

bool IsViewsDirName(const std::string& name) {
  return name == "views" || name.rfind("views-", 0) == 0 || name == "views.rebuild";
}

uint64_t Records(const LogCursor& c) {
  uint64_t n = 0;
  for (const auto& [p, next] : c.next_offsets()) n += static_cast<uint64_t>(std::max<int64_t>(next, 0));
  return n;
}

// Compares family `cf` of the live views (at `snap`) with the new store, key by key.
Status CompareFamily(rocksdb::DB* live, rocksdb::ColumnFamilyHandle* live_cf,
                     const rocksdb::Snapshot* snap, ViewStore& fresh, const std::string& cf,
                     const std::atomic<bool>& cancel, uint64_t* keys, uint64_t* differences) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> a(live->NewIterator(ro, live_cf));
  rocksdb::ReadOptions fro;
  fro.fill_cache = false;
  return fresh.WithDb([&](rocksdb::DB* db, const ViewStore::Handles& h) -> Status {
    std::unique_ptr<rocksdb::Iterator> b(db->NewIterator(fro, h.at(cf)));
    a->SeekToFirst();
    b->SeekToFirst();
    uint64_t steps = 0;
    while (a->Valid() || b->Valid()) {
      if ((++steps & 0xFFFF) == 0 && cancel.load()) {
        return Cancelled("views.rebuild_cancelled", "the rebuild was cancelled");
      }
      int c = !a->Valid() ? 1 : !b->Valid() ? -1 : a->key().compare(b->key());
      if (c == 0) {
        ++*keys;
        if (a->value() != b->value()) ++*differences;
        a->Next();
        b->Next();
      } else if (c < 0) {  // only in the live views
        ++*differences;
        a->Next();
      } else {  // only in the new views
        ++*keys;
        ++*differences;
        b->Next();
      }
    }
    if (!a->status().ok()) return Unavailable("view.unavailable", a->status().ToString());
    if (!b->status().ok()) return Unavailable("view.unavailable", b->status().ToString());
    return Status::Ok();
  });
}

}  // namespace

std::string LiveViewsDir(const std::string& data_dir) {
  fs::path data(data_dir);
  std::ifstream in(data / kPointer);
  std::string name;
  if (in && std::getline(in, name)) {
    while (!name.empty() && (name.back() == '\r' || name.back() == ' ')) name.pop_back();
    std::error_code ec;
    if (ValidViewsName(name) && fs::is_directory(data / name, ec)) return (data / name).string();
  }
  return (data / "views").string();
}

Status SetLiveViewsDir(const std::string& data_dir, const std::string& name) {
  if (!ValidViewsName(name)) return InvalidArgument("views.bad_dir", "bad views directory " + name);
  return WriteFileDurably((fs::path(data_dir) / kPointer).string(), name + "\n", "views.io");
}

std::string NewViewsDirName(const Clock& clock) {
  std::string t = FormatRfc3339(clock.NowMs());  // 2026-11-25T04:10:00.123Z
  std::string stamp;
  for (char c : t) {
    if (std::isdigit(static_cast<unsigned char>(c))) stamp.push_back(c);
  }
  return "views-" + stamp + "-" + crypto::Hex(crypto::RandomBytes(3));
}

size_t RemoveStaleViewsDirs(const std::string& data_dir) {
  std::error_code ec;
  fs::path live = fs::path(LiveViewsDir(data_dir)).filename();
  size_t removed = 0;
  for (const auto& entry : fs::directory_iterator(data_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!entry.is_directory(ec) || !IsViewsDirName(name) || name == live.string()) continue;
    std::error_code rm;
    fs::remove_all(entry.path(), rm);
    if (!rm) {
      ++removed;
      log::Get("views")->info("removed views directory {} (not the live one)", name);
    }
  }
  return removed;
}

ViewRebuilder::ViewRebuilder(events::EventLog& log, ViewStore& live, ProjectionRunner& live_runner,
                             const Clock& clock, ViewRebuilderOptions options)
    : log_(log),
      live_(live),
      live_runner_(live_runner),
      clock_(clock),
      options_(std::move(options)) {
  progress_ = {{"state", "idle"}};
}

ViewRebuilder::~ViewRebuilder() {
  cancel_ = true;
  Wait();
}

Status ViewRebuilder::Start(const ViewRebuildOptions& options) {
  if (options_.read_only) {
    return FailedPrecondition("views.read_only", "this process does not write views");
  }
  if (options_.custom_views_dir) {
    return FailedPrecondition("views.custom_dir",
                              "the views directory was given explicitly; rebuild with replay");
  }
  std::lock_guard lock(mu_);
  if (running_) {
    return Conflict("views.rebuild_running",
                    "a rebuild is running (" + progress_.value("rebuild_id", "") + ")");
  }
  if (thread_.joinable()) thread_.join();
  running_ = true;
  cancel_ = false;
  std::string id = crypto::UuidV7(clock_.NowMs());
  progress_ = {{"state", "building"},
               {"rebuild_id", id},
               {"applied", 0},
               {"started_at", FormatRfc3339(clock_.NowMs())}};
  thread_ = std::thread([this, options, id] { Run(options, id); });
  return Status::Ok();
}

bool ViewRebuilder::Cancel() {
  std::lock_guard lock(mu_);
  if (!running_) return false;
  cancel_ = true;
  return true;
}

void ViewRebuilder::Wait() {
  std::thread t;
  {
    std::lock_guard lock(mu_);
    t = std::move(thread_);
  }
  if (t.joinable()) t.join();
}

json ViewRebuilder::Progress() const {
  std::lock_guard lock(mu_);
  return progress_;
}

void ViewRebuilder::SetState(const std::string& state) {
  std::lock_guard lock(mu_);
  progress_["state"] = state;
}

void ViewRebuilder::Fail(const Status& s) {
  std::lock_guard lock(mu_);
  if (s.code() == StatusCode::kCancelled) {
    progress_["state"] = "cancelled";
    progress_["error"] = {{"code", "views.rebuild_cancelled"},
                          {"message", "the rebuild was cancelled; the live views are unchanged"}};
    return;
  }
  progress_["state"] = "failed";
  progress_["error"] = {{"code", s.reason()}, {"message", s.message()}};
}

void ViewRebuilder::Run(ViewRebuildOptions options, std::string id) {
  auto logger = log::Get("views");
  logger->info("rebuild {}: building new views beside the live ones", id);
  Status s = Build(options);
  {
    std::lock_guard lock(mu_);
    progress_["finished_at"] = FormatRfc3339(clock_.NowMs());
  }
  if (s.ok()) {
    SetState("done");
    logger->info("rebuild {}: done, the new views are live", id);
  } else {
    Fail(s);
    logger->warn("rebuild {}: {} (the live views are unchanged)", id, s.ToString());
  }
  std::lock_guard lock(mu_);
  running_ = false;
}

Status ViewRebuilder::Build(const ViewRebuildOptions& options) {
  auto logger = log::Get("views");
  const std::string& data_dir = options_.data_dir;
  const std::string name = NewViewsDirName(clock_);
  const fs::path path = fs::path(data_dir) / name;
  auto projectors = AllProjectors();
  ViewStoreOptions vo;
  vo.path = path.string();
  vo.column_families = AllColumnFamilies(projectors);
  vo.point_read_families = AllPointReadFamilies(projectors);
  AE_ASSIGN_OR_RETURN(auto store, ViewStore::Open(vo));
  // Whatever happens before the swap, the new directory goes away with its store.
  struct Cleanup {
    std::unique_ptr<ViewStore>* store;
    fs::path path;
    ~Cleanup() {
      store->reset();
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  std::vector<Projector*> ps;
  for (auto& p : projectors) ps.push_back(p.get());
  ProjectionRunnerOptions ro;
  ro.format = kViewsFormat;
  auto runner = std::make_unique<ProjectionRunner>(log_, *store, ps, ro);
  // Destroyed first (it refers to the store), then the store and its directory (after
  // the swap: the old views).
  Cleanup cleanup{&store, path};
  struct RunnerReset {
    std::unique_ptr<ProjectionRunner>* r;
    ~RunnerReset() { r->reset(); }
  } runner_reset{&runner};
  AE_RETURN_IF_ERROR(runner->Init());

  const auto started = std::chrono::steady_clock::now();
  uint64_t next_log = options.log_every;
  auto progress = [&](uint64_t) {
    uint64_t applied = Records(runner->checkpoint());
    auto head = log_.Head();
    uint64_t total = head.ok() ? Records(*head) : applied;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    double rate = secs > 0 ? static_cast<double>(applied) / secs : 0;
    double eta = rate > 0 && total > applied ? static_cast<double>(total - applied) / rate : 0;
    {
      std::lock_guard lock(mu_);
      progress_["applied"] = applied;
      progress_["total"] = total;
      progress_["percent"] = total ? std::min(100.0, 100.0 * static_cast<double>(applied) /
                                                         static_cast<double>(total))
                                   : 100.0;
      progress_["rate_per_second"] = std::round(rate);
      progress_["eta_seconds"] = std::round(eta * 10) / 10;
      progress_["position"] = runner->checkpoint().ToString();
    }
    if (applied >= next_log) {
      next_log = applied + options.log_every;
      logger->info("rebuild: {} of {} records applied ({:.0f}/s, about {:.0f} s left)", applied,
                   total, rate, eta);
    }
  };

  // building: from position 0 to the head.
  AE_RETURN_IF_ERROR(runner->CatchUp(progress, &cancel_));
  progress(0);

  // verifying: the live views at a snapshot, the new ones brought to the same cursor.
  SetState("verifying");
  json families = json::object();
  uint64_t differences = 0;
  LogCursor compared_at;
  for (int attempt = 0;; ++attempt) {
    bool behind = false;
    families = json::object();
    differences = 0;
    Status v = live_.WithDb([&](rocksdb::DB* live,
                                       const ViewStore::Handles& handles) -> Status {
      const rocksdb::Snapshot* snap = live->GetSnapshot();
      struct Release {
        rocksdb::DB* db;
        const rocksdb::Snapshot* s;
        ~Release() { db->ReleaseSnapshot(s); }
      } release{live, snap};
      rocksdb::ReadOptions ro;
      ro.snapshot = snap;
      std::string text;
      auto got = live->Get(ro, handles.at("checkpoints"), "views", &text);
      if (!got.ok() && !got.IsNotFound()) return Unavailable("view.unavailable", got.ToString());
      auto at = got.IsNotFound() ? std::optional<LogCursor>(LogCursor()) : LogCursor::Parse(text);
      if (!at) return Corruption("view.bad_checkpoint", "live checkpoint does not parse");
      Status caught = runner->CatchUpTo(*at, progress, &cancel_);
      if (caught.reason() == "view.beyond_target") {
        behind = true;  // the live views lag behind the new ones: wait for them
        return Status::Ok();
      }
      AE_RETURN_IF_ERROR(caught);
      compared_at = *at;
      for (const auto& cf : store->column_families()) {
        if (cf == rocksdb::kDefaultColumnFamilyName) continue;
        auto h = handles.find(cf);
        uint64_t keys = 0, diff = 0;
        if (h == handles.end()) return Corruption("view.missing_family", "live views lack " + cf);
        AE_RETURN_IF_ERROR(CompareFamily(live, h->second, snap, *store, cf, cancel_, &keys, &diff));
        families[cf] = {{"keys", keys}, {"differences", diff}};
        differences += diff;
      }
      return Status::Ok();
    });
    AE_RETURN_IF_ERROR(v);
    if (!behind) break;
    if (attempt >= 20) {
      return Unavailable("views.live_behind", "the live views do not catch up with the log");
    }
    live_runner_.WaitUntilCovers(runner->checkpoint(), std::chrono::seconds(5));
    if (cancel_.load()) return Cancelled("views.rebuild_cancelled", "the rebuild was cancelled");
  }
  {
    std::lock_guard lock(mu_);
    progress_["verification"] = {{"compared_at", compared_at.ToString()},
                                 {"families", families},
                                 {"differences", differences}};
  }
  if (differences > 0) {
    logger->warn("rebuild: the live views differ from the rebuilt ones in {} records", differences);
    if (options.require_identical) {
      return FailedPrecondition("views.rebuild_differs",
                                std::to_string(differences) +
                                    " records of the live views differ from the rebuilt ones");
    }
  }
  if (cancel_.load()) return Cancelled("views.rebuild_cancelled", "the rebuild was cancelled");

  // swapping: the live runner stops, the new views take the last records, then the
  // stores exchange their instances and the runner resumes on the new views.
  SetState("swapping");
  live_runner_.Stop();
  Status caught = runner->CatchUp(progress);
  Status switched = caught.ok() ? SetLiveViewsDir(data_dir, name) : caught;
  if (switched.ok()) live_.SwapWith(*store);
  Status resumed = live_runner_.Init();
  live_runner_.Start();
  UsersViewGeneration().fetch_add(1);  // cached principals come from the new views
  AE_RETURN_IF_ERROR(switched);
  AE_RETURN_IF_ERROR(resumed);
  // `store` now holds the old views: the cleanup closes and deletes them.
  cleanup.path = store->path();
  std::lock_guard lock(mu_);
  progress_["views_dir"] = path.filename().string();
  progress_["position"] = live_runner_.checkpoint().ToString();
  return Status::Ok();
}

}  // namespace ae::proj
