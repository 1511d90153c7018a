#include "api/metrics.h"

#include <sstream>

namespace ae::api {

void Metrics::CountRequest(const std::string& method, const std::string& route, int status,
                           double seconds) {
  std::lock_guard lock(mu_);
  Value& v = requests_[Key{method, route, status}];
  v.count++;
  v.seconds += seconds;
}

std::string Metrics::RenderHttp() const {
  std::ostringstream out;
  out << "# HELP autoenroll_log_appends_total Successful appends to the event log.\n"
      << "# TYPE autoenroll_log_appends_total counter\n"
      << "autoenroll_log_appends_total " << appends.load() << "\n"
      << "# HELP autoenroll_log_appended_events_total Events appended to the log.\n"
      << "# TYPE autoenroll_log_appended_events_total counter\n"
      << "autoenroll_log_appended_events_total " << appended_events.load() << "\n"
      << "# HELP autoenroll_log_append_conflicts_total Appends refused for a wrong expected version.\n"
      << "# TYPE autoenroll_log_append_conflicts_total counter\n"
      << "autoenroll_log_append_conflicts_total " << append_conflicts.load() << "\n"
      << "# HELP autoenroll_log_append_errors_total Appends that failed for another reason.\n"
      << "# TYPE autoenroll_log_append_errors_total counter\n"
      << "autoenroll_log_append_errors_total " << append_errors.load() << "\n"
      << "# HELP autoenroll_log_append_seconds_total Time spent appending "
         "(durable write included).\n"
      << "# TYPE autoenroll_log_append_seconds_total counter\n"
      << "autoenroll_log_append_seconds_total " << append_micros.load() / 1e6 << "\n"
      << "# HELP autoenroll_view_waits_total Requests that waited for the views to reach "
         "a position.\n"
      << "# TYPE autoenroll_view_waits_total counter\n"
      << "autoenroll_view_waits_total " << view_waits.load() << "\n"
      << "# HELP autoenroll_view_wait_seconds_total Time those requests waited.\n"
      << "# TYPE autoenroll_view_wait_seconds_total counter\n"
      << "autoenroll_view_wait_seconds_total " << view_wait_micros.load() / 1e6 << "\n"
      << "# HELP autoenroll_view_waiters Requests waiting for the views to reach a position now.\n"
      << "# TYPE autoenroll_view_waiters gauge\n"
      << "autoenroll_view_waiters " << view_waiters.load() << "\n"
      << "# HELP autoenroll_http_connections_waiting Connections waiting for a request head "
         "(no worker held).\n"
      << "# TYPE autoenroll_http_connections_waiting gauge\n"
      << "autoenroll_http_connections_waiting " << http_waiting.load() << "\n"
      << "# HELP autoenroll_http_connections_refused_total Connections closed at once: too "
         "many waiting, in all or from one client.\n"
      << "# TYPE autoenroll_http_connections_refused_total counter\n"
      << "autoenroll_http_connections_refused_total " << http_connections_refused.load() << "\n"
      << "# HELP autoenroll_http_head_timeouts_total Connections closed because a request head "
         "did not arrive in time.\n"
      << "# TYPE autoenroll_http_head_timeouts_total counter\n"
      << "autoenroll_http_head_timeouts_total " << http_head_timeouts.load() << "\n";
  std::lock_guard lock(mu_);
  out << "# HELP autoenroll_http_requests_total HTTP requests by route and status.\n"
      << "# TYPE autoenroll_http_requests_total counter\n";
  for (const auto& [k, v] : requests_) {
    out << "autoenroll_http_requests_total{method=\"" << k.method << "\",route=\"" << k.route
        << "\",status=\"" << k.status << "\"} " << v.count << "\n";
  }
  out << "# HELP autoenroll_http_request_seconds_total Time spent serving requests.\n"
      << "# TYPE autoenroll_http_request_seconds_total counter\n";
  for (const auto& [k, v] : requests_) {
    out << "autoenroll_http_request_seconds_total{method=\"" << k.method << "\",route=\""
        << k.route << "\",status=\"" << k.status << "\"} " << v.seconds << "\n";
  }
  return out.str();
}

}  // namespace ae::api
