#include "api/kme_import.h"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "adapters/samsung_knox/csv_reader.h"
#include "api/lookup.h"
#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"

namespace ae::api {

namespace knox = ae::kme;
namespace dkme = ae::domain::kme;
namespace v1 = autoenroll::events::v1;
using nlohmann::json;

namespace {
// Whether decided events replace a user the Knox Deployment App had bound (a conflict).
bool OverridesDeploymentUser(const std::vector<events::Envelope>& decided) {
  return std::any_of(decided.begin(), decided.end(), [](const events::Envelope& e) {
    return e.has_kme_deployment_user_overridden();
  });
}
}  // namespace

nlohmann::json KmeImportReport::ToJson() const {
  json errs = json::array();
  for (const auto& e : errors) {
    json j = {{"line", e.line}, {"code", e.code}, {"message", e.message}};
    if (!e.field.empty()) j["field"] = e.field;
    if (!e.knox_device_id.empty()) j["knox_device_id"] = e.knox_device_id;
    errs.push_back(std::move(j));
  }
  return {{"import_id", import_id},   {"dry_run", dry_run},     {"rows", rows},
          {"created", created},       {"updated", updated},     {"unchanged", unchanged},
          {"rejected", rejected},     {"users_matched", users_matched},
          {"conflicts", conflicts},
          {"errors", std::move(errs)}, {"errors_truncated", errors_truncated},
          {"file_sha256", file_sha256}, {"events_appended", events_appended}};
}

// ---- view lookups ------------------------------------------------------------------

Result<json> LoadKmeDevice(App& app, const std::string& device_id) {
  AE_ASSIGN_OR_RETURN(auto raw, app.views().Get("kme_devices", device_id));
  if (!raw) return json();
  json j = json::parse(*raw, nullptr, false);
  if (!j.is_object()) return Corruption("view.corruption", "kme device record does not parse");
  return j;
}

dkme::DeviceState KmeDeviceStateFromView(const json& rec) {
  dkme::DeviceState s;
  if (!rec.is_object()) return s;
  s.exists = true;
  s.device_id = rec.value("id", "");
  s.ids.imei = rec.value("imei", "");
  s.ids.imei2 = rec.value("imei2", "");
  s.ids.meid = rec.value("meid", "");
  s.ids.serial = rec.value("serial_number", "");
  s.model = rec.value("model", "");
  s.profile_name = rec.value("profile_name", "");
  s.knox_status = rec.value("knox_status", "");
  if (auto tags = rec.find("tags"); tags != rec.end() && tags->is_array()) {
    for (const auto& t : *tags) {
      if (t.is_string()) s.tags.push_back(t.get<std::string>());
    }
  }
  if (auto attrs = rec.find("attributes"); attrs != rec.end() && attrs->is_object()) {
    for (auto it = attrs->begin(); it != attrs->end(); ++it) {
      if (it->is_string()) s.attributes[it.key()] = it->get<std::string>();
    }
  }
  std::string source = rec.value("source", "");
  s.source = source == "csv"               ? v1::KME_SOURCE_CSV
             : source == "knox_api"        ? v1::KME_SOURCE_KNOX_API
             : source == "knox_deployment" ? v1::KME_SOURCE_KNOX_DEPLOYMENT
                                           : v1::KME_SOURCE_UNSPECIFIED;
  s.user_id = rec.value("user_id", "");
  s.user_by_deployment = rec.value("user_by_deployment", false);
  s.policy_id = rec.value("policy_id", "");
  s.ruleset_id = rec.value("ruleset_id", "");
  return s;
}

Result<StreamVersion> KmeDeviceVersion(App& app, const std::string& device_id) {
  AE_ASSIGN_OR_RETURN(auto raw, app.views().Get("kme_versions", device_id));
  if (!raw) return StreamVersion{0};
  char* end = nullptr;
  unsigned long long v = std::strtoull(raw->c_str(), &end, 10);
  if (raw->empty() || *end != '\0') {
    return Corruption("view.corruption", "kme version record does not parse");
  }
  return static_cast<StreamVersion>(v);
}

Result<std::string> FindKmeDevice(App& app, const dkme::Identifiers& ids) {
  std::string found;
  for (const auto& key : dkme::MatchKeys(ids)) {
    AE_ASSIGN_OR_RETURN(auto owner, app.views().Get("kme_ids", key));
    if (!owner) continue;
    if (found.empty()) {
      found = *owner;
    } else if (*owner != found) {
      return FailedPrecondition("kme.identifier_conflict",
                                "the identifiers name two different devices: " + found + " and " +
                                    *owner);
    }
  }
  return found;
}

Result<dkme::Identifiers> ParseKmeIdentifiers(const std::string& imei, const std::string& imei2,
                                              const std::string& meid,
                                              const std::string& serial) {
  knox::DeviceIdentity identity;
  struct Field {
    const std::string* value;
    const char* name;
    knox::IdentifierColumn column;
    bool second;
  };
  const std::array<Field, 4> fields = {{{&imei, "imei", knox::IdentifierColumn::kAny, false},
                                        {&imei2, "imei2", knox::IdentifierColumn::kImeiOnly, true},
                                        {&meid, "meid", knox::IdentifierColumn::kAny, false},
                                        {&serial, "serial_number",
                                         knox::IdentifierColumn::kSerialOnly, false}}};
  for (const auto& f : fields) {
    if (f.value->empty()) continue;
    auto parsed = knox::ParseIdentifierCell(*f.value, f.column);
    if (!parsed.ok()) {
      return InvalidArgument("kme.bad_identifier",
                             std::string(f.name) + ": " + parsed.status().message(), f.name);
    }
    for (const auto& id : *parsed) {
      Status added = identity.Add(id, f.second);
      if (!added.ok()) {
        return InvalidArgument("kme.bad_identifier",
                               std::string(f.name) + ": " + added.message(), f.name);
      }
    }
  }
  return dkme::Identifiers{identity.imei, identity.imei2, identity.meid, identity.serial};
}

Result<std::string> ResolveKmeDeviceRef(App& app, const std::string& ref) {
  if (ref.empty() || ref.size() > 128) {
    return NotFound("kme.device_not_found", "no KME device '" + ref + "'");
  }
  AE_ASSIGN_OR_RETURN(json rec, LoadKmeDevice(app, ref));
  if (rec.is_object()) return ref;
  // "imei:…", "meid:…", "sn:…" device ids whose device is gone, or a bare identifier.
  std::string value = ref;
  auto colon = ref.find(':');
  if (colon != std::string::npos) value = ref.substr(colon + 1);
  auto parsed = knox::ParseIdentifierCell(value, knox::IdentifierColumn::kAny);
  if (parsed.ok() && !parsed->empty()) {
    knox::DeviceIdentity identity;
    for (const auto& id : *parsed) identity.Add(id).IgnoreError();
    AE_ASSIGN_OR_RETURN(std::string id, FindKmeDevice(
                                            app, dkme::Identifiers{identity.imei, identity.imei2,
                                                                   identity.meid,
                                                                   identity.serial}));
    if (!id.empty()) return id;
  }
  // A serial that also reads as another kind of identifier (e.g. 14 hex digits).
  std::string upper = value;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  AE_ASSIGN_OR_RETURN(auto owner, app.views().Get("kme_ids", "serial:" + upper));
  if (owner) return *owner;
  return NotFound("kme.device_not_found", "no KME device '" + ref + "'");
}

// ---- the shared decision path --------------------------------------------------------

// Decided devices, gathered into batches that one thread appends with
// EventLog::AppendBatch (each batch shares group commits: one durable write for many
// devices) while the caller decides the next batch.
class KmeDeviceIngest::Appender {
 public:
  struct Job {
    StreamId stream;
    StreamVersion expected = 0;
    std::vector<events::Envelope> events;
    dkme::ImportDevice command;  // to decide again when the view was stale
  };

  Appender(KmeDeviceIngest& owner) : owner_(owner), options_(owner.options_) {}
  ~Appender() { Finish().IgnoreError(); }

  // Adds a decided device; blocks while `max_pending_batches` full batches wait. False
  // once an append has failed. Called by one thread (the ingest's caller).
  bool Add(Job job) {
    if (!thread_.joinable()) thread_ = std::thread([this] { Work(); });
    current_events_ += job.events.size();
    current_.push_back(std::move(job));
    if (current_.size() < options_.batch_rows && current_events_ < options_.batch_events) {
      return true;
    }
    return Flush();
  }

  // Appends what is left and waits for every batch; returns the first failure. Add may
  // be called again afterwards.
  Status Finish() {
    if (!current_.empty()) Flush();
    {
      std::lock_guard lock(mu_);
      closing_ = true;
    }
    ready_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mu_);
    closing_ = false;
    return error_;
  }

 private:
  bool Flush() {
    std::unique_lock lock(mu_);
    space_.wait(lock, [&] { return batches_.size() < options_.max_pending_batches || !error_.ok(); });
    if (!error_.ok()) return false;
    batches_.push_back(std::move(current_));
    current_.clear();
    current_events_ = 0;
    ready_.notify_one();
    return true;
  }

  void Work() {
    while (true) {
      std::vector<Job> batch;
      {
        std::unique_lock lock(mu_);
        ready_.wait(lock, [&] { return !batches_.empty() || closing_; });
        if (batches_.empty()) return;
        batch = std::move(batches_.front());
        batches_.pop_front();
      }
      space_.notify_one();
      Status s = Append(batch);
      if (!s.ok()) {
        std::lock_guard lock(mu_);
        if (error_.ok()) error_ = s;
        batches_.clear();
        space_.notify_all();
      }
    }
  }

  Status Append(std::vector<Job>& batch) {
    App& app = owner_.app_;
    const domain::CommandContext& ctx = owner_.ctx_;
    const int64_t now = app.bus().clock().NowMs();
    std::vector<events::EventLog::AppendItem> items;
    std::vector<dkme::ImportOutcome> outcomes;
    std::vector<size_t> sizes;
    std::vector<bool> conflicts;
    items.reserve(batch.size());
    for (auto& job : batch) {
      for (auto& e : job.events) {
        events::FillEnvelopeDefaults(e, now);
        *e.mutable_actor() = ctx.actor;
        e.set_correlation_id(ctx.correlation_id);
        e.set_causation_id(ctx.causation_id);
      }
      outcomes.push_back(dkme::OutcomeOf(job.events));
      sizes.push_back(job.events.size());
      conflicts.push_back(OverridesDeploymentUser(job.events));
      items.push_back({job.stream, ExpectedVersion::Exactly(job.expected), std::move(job.events)});
    }
    auto results = app.log().AppendBatch(std::move(items));
    for (size_t i = 0; i < results.size(); ++i) {
      if (results[i].ok()) {
        owner_.Count(outcomes[i], sizes[i], conflicts[i]);
        continue;
      }
      if (results[i].status().code() != StatusCode::kConflict) return results[i].status();
      // The view was behind the stream: decide again against the stream itself.
      AE_ASSIGN_OR_RETURN(auto res, app.bus().Execute(batch[i].stream,
                                                      dkme::DeviceDecider(batch[i].command), ctx));
      owner_.Count(dkme::OutcomeOf(res.events), res.events.size(),
                   OverridesDeploymentUser(res.events));
    }
    return Status::Ok();
  }

  KmeDeviceIngest& owner_;
  const KmeImportOptions& options_;

  std::vector<Job> current_;  // owned by the caller's thread
  size_t current_events_ = 0;
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<std::vector<Job>> batches_;  // guarded by mu_
  bool closing_ = false;                  // guarded by mu_
  Status error_;                          // guarded by mu_
  std::thread thread_;
};

KmeDeviceIngest::KmeDeviceIngest(App& app, const KmeImportOptions& options,
                                 const domain::CommandContext& ctx, dkme::KmeSource source,
                                 std::string run_id, std::string label)
    : app_(app), options_(options), ctx_(ctx), source_(source), label_(std::move(label)) {
  report_.import_id = std::move(run_id);
  report_.dry_run = options.dry_run;
  if (!options.dry_run) appender_ = std::make_unique<Appender>(*this);
}

KmeDeviceIngest::~KmeDeviceIngest() { appender_.reset(); }

Status KmeDeviceIngest::Flush() { return appender_ ? appender_->Finish() : Status::Ok(); }

KmeImportReport KmeDeviceIngest::Snapshot() const {
  std::lock_guard lock(report_mu_);
  return report_;
}

void KmeDeviceIngest::Count(dkme::ImportOutcome outcome, size_t events, bool conflict) {
  std::lock_guard lock(report_mu_);
  if (conflict) ++report_.conflicts;
  switch (outcome) {
    case dkme::ImportOutcome::kCreated: ++report_.created; break;
    case dkme::ImportOutcome::kUpdated: ++report_.updated; break;
    case dkme::ImportOutcome::kUnchanged: ++report_.unchanged; break;
  }
  report_.events_appended += events;
}

std::string KmeDeviceIngest::Where(uint64_t line, const std::string& knox_device_id) const {
  if (line > 0) return "line " + std::to_string(line);
  if (!knox_device_id.empty()) return "Knox device " + knox_device_id;
  return "device";
}

void KmeDeviceIngest::Progress(uint64_t rows) {
  if (options_.progress_every == 0 || rows % options_.progress_every != 0) return;
  std::lock_guard lock(report_mu_);
  log::Get("kme")->info("{} {}: {} {} read ({} created, {} updated, {} unchanged, {} rejected "
                        "so far)",
                        label_, report_.import_id, rows,
                        source_ == v1::KME_SOURCE_CSV ? "rows" : "devices", report_.created,
                        report_.updated, report_.unchanged, report_.rejected);
}

void KmeDeviceIngest::Reject(uint64_t line, const std::string& knox_device_id, std::string code,
                             std::string message, std::string field) {
  uint64_t rows;
  {
    std::lock_guard lock(report_mu_);
    rows = ++report_.rows;
  }
  Progress(rows);
  Rejected(line, knox_device_id, std::move(code), std::move(message), std::move(field));
}

void KmeDeviceIngest::Rejected(uint64_t line, const std::string& knox_device_id,
                               std::string code, std::string message, std::string field) {
  std::lock_guard lock(report_mu_);
  ++report_.rejected;
  if (report_.errors.size() < options_.max_reported_errors) {
    report_.errors.push_back(
        {line, std::move(code), std::move(message), std::move(field), knox_device_id});
  } else {
    report_.errors_truncated = true;
  }
}

// The user a source's User ID names ("" none), through a bounded cache.
Result<std::string> KmeDeviceIngest::MatchUser(const std::string& knox_user_id) {
  if (knox_user_id.empty()) return std::string();
  std::string key = domain::users::NormalizeUsername(knox_user_id);
  auto it = users_.find(key);
  if (it != users_.end()) return it->second;
  std::string id;
  auto resolved =
      ResolveUserId(app_, knox_user_id, domain::users::Role::ROLE_DEVICE_USER, "user_id");
  if (resolved.ok()) {
    id = *resolved;
  } else if (resolved.status().code() != StatusCode::kUnprocessable) {
    return resolved.status();
  }
  if (users_.size() < options_.user_cache_entries) users_.emplace(std::move(key), id);
  return id;
}

Status KmeDeviceIngest::Add(KmeSourceDevice device) {
  if (options_.cancel && options_.cancel->load()) {
    return Cancelled("kme.import_cancelled", "the " + label_ + " was cancelled (server stopping)");
  }
  uint64_t rows;
  {
    std::lock_guard lock(report_mu_);
    rows = ++report_.rows;
  }
  Progress(rows);
  const std::string where = Where(device.line, device.knox_device_id);
  dkme::ImportDevice cmd;
  cmd.observed = std::move(device.observed);
  cmd.source = source_;
  cmd.import_id = report_.import_id;  // constant after construction
  cmd.line = device.line;

  auto found = FindKmeDevice(app_, cmd.observed.ids);
  if (!found.ok()) {
    if (found.status().reason() != "kme.identifier_conflict") return found.status();
    Rejected(device.line, device.knox_device_id, "kme.identifier_conflict",
             where + ": " + found.status().message(), "");
    return Status::Ok();
  }
  std::string device_id = found->empty() ? dkme::DeviceIdFor(cmd.observed.ids) : *found;
  AE_ASSIGN_OR_RETURN(json rec, LoadKmeDevice(app_, device_id));
  dkme::DeviceState state = KmeDeviceStateFromView(rec);
  StreamVersion version = 0;
  if (state.exists) {
    AE_ASSIGN_OR_RETURN(version, KmeDeviceVersion(app_, device_id));
  }
  cmd.device_id = device_id;

  AE_ASSIGN_OR_RETURN(cmd.matched_user_id, MatchUser(device.knox_user_id));
  if (!cmd.matched_user_id.empty()) {
    std::lock_guard lock(report_mu_);
    ++report_.users_matched;
  }
  if (!state.exists && !cmd.matched_user_id.empty() && !options_.dry_run) {
    v1::PersonalData pd;
    pd.set_knox_user_id(device.knox_user_id);
    AE_ASSIGN_OR_RETURN(cmd.knox_user, app_.person_keys().Seal(cmd.matched_user_id, pd));
  }
  auto decided = dkme::Decide(state, cmd);
  if (!decided.ok()) {
    Rejected(device.line, device.knox_device_id, decided.status().reason(),
           where + ": " + decided.status().message(), decided.status().field());
    return Status::Ok();
  }
  if (decided->empty() || options_.dry_run) {
    Count(dkme::OutcomeOf(*decided), 0, OverridesDeploymentUser(*decided));
    return Status::Ok();
  }
  Appender::Job job;
  job.stream = StreamId(dkme::kDeviceStreamType, device_id);
  job.expected = version;
  job.events = std::move(*decided);
  job.command = std::move(cmd);
  if (!appender_->Add(std::move(job))) {
    return Unavailable("kme.import_aborted", "an append failed; the " + label_ + " stopped");
  }
  return Status::Ok();
}

// ---- the CSV import ------------------------------------------------------------------

namespace {

std::string DateText(const knox::KnoxCsvDate& d) {
  if (d.epoch_ms && !d.ambiguous) return FormatRfc3339(*d.epoch_ms);
  return d.raw;
}

class Importer {
 public:
  Importer(App& app, const KmeImportOptions& o, const domain::CommandContext& ctx)
      : app_(app), options_(o), ctx_(ctx) {}

  Result<KmeImportReport> Run(std::string_view file) {
    auto logger = log::Get("kme");
    const int64_t started_ms = app_.bus().clock().NowMs();
    KmeDeviceIngest ingest(app_, options_, ctx_, v1::KME_SOURCE_CSV,
                           crypto::UuidV7(started_ms));
    ingest_ = &ingest;
    const std::string file_sha256 = crypto::Hex(crypto::Sha256(file));
    if (file.empty()) {
      return InvalidArgument("kme.import_empty", "the body is empty: send the CSV file exported "
                                                 "from the Knox portal");
    }
    knox::KnoxCsvReader reader;
    Status status;
    const size_t chunk = std::max<size_t>(options_.chunk_bytes, 1024);
    auto sink = [&](knox::KnoxCsvRecord&& rec) { return Row(reader, std::move(rec)); };
    for (size_t at = 0; at < file.size() && status.ok(); at += chunk) {
      status = reader.Feed(file.substr(at, chunk));
      if (status.ok()) status = reader.Drain(sink);
    }
    if (status.ok()) status = reader.Finish();
    if (status.ok()) status = reader.Drain(sink);
    AE_RETURN_IF_ERROR(ingest.Flush());  // the first failed append, before the reader's echo
    if (!status.ok()) {
      if (status.reason() == "csv.empty_file") {
        return InvalidArgument("kme.import_empty", "the file has no rows: " + status.message());
      }
      if (status.code() == StatusCode::kUnprocessable &&
          status.reason().rfind("csv.", 0) == 0) {
        return Unprocessable("kme.import_unreadable", status.message());
      }
      return status;
    }
    KmeImportReport& report = ingest.report();
    report.file_sha256 = file_sha256;
    std::sort(report.errors.begin(), report.errors.end(),
              [](const KmeImportError& a, const KmeImportError& b) { return a.line < b.line; });
    if (!options_.dry_run) AE_RETURN_IF_ERROR(Complete(report));
    report.seconds = (app_.bus().clock().NowMs() - started_ms) / 1000.0;
    logger->info(
        "import {}{}: {} rows, {} created, {} updated, {} unchanged, {} rejected, {} users "
        "matched, {} events, {:.2f} s",
        report.import_id, options_.dry_run ? " (dry run)" : "", report.rows, report.created,
        report.updated, report.unchanged, report.rejected, report.users_matched,
        report.events_appended, report.seconds);
    return std::move(report);
  }

 private:
  void Presence(const knox::KnoxCsvReader& reader) {
    if (presence_known_) return;
    presence_known_ = true;
    for (const auto& c : reader.columns()) has_[static_cast<size_t>(c.field)] = true;
  }
  bool Has(knox::KnoxCsvField f) const { return has_[static_cast<size_t>(f)]; }

  dkme::DeviceObservation Observe(const knox::KnoxCsvRow& row) const {
    using F = knox::KnoxCsvField;
    dkme::DeviceObservation o;
    o.ids = {row.identifiers.imei, row.identifiers.imei2, row.identifiers.meid,
             row.identifiers.serial};
    if (Has(F::kModel)) o.model = row.model;
    if (Has(F::kProfile)) o.profile_name = row.profile_name;
    if (Has(F::kTags)) o.tags = row.tags;
    if (Has(F::kStatus)) o.knox_status = KmeStatusText(row.status, row.status_raw);
    // Columns kept as attributes. Not kept: the user id and password (personal data and a
    // secret), "Last modified admin" (an administrator's name or e-mail), the device name.
    auto attr = [&](F f, const char* name, std::string value) {
      if (Has(f)) o.attributes[name] = std::move(value);
    };
    attr(F::kWifiMac, "wifi_mac", row.wifi_mac);
    attr(F::kOsVersion, "os_version", row.os_version);
    attr(F::kOrderNumber, "order_number", row.order_number);
    attr(F::kOrderDate, "order_date", DateText(row.order_date));
    attr(F::kSubmitted, "submitted", DateText(row.submitted));
    attr(F::kResellerId, "reseller_id", row.reseller_id);
    attr(F::kResellerName, "reseller_name", row.reseller_name);
    attr(F::kModifiedAt, "modified_at", DateText(row.modified_at));
    attr(F::kEmmAutoEnroll, "emm_auto_enroll",
         row.emm_auto_enroll ? (*row.emm_auto_enroll ? "on" : "off") : "");
    for (const auto& [k, v] : row.attributes) o.attributes[k] = v;
    return o;
  }

  Status Row(const knox::KnoxCsvReader& reader, knox::KnoxCsvRecord&& record) {
    if (options_.cancel && options_.cancel->load()) {
      return Cancelled("kme.import_cancelled", "the import was cancelled (server stopping)");
    }
    Presence(reader);
    if (auto* rej = std::get_if<knox::KnoxCsvRejection>(&record)) {
      ingest_->Reject(rej->line, "", rej->code, rej->message, rej->field);
      return Status::Ok();
    }
    auto& row = std::get<knox::KnoxCsvRow>(record);
    KmeSourceDevice device;
    device.observed = Observe(row);
    device.knox_user_id = row.user_id;
    device.line = row.line;
    return ingest_->Add(std::move(device));
  }

  Status Complete(KmeImportReport& report) {
    events::Envelope e;
    auto* p = e.mutable_kme_import_completed();
    p->set_import_id(report.import_id);
    p->set_rows(report.rows);
    p->set_created(report.created);
    p->set_updated(report.updated);
    p->set_unchanged(report.unchanged);
    p->set_rejected(report.rejected);
    p->set_users_matched(report.users_matched);
    AE_ASSIGN_OR_RETURN(std::string sha, crypto::FromHex(report.file_sha256));
    p->set_file_sha256(sha);
    for (const auto& err : report.errors) {
      auto* x = p->add_errors();
      x->set_line(err.line);
      x->set_code(err.code);
      x->set_message(err.message);
    }
    p->set_source(v1::KME_SOURCE_CSV);
    events::FillEnvelopeDefaults(e, app_.bus().clock().NowMs());
    *e.mutable_actor() = ctx_.actor;
    e.set_correlation_id(ctx_.correlation_id);
    e.set_causation_id(ctx_.causation_id);
    AE_ASSIGN_OR_RETURN(auto res, app_.log().Append(StreamId("kme-import", report.import_id),
                                                    ExpectedVersion::NoStream(), {e}));
    report.events_appended += 1;
    report.position = res.last;
    report.views_caught_up = app_.runner().WaitUntilCovers(res.last, options_.view_wait);
    return Status::Ok();
  }

  App& app_;
  const KmeImportOptions& options_;
  const domain::CommandContext& ctx_;
  KmeDeviceIngest* ingest_ = nullptr;
  bool presence_known_ = false;
  std::array<bool, static_cast<size_t>(knox::KnoxCsvField::kAttribute) + 1> has_{};
};

}  // namespace

std::string KmeStatusText(knox::KmeDeviceStatus status, const std::string& raw) {
  if (status == knox::KmeDeviceStatus::kUnspecified) return "";
  if (status == knox::KmeDeviceStatus::kUnknown) return raw;
  return std::string(knox::KmeDeviceStatusName(status));
}

Result<KmeImportReport> ImportKmeCsv(App& app, std::string_view file,
                                     const KmeImportOptions& options,
                                     const domain::CommandContext& ctx) {
  Importer importer(app, options, ctx);
  return importer.Run(file);
}

}  // namespace ae::api
