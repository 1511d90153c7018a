#pragma once
// EnrollmentsProjector: one record per DEP or KME device (the Auto Enrollments list),
// its secondary indexes, and the findings of the reconciliation report.
//
// Tables:
//   enrollments          device key -> EnrollmentRecord (EncodeEnrollment: its fields in a
//                        fixed order, varint lengths). The device key is "dep/<serial>" or
//                        "kme/<device id>".
//   enrollments_by_source, _by_status, _by_user, _by_policy, _by_ruleset
//                        <value> NUL <device key> -> "" (user, policy, rule set: ids, only
//                        when set; status: EnrollmentStatus)
//   enrollments_search   <term> NUL <device key> -> "": the upper-cased serial number,
//                        IMEI, IMEI2, MEID and model of the device (q is a prefix of one)
//   enrollments_counts   <index family> NUL <value> -> decimal count (the planner's sizes)
//   enrollment_inventory inventory device id -> device key ("" when it has no record)
//   enrollment_accounts  DEP account id -> EnrollmentAccountRecord (its creation and its
//                        last token; reconciliation_records.h)
//   reconciliation       <kind> NUL <subject> -> ReconciliationFinding (kind, device,
//                        source, since_ms, the evidence positions, and what the kind adds;
//                        reconciliation_records.h); the subject is the device key but for
//                        inventory_without_record (the inventory device id), and that of
//                        dep_assigned_not_enrolled starts with the 8-byte big-endian time
//                        the device became assigned and NUL, so the report reads only the
//                        old ones.
// The views hold ids (user, policy, rule set), never names or e-mails.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "projections/projector.h"

namespace ae::proj {

// One device of the Auto Enrollments list.
struct EnrollmentRecord {
  std::string source;              // dep | kme
  std::string id;                  // the serial number (dep) or the KME device id
  std::string serial_number, imei, imei2, meid, model;
  std::string account_id;          // dep: the DEP account
  std::string profile_status;      // dep: empty | assigned | pushed | removed
  std::string user_id, policy_id, ruleset_id;
  bool released = false;           // dep: unassigned from this server or disowned at Apple
  bool disowned = false;
  bool enrolled = false;           // enrolled now (not checked out, not removed)
  bool in_inventory = false;       // in the inventory of enrolled devices
  bool ever_enrolled = false;
  int64_t assigned_since_ms = 0;   // dep: when the profile became assigned (0: not assigned)
  std::string assigned_position;
  int64_t released_ms = 0;
  std::string released_position;
  int64_t enrolled_ms = 0;
  std::string enrolled_position;
  int64_t user_since_ms = 0;       // when the user (or its absence) was last set
  std::string user_position;
  std::vector<std::string> failure_positions;  // dep: failed assignments since the last success
  int64_t failing_since_ms = 0;
  int64_t retry_after_ms = 0;
  std::string failure_reason;
  std::string last_position;       // the last event that changed the record
  int64_t last_ms = 0;

  std::string Key() const { return source + "/" + id; }
};

// The one encoding of an EnrollmentRecord in the views (deterministic: a replay writes the
// same bytes); DecodeEnrollment refuses anything else (kCorruption "view.corruption").
std::string EncodeEnrollment(const EnrollmentRecord& r);
Result<EnrollmentRecord> DecodeEnrollment(std::string_view bytes);
// not_enrolled | enrolled | checked_out | removed | released.
std::string EnrollmentStatus(const EnrollmentRecord& r);
// The search terms of a record (upper-cased serial number, IMEI, IMEI2, MEID, model).
std::vector<std::string> EnrollmentSearchTerms(const EnrollmentRecord& r);
// Upper-cases ASCII letters: the form of search terms and of q.
std::string SearchForm(std::string_view s);

class EnrollmentsProjector : public Projector {
 public:
  std::string name() const override { return "enrollments"; }
  std::vector<std::string> column_families() const override;
  // A new device's record and its orphan finding ("inventory_without_record").
  std::vector<std::string> point_read_families() const override;
  Status Apply(const RecordedEvent& record, ViewBatch& batch) override;
};

// ---- the list ----

struct EnrollmentFilter {
  std::string source, status, user_id, policy_id, ruleset_id;  // "" = any
  std::string q;                                               // SearchForm'ed prefix
};

struct EnrollmentPage {
  std::vector<EnrollmentRecord> items;
  std::string next_cursor;  // "" = the end
  std::string driver;       // the index walked (for tests and the bench)
};

// A page of the list. The filter walks its smallest index (by enrollments_counts; q by a
// bounded probe of the search index) and checks the other equality filters by seeking their
// indexes to each candidate (a leapfrog intersection). The cursor is opaque: the index walked
// and the last key returned, so devices that do not change are neither skipped nor repeated
// while others change. At most `budget` index keys are examined per page: a page may then be
// short while next_cursor is set. kInvalidArgument "request.bad_cursor" (field cursor) for a
// cursor this filter did not make.
Result<EnrollmentPage> ListEnrollments(const ViewStore& store, const EnrollmentFilter& filter,
                                       const std::string& cursor, size_t limit,
                                       size_t budget = 100000);

}  // namespace ae::proj
