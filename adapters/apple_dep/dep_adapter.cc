#include "adapters/apple_dep/dep_adapter.h"

#include <google/protobuf/util/time_util.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <future>
#include <sstream>
#include <unordered_map>

#include "events/base/crypto.h"
#include "events/base/logging.h"

namespace ae::dep {

namespace {
namespace pb = autoenroll::events::v1;
namespace ddep = domain::dep;
using google::protobuf::util::TimeUtil;

const char* kModule = "dep";

pb::DepProfileStatus ToPb(ProfileStatus s) {
  switch (s) {
    case ProfileStatus::kEmpty: return pb::DEP_PROFILE_STATUS_EMPTY;
    case ProfileStatus::kAssigned: return pb::DEP_PROFILE_STATUS_ASSIGNED;
    case ProfileStatus::kPushed: return pb::DEP_PROFILE_STATUS_PUSHED;
    case ProfileStatus::kRemoved: return pb::DEP_PROFILE_STATUS_REMOVED;
    default: return pb::DEP_PROFILE_STATUS_EMPTY;
  }
}

ddep::AppleDevice ToDomain(const Device& d) {
  ddep::AppleDevice a;
  a.serial_number = d.serial_number;
  a.model = d.model;
  a.description = d.description;
  a.color = d.color;
  a.asset_tag = d.asset_tag;
  a.os = d.os;
  a.device_family = d.device_family;
  a.device_assigned_date_ms = d.device_assigned_date_ms;
  a.op_type = std::string(OpTypeName(d.op_type));
  a.op_date_ms = d.op_date_ms;
  a.profile_status = ToPb(d.profile_status);
  a.profile_uuid = d.profile_uuid;
  a.profile_assign_time_ms = d.profile_assign_time_ms;
  a.profile_push_time_ms = d.profile_push_time_ms;
  return a;
}

Profile ToApple(const pb::DepProfileDefined& p) {
  Profile out;
  out.profile_name = p.profile_name();
  out.url = p.url();
  out.configuration_web_url = p.configuration_web_url();
  out.is_supervised = p.is_supervised();
  out.is_mdm_removable = p.is_mdm_removable();
  out.is_mandatory = p.is_mandatory();
  out.allow_pairing = p.allow_pairing();
  out.await_device_configured = p.await_device_configured();
  out.is_multi_user = p.is_multi_user();
  out.auto_advance_setup = p.auto_advance_setup();
  out.do_not_use_profile_from_backup = p.do_not_use_profile_from_backup();
  out.org_magic = p.org_magic();
  out.department = p.department();
  out.support_phone_number = p.support_phone_number();
  out.support_email_address = p.support_email_address();
  out.language = p.language();
  out.region = p.region();
  out.anchor_certs.assign(p.anchor_certs().begin(), p.anchor_certs().end());
  out.supervising_host_certs.assign(p.supervising_host_certs().begin(),
                                    p.supervising_host_certs().end());
  out.skip_setup_items.assign(p.skip_setup_items().begin(), p.skip_setup_items().end());
  return out;
}

std::string StreamKey(const events::Envelope& e) {
  auto slash = e.stream().find('/');
  return slash == std::string::npos ? std::string() : e.stream().substr(slash + 1);
}

template <typename State>
Result<State> Load(events::EventLog& log, const StreamId& stream,
                   State (*evolve)(State, const events::Envelope&)) {
  AE_ASSIGN_OR_RETURN(auto records, log.ReadStream(stream, 1, SIZE_MAX));
  State s{};
  for (const auto& r : records) s = evolve(std::move(s), r.envelope);
  return s;
}

Result<ddep::AccountState> LoadAccount(events::EventLog& log, const std::string& id) {
  return Load<ddep::AccountState>(log, StreamId("dep-account", id), ddep::EvolveAccount);
}
Result<ddep::DeviceState> LoadDevice(events::EventLog& log, const std::string& serial) {
  return Load<ddep::DeviceState>(log, StreamId("dep-device", serial), ddep::EvolveDevice);
}
}  // namespace

std::string AccountKeySecret(const std::string& account_id) { return "dep/" + account_id + "/key"; }
std::string AccountTokenSecret(const std::string& account_id) {
  return "dep/" + account_id + "/token";
}

DepAdapter::DepAdapter(events::EventLog& log, domain::CommandBus& bus, events::SecretStore& secrets,
                       const Clock& clock, DepAdapterOptions options, DepAdapterHooks hooks)
    : log_(log),
      bus_(bus),
      secrets_(secrets),
      clock_(clock),
      options_(std::move(options)),
      hooks_(std::move(hooks)) {
  cursor_ = LoadCheckpoint();
  saved_ = cursor_;
}

namespace {
// Moves `cursor` up to `reached`, never back.
void AdvanceTo(LogCursor& cursor, const LogCursor& reached) {
  for (const auto& [partition, next] : reached.next_offsets()) {
    if (next > 0) cursor.Advance(LogPosition{partition, next - 1});
  }
}
}  // namespace

DepAdapter::~DepAdapter() { Stop(); }

domain::CommandContext DepAdapter::SystemContext(const std::string& causation) const {
  domain::CommandContext ctx;
  ctx.actor.set_kind(autoenroll::events::v1::Actor::KIND_SYSTEM);
  ctx.actor.set_id("adapters.dep");
  ctx.correlation_id = crypto::UuidV7(clock_.NowMs());
  ctx.causation_id = causation;
  return ctx;
}

Status DepAdapter::Start() {
  if (!options_.run_background) return Status::Ok();
  {
    std::lock_guard lock(drain_mu_);
    subscription_ = std::make_unique<events::Subscription>(
        log_, cursor_,
        [this](const std::vector<events::RecordedEvent>& records,
               const LogCursor& reached) -> Status {
          std::lock_guard l(drain_mu_);
          AE_ASSIGN_OR_RETURN(bool acted, HandleRecords(records));
          AdvanceTo(cursor_, reached);  // a drain may have gone further already
          return Checkpoint(acted);
        },
        1000, HandledCases());
  }
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void DepAdapter::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  stopping_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (subscription_) subscription_->Stop();
  std::lock_guard lock(drain_mu_);
  if (!(cursor_ == saved_) && SaveCheckpoint(cursor_).ok()) saved_ = cursor_;
}

void DepAdapter::RequestSync(const std::string& account_id) {
  {
    std::lock_guard lock(mu_);
    wanted_.insert(account_id);
  }
  cv_.notify_all();
}

void DepAdapter::TokenChanged(const std::string& account_id) {
  std::lock_guard lock(clients_mu_);
  clients_.erase(account_id);
}

void DepAdapter::Loop() {
  using Steady = std::chrono::steady_clock;
  auto next_sync = Steady::now();
  auto next_retry = Steady::now() + options_.retry_tick;
  std::unique_lock lock(mu_);
  while (!stop_) {
    auto wake = std::min(next_sync, next_retry);
    for (const auto& [id, at] : deferred_) {
      wake = std::min(wake, Steady::now() + std::chrono::milliseconds(
                                                std::max<int64_t>(0, at - clock_.NowMs())));
    }
    cv_.wait_until(lock, wake, [&] { return stop_ || !wanted_.empty(); });
    if (stop_) break;
    std::set<std::string> wanted;
    wanted.swap(wanted_);
    for (auto it = deferred_.begin(); it != deferred_.end();) {
      if (it->second <= clock_.NowMs()) {
        wanted.insert(it->first);
        it = deferred_.erase(it);
      } else {
        ++it;
      }
    }
    const bool periodic = Steady::now() >= next_sync;
    const bool retry = Steady::now() >= next_retry;
    lock.unlock();
    if (periodic) {
      auto accounts = hooks_.list_accounts ? hooks_.list_accounts() : std::vector<std::string>{};
      wanted.insert(accounts.begin(), accounts.end());
    }
    std::map<std::string, int64_t> throttled;
    for (const auto& id : wanted) {
      if (stopping_) break;
      auto r = SyncNow(id);
      if (!r.ok() && r.status().reason() == kThrottled) {
        throttled[id] = ThrottledUntil(id);  // run it again when Apple allows
      } else if (!r.ok() && r.status().reason() != "dep.account_inactive") {
        log::Get(kModule)->warn("sync of account {} failed: {}", id, r.status().ToString());
      }
    }
    if (retry && !stopping_) {
      Status s = RetryDue();
      if (!s.ok()) log::Get(kModule)->warn("assignment retries failed: {}", s.ToString());
    }
    lock.lock();
    for (const auto& [id, at] : throttled) deferred_[id] = at;
    if (periodic) next_sync = Steady::now() + options_.sync_interval;
    if (retry) next_retry = Steady::now() + options_.retry_tick;
  }
}

int64_t DepAdapter::ThrottledUntil(const std::string& account_id) {
  std::lock_guard lock(mu_);
  auto it = throttled_until_.find(account_id);
  return it == throttled_until_.end() ? 0 : it->second;
}

void DepAdapter::NoteThrottle(const std::string& account_id, const DepClientImpl& client) {
  const int64_t until = client.ThrottledUntilMs();
  std::lock_guard lock(mu_);
  int64_t& at = throttled_until_[account_id];
  at = std::max(at, until);
}

Result<std::shared_ptr<DepClientImpl>> DepAdapter::ClientFor(const std::string& account_id) {
  {
    std::lock_guard lock(clients_mu_);
    auto it = clients_.find(account_id);
    if (it != clients_.end()) return it->second;
  }
  AE_ASSIGN_OR_RETURN(auto account, LoadAccount(log_, account_id));
  if (!account.exists) return NotFound("dep.account_not_found", "no DEP account " + account_id);
  if (account.token_secret_ref.empty()) {
    return FailedPrecondition("dep.no_token", "no server token was uploaded for this account");
  }
  AE_ASSIGN_OR_RETURN(auto json, secrets_.Get(account.token_secret_ref));
  if (!json) return FailedPrecondition("dep.no_token", "the account's token is missing");
  auto token = ParseTokenJson(*json, clock_);
  if (!token.ok()) {
    if (token.status().reason() == kTokenExpired) {
      return Unprocessable(kTokenExpired, "the account's server token has expired");
    }
    return token.status();
  }
  DepClientOptions co;
  co.base_url = options_.apple_dep_url;
  co.retry = options_.retry;
  co.read_timeout_ms = options_.read_timeout_ms;
  if (co.retry.max_retry_after_ms == 0) {
    co.retry.max_retry_after_ms = options_.max_inline_retry_after_ms;
  }
  co.dep_name = account_id;
  AE_ASSIGN_OR_RETURN(auto client, DepClientImpl::Create(co, std::move(*token), clock_,
                                                         http::Sleeper::Real(),
                                                         http::Random::Real()));
  std::shared_ptr<DepClientImpl> shared(std::move(client));
  std::lock_guard lock(clients_mu_);
  clients_[account_id] = shared;
  return shared;
}

Status DepAdapter::MarkAccount(const std::string& account_id, const Status& error) {
  pb::DepAccountState state;
  const std::string& r = error.reason();
  if (r == kTermsNotSigned) {
    state = pb::DEP_ACCOUNT_STATE_TERMS_NOT_SIGNED;
  } else if (r == kTokenRejected) {
    state = pb::DEP_ACCOUNT_STATE_TOKEN_REJECTED;
  } else if (r == kTokenExpired) {
    state = pb::DEP_ACCOUNT_STATE_TOKEN_EXPIRED;
  } else {
    return Status::Ok();
  }
  TokenChanged(account_id);
  auto res = bus_.Execute(StreamId("dep-account", account_id),
                          ddep::AccountDecider(ddep::SetAccountState{state, error.message()}),
                          SystemContext());
  return res.status();
}

Result<SyncReport> DepAdapter::SyncNow(const std::string& account_id) {
  std::lock_guard run(sync_mu_);
  AE_ASSIGN_OR_RETURN(auto account, LoadAccount(log_, account_id));
  if (!account.exists) return NotFound("dep.account_not_found", "no DEP account " + account_id);
  if (account.state != pb::DEP_ACCOUNT_STATE_ACTIVE) {
    return FailedPrecondition("dep.account_inactive",
                              "the account is " + ddep::AccountStateName(account.state));
  }
  const StreamId stream("dep-account", account_id);
  auto record = [&](events::Envelope e) -> Status {
    auto r = bus_.Execute(stream, ddep::AccountDecider(ddep::RecordSync{std::move(e)}),
                          SystemContext());
    return r.status();
  };
  SyncReport rep;
  rep.sync_id = crypto::UuidV7(clock_.NowMs());
  std::shared_ptr<DepClientImpl> client;
  // The next page, asked for while this one is decided and appended: (when it was asked, the
  // answer). One call to Apple at a time still: the loop takes it before calling again.
  std::future<std::pair<int64_t, Result<DevicePage>>> next;
  auto fail = [&](const Status& s) -> Status {
    if (next.valid()) next.wait();  // the client is the loop's again
    if (s.reason() == kThrottled && client) NoteThrottle(account_id, *client);
    // The failure first, then the account state it causes: whoever sees the state (e.g.
    // token_rejected) also sees last_sync_error.
    events::Envelope e;
    auto* p = e.mutable_dep_sync_failed();
    p->set_account_id(account_id);
    p->set_sync_id(rep.sync_id);
    p->set_code(s.reason().empty() ? "dep.sync_failed" : s.reason());
    p->set_message(s.message());
    record(std::move(e)).IgnoreError();
    MarkAccount(account_id, s).IgnoreError();
    return s;
  };

  auto client_or = ClientFor(account_id);
  if (!client_or.ok()) return fail(client_or.status());
  client = *client_or;
  if (const int64_t until = ThrottledUntil(account_id); until > clock_.NowMs()) {
    // Apple's Retry-After has not passed: no call, and the failure already recorded stands.
    return Unavailable(kThrottled, "Apple asked not to be called before " +
                                       FormatAppleTime(until) + "; the sync runs then");
  }

  auto detail = client->GetAccount();
  if (!detail.ok()) return fail(detail.status());
  {
    pb::DepAccountDetailsSynced d;
    d.set_account_id(account_id);
    d.set_server_name(detail->server_name);
    d.set_server_uuid(detail->server_uuid);
    d.set_org_name(detail->org_name);
    d.set_org_email(detail->org_email);
    d.set_org_phone(detail->org_phone);
    d.set_org_address(detail->org_address);
    d.set_org_id(detail->org_id);
    d.set_facilitator_id(detail->facilitator_id);
    d.set_admin_id(detail->admin_id);
    d.set_org_type(detail->org_type);
    d.set_org_version(detail->org_version);
    auto r = bus_.Execute(stream, ddep::AccountDecider(ddep::RecordAccountDetails{d}),
                          SystemContext());
    if (!r.ok()) return fail(r.status());
  }

  std::string cursor = account.cursor;
  bool fetch_done = account.fetch_complete;
  if (!cursor.empty() && clock_.NowMs() - account.cursor_time_ms > options_.cursor_max_age_ms) {
    cursor.clear();
    fetch_done = false;
  }
  rep.mode = cursor.empty() ? "fetch" : (fetch_done ? "sync" : "fetch_resume");
  auto start = [&](const std::string& mode) {
    events::Envelope e;
    e.mutable_dep_sync_started()->set_account_id(account_id);
    e.mutable_dep_sync_started()->set_sync_id(rep.sync_id);
    e.mutable_dep_sync_started()->set_mode(mode);
    return record(std::move(e));
  };
  if (Status s = start(rep.mode); !s.ok()) return fail(s);

  bool fetching = !fetch_done;
  int restarts = 0;
  bool stopped_early = false;
  const auto log = log::Get(kModule);
  while (rep.pages < options_.max_pages_per_run) {
    if (stopping_) return fail(Cancelled("dep.sync_cancelled", "the engine is stopping"));
    const int limit = std::min(options_.page_limit,
                               detail->MaxLimit(fetching ? "/server/devices" : "/devices/sync"));
    auto ask = [this, client, limit, fetching](std::string at) {
      const int64_t asked_ms = clock_.NowMs();  // Apple's answer shows it at or after this
      return std::pair<int64_t, Result<DevicePage>>(
          asked_ms, fetching ? client->FetchDevices(at, limit) : client->SyncDevices(at, limit));
    };
    auto answer = next.valid() ? next.get() : ask(cursor);
    const int64_t asked_ms = answer.first;
    Result<DevicePage>& page = answer.second;
    if (!page.ok()) {
      const std::string& r = page.status().reason();
      if (fetching && r == kExhaustedCursor) {
        fetching = false;
        fetch_done = true;
        continue;
      }
      if ((r == kExpiredCursor || r == kInvalidCursor || r == kCursorRequired) && restarts < 2) {
        log->warn("account {}: {}; fetching every device again", account_id, r);
        ++restarts;
        cursor.clear();
        fetching = true;
        fetch_done = false;
        if (Status s = start("fetch"); !s.ok()) return fail(s);
        continue;
      }
      return fail(page.status());
    }
    // The page after this one is fetched while this one is decided and appended (the fetch
    // and the engine's work overlap); a page that is not used (a failure below) is dropped.
    if (page->more_to_follow && page->cursor != cursor && !stopping_ &&
        rep.pages + 1 < options_.max_pages_per_run) {
      next = std::async(std::launch::async, ask, page->cursor);
    }
    // One decision per serial: the latest op_date wins within a page.
    std::unordered_map<std::string, size_t> latest;
    std::vector<const Device*> order;
    for (const auto& d : page->devices) {
      if (d.serial_number.empty()) continue;
      auto [it, inserted] = latest.try_emplace(d.serial_number, order.size());
      if (inserted) {
        order.push_back(&d);
      } else {
        const Device* old = order[it->second];
        if (d.op_date_ms.value_or(0) >= old->op_date_ms.value_or(0)) order[it->second] = &d;
      }
    }
    // The rules as they are now: a new serial of this page is given by them.
    auto book = domain::rules::LoadRuleBook(hooks_.rules);
    if (!book.ok()) return fail(book.status());
    std::vector<std::pair<StreamId, domain::Decider<ddep::DeviceState>>> commands;
    commands.reserve(order.size());
    for (const Device* d : order) {
      ddep::ApplySync sync{account_id, rep.sync_id, ToDomain(*d), asked_ms};
      commands.emplace_back(
          StreamId("dep-device", d->serial_number),
          (*book)->empty() ? ddep::DeviceDecider(std::move(sync))
                           : domain::rules::DepSyncDecider(std::move(sync), *book,
                                                           crypto::UuidV7(clock_.NowMs())));
    }
    auto results = bus_.ExecuteBatch(commands, SystemContext());
    for (auto& r : results) {
      if (!r.ok()) return fail(r.status());  // the cursor stays: the page is replayed next time
      rep.events_written += r->events.size();
    }
    rep.pages++;
    rep.devices_seen += page->devices.size();
    {
      events::Envelope e;
      auto* p = e.mutable_dep_sync_progressed();
      p->set_account_id(account_id);
      p->set_sync_id(rep.sync_id);
      p->set_pages(rep.pages);
      p->set_devices_seen(rep.devices_seen);
      p->set_events_written(rep.events_written);
      p->set_cursor_ref(page->cursor);
      if (Status s = record(std::move(e)); !s.ok()) return fail(s);
    }
    if (rep.pages % 10 == 0) {
      log->info("account {}: sync {} page {} ({} devices, {} events)", account_id, rep.mode,
                rep.pages, rep.devices_seen, rep.events_written);
    }
    const std::string asked = cursor;
    cursor = page->cursor;
    if (page->more_to_follow) {
      if (page->cursor == asked) {
        log->warn("account {}: Apple repeated the cursor with more_to_follow; stopping this run",
                  account_id);
        stopped_early = true;
        break;
      }
      continue;
    }
    if (fetching) {
      fetching = false;
      fetch_done = true;
      continue;  // the fetch is complete: catch up with the change feed at once
    }
    break;
  }
  if (rep.pages >= options_.max_pages_per_run) stopped_early = true;
  if (!fetch_done || stopped_early) {
    return fail(Unavailable("dep.sync_incomplete",
                            "the sync stopped before Apple said it was complete; it resumes "
                            "from the committed cursor"));
  }
  events::Envelope e;
  auto* p = e.mutable_dep_sync_completed();
  p->set_account_id(account_id);
  p->set_sync_id(rep.sync_id);
  p->set_devices_seen(rep.devices_seen);
  p->set_events_written(rep.events_written);
  p->set_cursor(cursor);
  if (Status s = record(std::move(e)); !s.ok()) return fail(s);
  return rep;
}

// ---- assignment adapter -------------------------------------------------------

LogCursor DepAdapter::LoadCheckpoint() const {
  if (options_.checkpoint_path.empty()) return LogCursor();
  std::ifstream in(options_.checkpoint_path);
  std::string text;
  if (!in || !std::getline(in, text)) return LogCursor();
  auto c = LogCursor::Parse(text);
  return c ? *c : LogCursor();
}

Status DepAdapter::SaveCheckpoint(const LogCursor& cursor) {
  if (options_.checkpoint_path.empty()) return Status::Ok();
  const std::string tmp = options_.checkpoint_path + ".tmp";
  const std::string text = cursor.ToString() + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return Internal("dep.checkpoint", "cannot write " + tmp);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), options_.checkpoint_path.c_str()) != 0) {
    return Internal("dep.checkpoint", "cannot write " + options_.checkpoint_path);
  }
  return Status::Ok();
}

Status DepAdapter::DrainAssignments() {
  std::lock_guard lock(drain_mu_);
  for (size_t rounds = 0; rounds < 1'000'000; ++rounds) {
    AE_ASSIGN_OR_RETURN(auto read, log_.ReadMatching(cursor_, 1000, HandledCases()));
    if (read.reached == cursor_) return Status::Ok();  // nothing more
    AE_ASSIGN_OR_RETURN(bool acted, HandleRecords(read.records));
    AdvanceTo(cursor_, read.reached);
    AE_RETURN_IF_ERROR(Checkpoint(acted));
  }
  return Status::Ok();
}

Status DepAdapter::Checkpoint(bool acted) {
  const int64_t now = clock_.NowMs();
  if (cursor_ == saved_ || (!acted && now - saved_at_ms_ < 5000)) return Status::Ok();
  AE_RETURN_IF_ERROR(SaveCheckpoint(cursor_));
  saved_ = cursor_;
  saved_at_ms_ = now;
  return Status::Ok();
}

// What HandleRecords acts on: the subscription decodes nothing else (a sync's or an
// import's device events pass by).
std::vector<int> DepAdapter::HandledCases() {
  return {events::Envelope::kDepProfileDefined, events::Envelope::kDepProfileAssignmentRequested,
          events::Envelope::kDepProfileRemovalRequested,
          events::Envelope::kDepDeviceDisownRequested};
}

Result<bool> DepAdapter::HandleRecords(const std::vector<events::RecordedEvent>& records) {
  std::vector<events::RecordedEvent> defined, assign, remove, disown;
  for (const auto& r : records) {
    switch (r.envelope.payload_case()) {
      case events::Envelope::kDepProfileDefined: defined.push_back(r); break;
      case events::Envelope::kDepProfileAssignmentRequested: assign.push_back(r); break;
      case events::Envelope::kDepProfileRemovalRequested: remove.push_back(r); break;
      case events::Envelope::kDepDeviceDisownRequested: disown.push_back(r); break;
      default: break;
    }
  }
  if (!defined.empty()) AE_RETURN_IF_ERROR(DefineProfiles(defined));
  if (!assign.empty()) AE_RETURN_IF_ERROR(Assign(assign));
  if (!remove.empty()) AE_RETURN_IF_ERROR(RemoveOrDisown(remove, false));
  if (!disown.empty()) AE_RETURN_IF_ERROR(RemoveOrDisown(disown, true));
  return !defined.empty() || !assign.empty() || !remove.empty() || !disown.empty();
}

Status DepAdapter::DefineProfiles(const std::vector<events::RecordedEvent>& defined) {
  for (const auto& r : defined) {
    const auto& p = r.envelope.dep_profile_defined();
    const StreamId stream("dep-profile", p.profile_id());
    AE_ASSIGN_OR_RETURN(auto state,
                        Load<ddep::ProfileState>(log_, stream, ddep::EvolveProfile));
    if (!state.profile_uuid.empty() || !state.failure_code.empty()) continue;  // already answered
    auto execute = [&](auto cmd) -> Status {
      return bus_.Execute(stream, ddep::ProfileDecider(cmd), SystemContext(r.envelope.event_id()))
          .status();
    };
    auto client = ClientFor(p.account_id());
    Status s;
    if (!client.ok()) {
      s = execute(ddep::ProfileDefinitionFailed{client.status().reason(), client.status().message()});
    } else {
      auto defined_at = (*client)->DefineProfile(ToApple(p));
      if (defined_at.ok()) {
        s = execute(ddep::ProfileDefinedAtApple{defined_at->profile_uuid});
      } else {
        MarkAccount(p.account_id(), defined_at.status()).IgnoreError();
        s = execute(ddep::ProfileDefinitionFailed{defined_at.status().reason(),
                                                  defined_at.status().message()});
      }
    }
    AE_RETURN_IF_ERROR(s);
  }
  return Status::Ok();
}

Status DepAdapter::Assign(const std::vector<events::RecordedEvent>& requests) {
  struct Pending {
    std::string serial, request_id;
  };
  // (account, profile_uuid) -> serials still waiting for this very request.
  std::map<std::pair<std::string, std::string>, std::vector<Pending>> groups;
  for (const auto& r : requests) {
    const auto& p = r.envelope.dep_profile_assignment_requested();
    const std::string serial = StreamKey(r.envelope);
    AE_ASSIGN_OR_RETURN(auto device, LoadDevice(log_, serial));
    if (device.pending_request_id != p.request_id()) continue;  // answered or superseded
    groups[{device.account_id, p.profile_uuid()}].push_back({serial, p.request_id()});
  }
  const int64_t now = clock_.NowMs();
  for (auto& [key, pending] : groups) {
    const auto& [account_id, uuid] = key;
    std::vector<std::string> serials;
    for (const auto& p : pending) serials.push_back(p.serial);
    std::map<std::string, ddep::AssignmentOutcome> outcomes;
    auto client = ClientFor(account_id);
    const int64_t throttled_until = ThrottledUntil(account_id);
    Result<AssignProfileResult> result =
        !client.ok() ? Result<AssignProfileResult>(client.status())
        : throttled_until > now
            ? Result<AssignProfileResult>(Unavailable(
                  kThrottled, "Apple asked not to be called before " +
                                  FormatAppleTime(throttled_until)))
            : (*client)->AssignProfile(uuid, serials);
    if (!result.ok() && result.status().reason() == kThrottled && client.ok()) {
      NoteThrottle(account_id, **client);
    }
    for (const auto& p : pending) {
      ddep::AssignmentOutcome o;
      o.request_id = p.request_id;
      if (!result.ok()) {
        o.reason = result.status().reason().empty() ? "dep.unavailable" : result.status().reason();
        o.retry_after_ms = result.status().reason() == kThrottled
                               ? (std::max(now, ThrottledUntil(account_id)) + 999) / 1000 *
                                     1000  // Apple's time, to the next second
                               : now + options_.unavailable_retry_ms;
      } else {
        auto it = result->devices.find(p.serial);
        if (it == result->devices.end()) {
          o.reason = "MISSING";
          o.retry_after_ms = now + options_.unavailable_retry_ms;
        } else if (it->second.status == SerialStatus::kSuccess) {
          o.success = true;
        } else {
          o.reason = it->second.code.empty() ? std::string(SerialStatusName(it->second.status))
                                             : it->second.code;
          if (it->second.status == SerialStatus::kThrottled && result->retry_after_seconds) {
            o.retry_after_ms = now + *result->retry_after_seconds * 1000;
          } else if (it->second.status == SerialStatus::kThrottled) {
            o.retry_after_ms = now + options_.unavailable_retry_ms;
          } else {
            o.retry_after_ms = now + options_.retry_cooldown_ms;
          }
        }
      }
      outcomes[p.serial] = o;
    }
    if (!result.ok()) {
      MarkAccount(account_id, result.status()).IgnoreError();
      log::Get(kModule)->warn("assigning {} devices at Apple failed: {}", serials.size(),
                              result.status().ToString());
    }
    std::vector<std::pair<StreamId, domain::Decider<ddep::DeviceState>>> commands;
    for (const auto& [serial, o] : outcomes) {
      commands.emplace_back(StreamId("dep-device", serial), ddep::DeviceDecider(o));
    }
    for (auto& r : bus_.ExecuteBatch(commands, SystemContext())) {
      if (!r.ok()) return r.status();
    }
  }
  return Status::Ok();
}

Status DepAdapter::RemoveOrDisown(const std::vector<events::RecordedEvent>& requests, bool disown) {
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> groups;  // account
  for (const auto& r : requests) {
    const std::string serial = StreamKey(r.envelope);
    const std::string request_id = disown
                                       ? r.envelope.dep_device_disown_requested().request_id()
                                       : r.envelope.dep_profile_removal_requested().request_id();
    AE_ASSIGN_OR_RETURN(auto device, LoadDevice(log_, serial));
    const std::string& pending = disown ? device.disown_request_id : device.removal_request_id;
    if (pending != request_id) continue;
    groups[device.account_id].emplace_back(serial, request_id);
  }
  for (auto& [account_id, pending] : groups) {
    std::vector<std::string> serials;
    for (const auto& p : pending) serials.push_back(p.first);
    auto client = ClientFor(account_id);
    Result<SerialResults> result = !client.ok() ? Result<SerialResults>(client.status())
                                   : disown     ? (*client)->DisownDevices(serials)
                                                : (*client)->RemoveProfile(serials);
    if (!result.ok()) {
      MarkAccount(account_id, result.status()).IgnoreError();
      // Keep the request pending; the subscription retries this batch after a pause.
      return result.status();
    }
    std::vector<std::pair<StreamId, domain::Decider<ddep::DeviceState>>> commands;
    for (const auto& [serial, request_id] : pending) {
      auto it = result->find(serial);
      std::string code = it == result->end() ? "MISSING"
                         : it->second.code.empty()
                             ? std::string(SerialStatusName(it->second.status))
                             : it->second.code;
      if (disown) {
        commands.emplace_back(StreamId("dep-device", serial),
                              ddep::DeviceDecider(ddep::DisownOutcome{request_id, code}));
      } else {
        commands.emplace_back(StreamId("dep-device", serial),
                              ddep::DeviceDecider(ddep::ProfileRemovalOutcome{request_id, code}));
      }
    }
    for (auto& r : bus_.ExecuteBatch(commands, SystemContext())) {
      if (!r.ok()) return r.status();
    }
  }
  return Status::Ok();
}

Status DepAdapter::RetryDue() {
  if (!hooks_.due_retries) return Status::Ok();
  for (const auto& due : hooks_.due_retries(clock_.NowMs())) {
    if (stopping_) break;
    ddep::AssignDevice cmd;
    cmd.profile_id = due.profile_id;
    cmd.profile_uuid = due.profile_uuid;
    cmd.request_id = crypto::UuidV7(clock_.NowMs());
    auto r = bus_.Execute(StreamId("dep-device", due.serial_number), ddep::DeviceDecider(cmd),
                          SystemContext());
    if (!r.ok() && r.status().code() != StatusCode::kFailedPrecondition &&
        r.status().code() != StatusCode::kNotFound) {
      return r.status();
    }
  }
  return Status::Ok();
}

}  // namespace ae::dep
