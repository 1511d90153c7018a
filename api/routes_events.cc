// /v1/events and /v1/audit/verify.

#include "api/server.h"
#include "events/codec.h"
#include "events/hash_chain.h"

namespace ae::api {

using nlohmann::json;

nlohmann::json ChainReportJson(const events::ChainReport& report) {
  json out = {{"ok", report.ok}, {"records", report.records}};
  json heads = json::object();
  for (const auto& [p, h] : report.head_hash) heads[std::to_string(p)] = h;
  out["head_hashes"] = heads;
  auto it = report.head_hash.find(0);
  out["head_hash"] = it == report.head_hash.end() ? json(nullptr) : json(it->second);
  if (!report.ok) {
    out["broken_at"] = report.broken_at.ToString();
    out["problem"] = report.problem;
  }
  return out;
}

void AddEventRoutes(Server& server) {
  App& app = server.app();

  server.Route("GET", "/v1/events", "/v1/events", Access::kDeviceManager,
               [&app](Call& call) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(Page page, ParsePage(call));
    LogCursor from;
    if (!page.cursor.empty()) {
      auto c = LogCursor::Parse(page.cursor);
      if (!c) return InvalidArgument("request.bad_cursor", "cursor is not valid", "cursor");
      from = *c;
    } else if (call.req.has_param("after")) {
      auto p = LogPosition::Parse(call.Param("after"));
      if (!p) {
        return InvalidArgument("request.bad_position", "after must be a log position", "after");
      }
      from = LogCursor::After(*p);
    }
    std::string type = call.Param("type");
    json items = json::array();
    constexpr size_t kScanBudget = 20000;  // records looked at per request when filtering
    size_t scanned = 0;
    bool more = false;
    while (items.size() < page.limit && scanned < kScanBudget) {
      size_t want = type.empty() ? page.limit - items.size() : 1000;
      AE_ASSIGN_OR_RETURN(auto batch, app.log().Read(from, want));
      if (batch.empty()) break;
      for (const auto& r : batch) {
        ++scanned;
        if (items.size() == page.limit) {
          more = true;
          break;
        }
        from.Advance(r.position);
        if (!type.empty() && events::PayloadType(r.envelope) != type) continue;
        items.push_back(events::RecordToJson(r));
      }
      if (more) break;
    }
    if (!more) {
      auto peek = app.log().Read(from, 1);
      more = peek.ok() && !peek->empty();
    }
    std::optional<std::string> next;
    if (more) next = from.ToString();
    return Reply::Json(200, PageJson(std::move(items), next));
  });

  server.Route("GET", "/v1/audit/verify", "/v1/audit/verify", Access::kDeviceManager,
               [&app](Call&) -> Result<Reply> {
    AE_ASSIGN_OR_RETURN(auto report, events::VerifyChain(app.log()));
    return Reply::Json(200, ChainReportJson(report));
  });
}

}  // namespace ae::api
