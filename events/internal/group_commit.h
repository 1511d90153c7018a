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
    WaitOrLead(lock, req, commit);
  }

  // Submits `reqs` together (consecutive in the queue, so they usually share
  // one group) and blocks until every one is committed.
  void SubmitAll(const std::vector<AppendRequest*>& reqs, const CommitFn& commit) {
    std::unique_lock lock(mu_);
    for (AppendRequest* r : reqs) queue_.push_back(r);
    for (AppendRequest* r : reqs) WaitOrLead(lock, *r, commit);
  }

 private:
  // Waits until `req` is done, leading the group commit when it reaches the front.
  void WaitOrLead(std::unique_lock<std::mutex>& lock, AppendRequest& req, const CommitFn& commit) {
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

  const size_t max_group_events_;
  std::mutex mu_;
  std::deque<AppendRequest*> queue_;
};

// EventLog::AppendBatch over a GroupCommitQueue: `precheck` validates one item
// (returning its error, or OK to queue it), then every queued item is submitted
// together and its result collected in order.
template <typename Precheck>
std::vector<Result<AppendResult>> SubmitBatch(GroupCommitQueue& queue,
                                              std::vector<EventLog::AppendItem>& items,
                                              const Precheck& precheck,
                                              const GroupCommitQueue::CommitFn& commit) {
  std::vector<Result<AppendResult>> out;
  out.reserve(items.size());
  std::deque<AppendRequest> reqs;  // stable addresses
  std::vector<AppendRequest*> queued;
  std::vector<size_t> slot;
  for (size_t i = 0; i < items.size(); ++i) {
    Status s = precheck(items[i]);
    out.push_back(s.ok() ? Result<AppendResult>(Internal("log.not_committed", "not committed"))
                         : Result<AppendResult>(s));
    if (!s.ok()) continue;
    reqs.emplace_back(items[i].stream, items[i].expected, &items[i].events);
    queued.push_back(&reqs.back());
    slot.push_back(i);
  }
  if (!queued.empty()) queue.SubmitAll(queued, commit);
  for (size_t k = 0; k < queued.size(); ++k) out[slot[k]] = std::move(queued[k]->result);
  return out;
}

}  // namespace ae::events::internal
