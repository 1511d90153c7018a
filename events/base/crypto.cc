#include "events/base/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <cstring>
#include <memory>

#include "events/base/check.h"

namespace ae::crypto {
namespace {

unsigned char* u(char* p) { return reinterpret_cast<unsigned char*>(p); }
const unsigned char* cu(const char* p) { return reinterpret_cast<const unsigned char*>(p); }

const EVP_MD* Sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}
const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return c;
}

struct CtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

}  // namespace

std::string Sha256(std::string_view data) {
  thread_local std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  unsigned char out[32];
  unsigned int len = 0;
  AE_CHECK(EVP_DigestInit_ex(ctx.get(), Sha256Md(), nullptr) == 1);
  AE_CHECK(EVP_DigestUpdate(ctx.get(), data.data(), data.size()) == 1);
  AE_CHECK(EVP_DigestFinal_ex(ctx.get(), out, &len) == 1);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  AE_CHECK(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
                &len) != nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string HmacSha1(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  AE_CHECK(HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
                reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
                &len) != nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  AE_CHECK(RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) == 1);
  return out;
}

std::string Hex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

Result<std::string> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return InvalidArgument("hex.odd_length", "hex string has odd length");
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgument("hex.bad_digit", "not a hex digit");
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::string Base64(std::string_view bytes) {
  static const char* kAlpha =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += kAlpha[v >> 18];
    out += kAlpha[(v >> 12) & 63];
    out += kAlpha[(v >> 6) & 63];
    out += kAlpha[v & 63];
  }
  if (i + 1 == bytes.size()) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    out += kAlpha[v >> 18];
    out += kAlpha[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += kAlpha[v >> 18];
    out += kAlpha[(v >> 12) & 63];
    out += kAlpha[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string Base64Url(std::string_view bytes) {
  std::string s = Base64(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

namespace {
// The value of each base64 character (both alphabets), kSkip for padding and white space,
// kBad for anything else.
constexpr int8_t kSkip = -1, kBad = -2;
constexpr std::array<int8_t, 256> Base64Values() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = kBad;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = static_cast<int8_t>(c - 'A');
  for (int c = 'a'; c <= 'z'; ++c) t[c] = static_cast<int8_t>(c - 'a' + 26);
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<int8_t>(c - '0' + 52);
  t['+'] = t['-'] = 62;
  t['/'] = t['_'] = 63;
  for (unsigned char c : {'=', '\r', '\n', ' ', '\t'}) t[c] = kSkip;
  return t;
}
constexpr std::array<int8_t, 256> kBase64Values = Base64Values();
}  // namespace

Result<std::string> FromBase64(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = kBase64Values[static_cast<unsigned char>(c)];
    if (v == kSkip) continue;
    if (v == kBad) return InvalidArgument("base64.bad_char", "not a base64 character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string UuidV7(int64_t now_ms) {
  // The 10 random bytes of each id come from a block this thread draws from RAND_bytes 4 KiB
  // at a time (a batch stamps thousands of events; one DRBG call each was a tenth of it).
  constexpr size_t kBlock = 4096, kRandom = 10;
  thread_local unsigned char block[kBlock];
  thread_local size_t used = kBlock;
  if (used + kRandom > kBlock) {
    AE_CHECK(RAND_bytes(block, static_cast<int>(kBlock)) == 1);
    used = 0;
  }
  unsigned char b[16];
  const uint64_t ms = static_cast<uint64_t>(now_ms);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>((ms >> (40 - 8 * i)) & 0xff);
  std::memcpy(b + 6, block + used, kRandom);
  std::memset(block + used, 0, kRandom);  // a drawn byte is never handed out again
  used += kRandom;
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x70);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kDigits[b[i] >> 4]);
    out.push_back(kDigits[b[i] & 15]);
  }
  return out;
}

Result<std::string> Seal(std::string_view key, std::string_view pt, std::string_view aad) {
  if (key.size() != kAeadKeyBytes) return Internal("crypto.bad_key", "AES-256-GCM key must be 32 bytes");
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx(EVP_CIPHER_CTX_new());
  std::string nonce = RandomBytes(12);
  std::string out = nonce;
  out.resize(12 + pt.size() + 16);
  int len = 0;
  if (EVP_EncryptInit_ex2(ctx.get(), Aes256Gcm(), cu(key.data()), cu(nonce.data()), nullptr) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, cu(aad.data()), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), u(out.data() + 12), &len, cu(pt.data()),
                        static_cast<int>(pt.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), u(out.data() + 12 + len), &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, out.data() + 12 + pt.size()) != 1) {
    return Internal("crypto.seal_failed", "AES-256-GCM encryption failed");
  }
  return out;
}

Result<std::string> Open(std::string_view key, std::string_view sealed, std::string_view aad) {
  if (key.size() != kAeadKeyBytes) return Internal("crypto.bad_key", "AES-256-GCM key must be 32 bytes");
  if (sealed.size() < 28) return Corruption("crypto.sealed_too_short", "sealed data too short");
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx(EVP_CIPHER_CTX_new());
  size_t n = sealed.size() - 28;
  std::string out(n, '\0');
  int len = 0;
  std::string tag(sealed.substr(12 + n, 16));
  if (EVP_DecryptInit_ex2(ctx.get(), Aes256Gcm(), cu(key.data()), cu(sealed.data()), nullptr) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, cu(aad.data()), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), u(out.data()), &len, cu(sealed.data() + 12),
                        static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), u(out.data() + len), &len) != 1) {
    return Corruption("crypto.open_failed", "AES-256-GCM authentication failed");
  }
  return out;
}

}  // namespace ae::crypto
