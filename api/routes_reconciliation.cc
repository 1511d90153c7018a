// GET /v1/reconciliation: what is out of order, with the events that prove it.

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <sstream>

#include "api/reconciliation.h"
#include "api/server.h"
#include "events/base/clock.h"
#include "projections/dep_records.h"
#include "projections/reconciliation_records.h"

namespace ae::api {

using nlohmann::json;

namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

// The end of a PEM certificate's validity (ms since the epoch), nullopt when it is no
// certificate.
std::optional<int64_t> NotAfterMs(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                BIO_free);
  if (!bio) return std::nullopt;
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) return std::nullopt;
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

// A finding as the view keeps it, rendered: its keys, with its times as RFC 3339 (since;
// retry_after, null when none was given).
json Render(const proj::ReconciliationFinding& f) {
  json out = {{"kind", f.kind},
              {"device", f.device},
              {"since", FormatRfc3339(f.since_ms)},
              {"evidence", f.evidence}};
  if (!f.source.empty()) out["source"] = f.source;
  if (f.profile_status) out["profile_status"] = *f.profile_status;
  if (f.disowned) out["disowned"] = *f.disowned;
  if (f.reason) out["reason"] = *f.reason;
  if (f.retry_after_ms) {
    const int64_t ms = *f.retry_after_ms;
    out["retry_after"] = ms > 0 ? json(FormatRfc3339(ms)) : json(nullptr);
  }
  return out;
}

}  // namespace

const std::vector<std::string>& ReconciliationKinds() {
  static const std::vector<std::string> kinds = {
      "dep_assigned_not_enrolled", "dep_released_in_inventory", "kme_without_user",
      "dep_assignment_failing",    "inventory_without_record",  "dep_token_expiring",
      "dep_certificate_expiring",  "kme_certificate_expiring"};
  return kinds;
}

Result<json> ReconciliationReport(App& app, const ReconcileOptions& o) {
  const int64_t now = app.clock().NowMs();
  const int64_t assigned_before = now - static_cast<int64_t>(o.days) * kDayMs;
  const int64_t expires_before = now + static_cast<int64_t>(o.expiry_days) * kDayMs;
  json items = json::array();
  bool truncated = false;
  auto want = [&](const std::string& kind) { return o.kind.empty() || o.kind == kind; };
  auto add = [&](json item) {
    if (items.size() >= o.limit) {
      truncated = true;
      return false;
    }
    items.push_back(std::move(item));
    return true;
  };

  // The findings the projector keeps, kind by kind.
  for (const std::string kind : {"dep_assigned_not_enrolled", "dep_released_in_inventory",
                                 "kme_without_user", "dep_assignment_failing",
                                 "inventory_without_record"}) {
    if (!want(kind) || truncated) continue;
    std::string prefix = kind;
    prefix.push_back('\0');
    Status bad = Status::Ok();
    AE_RETURN_IF_ERROR(app.views().Scan(proj::ReconciliationFinding::kTable, prefix, "",
                                        [&](std::string_view, std::string_view v) {
      auto f = proj::ReconciliationFinding::Decode(v);
      if (!f.ok()) {
        bad = f.status();
        return false;
      }
      // Ordered by the time the device became assigned: only the old enough ones.
      if (kind == std::string("dep_assigned_not_enrolled") && f->since_ms > assigned_before) {
        return false;
      }
      return add(Render(*f));
    }));
    AE_RETURN_IF_ERROR(bad);
  }

  // DEP accounts: the token's and the certificate's expiry.
  if (!truncated && (want("dep_token_expiring") || want("dep_certificate_expiring"))) {
    std::vector<proj::EnrollmentAccountRecord> accounts;
    AE_RETURN_IF_ERROR(app.views().Scan(proj::EnrollmentAccountRecord::kTable, "", "",
                                        [&](std::string_view, std::string_view v) {
      auto a = proj::EnrollmentAccountRecord::Decode(v);  // one that is none is left out
      if (a.ok()) accounts.push_back(std::move(*a));
      return true;
    }));
    for (const proj::EnrollmentAccountRecord& a : accounts) {
      const std::string& id = a.id;
      const proj::EnrollmentAccountToken token = a.token.value_or(proj::EnrollmentAccountToken{});
      const int64_t token_expiry = token.expiry_ms;
      if (want("dep_token_expiring") && token_expiry > 0 && token_expiry <= expires_before) {
        const int64_t since = std::max(token.at_ms,
                                       token_expiry - static_cast<int64_t>(o.expiry_days) * kDayMs);
        if (!add({{"kind", "dep_token_expiring"}, {"account", id},
                  {"account_name", a.name},
                  {"expires_at", FormatRfc3339(token_expiry)}, {"since", FormatRfc3339(since)},
                  {"expired", token_expiry <= now},
                  {"evidence", json::array({token.position})}})) {
          break;
        }
      }
      if (want("dep_certificate_expiring")) {
        AE_ASSIGN_OR_RETURN(auto acc,
                            proj::ReadDepRecord<proj::DepAccountRecord>(app.views(), id));
        if (!acc) continue;
        auto not_after = NotAfterMs(acc->certificate_pem);
        if (not_after && *not_after <= expires_before) {
          const int64_t since = std::max(a.created_ms,
                                         *not_after - static_cast<int64_t>(o.expiry_days) * kDayMs);
          if (!add({{"kind", "dep_certificate_expiring"}, {"account", id},
                    {"account_name", a.name},
                    {"expires_at", FormatRfc3339(*not_after)}, {"since", FormatRfc3339(since)},
                    {"expired", *not_after <= now},
                    {"evidence", json::array({a.created_position})}})) {
            break;
          }
        }
      }
    }
  }

  // The certificate Knox devices are given (KME settings): the served one (--tls-cert), else
  // the self-signed one kept in the secret store. No event records it: no evidence.
  if (!truncated && want("kme_certificate_expiring")) {
    std::string pem;
    std::string origin;
    if (!o.tls_cert.empty()) {
      std::ifstream in(o.tls_cert, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      pem = ss.str();
      origin = "tls_cert";
    } else {
      AE_ASSIGN_OR_RETURN(auto cert, app.secrets().Get("kme/server-certificate"));
      if (cert) pem = *cert;
      origin = "secret_store";
    }
    auto not_after = pem.empty() ? std::nullopt : NotAfterMs(pem);
    if (not_after && *not_after <= expires_before) {
      add({{"kind", "kme_certificate_expiring"}, {"certificate", origin},
           {"expires_at", FormatRfc3339(*not_after)},
           {"since", FormatRfc3339(*not_after - static_cast<int64_t>(o.expiry_days) * kDayMs)},
           {"expired", *not_after <= now}, {"evidence", json::array()}});
    }
  }
  return json{{"items", std::move(items)}, {"truncated", truncated},
              {"as_of", FormatRfc3339(now)}};
}

void AddReconciliationRoutes(Server& server) {
  App& app = server.app();
  server.Route("GET", "/v1/reconciliation", "/v1/reconciliation", Access::kDeviceManager,
               [&server, &app](Call& call) -> Result<Reply> {
    ReconcileOptions o;
    o.tls_cert = server.options().tls_cert;
    auto number = [&](const char* name, int lo, int hi, int* out) -> Status {
      if (!call.req.has_param(name)) return Status::Ok();
      const std::string text = call.Param(name);
      char* end = nullptr;
      const long v = std::strtol(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || v < lo || v > hi) {
        return InvalidArgument("request.bad_param",
                               std::string(name) + " must be a whole number between " +
                                   std::to_string(lo) + " and " + std::to_string(hi),
                               name);
      }
      *out = static_cast<int>(v);
      return Status::Ok();
    };
    AE_RETURN_IF_ERROR(number("days", 0, 3650, &o.days));
    AE_RETURN_IF_ERROR(number("expiry_days", 0, 3650, &o.expiry_days));
    int limit = 1000;
    AE_RETURN_IF_ERROR(number("limit", 1, 10000, &limit));
    o.limit = static_cast<size_t>(limit);
    o.kind = call.Param("kind");
    if (!o.kind.empty()) {
      const auto& kinds = ReconciliationKinds();
      if (std::find(kinds.begin(), kinds.end(), o.kind) == kinds.end()) {
        return InvalidArgument("request.bad_param", "kind is not a kind of finding", "kind");
      }
    }
    AE_ASSIGN_OR_RETURN(json report, ReconciliationReport(app, o));
    return Reply::Json(200, std::move(report));
  });
}

}  // namespace ae::api
