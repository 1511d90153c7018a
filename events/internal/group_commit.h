#pragma once
// GroupCommitQueue: LevelDB's writer queue. Appenders queue up; the one at the
// front becomes the leader, commits the whole queued group in one durable
// write (one fsync or one Kafka transaction) and hands each follower its result.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "events/event_log.h"

namespace ae::events::internal {

struct AppendRequest {
  AppendRequest(const StreamId& s, ExpectedVersion e, std::vector<Envelope>* ev)
      : stream(s), expected(e), events(ev) {}
  const StreamId& stream;
  ExpectedVersion expected;
  std::vector<Envelope>* events;
  Result<AppendResult> result = Internal("log.not_committed", "append was not committed");
  bool done = false;
  std::condition_variable cv;
};

class GroupCommitQueue {  // Thread-safe.
 public:
  using CommitFn = std::function<void(const std::vector<AppendRequest*>&)>;
  explicit GroupCommitQueue(size_t max_group_events) : max_group_events_(max_group_events) {}

  // Blocks until `req` is committed by some leader (perhaps this thread);
  // req.result holds the outcome. `commit` runs on the leader's thread, with
  // no lock held, one group at a time.
  void Submit(AppendRequest& req, const CommitFn& commit) {
    std::unique_lock lock(mu_);
    queue_.push_back(&req);
    req.cv.wait(lock, [&] { return req.done || queue_.front() == &req; });
    if (req.done) return;
    std::vector<AppendRequest*> group;
    size_t events = 0;
    for (AppendRequest* r : queue_) {
      if (!group.empty() && events + r->events->size() > max_group_events_) break;
      group.push_back(r);
      events += r->events->size();
    }
    lock.unlock();
    commit(group);
    lock.lock();
    for (size_t i = 0; i < group.size(); ++i) {
      AppendRequest* r = queue_.front();
      queue_.pop_front();
      r->done = true;
      if (r != &req) r->cv.notify_one();
    }
    if (!queue_.empty()) queue_.front()->cv.notify_one();
  }

 private:
  const size_t max_group_events_;
  std::mutex mu_;
  std::deque<AppendRequest*> queue_;
};

}  // namespace ae::events::internal
