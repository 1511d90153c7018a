#pragma once
// Status and Result<T>: the error vocabulary of autoenroll.
//
// Codes follow Abseil's retry semantics:
//   kUnavailable        retry just this call (transport, 429, 5xx, log unavailable)
//   kConflict           wrong expected version: re-read state and re-decide
//   kFailedPrecondition do not retry until the state is fixed
// Every non-OK status carries a stable dotted `reason` ("dep.device_not_found")
// used by clients, a human message, and an optional `field`.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ae {

enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kConflict,
  kFailedPrecondition,
  kUnprocessable,  // valid syntax, unacceptable content (HTTP 422)
  kUnavailable,
  kDeadlineExceeded,
  kUnauthenticated,
  kPermissionDenied,
  kResourceExhausted,
  kPayloadTooLarge,
  kUnimplemented,
  kCancelled,
  kCorruption,
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string reason, std::string message, std::string field = "");

  static Status Ok() { return Status(); }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  const std::string& reason() const;
  const std::string& message() const;
  const std::string& field() const;
  std::string ToString() const;

  // Returns a copy with `context: ` prefixed to the message.
  Status WithContext(std::string_view context) const;

  // Marks a deliberately ignored status, so every swallowed error is searchable.
  void IgnoreError() const {}

 private:
  struct Rep {
    StatusCode code;
    std::string reason;
    std::string message;
    std::string field;
  };
  std::shared_ptr<const Rep> rep_;  // null when OK: success costs nothing
};

// Factories. `reason` is the stable code clients see.
Status InvalidArgument(std::string reason, std::string message, std::string field = "");
Status NotFound(std::string reason, std::string message);
Status AlreadyExists(std::string reason, std::string message);
Status Conflict(std::string reason, std::string message);
Status FailedPrecondition(std::string reason, std::string message);
Status Unprocessable(std::string reason, std::string message, std::string field = "");
Status Unavailable(std::string reason, std::string message);
Status DeadlineExceeded(std::string reason, std::string message);
Status Unauthenticated(std::string reason, std::string message);
Status PermissionDenied(std::string reason, std::string message);
Status ResourceExhausted(std::string reason, std::string message);
Status Cancelled(std::string reason, std::string message);
Status Corruption(std::string reason, std::string message);
Status Internal(std::string reason, std::string message);

// Result<T>: a T or a non-OK Status. std::expected needs C++23.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                         // NOLINT
  Result(Status status) : v_(std::move(status)) {}                  // NOLINT
  template <typename U,
            typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                        !std::is_same_v<std::decay_t<U>, Status> &&
                                        !std::is_same_v<std::decay_t<U>, Result<T>>>>
  Result(U&& value) : v_(T(std::forward<U>(value))) {}              // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace ae

#define AE_CONCAT_INNER_(a, b) a##b
#define AE_CONCAT_(a, b) AE_CONCAT_INNER_(a, b)

#define AE_RETURN_IF_ERROR(expr)          \
  do {                                    \
    ::ae::Status ae_status_ = (expr);     \
    if (!ae_status_.ok()) return ae_status_; \
  } while (0)

#define AE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#define AE_ASSIGN_OR_RETURN(lhs, expr) \
  AE_ASSIGN_OR_RETURN_IMPL_(AE_CONCAT_(ae_result_, __LINE__), lhs, expr)
