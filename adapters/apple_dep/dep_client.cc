#include "adapters/apple_dep/dep_client.h"

#include <algorithm>

#include "adapters/http/authenticated_call.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"

namespace ae::dep {
namespace {

using nlohmann::json;

constexpr char kModule[] = "adapters.dep";
constexpr char kJsonType[] = "application/json;charset=UTF8";
constexpr char kSessionHeader[] = "X-ADM-Auth-Session";

bool IsSessionFailure(const http::HttpResponse& r) {
  return r.status == 401 || (r.status == 403 && r.body.find("FORBIDDEN") != std::string::npos);
}

Result<json> ParseBody(std::string_view call, const std::string& body) {
  if (body.empty()) return json::object();
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Internal(kBadResponse, std::string(call) + ": the answer is not JSON");
  }
  return j;
}

Status NoSerials() {
  return InvalidArgument("dep.device_id_required", "at least one serial number is required",
                         "devices");
}

}  // namespace

Status DepClientOptions::Validate() const {
  http::HttpClientOptions h;
  h.base_url = base_url;
  h.retry = retry;
  h.connect_timeout_ms = connect_timeout_ms;
  h.read_timeout_ms = read_timeout_ms;
  AE_RETURN_IF_ERROR(h.Validate());
  if (user_agent.empty() || user_agent.find_first_of("\r\n") != std::string::npos) {
    return InvalidArgument("dep.bad_options", "user_agent must be a plain name/version",
                           "user_agent");
  }
  if (protocol_version < 1) {
    return InvalidArgument("dep.bad_options", "protocol_version must be >= 1", "protocol_version");
  }
  if (max_serials_per_call == 0 || max_serials_per_call > 1000) {
    return InvalidArgument("dep.bad_options", "max_serials_per_call must be in 1..1000",
                           "max_serials_per_call");
  }
  return Status::Ok();
}

Result<std::unique_ptr<DepClientImpl>> DepClientImpl::Create(DepClientOptions options,
                                                             DepToken token, const Clock& clock,
                                                             http::Sleeper& sleeper,
                                                             http::Random& random) {
  AE_RETURN_IF_ERROR(options.Validate());
  http::HttpClientOptions h;
  h.base_url = options.base_url;
  h.connect_timeout_ms = options.connect_timeout_ms;
  h.read_timeout_ms = options.read_timeout_ms;
  h.write_timeout_ms = options.read_timeout_ms;
  h.retry = options.retry;
  h.log_module = kModule;
  AE_ASSIGN_OR_RETURN(auto http, http::HttpClient::Create(std::move(h), clock, sleeper, random));
  return std::unique_ptr<DepClientImpl>(
      new DepClientImpl(std::move(options), std::move(token), clock, std::move(http)));
}

DepClientImpl::DepClientImpl(DepClientOptions options, DepToken token, const Clock& clock,
                             std::unique_ptr<http::HttpClient> http)
    : options_(std::move(options)),
      clock_(clock),
      http_(std::move(http)),
      session_url_(http_->base_url().Origin() + http_->base_url().prefix + "/session"),
      token_(std::move(token)) {}

DepClientImpl::~DepClientImpl() = default;

void DepClientImpl::UpdateToken(DepToken token) {
  std::lock_guard lock(mu_);
  token_ = std::move(token);
  session_.clear();
}

void DepClientImpl::ResetSession() {
  std::lock_guard lock(mu_);
  session_.clear();
}

bool DepClientImpl::HasSessionForTest() const {
  std::lock_guard lock(mu_);
  return !session_.empty();
}

int64_t DepClientImpl::ThrottledUntilMs() const {
  std::lock_guard lock(mu_);
  return throttled_until_ms_;
}

httplib::Headers DepClientImpl::CommonHeaders() const {
  return {
      {"User-Agent", options_.user_agent},
      {"X-Server-Protocol-Version", std::to_string(options_.protocol_version)},
      {"Accept", kJsonType},
  };
}

Result<std::string> DepClientImpl::Authenticate(http::HttpResponse* retry) {
  oauth1::Credentials creds;
  {
    std::lock_guard lock(mu_);
    if (token_.access_token_expiry_ms < clock_.NowMs()) {
      return Unprocessable(
          kTokenExpired,
          "the server token expired at " + token_.access_token_expiry + "; upload a renewed token");
    }
    creds = {token_.consumer_key, token_.consumer_secret, token_.access_token,
             token_.access_secret};
  }
  http::HttpRequest req;
  req.method = "GET";
  req.path = "/session";
  req.headers = CommonHeaders();
  req.headers.emplace("Content-Type", kJsonType);  // harmless for Apple, needed by depsim
  req.headers.emplace("Authorization",
                      oauth1::AuthorizationHeader(creds, "GET", session_url_, clock_.NowMs() / 1000,
                                                  crypto::Hex(crypto::RandomBytes(16))));
  AE_ASSIGN_OR_RETURN(http::HttpResponse resp, http_->SendOnce(req));
  if (http::IsRetryableHttpStatus(resp.status)) {
    *retry = std::move(resp);
    return Unavailable(kDepUnavailable, "GET /session: retryable answer");
  }
  if (resp.status != 200) return StatusForAppleError("GET /session", resp.status, resp.body);
  AE_ASSIGN_OR_RETURN(json j, ParseBody("GET /session", resp.body));
  auto it = j.find("auth_session_token");
  if (!j.is_object() || it == j.end() || !it->is_string() || it->get<std::string>().empty()) {
    return Internal(kBadResponse, "GET /session: no auth_session_token in the answer");
  }
  std::string session = it->get<std::string>();
  log::Get(kModule)->info("[dep={}] new session {}", options_.dep_name, log::Redacted(session));
  return session;
}

Result<std::string> DepClientImpl::EnsureSession(const std::string& stale,
                                                 http::HttpResponse* retry) {
  {
    std::lock_guard lock(mu_);
    if (!session_.empty() && session_ != stale) return session_;
  }
  std::lock_guard single_flight(auth_mu_);
  {
    std::lock_guard lock(mu_);  // another caller may have refreshed meanwhile
    if (!session_.empty() && session_ != stale) return session_;
  }
  AE_ASSIGN_OR_RETURN(std::string session, Authenticate(retry));
  std::lock_guard lock(mu_);
  session_ = session;
  return session;
}

void DepClientImpl::AdoptSession(const http::HttpResponse& response, const std::string& used) {
  std::string rotated = response.Header(kSessionHeader);
  if (rotated.empty() || rotated == used) return;
  std::lock_guard lock(mu_);
  if (session_ == used || session_.empty()) {
    session_ = rotated;
    log::Get(kModule)->debug("[dep={}] adopted rotated session {}", options_.dep_name,
                             log::Redacted(rotated));
  }
}

Result<json> DepClientImpl::Do(std::string_view method, std::string path, const json* body) {
  const std::string call = std::string(method) + " " + path.substr(0, path.find('?'));
  http::HttpRequest req;
  req.method = std::string(method);
  req.path = std::move(path);
  req.headers = CommonHeaders();
  if (body != nullptr) {
    req.body = body->dump();
    req.headers.emplace("Content-Type", kJsonType);
  }
  // The session: /session with the OAuth token, sent as X-ADM-Auth-Session, adopted when
  // Apple rotates it, authenticated again once when Apple refuses it.
  http::Authentication auth;
  auth.credential = [this](const std::string& stale, http::HttpResponse* retry) {
    return EnsureSession(stale, retry);
  };
  auth.attach = [](http::HttpRequest& sent, const std::string& session) {
    sent.headers.emplace(kSessionHeader, session);
  };
  auth.refused = IsSessionFailure;
  auth.observe = [this](const http::HttpResponse& resp, const std::string& session) {
    AdoptSession(resp, session);
  };
  auth.on_refused = [&](const http::HttpResponse& resp) {
    log::Get(kModule)->info("[dep={} call={}] session refused ({}); authenticating again",
                            options_.dep_name, call, resp.status);
  };
  auth.refused_again = [&](const http::HttpResponse& resp) {
    return Unauthenticated(kTokenRejected,
                           call + ": Apple answered " + std::to_string(resp.status) +
                               " again after a fresh session; the server token was revoked "
                               "or replaced");
  };
  http::AuthenticatedCallOutcome outcome;
  Result<http::HttpResponse> answer =
      http::AuthenticatedCall(*http_, call, req, auth, kDepUnavailable, &outcome);
  const int64_t server_wait_ms = outcome.server_retry_after_ms;
  if (!answer.ok() && answer.status().reason() == kDepUnavailable && server_wait_ms >= 0) {
    const int64_t until = clock_.NowMs() + server_wait_ms;
    {
      std::lock_guard lock(mu_);
      throttled_until_ms_ = std::max(throttled_until_ms_, until);
    }
    return Unavailable(kThrottled, call + ": Apple asked to wait " +
                                       std::to_string((server_wait_ms + 999) / 1000) +
                                       " s before the next call (Retry-After)");
  }
  AE_ASSIGN_OR_RETURN(http::HttpResponse resp, std::move(answer));
  if (resp.status < 200 || resp.status >= 300) {
    Status s = StatusForAppleError(call, resp.status, resp.body);
    log::Get(kModule)->warn("[dep={} call={}] {}", options_.dep_name, call, s.ToString());
    return s;
  }
  log::Get(kModule)->debug("[dep={} call={}] {}", options_.dep_name, call, resp.status);
  return ParseBody(call, resp.body);
}

template <typename Fn>
Status DepClientImpl::ForEachBatch(const std::vector<std::string>& serials, Fn fn) {
  if (serials.empty()) return NoSerials();
  const size_t n = options_.max_serials_per_call;
  for (size_t i = 0; i < serials.size(); i += n) {
    std::vector<std::string> batch(
        serials.begin() + static_cast<std::ptrdiff_t>(i),
        serials.begin() + static_cast<std::ptrdiff_t>(std::min(serials.size(), i + n)));
    AE_RETURN_IF_ERROR(fn(batch));
  }
  return Status::Ok();
}

Result<AccountDetail> DepClientImpl::GetAccount() {
  AE_ASSIGN_OR_RETURN(json j, Do("GET", "/account", nullptr));
  return AccountDetailFromJson(j);
}

Result<DevicePage> DepClientImpl::FetchDevices(std::string_view cursor, int limit) {
  json body = json::object();
  if (!cursor.empty()) body["cursor"] = cursor;
  if (limit > 0) body["limit"] = limit;
  AE_ASSIGN_OR_RETURN(json j, Do("POST", "/server/devices", &body));
  return DevicePageFromJson(j);
}

Result<DevicePage> DepClientImpl::SyncDevices(std::string_view cursor, int limit) {
  if (cursor.empty()) {
    return FailedPrecondition(kCursorRequired, "sync needs the cursor of a fetch or sync");
  }
  json body = {{"cursor", cursor}};
  if (limit > 0) body["limit"] = limit;
  AE_ASSIGN_OR_RETURN(json j, Do("POST", "/devices/sync", &body));
  return DevicePageFromJson(j);
}

Result<std::map<std::string, Device>> DepClientImpl::DeviceDetails(
    const std::vector<std::string>& serials) {
  std::map<std::string, Device> out;
  AE_RETURN_IF_ERROR(ForEachBatch(serials, [&](const std::vector<std::string>& batch) -> Status {
    json body = {{"devices", batch}};
    AE_ASSIGN_OR_RETURN(json j, Do("POST", "/devices", &body));
    auto devices = j.find("devices");
    if (!j.is_object() || devices == j.end() || !devices->is_object()) {
      return Internal(kBadResponse, "POST /devices: no devices map in the answer");
    }
    for (const auto& [serial, dj] : devices->items()) {
      AE_ASSIGN_OR_RETURN(Device d, DeviceFromJson(dj));
      if (d.serial_number.empty()) d.serial_number = serial;
      out[serial] = std::move(d);
    }
    return Status::Ok();
  }));
  return out;
}

Result<DefineProfileResult> DepClientImpl::DefineProfile(const Profile& profile) {
  if (profile.devices.size() > options_.max_serials_per_call) {
    return InvalidArgument("dep.too_many_devices",
                           "define at most " + std::to_string(options_.max_serials_per_call) +
                               " devices with a profile; assign the rest",
                           "devices");
  }
  json body = ProfileToJson(profile);
  body.erase("profile_uuid");
  AE_ASSIGN_OR_RETURN(json j, Do("POST", "/profile", &body));
  DefineProfileResult out;
  auto uuid = j.find("profile_uuid");
  if (!j.is_object() || uuid == j.end() || !uuid->is_string() || uuid->get<std::string>().empty()) {
    return Internal(kBadResponse, "POST /profile: no profile_uuid in the answer");
  }
  out.profile_uuid = uuid->get<std::string>();
  AE_ASSIGN_OR_RETURN(out.devices, SerialResultsFromJson(j));
  return out;
}

Result<Profile> DepClientImpl::GetProfile(std::string_view profile_uuid) {
  if (profile_uuid.empty()) {
    return InvalidArgument("dep.profile_uuid_required", "a profile UUID is required",
                           "profile_uuid");
  }
  AE_ASSIGN_OR_RETURN(
      json j, Do("GET", "/profile?profile_uuid=" + oauth1::PercentEncode(profile_uuid), nullptr));
  AE_ASSIGN_OR_RETURN(Profile p, ProfileFromJson(j));
  if (p.profile_uuid.empty()) p.profile_uuid = std::string(profile_uuid);
  return p;
}

Result<AssignProfileResult> DepClientImpl::AssignProfile(std::string_view profile_uuid,
                                                         const std::vector<std::string>& serials) {
  if (profile_uuid.empty()) {
    return InvalidArgument("dep.profile_uuid_required", "a profile UUID is required",
                           "profile_uuid");
  }
  AssignProfileResult out;
  out.profile_uuid = std::string(profile_uuid);
  const char* method = options_.assign_with_put ? "PUT" : "POST";
  AE_RETURN_IF_ERROR(ForEachBatch(serials, [&](const std::vector<std::string>& batch) -> Status {
    json body = {{"profile_uuid", profile_uuid}, {"devices", batch}};
    AE_ASSIGN_OR_RETURN(json j, Do(method, "/profile/devices", &body));
    AE_ASSIGN_OR_RETURN(SerialResults results, SerialResultsFromJson(j));
    out.devices.merge(results);
    auto ra = j.find("retry_after_seconds");
    if (ra != j.end() && ra->is_number_integer()) {
      out.retry_after_seconds =
          std::max<int64_t>(out.retry_after_seconds.value_or(0), ra->get<int64_t>());
    }
    return Status::Ok();
  }));
  return out;
}

Result<SerialResults> DepClientImpl::RemoveProfile(const std::vector<std::string>& serials) {
  SerialResults out;
  AE_RETURN_IF_ERROR(ForEachBatch(serials, [&](const std::vector<std::string>& batch) -> Status {
    json body = {{"devices", batch}};
    AE_ASSIGN_OR_RETURN(json j, Do("DELETE", "/profile/devices", &body));
    AE_ASSIGN_OR_RETURN(SerialResults results, SerialResultsFromJson(j));
    out.merge(results);
    return Status::Ok();
  }));
  return out;
}

Result<SerialResults> DepClientImpl::DisownDevices(const std::vector<std::string>& serials) {
  SerialResults out;
  AE_RETURN_IF_ERROR(ForEachBatch(serials, [&](const std::vector<std::string>& batch) -> Status {
    json body = {{"devices", batch}};
    AE_ASSIGN_OR_RETURN(json j, Do("POST", "/devices/disown", &body));
    AE_ASSIGN_OR_RETURN(SerialResults results, SerialResultsFromJson(j));
    out.merge(results);
    return Status::Ok();
  }));
  return out;
}

}  // namespace ae::dep
