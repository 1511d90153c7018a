#include "adapters/samsung_knox/knox_client.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "adapters/http/authenticated_call.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"

namespace ae::knox {

const char kSamsungCredentialKey[] =
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu4NECyudg9kYyLqdcfaOiRY+ImD3PYpnMXItzWR9YL1BeJOt"
    "1lwLG32aIix2SvED+5w8q0aLINeS8zDiJ28gsz5waUSIZHDzuPg9GOaDumua6FWcXxqI1i209lPF7rzbtHWU/2AngPX/"
    "hb5a/L7nYuTpDTNFMvQ1k1xw3fghtUb5lP+tRPYIgdKjRdS5WCRCR3I8ppyKABFisYHn1jm0op16AyIyX6lbCTb7Hppk"
    "fDU2V0tdPBqTT5C1qNJKkPVLQzqN3lKQdY0bx+Ebf9zA+QPeorTTGurmnAe4JuNYO3G26WtFZ91RaMaKXogT1l+2++oa"
    "oSGZk1fm6z2ojLdz4wIDAQAB";

namespace {

using nlohmann::json;

constexpr char kModule[] = "adapters.knox";
constexpr char kJsonType[] = "application/json";
constexpr int64_t kDefaultTokenLifetimeS = 300;  // when the token answer omits expires_in

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Result<json> ParseBody(std::string_view call, const std::string& body) {
  if (body.empty()) return json::object();
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Internal(kBadResponse, std::string(call) + ": the answer is not JSON");
  }
  return j;
}

Status EmptyList(const char* field) {
  return InvalidArgument(kInvalidParam, "Device ID list cannot be empty", field);
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct CtxDeleter {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

Result<PkeyPtr> ParsePublicKey(std::string_view b64) {
  auto bad = [](std::string why) {
    return InvalidArgument("knox.bad_credential_key",
                           "credential_public_key: " + std::move(why), "credential_public_key");
  };
  Result<std::string> der = crypto::FromBase64(b64);
  if (!der.ok() || der->empty()) return bad("not base64");
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der->data());
  PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der->size())));
  if (!key) return bad("not a DER SubjectPublicKeyInfo");
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) return bad("not an RSA key");
  return key;
}

Result<std::string> RsaEncrypt(EVP_PKEY* key, std::string_view plaintext, const char* field) {
  const size_t max = static_cast<size_t>(EVP_PKEY_get_size(key)) - 11;  // PKCS#1 v1.5
  if (plaintext.size() > max) {
    return InvalidArgument("knox.credential_too_long",
                           std::string(field) + " is longer than " + std::to_string(max) +
                               " bytes, the most Samsung's key can encrypt",
                           field);
  }
  std::unique_ptr<EVP_PKEY_CTX, CtxDeleter> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  size_t len = 0;
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) <= 0 ||
      EVP_PKEY_encrypt(ctx.get(), nullptr, &len,
                       reinterpret_cast<const unsigned char*>(plaintext.data()),
                       plaintext.size()) <= 0) {
    return Internal("knox.encrypt_failed", "RSA encryption is unavailable");
  }
  std::string out(len, '\0');
  if (EVP_PKEY_encrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                       reinterpret_cast<const unsigned char*>(plaintext.data()),
                       plaintext.size()) <= 0) {
    return Internal("knox.encrypt_failed", "RSA encryption failed");
  }
  out.resize(len);
  return crypto::Base64(out);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

struct KnoxClientImpl::CredentialKey {
  PkeyPtr key;
};

Result<std::string> EncryptCredential(std::string_view public_key, std::string_view plaintext) {
  AE_ASSIGN_OR_RETURN(PkeyPtr key, ParsePublicKey(public_key));
  return RsaEncrypt(key.get(), plaintext, "credential");
}

// ---- KnoxClient -------------------------------------------------------------------------

Status KnoxClient::ForEachDevicePage(ListDevicesRequest first,
                                     const std::function<Status(const DevicePage&)>& page_fn) {
  ListDevicesRequest r = first;
  int64_t before = 0;  // devices on the pages before `first`
  int64_t seen = 0;
  for (int pages = 0;; ++pages) {
    if (pages >= 1'000'000) {
      return Internal(kBadResponse, "GET devices/list: paging does not end");
    }
    AE_ASSIGN_OR_RETURN(DevicePage page, ListDevices(r));
    if (page.devices.empty()) return Status::Ok();
    if (pages == 0) before = static_cast<int64_t>(first.page_num) * static_cast<int64_t>(page.devices.size());
    AE_RETURN_IF_ERROR(page_fn(page));
    seen += static_cast<int64_t>(page.devices.size());
    if (before + seen >= page.total_count) return Status::Ok();
    ++r.page_num;
  }
}

// ---- options ------------------------------------------------------------------------------

Status KnoxClientOptions::Validate() const {
  for (const std::string* url : {&base_url, &token_url}) {
    http::HttpClientOptions h;
    h.base_url = *url;
    h.retry = retry;
    h.connect_timeout_ms = connect_timeout_ms;
    h.read_timeout_ms = read_timeout_ms;
    AE_RETURN_IF_ERROR(h.Validate());
  }
  auto bad = [](const char* field, const char* message) {
    return InvalidArgument("knox.bad_options", message, field);
  };
  auto header_safe = [](const std::string& s) {
    return s.find_first_of("\r\n") == std::string::npos;
  };
  if (user_agent.empty() || !header_safe(user_agent)) {
    return bad("user_agent", "user_agent must be a plain name/version");
  }
  if (!header_safe(managed_tenant_id)) return bad("managed_tenant_id", "no line breaks");
  if (customer_id.size() > 64) return bad("customer_id", "customer_id is at most 64 characters");
  if (max_devices_per_call == 0 || max_devices_per_call > 100'000) {
    return bad("max_devices_per_call", "max_devices_per_call must be in 1..100000");
  }
  if (default_page_size < 1 || default_page_size > 10'000) {
    return bad("default_page_size", "default_page_size must be in 1..10000");
  }
  if (token_refresh_margin_ms < 0) {
    return bad("token_refresh_margin_ms", "token_refresh_margin_ms must be >= 0");
  }
  return Status::Ok();
}

// ---- KnoxClientImpl -----------------------------------------------------------------------

Result<std::unique_ptr<KnoxClientImpl>> KnoxClientImpl::Create(KnoxClientOptions options,
                                                               KnoxCredentials credentials,
                                                               const Clock& clock,
                                                               http::Sleeper& sleeper,
                                                               http::Random& random) {
  AE_RETURN_IF_ERROR(options.Validate());
  if (credentials.client_id.empty() || credentials.client_secret.empty()) {
    return InvalidArgument("knox.bad_credentials", "client_id and client_secret are required",
                           "client_id");
  }
  AE_ASSIGN_OR_RETURN(PkeyPtr key, ParsePublicKey(options.credential_public_key));
  auto make = [&](const std::string& url) {
    http::HttpClientOptions h;
    h.base_url = url;
    h.connect_timeout_ms = options.connect_timeout_ms;
    h.read_timeout_ms = options.read_timeout_ms;
    h.write_timeout_ms = options.read_timeout_ms;
    h.retry = options.retry;
    h.log_module = kModule;
    return http::HttpClient::Create(std::move(h), clock, sleeper, random);
  };
  AE_ASSIGN_OR_RETURN(auto api, make(options.base_url));
  AE_ASSIGN_OR_RETURN(auto auth, make(options.token_url));
  auto shared_key = std::make_shared<CredentialKey>();
  shared_key->key = std::move(key);
  return std::unique_ptr<KnoxClientImpl>(
      new KnoxClientImpl(std::move(options), std::move(credentials), clock, std::move(api),
                         std::move(auth), std::move(shared_key)));
}

KnoxClientImpl::KnoxClientImpl(KnoxClientOptions options, KnoxCredentials credentials,
                               const Clock& clock, std::unique_ptr<http::HttpClient> api,
                               std::unique_ptr<http::HttpClient> auth,
                               std::shared_ptr<CredentialKey> key)
    : options_(std::move(options)),
      clock_(clock),
      api_(std::move(api)),
      auth_(std::move(auth)),
      key_(std::move(key)),
      credentials_(std::move(credentials)) {}

KnoxClientImpl::~KnoxClientImpl() = default;

void KnoxClientImpl::UpdateCredentials(KnoxCredentials credentials) {
  std::lock_guard lock(mu_);
  credentials_ = std::move(credentials);
  token_.clear();
  renew_at_ms_ = 0;
}

void KnoxClientImpl::ResetToken() {
  std::lock_guard lock(mu_);
  token_.clear();
  renew_at_ms_ = 0;
}

bool KnoxClientImpl::HasTokenForTest() const {
  std::lock_guard lock(mu_);
  return !token_.empty();
}

httplib::Headers KnoxClientImpl::CommonHeaders() const {
  httplib::Headers h{{"User-Agent", options_.user_agent}, {"Accept", kJsonType}};
  if (!options_.managed_tenant_id.empty()) {
    h.emplace("x-wsm-managed-tenantid", options_.managed_tenant_id);
  }
  return h;
}

std::string KnoxClientImpl::PageQuery(int page_num, int page_size) const {
  std::string q = "?pageNum=" + std::to_string(std::max(page_num, 0)) +
                  "&pageSize=" + std::to_string(page_size > 0 ? page_size : options_.default_page_size);
  if (!options_.customer_id.empty()) q += "&customerId=" + PercentEncode(options_.customer_id);
  return q;
}

Result<std::string> KnoxClientImpl::Encrypt(std::string_view plaintext, const char* field) const {
  return RsaEncrypt(key_->key.get(), plaintext, field);
}

Status KnoxClientImpl::FetchToken(http::HttpResponse* retry) {
  KnoxCredentials creds;
  {
    std::lock_guard lock(mu_);
    creds = credentials_;
  }
  http::HttpRequest req;
  req.method = "POST";
  req.path = "";  // the token URL is the client's whole base
  req.headers = CommonHeaders();
  req.headers.emplace("Content-Type", "application/x-www-form-urlencoded");
  req.body = "grant_type=client_credentials&client_id=" + PercentEncode(creds.client_id) +
             "&client_secret=" + PercentEncode(creds.client_secret) +
             "&scope=" + PercentEncode(options_.scope);
  AE_ASSIGN_OR_RETURN(http::HttpResponse resp, auth_->SendOnce(req));
  if (http::IsRetryableHttpStatus(resp.status)) {
    *retry = std::move(resp);
    return Unavailable(kKnoxUnavailable, "POST oauth2/token: retryable answer");
  }
  if (resp.status != 200) {
    Status s = StatusForTokenError(resp.status, resp.body);
    log::Get(kModule)->warn("[knox={}] token refused: {}", options_.tenant_name, s.ToString());
    return s;
  }
  AE_ASSIGN_OR_RETURN(json j, ParseBody("POST oauth2/token", resp.body));
  auto bad = [](const char* why) {
    return Internal(kBadResponse, std::string("POST oauth2/token: ") + why);
  };
  if (!j.is_object()) return bad("the answer is not an object");
  auto at = j.find("access_token");
  if (at == j.end() || !at->is_string() || at->get_ref<const std::string&>().empty()) {
    return bad("no access_token in the answer");
  }
  auto type = j.find("token_type");
  if (type != j.end() && !(type->is_string() && Lower(type->get<std::string>()) == "bearer")) {
    return bad("token_type is not Bearer");
  }
  Result<std::optional<int64_t>> expires = EpochMsMember(j, "expires_in");
  if (!expires.ok()) return bad("expires_in is not a number");
  const int64_t lifetime_ms = std::max<int64_t>(1, expires->value_or(kDefaultTokenLifetimeS)) * 1000;
  const int64_t margin = std::min(options_.token_refresh_margin_ms, lifetime_ms / 2);
  std::string token = at->get<std::string>();
  std::string scope = j.value("scope", std::string());
  log::Get(kModule)->info("[knox={}] new access token {} valid {} s, scope \"{}\"",
                          options_.tenant_name, log::Redacted(token), lifetime_ms / 1000, scope);
  std::lock_guard lock(mu_);
  token_ = std::move(token);
  renew_at_ms_ = clock_.NowMs() + lifetime_ms - margin;
  return Status::Ok();
}

Result<std::string> KnoxClientImpl::EnsureToken(const std::string& stale,
                                                http::HttpResponse* retry) {
  auto usable = [&] {
    return !token_.empty() && token_ != stale && clock_.NowMs() < renew_at_ms_;
  };
  {
    std::lock_guard lock(mu_);
    if (usable()) return token_;
  }
  std::lock_guard single_flight(auth_mu_);
  {
    std::lock_guard lock(mu_);  // another caller may have fetched one meanwhile
    if (usable()) return token_;
  }
  AE_RETURN_IF_ERROR(FetchToken(retry));
  std::lock_guard lock(mu_);
  return token_;
}

Result<json> KnoxClientImpl::Do(std::string_view method, std::string path, const json* body) {
  const std::string call = std::string(method) + " " + path.substr(0, path.find('?'));
  http::HttpRequest req;
  req.method = std::string(method);
  req.path = std::move(path);
  req.headers = CommonHeaders();
  if (body != nullptr) {
    req.body = body->dump();
    req.headers.emplace("Content-Type", kJsonType);
  }
  // The OAuth 2.0 access token, sent as a Bearer token, fetched again once when Samsung
  // refuses it.
  http::Authentication auth;
  auth.credential = [this](const std::string& stale, http::HttpResponse* retry) {
    return EnsureToken(stale, retry);
  };
  auth.attach = [](http::HttpRequest& sent, const std::string& token) {
    sent.headers.emplace("Authorization", "Bearer " + token);
  };
  auth.refused = [](const http::HttpResponse& resp) {
    return IsTokenFailure(resp.status, resp.body);
  };
  auth.screen = [&](const http::HttpResponse& resp) {
    if (resp.status >= 500) {
      // RSA_DECRYPTION_FAIL is our key, not Samsung's health: never retried.
      auto e = ParseKnoxError(resp.body);
      if (e && e->code == std::to_string(kCodeRsaDecryptionFail)) {
        return StatusForKnoxError(call, resp.status, resp.body);
      }
    }
    return Status::Ok();
  };
  auth.on_refused = [&](const http::HttpResponse& resp) {
    log::Get(kModule)->info("[knox={} call={}] access token refused ({}); fetching a new one",
                            options_.tenant_name, call, resp.status);
  };
  auth.refused_again = [&](const http::HttpResponse& resp) {
    return Unauthenticated(kUnauthorized,
                           call + ": Samsung answered " + std::to_string(resp.status) +
                               " again with a fresh access token; the cloud app was "
                               "disabled or its credentials rotated");
  };
  http::AuthenticatedCallOutcome outcome;
  Result<http::HttpResponse> result =
      http::AuthenticatedCall(*api_, call, req, auth, kKnoxUnavailable, &outcome);
  const int last_status = outcome.last_status;
  if (!result.ok()) {
    const Status& s = result.status();
    if (s.code() == StatusCode::kUnavailable && s.reason() == kKnoxUnavailable &&
        last_status == 429) {
      return Unavailable(kRateLimited, s.message());
    }
    return s;
  }
  const http::HttpResponse& resp = *result;
  if (resp.status < 200 || resp.status >= 300) {
    Status s = StatusForKnoxError(call, resp.status, resp.body);
    log::Get(kModule)->warn("[knox={} call={}] {}", options_.tenant_name, call, s.ToString());
    return s;
  }
  log::Get(kModule)->debug("[knox={} call={}] {}", options_.tenant_name, call, resp.status);
  return ParseBody(call, resp.body);
}

template <typename T, typename Fn>
Status KnoxClientImpl::ForEachBatch(const std::vector<T>& items, Fn fn) const {
  const size_t n = options_.max_devices_per_call;
  for (size_t i = 0; i < items.size(); i += n) {
    std::vector<T> batch(items.begin() + static_cast<std::ptrdiff_t>(i),
                         items.begin() + static_cast<std::ptrdiff_t>(std::min(items.size(), i + n)));
    AE_RETURN_IF_ERROR(fn(batch));
  }
  return Status::Ok();
}

namespace {
// `ids` without repeats (first occurrence kept) and without empty strings.
std::vector<std::string> Unique(const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const std::string& id : ids) {
    if (!id.empty() && seen.insert(id).second) out.push_back(id);
  }
  return out;
}
}  // namespace

Result<DevicePage> KnoxClientImpl::ListDevices(const ListDevicesRequest& request) {
  std::string path = kDevicesListPath + PageQuery(request.page_num, request.page_size);
  if (request.changed_after_ms) path += "&changedAfter=" + std::to_string(*request.changed_after_ms);
  AE_ASSIGN_OR_RETURN(json j, Do("GET", std::move(path), nullptr));
  Result<DevicePage> page = DevicePageFromJson(j);
  if (!page.ok()) return page.status().WithContext("GET devices/list");
  return page;
}

Result<DeviceResults> KnoxClientImpl::AssignProfile(std::string_view profile_id,
                                                    const std::vector<AssignDevice>& devices) {
  if (profile_id.empty()) {
    return InvalidArgument(kInvalidParam, "a profile id is required", "profileId");
  }
  // Encrypt everything first: a bad credential fails the call before anything is sent.
  struct Prepared {
    std::string id;
    json entry;
  };
  std::vector<Prepared> prepared;
  std::set<std::string> seen;
  for (const AssignDevice& d : devices) {
    if (d.device_id.empty() || !seen.insert(d.device_id).second) continue;
    json entry = {{"deviceId", d.device_id}};
    if (!d.user_name.empty()) {
      AE_ASSIGN_OR_RETURN(std::string enc, Encrypt(d.user_name, "userName"));
      entry["userName"] = std::move(enc);
    }
    if (!d.password.empty()) {
      AE_ASSIGN_OR_RETURN(std::string enc, Encrypt(d.password, "userToken"));
      entry["userToken"] = std::move(enc);
    }
    prepared.push_back({d.device_id, std::move(entry)});
  }
  if (prepared.empty()) return EmptyList("devices");
  DeviceResults out;
  AE_RETURN_IF_ERROR(ForEachBatch(prepared, [&](const std::vector<Prepared>& batch) -> Status {
    json body = {{"profileId", profile_id}, {"devices", json::array()}};
    if (!options_.customer_id.empty()) body["customerId"] = options_.customer_id;
    std::vector<std::string> sent;
    for (const Prepared& p : batch) {
      body["devices"].push_back(p.entry);
      sent.push_back(p.id);
    }
    AE_ASSIGN_OR_RETURN(json j, Do("PUT", kAssignProfilePath, &body));
    Result<DeviceResults> results = DeviceResultsFromJson(j, sent);
    if (!results.ok()) return results.status().WithContext("PUT devices/assignProfile");
    out.merge(*results);
    return Status::Ok();
  }));
  return out;
}

Result<DeviceResults> KnoxClientImpl::UnassignProfile(const std::vector<std::string>& device_ids) {
  const std::vector<std::string> ids = Unique(device_ids);
  if (ids.empty()) return EmptyList("deviceIds");
  DeviceResults out;
  AE_RETURN_IF_ERROR(ForEachBatch(ids, [&](const std::vector<std::string>& batch) -> Status {
    json body = {{"deviceIds", batch}};
    if (!options_.customer_id.empty()) body["customerId"] = options_.customer_id;
    Result<json> j = Do(unassign_with_put_ ? "PUT" : "POST", kUnassignProfilePath, &body);
    if (!j.ok() && j.status().reason() == kMethodNotAllowed && !unassign_with_put_) {
      // §4.1 D4: the release note says POST, the scope table PUT.
      log::Get(kModule)->info("[knox={}] v2 unassignProfile refuses POST; using PUT",
                              options_.tenant_name);
      unassign_with_put_ = true;
      j = Do("PUT", kUnassignProfilePath, &body);
    }
    if (!j.ok()) return j.status();
    Result<DeviceResults> results = DeviceResultsFromJson(*j, batch);
    if (!results.ok()) return results.status().WithContext("v2 devices/unassignProfile");
    out.merge(*results);
    return Status::Ok();
  }));
  return out;
}

Result<DeviceResults> KnoxClientImpl::DeleteDevices(const std::vector<std::string>& device_ids) {
  const std::vector<std::string> ids = Unique(device_ids);
  if (ids.empty()) return EmptyList("imeiOrSerials");
  DeviceResults out;
  AE_RETURN_IF_ERROR(ForEachBatch(ids, [&](const std::vector<std::string>& batch) -> Status {
    json body = {{"devices", {{"imeiOrSerials", batch}}}};
    if (!options_.customer_id.empty()) body["customerId"] = options_.customer_id;
    AE_ASSIGN_OR_RETURN(json j, Do("POST", kDeleteDevicesPath, &body));
    Result<DeviceResults> results = DeviceResultsFromJson(j, batch);
    if (!results.ok()) return results.status().WithContext("POST devices/delete");
    out.merge(*results);
    return Status::Ok();
  }));
  return out;
}

Result<UploadPage> KnoxClientImpl::ListUploads(int page_num, int page_size) {
  AE_ASSIGN_OR_RETURN(json j, Do("GET", kUploadsListPath + PageQuery(page_num, page_size), nullptr));
  Result<UploadPage> page = UploadPageFromJson(j);
  if (!page.ok()) return page.status().WithContext("GET devices/uploads/list");
  return page;
}

Result<UploadResults> KnoxClientImpl::ApproveUploads(const std::vector<std::string>& upload_ids) {
  const std::vector<std::string> ids = Unique(upload_ids);
  if (ids.empty()) {
    return InvalidArgument(kInvalidParam, "the upload id list cannot be empty", "uploadIds");
  }
  UploadResults out;
  AE_RETURN_IF_ERROR(ForEachBatch(ids, [&](const std::vector<std::string>& batch) -> Status {
    json body = {{"uploadIds", batch}};
    if (!options_.customer_id.empty()) body["customerId"] = options_.customer_id;
    AE_ASSIGN_OR_RETURN(json j, Do("POST", kUploadsApprovalsPath, &body));
    Result<UploadResults> results = UploadResultsFromJson(j, batch);
    if (!results.ok()) return results.status().WithContext("POST devices/uploads/approvals");
    out.merge(*results);
    return Status::Ok();
  }));
  return out;
}

Result<ProfilePage> KnoxClientImpl::ListProfiles(int page_num, int page_size) {
  AE_ASSIGN_OR_RETURN(json j,
                      Do("GET", kProfilesListPath + PageQuery(page_num, page_size), nullptr));
  Result<ProfilePage> page = ProfilePageFromJson(j);
  if (!page.ok()) return page.status().WithContext("GET profiles/list");
  return page;
}

}  // namespace ae::knox
