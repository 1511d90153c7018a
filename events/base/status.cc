#include "events/base/status.h"

namespace ae {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case StatusCode::kNotFound: return "NOT_FOUND";
    case StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case StatusCode::kConflict: return "CONFLICT";
    case StatusCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case StatusCode::kUnprocessable: return "UNPROCESSABLE";
    case StatusCode::kUnavailable: return "UNAVAILABLE";
    case StatusCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case StatusCode::kUnauthenticated: return "UNAUTHENTICATED";
    case StatusCode::kPermissionDenied: return "PERMISSION_DENIED";
    case StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case StatusCode::kPayloadTooLarge: return "PAYLOAD_TOO_LARGE";
    case StatusCode::kUnimplemented: return "UNIMPLEMENTED";
    case StatusCode::kCancelled: return "CANCELLED";
    case StatusCode::kCorruption: return "CORRUPTION";
    case StatusCode::kInternal: return "INTERNAL";
  }
  return "UNKNOWN";
}

Status::Status(StatusCode code, std::string reason, std::string message, std::string field) {
  if (code != StatusCode::kOk) {
    rep_ = std::make_shared<const Rep>(
        Rep{code, std::move(reason), std::move(message), std::move(field)});
  }
}

namespace {
const std::string& Empty() {
  static const std::string kEmpty;
  return kEmpty;
}
}  // namespace

const std::string& Status::reason() const { return rep_ ? rep_->reason : Empty(); }
const std::string& Status::message() const { return rep_ ? rep_->message : Empty(); }
const std::string& Status::field() const { return rep_ ? rep_->field : Empty(); }

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s(StatusCodeName(code()));
  s += " ";
  s += reason();
  s += ": ";
  s += message();
  if (!field().empty()) s += " (field " + field() + ")";
  return s;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code(), reason(), std::string(context) + ": " + message(), field());
}

Status InvalidArgument(std::string r, std::string m, std::string f) {
  return Status(StatusCode::kInvalidArgument, std::move(r), std::move(m), std::move(f));
}
Status NotFound(std::string r, std::string m) {
  return Status(StatusCode::kNotFound, std::move(r), std::move(m));
}
Status AlreadyExists(std::string r, std::string m) {
  return Status(StatusCode::kAlreadyExists, std::move(r), std::move(m));
}
Status Conflict(std::string r, std::string m) {
  return Status(StatusCode::kConflict, std::move(r), std::move(m));
}
Status FailedPrecondition(std::string r, std::string m) {
  return Status(StatusCode::kFailedPrecondition, std::move(r), std::move(m));
}
Status Unprocessable(std::string r, std::string m, std::string f) {
  return Status(StatusCode::kUnprocessable, std::move(r), std::move(m), std::move(f));
}
Status Unavailable(std::string r, std::string m) {
  return Status(StatusCode::kUnavailable, std::move(r), std::move(m));
}
Status DeadlineExceeded(std::string r, std::string m) {
  return Status(StatusCode::kDeadlineExceeded, std::move(r), std::move(m));
}
Status Unauthenticated(std::string r, std::string m) {
  return Status(StatusCode::kUnauthenticated, std::move(r), std::move(m));
}
Status PermissionDenied(std::string r, std::string m) {
  return Status(StatusCode::kPermissionDenied, std::move(r), std::move(m));
}
Status ResourceExhausted(std::string r, std::string m) {
  return Status(StatusCode::kResourceExhausted, std::move(r), std::move(m));
}
Status Cancelled(std::string r, std::string m) {
  return Status(StatusCode::kCancelled, std::move(r), std::move(m));
}
Status Corruption(std::string r, std::string m) {
  return Status(StatusCode::kCorruption, std::move(r), std::move(m));
}
Status Internal(std::string r, std::string m) {
  return Status(StatusCode::kInternal, std::move(r), std::move(m));
}

}  // namespace ae
