#pragma once
// Implementation-only libplist utilities for adapters/apple_mdm: an owning
// handle, bounded parsing of XML and binary property lists, and typed getters
// that never trip libplist's internal assertions (strings are read with
// plist_get_string_ptr and an explicit length; dictionaries are only read by
// key, never iterated, because key iteration asserts on keys holding NULs).

#include <plist/plist.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ae::mdm::plist {

struct NodeFree {
  void operator()(plist_t p) const { plist_free(p); }
};
// Owns a root node (and so its whole tree).
using Node = std::unique_ptr<void, NodeFree>;

// A binary plist may hold at most this many objects. libplist 2.2 parses
// binary plists recursively, so the object count bounds the nesting depth and
// with it the stack; real check-in and command messages hold a few dozen.
inline constexpr uint64_t kMaxBinaryObjects = 4096;

inline bool IsBinary(std::string_view data) {
  return data.size() >= 8 && data.substr(0, 8) == "bplist00";
}

// Parses an XML or binary property list. Null when `data` is neither, or a
// binary plist exceeds kMaxBinaryObjects.
inline Node Parse(std::string_view data) {
  if (data.empty() || data.size() > UINT32_MAX) return nullptr;
  if (IsBinary(data)) {
    if (data.size() < 8 + 32) return nullptr;
    // Trailer: 6 unused, offset size, ref size, num_objects (BE u64), top, table offset.
    const auto* t = reinterpret_cast<const unsigned char*>(data.data() + data.size() - 32);
    uint64_t objects = 0;
    for (int i = 8; i < 16; ++i) objects = (objects << 8) | t[i];
    if (objects == 0 || objects > kMaxBinaryObjects) return nullptr;
  }
  // A NUL-terminated copy: the XML reader must never run past the buffer.
  std::string copy(data);
  plist_t root = nullptr;
  plist_from_memory(copy.data(), static_cast<uint32_t>(data.size()), &root);
  return Node(root);
}

inline std::string ToXml(plist_t node) {
  char* xml = nullptr;
  uint32_t len = 0;
  plist_to_xml(node, &xml, &len);
  if (xml == nullptr) return "";
  std::string out(xml, len);
  plist_to_xml_free(xml);
  return out;
}

inline std::string ToBinary(plist_t node) {
  char* bin = nullptr;
  uint32_t len = 0;
  plist_to_bin(node, &bin, &len);
  if (bin == nullptr) return "";
  std::string out(bin, len);
  plist_to_bin_free(bin);
  return out;
}

// A keyed-archiver UID. libplist writes a UID to XML as a dictionary whose only key is
// CF$UID, holding an integer, and reads that dictionary back as a dictionary; CoreFoundation
// reads it back as a UID. Both are UIDs here, so a property list reads the same in either
// encoding.
inline bool IsUid(plist_t node) {
  if (node == nullptr) return false;
  if (plist_get_node_type(node) == PLIST_UID) return true;
  if (plist_get_node_type(node) != PLIST_DICT || plist_dict_get_size(node) != 1) return false;
  plist_t value = plist_dict_get_item(node, "CF$UID");
  return value != nullptr && plist_get_node_type(value) == PLIST_UINT;
}

// A dictionary that is not a UID (see IsUid).
inline bool IsDict(plist_t node) {
  return node != nullptr && plist_get_node_type(node) == PLIST_DICT && !IsUid(node);
}
inline bool IsArray(plist_t node) {
  return node != nullptr && plist_get_node_type(node) == PLIST_ARRAY;
}

// Borrowed child of a dictionary, or null.
inline plist_t Get(plist_t dict, const char* key) {
  return IsDict(dict) ? plist_dict_get_item(dict, key) : nullptr;
}

// What a typed lookup found.
enum class Lookup { kMissing, kWrongType, kOk };

inline Lookup GetString(plist_t dict, const char* key, std::string* out) {
  plist_t node = Get(dict, key);
  if (node == nullptr) return Lookup::kMissing;
  if (plist_get_node_type(node) != PLIST_STRING) return Lookup::kWrongType;
  uint64_t len = 0;
  const char* ptr = plist_get_string_ptr(node, &len);
  out->assign(ptr != nullptr ? ptr : "", ptr != nullptr ? len : 0);
  return Lookup::kOk;
}

inline Lookup GetData(plist_t dict, const char* key, std::string* out) {
  plist_t node = Get(dict, key);
  if (node == nullptr) return Lookup::kMissing;
  if (plist_get_node_type(node) != PLIST_DATA) return Lookup::kWrongType;
  uint64_t len = 0;
  const char* ptr = plist_get_data_ptr(node, &len);
  out->assign(ptr != nullptr ? ptr : "", ptr != nullptr ? len : 0);
  return Lookup::kOk;
}

inline Lookup GetBool(plist_t dict, const char* key, bool* out) {
  plist_t node = Get(dict, key);
  if (node == nullptr) return Lookup::kMissing;
  if (plist_get_node_type(node) != PLIST_BOOLEAN) return Lookup::kWrongType;
  uint8_t v = 0;
  plist_get_bool_val(node, &v);
  *out = v != 0;
  return Lookup::kOk;
}

inline Lookup GetUint(plist_t dict, const char* key, uint64_t* out) {
  plist_t node = Get(dict, key);
  if (node == nullptr) return Lookup::kMissing;
  if (plist_get_node_type(node) != PLIST_UINT) return Lookup::kWrongType;
  plist_get_uint_val(node, out);
  return Lookup::kOk;
}

// Builders: each Set* adds a child to `dict` (which takes ownership of it).
inline void SetString(plist_t dict, const char* key, std::string_view value) {
  plist_dict_set_item(dict, key, plist_new_string(std::string(value).c_str()));
}
inline void SetData(plist_t dict, const char* key, std::string_view value) {
  plist_dict_set_item(dict, key, plist_new_data(value.data(), value.size()));
}
inline void SetBool(plist_t dict, const char* key, bool value) {
  plist_dict_set_item(dict, key, plist_new_bool(value ? 1 : 0));
}
inline void SetUint(plist_t dict, const char* key, uint64_t value) {
  plist_dict_set_item(dict, key, plist_new_uint(value));
}

}  // namespace ae::mdm::plist
