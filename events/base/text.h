#pragma once
// Text from outside (devices, files, vendors) before it goes into an event, a
// view or an answer: Protobuf string fields and JSON both need valid UTF-8.

#include <string_view>

namespace ae::text {

// Strict UTF-8: no overlong forms, surrogates or code points above U+10FFFF.
bool IsValidUtf8(std::string_view s);

// The longest prefix of `s` of at most `max_bytes` that does not cut a UTF-8
// sequence in two (for valid UTF-8 input; any input stays within max_bytes).
std::string_view Utf8Prefix(std::string_view s, size_t max_bytes);

}  // namespace ae::text
