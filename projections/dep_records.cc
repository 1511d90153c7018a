#include "projections/dep_records.h"

#include "projections/json_record.h"

namespace ae::proj {

namespace {
using nlohmann::json;

json OrNull(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

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
template <typename T>
std::optional<T> OptNumber(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<T>();
}
template <typename T>
T Number(const json& j, const char* key) {
  return OptNumber<T>(j, key).value_or(T{0});
}
std::vector<std::string> Strings(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  return it->get<std::vector<std::string>>();
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

json CountsFields(const DepCounts& c) {
  return {{"total", c.total}, {"empty", c.empty}, {"assigned", c.assigned},
          {"pushed", c.pushed}, {"removed", c.removed}};
}
// True when `k` is one of the counts' keys, read into c.
bool ReadCount(DepCounts& c, std::string_view k, const json_record::Value& v) {
  if (k == "total") c.total = v.Int();
  else if (k == "empty") c.empty = v.Int();
  else if (k == "assigned") c.assigned = v.Int();
  else if (k == "pushed") c.pushed = v.Int();
  else if (k == "removed") c.removed = v.Int();
  else return false;
  return true;
}
}  // namespace

// ---- accounts ----

json DepAccountRecord::ToJson() const {
  json j = {{"id", id},
            {"name", name},
            {"state", state},
            {"state_reason", state_reason},
            {"certificate_pem", certificate_pem},
            {"public_key_sha256", public_key_sha256},
            {"token_expires_at", OrNull(token_expires_at)},
            {"token_fingerprint", OrNull(token_fingerprint)},
            {"server_name", server_name},
            {"server_uuid", server_uuid},
            {"org_name", org_name},
            {"org_email", org_email},
            {"org_phone", org_phone},
            {"org_address", org_address},
            {"org_id", org_id},
            {"last_sync_at", OrNull(last_sync_at)},
            {"last_sync_error", nullptr},
            {"sync", nullptr},
            {"cursor_at", OrNull(cursor_at)},
            {"created_at", created_at},
            {"updated_at", updated_at},
            {"last_position", last_position}};
  if (org_type) j["org_type"] = *org_type;
  if (org_version) j["org_version"] = *org_version;
  if (admin_id) j["admin_id"] = *admin_id;
  if (facilitator_id) j["facilitator_id"] = *facilitator_id;
  if (last_sync_error) {
    j["last_sync_error"] = {{"code", last_sync_error->code},
                            {"message", last_sync_error->message},
                            {"at", last_sync_error->at}};
  }
  if (sync) {
    json s = json::object();
    if (sync->id) s["id"] = *sync->id;
    if (sync->mode) s["mode"] = *sync->mode;
    if (sync->running) s["running"] = *sync->running;
    if (sync->started_at) s["started_at"] = *sync->started_at;
    if (sync->completed_at) s["completed_at"] = *sync->completed_at;
    if (sync->pages) s["pages"] = *sync->pages;
    if (sync->devices_seen) s["devices_seen"] = *sync->devices_seen;
    if (sync->events_written) s["events_written"] = *sync->events_written;
    j["sync"] = std::move(s);
  }
  return j;
}

std::string DepAccountRecord::Encode() const { return ToJson().dump(); }

Result<DepAccountRecord> DepAccountRecord::FromJson(const json& j) {
  return Read<DepAccountRecord>(kTable, j, [&](DepAccountRecord& a) {
    a.id = Str(j, "id");
    a.name = Str(j, "name");
    a.state = Str(j, "state", "awaiting_token");
    a.state_reason = Str(j, "state_reason");
    a.certificate_pem = Str(j, "certificate_pem");
    a.public_key_sha256 = Str(j, "public_key_sha256");
    a.token_expires_at = OptStr(j, "token_expires_at");
    a.token_fingerprint = OptStr(j, "token_fingerprint");
    a.server_name = Str(j, "server_name");
    a.server_uuid = Str(j, "server_uuid");
    a.org_name = Str(j, "org_name");
    a.org_email = Str(j, "org_email");
    a.org_phone = Str(j, "org_phone");
    a.org_address = Str(j, "org_address");
    a.org_id = Str(j, "org_id");
    a.org_type = OptStr(j, "org_type");
    a.org_version = OptStr(j, "org_version");
    a.admin_id = OptStr(j, "admin_id");
    a.facilitator_id = OptStr(j, "facilitator_id");
    a.last_sync_at = OptStr(j, "last_sync_at");
    if (const json* e = Object(j, "last_sync_error")) {
      a.last_sync_error = DepSyncError{Str(*e, "code"), Str(*e, "message"), Str(*e, "at")};
    }
    if (const json* s = Object(j, "sync")) {
      DepSyncRecord sync;
      sync.id = OptStr(*s, "id");
      sync.mode = OptStr(*s, "mode");
      sync.running = OptNumber<bool>(*s, "running");
      sync.started_at = OptStr(*s, "started_at");
      sync.completed_at = OptStr(*s, "completed_at");
      sync.pages = OptNumber<uint64_t>(*s, "pages");
      sync.devices_seen = OptNumber<uint64_t>(*s, "devices_seen");
      sync.events_written = OptNumber<uint64_t>(*s, "events_written");
      a.sync = std::move(sync);
    }
    a.cursor_at = OptStr(j, "cursor_at");
    a.created_at = Str(j, "created_at");
    a.updated_at = Str(j, "updated_at");
    a.last_position = Str(j, "last_position");
  });
}

Result<DepAccountRecord> DepAccountRecord::Decode(std::string_view bytes) {
  return DecodeJson<DepAccountRecord>(bytes);
}

// ---- profiles ----

json DepProfileRecord::ToJson() const {
  json error_json = nullptr;
  if (error) error_json = {{"code", error->code}, {"message", error->message}};
  return {{"id", id},
          {"account_id", account_id},
          {"profile_name", profile_name},
          {"url", url},
          {"is_mandatory", is_mandatory},
          {"is_mdm_removable", is_mdm_removable},
          {"is_supervised", is_supervised},
          {"await_device_configured", await_device_configured},
          {"skip_setup_items", skip_setup_items},
          {"support_phone_number", support_phone_number},
          {"support_email_address", support_email_address},
          {"department", department},
          {"org_magic", org_magic},
          {"language", language},
          {"region", region},
          {"allow_pairing", allow_pairing},
          {"is_multi_user", is_multi_user},
          {"auto_advance_setup", auto_advance_setup},
          {"anchor_certs", anchor_certs},
          {"supervising_host_certs", supervising_host_certs},
          {"configuration_web_url", configuration_web_url},
          {"do_not_use_profile_from_backup", do_not_use_profile_from_backup},
          {"profile_uuid", profile_uuid},
          {"state", state},
          {"error", std::move(error_json)},
          {"created_at", created_at},
          {"updated_at", updated_at},
          {"last_position", last_position}};
}

std::string DepProfileRecord::Encode() const { return ToJson().dump(); }

Result<DepProfileRecord> DepProfileRecord::FromJson(const json& j) {
  return Read<DepProfileRecord>(kTable, j, [&](DepProfileRecord& p) {
    p.id = Str(j, "id");
    p.account_id = Str(j, "account_id");
    p.profile_name = Str(j, "profile_name");
    p.url = Str(j, "url");
    p.is_mandatory = Bool(j, "is_mandatory");
    p.is_mdm_removable = Bool(j, "is_mdm_removable");
    p.is_supervised = Bool(j, "is_supervised");
    p.await_device_configured = Bool(j, "await_device_configured");
    p.skip_setup_items = Strings(j, "skip_setup_items");
    p.support_phone_number = Str(j, "support_phone_number");
    p.support_email_address = Str(j, "support_email_address");
    p.department = Str(j, "department");
    p.org_magic = Str(j, "org_magic");
    p.language = Str(j, "language");
    p.region = Str(j, "region");
    p.allow_pairing = Bool(j, "allow_pairing");
    p.is_multi_user = Bool(j, "is_multi_user");
    p.auto_advance_setup = Bool(j, "auto_advance_setup");
    p.anchor_certs = Strings(j, "anchor_certs");
    p.supervising_host_certs = Strings(j, "supervising_host_certs");
    p.configuration_web_url = Str(j, "configuration_web_url");
    p.do_not_use_profile_from_backup = Bool(j, "do_not_use_profile_from_backup");
    p.profile_uuid = Str(j, "profile_uuid");
    p.state = Str(j, "state", "pending");
    if (const json* e = Object(j, "error")) {
      p.error = DepProfileError{Str(*e, "code"), Str(*e, "message")};
    }
    p.created_at = Str(j, "created_at");
    p.updated_at = Str(j, "updated_at");
    p.last_position = Str(j, "last_position");
  });
}

Result<DepProfileRecord> DepProfileRecord::Decode(std::string_view bytes) {
  return DecodeJson<DepProfileRecord>(bytes);
}

// ---- devices ----

// The JSON object with sorted keys, written directly: keys in nlohmann's (byte) order.
std::string DepDeviceRecord::Encode() const {
  std::string out;
  out.reserve(640);
  json_record::Writer w(out);
  w.Str("account_id", account_id)
      .Str("asset_tag", asset_tag)
      .Bool("assigned_to_server", assigned_to_server)
      .Str("color", color)
      .Str("created_at", created_at)
      .Str("description", description)
      .Str("device_assigned_by", device_assigned_by)
      .OptStr("device_assigned_date", device_assigned_date)
      .Str("device_family", device_family);
  if (disown) {
    w.Object("disown", [&](json_record::Writer& o) {
      o.Str("request_id", disown->request_id)
          .Str("requested_at", disown->requested_at)
          .Str("requested_by", disown->requested_by);
      if (disown->result) o.Str("result", *disown->result);
    });
  } else if (disown_null) {
    w.Null("disown");
  }
  w.Bool("disowned", disowned);
  if (enrolled_at) w.Str("enrolled_at", *enrolled_at);
  w.Str("enrollment", enrollment);
  if (last_assignment_error) {
    const DepAssignmentError& e = *last_assignment_error;
    w.Object("last_assignment_error", [&](json_record::Writer& o) {
      o.Str("at", e.at)
          .Str("profile_id", e.profile_id)
          .Str("reason", e.reason)
          .Str("request_id", e.request_id)
          .OptStr("retry_after", e.retry_after);
    });
  } else {
    w.Null("last_assignment_error");
  }
  if (last_enrollment_refusal) {
    w.Object("last_enrollment_refusal", [&](json_record::Writer& o) {
      o.Str("at", last_enrollment_refusal->at).Str("reason", last_enrollment_refusal->reason);
    });
  }
  w.Str("last_position", last_position)
      .Str("model", model)
      .Str("os", os)
      .Str("pending_request_id", pending_request_id)
      .Str("policy_id", policy_id)
      .OptStr("profile_assign_time", profile_assign_time)
      .Str("profile_id", profile_id)
      .OptStr("profile_push_time", profile_push_time)
      .Str("profile_status", profile_status)
      .Str("profile_uuid", profile_uuid);
  if (removal_request_id) w.Str("removal_request_id", *removal_request_id);
  if (requested_profile_uuid) w.Str("requested_profile_uuid", *requested_profile_uuid);
  w.Str("ruleset_id", ruleset_id)
      .Str("serial_number", serial_number)
      .Str("updated_at", updated_at)
      .Str("user_id", user_id);
  w.Close();
  return out;
}

// Read straight from the bytes (no json tree); absent and null keys keep the defaults.
Result<DepDeviceRecord> DepDeviceRecord::Decode(std::string_view bytes) {
  using json_record::Value;
  DepDeviceRecord d;
  AE_RETURN_IF_ERROR(json_record::ReadObject(bytes, kTable, [&](std::string_view k, const Value& v) {
    if (k == "serial_number") d.serial_number = v.Str();
    else if (k == "account_id") d.account_id = v.Str();
    else if (k == "model") d.model = v.Str();
    else if (k == "description") d.description = v.Str();
    else if (k == "color") d.color = v.Str();
    else if (k == "asset_tag") d.asset_tag = v.Str();
    else if (k == "os") d.os = v.Str();
    else if (k == "device_family") d.device_family = v.Str();
    else if (k == "device_assigned_date") d.device_assigned_date = v.OptStr();
    else if (k == "device_assigned_by") d.device_assigned_by = v.Str();
    else if (k == "profile_status") d.profile_status = v.Str("empty");
    else if (k == "profile_uuid") d.profile_uuid = v.Str();
    else if (k == "profile_id") d.profile_id = v.Str();
    else if (k == "profile_assign_time") d.profile_assign_time = v.OptStr();
    else if (k == "profile_push_time") d.profile_push_time = v.OptStr();
    else if (k == "user_id") d.user_id = v.Str();
    else if (k == "policy_id") d.policy_id = v.Str();
    else if (k == "ruleset_id") d.ruleset_id = v.Str();
    else if (k == "assigned_to_server") d.assigned_to_server = v.Bool();
    else if (k == "pending_request_id") d.pending_request_id = v.Str();
    else if (k == "last_assignment_error") {
      DepAssignmentError e;
      if (v.Fields([&](std::string_view ek, const Value& ev) {
            if (ek == "reason") e.reason = ev.Str();
            else if (ek == "request_id") e.request_id = ev.Str();
            else if (ek == "profile_id") e.profile_id = ev.Str();
            else if (ek == "retry_after") e.retry_after = ev.OptStr();
            else if (ek == "at") e.at = ev.Str();
          })) {
        d.last_assignment_error = std::move(e);
      } else {
        d.last_assignment_error.reset();
      }
    }
    else if (k == "enrollment") d.enrollment = v.Str("not_enrolled");
    else if (k == "disowned") d.disowned = v.Bool();
    else if (k == "created_at") d.created_at = v.Str();
    else if (k == "updated_at") d.updated_at = v.Str();
    else if (k == "last_position") d.last_position = v.Str();
    else if (k == "requested_profile_uuid") d.requested_profile_uuid = v.OptStr();
    else if (k == "removal_request_id") d.removal_request_id = v.OptStr();
    else if (k == "enrolled_at") d.enrolled_at = v.OptStr();
    else if (k == "last_enrollment_refusal") {
      DepEnrollmentRefusal r;
      if (v.Fields([&](std::string_view rk, const Value& rv) {
            if (rk == "reason") r.reason = rv.Str();
            else if (rk == "at") r.at = rv.Str();
          })) {
        d.last_enrollment_refusal = std::move(r);
      } else {
        d.last_enrollment_refusal.reset();
      }
    }
    else if (k == "disown") {
      DepDisownRecord o;
      if (v.Fields([&](std::string_view ok, const Value& ov) {
            if (ok == "request_id") o.request_id = ov.Str();
            else if (ok == "requested_by") o.requested_by = ov.Str();
            else if (ok == "requested_at") o.requested_at = ov.Str();
            else if (ok == "result") o.result = ov.OptStr();
          })) {
        d.disown = std::move(o);
        d.disown_null = false;
      } else {
        d.disown.reset();
        d.disown_null = true;
      }
    }
  }));
  return d;
}

// ---- counts ----

int64_t& DepCounts::Bucket(std::string_view status) {
  if (status == "assigned") return assigned;
  if (status == "pushed") return pushed;
  if (status == "removed") return removed;
  return empty;
}

json DepCounts::ToJson() const { return CountsFields(*this); }

// Keys in nlohmann's order.
std::string DepCountsRecord::Encode() const {
  std::string out;
  json_record::Writer w(out);
  w.Int("assigned", counts.assigned).Int("empty", counts.empty).Int("pushed", counts.pushed);
  w.Int("removed", counts.removed);
  if (seq) w.UInt("seq", *seq);
  w.Int("total", counts.total);
  w.Close();
  return out;
}

Result<DepCountsRecord> DepCountsRecord::Decode(std::string_view bytes) {
  DepCountsRecord c;
  AE_RETURN_IF_ERROR(
      json_record::ReadObject(bytes, kTable, [&](std::string_view k, const json_record::Value& v) {
        if (ReadCount(c.counts, k, v)) return;
        if (k == "seq") c.seq = v.OptUInt();
      }));
  return c;
}

// Keys in nlohmann's order.
std::string DepCountsChange::Encode() const {
  std::string out;
  json_record::Writer w(out);
  w.Int("assigned", counts.assigned).Int("empty", counts.empty).Str("position", position);
  w.Int("pushed", counts.pushed).Int("recorded_ms", recorded_ms).Int("removed", counts.removed);
  w.Int("total", counts.total);
  w.Close();
  return out;
}

Result<DepCountsChange> DepCountsChange::Decode(std::string_view bytes) {
  DepCountsChange c;
  AE_RETURN_IF_ERROR(
      json_record::ReadObject(bytes, kTable, [&](std::string_view k, const json_record::Value& v) {
        if (ReadCount(c.counts, k, v)) return;
        if (k == "position") c.position = v.Str();
        else if (k == "recorded_ms") c.recorded_ms = v.Int();
      }));
  return c;
}

// ---- retries ----

json DepRetryRecord::ToJson() const {
  return {{"due", OrNull(due)}, {"profile_id", profile_id}, {"profile_uuid", profile_uuid}};
}

std::string DepRetryRecord::Encode() const { return ToJson().dump(); }

Result<DepRetryRecord> DepRetryRecord::FromJson(const json& j) {
  return Read<DepRetryRecord>(kTable, j, [&](DepRetryRecord& r) {
    r.due = OptStr(j, "due");
    r.profile_id = Str(j, "profile_id");
    r.profile_uuid = Str(j, "profile_uuid");
  });
}

Result<DepRetryRecord> DepRetryRecord::Decode(std::string_view bytes) {
  return DecodeJson<DepRetryRecord>(bytes);
}

}  // namespace ae::proj
