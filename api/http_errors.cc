#include "api/http_errors.h"

namespace ae::api {

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kUnimplemented: return 405;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kConflict: return 409;
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kPayloadTooLarge: return 413;
    case StatusCode::kUnprocessable: return 422;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kCancelled: return 503;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    case StatusCode::kCorruption: return 500;
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

nlohmann::json ErrorBody(const Status& s) {
  nlohmann::json err = {{"code", s.reason().empty() ? std::string("internal") : s.reason()},
                        {"message", s.message()}};
  if (!s.field().empty()) err["field"] = s.field();
  return {{"error", err}};
}

Status StatusForHttp(int http) {
  switch (http) {
    case 400: return InvalidArgument("request.malformed", "the request is malformed");
    case 401: return Unauthenticated("auth.required", "a bearer token is required");
    case 403: return PermissionDenied("auth.forbidden", "your role does not allow this");
    case 404: return NotFound("route.not_found", "no such route");
    case 405: return Status(StatusCode::kUnimplemented, "route.method_not_allowed",
                            "method not allowed on this route");
    case 413: return Status(StatusCode::kPayloadTooLarge, "request.too_large",
                            "the request body exceeds the configured limit");
    case 414: return InvalidArgument("request.uri_too_long", "the request URI is too long");
    case 416: return InvalidArgument("request.bad_range", "range not satisfiable");
    default:
      if (http >= 500) return Internal("internal", "internal error");
      return InvalidArgument("request.rejected", "the request was rejected");
  }
}

}  // namespace ae::api
