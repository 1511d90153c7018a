// Replays the knox_csv fuzz corpus (tests/fuzz/corpus/knox_csv/: seeds and every input that
// once crashed) through the fuzz target's invariant checks in the ordinary build, so a
// regression fails `ctest -L unit` without clang or libFuzzer.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/support/test_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ae::kme {
namespace {

TEST(KnoxCsvFuzzCorpus, EveryInputHoldsTheReaderInvariants) {
  const std::filesystem::path dir =
      std::filesystem::path(ae::testing::SourceDir()) / "tests/fuzz/corpus/knox_csv";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  size_t replayed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    SCOPED_TRACE(entry.path().filename().string());
    // Aborts (failing the test) on a violated invariant; see tests/fuzz/knox_csv_fuzz.cc.
    EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
              0);
    ++replayed;
  }
  EXPECT_GE(replayed, 10u) << "the seed corpus went missing";
}

}  // namespace
}  // namespace ae::kme
