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

#include <functional>
#include <string>
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
        items.push_back({stream, ExpectedVersion::Exactly(records->size()), *events});
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

  events::EventLog& log() { return log_; }
  Clock& clock() { return clock_; }

 private:
  void Stamp(std::vector<Envelope>& events, const CommandContext& ctx);
  events::EventLog& log_;
  Clock& clock_;
  const int max_attempts_;
};

}  // namespace ae::domain
