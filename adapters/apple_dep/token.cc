#include "adapters/apple_dep/token.h"

#include <cctype>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "adapters/apple_dep/internal/openssl_util.h"
#include "events/base/crypto.h"

namespace ae::dep {
namespace {

Status Malformed(std::string message) {
  ossl::ClearErrors();
  return Unprocessable(kTokenMalformed, "server token: " + message);
}

Status NotForUs(std::string message) {
  ossl::ClearErrors();
  return Unprocessable(kTokenNotForThisAccount, "server token: " + message);
}

// Splits on LF, dropping one trailing CR per line.
std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    std::string_view line =
        text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return lines;
}

bool IsBlank(std::string_view line) {
  for (char c : line) {
    if (!std::isspace(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// "Name: value" with an RFC 822 field name.
bool IsHeaderLine(std::string_view line) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  for (size_t i = 0; i < colon; ++i) {
    char c = line[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return true;
}

// Drops a leading MIME header block (up to and including the first empty
// line) when the text starts with one. Returns the remaining lines, or false
// when a header block never ends.
bool SkipMimeHeaders(std::vector<std::string_view>& lines) {
  size_t first = 0;
  while (first < lines.size() && IsBlank(lines[first])) ++first;
  if (first == lines.size() || !IsHeaderLine(lines[first])) {
    lines.erase(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(first));
    return true;
  }
  for (size_t i = first; i < lines.size(); ++i) {
    if (IsBlank(lines[i])) {
      lines.erase(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      return true;
    }
  }
  return false;
}

// The CMS bytes of a token file (MIME+base64, bare base64, or raw DER/BER).
Result<std::string> CmsBytes(std::string_view p7m) {
  if (!p7m.empty() && static_cast<unsigned char>(p7m[0]) == 0x30) return std::string(p7m);
  std::vector<std::string_view> lines = Lines(p7m);
  if (!SkipMimeHeaders(lines)) return Malformed("the MIME header block has no end");
  std::string b64;
  for (std::string_view line : lines) {
    if (line.rfind("-----", 0) == 0) continue;  // PEM armour, if any
    b64.append(line);
  }
  auto der = crypto::FromBase64(b64);
  if (!der.ok() || der->empty()) return Malformed("the body is not base64");
  return std::move(der).value();
}

// Unwraps the decrypted MIME entity to the JSON text (§1.2 algorithm).
std::string UnwrapInner(std::string_view inner) {
  static constexpr std::string_view kBegin = "-----BEGIN MESSAGE-----";
  static constexpr std::string_view kEnd = "-----END MESSAGE-----";
  std::vector<std::string_view> lines = Lines(inner);
  if (!SkipMimeHeaders(lines)) lines.clear();
  std::string json;
  for (std::string_view line : lines) {
    if (line.rfind(kBegin, 0) == 0) line.remove_prefix(kBegin.size());
    if (line.rfind(kEnd, 0) == 0) line.remove_prefix(kEnd.size());
    json.append(line);
  }
  size_t b = json.find_first_not_of(" \t\r\n");
  size_t e = json.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : json.substr(b, e - b + 1);
}

const EVP_CIPHER* Aes128Cbc() {
  static EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-128-CBC", nullptr);
  return c;
}

std::string Wrap(std::string_view text, size_t columns, std::string_view eol) {
  std::string out;
  for (size_t i = 0; i < text.size(); i += columns) {
    out.append(text.substr(i, columns));
    out.append(eol);
  }
  return out;
}

}  // namespace

std::string DepToken::Fingerprint() const {
  std::string buf;
  for (const std::string* f :
       {&consumer_key, &consumer_secret, &access_token, &access_secret, &access_token_expiry}) {
    buf += std::to_string(f->size());
    buf += ':';
    buf += *f;
  }
  return crypto::Hex(crypto::Sha256(buf));
}

std::string DepToken::ConsumerKeyFingerprint() const {
  return crypto::Hex(crypto::Sha256("dep-consumer-key:" + consumer_key));
}

std::string DepToken::ToJson() const {
  nlohmann::ordered_json j;
  j["consumer_key"] = consumer_key;
  j["consumer_secret"] = consumer_secret;
  j["access_token"] = access_token;
  j["access_secret"] = access_secret;
  j["access_token_expiry"] = access_token_expiry;
  return j.dump();
}

Result<DepToken> ParseTokenJson(std::string_view json, const Clock& clock) {
  // Never quote the parser's message: it echoes the input, i.e. the secrets.
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Malformed("the content is not a JSON object");
  DepToken t;
  struct Field {
    const char* name;
    std::string* out;
  };
  for (const Field& f :
       {Field{"consumer_key", &t.consumer_key}, Field{"consumer_secret", &t.consumer_secret},
        Field{"access_token", &t.access_token}, Field{"access_secret", &t.access_secret},
        Field{"access_token_expiry", &t.access_token_expiry}}) {
    auto it = j.find(f.name);
    if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
      return Malformed(std::string("field ") + f.name + " is missing or empty");
    }
    *f.out = it->get<std::string>();
  }
  if (!ParseRfc3339(t.access_token_expiry, &t.access_token_expiry_ms)) {
    return Malformed("access_token_expiry is not an RFC 3339 time");
  }
  if (t.access_token_expiry_ms < clock.NowMs()) {
    return Unprocessable(kTokenExpired, "server token expired at " + t.access_token_expiry +
                                            "; download a new one from the portal");
  }
  return t;
}

Result<DepToken> DecryptToken(std::string_view p7m, const ServerIdentity& identity,
                              const Clock& clock) {
  if (p7m.size() > (1u << 20)) return Malformed("larger than 1 MiB");
  AE_ASSIGN_OR_RETURN(std::string der, CmsBytes(p7m));
  std::unique_ptr<BIO, ossl::Free> in(BIO_new_mem_buf(der.data(), static_cast<int>(der.size())));
  std::unique_ptr<CMS_ContentInfo, ossl::Free> cms(in ? d2i_CMS_bio(in.get(), nullptr) : nullptr);
  if (!cms) return Malformed("not a CMS structure (garbage or truncated)");
  if (OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_enveloped) {
    return Malformed("not CMS EnvelopedData");
  }
  // Pick the RecipientInfo issued to our certificate (issuer + serial, bit-exact).
  STACK_OF(CMS_RecipientInfo)* infos = CMS_get0_RecipientInfos(cms.get());
  CMS_RecipientInfo* mine = nullptr;
  for (int i = 0; infos != nullptr && i < sk_CMS_RecipientInfo_num(infos); ++i) {
    CMS_RecipientInfo* ri = sk_CMS_RecipientInfo_value(infos, i);
    if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_TRANS &&
        CMS_RecipientInfo_ktri_cert_cmp(ri, identity.certificate()) == 0) {
      mine = ri;
      break;
    }
  }
  if (mine == nullptr) {
    return NotForUs(
        "it is encrypted to another certificate; upload the certificate of this "
        "server to the portal and download the token again");
  }
  // set0 takes ownership: lend the RecipientInfo its own reference, released
  // again by the second set0 below.
  if (EVP_PKEY_up_ref(identity.key()) != 1) return NotForUs("key unusable");
  if (CMS_RecipientInfo_set0_pkey(mine, identity.key()) != 1) {
    EVP_PKEY_free(identity.key());
    return NotForUs("key unusable");
  }
  int opened = CMS_RecipientInfo_decrypt(cms.get(), mine);
  CMS_RecipientInfo_set0_pkey(mine, nullptr);
  if (opened != 1) return NotForUs("our private key does not open it");
  std::unique_ptr<BIO, ossl::Free> out(BIO_new(BIO_s_mem()));
  if (!out || CMS_decrypt(cms.get(), nullptr, nullptr, nullptr, out.get(), 0) != 1) {
    return Malformed("the encrypted content does not decrypt (corrupt or truncated)");
  }
  std::string inner = ossl::BioToString(out.get());
  std::string json = UnwrapInner(inner);
  OPENSSL_cleanse(inner.data(), inner.size());
  Result<DepToken> token = ParseTokenJson(json, clock);
  OPENSSL_cleanse(json.data(), json.size());
  return token;
}

Result<std::string> ProduceTokenP7m(std::string_view certificate_pem, std::string_view token_json,
                                    const TokenP7mOptions& options) {
  AE_ASSIGN_OR_RETURN(X509 * raw_cert, ossl::ReadCertificatePem(certificate_pem));
  std::unique_ptr<X509, ossl::Free> cert(raw_cert);
  const std::string eol = options.crlf ? "\r\n" : "\n";
  std::string inner = "Content-Type: text/plain;charset=UTF-8" + eol +
                      "Content-Transfer-Encoding: 7bit" + eol + eol;
  if (options.message_markers) inner += "-----BEGIN MESSAGE-----" + eol;
  if (options.wrap_json_at > 0) {
    inner += Wrap(token_json, static_cast<size_t>(options.wrap_json_at), eol);
  } else {
    inner += std::string(token_json) + eol;
  }
  if (options.message_markers) inner += "-----END MESSAGE-----" + eol;

  auto failed = [](const char* what) {
    ossl::ClearErrors();
    return Internal("dep.token_encrypt_failed", std::string("token encryption: ") + what);
  };
  std::unique_ptr<STACK_OF(X509), ossl::Free> certs(sk_X509_new_null());
  if (!certs || sk_X509_push(certs.get(), cert.get()) == 0) return failed("certificate stack");
  cert.release();  // now owned by `certs`
  std::unique_ptr<BIO, ossl::Free> in(
      BIO_new_mem_buf(inner.data(), static_cast<int>(inner.size())));
  const unsigned int flags = CMS_BINARY | CMS_STREAM;  // STREAM: BER indefinite length
  std::unique_ptr<CMS_ContentInfo, ossl::Free> cms(
      in ? CMS_encrypt(certs.get(), in.get(), Aes128Cbc(), flags) : nullptr);
  if (!cms) return failed("CMS_encrypt");
  std::unique_ptr<BIO, ossl::Free> out(BIO_new(BIO_s_mem()));
  if (!out) return failed("BIO");
  std::string file;
  if (options.header == TokenP7mOptions::Header::kOpenSsl) {
    if (SMIME_write_CMS(out.get(), cms.get(), in.get(), static_cast<int>(flags)) != 1) {
      return failed("SMIME_write_CMS");
    }
    file = ossl::BioToString(out.get());
  } else {
    if (i2d_CMS_bio_stream(out.get(), cms.get(), in.get(), static_cast<int>(flags)) != 1) {
      return failed("i2d_CMS_bio_stream");
    }
    // Apple's sample header (§1.2), the first field folded over two lines.
    file =
        "Content-Type: application/pkcs7-mime; name=\"smime.p7m\";\n"
        "\tsmime-type=enveloped-data\n"
        "Content-Transfer-Encoding: base64\n"
        "Content-Disposition: attachment; filename=\"smime.p7m\"\n"
        "Content-Description: S/MIME Encrypted Message\n"
        "\n" +
        Wrap(crypto::Base64(ossl::BioToString(out.get())), 76, "\n");
  }
  OPENSSL_cleanse(inner.data(), inner.size());
  return file;
}

}  // namespace ae::dep
