#pragma once
// Shared test fixtures: temporary directories, polling waits, status matchers,
// a fault-injecting RocksDB file system, and event builders.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "events/base/status.h"
#include "events/event_log.h"

namespace ae::testing {

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string Sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Polls `pred` until it holds or `timeout` passes. Returns the last value.
bool WaitFor(const std::function<bool()>& pred,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A RocksDB Env whose writable files fail Append/Sync while `fail` is set.
class FaultInjection {
 public:
  FaultInjection();
  ~FaultInjection();
  rocksdb::Env* env() { return env_.get(); }
  void SetFailWrites(bool fail) { fail_->store(fail); }

 private:
  std::shared_ptr<std::atomic<bool>> fail_;
  std::shared_ptr<rocksdb::FileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
};

// A minimal event for log tests: a PolicyCreated with the given name.
events::Envelope MakePolicyEvent(const std::string& name);

std::string SourceDir();  // AE_SOURCE_DIR
// The whole content of a file ("" when it cannot be read).
std::string ReadWholeFile(const std::filesystem::path& path);
std::string BinaryPath();  // AE_BINARY: the autoenroll executable

}  // namespace ae::testing

// Matchers: EXPECT_THAT(status, IsOk()); EXPECT_THAT(s, StatusIs(kConflict, "log.x")).
MATCHER(IsOk, "is OK") {
  const ae::Status& s = [&]() -> const ae::Status& {
    if constexpr (std::is_same_v<std::decay_t<decltype(arg)>, ae::Status>) return arg;
    else return arg.status();
  }();
  if (!s.ok()) *result_listener << s.ToString();
  return s.ok();
}

MATCHER_P2(StatusIs, code, reason, "has the given code and reason") {
  const ae::Status& s = [&]() -> const ae::Status& {
    if constexpr (std::is_same_v<std::decay_t<decltype(arg)>, ae::Status>) return arg;
    else return arg.status();
  }();
  *result_listener << s.ToString();
  return s.code() == code && s.reason() == std::string(reason);
}
