#pragma once
// Process metrics in Prometheus text format, and CountingEventLog, the
// decorator that counts appends whoever makes them. Thread-safe.

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "events/event_log.h"

namespace ae::api {

class Metrics {
 public:
  void CountRequest(const std::string& method, const std::string& route, int status,
                    double seconds);
  std::atomic<uint64_t> appends{0};           // successful appends
  std::atomic<uint64_t> appended_events{0};
  std::atomic<uint64_t> append_conflicts{0};
  std::atomic<uint64_t> append_errors{0};
  std::atomic<uint64_t> append_micros{0};      // time in Append and AppendBatch calls
  std::atomic<uint64_t> view_waits{0};         // requests that waited for the views
  std::atomic<uint64_t> view_wait_micros{0};
  std::atomic<int64_t> view_waiters{0};        // requests waiting for the views now
  // Connections (http_connections.h).
  std::atomic<int64_t> http_waiting{0};        // waiting for a request head, off the workers
  std::atomic<uint64_t> http_connections_refused{0};  // over the waiting caps
  std::atomic<uint64_t> http_head_timeouts{0};  // closed: the head did not arrive in time
  // Prometheus text of everything above plus the request counters.
  std::string RenderHttp() const;

 private:
  struct Key {
    std::string method, route;
    int status;
    auto operator<=>(const Key&) const = default;
  };
  struct Value {
    uint64_t count = 0;
    double seconds = 0;
  };
  mutable std::mutex mu_;
  std::map<Key, Value> requests_;  // guarded by mu_
};

class CountingEventLog : public events::EventLog {
 public:
  CountingEventLog(events::EventLog& inner, Metrics& m) : inner_(inner), m_(m) {}
  Result<events::AppendResult> Append(const StreamId& s, ExpectedVersion e,
                                      std::vector<events::Envelope> ev) override {
    size_t n = ev.size();
    auto started = std::chrono::steady_clock::now();
    auto r = inner_.Append(s, e, std::move(ev));
    Took(started);
    Count(r, n);
    return r;
  }
  std::vector<Result<events::AppendResult>> AppendBatch(std::vector<AppendItem> items) override {
    std::vector<size_t> sizes;
    for (const auto& item : items) sizes.push_back(item.events.size());
    auto started = std::chrono::steady_clock::now();
    auto out = inner_.AppendBatch(std::move(items));
    Took(started);
    for (size_t i = 0; i < out.size(); ++i) Count(out[i], sizes[i]);
    return out;
  }
  void Took(std::chrono::steady_clock::time_point started) {
    m_.append_micros += static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                  std::chrono::steady_clock::now() - started)
                                                  .count());
  }
  void Count(const Result<events::AppendResult>& r, size_t n) {
    if (r.ok()) {
      m_.appends++;
      m_.appended_events += n;
    } else if (r.status().code() == StatusCode::kConflict) {
      m_.append_conflicts++;
    } else {
      m_.append_errors++;
    }
  }
  Result<std::vector<events::RecordedEvent>> Read(const LogCursor& f, size_t max) const override {
    return inner_.Read(f, max);
  }
  Result<MatchingRecords> ReadMatching(const LogCursor& f, size_t max,
                                       const std::vector<int>& cases) const override {
    return inner_.ReadMatching(f, max, cases);
  }
  Result<std::vector<events::RecordedEvent>> ReadStream(const StreamId& s, StreamVersion v,
                                                        size_t max) const override {
    return inner_.ReadStream(s, v, max);
  }
  Result<StreamVersion> GetStreamVersion(const StreamId& s) const override {
    return inner_.GetStreamVersion(s);
  }
  Result<LogCursor> Head() const override { return inner_.Head(); }
  bool WaitForNew(const LogCursor& c, std::chrono::milliseconds t) const override {
    return inner_.WaitForNew(c, t);
  }
  Status Health() const override { return inner_.Health(); }
  std::string Kind() const override { return inner_.Kind(); }

 private:
  events::EventLog& inner_;
  Metrics& m_;
};

}  // namespace ae::api
