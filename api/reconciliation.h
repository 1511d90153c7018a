#pragma once
// The reconciliation report: what is out of order, each finding with the log positions of
// the events that prove it. Read from the views (projections/enrollments_projector.h keeps
// the findings and their evidence as the events arrive), never by scanning the log; the
// time-bound findings are cut at the App's clock. GET /v1/reconciliation and
// `autoenroll reconcile` share it.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "api/app.h"

namespace ae::api {

struct ReconcileOptions {
  int days = 14;              // a DEP device assigned this long ago and never enrolled
  int expiry_days = 30;       // tokens and certificates expiring within this many days
  size_t limit = 1000;        // at most this many items (then "truncated": true)
  std::string kind;           // only this kind ("" = every kind)
  std::string tls_cert;       // the served certificate file (--tls-cert); else the KME one
                              // in the secret store, when it was made
};

// The kinds, in the order the report lists them.
const std::vector<std::string>& ReconciliationKinds();

// {items: [{kind, device?, source?, account?, since, evidence: [positions], ...}],
//  truncated, as_of}
Result<nlohmann::json> ReconciliationReport(App& app, const ReconcileOptions& options);

}  // namespace ae::api
