#include "domain/kme/knox_connection.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

namespace ae::domain::kme {

namespace {
using google::protobuf::util::TimeUtil;

int64_t Ms(const google::protobuf::Timestamp& t) { return TimeUtil::TimestampToMilliseconds(t); }
}  // namespace

bool KnoxConnection::SameSettings(const KnoxConnection& o) const {
  return base_url == o.base_url && token_url == o.token_url && client_id == o.client_id &&
         customer_id == o.customer_id && auto_approve_uploads == o.auto_approve_uploads &&
         client_secret_ref == o.client_secret_ref &&
         client_secret_sha256 == o.client_secret_sha256;
}

KnoxState EvolveKnox(KnoxState s, const Envelope& e) {
  switch (e.payload_case()) {
    case Envelope::kKmeKnoxConnected: {
      const auto& p = e.kme_knox_connected();
      s = KnoxState{};
      s.connected = true;
      s.connection.connection_id = p.connection_id();
      s.connection.base_url = p.base_url();
      s.connection.token_url = p.token_url();
      s.connection.client_id = p.client_id();
      s.connection.customer_id = p.customer_id();
      s.connection.auto_approve_uploads = p.auto_approve_uploads();
      s.connection.client_secret_ref = p.client_secret_ref();
      s.connection.client_secret_sha256 = p.client_secret_sha256();
      break;
    }
    case Envelope::kKmeKnoxDisconnected:
      s = KnoxState{};
      break;
    case Envelope::kKmeSyncCompleted: {
      const auto& p = e.kme_sync_completed();
      if (!s.connected || p.connection_id() != s.connection.connection_id) break;
      if (!p.error().empty()) break;
      const int64_t started = Ms(p.started_at());
      s.last_success_started_ms = std::max(s.last_success_started_ms, started);
      if (p.full()) {
        s.last_full_success_started_ms = std::max(s.last_full_success_started_ms, started);
      }
      break;
    }
    default:
      break;
  }
  return s;
}

Result<std::vector<Envelope>> Decide(const KnoxState& s, const ConnectKnox& c) {
  const KnoxConnection& n = c.connection;
  auto bad = [](const char* field, const char* what) {
    return InvalidArgument("kme.knox_bad_connection", what, field);
  };
  if (n.base_url.empty()) return bad("base_url", "the Knox Cloud API URL is required");
  if (n.token_url.empty()) return bad("token_url", "the OAuth token URL is required");
  if (n.client_id.empty()) return bad("client_id", "the client id is required");
  if (n.client_secret_ref.empty() || n.client_secret_sha256.size() != 32) {
    return bad("client_secret", "the client secret's reference and fingerprint are required");
  }
  if (s.connected && s.connection.SameSettings(n)) return std::vector<Envelope>{};
  if (n.connection_id.empty()) return bad("connection_id", "a new connection needs its id");
  Envelope e;
  auto* p = e.mutable_kme_knox_connected();
  p->set_connection_id(n.connection_id);
  p->set_base_url(n.base_url);
  p->set_token_url(n.token_url);
  p->set_client_id(n.client_id);
  p->set_customer_id(n.customer_id);
  p->set_auto_approve_uploads(n.auto_approve_uploads);
  p->set_client_secret_ref(n.client_secret_ref);
  p->set_client_secret_sha256(n.client_secret_sha256);
  return std::vector<Envelope>{std::move(e)};
}

Result<std::vector<Envelope>> Decide(const KnoxState& s, const DisconnectKnox&) {
  if (!s.connected) return std::vector<Envelope>{};
  Envelope e;
  e.mutable_kme_knox_disconnected()->set_connection_id(s.connection.connection_id);
  return std::vector<Envelope>{std::move(e)};
}

Result<std::vector<Envelope>> Decide(const KnoxState&, const RecordKnoxSync& c) {
  if (c.summary.sync_id().empty()) {
    return InvalidArgument("kme.knox_bad_sync", "a sync summary needs its sync id");
  }
  Envelope e;
  *e.mutable_kme_sync_completed() = c.summary;
  return std::vector<Envelope>{std::move(e)};
}

std::string KnoxConnectionStateFor(const std::string& reason) {
  if (reason.empty()) return kKnoxStateOk;
  if (reason == "knox.unauthorized" || reason == "knox.forbidden" ||
      reason == "kme.knox_secret_missing") {
    return kKnoxStateUnauthorized;
  }
  if (reason == kKnoxSyncCancelled) return "";
  return kKnoxStateUnavailable;
}

KnoxSyncPlan PlanKnoxSync(const KnoxState& s, bool force_full, int64_t now_ms,
                          const KnoxSyncPolicy& policy) {
  KnoxSyncPlan plan;
  if (force_full || s.last_success_started_ms <= 0 || s.last_full_success_started_ms <= 0 ||
      now_ms - s.last_full_success_started_ms >= policy.full_every_ms) {
    return plan;
  }
  plan.full = false;
  plan.changed_after_ms = std::max<int64_t>(0, s.last_success_started_ms - policy.overlap_ms);
  return plan;
}

}  // namespace ae::domain::kme
