#include "adapters/apple_mdm/checkin.h"

#include <algorithm>

#include "adapters/apple_mdm/internal/plist.h"
#include "events/base/text.h"

namespace ae::mdm {

namespace {

constexpr size_t kMaxStringBytes = 4096;  // any single string or data value we keep
constexpr uint32_t kMaxErrorChain = 16;

// Reads `dict` into typed fields, remembering the first problem.
class Reader {
 public:
  Reader(plist_t dict, std::string reason) : dict_(dict), reason_(std::move(reason)) {}

  // Strings go into events and JSON views: they must be valid UTF-8.
  void String(const char* key, std::string* out, bool required = false) {
    Field(key, plist::GetString(dict_, key, out), "a string", required, out);
    if (status_.ok() && !text::IsValidUtf8(*out)) Fail(std::string(key) + " is not UTF-8");
  }
  void Data(const char* key, std::string* out, bool required = false) {
    Field(key, plist::GetData(dict_, key, out), "data", required, out);
  }
  void Bool(const char* key, bool* out) {
    if (plist::GetBool(dict_, key, out) == plist::Lookup::kWrongType) Fail(std::string(key) + " is not a boolean");
  }
  void Fail(std::string message) {
    if (status_.ok()) status_ = InvalidArgument(reason_, std::move(message));
  }
  const Status& status() const { return status_; }

 private:
  void Field(const char* key, plist::Lookup found, const char* kind, bool required,
             const std::string* value) {
    if (found == plist::Lookup::kWrongType) {
      Fail(std::string(key) + " is not " + kind);
    } else if (found == plist::Lookup::kMissing || value->empty()) {
      if (required) Fail(std::string(key) + " is missing");
    } else if (value->size() > kMaxStringBytes) {
      Fail(std::string(key) + " is too long");
    }
  }

  plist_t dict_;
  std::string reason_;
  Status status_;
};

Result<plist::Node> ParseDict(std::string_view body, size_t max, const char* reason,
                              const char* what) {
  if (body.empty()) return InvalidArgument(reason, std::string(what) + " body is empty");
  if (body.size() > max) {
    return InvalidArgument(reason, std::string(what) + " body is larger than " +
                                       std::to_string(max) + " bytes");
  }
  plist::Node root = plist::Parse(body);
  if (!root) return InvalidArgument(reason, std::string(what) + " body is not a property list");
  if (!plist::IsDict(root.get())) {
    return InvalidArgument(reason, std::string(what) + " body is not a dictionary");
  }
  return root;
}

std::string ErrorChainText(plist_t chain) {
  std::string text;
  const uint32_t n = std::min(plist_array_get_size(chain), kMaxErrorChain);
  for (uint32_t i = 0; i < n; ++i) {
    plist_t entry = plist_array_get_item(chain, i);
    if (!plist::IsDict(entry)) continue;
    std::string domain, description;
    uint64_t code = 0;
    plist::GetString(entry, "ErrorDomain", &domain);
    if (plist::GetString(entry, "USEnglishDescription", &description) != plist::Lookup::kOk) {
      plist::GetString(entry, "LocalizedDescription", &description);
    }
    bool has_code = plist::GetUint(entry, "ErrorCode", &code) == plist::Lookup::kOk;
    // A device's words, cut on a character boundary; text that is not UTF-8 is left out.
    if (!text::IsValidUtf8(domain)) domain.clear();
    if (!text::IsValidUtf8(description)) description = "(not UTF-8)";
    if (!text.empty()) text += "; ";
    text += domain.empty() ? "error" : std::string(text::Utf8Prefix(domain, 256));
    if (has_code) text += " " + std::to_string(static_cast<int64_t>(code));
    if (!description.empty()) text += ": " + std::string(text::Utf8Prefix(description, 1024));
  }
  return text;
}

bool KnownStatus(std::string_view s) {
  return s == "Idle" || s == "Acknowledged" || s == "Error" || s == "NotNow" ||
         s == "CommandFormatError";
}

}  // namespace

Result<CheckinMessage> ParseCheckin(std::string_view body) {
  AE_ASSIGN_OR_RETURN(plist::Node root, ParseDict(body, kMaxCheckinBytes, "mdm.bad_checkin", "check-in"));
  Reader r(root.get(), "mdm.bad_checkin");
  CheckinMessage m;
  r.String("MessageType", &m.message_type, /*required=*/true);
  r.String("UDID", &m.udid, /*required=*/true);
  const bool token_update = m.message_type == "TokenUpdate";
  const bool authenticate = m.message_type == "Authenticate";
  r.String("Topic", &m.topic, /*required=*/token_update || authenticate);
  r.String("SerialNumber", &m.serial_number);
  r.String("Model", &m.model);
  r.String("ModelName", &m.model_name);
  r.String("ProductName", &m.product_name);
  r.String("OSVersion", &m.os_version);
  r.String("BuildVersion", &m.build_version);
  r.String("IMEI", &m.imei);
  r.String("MEID", &m.meid);
  r.Data("Token", &m.token, /*required=*/token_update);
  r.String("PushMagic", &m.push_magic, /*required=*/token_update);
  r.Data("UnlockToken", &m.unlock_token);
  r.Bool("AwaitingConfiguration", &m.awaiting_configuration);
  r.String("UserID", &m.user_id);
  if (!r.status().ok()) return r.status();
  return m;
}

Result<CommandResult> ParseCommandResult(std::string_view body) {
  AE_ASSIGN_OR_RETURN(plist::Node root, ParseDict(body, kMaxCommandResultBytes,
                                                  "mdm.bad_command_result", "command result"));
  Reader r(root.get(), "mdm.bad_command_result");
  CommandResult c;
  r.String("UDID", &c.udid, /*required=*/true);
  r.String("Status", &c.status, /*required=*/true);
  if (r.status().ok() && !KnownStatus(c.status)) r.Fail("Status \"" + std::string(text::Utf8Prefix(c.status, 64)) + "\" is unknown");
  r.String("CommandUUID", &c.command_uuid, /*required=*/r.status().ok() && c.status != "Idle");
  if (!r.status().ok()) return r.status();
  plist_t chain = plist::Get(root.get(), "ErrorChain");
  if (chain != nullptr) {
    if (!plist::IsArray(chain)) {
      return InvalidArgument("mdm.bad_command_result", "ErrorChain is not an array");
    }
    c.error_chain_text = ErrorChainText(chain);
  }
  return c;
}

std::string BuildCommandPlist(const Command& command) {
  plist::Node root(plist_new_dict());
  plist_t inner = plist_new_dict();
  plist::SetString(inner, "RequestType", command.request_type);
  if (!command.manifest_url.empty()) plist::SetString(inner, "ManifestURL", command.manifest_url);
  if (!command.payload.empty()) plist::SetData(inner, "Payload", command.payload);
  if (command.request_type == "InstallApplication") plist::SetUint(inner, "ManagementFlags", 1);
  if (command.request_type == "InstallEnterpriseApplication") plist::SetBool(inner, "InstallAsManaged", true);
  plist_dict_set_item(root.get(), "Command", inner);
  plist::SetString(root.get(), "CommandUUID", command.command_uuid);
  return plist::ToXml(root.get());
}

Result<Command> ParseCommandPlist(std::string_view body) {
  AE_ASSIGN_OR_RETURN(plist::Node root, ParseDict(body, kMaxCommandResultBytes, "mdm.bad_command", "command"));
  Command c;
  Reader r(root.get(), "mdm.bad_command");
  r.String("CommandUUID", &c.command_uuid, /*required=*/true);
  plist_t inner = plist::Get(root.get(), "Command");
  if (!plist::IsDict(inner)) r.Fail("Command is missing or not a dictionary");
  if (!r.status().ok()) return r.status();
  Reader ri(inner, "mdm.bad_command");
  ri.String("RequestType", &c.request_type, /*required=*/true);
  ri.String("ManifestURL", &c.manifest_url);
  if (plist::GetData(inner, "Payload", &c.payload) == plist::Lookup::kWrongType) {
    return InvalidArgument("mdm.bad_command", "Payload is not data", "Payload");
  }
  if (!ri.status().ok()) return ri.status();
  return c;
}

std::string BuildCheckinPlist(const CheckinMessage& m) {
  plist::Node root(plist_new_dict());
  plist_t d = root.get();
  auto str = [&](const char* key, const std::string& value) {
    if (!value.empty()) plist::SetString(d, key, value);
  };
  str("MessageType", m.message_type);
  str("UDID", m.udid);
  str("Topic", m.topic);
  str("SerialNumber", m.serial_number);
  str("Model", m.model);
  str("ModelName", m.model_name);
  str("ProductName", m.product_name);
  str("OSVersion", m.os_version);
  str("BuildVersion", m.build_version);
  str("IMEI", m.imei);
  str("MEID", m.meid);
  if (!m.token.empty()) plist::SetData(d, "Token", m.token);
  str("PushMagic", m.push_magic);
  if (!m.unlock_token.empty()) plist::SetData(d, "UnlockToken", m.unlock_token);
  if (m.message_type == "TokenUpdate") plist::SetBool(d, "AwaitingConfiguration", m.awaiting_configuration);
  str("UserID", m.user_id);
  return plist::ToXml(d);
}

std::string BuildCommandResultPlist(const CommandResult& result) {
  plist::Node root(plist_new_dict());
  plist_t d = root.get();
  plist::SetString(d, "UDID", result.udid);
  plist::SetString(d, "Status", result.status);
  if (!result.command_uuid.empty()) plist::SetString(d, "CommandUUID", result.command_uuid);
  if (!result.error_chain_text.empty()) {
    plist_t chain = plist_new_array();
    plist_t entry = plist_new_dict();
    plist::SetString(entry, "ErrorDomain", "MCMDMErrorDomain");
    plist::SetUint(entry, "ErrorCode", 12021);
    plist::SetString(entry, "USEnglishDescription", result.error_chain_text);
    plist::SetString(entry, "LocalizedDescription", result.error_chain_text);
    plist_array_append_item(chain, entry);
    plist_dict_set_item(d, "ErrorChain", chain);
  }
  return plist::ToXml(d);
}

}  // namespace ae::mdm
