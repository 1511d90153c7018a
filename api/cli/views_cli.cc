// autoenroll diff (what changed between two points of the log) and autoenroll views
// rebuild (the zero-downtime rebuild of a running server).

#include <chrono>
#include <iostream>
#include <set>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "api/cli/commands.h"
#include "events/base/clock.h"
#include "projections/all_projectors.h"
#include "projections/as_of.h"
#include "projections/dep_records.h"
#include "projections/device_records.h"
#include "projections/kme_records.h"

namespace ae::cli {

using nlohmann::json;

namespace {

// The fields a diff compares: status, profile and user ("" = none), of a record that
// exists.
struct Compared {
  std::string status, profile, user;
};

template <typename Record>
Compared Facts(const Record& r);
template <>
Compared Facts(const proj::DepDeviceRecord& r) {
  return {r.profile_status, r.profile_id, r.user_id};
}
template <>
Compared Facts(const proj::KmeDeviceRecord& r) {
  return {r.enrollment, r.profile_name, r.user_id};
}
template <>
Compared Facts(const proj::DeviceRecord& r) {
  return {r.status, "", r.user_id};
}

// The compared fields of the record `id` of Record's table at `at` (std::nullopt when
// it did not exist then), decoded by the view's codec.
template <typename Record>
Result<std::optional<Compared>> FactsAt(proj::AsOfReader& reader, proj::Projector& p,
                                        const std::vector<StreamId>& streams,
                                        const std::string& id, const proj::AsOfPoint& at) {
  AE_ASSIGN_OR_RETURN(auto rec, reader.ReadRecord<Record>(p, streams, id, at));
  if (!rec) return std::optional<Compared>();
  return std::optional<Compared>(Facts(*rec));
}

// A device kind: its stream type, its projector and how its view record is read.
struct DeviceKind {
  const char* kind;
  const char* stream_type;
  const char* projector;
  Result<std::optional<Compared>> (*facts_at)(proj::AsOfReader&, proj::Projector&,
                                              const std::vector<StreamId>&, const std::string&,
                                              const proj::AsOfPoint&);
};
constexpr DeviceKind kKinds[] = {
    {"dep", "dep-device", "dep", &FactsAt<proj::DepDeviceRecord>},
    {"kme", "kme-device", "kme", &FactsAt<proj::KmeDeviceRecord>},
    {"device", "device", "devices", &FactsAt<proj::DeviceRecord>},
};

// A point for AsOf: a position, or a time.
Result<proj::AsOfPoint> ParsePoint(const std::string& text, const char* flag) {
  auto p = proj::ParseAsOf(text);
  if (!p.ok() || !p->has_value()) {
    return InvalidArgument("diff.bad_point", std::string(flag) +
                                                 " must be a log position or an RFC 3339 time, "
                                                 "not '" + text + "'");
  }
  return **p;
}

bool Before(const proj::AsOfPoint& point, const events::RecordedEvent& r) {
  return point.Includes(r);
}

json Field(const std::optional<Compared>& rec, std::string Compared::*field) {
  if (!rec || ((*rec).*field).empty()) return nullptr;
  return (*rec).*field;
}

}  // namespace

int Diff(const DiffOptions& o, std::ostream& out, std::ostream& err) {
  auto from = ParsePoint(o.from, "--from");
  auto to = ParsePoint(o.to, "--to");
  if (!from.ok() || !to.ok()) {
    err << "diff: " << (!from.ok() ? from.status() : to.status()).message() << "\n";
    return 2;
  }
  api::AppOptions opts = o.app;
  opts.read_only_log = true;
  opts.read_only_views = true;
  auto app = api::App::Open(opts);
  if (!app.ok()) {
    err << "diff: " << app.status().ToString() << "\n";
    return 1;
  }
  api::App& a = **app;
  // The device streams with a record between the two points (bounded by the log).
  std::set<std::pair<size_t, std::string>> touched;
  LogCursor read;
  uint64_t scanned = 0;
  while (!StopRequested().load()) {
    auto batch = a.raw_log().Read(read, 1000);
    if (!batch.ok()) {
      err << "diff: " << batch.status().ToString() << "\n";
      return 1;
    }
    if (batch->empty()) break;
    for (const auto& r : *batch) {
      read.Advance(r.position);
      ++scanned;
      if (Before(*from, r) || !Before(*to, r)) continue;
      StreamId stream(r.envelope.stream());
      for (size_t k = 0; k < std::size(kKinds); ++k) {
        if (stream.type() == kKinds[k].stream_type) touched.emplace(k, std::string(stream.id()));
      }
    }
  }
  if (StopRequested().load()) return 1;
  auto projectors = proj::AllProjectors();
  auto projector = [&](const char* name) -> proj::Projector* {
    for (auto& p : projectors) {
      if (p->name() == name) return p.get();
    }
    return nullptr;
  };
  uint64_t changed = 0;
  for (const auto& [k, id] : touched) {
    const DeviceKind& kind = kKinds[k];
    proj::Projector* p = projector(kind.projector);
    if (!p) continue;
    std::vector<StreamId> streams = {StreamId(kind.stream_type, id)};
    auto before = kind.facts_at(a.as_of(), *p, streams, id, *from);
    auto after = kind.facts_at(a.as_of(), *p, streams, id, *to);
    if (!before.ok() || !after.ok()) {
      err << "diff: " << (!before.ok() ? before.status() : after.status()).ToString() << "\n";
      return 1;
    }
    json changes = json::object();
    for (auto [label, field] : {std::pair{"status", &Compared::status},
                                std::pair{"profile", &Compared::profile},
                                std::pair{"user", &Compared::user}}) {
      json x = Field(*before, field), y = Field(*after, field);
      if (x != y) changes[label] = {{"from", x}, {"to", y}};
    }
    bool created = !before->has_value() && after->has_value();
    if (changes.empty() && !created) continue;
    ++changed;
    json line = {{"kind", kind.kind}, {"id", id}, {"changes", changes}};
    if (created) line["new"] = true;
    out << line.dump() << "\n";
  }
  out << json({{"summary", true},
               {"from", o.from},
               {"to", o.to},
               {"records_scanned", scanned},
               {"devices_touched", touched.size()},
               {"devices_changed", changed}})
             .dump()
      << std::endl;
  return 0;
}

int ViewsRebuild(const ViewsRebuildOptions& o, std::ostream& out, std::ostream& err) {
  if (o.token.empty()) {
    err << "views rebuild: an administrator's token is needed (--token-file or "
           "AUTOENROLL_TOKEN)\n";
    return 2;
  }
  httplib::Client client(o.url);
  client.set_connection_timeout(5);
  client.set_read_timeout(30);
  client.set_bearer_token_auth(o.token);
  std::string path = "/v1/admin/views/rebuild";
  auto started = client.Post(path + (o.require_identical ? "?require_identical=true" : ""));
  if (!started) {
    err << "views rebuild: cannot reach " << o.url << ": " << httplib::to_string(started.error())
        << "\n";
    return 1;
  }
  if (started->status != 202) {
    err << "views rebuild: the server answered " << started->status << ": " << started->body
        << "\n";
    return 1;
  }
  bool cancel_sent = false;
  std::string last_line;
  // Bounded by the server's own progress: polls until a final state.
  while (true) {
    if (StopRequested().load() && !cancel_sent) {
      client.Delete(path);
      cancel_sent = true;
    }
    auto got = client.Get(path);
    if (!got || got->status != 200) {
      err << "views rebuild: lost the server while rebuilding\n";
      return 1;
    }
    json p = json::parse(got->body, nullptr, false);
    std::string state = p.is_object() ? p.value("state", "") : "";
    if (state == "done" || state == "failed" || state == "cancelled") {
      out << p.dump() << std::endl;
      return state == "done" ? 0 : 1;
    }
    std::string line = state + ": " + std::to_string(p.value("applied", 0)) + " of " +
                       std::to_string(p.value("total", 0)) + " records";
    if (p.contains("eta_seconds")) line += ", about " + p["eta_seconds"].dump() + " s left";
    if (line != last_line) err << "views rebuild: " << line << "\n";
    last_line = line;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace ae::cli
