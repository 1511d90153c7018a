#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "events/base/logging.h"
#include "events/event_log.h"

namespace ae::events {

namespace {
using google::protobuf::internal::WireFormatLite;

// The field numbers of Envelope's payload oneof (a payload case is its field's number).
const std::vector<int>& PayloadFields() {
  static const std::vector<int> fields = [] {
    std::vector<int> out;
    const auto* oneof = Envelope::descriptor()->FindOneofByName("payload");
    for (int i = 0; oneof && i < oneof->field_count(); ++i) {
      out.push_back(oneof->field(i)->number());
    }
    std::sort(out.begin(), out.end());
    return out;
  }();
  return fields;
}

bool Wanted(const std::vector<int>& cases, int c) {
  return std::find(cases.begin(), cases.end(), c) != cases.end();
}
}  // namespace

std::optional<int> PayloadCaseOf(std::string_view bytes) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  const auto& fields = PayloadFields();
  int found = Envelope::PAYLOAD_NOT_SET;
  while (uint32_t tag = in.ReadTag()) {
    const int number = WireFormatLite::GetTagFieldNumber(tag);
    if (std::binary_search(fields.begin(), fields.end(), number)) found = number;  // last wins
    if (!WireFormatLite::SkipField(&in, tag)) return std::nullopt;
  }
  if (!in.ConsumedEntireMessage()) return std::nullopt;
  return found;
}

Result<EventLog::MatchingRecords> EventLog::ReadMatching(const LogCursor& from, size_t max,
                                                         const std::vector<int>& cases) const {
  AE_ASSIGN_OR_RETURN(auto read, Read(from, max));
  MatchingRecords out;
  out.reached = from;
  for (auto& r : read) {
    out.reached.Advance(r.position);
    if (Wanted(cases, r.envelope.payload_case())) out.records.push_back(std::move(r));
  }
  return out;
}

struct Subscription::State {
  const EventLog& log;
  Handler handler;
  size_t batch;
  std::vector<int> cases;  // empty: every record
  mutable std::mutex mu;
  LogCursor cursor;  // guarded by mu
  std::jthread thread;
  State(const EventLog& l, LogCursor from, Handler h, size_t b, std::vector<int> c)
      : log(l), handler(std::move(h)), batch(b), cases(std::move(c)), cursor(std::move(from)) {}
  Result<EventLog::MatchingRecords> Read(const LogCursor& at) const {
    if (!cases.empty()) return log.ReadMatching(at, batch, cases);
    AE_ASSIGN_OR_RETURN(auto read, log.Read(at, batch));
    EventLog::MatchingRecords out{std::move(read), at};
    for (const auto& r : out.records) out.reached.Advance(r.position);
    return out;
  }
};

Subscription::Subscription(const EventLog& log, LogCursor from, Handler handler, size_t batch,
                           std::vector<int> cases)
    : state_(std::make_unique<State>(log, std::move(from), std::move(handler), batch,
                                     std::move(cases))) {
  State* st = state_.get();
  st->thread = std::jthread([st](std::stop_token stop) {
    auto logger = log::Get("events");
    while (!stop.stop_requested()) {
      LogCursor at;
      {
        std::lock_guard lock(st->mu);
        at = st->cursor;
      }
      auto read = st->Read(at);
      if (!read.ok()) {
        logger->warn("subscription read failed: {}", read.status().ToString());
        st->log.WaitForNew(at, std::chrono::milliseconds(200));
        continue;
      }
      if (read->reached == at) {  // nothing past `at`
        st->log.WaitForNew(at, std::chrono::milliseconds(100));
        continue;
      }
      Status s = st->handler(read->records, read->reached);
      if (!s.ok()) {
        logger->warn("subscriber failed after {}: {}", at.ToString(), s.ToString());
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      std::lock_guard lock(st->mu);
      st->cursor = read->reached;
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
