// libFuzzer target: the JSON request bodies of the HTTP routes, up to the error answer.
//
// Linked and fuzzed as they are: api/request_body.cc (the body parser with its depth
// limit, and the field reads every route uses), api/dep_profile.cc (the DEP profile's
// reader, with domain/dep/skip_keys.cc), api/http_errors.cc (HttpStatusFor, ErrorBody,
// StatusForHttp) and adapters/http/http_client.cc ParseBaseUrl and CheckBaseUrlField (the
// Knox connection's URLs). Below, each route's field schema, as the handlers in
// api/routes_*.cc read their bodies, drives those functions.
//
// Each input is one body, read by every route's field schema in turn. Invariants:
//  - the body is refused with 400 request.bad_json, or it is an object that dumps and
//    parses back equal (and dumps the same again);
//  - a field read either gives exactly what the JSON holds (within its length limit) or
//    refuses with a 4xx whose code is a request.* / route code, whose `field` names the
//    field, and whose error body serialises (fuzz_check.h CheckRefusal);
//  - StatusForHttp keeps a 4xx a 4xx and answers 5xx with 500.
//
// Also linked into the unit test json_body_corpus_test, which replays the seed corpus.

#include <cctype>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/http/http_client.h"
#include "api/dep_profile.h"
#include "api/http_errors.h"
#include "api/request_body.h"
#include "domain/dep/dep.h"
#include "tests/fuzz/fuzz_check.h"

namespace ae::fuzz {
const char* const kTarget = "json_body_fuzz";
}  // namespace ae::fuzz

namespace {

using json = nlohmann::json;
using ae::InvalidArgument;
using ae::Result;
using ae::Status;

// ---- the body layer: api/request_body.h, linked as it is ------------------------------

using ae::api::BoolField;
using ae::api::CheckText;
using ae::api::OptionalStringField;
using ae::api::StrField;
using ae::api::StringField;
Result<json> ParseBody(const std::string& body) { return ae::api::ParseJsonBody(body); }

// ---- the routes' field schemas -----------------------------------------------------------

// What a route read from the body, for the consistency checks.
struct Read {
  std::vector<std::pair<std::string, std::string>> strings;  // field, value ("" when absent)
};

// Checks one string read against the body: equal to the JSON string, within `max`.
void CheckString(const json& body, const char* name, const std::string& got, size_t max) {
  AE_FUZZ_CHECK(got.size() <= max, name);
  if (body.contains(name) && body[name].is_string()) {
    AE_FUZZ_CHECK(body[name].get<std::string>() == got, name);
  } else {
    AE_FUZZ_CHECK(got.empty(), name);
  }
}

#define AE_READ_STRING(expr, name, max)        \
  do {                                         \
    AE_ASSIGN_OR_RETURN(std::string v_, expr); \
    CheckString(body, name, v_, max);          \
  } while (0)

// POST /v1/users.
Status CreateUser(const json& body) {
  AE_READ_STRING(StringField(body, "username", true, 64), "username", 64);
  AE_READ_STRING(StringField(body, "role", true, 32), "role", 32);
  AE_READ_STRING(StringField(body, "display_name", false, 256), "display_name", 256);
  AE_ASSIGN_OR_RETURN(std::string email, StringField(body, "email", false, 254));
  CheckString(body, "email", email, 254);
  if (!email.empty() && email.find('@') == std::string::npos) {
    return InvalidArgument("user.invalid_email", "email must contain @", "email");
  }
  return Status::Ok();
}

// POST /v1/policies, /v1/rulesets.
Status CreateNamed(const json& body) {
  AE_READ_STRING(StringField(body, "name", true, 128), "name", 128);
  return Status::Ok();
}

// POST /v1/dep/accounts.
Status CreateAccount(const json& body) {
  AE_ASSIGN_OR_RETURN(std::string name, StrField(body, "name", 128));
  CheckString(body, "name", name, 128);
  if (name.empty()) return InvalidArgument("request.missing_field", "name is required", "name");
  return Status::Ok();
}

// POST /v1/dep/profiles: api/dep_profile.cc ParseProfile, linked as it is. What it
// accepts holds exactly what the body says (or the defaults), within Apple's limits.
Status DefineProfile(const json& body) {
  const std::string kDefaultUrl = "http://127.0.0.1:8080/enroll/apple";
  AE_ASSIGN_OR_RETURN(auto p, ae::api::ParseProfile(body, kDefaultUrl));
  AE_FUZZ_CHECK(!p.account_id().empty() && !p.profile_name().empty(), "required fields");
  CheckString(body, "account_id", p.account_id(), 64);
  CheckString(body, "profile_name", p.profile_name(), 255);
  if (body.contains("url") && body["url"].is_string() && !body["url"].get<std::string>().empty()) {
    CheckString(body, "url", p.url(), 2048);
  } else {
    AE_FUZZ_CHECK(p.url() == kDefaultUrl, "default url");
  }
  // A scheme is case-insensitive (RFC 3986 section 3.1): "HTTPS://" is accepted and kept as given.
  std::string scheme = p.url().substr(0, 8);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  AE_FUZZ_CHECK(scheme.rfind("https://", 0) == 0 || scheme.rfind("http://", 0) == 0, "url");
  CheckString(body, "configuration_web_url", p.configuration_web_url(), 2048);
  const std::pair<const char*, bool> kFlags[] = {
      {"is_mandatory", false},        {"is_mdm_removable", true},    {"is_supervised", true},
      {"await_device_configured", false}, {"allow_pairing", true},  {"is_multi_user", false},
      {"auto_advance_setup", false},  {"do_not_use_profile_from_backup", false}};
  const bool got[] = {p.is_mandatory(),  p.is_mdm_removable(), p.is_supervised(),
                      p.await_device_configured(), p.allow_pairing(), p.is_multi_user(),
                      p.auto_advance_setup(), p.do_not_use_profile_from_backup()};
  for (size_t i = 0; i < 8; ++i) {
    const auto& [name, def] = kFlags[i];
    const json* v = body.contains(name) ? &body[name] : nullptr;
    AE_FUZZ_CHECK(got[i] == (v != nullptr && v->is_boolean() ? v->get<bool>() : def), name);
  }
  AE_FUZZ_CHECK(!p.await_device_configured() || p.is_supervised(), "await_device_configured");
  CheckString(body, "support_phone_number", p.support_phone_number(), 64);
  CheckString(body, "support_email_address", p.support_email_address(), 250);
  CheckString(body, "department", p.department(), 125);
  CheckString(body, "org_magic", p.org_magic(), 256);
  CheckString(body, "language", p.language(), 16);
  CheckString(body, "region", p.region(), 16);
  AE_FUZZ_CHECK(p.support_email_address().empty() ||
                    p.support_email_address().find('@') != std::string::npos,
                "support_email_address");
  auto same_list = [&](const char* name, const auto& list) {
    if (!body.contains(name) || body[name].is_null()) {
      AE_FUZZ_CHECK(list.empty(), name);
      return;
    }
    AE_FUZZ_CHECK(body[name].is_array() && body[name].size() == static_cast<size_t>(list.size()),
                  name);
    for (int i = 0; i < list.size(); ++i) {
      AE_FUZZ_CHECK(body[name][i] == list[i], name);
    }
  };
  same_list("skip_setup_items", p.skip_setup_items());
  same_list("anchor_certs", p.anchor_certs());
  same_list("supervising_host_certs", p.supervising_host_certs());
  for (const auto& k : p.skip_setup_items()) {
    AE_FUZZ_CHECK(ae::domain::dep::IsKnownSkipKey(k), "skip_setup_items");
  }
  return Status::Ok();
}

// PATCH /v1/dep/devices/{serial} (and, without the key check, PATCH /v1/kme/devices/{id}).
Status AssignDevice(const json& body, bool dep) {
  if (dep) {
    for (const auto& [k, v] : body.items()) {
      if (k != "profile_id" && k != "user" && k != "policy" && k != "ruleset") {
        return InvalidArgument("request.unknown_field",
                               "unknown field " + k + " (profile_id, user, policy, ruleset)", k);
      }
    }
  }
  const std::pair<const char*, size_t> kFields[] = {
      {"profile_id", 64}, {"user", 64}, {"policy", 128}, {"ruleset", 128}};
  for (const auto& [f, max] : kFields) {
    if (!dep && std::string_view(f) == "profile_id") continue;
    AE_ASSIGN_OR_RETURN(auto v, OptionalStringField(body, f, max));
    AE_FUZZ_CHECK(v.has_value() == body.contains(f), f);
    if (v) CheckString(body, f, *v, max);
  }
  return Status::Ok();
}

// POST /v1/dep/devices/{serial}/disown.
Status Disown(const json& body) {
  AE_READ_STRING(StrField(body, "confirm_serial_number", 64), "confirm_serial_number", 64);
  return Status::Ok();
}

// POST /enroll/android, up to the enrollment token check.
Status EnrollAndroid(const json& body) {
  AE_ASSIGN_OR_RETURN(std::string source, StrField(body, "source", 32));
  CheckString(body, "source", source, 32);
  if (!source.empty() && source != "kme" && source != "knox_deployment") {
    return InvalidArgument("kme.bad_source", "source must be \"kme\" or \"knox_deployment\"",
                           "source");
  }
  AE_READ_STRING(StrField(body, "enrollment_token", 256), "enrollment_token", 256);
  for (const char* f : {"imei", "imei2", "meid", "serial_number", "model", "user_id"}) {
    AE_READ_STRING(StrField(body, f, 64), f, 64);
  }
  return Status::Ok();
}

// POST /v1/kme/knox/connection, up to the stored state.
Status KnoxConnect(const json& body) {
  AE_ASSIGN_OR_RETURN(auto base_url, OptionalStringField(body, "base_url", 2048));
  AE_ASSIGN_OR_RETURN(auto token_url, OptionalStringField(body, "token_url", 2048));
  AE_ASSIGN_OR_RETURN(auto client_id, OptionalStringField(body, "client_id", 256));
  AE_ASSIGN_OR_RETURN(auto secret, OptionalStringField(body, "client_secret", 1024));
  AE_ASSIGN_OR_RETURN(auto customer_id, OptionalStringField(body, "customer_id", 64));
  if (auto it = body.find("auto_approve_uploads"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) {
      return InvalidArgument("request.bad_field", "auto_approve_uploads must be true or false",
                             "auto_approve_uploads");
    }
  }
  if (base_url && !base_url->empty()) {
    AE_RETURN_IF_ERROR(ae::http::CheckBaseUrlField(*base_url, "base_url", "kme.knox_bad_url"));
    auto parsed = ae::http::ParseBaseUrl(*base_url);
    AE_FUZZ_CHECK(parsed.ok() && (parsed->scheme == "http" || parsed->scheme == "https") &&
                      !parsed->host.empty() && parsed->port > 0 && parsed->port <= 65535 &&
                      (parsed->prefix.empty() || parsed->prefix.front() == '/'),
                  ae::fuzz::Printable(*base_url));
    // The origin of a parsed URL parses to the same scheme, host and port.
    auto origin = ae::http::ParseBaseUrl(parsed->Origin());
    AE_FUZZ_CHECK(origin.ok() && origin->scheme == parsed->scheme && origin->host == parsed->host &&
                      origin->port == parsed->port && origin->prefix.empty(),
                  parsed->Origin());
  }
  if (token_url && !token_url->empty()) {
    AE_RETURN_IF_ERROR(ae::http::CheckBaseUrlField(*token_url, "token_url", "kme.knox_bad_url"));
  }
  const std::string id = client_id.value_or("");
  if (id.empty()) {
    return InvalidArgument("request.missing_field", "client_id is required", "client_id");
  }
  AE_RETURN_IF_ERROR(CheckText(id, "client_id"));
  AE_RETURN_IF_ERROR(CheckText(customer_id.value_or(""), "customer_id"));
  if (secret && !secret->empty()) AE_RETURN_IF_ERROR(CheckText(*secret, "client_secret"));
  return Status::Ok();
}

#undef AE_READ_STRING

void CheckRouteRefusal(const Status& s, const json& body) {
  ae::fuzz::CheckRefusal(s, 400,
                         {"request.missing_field", "request.bad_field", "request.unknown_field",
                          "user.invalid_email", "dep.config_name_required", "dep.url_invalid",
                          "dep.flags_invalid", "dep.support_email_invalid", "kme.bad_source",
                          "kme.knox_bad_url", "dep.skip_item_invalid"});
  // Every refusal names its field; only an unknown key may be "" ({"": 1}).
  AE_FUZZ_CHECK(!s.field().empty() || s.reason() == "request.unknown_field", s.ToString());
  // The field named is one the body has, or a required one it lacks.
  AE_FUZZ_CHECK(body.contains(s.field()) || s.reason() == "request.missing_field" ||
                    s.reason() == "dep.config_name_required" ||
                    s.reason() == "dep.flags_invalid",
                s.ToString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  uint64_t rng = ae::fuzz::Fnv1a(input);

  // StatusForHttp, for an HTTP status the server produced outside the handlers.
  const int http = 400 + static_cast<int>(ae::fuzz::SplitMix64(rng) % 200);
  const Status outside = ae::api::StatusForHttp(http);
  const int mapped = ae::api::HttpStatusFor(outside.code());
  AE_FUZZ_CHECK(http < 500 ? (mapped >= 400 && mapped < 500) : mapped == 500,
                std::to_string(http) + " -> " + std::to_string(mapped));
  if (http == 400 || http == 401 || http == 403 || http == 404 || http == 405 || http == 413) {
    AE_FUZZ_CHECK(mapped == http, std::to_string(http) + " -> " + std::to_string(mapped));
  }
  if (http < 500) ae::fuzz::CheckRefusal(outside, mapped, {outside.reason()});

  auto parsed = ParseBody(input);
  if (!parsed.ok()) {
    ae::fuzz::CheckRefusal(parsed.status(), 400, {"request.bad_json"});
    const bool too_deep = ae::api::JsonDepth(input) > ae::api::kMaxJsonDepth;
    AE_FUZZ_CHECK(too_deep ? parsed.status().message().find("nested deeper") != std::string::npos
                           : (parsed.status().message() == "the body is not valid JSON" ||
                              parsed.status().message() == "the body must be a JSON object"),
                  parsed.status().message());
    return 0;
  }
  const json& body = *parsed;
  AE_FUZZ_CHECK(body.is_object(), "accepted a body that is not an object");
  AE_FUZZ_CHECK(ae::api::JsonDepth(input) <= ae::api::kMaxJsonDepth, "accepted a body nested too deep");
  {
    std::string text;
    try {
      text = body.dump();
    } catch (const std::exception& e) {
      AE_FUZZ_CHECK(false, std::string("a parsed body does not dump: ") + e.what());
    }
    const json again = json::parse(text, nullptr, false);
    AE_FUZZ_CHECK(!again.is_discarded() && again == body, "dump() does not parse back equal");
    AE_FUZZ_CHECK(again.dump() == text, "dump() is not stable");
  }

  const Status outcomes[] = {CreateUser(body),          CreateNamed(body),
                             CreateAccount(body),       DefineProfile(body),
                             AssignDevice(body, true),  AssignDevice(body, false),
                             Disown(body),              EnrollAndroid(body),
                             KnoxConnect(body)};
  for (const Status& s : outcomes) {
    if (s.ok()) ae::fuzz::Note("accepted");
    if (!s.ok()) CheckRouteRefusal(s, body);
  }
  return 0;
}
