#include "events/secret_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "events/base/crypto.h"
#include "events/rocksdb_backup.h"

namespace ae::events {

namespace {
constexpr char kRootName[] = "root/v1";

Status FromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return Status::Ok();
  return Unavailable("secrets.unavailable", std::string(what) + ": " + s.ToString());
}
}  // namespace

Result<std::unique_ptr<SecretStore>> SecretStore::Open(const std::string& path,
                                                       const std::string& master_key,
                                                       bool read_only) {
  if (master_key.size() != crypto::kAeadKeyBytes) {
    return InvalidArgument("secrets.bad_master_key", "the master key must be 32 bytes");
  }
  std::unique_ptr<SecretStore> s(new SecretStore());
  s->master_key_ = master_key;
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  AE_RETURN_IF_ERROR(FromRocks(read_only ? rocksdb::DB::OpenForReadOnly(o, path, &raw)
                                         : rocksdb::DB::Open(o, path, &raw),
                               "open secret store"));
  s->db_.reset(raw);
  s->root_key_ = master_key;
  std::string sealed_root;
  auto got = s->db_->Get({}, kRootName, &sealed_root);
  if (got.ok()) {
    auto root = crypto::Open(master_key, sealed_root, kRootName);
    if (!root.ok()) {
      return FailedPrecondition("secrets.wrong_master_key",
                                "the master key does not open the secret store at " + path);
    }
    s->root_key_ = *root;
  } else if (!got.IsNotFound()) {
    return FromRocks(got, "read secret store root");
  }
  return s;
}

Status SecretStore::Checkpoint(const std::string& dir) const {
  return CheckpointRocksDb(db_.get(), dir);
}

Result<size_t> SecretStore::RotateMasterKey(const std::string& path,
                                            const std::string& old_master,
                                            const std::string& new_master) {
  if (new_master.size() != crypto::kAeadKeyBytes) {
    return InvalidArgument("secrets.bad_master_key", "the new master key must be 32 bytes");
  }
  if (new_master == old_master) {
    return InvalidArgument("secrets.same_master_key", "the new master key is the old one");
  }
  AE_ASSIGN_OR_RETURN(auto store, Open(path, old_master, /*read_only=*/false));
  rocksdb::WriteBatch batch;
  size_t n = 0;
  bool has_root = false;
  std::unique_ptr<rocksdb::Iterator> it(store->db_->NewIterator({}));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string name = it->key().ToString();
    auto plain = crypto::Open(old_master, std::string_view(it->value().data(), it->value().size()),
                              name);
    if (!plain.ok()) {
      return FailedPrecondition("secrets.wrong_master_key",
                                "the master key does not open the secret " + name);
    }
    AE_ASSIGN_OR_RETURN(std::string sealed, crypto::Seal(new_master, *plain, name));
    batch.Put(name, sealed);
    has_root = has_root || name == kRootName;
    ++n;
  }
  AE_RETURN_IF_ERROR(FromRocks(it->status(), "read secrets"));
  it.reset();
  if (!has_root) {  // derived keys keep coming from the key the store started with
    AE_ASSIGN_OR_RETURN(std::string sealed, crypto::Seal(new_master, store->root_key_, kRootName));
    batch.Put(kRootName, sealed);
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  AE_RETURN_IF_ERROR(FromRocks(store->db_->Write(wo, &batch), "re-seal secrets"));
  AE_RETURN_IF_ERROR(FromRocks(store->db_->Flush({}), "flush secrets"));
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  AE_RETURN_IF_ERROR(FromRocks(store->db_->CompactRange(co, nullptr, nullptr), "compact secrets"));
  return n;
}

Status WriteMasterKeyFile(const std::string& path, const std::string& key) {
  std::string hex = crypto::Hex(key) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable("secrets.master_key_write", "cannot create " + path);
  bool ok = ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Unavailable("secrets.master_key_write", "cannot write " + path);
  return Status::Ok();
}

Result<std::unique_ptr<SecretStore>> OpenSecretStore(const std::string& path,
                                                     const std::string& key_file, bool create,
                                                     bool read_only) {
  AE_ASSIGN_OR_RETURN(std::string master, LoadOrCreateMasterKey(key_file, create));
  auto store = SecretStore::Open(path, master, read_only);
  if (store.ok() || store.status().reason() != "secrets.wrong_master_key") return store;
  const std::string next = key_file + ".new";
  std::error_code ec;
  if (!std::filesystem::exists(next, ec)) return store;
  AE_ASSIGN_OR_RETURN(std::string new_master, LoadOrCreateMasterKey(next, false));
  AE_ASSIGN_OR_RETURN(auto reopened, SecretStore::Open(path, new_master, read_only));
  if (!read_only) {
    std::filesystem::rename(next, key_file, ec);  // finish the interrupted rotation
    if (ec) return Unavailable("secrets.master_key_write", "cannot move " + next + ": " + ec.message());
  }
  return reopened;
}

SecretStore::~SecretStore() = default;

Status SecretStore::Put(const std::string& name, const std::string& plaintext) {
  AE_ASSIGN_OR_RETURN(std::string sealed, crypto::Seal(master_key_, plaintext, name));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Put(wo, name, sealed), "write secret");
}

Status SecretStore::PutMany(const std::vector<std::pair<std::string, std::string>>& secrets) {
  rocksdb::WriteBatch batch;
  for (const auto& [name, plaintext] : secrets) {
    AE_ASSIGN_OR_RETURN(std::string sealed, crypto::Seal(master_key_, plaintext, name));
    batch.Put(name, sealed);
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Write(wo, &batch), "write secrets");
}

Result<std::optional<std::string>> SecretStore::Get(const std::string& name) const {
  std::string sealed;
  auto s = db_->Get({}, name, &sealed);
  if (s.IsNotFound()) return std::optional<std::string>();
  AE_RETURN_IF_ERROR(FromRocks(s, "read secret"));
  AE_ASSIGN_OR_RETURN(std::string plain, crypto::Open(master_key_, sealed, name));
  return std::optional<std::string>(std::move(plain));
}

Status SecretStore::Delete(const std::string& name) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  AE_RETURN_IF_ERROR(FromRocks(db_->Delete(wo, name), "delete secret"));
  AE_RETURN_IF_ERROR(FromRocks(db_->Flush({}), "flush secrets"));
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  return FromRocks(db_->CompactRange(co, nullptr, nullptr), "compact secrets");
}

std::string SecretStore::DeriveKey(const std::string& purpose) const {
  return crypto::HmacSha256(root_key_, "autoenroll/" + purpose);
}

Result<std::string> LoadOrCreateMasterKey(const std::string& path, bool create) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (!create) {
      return FailedPrecondition("secrets.master_key_missing", "master key file " + path + " not found");
    }
    std::string key = crypto::RandomBytes(32);
    AE_RETURN_IF_ERROR(WriteMasterKeyFile(path, key));
    return key;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string content = ss.str();
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r' ||
                              content.back() == ' ')) {
    content.pop_back();
  }
  if (content.size() == 32) return content;
  if (content.size() == 64) {
    auto raw = crypto::FromHex(content);
    if (raw.ok()) return raw;
  }
  return InvalidArgument("secrets.bad_master_key",
                         "master key file must hold 32 bytes or 64 hex characters");
}

Status KeyBackend::PutMany(const std::vector<std::pair<std::string, std::string>>& keys) {
  for (const auto& [subject_id, key] : keys) AE_RETURN_IF_ERROR(Put(subject_id, key));
  return Status::Ok();
}

Result<std::optional<std::string>> SecretStoreKeyBackend::Get(const std::string& subject_id) {
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(subject_id);
    if (it != cache_.end()) return std::optional<std::string>(it->second);
  }
  AE_ASSIGN_OR_RETURN(auto key, store_.Get(prefix_ + subject_id));
  if (key) {
    std::lock_guard lock(mu_);
    cache_[subject_id] = *key;
  }
  return key;
}

Status SecretStoreKeyBackend::Put(const std::string& subject_id, const std::string& key) {
  AE_RETURN_IF_ERROR(store_.Put(prefix_ + subject_id, key));
  std::lock_guard lock(mu_);
  cache_[subject_id] = key;
  return Status::Ok();
}

Status SecretStoreKeyBackend::PutMany(
    const std::vector<std::pair<std::string, std::string>>& keys) {
  std::vector<std::pair<std::string, std::string>> named;
  named.reserve(keys.size());
  for (const auto& [subject_id, key] : keys) named.emplace_back(prefix_ + subject_id, key);
  AE_RETURN_IF_ERROR(store_.PutMany(named));
  std::lock_guard lock(mu_);
  for (const auto& [subject_id, key] : keys) cache_[subject_id] = key;
  return Status::Ok();
}

Status SecretStoreKeyBackend::Destroy(const std::string& subject_id) {
  {
    std::lock_guard lock(mu_);
    cache_.erase(subject_id);
  }
  return store_.Delete(prefix_ + subject_id);
}

Result<autoenroll::events::v1::SealedPersonal> PersonKeys::Seal(
    const std::string& subject_id, const autoenroll::events::v1::PersonalData& data) {
  AE_ASSIGN_OR_RETURN(auto key, store_.Get(subject_id));
  if (!key) {
    std::lock_guard lock(create_mu_);
    auto again = store_.Get(subject_id);
    if (!again.ok()) return again.status();
    if (*again) {
      key = *again;
    } else {
      key = crypto::RandomBytes(32);
      AE_RETURN_IF_ERROR(store_.Put(subject_id, *key));
    }
  }
  autoenroll::events::v1::SealedPersonal sealed;
  sealed.set_subject_id(subject_id);
  sealed.set_key_version(1);
  AE_ASSIGN_OR_RETURN(std::string ct, crypto::Seal(*key, data.SerializeAsString(), subject_id));
  sealed.set_ciphertext(std::move(ct));
  return sealed;
}

Result<std::optional<autoenroll::events::v1::PersonalData>> PersonKeys::Open(
    const autoenroll::events::v1::SealedPersonal& sealed) const {
  using Out = std::optional<autoenroll::events::v1::PersonalData>;
  if (sealed.subject_id().empty()) return Out();
  AE_ASSIGN_OR_RETURN(auto key, store_.Get(sealed.subject_id()));
  if (!key) return Out();
  AE_ASSIGN_OR_RETURN(std::string plain,
                      crypto::Open(*key, sealed.ciphertext(), sealed.subject_id()));
  autoenroll::events::v1::PersonalData data;
  if (!data.ParseFromString(plain)) {
    return Corruption("secrets.personal_undecodable", "sealed personal data does not decode");
  }
  return Out(std::move(data));
}

Status PersonKeys::Destroy(const std::string& subject_id) {
  return store_.Destroy(subject_id);
}

}  // namespace ae::events
