#include "adapters/simulators/knox_simulator.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>
#include <set>

#include "adapters/samsung_knox/identifiers.h"
#include "adapters/samsung_knox/knox_client.h"
#include "adapters/samsung_knox/knox_errors.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"

namespace ae::sim {
namespace {

using nlohmann::json;

constexpr char kJsonType[] = "application/json";
constexpr char kPending[] = "Pending";
constexpr char kUnassigned[] = "Unassigned";
constexpr char kProfileAssigned[] = "Profile assigned";
constexpr char kAssignFailed[] = "Failed to assign";

// (-updateTime, id): ascending order is "updateTime desc, then id" (§8).
using OrderKey = std::pair<int64_t, std::string>;
using OrderTree =
    __gnu_pbds::tree<OrderKey, __gnu_pbds::null_type, std::less<OrderKey>,
                     __gnu_pbds::rb_tree_tag, __gnu_pbds::tree_order_statistics_node_update>;

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// What Samsung accepts as a device identifier at all: 1-64 letters and digits.
bool PlausibleIdentifier(std::string_view s) {
  return !s.empty() && s.size() <= 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
}

// The index keys a request identifier may hit.
std::vector<std::string> LookupKeys(std::string_view v) {
  std::vector<std::string> keys;
  if (v.empty()) return keys;
  keys.push_back("id:" + std::string(v));
  if (AllDigits(v) && (v.size() == 14 || v.size() == 15)) {
    keys.push_back("imei:" + std::string(v.substr(0, 14)));
  }
  const std::string up = Upper(v);
  keys.push_back("meid:" + up);
  keys.push_back("serial:" + up);
  return keys;
}

std::string UrlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> ParseForm(std::string_view body) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start <= body.size()) {
    size_t amp = body.find('&', start);
    std::string_view pair = body.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      out[UrlDecode(pair.substr(0, eq))] =
          eq == std::string_view::npos ? "" : UrlDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return out;
}

std::vector<std::string> SplitSpaces(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// Whether scope `have` (granted to an app or a token) covers scope `want` (§3.2 table;
// ":read"/":write" accepted as the 24.09 spellings of ":view"/":manage").
bool Covers(std::string_view have, std::string_view want) {
  auto canon = [](std::string s) {
    for (auto [from, to] : {std::pair<const char*, const char*>{":read", ":view"}, {":write", ":manage"}}) {
      size_t at = s.find(from);
      if (at != std::string::npos) s.replace(at, std::string_view(from).size(), to);
    }
    return s;
  };
  const std::string h = canon(std::string(have));
  const std::string w = canon(std::string(want));
  if (h == w) return true;
  return w.size() > h.size() && w.compare(0, h.size(), h) == 0 &&
         (w[h.size()] == '.' || w[h.size()] == ':');
}

// ---- the credential key -----------------------------------------------------------------

struct SimKey {
  EVP_PKEY* pkey = nullptr;
  std::string public_b64;
};

const SimKey& CredentialKey() {
  static const SimKey key = [] {
    SimKey k;
    k.pkey = EVP_RSA_gen(2048);
    if (k.pkey == nullptr) std::abort();
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(k.pkey, &der);
    if (len <= 0) std::abort();
    k.public_b64 = crypto::Base64(std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len)));
    OPENSSL_free(der);
    return k;
  }();
  return key;
}

std::optional<std::string> DecryptCredential(std::string_view b64) {
  Result<std::string> raw = crypto::FromBase64(b64);
  if (!raw.ok() || raw->empty()) return std::nullopt;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, CredentialKey().pkey, nullptr);
  if (ctx == nullptr) return std::nullopt;
  std::optional<std::string> out;
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(raw->data());
  if (EVP_PKEY_decrypt_init(ctx) > 0 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0) {
    // OpenSSL >= 3.2 would hide a padding failure behind random output (implicit
    // rejection); a simulator must report it.
    EVP_PKEY_CTX_ctrl_str(ctx, "rsa_pkcs1_implicit_rejection", "0");
    ERR_clear_error();
    if (EVP_PKEY_decrypt(ctx, nullptr, &len, in, raw->size()) > 0) {
      std::string buf(len, '\0');
      if (EVP_PKEY_decrypt(ctx, reinterpret_cast<unsigned char*>(buf.data()), &len, in,
                           raw->size()) > 0) {
        buf.resize(len);
        out = std::move(buf);
      }
    }
  }
  ERR_clear_error();
  EVP_PKEY_CTX_free(ctx);
  return out;
}

// A string (or integer) member; nullopt when absent; "" for another type.
std::optional<std::string> TextMember(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer() || it->is_number_unsigned()) return it->dump();
  return std::string();
}

// The string list `j[key]`; nullopt when absent or not a list of strings / integers.
std::optional<std::vector<std::string>> StringList(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const json& v : *it) {
    if (v.is_string()) {
      out.push_back(v.get<std::string>());
    } else if (v.is_number_integer() || v.is_number_unsigned()) {
      out.push_back(v.dump());
    } else {
      out.emplace_back();  // not an identifier: reported invalid
    }
  }
  return out;
}

}  // namespace

// ---- state ------------------------------------------------------------------------------

struct KnoxSimulator::SimDevice {
  std::string id, imei, imei2, meid, serial, model, order_id;
  std::string state = kPending;
  std::string profile_id;
  std::string user_name;
  bool has_password = false;
  std::vector<std::string> tags;
  std::string upload_id, reseller_id, reseller_name;
  int64_t create_time = 0, update_time = 0, reseller_upload_time = 0;
  bool listed = false;  // in the tenant's order index (devices/list)

  std::vector<std::string> Keys() const {
    std::vector<std::string> k{"id:" + id};
    if (!imei.empty()) k.push_back("imei:" + imei.substr(0, 14));
    if (!imei2.empty()) k.push_back("imei:" + imei2.substr(0, 14));
    if (!meid.empty()) k.push_back("meid:" + meid);
    if (!serial.empty()) k.push_back("serial:" + serial);
    return k;
  }
  OrderKey Key() const { return {-update_time, id}; }
};

struct KnoxSimulator::Tenant {
  struct UploadRec {
    knox::Upload upload;
    std::vector<std::string> device_ids;
    std::string default_profile_id;
  };
  std::string customer_id;
  std::string name;
  std::unordered_map<std::string, SimDevice> devices;   // by id
  std::unordered_map<std::string, std::string> index;   // identifier key -> id
  OrderTree order;                                      // listed devices
  std::vector<UploadRec> uploads;                       // in upload order
  std::unordered_map<std::string, size_t> upload_index;
  std::vector<knox::Profile> profiles;                  // in creation order
  std::unordered_map<std::string, size_t> profile_index;  // by id
};

KnoxSimulator::KnoxSimulator(KnoxSimulatorOptions options)
    : LoopbackServer(LoopbackServerOptions{
          .log_name = "sim.knox",
          .clock = options.clock,
          .threads = options.threads,
          .port = options.port,
          .payload_max_length = 64u << 20,
          .content_type = kJsonType,
          .exception_body = R"({"code":5000000,"message":"INTERNAL_SERVER_ERROR"})"}),
      options_(std::move(options)) {
  (void)CredentialKey();  // generate before serving
  Start();
}

KnoxSimulator::~KnoxSimulator() { Stop(); }

std::string KnoxSimulator::token_url() const { return base_url() + knox::kOAuthTokenPath; }

KnoxSimulator::Tenant& KnoxSimulator::TenantLocked(const std::string& customer_id) {
  const std::string id = customer_id.empty() ? options_.default_customer_id : customer_id;
  auto& t = tenants_[id];
  if (!t) {
    t = std::make_unique<Tenant>();
    t->customer_id = id;
    t->name = "Tenant " + id;
  }
  return *t;
}

KnoxSimulator::SimDevice* KnoxSimulator::FindLocked(Tenant& t, std::string_view identifier) {
  for (const std::string& k : LookupKeys(identifier)) {
    auto it = t.index.find(k);
    if (it != t.index.end()) return &t.devices.at(it->second);
  }
  return nullptr;
}

const KnoxSimulator::SimDevice* KnoxSimulator::FindAnyLocked(std::string_view identifier) const {
  for (const auto& [id, t] : tenants_) {
    for (const std::string& k : LookupKeys(identifier)) {
      auto it = t->index.find(k);
      if (it != t->index.end()) return &t->devices.at(it->second);
    }
  }
  return nullptr;
}

void KnoxSimulator::TouchLocked(Tenant& t, SimDevice& d) {
  if (d.listed) t.order.erase(d.Key());
  d.update_time = clock_.NowMs();
  if (d.listed) t.order.insert(d.Key());
}

void KnoxSimulator::ListLocked(Tenant& t, SimDevice& d) {
  if (d.listed) return;
  d.listed = true;
  t.order.insert(d.Key());
}

std::string KnoxSimulator::ForcedOutcomeLocked(const SimDevice& d) const {
  for (const std::string& k : d.Keys()) {
    auto it = outcomes_.find(k);
    if (it != outcomes_.end()) return it->second;
  }
  return "";
}

knox::Device KnoxSimulator::ToApiLocked(const Tenant& t, const SimDevice& d) const {
  knox::Device out;
  out.id = d.id;
  out.mei = !d.imei.empty() ? d.imei : d.meid;
  out.imei = d.imei;
  out.imei2 = d.imei2;
  out.meid = d.meid;
  out.serial = d.serial;
  out.model = d.model;
  out.state_raw = d.state;
  out.state = kme::ParseKmeDeviceStatus(d.state);
  out.profile_id = d.profile_id;
  auto p = t.profile_index.find(d.profile_id);
  if (p != t.profile_index.end()) out.profile_name = t.profiles[p->second].name;
  out.user_name = d.user_name;
  out.tags = d.tags;
  out.order_id = d.order_id;
  out.upload_id = d.upload_id;
  out.reseller_id = d.reseller_id;
  out.reseller_name = d.reseller_name;
  out.tenant_name = t.name;
  out.create_time_ms = d.create_time;
  out.update_time_ms = d.update_time;
  out.reseller_upload_time_ms = d.reseller_upload_time;
  return out;
}

// ---- test hooks ----------------------------------------------------------------------------

KnoxIssuedCredentials KnoxSimulator::IssueCredentials(std::string customer_id,
                                                      std::vector<std::string> scopes) {
  KnoxIssuedCredentials c;
  c.client_id = "kme-app-" + crypto::Hex(crypto::RandomBytes(8));
  c.client_secret = "kcs_" + crypto::Base64Url(crypto::RandomBytes(30));
  c.scopes = scopes.empty() ? std::vector<std::string>{"kme"} : std::move(scopes);
  std::lock_guard lock(mu_);
  c.customer_id = TenantLocked(customer_id).customer_id;
  apps_[c.client_id] = App{c, false};
  return c;
}

Status KnoxSimulator::RevokeCredentials(std::string_view client_id) {
  std::lock_guard lock(mu_);
  auto it = apps_.find(std::string(client_id));
  if (it == apps_.end()) return NotFound("sim.unknown_client", "no such client id");
  it->second.revoked = true;
  std::erase_if(tokens_, [&](const auto& kv) { return kv.second.client_id == client_id; });
  return Status::Ok();
}

std::string KnoxSimulator::CredentialPublicKey() const { return CredentialKey().public_b64; }

void KnoxSimulator::ExpireTokens() {
  std::lock_guard lock(mu_);
  tokens_.clear();
}

std::vector<KnoxSimDevice> KnoxSimulator::MakeDevices(std::string_view prefix, size_t n,
                                                      size_t first_index) {
  static constexpr const char* kModels[] = {"SM-G991B", "SM-A536B", "SM-T875", "SM-S918B"};
  std::string pre;
  for (char c : prefix.substr(0, 4)) {
    if (std::isalnum(static_cast<unsigned char>(c))) pre.push_back(c);
  }
  pre = Upper(pre);
  // Six digits that tell prefixes apart in the IMEI.
  uint32_t h = 2166136261u;
  for (char c : pre) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  std::string tag = std::to_string(h % 1'000'000);
  tag.insert(0, 6 - tag.size(), '0');
  const size_t width = std::max<size_t>(6, pre.size() < 8 ? 8 - pre.size() : 0);
  std::vector<KnoxSimDevice> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const size_t index = first_index + i;
    std::string num = std::to_string(index % 1'000'000);
    num.insert(0, 6 - num.size(), '0');
    std::string body = "35" + tag + num;  // 14 digits
    KnoxSimDevice d;
    d.imei = body + kme::ImeiCheckDigit(body);
    std::string sn = std::to_string(index);
    if (sn.size() < width) sn.insert(0, width - sn.size(), '0');
    d.serial = "R58" + pre + sn;
    d.model = kModels[index % 4];
    d.order_id = "PO-" + std::to_string(1000 + index / 100);
    out.push_back(std::move(d));
  }
  return out;
}

Result<ResellerUploadResult> KnoxSimulator::AddResellerUpload(std::vector<KnoxSimDevice> devices,
                                                              const ResellerUploadOptions& o) {
  std::lock_guard lock(mu_);
  Tenant& t = TenantLocked(o.customer_id);
  std::set<std::string> keys;
  for (KnoxSimDevice& d : devices) {
    d.serial = Upper(d.serial);
    d.meid = Upper(d.meid);
    if (d.imei.empty() && d.meid.empty() && d.serial.empty()) {
      return InvalidArgument("sim.bad_device", "a device needs an IMEI, an MEID or a serial");
    }
    SimDevice probe;
    probe.imei = d.imei;
    probe.imei2 = d.imei2;
    probe.meid = d.meid;
    probe.serial = d.serial;
    std::vector<std::string> ks = probe.Keys();
    for (size_t i = 1; i < ks.size(); ++i) {  // [0] is the (empty) id
      bool taken = !keys.insert(ks[i]).second;
      for (const auto& [cid, other] : tenants_) taken = taken || other->index.count(ks[i]) != 0;
      if (taken) {
        // §1.3: a device registered in a Knox inventory cannot be uploaded again.
        return AlreadyExists("sim.device_exists", ks[i] + " is already registered");
      }
    }
  }
  if (!o.default_profile_id.empty() && t.profile_index.count(o.default_profile_id) == 0) {
    return NotFound("sim.unknown_profile", "no profile " + o.default_profile_id);
  }
  const int64_t now = clock_.NowMs();
  Tenant::UploadRec rec;
  rec.upload.upload_id = "UP" + std::to_string(now / 1000) + "-" + std::to_string(next_upload_++);
  rec.upload.reseller_id = o.reseller_id;
  rec.upload.reseller_name = o.reseller_name;
  rec.upload.status_raw = "Pending";
  rec.upload.pending = true;
  rec.upload.upload_time_ms = now;
  rec.upload.device_count = static_cast<int64_t>(devices.size());
  rec.default_profile_id = o.default_profile_id;
  ResellerUploadResult result;
  result.upload_id = rec.upload.upload_id;
  for (KnoxSimDevice& in : devices) {
    SimDevice d;
    d.id = std::to_string(next_id_++);
    d.imei = std::move(in.imei);
    d.imei2 = std::move(in.imei2);
    d.meid = std::move(in.meid);
    d.serial = std::move(in.serial);
    d.model = std::move(in.model);
    d.order_id = std::move(in.order_id);
    d.upload_id = rec.upload.upload_id;
    d.reseller_id = o.reseller_id;
    d.reseller_name = o.reseller_name;
    d.create_time = d.update_time = d.reseller_upload_time = now;
    for (const std::string& k : d.Keys()) t.index[k] = d.id;
    rec.device_ids.push_back(d.id);
    result.device_ids.push_back(d.id);
    SimDevice& stored = t.devices[d.id] = std::move(d);
    if (options_.list_pending_devices) ListLocked(t, stored);
  }
  t.upload_index[rec.upload.upload_id] = t.uploads.size();
  t.uploads.push_back(std::move(rec));
  if (o.auto_approve) {
    json body = {{"uploadIds", {result.upload_id}}};
    (void)ApproveUploads(body, t);
  }
  return result;
}

Result<std::string> KnoxSimulator::AddProfile(std::string_view name, std::string customer_id) {
  if (name.empty()) return InvalidArgument("sim.bad_profile", "a profile needs a name");
  std::lock_guard lock(mu_);
  Tenant& t = TenantLocked(customer_id);
  for (const knox::Profile& p : t.profiles) {
    if (Lower(p.name) == Lower(name)) {
      return AlreadyExists("sim.profile_exists", "profile name already used");
    }
  }
  knox::Profile p;
  p.id = std::to_string(next_profile_++);
  p.name = std::string(name);
  p.mdm_uri = "mdm.example.com";
  p.update_time_ms = clock_.NowMs();
  p.extra = {{"doEnabled", true}, {"skipSetupWizard", true}, {"allowUserCancel", false},
             {"supportedMDM", "Other"}};
  t.profile_index[p.id] = t.profiles.size();
  t.profiles.push_back(p);
  return p.id;
}

Status KnoxSimulator::SetDeviceState(std::string_view device, std::string_view state) {
  static constexpr std::pair<kme::KmeDeviceStatus, const char*> kDisplay[] = {
      {kme::KmeDeviceStatus::kPending, kPending},
      {kme::KmeDeviceStatus::kUnassigned, kUnassigned},
      {kme::KmeDeviceStatus::kAssignFailed, kAssignFailed},
      {kme::KmeDeviceStatus::kProfileAssigned, kProfileAssigned},
      {kme::KmeDeviceStatus::kCanceledByUser, "Canceled by user"},
      {kme::KmeDeviceStatus::kEnrollFailed, "Failed to enroll"},
      {kme::KmeDeviceStatus::kEnrolled, "Enrolled"},
      {kme::KmeDeviceStatus::kEnrolledRestricted, "Enrolled (restricted)"},
      {kme::KmeDeviceStatus::kLicenseExpired, "License expired"},
      {kme::KmeDeviceStatus::kLockedTimeout, "Locked due to timeout"},
      {kme::KmeDeviceStatus::kLockedAttestation, "Locked due to attestation failure"},
  };
  const kme::KmeDeviceStatus parsed = kme::ParseKmeDeviceStatus(state);
  std::string display(state);  // unknown statuses are kept verbatim (§6.2)
  for (const auto& [s, text] : kDisplay) {
    if (s == parsed) display = text;
  }
  if (display.empty()) return InvalidArgument("sim.bad_state", "a state is required");
  std::lock_guard lock(mu_);
  for (auto& [cid, t] : tenants_) {
    if (SimDevice* d = FindLocked(*t, device)) {
      d->state = display;
      if (parsed != kme::KmeDeviceStatus::kPending) ListLocked(*t, *d);
      TouchLocked(*t, *d);
      return Status::Ok();
    }
  }
  return NotFound("sim.unknown_device", "no device " + std::string(device));
}

void KnoxSimulator::SetDeviceOutcome(std::string device, std::string outcome) {
  std::lock_guard lock(mu_);
  for (const std::string& k : LookupKeys(device)) {
    if (outcome.empty()) {
      outcomes_.erase(k);
    } else {
      outcomes_[k] = Upper(outcome);
    }
  }
}

std::optional<knox::Device> KnoxSimulator::DeviceState(std::string_view device) const {
  std::lock_guard lock(mu_);
  for (const auto& [cid, t] : tenants_) {
    for (const std::string& k : LookupKeys(device)) {
      auto it = t->index.find(k);
      if (it != t->index.end()) return ToApiLocked(*t, t->devices.at(it->second));
    }
  }
  return std::nullopt;
}

std::optional<std::string> KnoxSimulator::UploadStatus(std::string_view upload_id) const {
  std::lock_guard lock(mu_);
  for (const auto& [cid, t] : tenants_) {
    auto it = t->upload_index.find(std::string(upload_id));
    if (it != t->upload_index.end()) return t->uploads[it->second].upload.status_raw;
  }
  return std::nullopt;
}

// ---- HTTP ------------------------------------------------------------------------------------

KnoxSimulator::Reply KnoxSimulator::Error(int status, int code, std::string_view symbol,
                                          std::string_view data) const {
  json j = {{"code", code}, {"message", symbol}, {"data", data}};
  if (status != 401) j["errorId"] = crypto::Hex(crypto::RandomBytes(12));  // absent on some 401s
  Reply r;
  r.status = status;
  r.body = j.dump();
  return r;
}

KnoxSimulator::Reply KnoxSimulator::OAuthError(int status, std::string_view error,
                                               std::string_view description) const {
  Reply r;
  r.status = status;
  r.body = json{{"error", error}, {"error_description", description}}.dump();
  return r;
}

KnoxSimulator::Reply KnoxSimulator::FaultReplyLocked(const Fault& f) const {
  Reply r;
  if (!f.body.empty() || f.status < 400) {
    r.status = f.status;
    r.body = f.body;
  } else if (f.status == 429) {
    r = Error(429, 4290000, "TOO_MANY_REQUESTS", "rate limit exceeded");
  } else if (f.status >= 500) {
    r = Error(f.status, knox::kCodeInternal, "INTERNAL_SERVER_ERROR", "retry later");
  } else {
    r = Error(f.status, f.status * 10000, "INJECTED_FAULT", "injected by a test");
  }
  if (!f.retry_after.empty()) r.headers.emplace("Retry-After", f.retry_after);
  return r;
}

KnoxSimulator::Reply KnoxSimulator::DispatchLocked(const httplib::Request& req) {
  if (req.path == knox::kOAuthTokenPath) {
    if (req.method != "POST") return Error(405, 4050000, "METHOD_NOT_ALLOWED", "use POST");
    return HandleToken(req);
  }
  if (req.path.rfind("/kcs/", 0) != 0) {
    return Error(404, knox::kCodeResourceNotFound, "RESOURCE_NOT_FOUND", "no such resource");
  }
  // Authentication (§3.2). The signed-JWT scheme (§3.1) is not simulated.
  std::string auth = req.get_header_value("Authorization");
  if (auth.empty() && req.has_header("x-knox-apitoken")) {
    return Error(401, knox::kCodeAuthorizationFail, "AUTHORIZATION_FAIL",
                 "x-knox-apitoken is not accepted here: use an OAuth 2.0 bearer token");
  }
  if (auth.size() < 8 || Lower(auth.substr(0, 7)) != "bearer ") {
    return Error(401, knox::kCodeAuthorizationFail, "AUTHORIZATION_FAIL",
                 "an access token is required");
  }
  auto tok = tokens_.find(auth.substr(7));
  if (tok == tokens_.end() || clock_.NowMs() >= tok->second.expires_ms) {
    if (tok != tokens_.end()) tokens_.erase(tok);
    return Error(401, knox::kCodeAuthorizationFail, "AUTHORIZATION_FAIL",
                 "the access token is invalid or has expired");
  }
  // The scope each endpoint needs (§3.2 table).
  const bool profiles = req.path.find("/kme/profiles/") != std::string::npos;
  const bool view = req.method == "GET";
  const std::string need =
      std::string("kme.") + (profiles ? "profiles" : "devices") + (view ? ":view" : ":manage");
  const Token& token = tok->second;
  if (std::none_of(token.scopes.begin(), token.scopes.end(),
                   [&](const std::string& s) { return Covers(s, need); })) {
    return Error(403, knox::kCodeNotPermitted, "AUTHORIZATION_FAIL",
                 "the access token lacks the scope " + need);
  }
  return HandleKme(req, TenantLocked(token.customer_id));
}

KnoxSimulator::Reply KnoxSimulator::HandleToken(const httplib::Request& req) {
  std::map<std::string, std::string> form = ParseForm(req.body);
  std::string client_id = form["client_id"];
  std::string client_secret = form["client_secret"];
  std::string basic = req.get_header_value("Authorization");
  if (basic.size() > 6 && Lower(basic.substr(0, 6)) == "basic ") {
    Result<std::string> decoded = crypto::FromBase64(basic.substr(6));
    if (decoded.ok()) {
      size_t colon = decoded->find(':');
      if (colon != std::string::npos) {
        client_id = UrlDecode(decoded->substr(0, colon));
        client_secret = UrlDecode(decoded->substr(colon + 1));
      }
    }
  }
  if (form["grant_type"] != "client_credentials") {
    return OAuthError(400, "unsupported_grant_type", "only client_credentials is simulated");
  }
  auto app = apps_.find(client_id);
  if (client_id.empty() || app == apps_.end() || app->second.revoked ||
      !crypto::ConstantTimeEquals(app->second.credentials.client_secret, client_secret)) {
    return OAuthError(401, "invalid_client", "Client authentication failed");
  }
  std::vector<std::string> scopes = SplitSpaces(form["scope"]);
  const std::vector<std::string>& allowed = app->second.credentials.scopes;
  if (scopes.empty()) scopes = allowed;
  for (const std::string& s : scopes) {
    if (std::none_of(allowed.begin(), allowed.end(), [&](const std::string& a) { return Covers(a, s); })) {
      return OAuthError(400, "invalid_scope", "scope " + s + " is not granted to this app");
    }
  }
  std::string access = crypto::Base64Url(crypto::RandomBytes(32));
  tokens_[access] = Token{client_id, app->second.credentials.customer_id, scopes,
                          clock_.NowMs() + options_.token_ttl_s * 1000};
  std::string scope_text;
  for (const std::string& s : scopes) scope_text += (scope_text.empty() ? "" : " ") + s;
  return Json({{"access_token", access},
               {"scope", scope_text},
               {"expires_in", options_.token_ttl_s},
               {"token_type", "Bearer"}});
}

std::pair<int, int> KnoxSimulator::PageParams(const httplib::Request& req) const {
  auto read = [&](const char* key, int fallback) -> int {
    if (!req.has_param(key)) return fallback;
    std::string v = req.get_param_value(key);
    if (!AllDigits(v) || v.size() > 9) return -1;
    return std::stoi(v);
  };
  int num = read("pageNum", 0);
  int size = read("pageSize", options_.default_page_size);
  if (size == 0) size = options_.default_page_size;
  if (size > 0) size = std::min(size, options_.max_page_size);
  return {num, size};
}

KnoxSimulator::Reply KnoxSimulator::HandleKme(const httplib::Request& req, Tenant& t) {
  const std::string& m = req.method;
  const std::string& path = req.path;
  json body = json::object();
  if (m != "GET" && !req.body.empty()) {
    body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return Error(400, knox::kCodeInvalidParam, "RESOURCE_INVALID_PARAM", "malformed JSON body");
    }
  }
  // Optional with OAuth; when given it must be the token's tenant (§3.2, §8).
  std::optional<std::string> customer = TextMember(body, "customerId");
  if (!customer && req.has_param("customerId")) customer = req.get_param_value("customerId");
  if (customer && *customer != t.customer_id) {
    return Error(400, knox::kCodeTenantMismatch, "TENANT_MISMATCH",
                 "customerId does not belong to the caller's tenant");
  }
  auto is = [&](const char* p, std::initializer_list<const char*> methods) -> int {
    if (path != p) return 0;
    return std::any_of(methods.begin(), methods.end(), [&](const char* x) { return m == x; }) ? 1
                                                                                             : -1;
  };
  auto not_allowed = [&] {
    return Error(405, 4050000, "METHOD_NOT_ALLOWED", m + " is not allowed on " + path);
  };
  int r;
  if ((r = is(knox::kDevicesListPath, {"GET"}))) return r > 0 ? ListDevices(req, t) : not_allowed();
  if ((r = is(knox::kAssignProfilePath, {"PUT"}))) return r > 0 ? AssignProfile(body, t) : not_allowed();
  if ((r = is(knox::kUnassignProfileV1Path, {"PUT"}))) return r > 0 ? UnassignV1(body, t) : not_allowed();
  if (options_.unassign_v2_accept_post) {
    if ((r = is(knox::kUnassignProfilePath, {"POST", "PUT"}))) {
      return r > 0 ? UnassignV2(body, t) : not_allowed();
    }
  } else if ((r = is(knox::kUnassignProfilePath, {"PUT"}))) {
    return r > 0 ? UnassignV2(body, t) : not_allowed();
  }
  if ((r = is(knox::kDeleteDevicesPath, {"POST"}))) return r > 0 ? DeleteDevices(body, t) : not_allowed();
  if ((r = is(knox::kUploadsListPath, {"GET"}))) return r > 0 ? ListUploads(req, t) : not_allowed();
  if ((r = is(knox::kUploadsApprovalsPath, {"POST"}))) return r > 0 ? ApproveUploads(body, t) : not_allowed();
  if ((r = is(knox::kProfilesListPath, {"GET"}))) return r > 0 ? ListProfiles(req, t) : not_allowed();
  return Error(404, knox::kCodeResourceNotFound, "RESOURCE_NOT_FOUND", "no such resource");
}

KnoxSimulator::Reply KnoxSimulator::ListDevices(const httplib::Request& req, Tenant& t) {
  auto [page_num, page_size] = PageParams(req);
  if (page_num < 0 || page_size < 0) {
    return Error(400, knox::kCodeInvalidParam, "RESOURCE_INVALID_PARAM",
                 "pageNum and pageSize must be non-negative integers");
  }
  int64_t total = static_cast<int64_t>(t.order.size());
  if (req.has_param("changedAfter")) {
    std::string v = req.get_param_value("changedAfter");
    if (!AllDigits(v) || v.size() > 18) {
      return Error(400, knox::kCodeInvalidParam, "RESOURCE_INVALID_PARAM",
                   "changedAfter must be epoch milliseconds");
    }
    // Devices changed after X are exactly the keys below (-X, ""): a prefix of the order.
    total = static_cast<int64_t>(t.order.order_of_key(OrderKey{-std::stoll(v), ""}));
  }
  json list = json::array();
  const int64_t offset = static_cast<int64_t>(page_num) * page_size;
  if (offset < total) {
    auto it = t.order.find_by_order(static_cast<size_t>(offset));
    for (int64_t i = offset; i < total && i < offset + page_size && it != t.order.end(); ++i, ++it) {
      list.push_back(knox::DeviceToJson(ToApiLocked(t, t.devices.at(it->second))));
    }
  }
  return Json({{"totalCount", total},
               {"processingCount", 0},
               {"pageNum", page_num},
               {"pageSize", page_size},
               {"deviceList", std::move(list)}});
}

KnoxSimulator::Reply KnoxSimulator::AssignProfile(const json& body, Tenant& t) {
  std::optional<std::string> profile_id = TextMember(body, "profileId");
  if (!profile_id || profile_id->empty()) {
    return Error(400, knox::kCodeInvalidParam, "RESOURCE_INVALID_PARAM", "profileId is required");
  }
  struct Entry {
    std::string id;
    std::optional<std::string> user, password;
  };
  std::vector<Entry> entries;
  auto devices = body.find("devices");
  if (devices != body.end() && devices->is_array()) {
    for (const json& d : *devices) {
      if (!d.is_object()) {
        return Error(400, knox::kCodeInvalidParam, "RESOURCE_INVALID_PARAM",
                     "each device must be an object");
      }
      Entry e;
      e.id = TextMember(d, "deviceId").value_or("");
      if (e.id.empty()) {
        return Error(400, knox::kCodeInvalidParam, "RESOURCE_INVALID_PARAM", "deviceId is required");
      }
      for (auto [key, slot] : {std::pair{"userName", &e.user}, std::pair{"userToken", &e.password}}) {
        std::optional<std::string> enc = TextMember(d, key);
        if (!enc || enc->empty()) continue;
        *slot = DecryptCredential(*enc);
        if (!*slot) {
          return Error(500, knox::kCodeRsaDecryptionFail, "RSA_DECRYPTION_FAIL",
                       std::string("could not decrypt ") + key);
        }
      }
      entries.push_back(std::move(e));
    }
  } else if (auto ids = StringList(body, "deviceIds")) {
    for (std::string& id : *ids) entries.push_back({std::move(id), std::nullopt, std::nullopt});
  }
  if (entries.empty()) {
    return Error(400, knox::kCodeInvalidParam, "RESOURCE_INVALID_PARAM",
                 "Device ID list cannot be empty");
  }
  if (entries.size() > options_.max_devices_per_call) {
    return Error(400, knox::kCodeTooManyDevices, "TOO_MANY_DEVICES",
                 "at most " + std::to_string(options_.max_devices_per_call) + " devices per request");
  }
  if (t.profile_index.count(*profile_id) == 0) {
    return Error(404, knox::kCodeProfileNotFound, "PROFILE_NOT_FOUND", "no such profile");
  }
  // Whole-call refusals first: nothing is applied when one of them answers.
  for (const Entry& e : entries) {
    SimDevice* d = FindLocked(t, e.id);
    if (options_.assign_unknown_device_404 && d == nullptr) {
      return Error(404, knox::kCodeDeviceNotFound, "DEVICE_NOT_FOUND", "Some/All devices don't exist");
    }
    if (options_.assign_pending_400 && d != nullptr && d->state == kPending) {
      return Error(400, knox::kCodeDeviceInvalid, "BULK_ENROLL_DEVICE_INVALID",
                   "the device's upload is not approved");
    }
  }
  json success = json::array(), failed = json::array(), not_found = json::array();
  for (const Entry& e : entries) {
    SimDevice* d = FindLocked(t, e.id);
    if (d == nullptr) {
      not_found.push_back(e.id);
      continue;
    }
    const std::string forced = ForcedOutcomeLocked(*d);
    if (forced == "NOT_FOUND") {
      not_found.push_back(e.id);
      continue;
    }
    if (d->state == kPending) {  // §8: a PENDING device cannot be assigned
      failed.push_back(e.id);
      continue;
    }
    if (forced == "FAILED" || forced == "INVALID") {
      if (d->state != kAssignFailed) {
        d->state = kAssignFailed;
        TouchLocked(t, *d);
      }
      failed.push_back(e.id);
      continue;
    }
    bool changed = false;
    const bool keeps_state = d->profile_id == *profile_id && d->state != kUnassigned &&
                             d->state != kAssignFailed;
    if (!keeps_state) {
      d->profile_id = *profile_id;
      d->state = kProfileAssigned;
      changed = true;
    }
    if (e.user && *e.user != d->user_name) {
      d->user_name = *e.user;
      changed = true;
    }
    if (e.password) d->has_password = true;
    if (changed) TouchLocked(t, *d);
    success.push_back(e.id);
  }
  return Json({{"successDeviceList", std::move(success)},
               {"failedDeviceList", std::move(failed)},
               {"notFoundDeviceList", std::move(not_found)}});
}

namespace {
// Clears a device's profile; true when something changed.
template <typename D>
bool Clear(D& d) {
  bool changed = !d.profile_id.empty() || !d.user_name.empty() || d.has_password;
  d.profile_id.clear();
  d.user_name.clear();
  d.has_password = false;
  if (d.state != kPending && d.state != kUnassigned) {
    d.state = kUnassigned;
    changed = true;
  }
  return changed;
}
}  // namespace

KnoxSimulator::Reply KnoxSimulator::UnassignV1(const json& body, Tenant& t) {
  auto ids = StringList(body, "deviceIds");
  if (!ids || ids->empty()) {
    return Error(400, knox::kCodeInvalidParam, "RESOURCE_INVALID_PARAM",
                 "Device ID list cannot be empty");
  }
  if (ids->size() > options_.max_devices_per_call) {
    return Error(400, knox::kCodeTooManyDevices, "TOO_MANY_DEVICES", "too many devices");
  }
  std::vector<SimDevice*> found;
  for (const std::string& id : *ids) {
    SimDevice* d = FindLocked(t, id);
    if (d == nullptr) {
      return Error(404, knox::kCodeDeviceNotFound, "DEVICE_NOT_FOUND", "Some/All devices don't exist");
    }
    found.push_back(d);
  }
  for (SimDevice* d : found) {
    if (Clear(*d)) TouchLocked(t, *d);
  }
  return Json(json::object());
}

KnoxSimulator::Reply KnoxSimulator::UnassignV2(const json& body, Tenant& t) {
  auto ids = StringList(body, "deviceIds");
  if (!ids || ids->empty()) {
    return Error(400, knox::kCodeInvalidParam, "RESOURCE_INVALID_PARAM",
                 "Device ID list cannot be empty");
  }
  if (ids->size() > options_.max_devices_per_call) {
    return Error(400, knox::kCodeTooManyDevices, "TOO_MANY_DEVICES", "too many devices");
  }
  json success = json::array(), failed = json::array(), not_found = json::array(),
       invalid = json::array();
  for (const std::string& id : *ids) {
    if (!PlausibleIdentifier(id)) {
      invalid.push_back(id);
      continue;
    }
    SimDevice* d = FindLocked(t, id);
    const std::string forced = d ? ForcedOutcomeLocked(*d) : "";
    if (forced == "INVALID") {
      invalid.push_back(id);
    } else if (d == nullptr || forced == "NOT_FOUND") {
      not_found.push_back(id);
    } else if (forced == "FAILED") {
      failed.push_back(id);
    } else {
      if (Clear(*d)) TouchLocked(t, *d);
      success.push_back(id);
    }
  }
  json out = {{"successDeviceList", std::move(success)},
              {"notFoundDeviceList", std::move(not_found)},
              {"invalidDeviceList", std::move(invalid)}};
  if (!failed.empty()) out["failedDeviceList"] = std::move(failed);
  return Json(out);
}

KnoxSimulator::Reply KnoxSimulator::DeleteDevices(const json& body, Tenant& t) {
  std::optional<std::vector<std::string>> ids;
  auto devices = body.find("devices");
  if (devices != body.end() && devices->is_object()) ids = StringList(*devices, "imeiOrSerials");
  if (!ids || ids->empty()) {
    return Error(400, knox::kCodeInvalidParam, "RESOURCE_INVALID_PARAM",
                 "Device ID list cannot be empty");
  }
  if (ids->size() > options_.max_devices_per_call) {
    return Error(400, knox::kCodeTooManyDevices, "TOO_MANY_DEVICES", "too many devices");
  }
  json success = json::array(), not_found = json::array();
  for (const std::string& id : *ids) {
    SimDevice* d = FindLocked(t, id);
    if (d == nullptr) {
      not_found.push_back(id);
      continue;
    }
    if (d->listed) t.order.erase(d->Key());
    for (const std::string& k : d->Keys()) t.index.erase(k);
    t.devices.erase(std::string(d->id));
    success.push_back(id);
  }
  return Json({{"successDeviceList", std::move(success)},
               {"failedDeviceList", json::array()},
               {"notFoundDeviceList", std::move(not_found)}});
}

KnoxSimulator::Reply KnoxSimulator::ListUploads(const httplib::Request& req, Tenant& t) {
  auto [page_num, page_size] = PageParams(req);
  if (page_num < 0 || page_size < 0) {
    return Error(400, knox::kCodeInvalidParam, "RESOURCE_INVALID_PARAM", "bad paging parameters");
  }
  json list = json::array();
  const size_t offset = static_cast<size_t>(page_num) * static_cast<size_t>(page_size);
  for (size_t i = offset; i < t.uploads.size() && i < offset + static_cast<size_t>(page_size); ++i) {
    list.push_back(knox::UploadToJson(t.uploads[i].upload));
  }
  return Json({{"totalCount", t.uploads.size()}, {"uploadList", std::move(list)}});
}

KnoxSimulator::Reply KnoxSimulator::ApproveUploads(const json& body, Tenant& t) {
  std::vector<std::string> ids = StringList(body, "uploadIds").value_or(std::vector<std::string>{});
  if (ids.empty()) {
    if (auto one = TextMember(body, "uploadId"); one && !one->empty()) ids.push_back(*one);
  }
  if (ids.empty()) {
    return Error(400, knox::kCodeInvalidParam, "RESOURCE_INVALID_PARAM",
                 "the upload id list cannot be empty");
  }
  json success = json::array(), not_found = json::array();
  for (const std::string& id : ids) {
    auto it = t.upload_index.find(id);
    if (it == t.upload_index.end()) {
      not_found.push_back(id);
      continue;
    }
    Tenant::UploadRec& rec = t.uploads[it->second];
    if (rec.upload.pending) {
      rec.upload.pending = false;
      rec.upload.status_raw = "Approved";
      for (const std::string& device_id : rec.device_ids) {
        auto d = t.devices.find(device_id);
        if (d == t.devices.end() || d->second.state != kPending) continue;
        if (!rec.default_profile_id.empty()) {
          d->second.profile_id = rec.default_profile_id;
          d->second.state = kProfileAssigned;
        } else {
          d->second.state = kUnassigned;
        }
        ListLocked(t, d->second);
        TouchLocked(t, d->second);
      }
    }
    success.push_back(id);
  }
  return Json({{"successUploadList", std::move(success)},
               {"notFoundUploadList", std::move(not_found)}});
}

KnoxSimulator::Reply KnoxSimulator::ListProfiles(const httplib::Request& req, Tenant& t) {
  auto [page_num, page_size] = PageParams(req);
  if (page_num < 0 || page_size < 0) {
    return Error(400, knox::kCodeInvalidParam, "RESOURCE_INVALID_PARAM", "bad paging parameters");
  }
  json list = json::array();
  const size_t offset = static_cast<size_t>(page_num) * static_cast<size_t>(page_size);
  for (size_t i = offset; i < t.profiles.size() && i < offset + static_cast<size_t>(page_size); ++i) {
    list.push_back(knox::ProfileToJson(t.profiles[i]));
  }
  return Json({{"totalCount", t.profiles.size()}, {"profileList", std::move(list)}});
}

}  // namespace ae::sim
