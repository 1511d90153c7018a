#include "tests/bench/bench_dep.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "adapters/apple_dep/dep_client.h"
#include "adapters/apple_dep/server_identity.h"
#include "adapters/apple_dep/token.h"
#include "tests/bench/bench.h"

namespace ae::bench {

int RawDepFetch(const RawDepFetchOptions& o) {
  auto identity = dep::ServerIdentity::Generate({}, Clock::Real());
  if (!identity.ok()) return Fail("raw-dep-fetch identity", identity.status());
  httplib::Client control(o.control);
  control.set_read_timeout(60, 0);
  nlohmann::json req = {{"certificate_pem", identity->CertificatePem()}, {"server_name", o.server}};
  auto res = control.Post("/sim/tokens", req.dump(), "application/json");
  if (!res || res->status != 200) {
    return Fail("raw-dep-fetch", "POST /sim/tokens failed: " +
                                     (res ? std::to_string(res->status) + " " + res->body
                                          : std::string("no answer")));
  }
  if (o.devices > 0) {
    nlohmann::json add = {{"server_name", o.server}, {"prefix", "B"}, {"count", o.devices}};
    auto added = control.Post("/sim/devices", add.dump(), "application/json");
    if (!added || added->status / 100 != 2) {
      return Fail("raw-dep-fetch", "POST /sim/devices failed: " +
                                       (added ? std::to_string(added->status) + " " + added->body
                                              : std::string("no answer")));
    }
  }
  auto token = dep::DecryptToken(res->body, *identity, Clock::Real());
  if (!token.ok()) return Fail("raw-dep-fetch token", token.status());
  dep::DepClientOptions co;
  co.base_url = o.url;
  auto client = dep::DepClientImpl::Create(co, std::move(*token), Clock::Real(),
                                           http::Sleeper::Real(), http::Random::Real());
  if (!client.ok()) return Fail("raw-dep-fetch client", client.status());
  Stopwatch sw;
  std::string cursor;
  uint64_t devices = 0, pages = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    auto page = (*client)->FetchDevices(cursor, o.limit);
    if (!page.ok()) return Fail("raw-dep-fetch fetch", page.status());
    devices += page->devices.size();
    ++pages;
    cursor = page->cursor;
    if (!page->more_to_follow) break;
  }
  double s = sw.Seconds();
  PrintResult({{"devices", devices}, {"pages", pages}, {"seconds", s},
               {"per_sec", s > 0 ? devices / s : 0}});
  return 0;
}

}  // namespace ae::bench
