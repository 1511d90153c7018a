#pragma once
#include <gtest/gtest.h>

#include "tests/support/log_harness.h"

namespace ae::testing {
using LogHarnessTypes = ::testing::Types<RocksDbLogHarness>;
}  // namespace ae::testing
