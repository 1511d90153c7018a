// Rotating the master key of the secret store: every secret re-sealed, derived keys
// unchanged, the old key useless, and an interrupted rotation completed at the next open.

#include <rocksdb/db.h>

#include <filesystem>

#include "events/base/crypto.h"
#include "events/secret_store.h"
#include "tests/support/test_support.h"

namespace ae::events {
namespace {

using ae::testing::TempDir;

TEST(SecretRotation, ResealsEverySecretAndKeepsDerivedKeys) {
  TempDir dir;
  const std::string path = dir.Sub("secrets");
  const std::string old_key = crypto::RandomBytes(32), new_key = crypto::RandomBytes(32);
  std::string derived;
  {
    auto store = SecretStore::Open(path, old_key);
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT((*store)->Put("dep/acct-1/key", "-----BEGIN PRIVATE KEY-----..."), IsOk());
    ASSERT_THAT((*store)->Put("person/u1", std::string(32, 'k')), IsOk());
    derived = (*store)->DeriveKey("user-id/v1");
  }
  auto n = SecretStore::RotateMasterKey(path, old_key, new_key);
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 2u);
  // The old key no longer opens the store; the new one opens every secret.
  auto with_old = SecretStore::Open(path, old_key);
  ASSERT_FALSE(with_old.ok());
  EXPECT_EQ(with_old.status().reason(), "secrets.wrong_master_key");
  auto store = SecretStore::Open(path, new_key);
  ASSERT_THAT(store, IsOk());
  auto key = (*store)->Get("dep/acct-1/key");
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(**key, "-----BEGIN PRIVATE KEY-----...");
  EXPECT_EQ((*store)->DeriveKey("user-id/v1"), derived);  // user ids stay the same
  store->reset();
  // Nothing on disk opens with the old key any more (compacted away).
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::Options(), path, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}));
  int values = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++values) {
    EXPECT_FALSE(crypto::Open(old_key, it->value().ToString(), it->key().ToString()).ok());
  }
  EXPECT_EQ(values, 3);  // two secrets and the root of derived keys
  // A second rotation keeps the same root.
  const std::string third = crypto::RandomBytes(32);
  it.reset();
  db.reset();
  ASSERT_THAT(SecretStore::RotateMasterKey(path, new_key, third), IsOk());
  auto again = SecretStore::Open(path, third);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ((*again)->DeriveKey("user-id/v1"), derived);
  EXPECT_FALSE(SecretStore::RotateMasterKey(path, third, third).ok());
}

TEST(SecretRotation, AnInterruptedRotationIsCompletedByTheNextOpen) {
  TempDir dir;
  const std::string path = dir.Sub("secrets"), key_file = dir.Sub("master-key");
  {
    auto store = OpenSecretStore(path, key_file, /*create=*/true, /*read_only=*/false);
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT((*store)->Put("kme/token", "t0ken"), IsOk());
  }
  auto old_key = LoadOrCreateMasterKey(key_file, false);
  ASSERT_THAT(old_key, IsOk());
  // The rotation wrote <key>.new and re-sealed, then stopped before the rename.
  const std::string new_key = crypto::RandomBytes(32);
  ASSERT_THAT(WriteMasterKeyFile(key_file + ".new", new_key), IsOk());
  ASSERT_THAT(SecretStore::RotateMasterKey(path, *old_key, new_key), IsOk());
  auto store = OpenSecretStore(path, key_file, false, false);
  ASSERT_THAT(store, IsOk());
  EXPECT_EQ(**(*store)->Get("kme/token"), "t0ken");
  EXPECT_FALSE(std::filesystem::exists(key_file + ".new"));
  auto now = LoadOrCreateMasterKey(key_file, false);
  ASSERT_THAT(now, IsOk());
  EXPECT_EQ(*now, new_key);
}

}  // namespace
}  // namespace ae::events
