#include "projections/json_record.h"

#include <google/protobuf/util/time_util.h>

#include "events/base/clock.h"

namespace ae::proj::json_record {

std::string When(const events::Envelope& e) {
  return FormatRfc3339(
      google::protobuf::util::TimeUtil::TimestampToMilliseconds(e.occurred_at()));
}

Result<nlohmann::json> Load(ViewBatch& b, const std::string& cf, const std::string& key) {
  AE_ASSIGN_OR_RETURN(auto raw, b.Get(cf, key));
  if (!raw) return nlohmann::json();
  nlohmann::json j = nlohmann::json::parse(*raw, nullptr, false);
  if (j.is_discarded()) return Corruption("view.corruption", cf + " record does not parse");
  return j;
}

}  // namespace ae::proj::json_record
