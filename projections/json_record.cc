#include "projections/json_record.h"

#include <google/protobuf/util/time_util.h>

#include "events/base/clock.h"

namespace ae::proj::json_record {

std::string When(const events::Envelope& e) {
  return FormatRfc3339(
      google::protobuf::util::TimeUtil::TimestampToMilliseconds(e.occurred_at()));
}

}  // namespace ae::proj::json_record
