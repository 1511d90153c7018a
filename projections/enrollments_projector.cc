#include "projections/enrollments_projector.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "events/base/crypto.h"
#include "projections/reconciliation_records.h"

namespace ae::proj {

namespace {
using google::protobuf::util::TimeUtil;
namespace pb = autoenroll::events::v1;

constexpr const char* kRecords = "enrollments";
constexpr const char* kBySource = "enrollments_by_source";
constexpr const char* kByStatus = "enrollments_by_status";
constexpr const char* kByUser = "enrollments_by_user";
constexpr const char* kByPolicy = "enrollments_by_policy";
constexpr const char* kByRuleSet = "enrollments_by_ruleset";
constexpr const char* kSearch = "enrollments_search";
constexpr const char* kCounts = "enrollments_counts";
constexpr const char* kInventory = "enrollment_inventory";
constexpr const char* kAccounts = EnrollmentAccountRecord::kTable;
constexpr const char* kFindings = ReconciliationFinding::kTable;
constexpr size_t kMaxFailurePositions = 10;

int64_t Ms(const events::Envelope& e) { return TimeUtil::TimestampToMilliseconds(e.occurred_at()); }

std::string StreamKey(const events::Envelope& e, std::string_view prefix) {
  if (e.stream().size() <= prefix.size() || e.stream().compare(0, prefix.size(), prefix) != 0) {
    return "";
  }
  return e.stream().substr(prefix.size());
}

std::string ProfileStatusName(pb::DepProfileStatus s) {
  switch (s) {
    case pb::DEP_PROFILE_STATUS_ASSIGNED: return "assigned";
    case pb::DEP_PROFILE_STATUS_PUSHED: return "pushed";
    case pb::DEP_PROFILE_STATUS_REMOVED: return "removed";
    default: return "empty";
  }
}

std::string BigEndian(uint64_t v) {
  std::string k;
  for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>((v >> shift) & 0xff));
  return k;
}

std::string IndexKey(std::string_view value, std::string_view device_key) {
  std::string k(value);
  k.push_back('\0');
  k.append(device_key);
  return k;
}

// ---- the record's derived rows: index entries and findings ----

using Rows = std::map<std::pair<std::string, std::string>, std::string>;  // (cf, key) -> value

void IndexRows(const EnrollmentRecord& r, Rows& rows) {
  const std::string key = r.Key();
  rows[{kBySource, IndexKey(r.source, key)}] = "";
  rows[{kByStatus, IndexKey(EnrollmentStatus(r), key)}] = "";
  if (!r.user_id.empty()) rows[{kByUser, IndexKey(r.user_id, key)}] = "";
  if (!r.policy_id.empty()) rows[{kByPolicy, IndexKey(r.policy_id, key)}] = "";
  if (!r.ruleset_id.empty()) rows[{kByRuleSet, IndexKey(r.ruleset_id, key)}] = "";
  for (const auto& t : EnrollmentSearchTerms(r)) rows[{kSearch, IndexKey(t, key)}] = "";
}

// The positions given, but the empty ones.
std::vector<std::string> Evidence(std::initializer_list<std::string> positions) {
  std::vector<std::string> out;
  for (const auto& p : positions) {
    if (!p.empty()) out.push_back(p);
  }
  return out;
}

ReconciliationFinding Finding(const EnrollmentRecord& r, const char* kind, int64_t since_ms,
                              std::vector<std::string> evidence) {
  ReconciliationFinding f;
  f.kind = kind;
  f.device = r.id;
  f.source = r.source;
  f.since_ms = since_ms;
  f.evidence = std::move(evidence);
  return f;
}

void FindingRows(const EnrollmentRecord& r, Rows& rows) {
  const std::string key = r.Key();
  if (r.source == "dep" && r.assigned_since_ms > 0 && !r.released && !r.ever_enrolled) {
    ReconciliationFinding f = Finding(r, "dep_assigned_not_enrolled", r.assigned_since_ms,
                                      Evidence({r.assigned_position}));
    f.profile_status = r.profile_status;
    rows[{kFindings, IndexKey("dep_assigned_not_enrolled",
                              BigEndian(static_cast<uint64_t>(r.assigned_since_ms)) + '\0' + key)}] =
        f.Encode();
  }
  if (r.released && r.in_inventory) {
    ReconciliationFinding f = Finding(r, "dep_released_in_inventory", r.released_ms,
                                      Evidence({r.enrolled_position, r.released_position}));
    f.disowned = r.disowned;
    rows[{kFindings, IndexKey("dep_released_in_inventory", key)}] = f.Encode();
  }
  if (r.source == "kme" && r.user_id.empty()) {
    rows[{kFindings, IndexKey("kme_without_user", key)}] =
        Finding(r, "kme_without_user", r.user_since_ms, Evidence({r.user_position})).Encode();
  }
  if (!r.failure_positions.empty()) {
    ReconciliationFinding f =
        Finding(r, "dep_assignment_failing", r.failing_since_ms, r.failure_positions);
    f.reason = r.failure_reason;
    f.retry_after_ms = r.retry_after_ms;
    rows[{kFindings, IndexKey("dep_assignment_failing", key)}] = f.Encode();
  }
}

Rows DerivedRows(const std::optional<EnrollmentRecord>& r) {
  Rows rows;
  if (!r) return rows;
  IndexRows(*r, rows);
  FindingRows(*r, rows);
  return rows;
}

Status AddCount(ViewBatch& b, const std::string& cf, std::string_view index_key, int64_t delta) {
  const auto nul = index_key.find('\0');
  std::string key = cf + '\0' + std::string(index_key.substr(0, nul));
  AE_ASSIGN_OR_RETURN(auto raw, b.Get(kCounts, key));
  int64_t n = raw ? std::strtoll(raw->c_str(), nullptr, 10) : 0;
  n += delta;
  if (n <= 0) {
    b.Delete(kCounts, key);
  } else {
    b.Put(kCounts, key, std::to_string(n));
  }
  return Status::Ok();
}

bool Counted(const std::string& cf) { return cf != kSearch && cf != kFindings; }

// Writes `after`, and moves its index entries and findings from what `before` had.
Status Store(ViewBatch& b, const std::optional<EnrollmentRecord>& before,
             const EnrollmentRecord& after) {
  const Rows old_rows = DerivedRows(before);
  const Rows new_rows = DerivedRows(after);
  for (const auto& [k, v] : old_rows) {
    if (new_rows.count(k)) continue;
    b.Delete(k.first, k.second);
    if (Counted(k.first)) AE_RETURN_IF_ERROR(AddCount(b, k.first, k.second, -1));
  }
  for (const auto& [k, v] : new_rows) {
    auto it = old_rows.find(k);
    if (it != old_rows.end() && it->second == v) continue;
    b.Put(k.first, k.second, v);
    if (it == old_rows.end() && Counted(k.first)) {
      AE_RETURN_IF_ERROR(AddCount(b, k.first, k.second, +1));
    }
  }
  b.Put(kRecords, after.Key(), EncodeEnrollment(after));
  return Status::Ok();
}

Result<std::optional<EnrollmentRecord>> Load(ViewBatch& b, const std::string& key) {
  AE_ASSIGN_OR_RETURN(auto raw, b.Get(kRecords, key));
  if (!raw) return std::optional<EnrollmentRecord>();
  AE_ASSIGN_OR_RETURN(EnrollmentRecord r, DecodeEnrollment(*raw));
  return std::optional<EnrollmentRecord>(std::move(r));
}

// The inventory device without a DEP/KME record.
std::string OrphanKey(const std::string& inventory_id) {
  return IndexKey("inventory_without_record", inventory_id);
}

// Applies fn to the record `source`/`id` (created when `create`), then stores it.
Status Update(ViewBatch& b, const RecordedEvent& rec, const std::string& source,
              const std::string& id, bool create,
              const std::function<void(EnrollmentRecord&)>& fn) {
  if (id.empty()) return Status::Ok();
  const std::string key = source + "/" + id;
  AE_ASSIGN_OR_RETURN(auto before, Load(b, key));
  EnrollmentRecord r;
  if (before) {
    r = *before;
  } else {
    if (!create) return Status::Ok();
    r.source = source;
    r.id = id;
    if (source == "dep") r.profile_status = "empty";
    r.user_since_ms = Ms(rec.envelope);
    r.user_position = rec.position.ToString();
    // An inventory device that was enrolled before its record existed gets it now.
    AE_ASSIGN_OR_RETURN(auto orphan, b.Get(kFindings, OrphanKey(id)));
    if (orphan) {
      b.Delete(kFindings, OrphanKey(id));
      b.Put(kInventory, id, key);
      r.enrolled = r.in_inventory = r.ever_enrolled = true;
      // The enrollment's time and position, when the finding tells them.
      auto f = ReconciliationFinding::Decode(*orphan);
      if (f.ok()) {
        r.enrolled_ms = f->since_ms;
        if (!f->evidence.empty()) r.enrolled_position = f->evidence[0];
      }
    }
  }
  fn(r);
  r.last_position = rec.position.ToString();
  r.last_ms = Ms(rec.envelope);
  return Store(b, before, r);
}

void ClearFailures(EnrollmentRecord& r) {
  r.failure_positions.clear();
  r.failing_since_ms = 0;
  r.retry_after_ms = 0;
  r.failure_reason.clear();
}

void SetAssigned(EnrollmentRecord& r, const std::string& status, const RecordedEvent& rec) {
  const bool was = r.profile_status == "assigned" || r.profile_status == "pushed";
  r.profile_status = status;
  const bool is = status == "assigned" || status == "pushed";
  if (is && (!was || r.assigned_since_ms == 0)) {
    r.assigned_since_ms = Ms(rec.envelope);
    r.assigned_position = rec.position.ToString();
  } else if (!is) {
    r.assigned_since_ms = 0;
    r.assigned_position.clear();
  }
  if (is) ClearFailures(r);
}

template <typename Ids>
void SetIdentifiers(EnrollmentRecord& r, const Ids& ids) {
  r.imei = ids.imei();
  r.imei2 = ids.imei2();
  r.meid = ids.meid();
  r.serial_number = ids.serial_number();
}

// The device key an inventory device's record has ("" when none is known).
Result<std::string> InventoryRecordKey(ViewBatch& b, const std::string& inventory_id) {
  AE_ASSIGN_OR_RETURN(auto raw, b.Get(kInventory, inventory_id));
  return raw ? *raw : std::string();
}

Status ApplyInventory(const RecordedEvent& rec, ViewBatch& b, const std::string& inventory_id) {
  const events::Envelope& e = rec.envelope;
  switch (e.payload_case()) {
    case events::Envelope::kDeviceEnrolled: {
      const auto& p = e.device_enrolled();
      std::string source, id;
      if (p.platform() == pb::PLATFORM_APPLE) {
        source = "dep";
        id = p.serial_number().empty() ? inventory_id : p.serial_number();
      } else if (p.platform() == pb::PLATFORM_ANDROID) {
        source = "kme";
        id = p.device_id().empty() ? inventory_id : p.device_id();
      }
      std::optional<EnrollmentRecord> existing;
      if (!source.empty()) {
        AE_ASSIGN_OR_RETURN(existing, Load(b, source + "/" + id));
      }
      if (!existing) {
        // In the inventory without a DEP/KME record.
        ReconciliationFinding f;
        f.kind = "inventory_without_record";
        f.device = inventory_id;
        f.source = source;
        f.since_ms = Ms(e);
        f.evidence = Evidence({rec.position.ToString()});
        b.Put(kFindings, OrphanKey(inventory_id), f.Encode());
        b.Put(kInventory, inventory_id, "");
        return Status::Ok();
      }
      b.Delete(kFindings, OrphanKey(inventory_id));
      b.Put(kInventory, inventory_id, existing->Key());
      return Update(b, rec, source, id, false, [&](EnrollmentRecord& r) {
        r.enrolled = r.in_inventory = r.ever_enrolled = true;
        r.enrolled_ms = Ms(e);
        r.enrolled_position = rec.position.ToString();
      });
    }
    case events::Envelope::kDeviceCheckedOut:
    case events::Envelope::kDeviceRemovedFromInventory: {
      AE_ASSIGN_OR_RETURN(std::string key, InventoryRecordKey(b, inventory_id));
      const bool removed = e.has_device_removed_from_inventory();
      if (removed) {
        b.Delete(kInventory, inventory_id);
        b.Delete(kFindings, OrphanKey(inventory_id));
      }
      const auto slash = key.find('/');
      if (slash == std::string::npos) return Status::Ok();
      return Update(b, rec, key.substr(0, slash), key.substr(slash + 1), false,
                    [&](EnrollmentRecord& r) {
        r.enrolled = false;
        if (removed) r.in_inventory = false;
      });
    }
    default:
      return Status::Ok();
  }
}

Status ApplyAssignment(const RecordedEvent& rec, ViewBatch& b, const std::string& source,
                       const std::string& id) {
  const events::Envelope& e = rec.envelope;
  return Update(b, rec, source, id, false, [&](EnrollmentRecord& r) {
    if (e.has_device_user_assigned()) {
      if (r.user_id != e.device_user_assigned().user_id()) {
        r.user_id = e.device_user_assigned().user_id();
        r.user_since_ms = Ms(e);
        r.user_position = rec.position.ToString();
      }
    } else if (e.has_device_policy_assigned()) {
      r.policy_id = e.device_policy_assigned().policy_id();
    } else if (e.has_device_ruleset_assigned()) {
      r.ruleset_id = e.device_ruleset_assigned().ruleset_id();
    }
  });
}

Status ApplyDep(const RecordedEvent& rec, ViewBatch& b, const std::string& serial) {
  const events::Envelope& e = rec.envelope;
  switch (e.payload_case()) {
    case events::Envelope::kDepDeviceSynced: {
      const auto& p = e.dep_device_synced();
      return Update(b, rec, "dep", p.serial_number(), true, [&](EnrollmentRecord& r) {
        r.serial_number = p.serial_number();
        r.account_id = p.account_id();
        r.model = p.model();
        r.released = false;
        r.disowned = false;
        r.released_ms = 0;
        r.released_position.clear();
      });
    }
    case events::Envelope::kDepProfileStatusChanged: {
      const auto& p = e.dep_profile_status_changed();
      return Update(b, rec, "dep", p.serial_number(), true, [&](EnrollmentRecord& r) {
        if (r.serial_number.empty()) r.serial_number = p.serial_number();
        SetAssigned(r, ProfileStatusName(p.status()), rec);
      });
    }
    case events::Envelope::kDepProfileAssigned:
      return Update(b, rec, "dep", serial, false,
                    [&](EnrollmentRecord& r) { SetAssigned(r, "assigned", rec); });
    case events::Envelope::kDepProfileAssignmentFailed: {
      const auto& p = e.dep_profile_assignment_failed();
      return Update(b, rec, "dep", serial, false, [&](EnrollmentRecord& r) {
        if (r.failure_positions.empty()) r.failing_since_ms = Ms(e);
        r.failure_positions.push_back(rec.position.ToString());
        if (r.failure_positions.size() > kMaxFailurePositions) {
          r.failure_positions.erase(r.failure_positions.begin());
        }
        r.failure_reason = p.reason();
        r.retry_after_ms =
            p.has_retry_after() ? TimeUtil::TimestampToMilliseconds(p.retry_after()) : 0;
      });
    }
    case events::Envelope::kDepProfileRemoved:
      return Update(b, rec, "dep", serial, false, [&](EnrollmentRecord& r) {
        SetAssigned(r, "removed", rec);
        ClearFailures(r);
      });
    case events::Envelope::kDepDeviceUnassigned:
    case events::Envelope::kDepDeviceDisowned:
      return Update(b, rec, "dep", serial, false, [&](EnrollmentRecord& r) {
        if (!r.released) {
          r.released_ms = Ms(e);
          r.released_position = rec.position.ToString();
        }
        r.released = true;
        if (e.has_dep_device_disowned()) r.disowned = true;
      });
    case events::Envelope::kDeviceUserAssigned:
    case events::Envelope::kDevicePolicyAssigned:
    case events::Envelope::kDeviceRulesetAssigned:
      return ApplyAssignment(rec, b, "dep", serial);
    default:
      return Status::Ok();
  }
}

Status ApplyKme(const RecordedEvent& rec, ViewBatch& b, const std::string& id) {
  const events::Envelope& e = rec.envelope;
  switch (e.payload_case()) {
    case events::Envelope::kKmeDeviceImported: {
      const auto& p = e.kme_device_imported();
      return Update(b, rec, "kme", id, true, [&](EnrollmentRecord& r) {
        SetIdentifiers(r, p.identifiers());
        r.model = p.model();
        if (r.user_id != p.matched_user_id()) {
          r.user_id = p.matched_user_id();
          r.user_since_ms = Ms(e);
          r.user_position = rec.position.ToString();
        }
      });
    }
    case events::Envelope::kKmeDeviceUpdated: {
      const auto& p = e.kme_device_updated();
      return Update(b, rec, "kme", id, false, [&](EnrollmentRecord& r) {
        SetIdentifiers(r, p.identifiers());
        r.model = p.model();
      });
    }
    case events::Envelope::kDeviceUserAssigned:
    case events::Envelope::kDevicePolicyAssigned:
    case events::Envelope::kDeviceRulesetAssigned:
      return ApplyAssignment(rec, b, "kme", id);
    default:
      return Status::Ok();
  }
}

Status ApplyAccount(const RecordedEvent& rec, ViewBatch& b, const std::string& account_id) {
  const events::Envelope& e = rec.envelope;
  if (!e.has_dep_account_created() && !e.has_dep_token_uploaded()) return Status::Ok();
  AE_ASSIGN_OR_RETURN(auto a, ReadReconciliationRecord<EnrollmentAccountRecord>(b, account_id));
  if (e.has_dep_account_created()) {
    a = EnrollmentAccountRecord{account_id, e.dep_account_created().name(),
                                rec.position.ToString(), Ms(e), std::nullopt};
  } else {
    if (!a) return Status::Ok();  // a token before its account
    const auto& p = e.dep_token_uploaded();
    a->token = EnrollmentAccountToken{
        p.has_access_token_expiry() ? TimeUtil::TimestampToMilliseconds(p.access_token_expiry())
                                    : 0,
        Ms(e), rec.position.ToString()};
  }
  b.Put(kAccounts, account_id, a->Encode());
  return Status::Ok();
}

}  // namespace

// ---- the record's encoding ----

namespace {

// The record's bytes: a tag and version, then every field in a fixed order (strings and
// lists as a varint length and the bytes, times as varints, the flags as one byte). A page
// of the list decodes a hundred records: a few hundred nanoseconds each, not a JSON parse.
constexpr char kRecordTag = 'E';
constexpr char kRecordVersion = 1;

// The string fields, in their order in the encoding.
template <typename R>
auto StringFields(R& r) {
  return std::array{&r.source,         &r.id,           &r.serial_number,     &r.imei,
                    &r.imei2,          &r.meid,         &r.model,             &r.account_id,
                    &r.profile_status, &r.user_id,      &r.policy_id,         &r.ruleset_id,
                    &r.assigned_position, &r.released_position, &r.enrolled_position,
                    &r.user_position,  &r.failure_reason, &r.last_position};
}
template <typename R>
auto TimeFields(R& r) {
  return std::array{&r.assigned_since_ms, &r.released_ms,    &r.enrolled_ms, &r.user_since_ms,
                    &r.failing_since_ms,  &r.retry_after_ms, &r.last_ms};
}
template <typename R>
auto FlagFields(R& r) {
  return std::array{&r.released, &r.disowned, &r.enrolled, &r.in_inventory, &r.ever_enrolled};
}

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void PutString(std::string& out, const std::string& s) {
  PutVarint(out, s.size());
  out.append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return false;
      const auto b = static_cast<unsigned char>(in_[pos_++]);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool String(std::string* s) {
    uint64_t n = 0;
    if (!Varint(&n) || n > in_.size() - pos_) return false;
    s->assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool Byte(char* c) {
    if (pos_ >= in_.size()) return false;
    *c = in_[pos_++];
    return true;
  }
  bool Done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

std::string EncodeEnrollment(const EnrollmentRecord& r) {
  std::string out;
  out.reserve(256);
  out.push_back(kRecordTag);
  out.push_back(kRecordVersion);
  for (const std::string* f : StringFields(r)) PutString(out, *f);
  for (const int64_t* t : TimeFields(r)) PutVarint(out, static_cast<uint64_t>(*t));
  char flags = 0;
  int bit = 0;
  for (const bool* f : FlagFields(r)) flags = static_cast<char>(flags | ((*f ? 1 : 0) << bit++));
  out.push_back(flags);
  PutVarint(out, r.failure_positions.size());
  for (const auto& p : r.failure_positions) PutString(out, p);
  return out;
}

Result<EnrollmentRecord> DecodeEnrollment(std::string_view bytes) {
  auto corrupt = [] { return Corruption("view.corruption", "enrollments record does not decode"); };
  Reader in(bytes);
  char tag = 0, version = 0;
  if (!in.Byte(&tag) || !in.Byte(&version) || tag != kRecordTag || version != kRecordVersion) {
    return corrupt();
  }
  EnrollmentRecord r;
  for (std::string* f : StringFields(r)) {
    if (!in.String(f)) return corrupt();
  }
  for (int64_t* t : TimeFields(r)) {
    uint64_t v = 0;
    if (!in.Varint(&v)) return corrupt();
    *t = static_cast<int64_t>(v);
  }
  char flags = 0;
  if (!in.Byte(&flags)) return corrupt();
  int bit = 0;
  for (bool* f : FlagFields(r)) *f = (flags >> bit++) & 1;
  uint64_t n = 0;
  if (!in.Varint(&n) || n > bytes.size()) return corrupt();
  r.failure_positions.resize(n);
  for (auto& p : r.failure_positions) {
    if (!in.String(&p)) return corrupt();
  }
  if (!in.Done() || r.source.empty() || r.id.empty()) return corrupt();
  return r;
}

std::string EnrollmentStatus(const EnrollmentRecord& r) {
  if (r.released) return "released";
  if (r.enrolled) return "enrolled";
  if (r.in_inventory) return "checked_out";
  if (r.ever_enrolled) return "removed";
  return "not_enrolled";
}

std::string SearchForm(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\0') continue;
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

std::vector<std::string> EnrollmentSearchTerms(const EnrollmentRecord& r) {
  std::vector<std::string> out;
  for (const std::string* v : {&r.serial_number, &r.imei, &r.imei2, &r.meid, &r.model}) {
    std::string t = SearchForm(*v);
    if (!t.empty() && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> EnrollmentsProjector::column_families() const {
  return {kRecords, kBySource, kByStatus, kByUser,   kByPolicy, kByRuleSet,
          kSearch,  kCounts,   kInventory, kAccounts, kFindings};
}

std::vector<std::string> EnrollmentsProjector::point_read_families() const {
  return {kRecords, kFindings};
}

Status EnrollmentsProjector::Apply(const RecordedEvent& rec, ViewBatch& b) {
  const events::Envelope& e = rec.envelope;
  if (std::string serial = StreamKey(e, "dep-device/"); !serial.empty()) {
    return ApplyDep(rec, b, serial);
  }
  if (std::string id = StreamKey(e, "kme-device/"); !id.empty()) return ApplyKme(rec, b, id);
  if (std::string id = StreamKey(e, "device/"); !id.empty()) return ApplyInventory(rec, b, id);
  if (std::string id = StreamKey(e, "dep-account/"); !id.empty()) return ApplyAccount(rec, b, id);
  // A DEP sync may report a device's profile status on the account's stream.
  if (e.has_dep_profile_status_changed()) {
    return ApplyDep(rec, b, e.dep_profile_status_changed().serial_number());
  }
  if (e.has_dep_device_synced()) return ApplyDep(rec, b, e.dep_device_synced().serial_number());
  return Status::Ok();
}

// ---- the list ----

namespace {

constexpr std::string_view kCursorVersion = "e1";
// An equality index this many times larger than the walked one is checked on the records.
constexpr int64_t kSeekRatio = 8;

struct Cursor {
  std::string driver;  // "all", an index family, or "q"
  std::string key;     // the last key returned in that family
};

std::string EncodeCursor(const Cursor& c) {
  return crypto::Base64Url(std::string(kCursorVersion) + c.driver + '\n' + c.key);
}

Result<Cursor> DecodeCursor(const std::string& text) {
  auto bad = InvalidArgument("request.bad_cursor", "cursor is not one this list returned",
                             "cursor");
  auto raw = crypto::FromBase64(text);
  if (!raw.ok() || raw->compare(0, kCursorVersion.size(), kCursorVersion) != 0) return bad;
  const auto nl = raw->find('\n');
  if (nl == std::string::npos) return bad;
  return Cursor{raw->substr(kCursorVersion.size(), nl - kCursorVersion.size()),
                raw->substr(nl + 1)};
}

struct Equality {
  std::string cf;
  std::string prefix;  // value NUL
};

bool StartsWith(const rocksdb::Slice& s, std::string_view p) {
  return s.size() >= p.size() && std::string_view(s.data(), p.size()) == p;
}

// Whether the record matches every filter (the check of the q-driven walk).
bool Matches(const EnrollmentRecord& r, const EnrollmentFilter& f) {
  if (!f.source.empty() && r.source != f.source) return false;
  if (!f.status.empty() && EnrollmentStatus(r) != f.status) return false;
  if (!f.user_id.empty() && r.user_id != f.user_id) return false;
  if (!f.policy_id.empty() && r.policy_id != f.policy_id) return false;
  if (!f.ruleset_id.empty() && r.ruleset_id != f.ruleset_id) return false;
  return true;
}

// The first search term of `r` that starts with q ("" when none).
std::string FirstMatchingTerm(const EnrollmentRecord& r, const std::string& q) {
  for (const auto& t : EnrollmentSearchTerms(r)) {  // sorted
    if (t.compare(0, q.size(), q) == 0) return t;
  }
  return "";
}

}  // namespace

Result<EnrollmentPage> ListEnrollments(const ViewStore& store, const EnrollmentFilter& filter,
                                       const std::string& cursor_text, size_t limit,
                                       size_t budget) {
  std::vector<Equality> eqs;
  auto add = [&](const char* cf, const std::string& v) {
    if (!v.empty()) eqs.push_back({cf, IndexKey(v, "")});
  };
  add(kBySource, filter.source);
  add(kByStatus, filter.status);
  add(kByUser, filter.user_id);
  add(kByPolicy, filter.policy_id);
  add(kByRuleSet, filter.ruleset_id);
  const std::string q_prefix = filter.q;

  std::optional<Cursor> cursor;
  if (!cursor_text.empty()) {
    AE_ASSIGN_OR_RETURN(Cursor c, DecodeCursor(cursor_text));
    bool known = false;
    if (c.driver == "all") {
      known = eqs.empty() && q_prefix.empty();
    } else if (c.driver == "q") {
      known = !q_prefix.empty() && c.key.compare(0, q_prefix.size(), q_prefix) == 0;
    } else {
      for (const auto& eq : eqs) {
        if (eq.cf == c.driver && c.key.compare(0, eq.prefix.size(), eq.prefix) == 0) known = true;
      }
    }
    if (!known) {
      return InvalidArgument("request.bad_cursor", "cursor was made for another filter", "cursor");
    }
    cursor = std::move(c);
  }

  EnrollmentPage page;
  Status st = store.WithDb([&](rocksdb::DB* db, const ViewStore::Handles& h) -> Status {
    const rocksdb::Snapshot* snap = db->GetSnapshot();
    struct Release {
      rocksdb::DB* db;
      const rocksdb::Snapshot* s;
      ~Release() { db->ReleaseSnapshot(s); }
    } release{db, snap};
    rocksdb::ReadOptions ro;
    ro.snapshot = snap;
    auto handle = [&](const std::string& cf) { return h.at(cf); };
    auto get_record = [&](std::string_view key) -> Result<std::optional<EnrollmentRecord>> {
      std::string v;
      auto s = db->Get(ro, handle(kRecords), rocksdb::Slice(key.data(), key.size()), &v);
      if (s.IsNotFound()) return std::optional<EnrollmentRecord>();
      if (!s.ok()) return Unavailable("view.read_failed", s.ToString());
      AE_ASSIGN_OR_RETURN(EnrollmentRecord r, DecodeEnrollment(v));
      return std::optional<EnrollmentRecord>(std::move(r));
    };

    // The size of each equality index.
    std::map<std::string, int64_t> sizes;
    for (const auto& eq : eqs) {
      std::string v;
      auto s = db->Get(ro, handle(kCounts),
                       eq.cf + '\0' + eq.prefix.substr(0, eq.prefix.size() - 1), &v);
      if (!s.ok() && !s.IsNotFound()) return Unavailable("view.read_failed", s.ToString());
      sizes[eq.cf] = s.ok() ? std::strtoll(v.c_str(), nullptr, 10) : 0;
    }
    // Which index to walk.
    std::string driver;
    if (cursor) {
      driver = cursor->driver;
    } else if (eqs.empty() && q_prefix.empty()) {
      driver = "all";
    } else {
      int64_t smallest = -1;
      for (const auto& eq : eqs) {
        if (smallest < 0 || sizes[eq.cf] < smallest) {
          smallest = sizes[eq.cf];
          driver = eq.cf;
        }
      }
      if (!q_prefix.empty()) {
        // The search index has no counts: probe it up to the smallest equality index.
        const int64_t bound = smallest < 0 ? 0 : std::min<int64_t>(smallest, 4096);
        int64_t seen = 0;
        std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, handle(kSearch)));
        for (it->Seek(q_prefix); it->Valid() && StartsWith(it->key(), q_prefix) && seen <= bound;
             it->Next()) {
          ++seen;
        }
        if (smallest < 0 || seen <= bound) driver = "q";
      }
    }
    page.driver = driver;

    std::unique_ptr<rocksdb::Iterator> it;
    std::string prefix;
    if (driver == "all") {
      it.reset(db->NewIterator(ro, handle(kRecords)));
    } else if (driver == "q") {
      it.reset(db->NewIterator(ro, handle(kSearch)));
      prefix = q_prefix;
    } else {
      it.reset(db->NewIterator(ro, handle(driver)));
      for (const auto& eq : eqs) {
        if (eq.cf == driver) prefix = eq.prefix;
      }
    }
    // The other equality filters, intersected by seeking their indexes; one much larger than
    // the walked one (most candidates are in it) is checked on the record instead, which the
    // page reads anyway.
    std::vector<std::pair<const Equality*, std::unique_ptr<rocksdb::Iterator>>> others;
    if (driver != "q" && driver != "all") {
      for (const auto& eq : eqs) {
        if (eq.cf == driver || sizes[eq.cf] > kSeekRatio * std::max<int64_t>(sizes[driver], 1)) {
          continue;
        }
        others.emplace_back(&eq, std::unique_ptr<rocksdb::Iterator>(db->NewIterator(ro, handle(eq.cf))));
      }
    }

    if (cursor) {
      it->Seek(cursor->key);
      if (it->Valid() && it->key() == rocksdb::Slice(cursor->key)) it->Next();
    } else {
      it->Seek(prefix);
    }
    size_t examined = 0;
    std::string last;
    bool more = false;
    while (it->Valid() && StartsWith(it->key(), prefix)) {
      if (page.items.size() == limit || examined >= budget) {
        more = true;
        break;
      }
      ++examined;
      const std::string key = it->key().ToString();
      std::string device;
      if (driver == "all") {
        device = key;
      } else if (driver == "q") {
        const auto nul = key.find('\0', prefix.size());
        if (nul == std::string::npos) {
          it->Next();
          continue;
        }
        device = key.substr(nul + 1);
      } else {
        device = key.substr(prefix.size());
      }
      // Leapfrog: every other index must hold the device; else skip to the least device
      // they could all hold.
      std::string skip_to;
      bool done = false;
      for (auto& [eq, oit] : others) {
        const std::string want = eq->prefix + device;
        oit->Seek(want);
        if (!oit->Valid() || !StartsWith(oit->key(), eq->prefix)) {
          done = true;  // that index has no device at or after this one
          break;
        }
        if (oit->key() != rocksdb::Slice(want)) {
          std::string found = oit->key().ToString().substr(eq->prefix.size());
          if (skip_to.empty() || found > skip_to) skip_to = found;
        }
      }
      if (done) {
        last = key;
        break;
      }
      if (!skip_to.empty()) {
        last = key;
        it->Seek(prefix + skip_to);
        continue;
      }
      AE_ASSIGN_OR_RETURN(auto rec, get_record(device));
      last = key;
      if (rec) {
        bool ok = true;
        if (driver == "q") {
          // A device listed under two matching terms is returned under the first.
          const std::string term = key.substr(0, key.find('\0', prefix.size()));
          ok = FirstMatchingTerm(*rec, q_prefix) == term && Matches(*rec, filter);
        } else {
          ok = Matches(*rec, filter) &&
               (q_prefix.empty() || !FirstMatchingTerm(*rec, q_prefix).empty());
        }
        if (ok) page.items.push_back(std::move(*rec));
      }
      it->Next();
    }
    if (!it->status().ok()) return Unavailable("view.read_failed", it->status().ToString());
    if (more && !last.empty()) page.next_cursor = EncodeCursor({driver, last});
    return Status::Ok();
  });
  AE_RETURN_IF_ERROR(st);
  return page;
}

}  // namespace ae::proj
