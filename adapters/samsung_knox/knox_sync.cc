#include "adapters/samsung_knox/knox_sync.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <unordered_map>

#include "adapters/samsung_knox/knox_client.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"

namespace ae::knox {

namespace {
namespace dkme = ae::domain::kme;
namespace v1 = autoenroll::events::v1;
using google::protobuf::util::TimeUtil;

constexpr const char* kModule = "kme";
constexpr const char* kActor = "adapters.kme.sync";
constexpr const char* kSecretPrefix = "kme/knox/client_secret/";
constexpr int64_t kStoppedSkewMs = 10LL * 365 * 24 * 3600 * 1000;  // past every deadline

std::string DateText(const std::optional<int64_t>& ms) {
  return ms ? FormatRfc3339(*ms) : std::string();
}

// A Knox Cloud API device as the shared decision path takes it.
KmeSourceDevice FromKnoxApi(const Device& d) {
  KmeSourceDevice s;
  s.observed.ids = {d.imei, d.imei2, d.meid, d.serial};
  if (!d.model.empty()) s.observed.model = d.model;
  s.observed.profile_name = d.profile_name;
  s.observed.knox_status = KmeStatusText(d.state, d.state_raw);
  s.observed.tags = d.tags;
  // Kept as attributes (the CSV's names where the portal export has the same column). Not
  // kept: userName (personal data: matched to a user, and sealed) and tenantName.
  auto& a = s.observed.attributes;
  a["knox_device_id"] = d.id;
  a["knox_profile_id"] = d.profile_id;
  a["order_number"] = d.order_id;
  a["upload_id"] = d.upload_id;
  a["reseller_id"] = d.reseller_id;
  a["reseller_name"] = d.reseller_name;
  a["submitted"] = DateText(d.reseller_upload_time_ms);
  a["modified_at"] = DateText(d.update_time_ms);
  s.knox_user_id = d.user_name;
  s.knox_device_id = d.id;
  return s;
}

// How this sync names a device, for the catch-up pass: Samsung's id, else its identifiers.
std::string SeenKey(const Device& d) {
  if (!d.id.empty()) return "id:" + d.id;
  return "ids:" + d.imei + "/" + d.imei2 + "/" + d.meid + "/" + d.serial;
}

}  // namespace

// ---- stop-aware collaborators of the client ---------------------------------------------

// The sync's clock, until Stop(): then far in the future, so every retry loop sees its
// deadline passed and gives up at once.
class KnoxSync::StopClock : public Clock {
 public:
  explicit StopClock(const Clock& base) : base_(base) {}
  int64_t NowMs() const override {
    return base_.NowMs() + (stopped_.load() ? kStoppedSkewMs : 0);
  }
  void Stop() { stopped_ = true; }
  void Reset() { stopped_ = false; }

 private:
  const Clock& base_;
  std::atomic<bool> stopped_{false};
};

// Sleeps until the time is up or Stop().
class KnoxSync::StopSleeper : public http::Sleeper {
 public:
  void SleepMs(int64_t ms) override {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(ms, 0)),
                 [&] { return stopped_; });
  }
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }
  void Reset() {
    std::lock_guard lock(mu_);
    stopped_ = false;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;  // guarded by mu_
};

// One sync's working state (the sync's thread only).
struct KnoxSync::Run {
  dkme::KnoxConnection connection;
  KnoxSyncReport report;
  KmeDeviceIngest* ingest = nullptr;
  std::unordered_map<std::string, int64_t> seen;  // SeenKey -> updateTime (-1 when none)
  bool seen_full = false;                         // max_seen_remembered reached
};

// ---- free functions -------------------------------------------------------------------------

std::string WithoutTrailingSlash(std::string url) {
  while (url.size() > 1 && url.back() == '/') url.pop_back();
  return url;
}

std::string KnoxDefaultBaseUrl(const std::string& knox_api_url) {
  return knox_api_url.empty() ? KnoxClientOptions{}.base_url
                              : WithoutTrailingSlash(knox_api_url);
}

std::string KnoxDefaultTokenUrl(const std::string& knox_api_url, const std::string& base_url) {
  const std::string base = WithoutTrailingSlash(base_url);
  if (!knox_api_url.empty() && base == WithoutTrailingSlash(knox_api_url)) {
    return base + kOAuthTokenPath;
  }
  return KnoxClientOptions{}.token_url;
}

std::string KnoxClientSecretName(const std::string& sha256_hex) {
  return kSecretPrefix + sha256_hex.substr(0, 16);
}

Result<dkme::KnoxState> LoadKnoxState(const events::EventLog& log) {
  AE_ASSIGN_OR_RETURN(auto records, log.ReadStream(StreamId(dkme::kKnoxStream), 1, SIZE_MAX));
  dkme::KnoxState s;
  for (const auto& r : records) s = dkme::EvolveKnox(std::move(s), r.envelope);
  return s;
}

// ---- KnoxSync -------------------------------------------------------------------------------

KnoxSync::KnoxSync(domain::CommandBus& bus, events::SecretStore& secrets, KmeIngest& ingest,
                   const Clock& clock, KnoxSyncOptions options, KnoxSyncHooks hooks)
    : bus_(bus),
      secrets_(secrets),
      ingest_(ingest),
      time_(clock),
      options_(std::move(options)),
      hooks_(std::move(hooks)),
      clock_(std::make_unique<StopClock>(clock)),
      sleeper_(std::make_unique<StopSleeper>()) {}

KnoxSync::~KnoxSync() { Stop(); }

domain::CommandContext KnoxSync::SystemContext() const {
  domain::CommandContext ctx;
  ctx.actor.set_kind(v1::Actor::KIND_SYSTEM);
  ctx.actor.set_id(kActor);
  ctx.correlation_id = crypto::UuidV7(time_.NowMs());
  return ctx;
}

Status KnoxSync::Start() {
  if (!options_.run_background || thread_.joinable()) return Status::Ok();
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  stopping_ = false;
  clock_->Reset();
  sleeper_->Reset();
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void KnoxSync::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  stopping_ = true;
  clock_->Stop();
  sleeper_->Stop();
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void KnoxSync::RequestSync(bool full) {
  {
    std::lock_guard lock(mu_);
    wanted_ = true;
    wanted_full_ = wanted_full_ || full;
  }
  cv_.notify_all();
}

void KnoxSync::ConnectionChanged() {
  std::lock_guard lock(clients_mu_);
  client_.reset();
  client_connection_id_.clear();
}

void KnoxSync::Loop() {
  using Steady = std::chrono::steady_clock;
  const bool periodic = options_.interval.count() > 0;
  auto next = Steady::now();
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (periodic) {
      cv_.wait_until(lock, next, [&] { return stop_ || wanted_; });
    } else {
      cv_.wait(lock, [&] { return stop_ || wanted_; });
    }
    if (stop_) break;
    const bool due = periodic && Steady::now() >= next;
    if (!wanted_ && !due) continue;
    const bool full = wanted_full_;
    wanted_ = false;
    wanted_full_ = false;
    lock.unlock();
    auto r = SyncNow(full);
    if (!r.ok() && r.status().reason() != "kme.knox_not_connected") {
      log::Get(kModule)->warn("knox sync: {}", r.status().ToString());
    }
    lock.lock();
    if (due) next = Steady::now() + options_.interval;
  }
}

Result<std::shared_ptr<KnoxClientImpl>> KnoxSync::ClientFor(
    const dkme::KnoxConnection& c) {
  {
    std::lock_guard lock(clients_mu_);
    if (client_ && client_connection_id_ == c.connection_id) return client_;
  }
  AE_ASSIGN_OR_RETURN(auto secret, secrets_.Get(c.client_secret_ref));
  if (!secret) {
    return FailedPrecondition("kme.knox_secret_missing",
                              "the Knox client secret is missing from the secret store; "
                              "connect again (PUT /v1/kme/knox)");
  }
  KnoxClientOptions o;
  o.base_url = c.base_url;
  o.token_url = c.token_url;
  o.customer_id = c.customer_id;
  o.retry = options_.retry;
  o.connect_timeout_ms = options_.connect_timeout_ms;
  o.read_timeout_ms = options_.read_timeout_ms;
  o.default_page_size = std::clamp(options_.page_size, 1, 10'000);
  AE_ASSIGN_OR_RETURN(auto client,
                      KnoxClientImpl::Create(o, {c.client_id, *secret}, *clock_, *sleeper_,
                                                   http::Random::Real()));
  std::shared_ptr<KnoxClientImpl> shared(std::move(client));
  std::lock_guard lock(clients_mu_);
  client_ = shared;
  client_connection_id_ = c.connection_id;
  return shared;
}

Result<KnoxSyncReport> KnoxSync::SyncNow(bool full) {
  std::lock_guard one(sync_mu_);
  AE_ASSIGN_OR_RETURN(dkme::KnoxState state, LoadKnoxState(bus_.log()));
  if (!state.connected) {
    return FailedPrecondition("kme.knox_not_connected",
                              "no Knox Cloud API connection: PUT /v1/kme/knox first");
  }
  const auto logger = log::Get(kModule);
  const int64_t started = time_.NowMs();
  const dkme::KnoxSyncPlan plan = dkme::PlanKnoxSync(state, full, started, options_.policy);
  Run run;
  run.connection = state.connection;
  KnoxSyncReport& rep = run.report;
  rep.sync_id = crypto::UuidV7(started);
  rep.connection_id = state.connection.connection_id;
  rep.full = plan.full;
  rep.started_ms = started;
  rep.changed_after_ms = plan.full ? 0 : plan.changed_after_ms;
  logger->info("knox sync {} started ({}{})", rep.sync_id, plan.full ? "full" : "changed after ",
               plan.full ? "" : FormatRfc3339(plan.changed_after_ms));

  const domain::CommandContext ctx = SystemContext();
  KmeImportOptions io;
  io.progress_every = options_.progress_every;
  io.max_reported_errors = options_.max_reported_errors;
  io.cancel = &stopping_;
  KmeDeviceIngest ingest(ingest_, io, ctx, v1::KME_SOURCE_KNOX_API, rep.sync_id, "knox sync");
  run.ingest = &ingest;
  Status s = Sync(run);
  Status flushed = ingest.Flush();
  if (s.ok()) s = flushed;
  if (!s.ok() && stopping_.load()) {
    s = Cancelled(dkme::kKnoxSyncCancelled, "the sync stopped because the engine is stopping");
  }
  const KmeImportReport& counts = ingest.report();
  rep.events_written = counts.events_appended;
  rep.created = counts.created;
  rep.updated = counts.updated;
  rep.unchanged = counts.unchanged;
  rep.rejected = counts.rejected;
  rep.users_matched = counts.users_matched;
  rep.error = s;

  v1::KmeSyncCompleted p;
  p.set_sync_id(rep.sync_id);
  p.set_connection_id(rep.connection_id);
  p.set_devices_seen(rep.devices_seen);
  p.set_events_written(rep.events_written);
  *p.mutable_started_at() = TimeUtil::MillisecondsToTimestamp(started);
  p.set_full(rep.full);
  if (!rep.full) *p.mutable_changed_after() = TimeUtil::MillisecondsToTimestamp(plan.changed_after_ms);
  p.set_created(rep.created);
  p.set_updated(rep.updated);
  p.set_unchanged(rep.unchanged);
  p.set_rejected(rep.rejected);
  p.set_users_matched(rep.users_matched);
  p.set_uploads_approved(rep.uploads_approved);
  if (!s.ok()) {
    p.set_error(s.reason().empty() ? "kme.knox_sync_failed" : s.reason());
    p.set_error_message(s.message());
  }
  p.set_connection_state(dkme::KnoxConnectionStateFor(p.error()));
  for (const auto& e : counts.errors) {
    auto* x = p.add_errors();
    x->set_line(e.line);
    x->set_code(e.code);
    x->set_message(e.message);
    x->set_knox_device_id(e.knox_device_id);
  }
  auto recorded = bus_.Execute(StreamId(dkme::kKnoxStream),
                                     dkme::KnoxDecider(dkme::RecordKnoxSync{p}), ctx);
  if (!recorded.ok()) {
    logger->warn("knox sync {}: cannot record its summary: {}", rep.sync_id,
                 recorded.status().ToString());
    return recorded.status();
  }
  rep.position = recorded->position;
  const double seconds = (time_.NowMs() - started) / 1000.0;
  if (s.ok()) {
    logger->info("knox sync {} ({}): {} devices, {} created, {} updated, {} unchanged, {} "
                 "rejected, {} users matched, {} uploads approved, {} events, {:.2f} s",
                 rep.sync_id, rep.full ? "full" : "incremental", rep.devices_seen, rep.created,
                 rep.updated, rep.unchanged, rep.rejected, rep.users_matched,
                 rep.uploads_approved, rep.events_written, seconds);
  } else {
    logger->warn("knox sync {} stopped after {} devices ({} events, {:.2f} s): {}; connection "
                 "state {}",
                 rep.sync_id, rep.devices_seen, rep.events_written, seconds, s.ToString(),
                 p.connection_state().empty() ? "unchanged" : p.connection_state());
  }
  return rep;
}

Status KnoxSync::Sync(Run& run) {
  AE_ASSIGN_OR_RETURN(auto client, ClientFor(run.connection));
  if (run.connection.auto_approve_uploads) AE_RETURN_IF_ERROR(ApproveUploads(*client, run));
  const KnoxSyncReport& rep = run.report;
  AE_RETURN_IF_ERROR(ListPass(*client, run,
                              rep.full ? std::nullopt : std::optional<int64_t>(rep.changed_after_ms),
                              rep.full ? "full" : "changes"));
  // The catch-up pass decides against views that have applied the first pass.
  AE_RETURN_IF_ERROR(run.ingest->Flush());
  if (auto head = bus_.log().Head(); head.ok()) {
    hooks_.wait_for_views(*head, options_.view_wait);
  }
  return ListPass(*client, run,
                  std::max<int64_t>(0, rep.started_ms - options_.policy.overlap_ms), "catch-up");
}

Status KnoxSync::ApproveUploads(KnoxClientImpl& client, Run& run) {
  const auto logger = log::Get(kModule);
  std::vector<std::string> pending;
  Status listed;
  int64_t seen = 0;
  for (int page = 0; page < options_.max_upload_pages; ++page) {
    if (stopping_.load()) return Cancelled(dkme::kKnoxSyncCancelled, "stopping");
    auto up = client.ListUploads(page, 100);
    if (!up.ok()) {
      listed = up.status();
      break;
    }
    for (const auto& u : up->uploads) {
      if (u.pending && !u.upload_id.empty()) pending.push_back(u.upload_id);
    }
    seen += static_cast<int64_t>(up->uploads.size());
    if (up->uploads.empty() || seen >= up->total_count) break;
  }
  Status approved;
  if (listed.ok() && !pending.empty()) {
    auto results = client.ApproveUploads(pending);
    if (results.ok()) {
      for (const auto& [id, r] : *results) {
        if (r.outcome == DeviceOutcome::kSuccess) {
          ++run.report.uploads_approved;
        } else {
          logger->warn("knox sync {}: upload {} not approved: {} {}", run.report.sync_id, id,
                       DeviceOutcomeName(r.outcome), r.message);
        }
      }
      logger->info("knox sync {}: approved {} of {} pending uploads", run.report.sync_id,
                   run.report.uploads_approved, pending.size());
    } else {
      approved = results.status();
    }
  }
  Status failed = listed.ok() ? approved : listed;
  if (failed.ok()) return failed;
  // Credentials refused or Samsung unreachable: the device list would fail the same way.
  if (failed.reason() == kUnauthorized || failed.code() == StatusCode::kUnavailable) {
    return failed;
  }
  // E.g. the cloud app may read devices but not approve uploads (kme.devices:view only).
  logger->warn("knox sync {}: cannot approve pending uploads ({}); listing the devices anyway",
               run.report.sync_id, failed.ToString());
  return Status::Ok();
}

Status KnoxSync::ListPass(KnoxClientImpl& client, Run& run,
                          std::optional<int64_t> changed_after, const char* pass) {
  const auto logger = log::Get(kModule);
  KnoxSyncReport& rep = run.report;
  ListDevicesRequest req;
  req.page_size = std::clamp(options_.page_size, 1, 10'000);
  req.changed_after_ms = changed_after;
  uint64_t pages = 0, listed = 0;
  Status s = client.ForEachDevicePage(req, [&](const DevicePage& page) -> Status {
    ++pages;
    for (const Device& d : page.devices) {
      if (stopping_.load()) return Cancelled(dkme::kKnoxSyncCancelled, "stopping");
      ++listed;
      const int64_t updated = d.update_time_ms.value_or(-1);
      const std::string key = SeenKey(d);
      auto it = run.seen.find(key);
      if (it != run.seen.end() && it->second == updated) continue;  // seen as it is now
      if (it != run.seen.end()) {
        it->second = updated;
      } else if (run.seen.size() < options_.max_seen_remembered) {
        run.seen.emplace(key, updated);
      } else if (!run.seen_full) {
        run.seen_full = true;
        logger->info("knox sync {}: remembering no more than {} devices for the catch-up pass",
                     rep.sync_id, options_.max_seen_remembered);
      }
      ++rep.devices_seen;
      if (d.imei.empty() && d.imei2.empty() && d.meid.empty() && d.serial.empty()) {
        const bool had = !d.mei.empty();
        run.ingest->Reject(0, d.id, had ? "kme.bad_identifier" : "kme.no_identifier",
                           "Knox device " + d.id +
                               (had ? ": \"" + d.mei.substr(0, 64) + "\" is not an IMEI or MEID, and there is no "
                                                       "serial number"
                                    : ": no IMEI, MEID or serial number"),
                           had ? "mei" : "");
        continue;
      }
      AE_RETURN_IF_ERROR(run.ingest->Add(FromKnoxApi(d)));
    }
    return Status::Ok();
  });
  logger->info("knox sync {}: {} pass listed {} devices in {} pages", rep.sync_id, pass, listed,
               pages);
  return s;
}

}  // namespace ae::knox
