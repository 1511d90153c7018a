#pragma once
// Small OpenSSL helpers: digests, randomness, AES-256-GCM, encodings, UUIDv7.
// All functions are thread-safe; digests and ciphers are fetched once.

#include <cstdint>
#include <string>
#include <string_view>

#include "events/base/status.h"

namespace ae::crypto {

// Raw 32-byte digests.
std::string Sha256(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);
std::string HmacSha1(std::string_view key, std::string_view data);

// Cryptographically secure random bytes.
std::string RandomBytes(size_t n);

std::string Hex(std::string_view bytes);
Result<std::string> FromHex(std::string_view hex);
std::string Base64(std::string_view bytes);
std::string Base64Url(std::string_view bytes);  // no padding
Result<std::string> FromBase64(std::string_view text);  // accepts both alphabets

// Constant-time comparison of equal-length secrets (false when lengths differ).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// UUIDv7 (time-ordered) in canonical text form.
std::string UuidV7(int64_t now_ms);

// AES-256-GCM. Sealed form: 12-byte nonce || ciphertext || 16-byte tag.
// `aad` binds the ciphertext to its context (e.g. a secret's name).
inline constexpr size_t kAeadKeyBytes = 32;
Result<std::string> Seal(std::string_view key, std::string_view plaintext, std::string_view aad);
Result<std::string> Open(std::string_view key, std::string_view sealed, std::string_view aad);

}  // namespace ae::crypto
