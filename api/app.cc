#include "api/app.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "adapters/http/http_client.h"
#include "adapters/samsung_knox/android_enrollment.h"
#include "adapters/samsung_knox/knox_sync.h"
#include "api/cli/backup.h"
#include "api/data_dir_format.h"
#include "api/kme_views.h"
#include "domain/users/users.h"
#include "events/base/crypto.h"
#include "events/base/logging.h"
#include "events/kafka_event_log.h"
#include "events/kafka_key_store.h"
#include "events/rocksdb_event_log.h"
#include "projections/all_projectors.h"
#include "projections/dep_records.h"
#include "projections/rules_records.h"
#include "projections/user_records.h"

namespace ae::api {

namespace fs = std::filesystem;

namespace {
Result<std::unique_ptr<events::EventLog>> OpenKafkaLog(const AppOptions& o) {
  events::KafkaEventLogOptions ko;
  ko.brokers = o.kafka_brokers;
  ko.topic = o.kafka_topic;
  ko.partitions = o.kafka_partitions;
  ko.replication_factor = o.kafka_replication_factor;
  ko.min_insync_replicas = o.kafka_min_insync_replicas;
  ko.transactional_id = o.kafka_transactional_id;
  ko.writer = o.kafka_writer && !o.read_only_log;
  ko.cache_path = (fs::path(o.data_dir) / "kafka-cache").string();
  ko.properties = o.kafka_properties;
  ko.append_timeout = std::chrono::milliseconds(std::max<int64_t>(100, o.kafka_append_timeout_ms));
  AE_RETURN_IF_ERROR(ko.Validate());
  if (o.read_only_log) {
    // A tool beside a running server keeps its own mirror of the topic.
    ko.cache_path = (fs::path(o.data_dir) / ("kafka-cache-tool-" + std::to_string(::getpid())))
                        .string();
  }
  AE_ASSIGN_OR_RETURN(auto log, events::KafkaEventLog::Open(ko));
  // Serve what the topic holds now before answering anything. A long topic takes as long as
  // it takes to mirror: give up only when the mirror stops advancing for 30 s.
  auto head = [&] {
    auto h = log->Head();
    return h.ok() ? *h : LogCursor();
  };
  while (o.kafka_catch_up_at_open) {
    const LogCursor before = head();
    Status caught_up = log->WaitUntilCaughtUp(std::chrono::seconds(30));
    if (caught_up.ok()) break;
    if (caught_up.reason() != "log.unavailable" || head() == before) return caught_up;
    log::Get("kafka")->info("mirroring the topic: at {}", head().ToString());
  }
  return std::unique_ptr<events::EventLog>(std::move(log));
}

// A compacted topic of sealed keys shared by the writer and its replicas, beside the event
// topic: "<topic><suffix>", replicated like it.
events::KafkaKeyBackendOptions KeyTopicOptions(const AppOptions& o, const std::string& suffix,
                                               std::string sealing_key) {
  events::KafkaKeyBackendOptions k;
  k.brokers = o.kafka_brokers;
  k.timeout = std::chrono::milliseconds(std::max<int64_t>(100, o.kafka_append_timeout_ms));
  k.topic = o.kafka_topic + suffix;
  k.writer = o.kafka_writer && !o.read_only_log;
  k.sealing_key = std::move(sealing_key);
  k.properties = o.kafka_properties;
  k.replication_factor = o.kafka_replication_factor;
  k.min_insync_replicas = o.kafka_min_insync_replicas;
  return k;
}
}  // namespace

Result<std::unique_ptr<events::EventLog>> OpenLog(const AppOptions& o) {
  // Before anything under the data dir is opened: a newer directory is left untouched.
  AE_RETURN_IF_ERROR(CheckDataDirFormat(o.data_dir).status());
  if (!o.kafka_brokers.empty()) {
    return OpenKafkaLog(o);
  }
  events::RocksDbEventLogOptions lo;
  lo.path = (fs::path(o.data_dir) / "log").string();
  lo.read_only = o.read_only_log;
  if (o.read_only_log && !fs::exists(lo.path)) {
    return NotFound("app.no_log", "no event log in " + o.data_dir);
  }
  auto log = events::RocksDbEventLog::Open(lo);
  if (!log.ok()) {
    return log.status().WithContext("cannot open the event log in " + lo.path +
                                    " (is another autoenroll using this data dir?)");
  }
  return std::unique_ptr<events::EventLog>(std::move(log).value());
}

Result<std::unique_ptr<App>> App::Open(const AppOptions& options) {
  std::unique_ptr<App> app(new App());
  app->options_ = options;
  AE_ASSIGN_OR_RETURN(int format, CheckDataDirFormat(options.data_dir));
  std::error_code ec;
  fs::create_directories(options.data_dir, ec);
  if (ec) {
    return Unavailable("app.data_dir", "cannot create data dir " + options.data_dir + ": " +
                                           ec.message());
  }
  // A new directory is marked before anything is written to it; an older one once every
  // part below has opened.
  const bool writes_data_dir = !options.read_only_log;
  if (format == 0 && writes_data_dir) AE_RETURN_IF_ERROR(UpgradeDataDir(options.data_dir, 0));
  AE_ASSIGN_OR_RETURN(app->log_, OpenLog(options));
  app->counting_log_ = std::make_unique<CountingEventLog>(*app->log_, app->metrics_);

  std::string key_file = options.master_key_file.empty()
                             ? (fs::path(options.data_dir) / "master-key").string()
                             : options.master_key_file;
  AE_ASSIGN_OR_RETURN(app->secrets_,
                      events::OpenSecretStore((fs::path(options.data_dir) / "secrets").string(),
                                              key_file,
                                              options.master_key_file.empty() &&
                                                  !options.read_only_log,
                                              options.read_only_log));
  if (options.kafka_brokers.empty()) {
    app->key_backend_ = std::make_unique<events::SecretStoreKeyBackend>(*app->secrets_);
  } else {
    auto kk = KeyTopicOptions(options, ".keys", app->secrets_->DeriveKey("person-keys/v1"));
    AE_ASSIGN_OR_RETURN(app->key_backend_, events::KafkaKeyBackend::Open(kk));
  }
  app->person_keys_ = std::make_unique<events::PersonKeys>(*app->key_backend_);
  if (options.kafka_brokers.empty()) {
    app->token_backend_ = std::make_unique<events::SecretStoreKeyBackend>(*app->secrets_,
                                                                          "api-token/");
  } else {  // shared by the writer and its replicas, like the person keys
    auto kt = KeyTopicOptions(options, ".tokens", app->secrets_->DeriveKey("api-token-topic/v1"));
    AE_ASSIGN_OR_RETURN(app->token_backend_, events::KafkaKeyBackend::Open(kt));
  }
  app->tokens_ = std::make_unique<ApiTokens>(*app->token_backend_, *app->secrets_);
  app->user_id_key_ = app->secrets_->DeriveKey("user-id/v1");

  app->projectors_ = proj::AllProjectors();
  proj::ViewStoreOptions vo;
  if (options.views_dir.empty() && !options.read_only_views && !options.read_only_log) {
    proj::RemoveStaleViewsDirs(options.data_dir);  // a rebuild interrupted by a crash
  }
  vo.path = options.views_dir.empty() ? proj::LiveViewsDir(options.data_dir) : options.views_dir;
  vo.column_families = proj::AllColumnFamilies(app->projectors_);
  vo.point_read_families = proj::AllPointReadFamilies(app->projectors_);
  vo.read_only = options.read_only_views;
  AE_ASSIGN_OR_RETURN(app->views_, proj::ViewStore::Open(vo));
  std::vector<proj::Projector*> ps;
  for (auto& p : app->projectors_) ps.push_back(p.get());
  proj::ProjectionRunnerOptions ro;
  ro.format = proj::kViewsFormat;
  app->runner_ = std::make_unique<proj::ProjectionRunner>(*app->log_, *app->views_, ps, ro);
  AE_RETURN_IF_ERROR(app->runner_->Init());
  app->bus_ = std::make_unique<domain::CommandBus>(*app->counting_log_);
  app->rules_ = std::make_unique<RuleViewSource>(*app->views_);
  app->jobs_ = std::make_unique<assign::AssignmentJobs>(*app->bus_, *options.clock);

  dep::DepAdapterOptions dop;
  dop.apple_dep_url = options.apple_dep_url;
  dop.sync_interval = std::chrono::milliseconds(options.dep_sync_interval_ms);
  dop.retry_tick = std::chrono::milliseconds(options.dep_retry_tick_ms);
  dop.read_timeout_ms = options.dep_read_timeout_ms;
  dop.checkpoint_path = (fs::path(options.data_dir) / "dep-adapter.checkpoint").string();
  dop.run_background = options.run_adapters;
  App* raw = app.get();
  dep::DepAdapterHooks hooks;
  hooks.list_accounts = [raw] {
    std::vector<std::string> ids;
    raw->views()
        .Scan(proj::DepAccountRecord::kTable, "", "",
              [&](std::string_view k, std::string_view) {
                ids.emplace_back(k);
                return true;
              })
        .IgnoreError();
    return ids;
  };
  hooks.due_retries = [raw](int64_t now_ms) {
    std::vector<dep::DueRetry> due;
    raw->views().Scan(proj::DepRetryRecord::kTable, "", "",
                      [&](std::string_view k, std::string_view v) {
      auto r = proj::DepRetryRecord::Decode(v);
      int64_t at = 0;
      if (r.ok() && r->due && ParseRfc3339(*r->due, &at) && at <= now_ms) {
        due.push_back({std::string(k), r->profile_id, r->profile_uuid});
      }
      return due.size() < 10000;
    }).IgnoreError();
    return due;
  };
  hooks.rules = app->rules_.get();
  app->dep_ = std::make_unique<dep::DepAdapter>(*app->counting_log_, *app->bus_, *app->secrets_,
                                                *options.clock, dop, std::move(hooks));

  if (!options.knox_api_url.empty()) {
    if (auto url = http::ParseBaseUrl(options.knox_api_url); !url.ok()) {
      return InvalidArgument("app.bad_knox_api_url",
                             "--knox-api-url: " + url.status().message(), "knox_api_url");
    }
  }
  knox::KnoxSyncOptions ko;
  ko.default_base_url = options.knox_api_url;
  ko.interval = std::chrono::milliseconds(std::max<int64_t>(0, options.knox_sync_interval_ms));
  ko.run_background = options.run_adapters;
  knox::KmeIngestHooks ingest_hooks = KmeIngestHooksFor(*app);
  ingest_hooks.rules = app->rules_.get();
  app->kme_ingest_ = std::make_unique<knox::KmeIngest>(*app->bus_, *app->person_keys_,
                                                        std::move(ingest_hooks));
  knox::KnoxSyncHooks kh;
  kh.wait_for_views = [raw](const LogCursor& cursor, std::chrono::milliseconds timeout) {
    return raw->runner().WaitUntilCovers(cursor, timeout);
  };
  app->knox_ = std::make_unique<knox::KnoxSync>(*app->bus_, *app->secrets_, *app->kme_ingest_,
                                                *options.clock, std::move(ko), std::move(kh));
  app->android_ = std::make_unique<knox::AndroidEnrollment>(
      *app->bus_, *app->secrets_, *app->person_keys_, *options.clock, app->user_id_key_,
      AndroidEnrollmentHooksFor(*app));
  app->as_of_ = std::make_unique<proj::AsOfReader>(*app->counting_log_, *app->views_);
  proj::ViewRebuilderOptions rbo;
  rbo.data_dir = options.data_dir;
  rbo.read_only = options.read_only_views || options.read_only_log;
  rbo.custom_views_dir = !options.views_dir.empty();
  app->rebuilder_ = std::make_unique<proj::ViewRebuilder>(*app->log_, *app->views_,
                                                          *app->runner_, *options.clock, rbo);
  app->backups_ = std::make_unique<Backups>(*app);
  if (format != 0 && writes_data_dir) AE_RETURN_IF_ERROR(UpgradeDataDir(options.data_dir, format));
  return app;
}

App::~App() { Stop(); }

Status App::Start() {
  runner_->Start();
  if (options_.run_adapters) {
    // Bulk assignments whose process stopped without recording their end (kill -9).
    std::vector<std::string> running;
    Status s = views_->Scan(proj::JobRecord::kTable, "", "",
                            [&](std::string_view k, std::string_view v) {
      auto job = proj::JobRecord::Decode(v);  // a record that is none is left alone
      if (job.ok() && job->state == "running") running.emplace_back(k);
      return true;
    });
    domain::CommandContext ctx;
    ctx.actor.set_kind(autoenroll::events::v1::Actor::KIND_SYSTEM);
    ctx.actor.set_id("adapters.assignment");
    if (s.ok()) s = jobs_->Recover(running, ctx);
    if (!s.ok()) {
      log::Get("api")->warn("recording the end of stopped bulk assignments: {}", s.ToString());
    }
  }
  tokens_->StartFlushing(std::chrono::minutes(1));
  // Views written by older projectors are rebuilt beside the live ones, which keep
  // answering meanwhile (GET /v1/admin/views/rebuild shows the progress).
  AE_ASSIGN_OR_RETURN(std::string format, ViewsFormat());
  if (format != proj::kViewsFormat && !options_.read_only_views) {
    log::Get("api")->warn("the views are of format {}, this build writes format {}: rebuilding them",
                          format, proj::kViewsFormat);
    Status s = rebuilder_->Start({});
    if (!s.ok() && s.reason() != "views.rebuild_running") return s;
  }
  AE_RETURN_IF_ERROR(dep_->Start());
  return knox_->Start();
}

void App::Stop() {
  if (rebuilder_) {
    rebuilder_->Cancel();
    rebuilder_->Wait();
  }
  if (jobs_) jobs_->Stop();
  if (knox_) knox_->Stop();
  if (dep_) dep_->Stop();
  if (runner_) runner_->Stop();
  if (tokens_) tokens_->StopFlushing();
}

Result<std::string> App::ViewsFormat() const {
  AE_ASSIGN_OR_RETURN(auto checkpoint, views_->Get("checkpoints", "views"));
  if (!checkpoint) return std::string(proj::kViewsFormat);  // empty views: any format
  AE_ASSIGN_OR_RETURN(auto format, views_->Get("checkpoints", proj::kViewsFormatKey));
  return format ? *format : std::string("1");
}

int64_t App::ViewLag() const {
  auto head = log_->Head();
  if (!head.ok()) return -1;
  LogCursor at = runner_->checkpoint();
  int64_t lag = 0;
  for (const auto& [p, next] : head->next_offsets()) lag += std::max<int64_t>(0, next - at.Next(p));
  return lag;
}

Status App::BootstrapAdmin(const std::string& seed_token) {
  namespace users = domain::users;
  auto logger = log::Get("api");
  if (!seed_token.empty()) AE_RETURN_IF_ERROR(users::CheckAdminSeed(seed_token));
  // The views must reflect the log before we can tell whether an admin exists.
  AE_RETURN_IF_ERROR(runner_->CatchUp());
  AE_ASSIGN_OR_RETURN(size_t migrated, tokens_->MigrateLegacy(*views_, *log_));
  if (migrated > 0) {
    logger->warn("moved {} API tokens issued before keyed token hashes to the token store; "
                 "their unsalted SHA-256 stays in the event log: replace them (they show as "
                 "legacy in GET /v1/users/{{name}}/tokens)", migrated);
  }
  bool has_admin = false;
  AE_RETURN_IF_ERROR(views_->Scan("users", "", "", [&](std::string_view, std::string_view v) {
    auto u = proj::DecodeUser(v);
    if (u.ok() && u->role == "administrator" && !u->deleted) {
      has_admin = true;
      return false;
    }
    return true;
  }));
  const std::string admin_id = users::UserIdFor(user_id_key_, "admin");
  domain::CommandContext ctx;
  ctx.actor.set_kind(autoenroll::events::v1::Actor::KIND_SYSTEM);
  ctx.actor.set_id("bootstrap");
  std::string token_path = (fs::path(options_.data_dir) / "admin-token").string();
  if (!has_admin) {
    autoenroll::events::v1::PersonalData pd;
    pd.set_username("admin");
    pd.set_display_name("Administrator");
    AE_ASSIGN_OR_RETURN(auto sealed, person_keys_->Seal(admin_id, pd));
    auto created = bus_->Execute(StreamId("user", admin_id),
                                 users::UserDecider(users::CreateUser{
                                     admin_id, autoenroll::events::v1::ROLE_ADMINISTRATOR, sealed,
                                     "bootstrap"}),
                                 ctx);
    if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) {
      return created.status();
    }
  }
  std::string token = seed_token;
  bool write_file = !has_admin;
  if (token.empty() && !has_admin) token = tokens_->Generate().token;
  if (!token.empty()) {
    const std::string token_id = tokens_->IdFor(token);
    AE_ASSIGN_OR_RETURN(auto records, log_->ReadStream(StreamId("user", admin_id)));
    users::UserState admin;
    for (const auto& r : records) admin = users::Evolve(std::move(admin), r.envelope);
    auto listed = [&](const std::vector<std::string>& ids) {
      return std::find(ids.begin(), ids.end(), token_id) != ids.end();
    };
    if (listed(admin.revoked_token_ids)) {
      return FailedPrecondition("admin.seed_revoked",
                                "AUTOENROLL_ADMIN_TOKEN is a token that was revoked; unset it "
                                "or choose a new one");
    }
    // The verifier first (again for a known seed: a new token store gets it too).
    AE_RETURN_IF_ERROR(tokens_->Register(token_id, admin_id, token));
    if (!listed(admin.token_ids)) {
      auto issued = bus_->Execute(StreamId("user", admin_id),
                                  users::UserDecider(users::IssueToken{admin_id, token_id}), ctx);
      if (!issued.ok()) return issued.status();
      write_file = true;
    }
  }
  if (write_file && !token.empty()) {
    fs::remove(token_path);
    int fd = ::open(token_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return Unavailable("app.admin_token", "cannot write " + token_path);
    std::string line = token + "\n";
    bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::fsync(fd);
    ::close(fd);
    if (!ok) return Unavailable("app.admin_token", "cannot write " + token_path);
    logger->info("administrator token written to {} (mode 0600)", token_path);
  }
  return runner_->CatchUp();
}

}  // namespace ae::api
