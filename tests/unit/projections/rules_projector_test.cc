// RulesProjector: the exact bytes of every rules, jobs and job_outcomes record after each
// kind of event (a rebuilt view must equal a live one byte for byte, and older views must
// keep reading).

#include <google/protobuf/util/time_util.h>

#include "projections/rules_projector.h"
#include "tests/support/test_support.h"

namespace ae::proj {
namespace {

using google::protobuf::util::TimeUtil;
using ::ae::testing::TempDir;

constexpr int64_t kT0 = 1'700'000'000'000;

class RulesProjectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ViewStoreOptions o;
    o.path = dir_.Sub("views");
    o.column_families = projector_.column_families();
    auto v = ViewStore::Open(o);
    ASSERT_THAT(v, IsOk());
    views_ = std::move(v).value();
    batch_ = std::make_unique<ViewBatch>(*views_, ViewBatch::Isolated{});
  }

  // Applies `e` on `stream` as the next event of the log, one second after the last.
  void Apply(const std::string& stream, events::Envelope e) {
    ++n_;
    e.set_stream(stream);
    *e.mutable_occurred_at() = TimeUtil::MillisecondsToTimestamp(kT0 + n_ * 1000);
    RecordedEvent r;
    r.position = LogPosition{0, static_cast<int64_t>(n_)};
    r.envelope = std::move(e);
    ASSERT_THAT(projector_.Apply(r, *batch_), IsOk());
  }
  // The value of `key` in `cf`; "<none>" when there is none.
  std::string Row(const std::string& cf, const std::string& key) {
    auto raw = batch_->Get(cf, key);
    EXPECT_THAT(raw, IsOk());
    if (!raw.ok() || !*raw) return "<none>";
    return **raw;
  }

  static events::Envelope Started(const std::string& job_id, uint64_t total) {
    events::Envelope e;
    auto* p = e.mutable_assignment_job_started();
    p->set_job_id(job_id);
    p->set_total(total);
    p->mutable_then()->set_profile_id("prof_1");
    p->mutable_then()->set_user_id("usr_1");
    p->set_selection(R"({"source":"dep"})");
    return e;
  }
  static void Outcome(events::Envelope& e, const std::string& device, const std::string& outcome,
                      const std::string& code = "") {
    auto* o = e.mutable_assignment_job_progressed()->add_outcomes();
    o->set_device_id(device);
    o->set_outcome(outcome);
    o->set_code(code);
  }

  TempDir dir_;
  RulesProjector projector_;
  std::unique_ptr<ViewStore> views_;
  std::unique_ptr<ViewBatch> batch_;
  int64_t n_ = 0;
};

TEST_F(RulesProjectorTest, RuleRecordBytesThroughDefinitionRedefinitionAndDeletion) {
  events::Envelope defined;
  auto* p = defined.mutable_enrollment_rule_defined();
  p->set_rule_id("rule_1");
  p->set_name("iPads to Alice");
  p->set_priority(-5);
  p->mutable_when()->set_source("dep");
  p->mutable_when()->add_models("iPad Pro");
  p->mutable_then()->set_user_id("usr_1");
  Apply("rule/rule_1", defined);
  EXPECT_EQ(Row("rules", "rule_1"),
            R"({"defined_at":"2023-11-14T22:13:21.000Z","disabled":false,"id":"rule_1","last_position":"1","name":"iPads to Alice","priority":-5,"rule":"CgZydWxlXzESDmlQYWRzIHRvIEFsaWNlGPv//////////wEiDwoDZGVwGghpUGFkIFBybyoHEgV1c3JfMQ=="})");

  p->set_priority(3);
  p->set_disabled(true);
  p->set_name("");
  Apply("rule/rule_1", defined);
  EXPECT_EQ(Row("rules", "rule_1"),
            R"({"defined_at":"2023-11-14T22:13:22.000Z","disabled":true,"id":"rule_1","last_position":"2","name":"","priority":3,"rule":"CgZydWxlXzEYAyIPCgNkZXAaCGlQYWQgUHJvKgcSBXVzcl8xMAE="})");

  events::Envelope deleted;
  deleted.mutable_enrollment_rule_deleted()->set_rule_id("rule_1");
  Apply("rule/rule_1", deleted);
  EXPECT_EQ(Row("rules", "rule_1"), "<none>");
}

TEST_F(RulesProjectorTest, JobRecordBytesThroughStartProgressAndCompletion) {
  Apply("job/job_1", Started("job_1", 4));
  EXPECT_EQ(Row("jobs", "job_1"),
            R"({"assigned":0,"cancelled":false,"completed":false,"done":0,"id":"job_1","last_position":"1","refused":0,"selection":"{\"source\":\"dep\"}","started_at":"2023-11-14T22:13:21.000Z","state":"running","then":"CgZwcm9mXzESBXVzcl8x","total":4,"unchanged":0})");

  events::Envelope first;
  first.mutable_assignment_job_progressed()->set_job_id("job_1");
  first.mutable_assignment_job_progressed()->set_done(2);
  Outcome(first, "SERIAL1", "assigned");
  Outcome(first, "imei:35000000000001", "refused", "device.not_found");
  Apply("job/job_1", first);
  EXPECT_EQ(Row("jobs", "job_1"),
            R"({"assigned":1,"cancelled":false,"completed":false,"done":2,"id":"job_1","last_position":"2","refused":1,"selection":"{\"source\":\"dep\"}","started_at":"2023-11-14T22:13:21.000Z","state":"running","then":"CgZwcm9mXzESBXVzcl8x","total":4,"unchanged":0})");
  EXPECT_EQ(Row("job_outcomes", JobOutcomeKey("job_1", 0)),
            R"({"device":"SERIAL1","outcome":"assigned"})");
  EXPECT_EQ(Row("job_outcomes", JobOutcomeKey("job_1", 1)),
            R"({"code":"device.not_found","device":"imei:35000000000001","outcome":"refused"})");
  EXPECT_EQ(JobOutcomeKey("job_1", 1), "job_1/000000000001");

  events::Envelope second;
  second.mutable_assignment_job_progressed()->set_job_id("job_1");
  second.mutable_assignment_job_progressed()->set_done(3);
  Outcome(second, "SERIAL2", "unchanged");
  Apply("job/job_1", second);
  EXPECT_EQ(Row("job_outcomes", JobOutcomeKey("job_1", 2)),
            R"({"device":"SERIAL2","outcome":"unchanged"})");
  EXPECT_EQ(Row("jobs", "job_1"),
            R"({"assigned":1,"cancelled":false,"completed":false,"done":3,"id":"job_1","last_position":"3","refused":1,"selection":"{\"source\":\"dep\"}","started_at":"2023-11-14T22:13:21.000Z","state":"running","then":"CgZwcm9mXzESBXVzcl8x","total":4,"unchanged":1})");

  // Completed with fewer devices done than selected: failed.
  events::Envelope completed;
  auto* c = completed.mutable_assignment_job_completed();
  c->set_job_id("job_1");
  c->set_done(3);
  c->set_assigned(1);
  c->set_unchanged(1);
  c->set_refused(1);
  Apply("job/job_1", completed);
  EXPECT_EQ(Row("jobs", "job_1"),
            R"({"assigned":1,"cancelled":false,"completed":true,"completed_at":"2023-11-14T22:13:24.000Z","done":3,"id":"job_1","last_position":"4","refused":1,"selection":"{\"source\":\"dep\"}","started_at":"2023-11-14T22:13:21.000Z","state":"failed","then":"CgZwcm9mXzESBXVzcl8x","total":4,"unchanged":1})");
}

TEST_F(RulesProjectorTest, JobStatesDoneAndCancelled) {
  Apply("job/job_2", Started("job_2", 1));
  events::Envelope done;
  done.mutable_assignment_job_completed()->set_job_id("job_2");
  done.mutable_assignment_job_completed()->set_done(1);
  done.mutable_assignment_job_completed()->set_assigned(1);
  Apply("job/job_2", done);
  EXPECT_EQ(Row("jobs", "job_2"),
            R"({"assigned":1,"cancelled":false,"completed":true,"completed_at":"2023-11-14T22:13:22.000Z","done":1,"id":"job_2","last_position":"2","refused":0,"selection":"{\"source\":\"dep\"}","started_at":"2023-11-14T22:13:21.000Z","state":"done","then":"CgZwcm9mXzESBXVzcl8x","total":1,"unchanged":0})");

  Apply("job/job_3", Started("job_3", 5));
  events::Envelope cancelled;
  cancelled.mutable_assignment_job_completed()->set_job_id("job_3");
  cancelled.mutable_assignment_job_completed()->set_cancelled(true);
  Apply("job/job_3", cancelled);
  EXPECT_EQ(Row("jobs", "job_3"),
            R"({"assigned":0,"cancelled":true,"completed":true,"completed_at":"2023-11-14T22:13:24.000Z","done":0,"id":"job_3","last_position":"4","refused":0,"selection":"{\"source\":\"dep\"}","started_at":"2023-11-14T22:13:23.000Z","state":"cancelled","then":"CgZwcm9mXzESBXVzcl8x","total":5,"unchanged":0})");
}

TEST_F(RulesProjectorTest, ProgressOrCompletionOfAnUnknownJobWritesNothing) {
  events::Envelope progressed;
  progressed.mutable_assignment_job_progressed()->set_job_id("ghost");
  progressed.mutable_assignment_job_progressed()->set_done(1);
  Outcome(progressed, "SERIAL1", "assigned");
  Apply("job/ghost", progressed);
  events::Envelope completed;
  completed.mutable_assignment_job_completed()->set_job_id("ghost");
  Apply("job/ghost", completed);
  EXPECT_EQ(Row("jobs", "ghost"), "<none>");
  EXPECT_EQ(Row("job_outcomes", JobOutcomeKey("ghost", 0)), "<none>");
}

TEST_F(RulesProjectorTest, AJobRecordThatIsNotJsonIsCorruption) {
  batch_->Put("jobs", "job_1", "not json");
  events::Envelope e;
  e.mutable_assignment_job_completed()->set_job_id("job_1");
  e.set_stream("job/job_1");
  RecordedEvent r;
  r.position = LogPosition{0, 1};
  r.envelope = std::move(e);
  EXPECT_THAT(projector_.Apply(r, *batch_), StatusIs(StatusCode::kCorruption, "view.corruption"));
}

}  // namespace
}  // namespace ae::proj
