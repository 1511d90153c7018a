#include "adapters/apple_dep/dep_errors.h"

#include <cctype>
#include <nlohmann/json.hpp>

namespace ae::dep {
namespace {

// Longest first where one code contains another (PROFILE_NOT_FOUND / NOT_FOUND).
constexpr std::string_view kKnownCodes[] = {
    "T_C_NOT_SIGNED",         "token_rejected",      "signature_invalid",
    "ACCESS_DENIED",          "FORBIDDEN",           "UNAUTHORIZED",
    "EXHAUSTED_CURSOR",       "EXPIRED_CURSOR",      "INVALID_CURSOR",
    "CURSOR_REQUIRED",        "DEVICE_ID_REQUIRED",  "PROFILE_UUID_REQUIRED",
    "PROFILE_NOT_FOUND",      "DEVICE_NOT_FOUND",    "NOT_FOUND",
    "MALFORMED_REQUEST_BODY", "USER_AGENT_MISSING",  "USER_AGENT_INVALID",
    "CONFIG_NAME_REQUIRED",   "CONFIG_NAME_INVALID", "CONFIG_URL_REQUIRED",
    "CONFIG_URL_INVALID",     "DEPARTMENT_INVALID",  "FLAGS_INVALID",
    "LOCALE_INVALID",         "MAGIC_INVALID",       "SUPPORT_EMAIL_INVALID",
    "SUPPORT_PHONE_INVALID",  "DESCRIPTION_INVALID", "SERVER_ERROR",
};

bool IsCodeWord(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string AppleErrorCode(std::string_view body) {
  std::string_view t = body;
  auto trim = [&] {
    while (!t.empty() && (std::isspace(static_cast<unsigned char>(t.front())) || t.front() == '"'))
      t.remove_prefix(1);
    while (!t.empty() && (std::isspace(static_cast<unsigned char>(t.back())) || t.back() == '"'))
      t.remove_suffix(1);
  };
  trim();
  if (IsCodeWord(t)) return std::string(t);
  if (!body.empty() && body.find('{') != std::string_view::npos) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_object()) {
      for (const char* key : {"code", "error", "error_code"}) {
        auto it = j.find(key);
        if (it != j.end() && it->is_string() && IsCodeWord(it->get_ref<const std::string&>())) {
          return it->get<std::string>();
        }
      }
    }
  }
  for (std::string_view code : kKnownCodes) {
    if (body.find(code) != std::string_view::npos) return std::string(code);
  }
  return "";
}

Status StatusForAppleError(std::string_view call, int http_status, std::string_view body) {
  const std::string code = AppleErrorCode(body);
  const std::string what = std::string(call) + ": Apple answered " + std::to_string(http_status) +
                           (code.empty() ? std::string() : " " + code);
  if (code == "T_C_NOT_SIGNED") {
    return FailedPrecondition(kTermsNotSigned,
                              what +
                                  "; an administrator must accept the latest terms in "
                                  "Apple Business/School Manager");
  }
  if (code == "token_rejected" || code == "signature_invalid" || http_status == 401) {
    return Unauthenticated(kTokenRejected,
                           what + "; the server token was revoked or replaced, upload a new one");
  }
  if (http_status == 403) return PermissionDenied(kAccessDenied, what);
  if (code == "EXHAUSTED_CURSOR") return FailedPrecondition(kExhaustedCursor, what);
  if (code == "EXPIRED_CURSOR") return FailedPrecondition(kExpiredCursor, what);
  if (code == "INVALID_CURSOR") return FailedPrecondition(kInvalidCursor, what);
  if (code == "CURSOR_REQUIRED") return FailedPrecondition(kCursorRequired, what);
  if (code == "NOT_FOUND" || code == "PROFILE_NOT_FOUND" ||
      (http_status == 404 && call.find("/profile") != std::string_view::npos)) {
    return NotFound(kProfileNotFound, what);
  }
  if (http_status == 404) return NotFound("dep.not_found", what);
  if (!code.empty() && code != "FORBIDDEN" && code != "UNAUTHORIZED") {
    return InvalidArgument("dep." + Lower(code), what);
  }
  return InvalidArgument(kRequestRejected, what);
}

}  // namespace ae::dep
