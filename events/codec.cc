#include "events/codec.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "events/base/clock.h"
#include "events/base/crypto.h"

namespace ae::events {

std::string PayloadType(const Envelope& env) {
  const auto* oneof = Envelope::descriptor()->FindOneofByName("payload");
  const auto* field = env.GetReflection()->GetOneofFieldDescriptor(env, oneof);
  if (!field) return "";
  return field->message_type()->name();
}

nlohmann::json RecordToJson(const RecordedEvent& record) {
  using google::protobuf::util::TimeUtil;
  const Envelope& env = record.envelope;
  nlohmann::json j;
  j["position"] = record.position.ToString();
  j["event_id"] = env.event_id();
  j["stream"] = env.stream();
  j["stream_version"] = env.stream_version();
  j["occurred_at"] = FormatRfc3339(TimeUtil::TimestampToMilliseconds(env.occurred_at()));
  j["recorded_at"] = FormatRfc3339(TimeUtil::TimestampToMilliseconds(env.recorded_at()));
  std::string kind = autoenroll::events::v1::Actor::Kind_Name(env.actor().kind());
  j["actor"] = {{"kind", kind}, {"id", env.actor().id()}};
  j["correlation_id"] = env.correlation_id();
  j["causation_id"] = env.causation_id();
  j["schema_version"] = env.schema_version();
  j["prev_hash"] = crypto::Hex(env.prev_hash());
  j["type"] = PayloadType(env);
  const auto* oneof = Envelope::descriptor()->FindOneofByName("payload");
  const auto* field = env.GetReflection()->GetOneofFieldDescriptor(env, oneof);
  if (field) {
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = true;
    opts.always_print_primitive_fields = false;
    std::string out;
    const auto& msg = env.GetReflection()->GetMessage(env, field);
    if (google::protobuf::util::MessageToJsonString(msg, &out, opts).ok()) {
      j["data"] = nlohmann::json::parse(out, nullptr, false);
    }
    // The unsalted SHA-256 that tokens issued before keyed hashes carry is never shown.
    if (env.has_user_token_issued() && j["data"].is_object()) j["data"].erase("token_sha256");
  } else {
    j["data"] = nlohmann::json::object();
  }
  return j;
}

}  // namespace ae::events
