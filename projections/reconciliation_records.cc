#include "projections/reconciliation_records.h"

#include "projections/json_record.h"
#include "projections/record_fields.h"

namespace ae::proj {

namespace {
using nlohmann::json;
using namespace record_fields;

bool Has(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && !it->is_null();
}
}  // namespace

// ---- findings ----

// Written directly, in the keys' byte order (the bytes nlohmann's dump of the finding gave).
std::string ReconciliationFinding::Encode() const {
  std::string out;
  out.reserve(160);
  json_record::Writer w(out);
  w.Str("device", device);
  if (disowned) w.Bool("disowned", *disowned);
  w.Strings("evidence", evidence).Str("kind", kind);
  if (profile_status) w.Str("profile_status", *profile_status);
  if (reason) w.Str("reason", *reason);
  if (retry_after_ms) w.Int("retry_after_ms", *retry_after_ms);
  w.Int("since_ms", since_ms);
  if (!source.empty()) w.Str("source", source);
  w.Close();
  return out;
}

Result<ReconciliationFinding> ReconciliationFinding::Decode(std::string_view bytes) {
  ReconciliationFinding f;
  AE_RETURN_IF_ERROR(json_record::ReadObject(
      bytes, kTable, [&f](std::string_view key, const json_record::Value& v) {
        if (key == "kind") f.kind = v.Str();
        else if (key == "device") f.device = v.Str();
        else if (key == "source") f.source = v.Str();
        else if (key == "since_ms") f.since_ms = v.Int();
        else if (key == "evidence") f.evidence = v.Strings();
        else if (key == "profile_status") f.profile_status = v.OptStr();
        else if (key == "disowned") f.disowned = v.IsNull() ? std::nullopt : std::optional(v.Bool());
        else if (key == "reason") f.reason = v.OptStr();
        else if (key == "retry_after_ms") {
          f.retry_after_ms = v.IsNull() ? std::nullopt : std::optional(v.Int());
        }
      }));
  return f;
}

// ---- DEP accounts ----

json EnrollmentAccountRecord::ToJson() const {
  json j = {{"id", id},
            {"name", name},
            {"created_position", created_position},
            {"created_ms", created_ms}};
  if (token) {
    j["token_expiry_ms"] = token->expiry_ms;
    j["token_position"] = token->position;
    j["token_ms"] = token->at_ms;
  }
  return j;
}

std::string EnrollmentAccountRecord::Encode() const { return ToJson().dump(); }

Result<EnrollmentAccountRecord> EnrollmentAccountRecord::FromJson(const json& j) {
  return ReadRecord<EnrollmentAccountRecord>(kTable, j, [&](EnrollmentAccountRecord& a) {
    a.id = Str(j, "id");
    a.name = Str(j, "name");
    a.created_position = Str(j, "created_position");
    a.created_ms = Number<int64_t>(j, "created_ms");
    if (Has(j, "token_expiry_ms") || Has(j, "token_position") || Has(j, "token_ms")) {
      a.token = EnrollmentAccountToken{Number<int64_t>(j, "token_expiry_ms"),
                                       Number<int64_t>(j, "token_ms"),
                                       Str(j, "token_position")};
    }
  });
}

Result<EnrollmentAccountRecord> EnrollmentAccountRecord::Decode(std::string_view bytes) {
  return DecodeRecord<EnrollmentAccountRecord>(bytes);
}

}  // namespace ae::proj
