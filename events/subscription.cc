#include <atomic>
#include <thread>

#include "events/base/logging.h"
#include "events/event_log.h"

namespace ae::events {

struct Subscription::State {
  const EventLog& log;
  Handler handler;
  size_t batch;
  mutable std::mutex mu;
  LogCursor cursor;  // guarded by mu
  std::jthread thread;
  State(const EventLog& l, LogCursor from, Handler h, size_t b)
      : log(l), handler(std::move(h)), batch(b), cursor(std::move(from)) {}
};

Subscription::Subscription(const EventLog& log, LogCursor from, Handler handler, size_t batch)
    : state_(std::make_unique<State>(log, std::move(from), std::move(handler), batch)) {
  State* st = state_.get();
  st->thread = std::jthread([st](std::stop_token stop) {
    auto logger = log::Get("events");
    while (!stop.stop_requested()) {
      LogCursor at;
      {
        std::lock_guard lock(st->mu);
        at = st->cursor;
      }
      auto records = st->log.Read(at, st->batch);
      if (!records.ok()) {
        logger->warn("subscription read failed: {}", records.status().ToString());
        st->log.WaitForNew(at, std::chrono::milliseconds(200));
        continue;
      }
      if (records->empty()) {
        st->log.WaitForNew(at, std::chrono::milliseconds(100));
        continue;
      }
      Status s = st->handler(*records);
      if (!s.ok()) {
        logger->warn("subscriber failed at {}: {}", records->front().position.ToString(),
                     s.ToString());
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      std::lock_guard lock(st->mu);
      for (const auto& r : *records) st->cursor.Advance(r.position);
    }
  });
}

Subscription::~Subscription() { Stop(); }

void Subscription::Stop() {
  if (state_ && state_->thread.joinable()) {
    state_->thread.request_stop();
    state_->thread.join();
  }
}

LogCursor Subscription::cursor() const {
  std::lock_guard lock(state_->mu);
  return state_->cursor;
}

}  // namespace ae::events
