#include "adapters/samsung_knox/knox_errors.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace ae::knox {
namespace {

using nlohmann::json;

// A member that may be a string, a number or a one-element array of either.
std::string Scalar(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return "";
  const json* v = &*it;
  if (v->is_array()) {
    if (v->size() != 1) return "";
    v = &(*v)[0];
  }
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number_integer()) return std::to_string(v->get<int64_t>());
  if (v->is_number_unsigned()) return std::to_string(v->get<uint64_t>());
  return "";
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Samsung's human text, short and on one line.
std::string Clip(std::string_view s) {
  std::string out(s.substr(0, 200));
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return out;
}

std::string Describe(std::string_view call, int http_status, const std::optional<KnoxError>& e) {
  std::string what = std::string(call) + ": Samsung answered " + std::to_string(http_status);
  if (!e) return what;
  if (!e->code.empty()) what += " " + e->code;
  if (!e->symbol.empty()) what += " " + e->symbol;
  if (!e->data.empty()) what += " (" + Clip(e->data) + ")";
  return what;
}

}  // namespace

std::optional<KnoxError> ParseKnoxError(std::string_view body) {
  if (body.empty() || body.find('{') == std::string_view::npos) return std::nullopt;
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  KnoxError e;
  e.error_id = Scalar(j, "errorId");
  e.code = Scalar(j, "code");
  e.symbol = Scalar(j, "message");
  e.data = Scalar(j, "data");
  if (e.code.empty()) {
    // OAuth 2.0 (RFC 6749 §5.2).
    std::string oauth = Scalar(j, "error");
    if (!oauth.empty()) {
      e.code = oauth;
      if (e.data.empty()) e.data = Scalar(j, "error_description");
    }
  }
  if (e.code.empty() && e.symbol.empty()) return std::nullopt;
  return e;
}

bool IsTokenFailure(int http_status, std::string_view body) {
  if (http_status == 401) return true;
  if (http_status != 403) return false;
  auto e = ParseKnoxError(body);
  return e && (e->code == std::to_string(kCodeAuthenticationFail) ||
               e->symbol == "AUTHENTICATION_FAIL");
}

Status StatusForKnoxError(std::string_view call, int http_status, std::string_view body) {
  const std::optional<KnoxError> e = ParseKnoxError(body);
  const std::string what = Describe(call, http_status, e);
  const std::string code = e ? e->code : "";
  if (IsTokenFailure(http_status, body)) {
    return Unauthenticated(kUnauthorized,
                           what + "; the access token was refused: check the client credentials");
  }
  if (http_status == 403) {
    if (code.empty() || code == std::to_string(kCodeNotPermitted)) {
      return PermissionDenied(kForbidden, what +
                                              "; the cloud app lacks the scope, or the account "
                                              "lacks Knox Cloud API permission");
    }
    return PermissionDenied("knox." + code, what);
  }
  if (http_status == 405) return InvalidArgument(kMethodNotAllowed, what);
  if (AllDigits(code)) {
    const std::string reason = "knox." + code;
    if (code == std::to_string(kCodeRsaDecryptionFail)) {
      return FailedPrecondition(reason, what +
                                            "; the EMM credentials were not encrypted with "
                                            "Samsung's key: check credential_public_key");
    }
    switch (http_status) {
      case 404: return NotFound(reason, what);
      case 409: return AlreadyExists(reason, what);
      case 422: return Unprocessable(reason, what);
      default:
        if (http_status >= 500) return Unavailable(reason, what);
        return InvalidArgument(reason, what);
    }
  }
  if (http_status == 404) return NotFound(kNotFoundNoCode, what);
  if (http_status >= 500) return Unavailable(kKnoxUnavailable, what);
  return InvalidArgument(kRequestRejected, what);
}

Status StatusForTokenError(int http_status, std::string_view body) {
  const std::optional<KnoxError> e = ParseKnoxError(body);
  const std::string what = Describe("POST oauth2/token", http_status, e);
  const std::string code = e ? e->code : "";
  if (code == "invalid_scope" || http_status == 403) {
    return PermissionDenied(kForbidden, what + "; the cloud app is not granted these scopes");
  }
  if (http_status == 400 || http_status == 401) {
    return Unauthenticated(kUnauthorized,
                           what + "; the client credentials were refused (rotated or revoked?)");
  }
  return StatusForKnoxError("POST oauth2/token", http_status, body);
}

}  // namespace ae::knox
