#pragma once
// Shared pieces of the libFuzzer targets in tests/fuzz/ (not knox_csv, which predates it):
// the invariant check that aborts, a deterministic input-derived random stream, a UTF-8
// validator, and the check every refused request must pass: it maps to a 4xx status and
// its {"error":{...}} body serialises (as api/server.cc's WriteError does with dump())
// and reads back with the same code, message and field.
//
// Header-only on purpose: each target and its corpus-replay test compile it in.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/http_errors.h"
#include "events/base/status.h"

// Aborts (libFuzzer reports a crash; the corpus-replay test dies) when `cond` is false.
#define AE_FUZZ_CHECK(cond, what)                                                          \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "%s: invariant failed: %s (%s:%d): %s\n", ::ae::fuzz::kTarget, \
                   #cond, __FILE__, __LINE__, std::string(what).c_str());                  \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace ae::fuzz {

// Defined once per target: the name printed by AE_FUZZ_CHECK.
extern const char* const kTarget;

inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

inline uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ULL;
  }
  return h;
}

// Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF): what nlohmann's
// dump() and proto3 `string` fields accept.
inline bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

// A prefix of `s` short enough for a diagnostic line, with non-printable bytes escaped.
inline std::string Printable(std::string_view s, size_t max = 120) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

// With AE_FUZZ_VERBOSE set, prints what an input led to (for triaging a corpus by hand:
// `AE_FUZZ_VERBOSE=1 build-fuzz/tests/fuzz/checkin_fuzz -runs=0 tests/fuzz/corpus/checkin`).
inline void Note(std::string_view what) {
  static const bool verbose = std::getenv("AE_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "%s: %s\n", kTarget, Printable(what, 200).c_str());
}

// A refused request: `s` is not OK, its HTTP status is `http` (a 4xx), its reason is one of
// `reasons`, its message is non-empty, and the error body the server writes for it
// serialises with nlohmann's strict dump() and parses back to the same code, message and
// field. A throwing dump() would turn the refusal into the exception handler's 500.
inline void CheckRefusal(const Status& s, int http, std::initializer_list<std::string_view> reasons) {
  AE_FUZZ_CHECK(!s.ok(), "an error was expected");
  Note("refused: " + s.ToString());
  AE_FUZZ_CHECK(api::HttpStatusFor(s.code()) == http,
                std::to_string(api::HttpStatusFor(s.code())) + " for " + s.ToString());
  AE_FUZZ_CHECK(http >= 400 && http < 500, s.ToString());
  bool known = false;
  for (std::string_view r : reasons) known = known || s.reason() == r;
  AE_FUZZ_CHECK(known, "unexpected code " + s.reason());
  AE_FUZZ_CHECK(!s.message().empty(), s.reason());
  std::string body;
  try {
    body = api::ErrorBody(s).dump();
  } catch (const std::exception& e) {
    AE_FUZZ_CHECK(false, std::string("error body of ") + s.reason() + " does not serialise (" +
                             e.what() + "): message \"" + Printable(s.message()) + "\"");
  }
  const nlohmann::json back = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  AE_FUZZ_CHECK(back.is_object() && back.contains("error") && back["error"].is_object(), body);
  const nlohmann::json& err = back["error"];
  AE_FUZZ_CHECK(err.value("code", "") == s.reason(), body);
  AE_FUZZ_CHECK(err.value("message", "") == s.message(), body);
  AE_FUZZ_CHECK(err.value("field", "") == s.field(), body);
}

}  // namespace ae::fuzz

// The corpus-replay unit test (tests/fuzz/corpus_tests.cmake): built into the ordinary
// (gcc) test build with AE_FUZZ_CORPUS_DIR set to the target's seed folder, it feeds every
// file of that folder to LLVMFuzzerTestOneInput once, so a regression of any seed or
// saved crash-* input fails `ctest -L unit` without clang or libFuzzer.
#ifdef AE_FUZZ_CORPUS_DIR
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ae::fuzz {
namespace {

TEST(FuzzCorpus, EveryInputHoldsTheInvariants) {
  const std::filesystem::path dir(AE_FUZZ_CORPUS_DIR);
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  size_t replayed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    SCOPED_TRACE(entry.path().filename().string());
    // Aborts (failing the test) on a violated invariant.
    EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
              0);
    ++replayed;
  }
  EXPECT_GE(replayed, 10u) << "the seed corpus went missing";
}

}  // namespace
}  // namespace ae::fuzz
#endif  // AE_FUZZ_CORPUS_DIR
