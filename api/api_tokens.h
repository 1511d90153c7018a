#pragma once
// ApiTokens: what proves an API token, kept where only the engine reads it.
//
// Events and views name a token by its id (UserTokenIssued.token_id, the users
// view). What proves the token is its verifier,
//   HMAC-SHA256(K, SHA-256(token)),  K = the secret store's derived "api-token/v1",
// stored with the user's id in the token store:
//   embedded  the secret store, as "api-token/<token_id>";
//   Kafka     the compacted topic "<events topic>.tokens", sealed under the derived
//             "api-token-topic/v1" key (events/kafka_key_store.h), so that every
//             process of the deployment (they share the root of derived keys) checks
//             the same tokens.
// The verifier is stored before the event that issues the token. Neither a restart nor
// a rebuild of the views from the log (which holds no hash) touches it.
//
// Token ids: users::TokenIdFor(derived "api-token-id/v1", token) for the tokens this
// build issues and the administrator's seed; users::LegacyTokenIdFor(token) for tokens
// issued before keyed hashes, whose events carry the deprecated token_sha256:
// MigrateLegacy() moves that hash, keyed, into the store at start.
//
// Last use: Touch() notes it in memory (no write per request). A thread writes the
// times that changed to the local secret store ("api-tokens/last-used") every
// flush interval and once more at StopFlushing(). In Kafka mode each process knows
// the uses it served.
//
// Thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "events/event_log.h"
#include "events/secret_store.h"
#include "projections/view_store.h"

namespace ae::api {

class ApiTokens {
 public:
  // `store` keeps the verifiers; `secrets` gives the keys and keeps the last-use times.
  ApiTokens(events::KeyBackend& store, events::SecretStore& secrets);
  ~ApiTokens();

  struct Fresh {
    std::string token;     // "ae_" + 43 base64url characters (256 random bits)
    std::string token_id;
  };
  Fresh Generate() const;
  // The id of a token issued by this build (or the seed).
  std::string IdFor(std::string_view token) const;

  // Stores `token`'s verifier for `user_id` under `token_id` (idempotent).
  Status Register(const std::string& token_id, const std::string& user_id,
                  std::string_view token);
  // True when the store holds, under `token_id`, the verifier of the token whose
  // SHA-256 is `token_sha256`, for `user_id` (compared in constant time).
  Result<bool> Matches(const std::string& token_id, const std::string& user_id,
                       std::string_view token_sha256);
  // Destroys the verifier and forgets the last use.
  Status Forget(const std::string& token_id);

  // Stores the verifiers of the active tokens that were issued before keyed hashes (the
  // `legacy` rows of the tokens view; in a view of format 2, the rows keyed by SHA-256),
  // from the token_sha256 of their events. Skips the work when the same set was moved
  // before. Returns how many were stored.
  Result<size_t> MigrateLegacy(proj::ViewStore& views, const events::EventLog& log);

  // Notes that `token_id` authenticated a request at `now_ms`.
  void Touch(const std::string& token_id, int64_t now_ms);
  // When `token_id` last authenticated a request in this process (ms), if ever.
  std::optional<int64_t> LastUsed(const std::string& token_id);
  // Writes the last-use times when they changed.
  Status FlushUsage();
  // Starts / stops the thread that calls FlushUsage() every `interval` (stopping
  // flushes once more).
  void StartFlushing(std::chrono::milliseconds interval);
  void StopFlushing();

 private:
  Status LoadUsage();  // under usage_mu_

  events::KeyBackend& store_;
  events::SecretStore& secrets_;
  const std::string id_key_;
  const std::string verifier_key_;

  std::mutex usage_mu_;
  bool usage_loaded_ = false;                           // guarded by usage_mu_
  bool usage_dirty_ = false;                            // guarded by usage_mu_
  std::unordered_map<std::string, int64_t> last_used_;  // guarded by usage_mu_

  std::mutex flush_mu_;
  std::condition_variable_any flush_cv_;
  std::jthread flusher_;  // last: stopped before the members above go
};

}  // namespace ae::api
