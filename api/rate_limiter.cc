#include "api/rate_limiter.h"

#include <arpa/inet.h>
#include <openssl/cms.h>
#include <openssl/x509.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>
#include <memory>

#include "events/base/crypto.h"

namespace ae::api {

bool RateLimiter::Allow(const std::string& source, int64_t now_ms, int* retry_after_s) {
  if (per_second_ <= 0) return true;
  std::lock_guard lock(mu_);
  auto refill = [&](Bucket& b) {
    double elapsed = static_cast<double>(std::max<int64_t>(0, now_ms - b.at_ms)) / 1000.0;
    b.tokens = std::min(burst_, b.tokens + elapsed * per_second_);
    b.at_ms = now_ms;
  };
  auto it = buckets_.find(source);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_sources_) {
      for (auto b = buckets_.begin(); b != buckets_.end();) {
        refill(b->second);
        b = b->second.tokens >= burst_ ? buckets_.erase(b) : std::next(b);
      }
      if (buckets_.size() >= max_sources_) buckets_.clear();
    }
    it = buckets_.emplace(source, Bucket{burst_, now_ms}).first;
  }
  Bucket& b = it->second;
  refill(b);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  if (retry_after_s) {
    *retry_after_s = std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) / per_second_)));
  }
  return false;
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN || text.find('\0') != text.npos) {
    return std::nullopt;
  }
  const std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(std::begin(kMapped), std::end(kMapped), a.bytes.begin())) {
    std::copy(a.bytes.begin() + 12, a.bytes.end(), a.bytes.begin());
    std::fill(a.bytes.begin() + 4, a.bytes.end(), 0);
    return a;
  }
  a.v6 = true;
  return a;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf) == nullptr) return "";
  return buf;
}

bool IpAddress::IsLoopback() const {
  if (!v6) return bytes[0] == 127;
  return std::all_of(bytes.begin(), bytes.end() - 1, [](uint8_t b) { return b == 0; }) &&
         bytes[15] == 1;
}

Result<Networks> Networks::Parse(const std::vector<std::string>& cidrs) {
  Networks out;
  for (const std::string& c : cidrs) {
    auto bad = [&c] {
      return InvalidArgument("server.bad_cidr",
                             "'" + c + "' is not an address or a network like 10.0.0.0/8 or "
                             "2001:db8::/32", "trusted_proxy");
    };
    const auto slash = c.find('/');
    auto base = IpAddress::Parse(std::string_view(c).substr(0, slash));
    if (!base) return bad();
    const int bits = base->v6 ? 128 : 32;
    int prefix = bits;
    if (slash != std::string::npos) {
      const char* first = c.data() + slash + 1;
      const char* last = c.data() + c.size();
      auto [end, ec] = std::from_chars(first, last, prefix);
      if (first == last || ec != std::errc() || end != last || prefix < 0 || prefix > bits) {
        return bad();
      }
    }
    out.nets_.push_back({*base, prefix});
  }
  return out;
}

bool Networks::Contains(const IpAddress& a) const {
  for (const Net& n : nets_) {
    if (n.base.v6 != a.v6) continue;
    const int whole = n.prefix / 8, rest = n.prefix % 8;
    if (!std::equal(a.bytes.begin(), a.bytes.begin() + whole, n.base.bytes.begin())) continue;
    if (rest != 0) {
      const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
      if ((a.bytes[whole] & mask) != (n.base.bytes[whole] & mask)) continue;
    }
    return true;
  }
  return false;
}

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One X-Forwarded-For hop: an address, "[v6]:port" or "v4:port" (some proxies add ports).
std::optional<IpAddress> ParseHop(std::string_view hop) {
  hop = Trim(hop);
  if (auto a = IpAddress::Parse(hop)) return a;
  if (!hop.empty() && hop.front() == '[') {
    auto close = hop.find(']');
    if (close == hop.npos) return std::nullopt;
    auto a = IpAddress::Parse(hop.substr(1, close - 1));
    return a && a->v6 ? a : std::nullopt;
  }
  auto colon = hop.find(':');
  if (colon != hop.npos && hop.find(':', colon + 1) == hop.npos) {
    auto a = IpAddress::Parse(hop.substr(0, colon));
    return a && !a->v6 ? a : std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

std::optional<IpAddress> ClientAddress(std::string_view peer,
                                       const std::vector<std::string>& forwarded_for,
                                       const Networks& trusted) {
  auto client = IpAddress::Parse(peer);
  if (!client || trusted.empty() || !trusted.Contains(*client)) return client;
  std::vector<std::string_view> hops;
  for (const std::string& value : forwarded_for) {
    std::string_view rest = value;
    while (true) {
      auto comma = rest.find(',');
      hops.push_back(rest.substr(0, comma));
      if (comma == rest.npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    auto hop = ParseHop(*it);
    if (!hop) break;  // not written by a proxy we trust: the last trusted hop stands
    client = hop;
    if (!trusted.Contains(*hop)) break;
  }
  return client;
}

std::string SourceKey(const IpAddress& a) {
  if (!a.v6) return a.ToString();
  IpAddress net = a;
  std::fill(net.bytes.begin() + 8, net.bytes.end(), 0);
  return net.ToString() + "/64";
}

std::string MdmSignerKey(std::string_view mdm_signature) {
  constexpr size_t kMaxHeader = 64 << 10;
  if (mdm_signature.empty() || mdm_signature.size() > kMaxHeader) return "";
  std::string compact;
  for (char c : mdm_signature) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') compact.push_back(c);
  }
  auto der = crypto::FromBase64(compact);
  if (!der.ok() || der->empty()) return "";
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  std::unique_ptr<CMS_ContentInfo, decltype(&CMS_ContentInfo_free)> cms(
      d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der->size())), CMS_ContentInfo_free);
  if (!cms) return "";
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms.get());
  if (infos == nullptr || sk_CMS_SignerInfo_num(infos) != 1) return "";
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, 0);
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> certs(
      CMS_get1_certs(cms.get()), [](STACK_OF(X509)* s) { sk_X509_pop_free(s, X509_free); });
  if (!certs) return "";
  std::string key;
  for (int i = 0; i < sk_X509_num(certs.get()) && key.empty(); ++i) {
    X509* x = sk_X509_value(certs.get(), i);
    if (CMS_SignerInfo_cert_cmp(si, x) != 0) continue;
    unsigned char* out = nullptr;
    int len = i2d_X509(x, &out);
    if (len <= 0) break;
    key = "device:" + crypto::Hex(crypto::Sha256(std::string_view(
                          reinterpret_cast<const char*>(out), static_cast<size_t>(len))))
                          .substr(0, 32);
    OPENSSL_free(out);
  }
  return key;
}

}  // namespace ae::api
