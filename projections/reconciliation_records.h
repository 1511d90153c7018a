#pragma once
// The JSON records of the enrollments view (EnrollmentsProjector writes them, the
// reconciliation report reads them): the findings and the DEP accounts, one type per table,
// with its one encoding. A record is a JSON object with sorted keys, so a replay writes the
// same bytes; Encode gives exactly those bytes, and Decode reads them back (kCorruption
// "view.corruption" for anything else). Times are milliseconds since the epoch. The
// enrollments table itself holds EnrollmentRecord in a binary encoding of its own
// (enrollments_projector.h).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "projections/view_store.h"

namespace ae::proj {

// ---- reconciliation: <kind> NUL <subject> -> ReconciliationFinding ----

// What is out of order about one device, with the positions of the events that prove it.
// The optional members belong to one kind each; their keys are absent for the others.
struct ReconciliationFinding {
  static constexpr const char* kTable = "reconciliation";

  // dep_assigned_not_enrolled | dep_released_in_inventory | kme_without_user |
  // dep_assignment_failing | inventory_without_record
  std::string kind;
  std::string device;  // the serial number, KME device id or inventory device id
  std::string source;  // dep | kme; "" (absent) for an inventory device of neither
  int64_t since_ms = 0;
  std::vector<std::string> evidence;  // log positions
  std::optional<std::string> profile_status;  // dep_assigned_not_enrolled
  std::optional<bool> disowned;               // dep_released_in_inventory
  std::optional<std::string> reason;          // dep_assignment_failing
  std::optional<int64_t> retry_after_ms;      // dep_assignment_failing (0: none given)

  std::string Encode() const;
  static Result<ReconciliationFinding> Decode(std::string_view bytes);
};

// ---- enrollment_accounts: DEP account id -> EnrollmentAccountRecord ----

// The DEP account's last token upload (DepTokenUploaded).
struct EnrollmentAccountToken {
  int64_t expiry_ms = 0;  // the access token's expiry (0: none given)
  int64_t at_ms = 0;      // when it was uploaded
  std::string position;
};

// A DEP account as the report needs it: its creation and its token (absent until one is
// uploaded; a new creation drops it).
struct EnrollmentAccountRecord {
  static constexpr const char* kTable = "enrollment_accounts";

  std::string id, name;
  std::string created_position;
  int64_t created_ms = 0;
  std::optional<EnrollmentAccountToken> token;

  nlohmann::json ToJson() const;
  std::string Encode() const;
  static Result<EnrollmentAccountRecord> FromJson(const nlohmann::json& j);
  static Result<EnrollmentAccountRecord> Decode(std::string_view bytes);
};

// The record `key` of Record's table (std::nullopt when there is none), read from the
// views or through a batch (its own writes first).
template <typename Record, typename Views>
Result<std::optional<Record>> ReadReconciliationRecord(Views& views, const std::string& key) {
  AE_ASSIGN_OR_RETURN(auto raw, views.Get(Record::kTable, key));
  if (!raw) return std::optional<Record>();
  AE_ASSIGN_OR_RETURN(Record r, Record::Decode(*raw));
  return std::optional<Record>(std::move(r));
}

}  // namespace ae::proj
