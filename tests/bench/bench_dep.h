#pragma once
// The DEP figures of scripts/bench (section dep). The engine figure is a whole
// sync of N devices by `autoenroll serve` from `autoenroll sim apple-dep`,
// timed by the script; the raw figure is the DEP client alone paging the same
// devices from the same simulator (HTTP + JSON, no events, no views).

#include <string>

namespace ae::bench {

struct RawDepFetchOptions {
  std::string control;  // the simulator's control URL (POST /sim/tokens)
  std::string url;      // the simulator's DEP URL
  std::string server = "Bench";
  int limit = 1000;
  uint64_t devices = 0;  // > 0: first add this many devices (serials B00000000001, ...)
};
// Issues a token for a fresh identity (creating `server`), adds `devices`
// devices, then fetches every device of `server`.
// Prints {devices, pages, seconds, per_sec}.
int RawDepFetch(const RawDepFetchOptions& o);

}  // namespace ae::bench
