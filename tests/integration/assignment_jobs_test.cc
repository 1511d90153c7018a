// Bulk assignment jobs against a real RocksDB log: progress per batch, per-device outcomes,
// one job at a time, cancellation between batches.

#include "adapters/assignment/assignment_jobs.h"

#include <condition_variable>
#include <mutex>

#include "domain/kme/kme.h"
#include "tests/support/log_harness.h"

namespace ae::assign {
namespace {

using events::Envelope;
namespace dkme = domain::kme;

// The real log, holding the first append of a job's progress until the test lets it go.
class GatedLog : public events::EventLog {
 public:
  explicit GatedLog(events::EventLog& log) : log_(log) {}

  Result<events::AppendResult> Append(const StreamId& stream, ExpectedVersion expected,
                                      std::vector<Envelope> events) override {
    if (!events.empty() && events[0].has_assignment_job_progressed()) {
      std::unique_lock lock(mu_);
      if (!passed_) {
        reached_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return open_; });
        passed_ = true;
      }
    }
    return log_.Append(stream, expected, std::move(events));
  }
  std::vector<Result<events::AppendResult>> AppendBatch(std::vector<AppendItem> items) override {
    return log_.AppendBatch(std::move(items));
  }
  Result<std::vector<events::RecordedEvent>> Read(const LogCursor& from, size_t max) const override {
    return log_.Read(from, max);
  }
  Result<std::vector<events::RecordedEvent>> ReadStream(const StreamId& stream,
                                                        StreamVersion from_version,
                                                        size_t max) const override {
    return log_.ReadStream(stream, from_version, max);
  }
  Result<StreamVersion> GetStreamVersion(const StreamId& stream) const override {
    return log_.GetStreamVersion(stream);
  }
  Result<LogCursor> Head() const override { return log_.Head(); }
  bool WaitForNew(const LogCursor& c, std::chrono::milliseconds t) const override {
    return log_.WaitForNew(c, t);
  }
  Status Health() const override { return log_.Health(); }
  std::string Kind() const override { return log_.Kind(); }

  bool WaitReached() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return reached_; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  events::EventLog& log_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool reached_ = false, open_ = false, passed_ = false;
};

std::vector<std::string> ImportDevices(domain::CommandBus& bus, int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    dkme::ImportDevice c;
    c.observed.ids.serial = "R58N000" + std::to_string(i);
    c.device_id = dkme::DeviceIdFor(c.observed.ids);
    EXPECT_THAT(bus.Execute(StreamId(dkme::kDeviceStreamType, c.device_id),
                            dkme::DeviceDecider(c), {}),
                IsOk());
    ids.push_back(c.device_id);
  }
  return ids;
}

std::vector<Envelope> Stream(events::EventLog& log, const StreamId& s) {
  auto r = log.ReadStream(s, 1, SIZE_MAX);
  EXPECT_THAT(r, IsOk());
  std::vector<Envelope> out;
  if (r.ok()) {
    for (auto& rec : *r) out.push_back(rec.envelope);
  }
  return out;
}

JobRequest PolicyFor(const std::vector<std::string>& ids) {
  JobRequest req;
  req.then.set_policy_id("standard");
  req.selection = "ids";
  req.select = [ids](const std::function<bool(JobTarget)>& add) {
    for (const auto& id : ids) add({id, "kme"});
    add({"nope", ""});  // a device that does not exist
    return Status::Ok();
  };
  return req;
}

TEST(AssignmentJobs, ACancelledJobStopsBetweenBatchesAndRecordsWhatItDid) {
  testing::RocksDbLogHarness h;
  GatedLog gated(h.log());
  domain::CommandBus bus(gated);
  auto ids = ImportDevices(bus, 5);
  AssignmentJobs jobs(bus, Clock::Real(), {.batch_devices = 2, .max_devices = 100});

  auto started = jobs.Start(PolicyFor(ids), {});
  ASSERT_THAT(started, IsOk());
  ASSERT_TRUE(gated.WaitReached());  // the first batch is decided, its progress not yet recorded
  EXPECT_THAT(jobs.Start(PolicyFor(ids), {}),
              StatusIs(StatusCode::kFailedPrecondition, "job.running"));
  EXPECT_THAT(jobs.Cancel(started->job_id), IsOk());
  gated.Open();
  jobs.Wait();

  auto job = Stream(h.log(), StreamId("job", started->job_id));
  ASSERT_EQ(job.size(), 3u);
  EXPECT_EQ(job[0].assignment_job_started().total(), 6u);
  ASSERT_EQ(job[1].assignment_job_progressed().outcomes_size(), 2);
  EXPECT_EQ(job[1].assignment_job_progressed().outcomes(0).outcome(), "assigned");
  EXPECT_TRUE(job[2].assignment_job_completed().cancelled());
  EXPECT_EQ(job[2].assignment_job_completed().done(), 2u);
  auto first = Stream(h.log(), StreamId(dkme::kDeviceStreamType, ids[0]));
  ASSERT_TRUE(first.back().has_device_policy_assigned());
  EXPECT_EQ(first.back().device_policy_assigned().job_id(), started->job_id);
  EXPECT_EQ(Stream(h.log(), StreamId(dkme::kDeviceStreamType, ids[2])).size(), 1u);  // untouched

  // The next job runs to the end: the two done before are unchanged, the unknown refused.
  auto again = jobs.Start(PolicyFor(ids), {});
  ASSERT_THAT(again, IsOk());
  jobs.Wait();
  job = Stream(h.log(), StreamId("job", again->job_id));
  ASSERT_EQ(job.size(), 5u);  // started, 3 batches, completed
  const auto& done = job.back().assignment_job_completed();
  EXPECT_FALSE(done.cancelled());
  EXPECT_EQ(done.done(), 6u);
  EXPECT_EQ(done.assigned(), 3u);
  EXPECT_EQ(done.unchanged(), 2u);
  EXPECT_EQ(done.refused(), 1u);
  const auto& last = job[3].assignment_job_progressed();
  ASSERT_EQ(last.outcomes_size(), 2);
  EXPECT_EQ(last.outcomes(1).device_id(), "nope");
  EXPECT_EQ(last.outcomes(1).outcome(), "refused");
  EXPECT_EQ(last.outcomes(1).code(), "device.not_found");
  EXPECT_THAT(jobs.Cancel(again->job_id), StatusIs(StatusCode::kFailedPrecondition, "job.not_running"));
}

TEST(AssignmentJobs, ASelectionLargerThanTheBoundIsRefusedBeforeAnythingIsWritten) {
  testing::RocksDbLogHarness h;
  domain::CommandBus bus(h.log());
  AssignmentJobs jobs(bus, Clock::Real(), {.batch_devices = 2, .max_devices = 3});
  auto head = h.log().Head();
  EXPECT_THAT(jobs.Start(PolicyFor({"a", "b", "c"}), {}),
              StatusIs(StatusCode::kInvalidArgument, "job.selection_too_large"));
  EXPECT_EQ(h.log().Head()->ToString(), head->ToString());
}

TEST(AssignmentJobs, AJobWhoseProcessStoppedIsRecordedAsEndedWithWhatItHadDone) {
  testing::RocksDbLogHarness h;
  domain::CommandBus bus(h.log());
  // What a process killed after the first of two batches left in the log.
  const StreamId stream("job", "j-1");
  std::vector<Envelope> left(2);
  left[0].mutable_assignment_job_started()->set_job_id("j-1");
  left[0].mutable_assignment_job_started()->set_total(4);
  auto* p = left[1].mutable_assignment_job_progressed();
  p->set_job_id("j-1");
  p->set_done(2);
  p->add_outcomes()->set_outcome("assigned");
  p->add_outcomes()->set_outcome("refused");
  ASSERT_THAT(h.log().Append(stream, ExpectedVersion::NoStream(), left), IsOk());

  AssignmentJobs jobs(bus, Clock::Real());
  ASSERT_THAT(jobs.Recover({"j-1"}, {}), IsOk());
  auto job = Stream(h.log(), stream);
  ASSERT_EQ(job.size(), 3u);
  const auto& done = job[2].assignment_job_completed();
  EXPECT_EQ(done.done(), 2u);  // of 4: the jobs view shows it failed
  EXPECT_EQ(done.assigned(), 1u);
  EXPECT_EQ(done.refused(), 1u);
  EXPECT_FALSE(done.cancelled());
  ASSERT_THAT(jobs.Recover({"j-1"}, {}), IsOk());  // ended already: nothing more
  EXPECT_EQ(Stream(h.log(), stream).size(), 3u);
}

}  // namespace
}  // namespace ae::assign
