#include "adapters/samsung_knox/kme_ingest.h"

#include <algorithm>
#include <array>
#include <cstdlib>

#include "events/base/clock.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"

namespace ae::knox {

namespace csv = ae::kme;
namespace dkme = ae::domain::kme;
namespace v1 = autoenroll::events::v1;

namespace {
// Whether decided events replace a user the Knox Deployment App had bound (a conflict).
bool OverridesDeploymentUser(const std::vector<events::Envelope>& decided) {
  return std::any_of(decided.begin(), decided.end(), [](const events::Envelope& e) {
    return e.has_kme_deployment_user_overridden();
  });
}
}  // namespace

// ---- the KME view ------------------------------------------------------------------------

dkme::DeviceState KmeDeviceStateFromView(const std::optional<KmeViewDevice>& device) {
  dkme::DeviceState s;
  if (!device) return s;
  const KmeViewDevice& d = *device;
  s.exists = true;
  s.device_id = d.id;
  s.ids.imei = d.imei;
  s.ids.imei2 = d.imei2;
  s.ids.meid = d.meid;
  s.ids.serial = d.serial_number;
  s.model = d.model;
  s.profile_name = d.profile_name;
  s.knox_status = d.knox_status;
  s.tags = d.tags;
  s.attributes = d.attributes;
  s.source = d.source == "csv"               ? v1::KME_SOURCE_CSV
             : d.source == "knox_api"        ? v1::KME_SOURCE_KNOX_API
             : d.source == "knox_deployment" ? v1::KME_SOURCE_KNOX_DEPLOYMENT
                                             : v1::KME_SOURCE_UNSPECIFIED;
  s.user_id = d.user_id;
  s.user_by_deployment = d.user_by_deployment;
  s.policy_id = d.policy_id;
  s.ruleset_id = d.ruleset_id;
  return s;
}

Result<StreamVersion> KmeDeviceVersion(const ViewGet& views, const std::string& device_id) {
  AE_ASSIGN_OR_RETURN(auto raw, views("kme_versions", device_id));
  if (!raw) return StreamVersion{0};
  char* end = nullptr;
  unsigned long long v = std::strtoull(raw->c_str(), &end, 10);
  if (raw->empty() || *end != '\0') {
    return Corruption("view.corruption", "kme version record does not parse");
  }
  return static_cast<StreamVersion>(v);
}

Result<std::string> FindKmeDevice(const ViewGet& views, const dkme::Identifiers& ids) {
  std::string found;
  for (const auto& key : dkme::MatchKeys(ids)) {
    AE_ASSIGN_OR_RETURN(auto owner, views("kme_ids", key));
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

// ---- the shared decision path --------------------------------------------------------

KmeDeviceIngest::KmeDeviceIngest(KmeIngest& service, const KmeImportOptions& options,
                                 const domain::CommandContext& ctx, dkme::KmeSource source,
                                 std::string run_id, std::string label)
    : service_(service), options_(options), source_(source), label_(std::move(label)) {
  report_.import_id = std::move(run_id);
  report_.dry_run = options.dry_run;
  auto book = domain::rules::LoadRuleBook(service_.hooks_.rules);
  if (book.ok()) {
    rules_ = std::move(*book);
  } else {
    rules_status_ = book.status();
    rules_ = std::make_shared<const domain::rules::RuleBook>();
  }
  if (options.dry_run) return;
  domain::GroupCommitOptions go;
  go.batch_commands = options.batch_rows;
  go.batch_events = options.batch_events;
  go.max_pending_batches = options.max_pending_batches;
  commit_ = std::make_unique<Commit>(
      service_.bus_, ctx, go,
      [this](Commit::Command& c, const domain::CommandResult& res, bool redecided) {
        if (redecided) {
          Count(dkme::OutcomeOf(res.events), res.events.size(),
                OverridesDeploymentUser(res.events));
        } else {
          Count(c.note.outcome, c.note.events, c.note.conflict);
        }
      });
}

KmeDeviceIngest::~KmeDeviceIngest() { commit_.reset(); }

Status KmeDeviceIngest::Flush() { return commit_ ? commit_->Finish() : Status::Ok(); }

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
  AE_ASSIGN_OR_RETURN(id, service_.hooks_.match_user(knox_user_id));
  if (users_.size() < options_.user_cache_entries) users_.emplace(std::move(key), id);
  return id;
}

Status KmeDeviceIngest::Add(KmeSourceDevice device) {
  if (options_.cancel && options_.cancel->load()) {
    return Cancelled("kme.import_cancelled", "the " + label_ + " was cancelled (server stopping)");
  }
  AE_RETURN_IF_ERROR(rules_status_);
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

  auto found = FindKmeDevice(service_.hooks_.views, cmd.observed.ids);
  if (!found.ok()) {
    if (found.status().reason() != "kme.identifier_conflict") return found.status();
    Rejected(device.line, device.knox_device_id, "kme.identifier_conflict",
             where + ": " + found.status().message(), "");
    return Status::Ok();
  }
  std::string device_id = found->empty() ? dkme::DeviceIdFor(cmd.observed.ids) : *found;
  AE_ASSIGN_OR_RETURN(auto viewed, service_.hooks_.kme_device(device_id));
  dkme::DeviceState state = KmeDeviceStateFromView(viewed);
  StreamVersion version = 0;
  if (state.exists) {
    AE_ASSIGN_OR_RETURN(version, KmeDeviceVersion(service_.hooks_.views, device_id));
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
    AE_ASSIGN_OR_RETURN(cmd.knox_user, service_.person_keys_.Seal(cmd.matched_user_id, pd));
  }
  auto decided = domain::rules::DecideKmeImport(state, cmd, options_.defaults, *rules_);
  if (!decided.ok()) {
    Rejected(device.line, device.knox_device_id, decided.status().reason(),
           where + ": " + decided.status().message(), decided.status().field());
    return Status::Ok();
  }
  if (decided->empty() || options_.dry_run) {
    Count(dkme::OutcomeOf(*decided), 0, OverridesDeploymentUser(*decided));
    return Status::Ok();
  }
  Commit::Command job;
  job.stream = StreamId(dkme::kDeviceStreamType, device_id);
  job.expected = version;
  job.note = {dkme::OutcomeOf(*decided), decided->size(), OverridesDeploymentUser(*decided)};
  job.events = std::move(*decided);
  job.decider = domain::rules::KmeImportDecider(std::move(cmd), options_.defaults, rules_);
  if (!commit_->Add(std::move(job))) {
    return Unavailable("kme.import_aborted", "an append failed; the " + label_ + " stopped");
  }
  return Status::Ok();
}

// ---- the CSV import ------------------------------------------------------------------

namespace {

std::string DateText(const csv::KnoxCsvDate& d) {
  if (d.epoch_ms && !d.ambiguous) return FormatRfc3339(*d.epoch_ms);
  return d.raw;
}

class Importer {
 public:
  Importer(KmeIngest& service, const KmeImportOptions& o, const domain::CommandContext& ctx)
      : service_(service), options_(o), ctx_(ctx) {}

  Result<KmeImportReport> Run(std::string_view file) {
    auto logger = log::Get("kme");
    const int64_t started_ms = service_.bus().clock().NowMs();
    KmeDeviceIngest ingest(service_, options_, ctx_, v1::KME_SOURCE_CSV,
                           crypto::UuidV7(started_ms));
    ingest_ = &ingest;
    const std::string file_sha256 = crypto::Hex(crypto::Sha256(file));
    if (file.empty()) {
      return InvalidArgument("kme.import_empty", "the body is empty: send the CSV file exported "
                                                 "from the Knox portal");
    }
    csv::KnoxCsvReader reader;
    Status status;
    const size_t chunk = std::max<size_t>(options_.chunk_bytes, 1024);
    auto sink = [&](csv::KnoxCsvRecord&& rec) { return Row(reader, std::move(rec)); };
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
    report.seconds = (service_.bus().clock().NowMs() - started_ms) / 1000.0;
    logger->info(
        "import {}{}: {} rows, {} created, {} updated, {} unchanged, {} rejected, {} users "
        "matched, {} events, {:.2f} s",
        report.import_id, options_.dry_run ? " (dry run)" : "", report.rows, report.created,
        report.updated, report.unchanged, report.rejected, report.users_matched,
        report.events_appended, report.seconds);
    return std::move(report);
  }

 private:
  void Presence(const csv::KnoxCsvReader& reader) {
    if (presence_known_) return;
    presence_known_ = true;
    for (const auto& c : reader.columns()) has_[static_cast<size_t>(c.field)] = true;
  }
  bool Has(csv::KnoxCsvField f) const { return has_[static_cast<size_t>(f)]; }

  dkme::DeviceObservation Observe(const csv::KnoxCsvRow& row) const {
    using F = csv::KnoxCsvField;
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

  Status Row(const csv::KnoxCsvReader& reader, csv::KnoxCsvRecord&& record) {
    if (options_.cancel && options_.cancel->load()) {
      return Cancelled("kme.import_cancelled", "the import was cancelled (server stopping)");
    }
    Presence(reader);
    if (auto* rej = std::get_if<csv::KnoxCsvRejection>(&record)) {
      ingest_->Reject(rej->line, "", rej->code, rej->message, rej->field);
      return Status::Ok();
    }
    auto& row = std::get<csv::KnoxCsvRow>(record);
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
    p->set_policy_id(options_.defaults.policy_id);
    p->set_ruleset_id(options_.defaults.ruleset_id);
    p->set_default_user_id(options_.defaults.user_id);
    // The import's own stream holds its summary alone: recorded once.
    domain::Decider<bool> decider{
        [](bool, const events::Envelope&) { return true; },
        [&e, &report](bool exists) -> Result<std::vector<events::Envelope>> {
          if (exists) {
            return AlreadyExists("kme.import_recorded",
                                 "import " + report.import_id + " is already recorded");
          }
          return std::vector<events::Envelope>{e};
        }};
    AE_ASSIGN_OR_RETURN(auto res, service_.bus().Execute(
                                      StreamId("kme-import", report.import_id), decider, ctx_));
    report.events_appended += 1;
    report.position = res.position;
    report.views_caught_up = service_.hooks().wait_for_views(res.position, options_.view_wait);
    return Status::Ok();
  }

  KmeIngest& service_;
  const KmeImportOptions& options_;
  const domain::CommandContext& ctx_;
  KmeDeviceIngest* ingest_ = nullptr;
  bool presence_known_ = false;
  std::array<bool, static_cast<size_t>(csv::KnoxCsvField::kAttribute) + 1> has_{};
};

}  // namespace

std::string KmeStatusText(csv::KmeDeviceStatus status, const std::string& raw) {
  if (status == csv::KmeDeviceStatus::kUnspecified) return "";
  if (status == csv::KmeDeviceStatus::kUnknown) return raw;
  return std::string(csv::KmeDeviceStatusName(status));
}

Result<KmeImportReport> KmeIngest::ImportCsv(std::string_view file,
                                             const KmeImportOptions& options,
                                             const domain::CommandContext& ctx) {
  Importer importer(*this, options, ctx);
  return importer.Run(file);
}

}  // namespace ae::knox
