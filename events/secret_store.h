#pragma once
// SecretStore: secrets (private keys, OAuth credentials, person keys) kept in
// their own RocksDB instance, each value sealed with AES-256-GCM under the
// process's master key, bound to its name. Events carry only a reference (the
// secret's name) and a fingerprint. Thread-safe.
//
// PersonKeys: the per-person keys of crypto-shredding. Personal data is sealed
// under the person's key; Destroy() makes every sealed copy unreadable.

#include <rocksdb/db.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "autoenroll/events/v1/events.pb.h"
#include "events/base/status.h"

namespace ae::events {

class SecretStore {
 public:
  // `master_key` must be 32 bytes.
  // `read_only`: for tools beside a running server (no lock; Put/Delete fail).
  static Result<std::unique_ptr<SecretStore>> Open(const std::string& path,
                                                   const std::string& master_key,
                                                   bool read_only = false);
  ~SecretStore();

  Status Put(const std::string& name, const std::string& plaintext);
  // Puts every (name, plaintext) pair in one durable write.
  Status PutMany(const std::vector<std::pair<std::string, std::string>>& secrets);
  // nullopt when absent.
  Result<std::optional<std::string>> Get(const std::string& name) const;
  // Deletes the secret and compacts it away, so no copy stays on disk.
  Status Delete(const std::string& name);

  // A consistent copy of the store in `dir` (events/rocksdb_backup.h), while it is written.
  Status Checkpoint(const std::string& dir) const;

  // A key derived for one purpose (HMAC-SHA256 based) from the store's root key: the
  // secret "root/v1" when present (written by the first master key rotation, holding the
  // key the store started with), else the master key. Rotating the master key therefore
  // never changes a derived key (user ids, the person-key topic's sealing key, ...).
  std::string DeriveKey(const std::string& purpose) const;

  // Re-seals every secret of the store at `path` under `new_master` in one durable batch,
  // keeps the root of derived keys, and compacts so no value sealed under `old_master`
  // stays on disk. kFailedPrecondition "secrets.wrong_master_key" when `old_master` does
  // not open the store. Returns the number of secrets re-sealed.
  static Result<size_t> RotateMasterKey(const std::string& path, const std::string& old_master,
                                        const std::string& new_master);

 private:
  SecretStore() = default;
  std::string master_key_;
  std::string root_key_;
  std::unique_ptr<rocksdb::DB> db_;
};

// Opens the secret store at `path` with the master key in `key_file` (created when `create`
// and missing). A rotation interrupted after the store was re-sealed leaves the new key in
// `<key_file>.new`: it is then used, and (unless `read_only`) moved over `key_file`.
Result<std::unique_ptr<SecretStore>> OpenSecretStore(const std::string& path,
                                                     const std::string& key_file, bool create,
                                                     bool read_only);
// Writes a master key file (64 hex characters, mode 0600, fsync). Fails if it exists.
Status WriteMasterKeyFile(const std::string& path, const std::string& key);

// Loads the master key from `path` (32 raw bytes or 64 hex characters). When
// `create` and the file is missing, generates one with mode 0600.
Result<std::string> LoadOrCreateMasterKey(const std::string& path, bool create);

// Where person keys (and API token verifiers) live: the local secret store (embedded
// mode) or a compacted Kafka topic shared by every process of a deployment (Kafka mode).
class KeyBackend {
 public:
  virtual ~KeyBackend() = default;
  // nullopt when the person has no key (never had one, or was forgotten).
  virtual Result<std::optional<std::string>> Get(const std::string& subject_id) = 0;
  // Stores a new key durably before returning.
  virtual Status Put(const std::string& subject_id, const std::string& key) = 0;
  // Stores several keys durably before returning (one write where the backend can).
  virtual Status PutMany(const std::vector<std::pair<std::string, std::string>>& keys);
  // Destroys the key everywhere it is kept.
  virtual Status Destroy(const std::string& subject_id) = 0;
};

// Keys in the local secret store, as "<prefix><subject_id>" ("person/<subject_id>" for
// person keys), with an in-memory cache (this process is the only one that changes them).
class SecretStoreKeyBackend : public KeyBackend {  // Thread-safe.
 public:
  explicit SecretStoreKeyBackend(SecretStore& store, std::string prefix = "person/")
      : store_(store), prefix_(std::move(prefix)) {}
  Result<std::optional<std::string>> Get(const std::string& subject_id) override;
  Status Put(const std::string& subject_id, const std::string& key) override;
  Status PutMany(const std::vector<std::pair<std::string, std::string>>& keys) override;
  Status Destroy(const std::string& subject_id) override;

 private:
  SecretStore& store_;
  const std::string prefix_;
  std::mutex mu_;
  std::unordered_map<std::string, std::string> cache_;  // guarded by mu_
};

class PersonKeys {  // Thread-safe.
 public:
  explicit PersonKeys(KeyBackend& store) : store_(store) {}

  // Seals `data` under the key of `subject_id`, creating the key if needed.
  Result<autoenroll::events::v1::SealedPersonal> Seal(
      const std::string& subject_id, const autoenroll::events::v1::PersonalData& data);
  // The plaintext, or nullopt when the person has been forgotten (key destroyed).
  Result<std::optional<autoenroll::events::v1::PersonalData>> Open(
      const autoenroll::events::v1::SealedPersonal& sealed) const;
  // Destroys the person's key.
  Status Destroy(const std::string& subject_id);

 private:
  KeyBackend& store_;
  std::mutex create_mu_;  // one key per person even when two seal at once
};

}  // namespace ae::events
