#include "adapters/simulators/apple_dep_simulator.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "adapters/apple_dep/oauth1.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"

namespace ae::sim {
namespace {

using nlohmann::json;

constexpr char kJsonType[] = "application/json;charset=UTF8";
constexpr int64_t kYearMs = 365LL * 24 * 3600 * 1000;
constexpr size_t kMaxSerialsPerCall = 1000;

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t at = s.find(sep, start);
    out.push_back(
        s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

// Serial list of a {"devices": [...]} body, or nullopt when absent/empty.
std::optional<std::vector<std::string>> SerialList(const json& body) {
  auto it = body.find("devices");
  if (it == body.end() || !it->is_array() || it->empty()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (!v.is_string() || v.get_ref<const std::string&>().empty()) return std::nullopt;
    out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

AppleDepSimulator::AppleDepSimulator(AppleDepSimulatorOptions options)
    : LoopbackServer(LoopbackServerOptions{.log_name = "sim.apple",
                                           .clock = options.clock,
                                           .threads = options.threads,
                                           .port = options.port,
                                           .payload_max_length = 16u << 20,
                                           .content_type = kJsonType,
                                           .exception_body = "\"SERVER_ERROR\""}),
      options_(options),
      cursor_key_(crypto::RandomBytes(32)) {
  Start();
}

AppleDepSimulator::~AppleDepSimulator() { Stop(); }

std::string AppleDepSimulator::NewHex(size_t bytes, bool upper) const {
  std::string h = crypto::Hex(crypto::RandomBytes(bytes));
  if (upper) {
    for (char& c : h) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return h;
}

// ---- tokens -------------------------------------------------------------------

Result<std::string> AppleDepSimulator::IssueToken(std::string_view certificate_pem,
                                                  std::string_view server_name,
                                                  const IssueTokenOptions& options) {
  if (server_name.empty()) return InvalidArgument("sim.bad_server", "server name required");
  const int64_t now = clock_.NowMs();
  dep::DepToken t;
  t.consumer_key = "CK_" + NewHex(32, false);
  t.consumer_secret = "CS_" + NewHex(32, false);
  std::string digits = std::to_string(now);
  t.access_token = "AT_O" + digits + "O" + NewHex(20, false) + "O" + digits;
  t.access_secret = "AS_" + NewHex(32, false);
  t.access_token_expiry_ms = options.expiry_ms != 0 ? options.expiry_ms : now + kYearMs;
  t.access_token_expiry = dep::FormatAppleTime(t.access_token_expiry_ms);
  t.access_token_expiry_ms = t.access_token_expiry_ms / 1000 * 1000;
  std::lock_guard lock(mu_);
  MdmServer* s = ServerByNameLocked(server_name);
  // A renewal for the same MDM server keeps its consumer key (the other three
  // values are new), which is what lets an MDM tell a renewal from another
  // server's token (apple-dep.md §1.3).
  if (s != nullptr) t.consumer_key = s->token.consumer_key;
  AE_ASSIGN_OR_RETURN(std::string p7m,
                      dep::ProduceTokenP7m(certificate_pem, t.ToJson(), options.p7m));
  if (s == nullptr) {
    auto created = std::make_unique<MdmServer>();
    created->name = std::string(server_name);
    created->uuid = NewHex(16, true);
    s = created.get();
    servers_[created->uuid] = std::move(created);
  }
  s->token = std::move(t);
  s->revoked = false;
  std::erase_if(sessions_, [&](const auto& kv) { return kv.second.server_uuid == s->uuid; });
  return p7m;
}

std::optional<std::string> AppleDepSimulator::ServerUuid(std::string_view server_name) const {
  std::lock_guard lock(mu_);
  for (const auto& [uuid, s] : servers_) {
    if (s->name == server_name) return uuid;
  }
  return std::nullopt;
}

std::optional<dep::DepToken> AppleDepSimulator::IssuedToken(std::string_view server_name) const {
  std::lock_guard lock(mu_);
  for (const auto& [uuid, s] : servers_) {
    if (s->name == server_name) return s->token;
  }
  return std::nullopt;
}

AppleDepSimulator::MdmServer* AppleDepSimulator::ServerByNameLocked(std::string_view name) {
  for (auto& [uuid, s] : servers_) {
    if (s->name == name) return s.get();
  }
  return nullptr;
}

Status AppleDepSimulator::RevokeToken(std::string_view server_name) {
  std::lock_guard lock(mu_);
  MdmServer* s = ServerByNameLocked(server_name);
  if (s == nullptr) return NotFound("sim.unknown_server", "no such MDM server");
  s->revoked = true;
  std::erase_if(sessions_, [&](const auto& kv) { return kv.second.server_uuid == s->uuid; });
  return Status::Ok();
}

void AppleDepSimulator::RequireTermsSigning(bool required) {
  std::lock_guard lock(mu_);
  terms_required_ = required;
}

// ---- devices ------------------------------------------------------------------

std::vector<dep::Device> AppleDepSimulator::MakeDevices(std::string_view prefix, size_t n) {
  struct Kind {
    const char* model;
    const char* description;
    const char* os;
    const char* family;
  };
  static constexpr Kind kKinds[] = {
      {"iPhone 14", "IPHONE 14 MIDNIGHT 128GB-ZDD", "iOS", "iPhone"},
      {"iPad mini 6", "IPAD MINI WI-FI 64GB SPACE GRAY", "iPadOS", "iPad"},
      {"MacBook Pro", "MBP 14 SPACE GRAY M3 16GB 512GB", "OSX", "Mac"},
  };
  static constexpr const char* kColors[] = {"MIDNIGHT", "SPACE GRAY", "SILVER"};
  std::vector<dep::Device> out;
  out.reserve(n);
  const size_t width = prefix.size() < 12 ? 12 - prefix.size() : 6;
  for (size_t i = 0; i < n; ++i) {
    const Kind& k = kKinds[i % 3];
    dep::Device d;
    std::string num = std::to_string(i + 1);
    if (num.size() < width) num.insert(0, width - num.size(), '0');
    d.serial_number = std::string(prefix) + num;
    d.model = k.model;
    d.description = k.description;
    d.color = kColors[i % 3];
    d.os = k.os;
    d.device_family = k.family;
    d.device_assigned_by = "admin@example.com";
    out.push_back(std::move(d));
  }
  return out;
}

void AppleDepSimulator::AppendEventLocked(MdmServer& s, dep::OpType op,
                                          std::shared_ptr<const dep::Device> d) {
  s.events.push_back(Event{clock_.NowMs(), op, std::move(d)});
}

void AppleDepSimulator::AssignToServerLocked(MdmServer& s, const std::string& serial,
                                             SimDevice& d) {
  d.owner = s.uuid;
  d.fetch_key = next_fetch_key_++;
  s.assigned.emplace(d.fetch_key, serial);
}

void AppleDepSimulator::UnassignLocked(SimDevice& d, const std::string& serial) {
  auto it = servers_.find(d.owner);
  if (it != servers_.end()) {
    it->second->assigned.erase(d.fetch_key);
    AppendEventLocked(*it->second, dep::OpType::kDeleted, d.current);
  }
  (void)serial;
  d.owner.clear();
  d.fetch_key = 0;
}

Status AppleDepSimulator::AddDevices(std::string_view server_name,
                                     std::vector<dep::Device> devices) {
  std::lock_guard lock(mu_);
  MdmServer* s = ServerByNameLocked(server_name);
  if (s == nullptr) return NotFound("sim.unknown_server", "no such MDM server");
  for (const dep::Device& d : devices) {
    if (d.serial_number.empty()) {
      return InvalidArgument("sim.bad_device", "a device needs a serial number");
    }
    if (devices_.count(d.serial_number) != 0) {
      return AlreadyExists("sim.device_exists", d.serial_number + " already exists; move it");
    }
  }
  const int64_t now = clock_.NowMs() / 1000 * 1000;
  for (dep::Device& d : devices) {
    d.profile_status = dep::ProfileStatus::kEmpty;
    d.profile_status_raw.clear();
    d.device_assigned_date_ms = now;
    d.op_type = dep::OpType::kNone;
    d.op_type_raw.clear();
    d.op_date_ms.reset();
    std::string serial = d.serial_number;
    SimDevice& sd = devices_[serial];
    sd.current = std::make_shared<const dep::Device>(std::move(d));
    AssignToServerLocked(*s, serial, sd);
    AppendEventLocked(*s, dep::OpType::kAdded, sd.current);
  }
  return Status::Ok();
}

Status AppleDepSimulator::MoveDevice(std::string_view serial, std::string_view to_server_name) {
  std::lock_guard lock(mu_);
  MdmServer* to = ServerByNameLocked(to_server_name);
  if (to == nullptr) return NotFound("sim.unknown_server", "no such MDM server");
  auto it = devices_.find(std::string(serial));
  if (it == devices_.end()) return NotFound("sim.unknown_device", "no such device");
  SimDevice& sd = it->second;
  if (sd.owner == to->uuid) return Status::Ok();
  UnassignLocked(sd, it->first);
  auto moved = std::make_shared<dep::Device>(*sd.current);
  moved->profile_status = dep::ProfileStatus::kRemoved;  // the profile stays behind
  moved->device_assigned_date_ms = clock_.NowMs() / 1000 * 1000;
  sd.current = moved;
  AssignToServerLocked(*to, it->first, sd);
  AppendEventLocked(*to, dep::OpType::kModified, sd.current);
  return Status::Ok();
}

Status AppleDepSimulator::RemoveDevice(std::string_view serial) {
  std::lock_guard lock(mu_);
  auto it = devices_.find(std::string(serial));
  if (it == devices_.end()) return NotFound("sim.unknown_device", "no such device");
  if (it->second.owner.empty()) return Status::Ok();
  UnassignLocked(it->second, it->first);
  return Status::Ok();
}

Status AppleDepSimulator::ActivateDevice(std::string_view serial) {
  std::lock_guard lock(mu_);
  auto it = devices_.find(std::string(serial));
  if (it == devices_.end()) return NotFound("sim.unknown_device", "no such device");
  SimDevice& sd = it->second;
  if (sd.current->profile_uuid.empty() ||
      sd.current->profile_status != dep::ProfileStatus::kAssigned) {
    return FailedPrecondition("sim.no_profile", "the device has no assigned profile");
  }
  auto d = std::make_shared<dep::Device>(*sd.current);
  d->profile_status = dep::ProfileStatus::kPushed;
  d->profile_push_time_ms = clock_.NowMs() / 1000 * 1000;
  sd.current = d;
  auto owner = servers_.find(sd.owner);
  if (owner != servers_.end()) AppendEventLocked(*owner->second, dep::OpType::kModified, d);
  return Status::Ok();
}

std::optional<dep::Device> AppleDepSimulator::DeviceState(std::string_view serial) const {
  std::lock_guard lock(mu_);
  auto it = devices_.find(std::string(serial));
  if (it == devices_.end()) return std::nullopt;
  return *it->second.current;
}

std::optional<dep::Profile> AppleDepSimulator::ProfileState(std::string_view profile_uuid) const {
  std::lock_guard lock(mu_);
  auto it = profiles_.find(std::string(profile_uuid));
  if (it == profiles_.end()) return std::nullopt;
  return it->second.second;
}

// ---- faults ------------------------------------------------------------------

void AppleDepSimulator::ExpireSessions() {
  std::lock_guard lock(mu_);
  sessions_.clear();
}

void AppleDepSimulator::SetSerialOutcome(std::string serial, SerialOutcome outcome) {
  std::lock_guard lock(mu_);
  if (outcome.status.empty()) {
    outcomes_.erase(serial);
  } else {
    outcomes_[std::move(serial)] = std::move(outcome);
  }
}

// ---- cursors --------------------------------------------------------------------

std::string AppleDepSimulator::EncodeCursor(const Cursor& c) const {
  std::string payload = std::string(1, c.kind) + ":" + c.server_uuid + ":" +
                        std::to_string(c.after_key) + ":" + std::to_string(c.event_seq) + ":" +
                        (c.done ? "1" : "0") + ":" + std::to_string(c.issued_ms);
  std::string mac = crypto::Hex(crypto::HmacSha256(cursor_key_, payload)).substr(0, 16);
  return crypto::Base64Url(payload + ":" + mac);
}

std::optional<AppleDepSimulator::Cursor> AppleDepSimulator::DecodeCursor(
    std::string_view text) const {
  if (text.empty() || text.size() > 1000) return std::nullopt;
  auto raw = crypto::FromBase64(text);
  if (!raw.ok()) return std::nullopt;
  std::string_view all = *raw;
  size_t last = all.rfind(':');
  if (last == std::string_view::npos) return std::nullopt;
  std::string_view payload = all.substr(0, last);
  std::string expect = crypto::Hex(crypto::HmacSha256(cursor_key_, payload)).substr(0, 16);
  if (!crypto::ConstantTimeEquals(expect, all.substr(last + 1))) return std::nullopt;
  auto parts = Split(payload, ':');
  if (parts.size() != 6 || parts[0].size() != 1) return std::nullopt;
  Cursor c;
  c.kind = parts[0][0];
  c.server_uuid = std::string(parts[1]);
  uint64_t issued = 0;
  if (!ParseU64(parts[2], &c.after_key) || !ParseU64(parts[3], &c.event_seq) ||
      !ParseU64(parts[5], &issued)) {
    return std::nullopt;
  }
  c.done = parts[4] == "1";
  c.issued_ms = static_cast<int64_t>(issued);
  return c;
}


// ---- HTTP -------------------------------------------------------------------------

AppleDepSimulator::Reply AppleDepSimulator::Error(int status, std::string_view code) const {
  Reply r;
  r.status = status;
  r.body = options_.quoted_error_bodies ? "\"" + std::string(code) + "\"" : std::string(code);
  return r;
}

json AppleDepSimulator::DeviceJson(const dep::Device& d, int version) const {
  json j = dep::DeviceToJson(d);
  if (version < 2) {
    j.erase("os");
    j.erase("device_family");
  } else if (version < 7 && d.os == "iPadOS") {
    j["os"] = "iOS";
  }
  if (version < 8) j.erase("mdm_migration_deadline");
  if (version < 10) {
    for (const char* k :
         {"bluetooth_mac_address", "ethernet_mac_address", "wifi_mac_address", "imei", "meid",
          "eid", "is_replacement_device", "released_by_replacement"}) {
      j.erase(k);
    }
  }
  return j;
}

AppleDepSimulator::Reply AppleDepSimulator::DispatchLocked(const httplib::Request& req) {
  if (req.get_header_value("User-Agent").empty()) return Error(400, "USER_AGENT_MISSING");
  if (req.path == "/session") {
    if (req.method != "GET") return Error(405, "METHOD_NOT_ALLOWED");
    return HandleSession(req);
  }
  // Every other endpoint needs a live session.
  std::string token = req.get_header_value("X-ADM-Auth-Session");
  auto it = sessions_.find(token);
  const int64_t now = clock_.NowMs();
  if (token.empty() || it == sessions_.end() ||
      now - it->second.last_used_ms > options_.session_ttl_ms) {
    if (it != sessions_.end()) sessions_.erase(it);
    return options_.session_expiry_403_forbidden ? Error(403, "FORBIDDEN")
                                                 : Error(401, "UNAUTHORIZED");
  }
  auto server = servers_.find(it->second.server_uuid);
  if (server == servers_.end() || server->second->revoked) return Error(401, "UNAUTHORIZED");
  if (terms_required_) return Error(403, "T_C_NOT_SIGNED");
  it->second.last_used_ms = now;
  Reply reply;
  std::string version_header = req.get_header_value("X-Server-Protocol-Version");
  uint64_t version = 1;
  if (!version_header.empty() && !ParseU64(version_header, &version)) version = 1;
  reply = HandleApi(req, *server->second, static_cast<int>(std::min<uint64_t>(version, 100)));
  if (options_.session_rotate_every > 0 &&
      ++it->second.calls % options_.session_rotate_every == 0) {
    Session moved = it->second;
    moved.calls = 0;
    sessions_.erase(it);
    std::string rotated = NewHex(24, false);
    sessions_[rotated] = moved;
    reply.headers.emplace("X-ADM-Auth-Session", rotated);
  }
  return reply;
}

AppleDepSimulator::Reply AppleDepSimulator::HandleSession(const httplib::Request& req) {
  auto params = dep::oauth1::ParseAuthorizationHeader(req.get_header_value("Authorization"));
  if (!params.ok()) return Error(400, "parameter_absent");
  const auto& p = *params;
  for (const char* required : {"oauth_consumer_key", "oauth_token", "oauth_signature_method",
                               "oauth_signature", "oauth_timestamp", "oauth_nonce"}) {
    if (p.count(required) == 0) return Error(400, "parameter_absent");
  }
  if (p.at("oauth_signature_method") != "HMAC-SHA1") {
    return Error(400, "signature_method_rejected");
  }
  if (p.count("oauth_version") != 0 && p.at("oauth_version") != "1.0") {
    return Error(400, "version_rejected");
  }
  MdmServer* server = nullptr;
  for (auto& [uuid, s] : servers_) {
    if (s->token.consumer_key == p.at("oauth_consumer_key")) server = s.get();
  }
  if (server == nullptr || server->revoked || server->token.access_token != p.at("oauth_token")) {
    return Error(401, "token_rejected");
  }
  if (terms_required_) return Error(403, "T_C_NOT_SIGNED");
  const int64_t now = clock_.NowMs();
  if (server->token.access_token_expiry_ms < now) return Error(401, "token_rejected");
  uint64_t ts = 0;
  if (!ParseU64(p.at("oauth_timestamp"), &ts) ||
      std::llabs(static_cast<long long>(ts) * 1000 - now) > options_.oauth_window_ms) {
    return Error(401, "timestamp_refused");
  }
  if (!nonces_.insert(server->token.consumer_key + ":" + p.at("oauth_nonce")).second) {
    return Error(401, "nonce_used");
  }
  // Rebuild the base string from the URL the client reached (§2.1).
  std::multimap<std::string, std::string> signed_params;
  for (const auto& [k, v] : p) {
    if (k != "oauth_signature" && k != "realm") signed_params.emplace(k, v);
  }
  std::string url = "http://" + req.get_header_value("Host") + "/session";
  dep::oauth1::Credentials creds{server->token.consumer_key, server->token.consumer_secret,
                                 server->token.access_token, server->token.access_secret};
  std::string expect = dep::oauth1::HmacSha1Signature(
      creds, dep::oauth1::SignatureBaseString("GET", url, signed_params));
  if (!crypto::ConstantTimeEquals(expect, p.at("oauth_signature"))) {
    return Error(401, "signature_invalid");
  }
  std::string session = NewHex(24, false);
  sessions_[session] = Session{server->uuid, now, 0};
  return Json({{"auth_session_token", session}});
}

AppleDepSimulator::Reply AppleDepSimulator::HandleApi(const httplib::Request& req,
                                                      MdmServer& server, int version) {
  const std::string& m = req.method;
  const std::string& path = req.path;
  json body = json::object();
  if (!req.body.empty()) {
    body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return Error(400, "MALFORMED_REQUEST_BODY");
  }
  auto only = [&](std::initializer_list<const char*> methods) {
    return std::any_of(methods.begin(), methods.end(), [&](const char* x) { return m == x; });
  };
  if (path == "/account") {
    if (!only({"GET"})) return Error(405, "METHOD_NOT_ALLOWED");
    dep::AccountDetail a;
    a.server_name = server.name;
    a.server_uuid = server.uuid;
    a.admin_id = "admin@example.com";
    a.facilitator_id = a.admin_id;
    a.org_name = "Example Org";
    a.org_email = "it@example.com";
    a.org_phone = "+1 555 0100";
    a.org_address = "1 Infinite Loop";
    if (version >= 3) {
      a.org_id = "1234567";
      a.org_id_hash = crypto::Hex(crypto::Sha256("org-1234567"));
      a.org_type = "org";
      a.org_version = "v2";
      auto url = [&](const char* uri, std::vector<std::string> methods, bool paged) {
        dep::AccountUrl u{uri, std::move(methods), std::nullopt, std::nullopt};
        if (paged) {
          u.limit_default = options_.default_limit;
          u.limit_maximum = options_.max_limit;
        }
        return u;
      };
      a.urls = {url("/session", {"GET"}, false),
                url("/account", {"GET"}, false),
                url("/server/devices", {"POST"}, true),
                url("/devices/sync", {"POST"}, true),
                url("/devices", {"POST"}, false),
                url("/devices/disown", {"POST"}, false),
                url("/profile", {"GET", "POST"}, false),
                url("/profile/devices", {"DELETE", "POST", "PUT"}, false)};
    }
    return Json(dep::AccountDetailToJson(a));
  }
  if (path == "/server/devices") {
    return only({"POST"}) ? Fetch(server, body, version) : Error(405, "METHOD_NOT_ALLOWED");
  }
  if (path == "/devices/sync") {
    return only({"POST"}) ? Sync(server, body, version) : Error(405, "METHOD_NOT_ALLOWED");
  }
  if (path == "/devices") {
    return only({"POST"}) ? Details(server, body, version) : Error(405, "METHOD_NOT_ALLOWED");
  }
  if (path == "/devices/disown") {
    return only({"POST"}) ? Disown(server, body) : Error(405, "METHOD_NOT_ALLOWED");
  }
  if (path == "/profile") {
    if (m == "POST") return DefineProfile(server, body, version);
    if (m == "GET") return GetProfile(server, req);
    return Error(405, "METHOD_NOT_ALLOWED");
  }
  if (path == "/profile/devices") {
    if (m == "PUT" || (m == "POST" && options_.accept_assign_post)) {
      return AssignProfile(server, body, version);
    }
    if (m == "DELETE") return RemoveProfile(server, body);
    return Error(405, "METHOD_NOT_ALLOWED");
  }
  return Error(404, "NOT_FOUND");
}

namespace {
// Reads `limit`: absent -> default, clamped to [1, max]; -1 when not a number.
int PageLimit(const json& body, int default_limit, int max_limit) {
  auto it = body.find("limit");
  if (it == body.end() || it->is_null()) return default_limit;
  if (!it->is_number_integer()) return -1;
  int64_t v = it->get<int64_t>();
  if (v <= 0) return default_limit;
  return static_cast<int>(std::min<int64_t>(v, max_limit));
}

std::optional<std::string> CursorField(const json& body, bool* bad) {
  auto it = body.find("cursor");
  *bad = false;
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    *bad = true;
    return std::nullopt;
  }
  if (it->get_ref<const std::string&>().empty()) return std::nullopt;
  return it->get<std::string>();
}
}  // namespace

AppleDepSimulator::Reply AppleDepSimulator::Fetch(MdmServer& s, const json& body, int version) {
  const int limit = PageLimit(body, options_.default_limit, options_.max_limit);
  if (limit < 0) return Error(400, "MALFORMED_REQUEST_BODY");
  bool bad = false;
  std::optional<std::string> text = CursorField(body, &bad);
  if (bad) return Error(400, "INVALID_CURSOR");
  const int64_t now = clock_.NowMs();
  Cursor c{'f', s.uuid, 0, s.events.size(), false, now};
  if (text) {
    std::optional<Cursor> got = DecodeCursor(*text);
    if (!got || got->server_uuid != s.uuid) return Error(400, "INVALID_CURSOR");
    if (got->kind != 'f' || got->done) return Error(400, "EXHAUSTED_CURSOR");
    c = *got;
  }
  json devices = json::array();
  auto it = s.assigned.upper_bound(c.after_key);
  for (int n = 0; n < limit && it != s.assigned.end(); ++n, ++it) {
    devices.push_back(DeviceJson(*devices_.at(it->second).current, version));
    c.after_key = it->first;
  }
  c.done = it == s.assigned.end();
  c.issued_ms = now;
  return Json({{"devices", std::move(devices)},
               {"cursor", EncodeCursor(c)},
               {"more_to_follow", !c.done},
               {"fetched_until", dep::FormatAppleTime(now)}});
}

AppleDepSimulator::Reply AppleDepSimulator::Sync(MdmServer& s, const json& body, int version) {
  const int limit = PageLimit(body, options_.default_limit, options_.max_limit);
  if (limit < 0) return Error(400, "MALFORMED_REQUEST_BODY");
  bool bad = false;
  std::optional<std::string> text = CursorField(body, &bad);
  if (bad) return Error(400, "INVALID_CURSOR");
  if (!text) return Error(400, "CURSOR_REQUIRED");
  std::optional<Cursor> c = DecodeCursor(*text);
  if (!c || c->server_uuid != s.uuid || c->event_seq > s.events.size()) {
    return Error(400, "INVALID_CURSOR");
  }
  const int64_t now = clock_.NowMs();
  if (now - c->issued_ms > options_.cursor_max_age_ms) return Error(400, "EXPIRED_CURSOR");
  json devices = json::array();
  uint64_t seq = c->event_seq;
  for (int n = 0; n < limit && seq < s.events.size(); ++n, ++seq) {
    const Event& e = s.events[seq];
    json d = DeviceJson(*e.snapshot, version);
    d["op_type"] = std::string(dep::OpTypeName(e.op));
    d["op_date"] = dep::FormatAppleTime(e.time_ms);
    devices.push_back(std::move(d));
  }
  Cursor next{'s', s.uuid, 0, seq, true, now};
  return Json({{"devices", std::move(devices)},
               {"cursor", EncodeCursor(next)},
               {"more_to_follow", seq < s.events.size()},
               {"fetched_until", dep::FormatAppleTime(now)}});
}

AppleDepSimulator::Reply AppleDepSimulator::Details(MdmServer& s, const json& body, int version) {
  auto serials = SerialList(body);
  if (!serials) return Error(400, "DEVICE_ID_REQUIRED");
  json out = json::object();
  for (const std::string& serial : *serials) {
    auto it = devices_.find(serial);
    if (it == devices_.end() || it->second.owner != s.uuid) {
      out[serial] = {{"response_status", "NOT_ACCESSIBLE"}};
      continue;
    }
    json d = DeviceJson(*it->second.current, version);
    d["response_status"] = "SUCCESS";
    out[serial] = std::move(d);
  }
  return Json({{"devices", std::move(out)}});
}

AppleDepSimulator::Reply AppleDepSimulator::Disown(MdmServer& s, const json& body) {
  auto serials = SerialList(body);
  if (!serials) return Error(400, "DEVICE_ID_REQUIRED");
  json out = json::object();
  for (const std::string& serial : *serials) {
    auto it = devices_.find(serial);
    if (it == devices_.end() || it->second.owner != s.uuid) {
      out[serial] = "NOT_ACCESSIBLE";
      continue;
    }
    UnassignLocked(it->second, serial);
    devices_.erase(it);  // permanent: gone from the organisation
    out[serial] = "SUCCESS";
  }
  return Json({{"devices", std::move(out)}});
}

std::string AppleDepSimulator::AssignOneLocked(MdmServer& s, const std::string& serial,
                                               const std::string& uuid, int version,
                                               int64_t* retry_after) {
  auto it = devices_.find(serial);
  if (it == devices_.end() || it->second.owner != s.uuid) return "NOT_ACCESSIBLE";
  auto forced = outcomes_.find(serial);
  if (forced != outcomes_.end()) {
    if (forced->second.status == "THROTTLED") {
      if (version < 9) return "FAILED";  // THROTTLED exists from v9 on (§2.5)
      if (version >= 10) {
        *retry_after = std::max(*retry_after, forced->second.retry_after_seconds);
      }
    }
    return forced->second.status;
  }
  auto d = std::make_shared<dep::Device>(*it->second.current);
  d->profile_uuid = uuid;
  d->profile_status = dep::ProfileStatus::kAssigned;
  d->profile_assign_time_ms = clock_.NowMs() / 1000 * 1000;
  d->profile_push_time_ms.reset();
  it->second.current = d;
  AppendEventLocked(s, dep::OpType::kModified, d);
  return "SUCCESS";
}

AppleDepSimulator::Reply AppleDepSimulator::DefineProfile(MdmServer& s, const json& body,
                                                          int version) {
  auto present = [&](const char* k) { return body.contains(k) && !body[k].is_null(); };
  auto text_ok = [&](const char* k, size_t max) {
    return !present(k) || (body[k].is_string() && !body[k].get_ref<const std::string&>().empty() &&
                           body[k].get_ref<const std::string&>().size() <= max);
  };
  if (!present("profile_name")) return Error(400, "CONFIG_NAME_REQUIRED");
  if (!text_ok("profile_name", 125)) return Error(400, "CONFIG_NAME_INVALID");
  if (!present("url")) return Error(400, "CONFIG_URL_REQUIRED");
  if (!text_ok("url", 2000)) return Error(400, "CONFIG_URL_INVALID");
  const std::string& url = body["url"].get_ref<const std::string&>();
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
    return Error(400, "CONFIG_URL_INVALID");
  }
  if (!text_ok("org_magic", 256)) return Error(400, "MAGIC_INVALID");
  if (!text_ok("department", 125)) return Error(400, "DEPARTMENT_INVALID");
  if (!text_ok("support_phone_number", 50)) return Error(400, "SUPPORT_PHONE_INVALID");
  if (!text_ok("support_email_address", 250)) return Error(400, "SUPPORT_EMAIL_INVALID");
  auto profile = dep::ProfileFromJson(body);
  if (!profile.ok()) return Error(400, "MALFORMED_REQUEST_BODY");
  dep::Profile p = std::move(profile).value();
  if (p.is_mdm_removable == false && p.is_supervised != true) {
    return Error(400, "FLAGS_INVALID");
  }
  if (p.devices.size() > kMaxSerialsPerCall) return Error(400, "DEVICE_LIMIT_EXCEEDED");
  std::vector<std::string> serials = std::move(p.devices);
  p.devices.clear();
  p.profile_uuid = NewHex(16, true);
  profiles_[p.profile_uuid] = {s.uuid, p};
  json results = json::object();
  int64_t retry_after = 0;
  for (const std::string& serial : serials) {
    std::string status = AssignOneLocked(s, serial, p.profile_uuid, version, &retry_after);
    if (status == "THROTTLED") status = "FAILED";  // define reports SUCCESS/NOT_ACCESSIBLE/FAILED
    results[serial] = status;
  }
  json out = {{"profile_uuid", p.profile_uuid}};
  if (!serials.empty()) out["devices"] = std::move(results);
  return Json(out);
}

AppleDepSimulator::Reply AppleDepSimulator::GetProfile(MdmServer& s, const httplib::Request& req) {
  std::string uuid = req.get_param_value("profile_uuid");
  if (uuid.empty()) return Error(400, "PROFILE_UUID_REQUIRED");
  auto it = profiles_.find(uuid);
  if (it == profiles_.end() || it->second.first != s.uuid) return Error(400, "NOT_FOUND");
  return Json(dep::ProfileToJson(it->second.second));
}

AppleDepSimulator::Reply AppleDepSimulator::AssignProfile(MdmServer& s, const json& body,
                                                          int version) {
  auto uuid_it = body.find("profile_uuid");
  if (uuid_it == body.end() || !uuid_it->is_string() ||
      uuid_it->get_ref<const std::string&>().empty()) {
    return Error(400, "PROFILE_UUID_REQUIRED");
  }
  auto serials = SerialList(body);
  if (!serials) return Error(400, "DEVICE_ID_REQUIRED");
  if (serials->size() > kMaxSerialsPerCall) return Error(400, "DEVICE_LIMIT_EXCEEDED");
  const std::string uuid = uuid_it->get<std::string>();
  auto profile = profiles_.find(uuid);
  if (profile == profiles_.end() || profile->second.first != s.uuid) {
    return Error(404, "PROFILE_NOT_FOUND");
  }
  json results = json::object();
  int64_t retry_after = 0;
  for (const std::string& serial : *serials) {
    results[serial] = AssignOneLocked(s, serial, uuid, version, &retry_after);
  }
  json out = {{"profile_uuid", uuid}, {"devices", std::move(results)}};
  if (retry_after > 0) out["retry_after_seconds"] = retry_after;
  return Json(out);
}

AppleDepSimulator::Reply AppleDepSimulator::RemoveProfile(MdmServer& s, const json& body) {
  auto serials = SerialList(body);
  if (!serials) return Error(400, "DEVICE_ID_REQUIRED");
  json results = json::object();
  for (const std::string& serial : *serials) {
    auto it = devices_.find(serial);
    if (it == devices_.end() || it->second.owner != s.uuid) {
      results[serial] = "NOT_ACCESSIBLE";
      continue;
    }
    auto d = std::make_shared<dep::Device>(*it->second.current);
    d->profile_status = dep::ProfileStatus::kRemoved;  // profile_uuid lingers (§4.1)
    it->second.current = d;
    AppendEventLocked(s, dep::OpType::kModified, d);
    results[serial] = "SUCCESS";
  }
  return Json({{"devices", std::move(results)}});
}

}  // namespace ae::sim
