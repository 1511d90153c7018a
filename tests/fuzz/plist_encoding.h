#pragma once
// The plist readers' oracle, shared by the checkin and machine_info fuzz targets: the same
// property list in libplist's other encoding (binary <-> XML), which the engine's reader
// must read to the same outcome.

#include <plist/plist.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ae::fuzz {

inline bool IsBinaryPlist(std::string_view body) {
  return body.size() >= 8 && body.substr(0, 8) == "bplist00";
}

// `body` as XML when `binary`, as a binary plist otherwise; nullopt when libplist cannot
// read it.
inline std::optional<std::string> OtherPlistEncoding(std::string_view body, bool binary) {
  if (body.size() > UINT32_MAX) return std::nullopt;
  const std::string copy(body);  // NUL-terminated, as the readers parse it
  plist_t root = nullptr;
  plist_from_memory(copy.data(), static_cast<uint32_t>(body.size()), &root);
  if (root == nullptr) return std::nullopt;
  char* out = nullptr;
  uint32_t len = 0;
  std::optional<std::string> result;
  if (binary) {
    plist_to_xml(root, &out, &len);
    if (out != nullptr) result.emplace(out, len);
    plist_to_xml_free(out);
  } else {
    plist_to_bin(root, &out, &len);
    if (out != nullptr) result.emplace(out, len);
    plist_to_bin_free(out);
  }
  plist_free(root);
  return result;
}

}  // namespace ae::fuzz
