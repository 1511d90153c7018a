#pragma once
// Users, policies and rule sets: the named records devices reference.
// Pure deciders; sealing of personal data happens before a command is built.
//
// Streams: user/<user_id> where user_id is derived from the username with a
// keyed hash (so the username itself never appears in a stream id),
// policy/<name-key>, ruleset/<name-key>.

#include <optional>
#include <string>
#include <vector>

#include "domain/command_bus.h"

namespace ae::domain::users {

using Role = autoenroll::events::v1::Role;
using SealedPersonal = autoenroll::events::v1::SealedPersonal;

// Parses "device_user" | "device_manager" | "administrator".
std::optional<Role> ParseRole(std::string_view text);
std::string RoleName(Role role);
// True when `have` includes `need` (administrator ⊇ device_manager ⊇ device_user).
bool RoleAtLeast(Role have, Role need);

// Usernames: 1-64 of [A-Za-z0-9._@+-], case-insensitive.
Status ValidateUsername(std::string_view username);
std::string NormalizeUsername(std::string_view username);
// user_id = hex(HMAC-SHA256(id_key, normalized username))[0:32].
std::string UserIdFor(std::string_view id_key, std::string_view username);

// API tokens. A token is named in events and views by its id; what proves it is
// a verifier kept only in the token store (api/api_tokens.h).
// token id = hex(HMAC-SHA256(id_key, token))[0:16] (id_key derived "api-token-id/v1").
std::string TokenIdFor(std::string_view id_key, std::string_view token);
// The id of a token issued before keyed hashes: hex(SHA-256(token))[0:16].
std::string LegacyTokenIdFor(std::string_view token);
// verifier = HMAC-SHA256(verifier_key, SHA-256(token)): keyed, and computable from the
// SHA-256 that events of tokens issued before it carried (UserTokenIssued.token_sha256).
std::string TokenVerifier(std::string_view verifier_key, std::string_view token_sha256);
// True for a well-formed token id (16 lower-case hex characters).
bool ValidTokenId(std::string_view id);

// The administrator's seed token (AUTOENROLL_ADMIN_TOKEN): printable ASCII without
// spaces, at least kMinSeedLength characters and an estimated kMinSeedBits bits of
// entropy; kInvalidArgument "admin.weak_seed" otherwise.
inline constexpr size_t kMinSeedLength = 32;
inline constexpr double kMinSeedBits = 128;
Status CheckAdminSeed(std::string_view seed);
// The estimate: the Shannon entropy of the seed's characters times its length, so a
// repeated or small alphabet counts for what it is ("aaaa..." is 0 bits).
double SeedEntropyBits(std::string_view seed);

// Policy and rule set names: 1-128 printable characters; the stream key is the
// lower-cased name.
Status ValidateRecordName(std::string_view name);
std::string RecordKey(std::string_view name);

struct UserState {
  bool exists = false;
  bool deleted = false;
  bool forgotten = false;
  Role role = Role::ROLE_UNSPECIFIED;
  std::vector<std::string> token_ids;          // the tokens that authenticate, in issue order
  std::vector<std::string> revoked_token_ids;  // revoked ones never come back
};
UserState Evolve(UserState s, const Envelope& e);

struct CreateUser {
  std::string user_id;
  Role role;
  SealedPersonal personal;
  std::string created_by;
};
Result<std::vector<Envelope>> Decide(const UserState& s, const CreateUser& c);

// The token's keyed hash is kept by the API's token store, never in an event:
// the event names the token by its id only.
struct IssueToken {
  std::string user_id;
  std::string token_id;
};
Result<std::vector<Envelope>> Decide(const UserState& s, const IssueToken& c);

struct RevokeToken {
  std::string user_id;
  std::string token_id;
};
Result<std::vector<Envelope>> Decide(const UserState& s, const RevokeToken& c);

struct DeleteUser {
  std::string user_id;
  bool forget = false;
};
Result<std::vector<Envelope>> Decide(const UserState& s, const DeleteUser& c);

struct NamedState {
  bool exists = false;
};
NamedState EvolveNamed(NamedState s, const Envelope& e);

struct CreatePolicy {
  std::string key;
  std::string name;
};
Result<std::vector<Envelope>> Decide(const NamedState& s, const CreatePolicy& c);

struct CreateRuleSet {
  std::string key;
  std::string name;
};
Result<std::vector<Envelope>> Decide(const NamedState& s, const CreateRuleSet& c);

// Binds a command to a Decider for the CommandBus.
template <typename Cmd>
Decider<UserState> UserDecider(Cmd cmd) {
  return {Evolve, [cmd = std::move(cmd)](const UserState& s) { return Decide(s, cmd); }};
}
template <typename Cmd>
Decider<NamedState> NamedDecider(Cmd cmd) {
  return {EvolveNamed, [cmd = std::move(cmd)](const NamedState& s) { return Decide(s, cmd); }};
}

}  // namespace ae::domain::users
