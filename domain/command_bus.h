#pragma once
// CommandBus: load a stream's state, decide, append with the expected version,
// retry on conflict (bounded), answer with the log position.
//
//   State Evolve(State, const Envelope&)                  total, pure
//   Result<std::vector<Envelope>> Decide(const State&)    pure; the command is bound in
//
// Decide returns the new events with only their payload set (and optionally
// occurred_at); the bus stamps actor, correlation and causation ids. An empty
// vector is a no-op: nothing is appended and the stream's last position is
// returned. Thread-safe.

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "events/base/clock.h"
#include "events/event_log.h"

namespace ae::domain {

using events::Envelope;
using Actor = autoenroll::events::v1::Actor;

struct CommandContext {
  Actor actor;
  std::string correlation_id;  // e.g. the HTTP request id
  std::string causation_id;    // the event that caused this command, if any
};

struct CommandResult {
  LogPosition position;          // position of the last event (or of the stream's last, on no-op)
  StreamVersion stream_version = 0;
  std::vector<Envelope> events;  // what was appended (empty on no-op)
};

template <typename State>
struct Decider {
  std::function<State(State, const Envelope&)> evolve;
  std::function<Result<std::vector<Envelope>>(const State&)> decide;
};

// A command its caller has already decided against a state it holds (a view's record: a
// hint that may be behind the stream), for bulk writers that should not read every
// stream back. `expected` is the stream version that state had; `decider` decides it again
// against the stream itself when the stream has moved on. `note` is the caller's own (e.g.
// what it counts for the command), handed back untouched with the result.
template <typename State, typename Note = int>
struct DecidedCommand {
  StreamId stream;
  StreamVersion expected = 0;
  std::vector<Envelope> events;  // not empty: a no-op is never handed to the bus
  Decider<State> decider;
  Note note{};
};

// How a GroupCommit gathers decided commands into appends.
struct GroupCommitOptions {
  size_t batch_commands = 1000;    // commands per EventLog::AppendBatch
  size_t batch_events = 2000;      // events per EventLog::AppendBatch
  size_t max_pending_batches = 2;  // full batches waiting to be appended (the caller blocks)
};

class CommandBus {
 public:
  explicit CommandBus(events::EventLog& log, Clock& clock = Clock::Real(), int max_attempts = 4)
      : log_(log), clock_(clock), max_attempts_(max_attempts) {}

  template <typename State>
  Result<CommandResult> Execute(const StreamId& stream, const Decider<State>& decider,
                                const CommandContext& ctx) {
    Status last;
    for (int attempt = 0; attempt < max_attempts_; ++attempt) {
      AE_ASSIGN_OR_RETURN(auto records, log_.ReadStream(stream, 1, SIZE_MAX));
      State state{};
      for (const auto& r : records) state = decider.evolve(std::move(state), r.envelope);
      AE_ASSIGN_OR_RETURN(std::vector<Envelope> events, decider.decide(state));
      CommandResult out;
      if (events.empty()) {
        if (!records.empty()) out.position = records.back().position;
        out.stream_version = records.size();
        return out;
      }
      Stamp(events, ctx);
      auto appended = log_.Append(stream, ExpectedVersion::Exactly(records.size()), events);
      if (appended.ok()) {
        out.position = appended->last;
        out.stream_version = appended->stream_version;
        out.events = std::move(events);
        return out;
      }
      last = appended.status();
      if (last.code() != StatusCode::kConflict) return last;
    }
    return Conflict("command.conflict",
                    "the record changed concurrently too often; try again (" + last.message() + ")");
  }

  // Many independent commands, one per stream (streams must be distinct),
  // appended together with EventLog::AppendBatch so a bulk writer pays one
  // durable write per group instead of one per stream. Each command is decided,
  // appended and retried on conflict exactly as Execute would; results come
  // back in order.
  template <typename State>
  std::vector<Result<CommandResult>> ExecuteBatch(
      const std::vector<std::pair<StreamId, Decider<State>>>& commands, const CommandContext& ctx) {
    std::vector<Result<CommandResult>> out(commands.size(),
                                           Result<CommandResult>(Internal("command.not_run", "")));
    std::vector<size_t> pending(commands.size());
    for (size_t i = 0; i < commands.size(); ++i) pending[i] = i;
    for (int attempt = 0; attempt < max_attempts_ && !pending.empty(); ++attempt) {
      std::vector<events::EventLog::AppendItem> items;
      std::vector<size_t> item_of;
      for (size_t i : pending) {
        const auto& [stream, decider] = commands[i];
        auto records = log_.ReadStream(stream, 1, SIZE_MAX);
        if (!records.ok()) {
          out[i] = records.status();
          continue;
        }
        State state{};
        for (const auto& r : *records) state = decider.evolve(std::move(state), r.envelope);
        auto events = decider.decide(state);
        if (!events.ok()) {
          out[i] = events.status();
          continue;
        }
        if (events->empty()) {
          CommandResult res;
          if (!records->empty()) res.position = records->back().position;
          res.stream_version = records->size();
          out[i] = std::move(res);
          continue;
        }
        Stamp(*events, ctx);
        items.push_back({stream, ExpectedVersion::Exactly(records->size()), std::move(*events)});
        item_of.push_back(i);
      }
      auto kept = items;  // the events, for the answers
      auto results = log_.AppendBatch(std::move(items));
      std::vector<size_t> retry;
      for (size_t k = 0; k < results.size(); ++k) {
        size_t i = item_of[k];
        if (results[k].ok()) {
          CommandResult res;
          res.position = results[k]->last;
          res.stream_version = results[k]->stream_version;
          res.events = std::move(kept[k].events);
          out[i] = std::move(res);
        } else if (results[k].status().code() == StatusCode::kConflict) {
          out[i] = Conflict("command.conflict", "the record changed concurrently too often; try "
                                                "again (" + results[k].status().message() + ")");
          retry.push_back(i);
        } else {
          out[i] = results[k].status();
        }
      }
      pending = std::move(retry);
    }
    return out;
  }

  // Pre-decided commands (streams must be distinct), appended together with
  // EventLog::AppendBatch: the bus stamps them, appends each at its `expected` version and,
  // when a stream has moved past it (kConflict), decides that command again through
  // Execute against the stream. `done(command, result, redecided)` is called for each
  // command that ends appended or found unchanged, in order: `result.events` is what was
  // appended when `redecided`, and empty otherwise (the command's own events were appended;
  // they are moved out of `commands`). Returns the first other failure: the commands after
  // it in the batch may or may not have been appended (each is all or nothing) and are not
  // reported.
  template <typename State, typename Note, typename Done>
  Status ExecuteDecided(std::vector<DecidedCommand<State, Note>>& commands,
                        const CommandContext& ctx, Done&& done) {
    const int64_t now = clock_.NowMs();
    std::vector<events::EventLog::AppendItem> items;
    items.reserve(commands.size());
    for (auto& c : commands) {
      Stamp(c.events, ctx, now);
      items.push_back({c.stream, ExpectedVersion::Exactly(c.expected), std::move(c.events)});
    }
    auto results = log_.AppendBatch(std::move(items));
    for (size_t i = 0; i < results.size(); ++i) {
      auto& c = commands[i];
      if (results[i].ok()) {
        CommandResult res;
        res.position = results[i]->last;
        res.stream_version = results[i]->stream_version;
        done(c, res, false);
        continue;
      }
      if (results[i].status().code() != StatusCode::kConflict) return results[i].status();
      // The caller's state was behind the stream: decide again against the stream itself.
      AE_ASSIGN_OR_RETURN(CommandResult res, Execute(c.stream, c.decider, ctx));
      done(c, res, true);
    }
    return Status::Ok();
  }

  events::EventLog& log() { return log_; }
  Clock& clock() { return clock_; }

 private:
  void Stamp(std::vector<Envelope>& events, const CommandContext& ctx);
  void Stamp(std::vector<Envelope>& events, const CommandContext& ctx, int64_t now_ms);
  events::EventLog& log_;
  Clock& clock_;
  const int max_attempts_;
};

// Group commit for a bulk writer (an import, a sync) over CommandBus::ExecuteDecided: the
// caller decides commands against state it holds and Add()s them; they are gathered into
// batches that one thread of the GroupCommit appends (one durable write for many streams)
// while the caller decides the next batch. `done` runs on that thread (see ExecuteDecided).
// After a failed append nothing more is appended: Add answers false and Finish() returns
// the failure.
//
// Memory: the batch being gathered and at most max_pending_batches full ones.
// Thread-safety: Add and Finish are called by one thread (the owner's).
template <typename State, typename Note = int>
class GroupCommit {
 public:
  using Command = DecidedCommand<State, Note>;
  using Done = std::function<void(Command&, const CommandResult&, bool redecided)>;

  GroupCommit(CommandBus& bus, CommandContext ctx, GroupCommitOptions options, Done done)
      : bus_(bus), ctx_(std::move(ctx)), options_(options), done_(std::move(done)) {}
  ~GroupCommit() { Finish().IgnoreError(); }
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Queues a decided command; blocks while max_pending_batches full batches wait. False
  // once an append has failed (Finish() says why).
  bool Add(Command command) {
    if (!thread_.joinable()) thread_ = std::thread([this] { Work(); });
    current_events_ += command.events.size();
    current_.push_back(std::move(command));
    if (current_.size() < options_.batch_commands && current_events_ < options_.batch_events) {
      return true;
    }
    return Hand();
  }

  // Appends what is queued and waits for every batch; returns the first failure. Add may
  // be called again afterwards.
  Status Finish() {
    if (!current_.empty()) Hand();
    {
      std::lock_guard lock(mu_);
      closing_ = true;
    }
    ready_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mu_);
    closing_ = false;
    return error_;
  }

 private:
  bool Hand() {
    std::unique_lock lock(mu_);
    space_.wait(lock, [&] {
      return batches_.size() < std::max<size_t>(options_.max_pending_batches, 1) || !error_.ok();
    });
    if (!error_.ok()) return false;
    batches_.push_back(std::move(current_));
    current_.clear();
    current_events_ = 0;
    ready_.notify_one();
    return true;
  }

  void Work() {
    while (true) {
      std::vector<Command> batch;
      {
        std::unique_lock lock(mu_);
        ready_.wait(lock, [&] { return !batches_.empty() || closing_; });
        if (batches_.empty()) return;
        batch = std::move(batches_.front());
        batches_.pop_front();
      }
      space_.notify_one();
      Status s = bus_.ExecuteDecided(batch, ctx_, done_);
      if (!s.ok()) {
        std::lock_guard lock(mu_);
        if (error_.ok()) error_ = s;
        batches_.clear();
        space_.notify_all();
      }
    }
  }

  CommandBus& bus_;
  const CommandContext ctx_;
  const GroupCommitOptions options_;
  const Done done_;

  std::vector<Command> current_;  // owned by the caller's thread
  size_t current_events_ = 0;     // owned by the caller's thread
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<std::vector<Command>> batches_;  // guarded by mu_
  bool closing_ = false;                      // guarded by mu_
  Status error_;                              // guarded by mu_
  std::thread thread_;
};

}  // namespace ae::domain
