// Who is calling and what they may do: the bearer token (a cached principal, looked up in
// the tokens and users views and proven by the token store), the client's address behind
// trusted proxies, the per-route and per-client rate limits, and the bounded wait for
// ?min_position.

#include "api/server.h"

#include <algorithm>
#include <chrono>

#include "api/http_errors.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"
#include "projections/user_records.h"
#include "projections/users_projector.h"

namespace ae::api {

Result<Principal> Server::Authenticate(const httplib::Request& req) {
  std::string auth = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (auth.size() <= prefix.size() || auth.compare(0, prefix.size(), prefix) != 0) {
    return Unauthenticated("auth.required", "send Authorization: Bearer <token>");
  }
  std::string token = auth.substr(prefix.size());
  std::string hash = crypto::Sha256(token);  // the cache's key, in memory only
  // Read the generation before the lookup: a change committed meanwhile makes
  // the entry stale at once.
  const uint64_t generation = proj::UsersViewGeneration().load(std::memory_order_acquire);
  CachedPrincipal found;
  bool cached = false;
  {
    std::shared_lock lock(principals_mu_);
    auto it = principals_.find(hash);
    if (it != principals_.end() && it->second.generation == generation) {
      found = it->second;
      cached = true;
    }
  }
  if (!cached) {
    AE_ASSIGN_OR_RETURN(found, LookUpPrincipal(token, hash));
    found.generation = generation;
    std::unique_lock lock(principals_mu_);
    if (principals_.size() >= 10'000) principals_.clear();  // bounded
    principals_[hash] = found;
  }
  app_.tokens().Touch(found.token_id, app_.clock().NowMs());
  return found.principal;
}

Result<Server::CachedPrincipal> Server::LookUpPrincipal(const std::string& token,
                                                        const std::string& hash) {
  const Status invalid = Unauthenticated("auth.invalid_token", "the token is not valid");
  // The token's row in the views, by its id: keyed (issued by this build, or the seed),
  // or SHA-256-derived (issued before keyed hashes).
  const std::string legacy_id = crypto::Hex(hash).substr(0, 16);
  std::string token_id, user_id;
  for (const std::string& id : {app_.tokens().IdFor(token), legacy_id}) {
    AE_ASSIGN_OR_RETURN(auto rec, app_.views().Get("tokens", id));
    if (!rec) continue;
    auto t = proj::DecodeToken(*rec);
    if (!t.ok()) return Internal("internal", "token record unreadable");
    token_id = id;
    user_id = t->user_id;
    break;
  }
  if (token_id.empty()) {
    // Views of format 2, live while they are rebuilt after an upgrade, key those by SHA-256.
    AE_ASSIGN_OR_RETURN(auto rec, app_.views().Get("tokens", hash));
    if (!rec) return invalid;
    auto t = proj::DecodeToken(*rec);
    if (!t.ok() || t->token_id != legacy_id) return invalid;
    token_id = legacy_id;
    user_id = t->user_id;
  }
  // What proves the token: its verifier in the token store (keyed, constant-time).
  AE_ASSIGN_OR_RETURN(bool matches, app_.tokens().Matches(token_id, user_id, hash));
  if (!matches) return invalid;
  AE_ASSIGN_OR_RETURN(auto user, app_.views().Get("users", user_id));
  if (!user) return invalid;
  auto u = proj::DecodeUser(*user);
  if (!u.ok() || u->deleted) return invalid;
  bool listed = false;
  for (const auto& id : u->token_ids) listed = listed || id == token_id;
  if (u->token_hashes) {  // format 2
    for (const auto& h : *u->token_hashes) {
      listed = listed || (token_id == legacy_id && h == crypto::Hex(hash));
    }
  }
  if (!listed) return invalid;
  CachedPrincipal found;
  found.token_id = token_id;
  found.principal.user_id = user_id;
  found.principal.role = domain::users::ParseRole(u->role).value_or(
      domain::users::Role::ROLE_UNSPECIFIED);
  return found;
}

std::string Server::ClientSource(const httplib::Request& req) const {
  std::vector<std::string> forwarded;
  if (!trusted_proxies_.empty()) {
    auto [from, to] = req.headers.equal_range("X-Forwarded-For");
    for (auto it = from; it != to; ++it) forwarded.push_back(it->second);
  }
  auto client = ClientAddress(req.remote_addr, forwarded, trusted_proxies_);
  return client ? SourceKey(*client) : req.remote_addr;
}

Status Server::Admit(const RouteEntry& route, const httplib::Request& req, Principal& who,
                     int* retry_after_s) {
  if (auto limit = limited_labels_.find(route.label); limit != limited_labels_.end()) {
    const bool by_device = limit->second == LimitBy::kDevice;
    std::string source = by_device ? MdmSignerKey(req.get_header_value("Mdm-Signature")) : "";
    const bool device = !source.empty();
    if (!device) source = ClientSource(req);
    RateLimiter& limiter = by_device ? *device_limiter_ : *enroll_limiter_;
    if (!limiter.Allow(source, app_.clock().NowMs(), retry_after_s)) {
      return ResourceExhausted("request.rate_limited",
                               std::string("too many requests from this ") +
                                   (device ? "device" : "address") + "; retry in " +
                                   std::to_string(*retry_after_s) + " s");
    }
  }
  if (route.access == Access::kPublic) {
    // A token is not needed, but a route may say more to a caller who shows one (/readyz).
    if (req.has_header("Authorization")) {
      auto known = Authenticate(req);
      if (known.ok()) who = *known;
    }
    return Status::Ok();
  }
  AE_ASSIGN_OR_RETURN(who, Authenticate(req));
  using R = domain::users::Role;
  R need = route.access == Access::kAdministrator   ? R::ROLE_ADMINISTRATOR
           : route.access == Access::kDeviceManager ? R::ROLE_DEVICE_MANAGER
                                                    : R::ROLE_DEVICE_USER;
  if (!domain::users::RoleAtLeast(who.role, need)) {
    return PermissionDenied("auth.forbidden", "this needs the role " +
                                                  domain::users::RoleName(need));
  }
  return Status::Ok();
}

Status Server::WaitForMinPosition(const httplib::Request& req, const Principal& who,
                                  int* retry_after_s) {
  if (!req.has_param("min_position")) return Status::Ok();
  auto pos = LogPosition::Parse(req.get_param_value("min_position"));
  if (!pos) {
    return InvalidArgument("request.bad_min_position",
                           "min_position must be a log position like 42 or 1:42", "min_position");
  }
  if (app_.runner().WaitUntilCovers(*pos, std::chrono::milliseconds(0))) return Status::Ok();
  {
    std::lock_guard lock(waits_mu_);
    int& waiting = waits_[who.user_id];
    if (waiting >= options_.max_view_waits_per_client) {
      *retry_after_s = static_cast<int>(std::max<int64_t>(
          1, std::chrono::duration_cast<std::chrono::seconds>(options_.min_position_wait)
                 .count()));
      return ResourceExhausted(
          "view.too_many_waits",
          "this user already has " + std::to_string(waiting) +
              " requests waiting for the views to reach a min_position; retry after they end");
    }
    ++waiting;
  }
  app_.metrics().view_waiters++;
  Status s = WaitForViews(*pos);
  app_.metrics().view_waiters--;
  std::lock_guard lock(waits_mu_);
  if (--waits_[who.user_id] <= 0) waits_.erase(who.user_id);
  return s;
}

}  // namespace ae::api
