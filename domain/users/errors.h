#pragma once
// Reason catalogue of users, their API tokens, the first administrator and record names: `user.`,
// `admin.`, `record.`.
// Each entry is a reason code raised in the source tree, with the HTTP status it is answered
// with and its meaning; api/ERRORS.md shows them all. See events/base/reason_info.h.

#include "events/base/reason_info.h"

namespace ae::domain::users {

inline constexpr ReasonInfo kReasons[] = {
    {"user.already_exists", 409, "a user with this username exists"},
    {"user.cannot_delete_self", 409, "you cannot delete your own user"},
    {"user.invalid_email", 400, "email must contain @"},
    {"user.invalid_role", 400, "role must be device_user, device_manager or administrator"},
    {"user.invalid_token_id", 400, "a token id is 16 lower-case hexadecimal characters"},
    {"user.invalid_username", 400, "username must be 1 to 64 characters"},
    {"user.not_found", 404, "no user has this username"},
    {"user.token_exists", 409, "the user already has this token"},
    {"user.token_not_found", 404, "the token is not an active token of this user"},
    {"user.token_revoked", 409, "this token was revoked and cannot be issued again"},
    {"admin.seed_revoked", 409,
     "AUTOENROLL_ADMIN_TOKEN is a token that was revoked: unset it or choose a new one"},
    {"admin.weak_seed", 400,
     "AUTOENROLL_ADMIN_TOKEN is too weak, or holds characters other than printable ASCII "
     "without spaces"},
    {"record.invalid_name", 400, "a name must be 1 to 128 characters"},
};

}  // namespace ae::domain::users
