#pragma once
// Random strings for the codec tests of the JSON view records: they take every path of
// json_record::Writer (plain ASCII, what JSON escapes, control characters, DEL, UTF-8 of
// two, three and four bytes).

#include <optional>
#include <random>
#include <string>
#include <vector>

namespace ae::proj::testing {

inline std::string OddString(std::mt19937& rng) {
  static const std::vector<std::string> kParts = {
      "",       "C02XYZ",      "\"quoted\"",   "back\\slash",        "tab\there",
      "line\nbreak", std::string("\x01\x1f", 2), "\x7f", "caf\xc3\xa9", "\xe2\x82\xac",
      "\xf0\x9f\x93\xb1", "/slash/", "{\"k\":[1]}"};
  std::string s;
  for (int n = std::uniform_int_distribution<int>(0, 3)(rng); n > 0; --n) {
    s += kParts[std::uniform_int_distribution<size_t>(0, kParts.size() - 1)(rng)];
  }
  return s;
}

inline std::optional<std::string> MaybeOdd(std::mt19937& rng) {
  if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) return std::nullopt;
  return OddString(rng);
}

}  // namespace ae::proj::testing
