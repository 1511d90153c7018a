#include "tests/support/test_support.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <random>
#include <thread>

namespace ae::testing {

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::filesystem::path base = tmp && *tmp ? tmp : "/tmp";
  std::random_device rd;
  for (int i = 0; i < 100; ++i) {
    auto p = base / ("ae-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    if (std::filesystem::create_directory(p)) {
      path_ = p;
      return;
    }
  }
  std::abort();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

namespace {
class FailingFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FailingFile(std::unique_ptr<rocksdb::FSWritableFile> f, std::shared_ptr<std::atomic<bool>> fail)
      : FSWritableFileOwnerWrapper(std::move(f)), fail_(std::move(fail)) {}
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* d) override {
    if (fail_->load()) return rocksdb::IOStatus::IOError("injected write failure");
    return FSWritableFileOwnerWrapper::Append(data, o, d);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    if (fail_->load()) return rocksdb::IOStatus::IOError("injected sync failure");
    return FSWritableFileOwnerWrapper::Sync(o, d);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    if (fail_->load()) return rocksdb::IOStatus::IOError("injected sync failure");
    return FSWritableFileOwnerWrapper::Fsync(o, d);
  }

 private:
  std::shared_ptr<std::atomic<bool>> fail_;
};

class FailingFs : public rocksdb::FileSystemWrapper {
 public:
  FailingFs(std::shared_ptr<rocksdb::FileSystem> base, std::shared_ptr<std::atomic<bool>> fail)
      : FileSystemWrapper(std::move(base)), fail_(std::move(fail)) {}
  const char* Name() const override { return "FailingFs"; }
  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* d) override {
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    auto s = FileSystemWrapper::NewWritableFile(f, o, &inner, d);
    if (s.ok()) r->reset(new FailingFile(std::move(inner), fail_));
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* d) override {
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    auto s = FileSystemWrapper::ReopenWritableFile(f, o, &inner, d);
    if (s.ok()) r->reset(new FailingFile(std::move(inner), fail_));
    return s;
  }

 private:
  std::shared_ptr<std::atomic<bool>> fail_;
};
}  // namespace

FaultInjection::FaultInjection()
    : fail_(std::make_shared<std::atomic<bool>>(false)),
      fs_(std::make_shared<FailingFs>(rocksdb::FileSystem::Default(), fail_)),
      env_(rocksdb::NewCompositeEnv(fs_)) {}

FaultInjection::~FaultInjection() = default;

events::Envelope MakePolicyEvent(const std::string& name) {
  events::Envelope env;
  auto* p = env.mutable_policy_created();
  p->set_policy_id(name);
  p->set_name(name);
  env.mutable_actor()->set_kind(autoenroll::events::v1::Actor::KIND_SYSTEM);
  env.mutable_actor()->set_id("test");
  return env;
}

std::string ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string SourceDir() {
  const char* s = std::getenv("AE_SOURCE_DIR");
  return s ? s : ".";
}

std::string BinaryPath() {
  const char* s = std::getenv("AE_BINARY");
  return s ? s : "autoenroll";
}

}  // namespace ae::testing
