// ApiTokens against real RocksDB: the start-up move of tokens issued before keyed hashes,
// from views of the current format and from views of format 2 (live while they are
// rebuilt after an upgrade), and the verifiers surviving a reopen of the secret store.

#include "api/api_tokens.h"

#include <nlohmann/json.hpp>

#include "events/base/crypto.h"
#include "events/rocksdb_event_log.h"
#include "projections/all_projectors.h"
#include "tests/support/test_support.h"

namespace ae::api {
namespace {

using ae::testing::TempDir;
using nlohmann::json;

class ApiTokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    master_ = crypto::RandomBytes(32);
    OpenSecrets();
    events::RocksDbEventLogOptions lo;
    lo.path = dir_.Sub("log");
    auto log = events::RocksDbEventLog::Open(lo);
    ASSERT_THAT(log, IsOk());
    log_ = std::move(*log);
    projectors_ = proj::AllProjectors();
    proj::ViewStoreOptions vo;
    vo.path = dir_.Sub("views");
    vo.column_families = proj::AllColumnFamilies(projectors_);
    auto views = proj::ViewStore::Open(vo);
    ASSERT_THAT(views, IsOk());
    views_ = std::move(*views);
  }
  void OpenSecrets() {
    tokens_.reset();
    backend_.reset();
    secrets_.reset();
    auto secrets = events::SecretStore::Open(dir_.Sub("secrets"), master_);
    ASSERT_THAT(secrets, IsOk());
    secrets_ = std::move(*secrets);
    backend_ = std::make_unique<events::SecretStoreKeyBackend>(*secrets_, "api-token/");
    tokens_ = std::make_unique<ApiTokens>(*backend_, *secrets_);
  }
  void PutRow(const std::string& key, const json& row) {
    ASSERT_THAT(views_->WithDb([&](rocksdb::DB* db, const proj::ViewStore::Handles& h) {
      auto s = db->Put({}, h.at("tokens"), key, row.dump());
      return s.ok() ? Status::Ok() : Internal("test", s.ToString());
    }), IsOk());
  }
  // A token issued by a build from before keyed hashes: its event carries the SHA-256.
  void AppendLegacyEvent(const std::string& user, const std::string& token) {
    events::Envelope e;
    auto* p = e.mutable_user_token_issued();
    p->set_user_id(user);
    p->set_token_id(crypto::Hex(crypto::Sha256(token)).substr(0, 16));
    p->set_token_sha256(crypto::Sha256(token));
    ASSERT_THAT(log_->Append(StreamId("user", user), ExpectedVersion::Any(), {e}),
                IsOk());
  }
  bool Matches(const std::string& id, const std::string& user, const std::string& token) {
    auto m = tokens_->Matches(id, user, crypto::Sha256(token));
    EXPECT_THAT(m, IsOk());
    return m.ok() && *m;
  }

  TempDir dir_;
  std::string master_;
  std::unique_ptr<events::SecretStore> secrets_;
  std::unique_ptr<events::SecretStoreKeyBackend> backend_;
  std::unique_ptr<ApiTokens> tokens_;
  std::unique_ptr<events::RocksDbEventLog> log_;
  std::vector<std::unique_ptr<proj::Projector>> projectors_;
  std::unique_ptr<proj::ViewStore> views_;
};

TEST_F(ApiTokensTest, LegacyTokensOfBothViewFormatsAreMovedOnceAndCheckedByTheirKeyedVerifier) {
  const std::string old_view = "ae_" + crypto::Base64Url(crypto::RandomBytes(32));
  const std::string old_id = crypto::Hex(crypto::Sha256(old_view)).substr(0, 16);
  const std::string current = "ae_" + crypto::Base64Url(crypto::RandomBytes(32));
  const std::string current_id = crypto::Hex(crypto::Sha256(current)).substr(0, 16);
  // Format 2: the row is keyed by the token's SHA-256.
  PutRow(crypto::Sha256(old_view), {{"user_id", "u1"}, {"token_id", old_id}});
  // Format 3: the row is keyed by id; the hash is only in the event.
  AppendLegacyEvent("u2", current);
  PutRow(current_id, {{"user_id", "u2"}, {"token_id", current_id}, {"legacy", true},
                      {"created_at", "2026-01-01T00:00:00.000Z"}});
  // A token of this build: not legacy, nothing to move.
  PutRow("0123456789abcdef", {{"user_id", "u3"}, {"token_id", "0123456789abcdef"},
                              {"legacy", false}, {"created_at", "2026-01-01T00:00:00.000Z"}});
  EXPECT_FALSE(Matches(old_id, "u1", old_view));  // nothing in the store yet

  auto moved = tokens_->MigrateLegacy(*views_, *log_);
  ASSERT_THAT(moved, IsOk());
  EXPECT_EQ(*moved, 2u);
  EXPECT_TRUE(Matches(old_id, "u1", old_view));
  EXPECT_TRUE(Matches(current_id, "u2", current));
  EXPECT_FALSE(Matches(old_id, "u2", old_view));  // bound to its user
  EXPECT_FALSE(Matches(current_id, "u2", old_view));
  // What the store keeps is keyed, not the SHA-256 the log holds.
  auto stored = backend_->Get(old_id);
  ASSERT_THAT(stored, IsOk());
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->find(crypto::Sha256(old_view)), std::string::npos);

  // The same set is not moved again; the verifiers outlive the process.
  auto again = tokens_->MigrateLegacy(*views_, *log_);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(*again, 0u);
  OpenSecrets();
  EXPECT_TRUE(Matches(old_id, "u1", old_view));
  EXPECT_TRUE(Matches(current_id, "u2", current));

  // Forgotten (revoked) is gone.
  ASSERT_THAT(tokens_->Forget(old_id), IsOk());
  EXPECT_FALSE(Matches(old_id, "u1", old_view));
}

}  // namespace
}  // namespace ae::api
