// autoenroll reconcile: the reconciliation report for a cron job. Exit 1 when anything is
// out of order, 0 when nothing is, 2 on an error.

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "api/cli/commands.h"
#include "api/reconciliation.h"

namespace ae::cli {

using nlohmann::json;

namespace {

// One line per finding: kind, subject, since, evidence.
void PrintLines(const json& report, std::ostream& out) {
  for (const auto& item : report["items"]) {
    std::string subject;
    if (item.contains("device")) {
      subject = item.value("source", "") + (item.contains("source") ? " " : "") +
                item.value("device", "");
    } else if (item.contains("account")) {
      subject = "account " + item.value("account", "");
    } else if (item.contains("certificate")) {
      subject = "certificate " + item.value("certificate", "");
    }
    std::string evidence;
    for (const auto& p : item["evidence"]) {
      evidence += (evidence.empty() ? "" : ",") + p.get<std::string>();
    }
    out << item.value("kind", "") << "\t" << subject << "\tsince " << item.value("since", "");
    if (item.contains("expires_at")) out << "\texpires " << item.value("expires_at", "");
    out << "\tevidence " << (evidence.empty() ? "-" : evidence) << "\n";
  }
  if (report.value("truncated", false)) out << "(more findings than listed)\n";
  out.flush();
}

Result<json> AskServer(const ReconcileCliOptions& o) {
  if (o.token.empty()) {
    return InvalidArgument("reconcile.no_token",
                           "a device manager's token is needed with --url (--token-file or "
                           "AUTOENROLL_TOKEN)");
  }
  httplib::Client client(o.url);
  client.set_connection_timeout(5);
  client.set_read_timeout(60);
  client.set_bearer_token_auth(o.token);
  auto r = client.Get("/v1/reconciliation?days=" + std::to_string(o.days));
  if (!r) {
    return Unavailable("reconcile.unreachable",
                       "cannot reach " + o.url + ": " + httplib::to_string(r.error()));
  }
  if (r->status != 200) {
    return Unavailable("reconcile.refused",
                       "the server answered " + std::to_string(r->status) + ": " + r->body);
  }
  json report = json::parse(r->body, nullptr, false);
  if (!report.is_object() || !report["items"].is_array()) {
    return Unavailable("reconcile.bad_answer", "the server's answer is not a report");
  }
  return report;
}

Result<json> ReadDataDir(const ReconcileCliOptions& o) {
  api::AppOptions opts = o.app;
  opts.read_only_log = true;
  opts.read_only_views = true;
  AE_ASSIGN_OR_RETURN(auto app, api::App::Open(opts));
  api::ReconcileOptions ro;
  ro.days = o.days;
  ro.limit = 100000;
  return api::ReconciliationReport(*app, ro);
}

}  // namespace

int Reconcile(const ReconcileCliOptions& o, std::ostream& out, std::ostream& err) {
  if (o.days < 0) {
    err << "reconcile: --days must not be negative\n";
    return 2;
  }
  auto report = o.url.empty() ? ReadDataDir(o) : AskServer(o);
  if (!report.ok()) {
    err << "reconcile: " << report.status().ToString() << "\n";
    return 2;
  }
  if (o.json) {
    out << report->dump() << std::endl;
  } else {
    PrintLines(*report, out);
  }
  return (*report)["items"].empty() ? 0 : 1;
}

}  // namespace ae::cli
