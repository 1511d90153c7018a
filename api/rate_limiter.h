#pragma once
// RateLimiter: a token bucket per source (e.g. a client address). Each source may make
// `burst` requests at once, then `per_second` on average. Memory is bounded: at most
// `max_sources` buckets; when full, the buckets that are full again (idle sources) are
// dropped, and if none is, every bucket is (a flood of sources gets a fresh start rather
// than unbounded memory).
//
// Who the source is: ClientAddress() finds the client of a request (the peer, or, behind
// trusted reverse proxies, the rightmost X-Forwarded-For hop that is not one of them), and
// SourceKey() names its bucket (an IPv4 address, or an IPv6 /64: one subscriber's
// addresses share a bucket however many they rotate through).
//
// Thread-safe.

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "events/base/status.h"

namespace ae::api {

class RateLimiter {
 public:
  RateLimiter(double per_second, double burst, size_t max_sources = 100'000)
      : per_second_(per_second), burst_(burst), max_sources_(max_sources) {}

  // Takes one token of `source` at `now_ms`. False (and *retry_after_s, whole seconds >= 1)
  // when the bucket is empty. A rate <= 0 never limits.
  bool Allow(const std::string& source, int64_t now_ms, int* retry_after_s = nullptr);

 private:
  struct Bucket {
    double tokens = 0;
    int64_t at_ms = 0;
  };
  const double per_second_;
  const double burst_;
  const size_t max_sources_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
};

// An IPv4 or IPv6 address. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are IPv4.
struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4 in the first 4

  // inet_pton(); nullopt for anything else (names, ports, brackets, zone ids).
  static std::optional<IpAddress> Parse(std::string_view text);
  std::string ToString() const;  // inet_ntop()
  bool IsLoopback() const;       // 127.0.0.0/8, ::1
  bool operator==(const IpAddress&) const = default;
};

// A list of networks in CIDR notation ("10.0.0.0/8", "2001:db8::/32", or a bare address
// for a single host).
class Networks {
 public:
  // kInvalidArgument "server.bad_cidr" naming the entry that is not a network.
  static Result<Networks> Parse(const std::vector<std::string>& cidrs);
  bool Contains(const IpAddress& a) const;
  bool empty() const { return nets_.empty(); }

 private:
  struct Net {
    IpAddress base;
    int prefix = 0;
  };
  std::vector<Net> nets_;
};

// The client of a request that came from `peer`. When `peer` is one of `trusted` (reverse
// proxies), the X-Forwarded-For hops (`forwarded_for`: every value of the header, in order)
// are walked from the right past the trusted ones, and the first other hop is the client.
// Hops left of it were written by the client and are never believed. A hop that is not an
// address ends the walk at the last trusted hop. nullopt when `peer` is not an address.
std::optional<IpAddress> ClientAddress(std::string_view peer,
                                       const std::vector<std::string>& forwarded_for,
                                       const Networks& trusted);

// The rate-limit source of an address: an IPv4 address as it is, an IPv6 address as its
// /64 ("2001:db8:1:2::/64").
std::string SourceKey(const IpAddress& a);

// The rate-limit source of a signed device message: "device:" and the SHA-256 of the
// certificate that signed its Mdm-Signature (a CMS SignedData, base64), or "" when the
// header holds no certificate. Not a verification: the handler checks the signature.
std::string MdmSignerKey(std::string_view mdm_signature);

}  // namespace ae::api
