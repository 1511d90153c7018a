#pragma once
#include <gtest/gtest.h>

#include "tests/support/kafka_log_harness.h"
#include "tests/support/log_harness.h"

namespace ae::testing {
using LogHarnessTypes = ::testing::Types<RocksDbLogHarness, KafkaLogHarness>;
}  // namespace ae::testing
