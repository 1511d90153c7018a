// replay, audit verify, events export.

#include <filesystem>
#include <iostream>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>

#include "api/cli/commands.h"
#include "events/codec.h"
#include "events/hash_chain.h"

namespace ae::cli {

namespace fs = std::filesystem;

int Replay(const ReplayOptions& o, std::ostream& out, std::ostream& err) {
  api::AppOptions opts = o.app;
  fs::path data(opts.data_dir);
  fs::path target = o.out_dir.empty() ? data / "views.rebuild" : fs::path(o.out_dir);
  std::error_code ec;
  if (fs::exists(target, ec) && !fs::is_empty(target, ec)) {
    if (!o.out_dir.empty()) {
      err << "replay: " << target << " exists and is not empty\n";
      return 1;
    }
    fs::remove_all(target, ec);
  }
  opts.views_dir = target.string();
  // Beside a running server the log is read without its lock; in place, the
  // server must be stopped (the writable open takes the lock).
  opts.read_only_log = !o.out_dir.empty();
  auto app = api::App::Open(opts);
  if (!app.ok()) {
    err << "replay: " << app.status().ToString() << "\n";
    return 1;
  }
  auto started = std::chrono::steady_clock::now();
  Status s = (*app)->runner().CatchUp(
      [&](uint64_t applied) {
        if (applied % 100000 < 1000) err << "replay: " << applied << " records applied\n";
      },
      &StopRequested());
  if (!s.ok()) {
    err << "replay: " << s.ToString() << "\n";
    return 1;
  }
  auto stats = (*app)->runner().stats();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  app->reset();
  if (o.out_dir.empty()) {
    fs::path live = data / "views";
    fs::path old = data / "views.old";
    fs::remove_all(old, ec);
    if (fs::exists(live)) fs::rename(live, old, ec);
    if (ec) {
      err << "replay: cannot move the old views aside: " << ec.message() << "\n";
      return 1;
    }
    fs::rename(target, live, ec);
    if (ec) {
      err << "replay: cannot swap in the rebuilt views: " << ec.message() << "\n";
      return 1;
    }
    fs::remove_all(old, ec);
    target = live;
  }
  out << nlohmann::json({{"records", stats.applied},
                         {"position", stats.checkpoint.ToString()},
                         {"views", target.string()},
                         {"seconds", secs}})
             .dump()
      << std::endl;
  return 0;
}

int AuditVerify(const api::AppOptions& o, std::ostream& out, std::ostream& err) {
  auto log = api::OpenLog([&] {
    api::AppOptions ro = o;
    ro.read_only_log = true;
    return ro;
  }());
  if (!log.ok()) {
    err << "audit verify: " << log.status().ToString() << "\n";
    return 1;
  }
  auto report = events::VerifyChain(
      **log, [&](uint64_t n) { err << "audit verify: " << n << " records checked\n"; },
      &StopRequested());
  if (!report.ok()) {
    err << "audit verify: " << report.status().ToString() << "\n";
    return 1;
  }
  out << api::ChainReportJson(*report).dump() << std::endl;
  return report->ok ? 0 : 1;
}

int EventsExport(const ExportOptions& o, std::ostream& out, std::ostream& err) {
  if (o.format != "json" && o.format != "proto") {
    err << "events export: --format must be json or proto\n";
    return 2;
  }
  LogCursor from;
  if (!o.after.empty()) {
    auto p = LogPosition::Parse(o.after);
    if (!p) {
      err << "events export: --after must be a log position\n";
      return 2;
    }
    from = LogCursor::After(*p);
  }
  api::AppOptions ro = o.app;
  ro.read_only_log = true;
  auto log = api::OpenLog(ro);
  if (!log.ok()) {
    err << "events export: " << log.status().ToString() << "\n";
    return 1;
  }
  google::protobuf::io::OstreamOutputStream zout(&out);
  google::protobuf::io::CodedOutputStream coded(&zout);
  uint64_t n = 0;
  while (!StopRequested().load()) {
    auto batch = (*log)->Read(from, 1000);
    if (!batch.ok()) {
      err << "events export: " << batch.status().ToString() << "\n";
      return 1;
    }
    if (batch->empty()) break;
    for (const auto& r : *batch) {
      if (o.format == "json") {
        out << events::RecordToJson(r).dump() << "\n";
      } else {
        coded.WriteVarint32(static_cast<uint32_t>(r.raw.size()));
        coded.WriteRaw(r.raw.data(), static_cast<int>(r.raw.size()));
      }
      from.Advance(r.position);
      ++n;
    }
  }
  if (o.format == "json") out.flush();
  err << "events export: " << n << " records\n";
  return 0;
}

}  // namespace ae::cli
