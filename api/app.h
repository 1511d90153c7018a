#pragma once
// App: the composition root of one autoenroll process. Builds the parts in
// dependency order (log -> secrets -> views -> runner -> command bus) and stops
// them in reverse (member order below is destruction order, bottom first).

#include <map>
#include <memory>
#include <string>

#include "adapters/apple_dep/dep_adapter.h"
#include "adapters/assignment/assignment_jobs.h"
#include "api/api_tokens.h"
#include "api/metrics.h"
#include "api/rules_view.h"
#include "domain/command_bus.h"
#include "events/event_log.h"
#include "events/secret_store.h"
#include "projections/as_of.h"
#include "projections/projection_runner.h"
#include "projections/projector.h"
#include "projections/rebuild.h"

namespace ae::knox {
class KmeIngest;
class KnoxSync;
class AndroidEnrollment;
}  // namespace ae::knox

namespace ae::api {

struct AppOptions {
  std::string data_dir = "./data";
  std::string master_key_file;                  // default: <data_dir>/master-key (created, 0600)
  // Kafka mode when non-empty.
  std::string kafka_brokers;
  std::string kafka_topic = "autoenroll.events";
  int kafka_partitions = 1;
  int kafka_replication_factor = 3;             // of the topics the writer creates (capped to
  int kafka_min_insync_replicas = 2;            // the brokers); the least it accepts of them
  bool kafka_writer = true;                     // false: a read-only query replica
  bool kafka_catch_up_at_open = true;           // false: the caller follows the mirror itself
  std::string kafka_transactional_id = "autoenroll-writer";
  int64_t kafka_append_timeout_ms = 10000;      // an append fails with 503 log.unavailable after
  std::map<std::string, std::string> kafka_properties;  // -X key=value
  std::string views_dir;                        // default: the live one (views.current)
  bool read_only_views = false;
  bool read_only_log = false;                   // tools beside a running server
  // Apple DEP. The adapters (sync poller, assignment) run only in a writing
  // server (run_adapters); tools and query replicas never call Apple.
  bool run_adapters = false;
  std::string apple_dep_url = "https://mdmenrollment.apple.com";
  int64_t dep_sync_interval_ms = 30 * 60 * 1000;
  int64_t dep_retry_tick_ms = 30 * 1000;
  int64_t dep_read_timeout_ms = 60 * 1000;  // how long an answer from Apple may take
  // Apple enrollment: the trust anchors of MachineInfo signatures (PEM file;
  // Apple's bundled device CA when empty), the APNs topic of the MDM push
  // certificate, and the agent app's manifest (InstallApplication).
  std::string apple_device_ca;
  std::string apns_topic;
  std::string agent_manifest_url;
  // The time decisions read (the MachineInfo signer's validity, ...); tests inject theirs.
  const Clock* clock = &Clock::Real();
  // Samsung Knox Cloud API: the default base URL of a connection (--knox-api-url; ""
  // = Samsung's), and the time between periodic syncs (0: only on request). The sync runs
  // only in a writing server (run_adapters).
  std::string knox_api_url;
  int64_t knox_sync_interval_ms = 30 * 60 * 1000;
};

class Backups;

class App {
 public:
  static Result<std::unique_ptr<App>> Open(const AppOptions& options);
  ~App();

  // Loads the views' checkpoint and starts projecting in the background.
  Status Start();
  void Stop();

  // Creates user `admin` (administrator) when no administrator exists, with
  // `seed_token` (AUTOENROLL_ADMIN_TOKEN) or a fresh random token, written to
  // <data_dir>/admin-token with mode 0600. Also registers a seed token that
  // the admin does not have yet. A seed weaker than users::CheckAdminSeed allows,
  // or one that was revoked, is refused. First moves the verifiers of tokens issued
  // before keyed hashes into the token store (ApiTokens::MigrateLegacy).
  Status BootstrapAdmin(const std::string& seed_token);

  events::EventLog& log() { return *counting_log_; }
  events::EventLog& raw_log() { return *log_; }
  events::SecretStore& secrets() { return *secrets_; }
  events::PersonKeys& person_keys() { return *person_keys_; }
  ApiTokens& tokens() { return *tokens_; }
  proj::ViewStore& views() { return *views_; }
  proj::ProjectionRunner& runner() { return *runner_; }
  domain::CommandBus& bus() { return *bus_; }
  Metrics& metrics() { return metrics_; }
  dep::DepAdapter& dep() { return *dep_; }
  knox::KmeIngest& kme_ingest() { return *kme_ingest_; }
  knox::KnoxSync& knox() { return *knox_; }
  knox::AndroidEnrollment& android() { return *android_; }  // /enroll/android, KME settings
  RuleViewSource& rules() { return *rules_; }            // the enrollment rules (views)
  assign::AssignmentJobs& jobs() { return *jobs_; }     // bulk assignments
  proj::ViewRebuilder& rebuilder() { return *rebuilder_; }
  proj::AsOfReader& as_of() { return *as_of_; }
  Backups& backups() { return *backups_; }  // online backups (api/cli/backup.h)
  const AppOptions& options() const { return options_; }
  const Clock& clock() const { return *options_.clock; }
  const std::string& user_id_key() const { return user_id_key_; }

  // Lag of the views behind the log, in records (0 when caught up).
  int64_t ViewLag() const;
  // The format the live views were written in (proj::kViewsFormat when they are
  // empty; "1" for views from before formats were stamped).
  Result<std::string> ViewsFormat() const;

 private:
  App() = default;
  AppOptions options_;
  Metrics metrics_;
  std::unique_ptr<events::EventLog> log_;
  std::unique_ptr<CountingEventLog> counting_log_;
  std::unique_ptr<events::SecretStore> secrets_;
  std::unique_ptr<events::KeyBackend> key_backend_;
  std::unique_ptr<events::PersonKeys> person_keys_;
  std::unique_ptr<events::KeyBackend> token_backend_;  // the API tokens' verifiers
  std::unique_ptr<ApiTokens> tokens_;
  std::string user_id_key_;
  std::vector<std::unique_ptr<proj::Projector>> projectors_;
  std::unique_ptr<proj::ViewStore> views_;
  std::unique_ptr<proj::ProjectionRunner> runner_;
  std::unique_ptr<domain::CommandBus> bus_;
  std::unique_ptr<RuleViewSource> rules_;  // read by dep_, kme_ingest_, knox_
  std::unique_ptr<assign::AssignmentJobs> jobs_;
  std::unique_ptr<dep::DepAdapter> dep_;
  std::unique_ptr<knox::KmeIngest> kme_ingest_;
  std::unique_ptr<knox::KnoxSync> knox_;
  std::unique_ptr<knox::AndroidEnrollment> android_;
  std::unique_ptr<proj::AsOfReader> as_of_;  // reads log() and views_
  std::unique_ptr<proj::ViewRebuilder> rebuilder_;  // drives views_ and runner_: stopped first
  std::unique_ptr<Backups> backups_;
};

// Opens the log an AppOptions names (embedded or Kafka) without the rest.
Result<std::unique_ptr<events::EventLog>> OpenLog(const AppOptions& options);

}  // namespace ae::api
