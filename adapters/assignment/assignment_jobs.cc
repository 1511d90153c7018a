#include "adapters/assignment/assignment_jobs.h"

#include "events/base/crypto.h"
#include "events/base/logging.h"

namespace ae::assign {

namespace {
namespace ddep = domain::dep;
namespace dkme = domain::kme;
namespace rules = domain::rules;
using events::Envelope;

constexpr const char* kJobStreamType = "job";

// A failure of the log, not of the device: the job stops.
bool Fatal(const Status& s) {
  return s.reason().rfind("log.", 0) == 0 || s.code() == StatusCode::kUnavailable ||
         s.code() == StatusCode::kCorruption || s.code() == StatusCode::kInternal;
}

std::optional<std::string> Opt(const std::string& v) {
  return v.empty() ? std::nullopt : std::optional<std::string>(v);
}

domain::Decider<ddep::DeviceState> DepDecider(const pb::AssignmentAction& then,
                                              const std::optional<rules::DepProfileRef>& profile,
                                              const std::string& job_id,
                                              const std::string& request_id) {
  ddep::AssignDevice cmd;
  cmd.request_id = request_id;
  if (!then.profile_id().empty() && profile) {
    cmd.profile_id = then.profile_id();
    cmd.profile_uuid = profile->profile_uuid;
  }
  cmd.user_id = Opt(then.user_id());
  cmd.policy_id = Opt(then.policy_id());
  cmd.ruleset_id = Opt(then.ruleset_id());
  std::string account = profile ? profile->account_id : std::string();
  return {ddep::EvolveDevice,
          [cmd, account, job_id](const ddep::DeviceState& s) -> Result<std::vector<Envelope>> {
            if (s.known && cmd.profile_id && s.account_id != account) {
              return Unprocessable("dep.profile_other_account",
                                   "the profile belongs to another DEP account than the device",
                                   "profile_id");
            }
            AE_ASSIGN_OR_RETURN(auto out, ddep::Decide(s, cmd));
            rules::StampOrigin(out, "", job_id);
            return out;
          }};
}

domain::Decider<dkme::DeviceState> KmeDecider(const pb::AssignmentAction& then,
                                              const std::string& device_id,
                                              const std::string& job_id) {
  dkme::AssignDevice cmd;
  cmd.device_id = device_id;
  cmd.user_id = Opt(then.user_id());
  cmd.policy_id = Opt(then.policy_id());
  cmd.ruleset_id = Opt(then.ruleset_id());
  return {dkme::Evolve,
          [cmd, job_id](const dkme::DeviceState& s) -> Result<std::vector<Envelope>> {
            AE_ASSIGN_OR_RETURN(auto out, dkme::Decide(s, cmd));
            rules::StampOrigin(out, "", job_id);
            return out;
          }};
}
}  // namespace

AssignmentJobs::AssignmentJobs(domain::CommandBus& bus, const Clock& clock,
                               AssignmentJobsOptions options)
    : bus_(bus), clock_(clock), options_(options) {}

AssignmentJobs::~AssignmentJobs() { Stop(); }

Result<LogPosition> AssignmentJobs::Record(const std::string& job_id, Envelope e,
                                           const domain::CommandContext& ctx) {
  const bool first = e.has_assignment_job_started();
  domain::Decider<uint64_t> decider{
      [](uint64_t n, const Envelope&) { return n + 1; },
      [&e, first, &job_id](uint64_t n) -> Result<std::vector<Envelope>> {
        if (first && n > 0) return AlreadyExists("job.exists", "job " + job_id + " exists");
        return std::vector<Envelope>{e};
      }};
  AE_ASSIGN_OR_RETURN(auto res, bus_.Execute(StreamId(kJobStreamType, job_id), decider, ctx));
  return res.position;
}

Result<StartedJob> AssignmentJobs::Start(JobRequest request, const domain::CommandContext& ctx) {
  const std::string job_id = crypto::UuidV7(clock_.NowMs());
  {
    std::lock_guard lock(mu_);
    if (!running_.empty()) {
      return FailedPrecondition("job.running", "job " + running_ +
                                                   " is running; one bulk assignment runs at a "
                                                   "time (cancel it with DELETE /v1/jobs/" +
                                                   running_ + ")");
    }
    if (thread_.joinable()) thread_.join();  // the last job, ended
    running_ = job_id;
    cancel_ = false;
  }
  auto release = [&] {
    std::lock_guard lock(mu_);
    running_.clear();
  };
  std::vector<JobTarget> targets;
  bool too_many = false;
  Status selected = request.select ? request.select([&](JobTarget t) {
    if (targets.size() >= options_.max_devices) {
      too_many = true;
      return false;
    }
    targets.push_back(std::move(t));
    return true;
  })
                                   : Status::Ok();
  if (!selected.ok()) {
    release();
    return selected;
  }
  if (too_many) {
    release();
    return InvalidArgument("job.selection_too_large",
                           "the selection has more than " + std::to_string(options_.max_devices) +
                               " devices; narrow the filter",
                           "filter");
  }
  Envelope e;
  auto* p = e.mutable_assignment_job_started();
  p->set_job_id(job_id);
  p->set_total(targets.size());
  *p->mutable_then() = request.then;
  p->set_selection(request.selection);
  auto started = Record(job_id, std::move(e), ctx);
  if (!started.ok()) {
    release();
    return started.status();
  }
  std::lock_guard lock(mu_);
  thread_ = std::thread([this, job_id, request = std::move(request),
                         targets = std::move(targets), ctx]() mutable {
    Run(job_id, std::move(request), std::move(targets), std::move(ctx));
  });
  return StartedJob{job_id, *started};
}

void AssignmentJobs::Run(std::string job_id, JobRequest request, std::vector<JobTarget> targets,
                         domain::CommandContext ctx) {
  auto logger = log::Get("domain");
  uint64_t done = 0, assigned = 0, unchanged = 0, refused = 0;
  bool cancelled = false;
  Status failure;
  const size_t batch = std::max<size_t>(options_.batch_devices, 1);
  for (size_t at = 0; at < targets.size(); at += batch) {
    if (cancel_) {
      cancelled = true;
      break;
    }
    const size_t end = std::min(targets.size(), at + batch);
    std::vector<pb::AssignmentOutcome> outcomes(end - at);
    std::vector<std::pair<StreamId, domain::Decider<ddep::DeviceState>>> dep;
    std::vector<size_t> dep_at;
    std::vector<std::pair<StreamId, domain::Decider<dkme::DeviceState>>> kme;
    std::vector<size_t> kme_at;
    for (size_t i = at; i < end; ++i) {
      const JobTarget& t = targets[i];
      outcomes[i - at].set_device_id(t.device_id);
      if (t.source == "dep") {
        dep.emplace_back(StreamId("dep-device", t.device_id),
                         DepDecider(request.then, request.profile, job_id,
                                    crypto::UuidV7(clock_.NowMs())));
        dep_at.push_back(i - at);
      } else if (t.source == "kme") {
        kme.emplace_back(StreamId(dkme::kDeviceStreamType, t.device_id),
                         KmeDecider(request.then, t.device_id, job_id));
        kme_at.push_back(i - at);
      } else {
        outcomes[i - at].set_outcome("refused");
        outcomes[i - at].set_code("device.not_found");
      }
    }
    auto note = [&](const Result<domain::CommandResult>& r, pb::AssignmentOutcome& o) {
      if (r.ok()) {
        o.set_outcome(r->events.empty() ? "unchanged" : "assigned");
      } else {
        if (Fatal(r.status()) && failure.ok()) failure = r.status();
        o.set_outcome("refused");
        o.set_code(r.status().reason());
      }
    };
    if (!dep.empty()) {
      auto results = bus_.ExecuteBatch(dep, ctx);
      for (size_t k = 0; k < results.size(); ++k) note(results[k], outcomes[dep_at[k]]);
    }
    if (!kme.empty()) {
      auto results = bus_.ExecuteBatch(kme, ctx);
      for (size_t k = 0; k < results.size(); ++k) note(results[k], outcomes[kme_at[k]]);
    }
    if (!failure.ok()) break;
    for (const auto& o : outcomes) {
      if (o.outcome() == "assigned") ++assigned;
      else if (o.outcome() == "unchanged") ++unchanged;
      else ++refused;
    }
    done = end;
    Envelope e;
    auto* p = e.mutable_assignment_job_progressed();
    p->set_job_id(job_id);
    p->set_done(done);
    for (auto& o : outcomes) *p->add_outcomes() = std::move(o);
    failure = Record(job_id, std::move(e), ctx).status();
    if (!failure.ok()) break;
  }
  if (!failure.ok()) {
    logger->error("bulk assignment {} stopped after {} of {} devices: {}", job_id, done,
                  targets.size(), failure.ToString());
  }
  Envelope e;
  auto* p = e.mutable_assignment_job_completed();
  p->set_job_id(job_id);
  p->set_done(done);
  p->set_assigned(assigned);
  p->set_unchanged(unchanged);
  p->set_refused(refused);
  p->set_cancelled(cancelled);
  if (auto s = Record(job_id, std::move(e), ctx); !s.ok()) {
    logger->error("bulk assignment {}: its completion could not be recorded: {}", job_id,
                  s.status().ToString());
  }
  logger->info("bulk assignment {}: {} of {} devices ({} assigned, {} unchanged, {} refused){}",
               job_id, done, targets.size(), assigned, unchanged, refused,
               cancelled ? ", cancelled" : "");
  std::lock_guard lock(mu_);
  running_.clear();
}

Status AssignmentJobs::Recover(const std::vector<std::string>& job_ids,
                               const domain::CommandContext& ctx) {
  struct Fold {
    bool started = false, completed = false;
    uint64_t done = 0, assigned = 0, unchanged = 0, refused = 0;
  };
  for (const auto& job_id : job_ids) {
    {
      std::lock_guard lock(mu_);
      if (running_ == job_id) continue;
    }
    domain::Decider<Fold> decider{
        [](Fold f, const Envelope& e) {
          if (e.has_assignment_job_started()) f.started = true;
          if (e.has_assignment_job_completed()) f.completed = true;
          if (e.has_assignment_job_progressed()) {
            const auto& p = e.assignment_job_progressed();
            f.done = p.done();
            for (const auto& o : p.outcomes()) {
              if (o.outcome() == "assigned") ++f.assigned;
              else if (o.outcome() == "unchanged") ++f.unchanged;
              else ++f.refused;
            }
          }
          return f;
        },
        [&job_id](const Fold& f) -> Result<std::vector<Envelope>> {
          if (!f.started || f.completed) return std::vector<Envelope>{};
          Envelope e;
          auto* p = e.mutable_assignment_job_completed();
          p->set_job_id(job_id);
          p->set_done(f.done);
          p->set_assigned(f.assigned);
          p->set_unchanged(f.unchanged);
          p->set_refused(f.refused);
          return std::vector<Envelope>{std::move(e)};
        }};
    AE_ASSIGN_OR_RETURN(auto res, bus_.Execute(StreamId(kJobStreamType, job_id), decider, ctx));
    if (!res.events.empty()) {
      log::Get("domain")->warn("bulk assignment {} had stopped with its process after {} "
                               "devices; recorded as ended",
                               job_id, res.events[0].assignment_job_completed().done());
    }
  }
  return Status::Ok();
}

Status AssignmentJobs::Cancel(const std::string& job_id) {
  {
    std::lock_guard lock(mu_);
    if (running_.empty() || running_ != job_id) {
      return FailedPrecondition("job.not_running", "job " + job_id + " is not running");
    }
    cancel_ = true;
  }
  return Status::Ok();
}

void AssignmentJobs::Wait() {
  std::thread t;
  {
    std::lock_guard lock(mu_);
    t = std::move(thread_);
  }
  if (t.joinable()) t.join();
}

void AssignmentJobs::Stop() {
  cancel_ = true;
  Wait();
}

}  // namespace ae::assign
