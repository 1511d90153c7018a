#include "api/api_tokens.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/users/users.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"
#include "projections/user_records.h"

namespace ae::api {

namespace users = domain::users;
using nlohmann::json;

namespace {
// Where the last-use times live (the local secret store; not a secret, but private).
constexpr char kUsageName[] = "api-tokens/last-used";
// The token-store entry that names the set of legacy tokens moved last time.
constexpr char kLegacyMarker[] = "legacy-migrated";
constexpr size_t kVerifierBytes = 32;
}  // namespace

ApiTokens::ApiTokens(events::KeyBackend& store, events::SecretStore& secrets)
    : store_(store),
      secrets_(secrets),
      id_key_(secrets.DeriveKey("api-token-id/v1")),
      verifier_key_(secrets.DeriveKey("api-token/v1")) {}

ApiTokens::~ApiTokens() { StopFlushing(); }

ApiTokens::Fresh ApiTokens::Generate() const {
  Fresh f;
  f.token = "ae_" + crypto::Base64Url(crypto::RandomBytes(32));
  f.token_id = IdFor(f.token);
  return f;
}

std::string ApiTokens::IdFor(std::string_view token) const {
  return users::TokenIdFor(id_key_, token);
}

Status ApiTokens::Register(const std::string& token_id, const std::string& user_id,
                           std::string_view token) {
  return store_.Put(token_id, users::TokenVerifier(verifier_key_, crypto::Sha256(token)) + user_id);
}

Result<bool> ApiTokens::Matches(const std::string& token_id, const std::string& user_id,
                                std::string_view token_sha256) {
  AE_ASSIGN_OR_RETURN(auto stored, store_.Get(token_id));
  if (!stored || stored->size() <= kVerifierBytes) return false;
  std::string verifier = users::TokenVerifier(verifier_key_, token_sha256);
  bool same = crypto::ConstantTimeEquals(std::string_view(*stored).substr(0, kVerifierBytes),
                                         verifier);
  return same && std::string_view(*stored).substr(kVerifierBytes) == user_id;
}

Status ApiTokens::Forget(const std::string& token_id) {
  {
    std::lock_guard lock(usage_mu_);
    LoadUsage().IgnoreError();  // else a saved time would come back on the next load
    if (last_used_.erase(token_id) > 0) usage_dirty_ = true;
  }
  return store_.Destroy(token_id);
}

Result<size_t> ApiTokens::MigrateLegacy(proj::ViewStore& views, const events::EventLog& log) {
  std::vector<std::pair<std::string, std::string>> puts;  // token id -> verifier + user id
  std::map<std::string, std::set<std::string>> from_log;  // user id -> legacy token ids
  std::string listed;                                     // every legacy id, in key order
  Status bad;
  AE_RETURN_IF_ERROR(views.Scan("tokens", "", "", [&](std::string_view k, std::string_view v) {
    auto row = proj::DecodeToken(v);
    if (!row.ok()) {
      bad = row.status();
      return false;
    }
    const std::string id = row->token_id, user = row->user_id;
    if (k.size() == 32 && !row->legacy) {
      // A view of format 2, still live while it is rebuilt: the key is the SHA-256.
      puts.emplace_back(id, users::TokenVerifier(verifier_key_, k) + user);
    } else if (row->legacy.value_or(false)) {
      from_log[user].insert(id);
    } else {
      return true;
    }
    listed += id + "\n";
    return true;
  }));
  AE_RETURN_IF_ERROR(bad);
  if (listed.empty()) return size_t{0};
  const std::string digest = crypto::Hex(crypto::Sha256(listed));
  AE_ASSIGN_OR_RETURN(auto done, store_.Get(kLegacyMarker));
  if (done && *done == digest) return size_t{0};
  for (const auto& [user, ids] : from_log) {
    AE_ASSIGN_OR_RETURN(auto records, log.ReadStream(StreamId("user", user)));
    for (const auto& r : records) {
      if (!r.envelope.has_user_token_issued()) continue;
      const auto& issued = r.envelope.user_token_issued();
      if (issued.token_sha256().size() != 32 || !ids.count(issued.token_id())) continue;
      puts.emplace_back(issued.token_id(),
                        users::TokenVerifier(verifier_key_, issued.token_sha256()) + user);
    }
  }
  AE_RETURN_IF_ERROR(store_.PutMany(puts));
  AE_RETURN_IF_ERROR(store_.Put(kLegacyMarker, digest));
  return puts.size();
}

Status ApiTokens::LoadUsage() {
  if (usage_loaded_) return Status::Ok();
  AE_ASSIGN_OR_RETURN(auto saved, secrets_.Get(kUsageName));
  if (saved) {
    json j = json::parse(*saved, nullptr, false);
    if (j.is_object()) {
      for (const auto& [id, ms] : j.items()) {
        if (!ms.is_number_integer()) continue;
        int64_t& at = last_used_[id];
        at = std::max(at, ms.get<int64_t>());
      }
    }
  }
  usage_loaded_ = true;
  return Status::Ok();
}

void ApiTokens::Touch(const std::string& token_id, int64_t now_ms) {
  std::lock_guard lock(usage_mu_);
  int64_t& at = last_used_[token_id];
  if (now_ms / 1000 > at / 1000) {  // to the second: most requests change nothing
    at = now_ms;
    usage_dirty_ = true;
  }
}

std::optional<int64_t> ApiTokens::LastUsed(const std::string& token_id) {
  std::lock_guard lock(usage_mu_);
  if (!LoadUsage().ok()) log::Get("api")->warn("cannot read the API tokens' last-use times");
  auto it = last_used_.find(token_id);
  if (it == last_used_.end() || it->second == 0) return std::nullopt;
  return it->second;
}

Status ApiTokens::FlushUsage() {
  std::string out;
  {
    std::lock_guard lock(usage_mu_);
    if (!usage_dirty_) return Status::Ok();
    AE_RETURN_IF_ERROR(LoadUsage());  // times saved by an earlier run stay
    json j = json::object();
    for (const auto& [id, ms] : last_used_) {
      if (ms > 0) j[id] = ms;
    }
    out = j.dump();
    usage_dirty_ = false;
  }
  Status s = secrets_.Put(kUsageName, out);
  if (!s.ok()) {
    std::lock_guard lock(usage_mu_);
    usage_dirty_ = true;  // next time
  }
  return s;
}

void ApiTokens::StartFlushing(std::chrono::milliseconds interval) {
  if (flusher_.joinable()) return;
  flusher_ = std::jthread([this, interval](std::stop_token stop) {
    while (!stop.stop_requested()) {
      {
        std::unique_lock lock(flush_mu_);
        flush_cv_.wait_for(lock, stop, interval, [] { return false; });
      }
      Status s = FlushUsage();
      if (!s.ok()) {
        log::Get("api")->warn("cannot save the API tokens' last-use times: {}", s.ToString());
      }
    }
  });
}

void ApiTokens::StopFlushing() {
  if (!flusher_.joinable()) return;
  flusher_.request_stop();
  flusher_.join();  // the loop flushes once more on its way out
}

}  // namespace ae::api
