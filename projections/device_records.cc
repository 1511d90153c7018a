#include "projections/device_records.h"

#include <cstdio>

namespace ae::proj {

namespace {
using nlohmann::json;

// Readers of one key: absent or null reads as the default; a value of another type throws
// json::exception (FromJson answers kCorruption).
std::string Str(const json& j, const char* key, const char* def = "") {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  return it->get<std::string>();
}
std::optional<std::string> OptStr(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<std::string>();
}
bool Bool(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && !it->is_null() && it->get<bool>();
}
// The object at `key`, or nullptr when absent or null.
const json* Object(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  (void)it->get_ref<const json::object_t&>();  // throws when it is not an object
  return &*it;
}

Status NotARecord(const char* table, const std::string& why) {
  return Corruption("view.corruption", std::string(table) + " record " + why);
}

// Parses `bytes` and reads them with Record::FromJson.
template <typename Record>
Result<Record> DecodeJson(std::string_view bytes) {
  json j = json::parse(bytes, nullptr, false);
  if (!j.is_object()) return NotARecord(Record::kTable, "does not parse");
  return Record::FromJson(j);
}

// Runs `read` on `j`, a record of `table`: kCorruption when it is not an object or a key
// holds a value of another type.
template <typename Record, typename Fn>
Result<Record> Read(const char* table, const json& j, Fn read) {
  if (!j.is_object()) return NotARecord(table, "is not an object");
  try {
    Record r;
    read(r);
    return r;
  } catch (const json::exception& e) {
    return NotARecord(table, std::string("has a value of the wrong type: ") + e.what());
  }
}
}  // namespace

// ---- devices ----

json DeviceCommandOutcome::ToJson() const {
  return {{"command_uuid", command_uuid}, {"status", status}, {"error", error}, {"at", at}};
}

json DeviceRecord::ToJson() const {
  json j = {{"id", id},
            {"platform", platform},
            {"serial_number", serial_number},
            {"udid", udid},
            {"imei", imei},
            {"model", model},
            {"os_version", os_version},
            {"user_id", user_id},
            {"policy_id", policy_id},
            {"ruleset_id", ruleset_id},
            {"push_topic", push_topic},
            {"status", status},
            {"configured", configured},
            {"enrolled_at", enrolled_at},
            {"last_seen_at", last_seen_at},
            {"last_message_type", last_message_type},
            {"pending_commands", json(pending_commands)},
            {"updated_at", updated_at},
            {"last_position", last_position}};
  if (last_command) j["last_command"] = last_command->ToJson();
  return j;
}

std::string DeviceRecord::Encode() const { return ToJson().dump(); }

Result<DeviceRecord> DeviceRecord::FromJson(const json& j) {
  return Read<DeviceRecord>(kTable, j, [&](DeviceRecord& d) {
    d.id = Str(j, "id");
    d.platform = Str(j, "platform");
    d.serial_number = Str(j, "serial_number");
    d.udid = Str(j, "udid");
    d.imei = Str(j, "imei");
    d.model = Str(j, "model");
    d.os_version = Str(j, "os_version");
    d.user_id = Str(j, "user_id");
    d.policy_id = Str(j, "policy_id");
    d.ruleset_id = Str(j, "ruleset_id");
    d.push_topic = Str(j, "push_topic");
    d.status = Str(j, "status");
    d.configured = Bool(j, "configured");
    d.enrolled_at = Str(j, "enrolled_at");
    d.last_seen_at = Str(j, "last_seen_at");
    d.last_message_type = Str(j, "last_message_type");
    if (const json* p = Object(j, "pending_commands")) {
      d.pending_commands = p->get<std::map<std::string, std::string>>();
    }
    if (const json* c = Object(j, "last_command")) {
      d.last_command = DeviceCommandOutcome{Str(*c, "command_uuid"), Str(*c, "status"),
                                            Str(*c, "error"), Str(*c, "at")};
    }
    d.updated_at = Str(j, "updated_at");
    d.last_position = Str(j, "last_position");
  });
}

Result<DeviceRecord> DeviceRecord::Decode(std::string_view bytes) {
  return DecodeJson<DeviceRecord>(bytes);
}

// ---- udids ----

std::string MdmUdidRecord::Encode() const { return device_id; }

Result<MdmUdidRecord> MdmUdidRecord::Decode(std::string_view bytes) {
  if (bytes.empty()) return NotARecord(kTable, "is empty");
  return MdmUdidRecord{std::string(bytes)};
}

// ---- queue ----

json MdmQueuedCommand::ToJson() const {
  return {{"command_uuid", command_uuid},
          {"request_type", request_type},
          {"manifest_url", manifest_url}};
}

std::string MdmQueuedCommand::Encode() const { return ToJson().dump(); }

Result<MdmQueuedCommand> MdmQueuedCommand::FromJson(const json& j) {
  return Read<MdmQueuedCommand>(kTable, j, [&](MdmQueuedCommand& q) {
    q.command_uuid = Str(j, "command_uuid");
    q.request_type = Str(j, "request_type");
    q.manifest_url = Str(j, "manifest_url");
  });
}

Result<MdmQueuedCommand> MdmQueuedCommand::Decode(std::string_view bytes) {
  return DecodeJson<MdmQueuedCommand>(bytes);
}

std::string MdmQueuePrefix(const std::string& device_id) { return device_id + '\x1f'; }

std::string MdmQueueKey(const std::string& device_id, uint64_t stream_version) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%012llu", static_cast<unsigned long long>(stream_version));
  return MdmQueuePrefix(device_id) + buf;
}

// ---- identities ----

json MdmIdentityRecord::ToJson() const {
  json j = {{"certificate_sha256", certificate_sha256}, {"state", state}};
  if (udid) j["udid"] = *udid;
  if (signer_sha256) j["signer_sha256"] = *signer_sha256;
  if (issued_at) j["issued_at"] = *issued_at;
  if (revoked_reason) j["revoked_reason"] = *revoked_reason;
  if (revoked_at) j["revoked_at"] = *revoked_at;
  return j;
}

std::string MdmIdentityRecord::Encode() const { return ToJson().dump(); }

Result<MdmIdentityRecord> MdmIdentityRecord::FromJson(const json& j) {
  return Read<MdmIdentityRecord>(kTable, j, [&](MdmIdentityRecord& i) {
    i.certificate_sha256 = Str(j, "certificate_sha256");
    i.state = Str(j, "state");
    i.udid = OptStr(j, "udid");
    i.signer_sha256 = OptStr(j, "signer_sha256");
    i.issued_at = OptStr(j, "issued_at");
    i.revoked_reason = OptStr(j, "revoked_reason");
    i.revoked_at = OptStr(j, "revoked_at");
  });
}

Result<MdmIdentityRecord> MdmIdentityRecord::Decode(std::string_view bytes) {
  return DecodeJson<MdmIdentityRecord>(bytes);
}

}  // namespace ae::proj
