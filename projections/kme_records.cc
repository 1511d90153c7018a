#include "projections/kme_records.h"

#include "projections/json_record.h"
#include "projections/record_fields.h"

namespace ae::proj {

namespace {
using nlohmann::json;
using namespace record_fields;

void PutIfSet(json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}
}  // namespace

// ---- devices ----

std::vector<std::string> KmeDeviceRecord::MatchKeys() const {
  // The keys of domain::kme::MatchKeys (and of the CSV reader's DeviceIdentity::MatchKeys),
  // repeated here since projections depend on events only.
  std::vector<std::string> keys;
  for (const std::string* v : {&imei, &imei2}) {
    if (!v->empty()) keys.push_back("imei:" + v->substr(0, 14));
  }
  if (!meid.empty()) keys.push_back("meid:" + meid);
  if (!serial_number.empty()) keys.push_back("serial:" + serial_number);
  return keys;
}

// The JSON object with sorted keys, written directly: keys in nlohmann's (byte) order, empty
// ones absent.
std::string KmeDeviceRecord::Encode() const {
  std::string out;
  out.reserve(384);
  json_record::Writer w(out);
  auto put_if_set = [](json_record::Writer& o, std::string_view key, const std::string& v) {
    if (!v.empty()) o.Str(key, v);
  };
  if (!attributes.empty()) {
    w.Object("attributes", [&](json_record::Writer& o) {
      for (const auto& [k, v] : attributes) o.Str(k, v);
    });
  }
  w.Str("created_at", created_at);
  put_if_set(w, "enrolled_at", enrolled_at);
  put_if_set(w, "enrollment", enrollment);
  w.Str("id", id);
  put_if_set(w, "imei", imei);
  put_if_set(w, "imei2", imei2);
  put_if_set(w, "knox_status", knox_status);
  w.Str("last_position", last_position);
  put_if_set(w, "meid", meid);
  put_if_set(w, "model", model);
  put_if_set(w, "policy_id", policy_id);
  put_if_set(w, "profile_name", profile_name);
  put_if_set(w, "ruleset_id", ruleset_id);
  put_if_set(w, "serial_number", serial_number);
  w.Str("source", source);
  if (!tags.empty()) w.Strings("tags", tags);
  w.Str("updated_at", updated_at);
  if (user_by_deployment) w.Bool("user_by_deployment", true);
  if (user_conflict) {
    const KmeUserConflict& c = *user_conflict;
    w.Object("user_conflict", [&](json_record::Writer& o) {
      o.Str("at", c.at).Str("by", c.by).Str("deployment_user_id", c.deployment_user_id);
      put_if_set(o, "import_id", c.import_id);
      if (c.line > 0) o.UInt("line", c.line);
      o.Str("position", c.position).Str("user_id", c.user_id);
    });
  }
  put_if_set(w, "user_id", user_id);
  w.Close();
  return out;
}

// Read straight from the bytes (no json tree); absent and null keys keep the defaults.
Result<KmeDeviceRecord> KmeDeviceRecord::Decode(std::string_view bytes) {
  using json_record::Value;
  KmeDeviceRecord d;
  AE_RETURN_IF_ERROR(json_record::ReadObject(bytes, kTable, [&](std::string_view k, const Value& v) {
    if (k == "id") d.id = v.Str();
    else if (k == "imei") d.imei = v.Str();
    else if (k == "imei2") d.imei2 = v.Str();
    else if (k == "meid") d.meid = v.Str();
    else if (k == "serial_number") d.serial_number = v.Str();
    else if (k == "model") d.model = v.Str();
    else if (k == "profile_name") d.profile_name = v.Str();
    else if (k == "knox_status") d.knox_status = v.Str();
    else if (k == "tags") d.tags = v.Strings();
    else if (k == "attributes") {
      d.attributes.clear();
      v.Fields([&](std::string_view ak, const Value& av) { d.attributes[std::string(ak)] = av.String(); });
    }
    else if (k == "source") d.source = v.Str();
    else if (k == "user_id") d.user_id = v.Str();
    else if (k == "user_by_deployment") d.user_by_deployment = v.Bool();
    else if (k == "user_conflict") {
      KmeUserConflict c;
      if (v.Fields([&](std::string_view ck, const Value& cv) {
            if (ck == "at") c.at = cv.Str();
            else if (ck == "position") c.position = cv.Str();
            else if (ck == "deployment_user_id") c.deployment_user_id = cv.Str();
            else if (ck == "user_id") c.user_id = cv.Str();
            else if (ck == "by") c.by = cv.Str();
            else if (ck == "import_id") c.import_id = cv.Str();
            else if (ck == "line") c.line = cv.UInt();
          })) {
        d.user_conflict = std::move(c);
      } else {
        d.user_conflict.reset();
      }
    }
    else if (k == "policy_id") d.policy_id = v.Str();
    else if (k == "ruleset_id") d.ruleset_id = v.Str();
    else if (k == "enrollment") d.enrollment = v.Str();
    else if (k == "enrolled_at") d.enrolled_at = v.Str();
    else if (k == "created_at") d.created_at = v.Str();
    else if (k == "updated_at") d.updated_at = v.Str();
    else if (k == "last_position") d.last_position = v.Str();
  }));
  return d;
}

// ---- the enrollment token ----

json KmeEnrollmentTokenRecord::ToJson() const {
  return {{"token_sha256", token_sha256},
          {"secret_ref", secret_ref},
          {"rotated_at", rotated_at},
          {"last_position", last_position}};
}

std::string KmeEnrollmentTokenRecord::Encode() const { return ToJson().dump(); }

Result<KmeEnrollmentTokenRecord> KmeEnrollmentTokenRecord::FromJson(const json& j) {
  return ReadRecord<KmeEnrollmentTokenRecord>(kTable, j, [&](KmeEnrollmentTokenRecord& t) {
    t.token_sha256 = Str(j, "token_sha256");
    t.secret_ref = Str(j, "secret_ref");
    t.rotated_at = Str(j, "rotated_at");
    t.last_position = Str(j, "last_position");
  });
}

Result<KmeEnrollmentTokenRecord> KmeEnrollmentTokenRecord::Decode(std::string_view bytes) {
  return DecodeRecord<KmeEnrollmentTokenRecord>(bytes);
}

// ---- the Knox Cloud API connection ----

namespace {
json SyncErrorJson(const KmeKnoxSyncError& e) {
  json j = {{"code", e.code}, {"message", e.message}};
  PutIfSet(j, "knox_device_id", e.knox_device_id);
  if (e.line > 0) j["line"] = e.line;
  return j;
}
KmeKnoxSyncError ReadSyncError(const json& j) {
  return {Str(j, "code"), Str(j, "message"), Str(j, "knox_device_id"), Number<uint64_t>(j, "line")};
}
}  // namespace

json KmeKnoxLastSync::ToJson() const {
  json l = {{"sync_id", sync_id},
            {"at", at},
            {"started_at", started_at},
            {"full", full},
            {"devices_seen", devices_seen},
            {"events_written", events_written},
            {"created", created},
            {"updated", updated},
            {"unchanged", unchanged},
            {"rejected", rejected},
            {"users_matched", users_matched},
            {"uploads_approved", uploads_approved}};
  if (changed_after) l["changed_after"] = *changed_after;
  if (error) l["error"] = {{"code", error->code}, {"message", error->message}};
  if (!errors.empty()) {
    json errs = json::array();
    for (const auto& e : errors) errs.push_back(SyncErrorJson(e));
    l["errors"] = std::move(errs);
  }
  return l;
}

json KmeKnoxRecord::ToJson() const {
  if (!configured) {
    return {{"configured", false},
            {"disconnected_at", disconnected_at},
            {"last_position", last_position}};
  }
  json j = {{"configured", true},
            {"connection_id", connection_id},
            {"base_url", base_url},
            {"token_url", token_url},
            {"client_id", client_id},
            {"customer_id", customer_id},
            {"auto_approve_uploads", auto_approve_uploads},
            {"client_secret_ref", client_secret_ref},
            {"client_secret_sha256", client_secret_sha256},
            {"connected_at", connected_at},
            {"state", state},
            {"last_position", last_position}};
  if (last_sync) j["last_sync"] = last_sync->ToJson();
  if (last_success_at) j["last_success_at"] = *last_success_at;
  return j;
}

std::string KmeKnoxRecord::Encode() const { return ToJson().dump(); }

Result<KmeKnoxRecord> KmeKnoxRecord::FromJson(const json& j) {
  return ReadRecord<KmeKnoxRecord>(kTable, j, [&](KmeKnoxRecord& k) {
    k.configured = Bool(j, "configured");
    k.connection_id = Str(j, "connection_id");
    k.base_url = Str(j, "base_url");
    k.token_url = Str(j, "token_url");
    k.client_id = Str(j, "client_id");
    k.customer_id = Str(j, "customer_id");
    k.auto_approve_uploads = Bool(j, "auto_approve_uploads");
    k.client_secret_ref = Str(j, "client_secret_ref");
    k.client_secret_sha256 = Str(j, "client_secret_sha256");
    k.connected_at = Str(j, "connected_at");
    k.state = Str(j, "state");
    if (const json* l = Object(j, "last_sync")) {
      KmeKnoxLastSync s;
      s.sync_id = Str(*l, "sync_id");
      s.at = Str(*l, "at");
      s.started_at = Str(*l, "started_at");
      s.full = Bool(*l, "full");
      s.changed_after = OptStr(*l, "changed_after");
      s.devices_seen = Number<uint64_t>(*l, "devices_seen");
      s.events_written = Number<uint64_t>(*l, "events_written");
      s.created = Number<uint64_t>(*l, "created");
      s.updated = Number<uint64_t>(*l, "updated");
      s.unchanged = Number<uint64_t>(*l, "unchanged");
      s.rejected = Number<uint64_t>(*l, "rejected");
      s.users_matched = Number<uint64_t>(*l, "users_matched");
      s.uploads_approved = Number<uint64_t>(*l, "uploads_approved");
      if (const json* e = Object(*l, "error")) s.error = ReadSyncError(*e);
      if (const json* errs = Array(*l, "errors")) {
        for (const auto& e : *errs) {
          (void)e.get_ref<const json::object_t&>();
          s.errors.push_back(ReadSyncError(e));
        }
      }
      k.last_sync = std::move(s);
    }
    k.last_success_at = OptStr(j, "last_success_at");
    k.disconnected_at = Str(j, "disconnected_at");
    k.last_position = Str(j, "last_position");
  });
}

Result<KmeKnoxRecord> KmeKnoxRecord::Decode(std::string_view bytes) {
  return DecodeRecord<KmeKnoxRecord>(bytes);
}

}  // namespace ae::proj
