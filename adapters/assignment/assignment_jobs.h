#pragma once
// AssignmentJobs: bulk assignment of a profile, user, policy and rule set to a selection of
// DEP and KME devices (POST /v1/enrollments/assign), in the background. A service over
// ports (the command bus and the clock), like the DEP adapter; it knows no HTTP and no App.
//
// A job is recorded on stream job/<job_id>: AssignmentJobStarted (the selection's size and
// the action), one AssignmentJobProgressed per batch of devices (with each device's
// outcome: assigned | unchanged | refused and the refusal's reason code), and
// AssignmentJobCompleted (the counts; cancelled when it was). Each batch goes through
// CommandBus::ExecuteBatch (one group commit per batch); each device's assignment events
// carry the job's id. A device's refusal (not found, no longer assigned to the server at
// Apple, a profile of another account) is its outcome and does not stop the job; a failing
// append stops it (completed with done < total: failed).
//
// Bounds: one job at a time (per process: kFailedPrecondition "job.running" names the
// running one), at most Options::max_devices devices selected (kInvalidArgument
// "job.selection_too_large"). Cancel() stops it between batches.
//
// Thread-safety: public methods are thread-safe. The job runs on a thread of its own,
// joined by Cancel/Stop/the destructor.

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "domain/command_bus.h"
#include "domain/rules/rules.h"

namespace ae::assign {

namespace pb = autoenroll::events::v1;

struct JobTarget {
  std::string device_id;  // the serial number (DEP) or the KME device id
  std::string source;     // dep | kme | "" (unknown: refused as device.not_found)
};

struct JobRequest {
  pb::AssignmentAction then;
  std::string selection;                         // the filter as given (JSON), or "ids"
  std::optional<domain::rules::DepProfileRef> profile;  // of then.profile_id
  // Calls `add` with each selected device (in order) until it answers false.
  std::function<Status(const std::function<bool(JobTarget)>& add)> select;
};

struct StartedJob {
  std::string job_id;
  LogPosition position;  // of AssignmentJobStarted
};

struct AssignmentJobsOptions {
  size_t batch_devices = 1000;       // devices per ExecuteBatch and per progress event
  size_t max_devices = 1'000'000;    // the largest selection a job takes
};

class AssignmentJobs {
 public:
  AssignmentJobs(domain::CommandBus& bus, const Clock& clock, AssignmentJobsOptions options = {});
  ~AssignmentJobs();

  // Selects the devices (on the caller's thread), records AssignmentJobStarted and runs
  // the job in the background.
  Result<StartedJob> Start(JobRequest request, const domain::CommandContext& ctx);
  // Stops the running job `job_id` after its current batch (it completes as cancelled).
  // kNotFound "job.not_running" when it is not the job running here.
  Status Cancel(const std::string& job_id);
  // Waits for the running job to end (tests, shutdown after Cancel).
  void Wait();
  // Cancels any running job and waits for it.
  void Stop();
  // Completes each of `job_ids` that no process completed (a job whose process ended
  // without recording it: its stream ends without AssignmentJobCompleted), with what its
  // progress records counted: `failed` unless every selected device was done. Jobs
  // running here, and jobs already completed, are left as they are. Call at start, with the
  // jobs the views show running.
  Status Recover(const std::vector<std::string>& job_ids, const domain::CommandContext& ctx);

 private:
  void Run(std::string job_id, JobRequest request, std::vector<JobTarget> targets,
           domain::CommandContext ctx);
  Result<LogPosition> Record(const std::string& job_id, events::Envelope e,
                             const domain::CommandContext& ctx);

  domain::CommandBus& bus_;
  const Clock& clock_;
  const AssignmentJobsOptions options_;

  std::mutex mu_;                 // guards running_, thread_
  std::string running_;           // the running job's id ("" none)
  std::thread thread_;
  std::atomic<bool> cancel_{false};
};

}  // namespace ae::assign
