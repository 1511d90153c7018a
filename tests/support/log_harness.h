#pragma once
// LogHarness: one EventLog implementation under test, with a restart. The
// conformance suite runs every test against each harness in LogHarnessTypes.

#include <memory>

#include "events/rocksdb_event_log.h"
#include "tests/support/test_support.h"

namespace ae::testing {

class RocksDbLogHarness {
 public:
  RocksDbLogHarness() { AE_CHECK_OK(Reopen()); }
  events::EventLog& log() { return *log_; }
  // Closes and reopens the log on the same storage.
  Status Reopen() {
    log_.reset();
    events::RocksDbEventLogOptions o;
    o.path = dir_.Sub("log");
    auto r = events::RocksDbEventLog::Open(o);
    if (!r.ok()) return r.status();
    log_ = std::move(r).value();
    return Status::Ok();
  }

 private:
  static void AE_CHECK_OK(const Status& s) { ASSERT_TRUE(s.ok()) << s.ToString(); }
  TempDir dir_;
  std::unique_ptr<events::RocksDbEventLog> log_;
};

}  // namespace ae::testing
