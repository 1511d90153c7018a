// HTTP reads: users created exactly as POST /v1/users creates them (for the real
// `autoenroll serve`), and the raw ceiling: a tuned cpp-httplib server whose
// handler does one RocksDB Get.

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <pthread.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sys/socket.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "api/app.h"
#include "domain/users/users.h"
#include "events/base/clock.h"
#include "tests/bench/bench.h"

namespace ae::bench {

namespace {

namespace v1 = autoenroll::events::v1;

// The username of user k; the wrk script draws the same names.
std::string Username(uint64_t k) { return "bench-user-" + std::to_string(k); }

// cpp-httplib 0.11.4 listens with a backlog of 5 and runs its socket hook
// before bind: listen() again on the bound socket to raise it.
void RaiseListenBacklog(int port, int backlog) {
  for (int fd = 0; fd < 4096; ++fd) {
    int accepting = 0;
    socklen_t len = sizeof accepting;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || !accepting) continue;
    sockaddr_storage addr{};
    socklen_t alen = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) continue;
    if (addr.ss_family == AF_INET &&
        ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port) == port) {
      ::listen(fd, backlog);
    }
  }
}

}  // namespace

int PrefillUsers(const PrefillUsersOptions& o) {
  api::AppOptions ao;
  ao.data_dir = o.data_dir;
  auto app = api::App::Open(ao);
  if (!app.ok()) return Fail("prefill-users", app.status());
  api::App& a = **app;
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::string first_error;
  std::mutex error_mu;
  Stopwatch watch;
  std::vector<std::thread> pool;
  for (int t = 0; t < o.threads; ++t) {
    pool.emplace_back([&] {
      for (uint64_t k = next++; k < o.users && !failed.load(); k = next++) {
        // The body of POST /v1/users (api/routes_users.cc), without HTTP.
        const std::string username = Username(k);
        const std::string id = domain::users::UserIdFor(a.user_id_key(), username);
        v1::PersonalData pd;
        pd.set_username(username);
        pd.set_display_name("Bench User " + std::to_string(k));
        pd.set_email(username + "@example.com");
        Status s;
        auto sealed = a.person_keys().Seal(id, pd);
        if (sealed.ok()) {
          domain::CommandContext ctx;
          ctx.actor.set_kind(v1::Actor::KIND_SYSTEM);
          ctx.actor.set_id("bench");
          auto r = a.bus().Execute(StreamId("user", id),
                                   domain::users::UserDecider(domain::users::CreateUser{
                                       id, v1::ROLE_DEVICE_USER, *sealed, ""}),
                                   ctx);
          if (!r.ok()) s = r.status();
        } else {
          s = sealed.status();
        }
        if (!s.ok()) {
          std::lock_guard lock(error_mu);
          if (!failed.exchange(true)) first_error = s.ToString();
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  if (failed.load()) return Fail("prefill-users", first_error);
  double secs = watch.Seconds();
  PrintResult({{"figure", "prefill_users"},
               {"users", o.users},
               {"seconds", secs},
               {"per_sec", static_cast<double>(o.users) / secs}});
  return 0;
}

int RawHttp(const RawHttpOptions& o) {
  // SIGINT/SIGTERM stop the server: blocked here, before any thread exists, and
  // taken by one sigwait thread below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  // The DB: a real block cache and bloom filters, as the engine's views have.
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.error_if_exists = true;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(256 << 20);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(opts, o.dir, &raw);
  if (!s.ok()) return Fail("raw-http", s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  const std::string when = FormatRfc3339(Clock::Real().NowMs());
  for (uint64_t k = 0; k < o.records && s.ok();) {
    rocksdb::WriteBatch batch;
    for (uint64_t end = std::min(o.records, k + 1000); k < end; ++k) {
      // The shape and size of the engine's GET /v1/users/{name} answer.
      nlohmann::json j = {{"user_id", HexId(k)},
                          {"role", "device_user"},
                          {"created_at", when},
                          {"updated_at", when},
                          {"created_by", ""},
                          {"tokens", 0},
                          {"username", Username(k)},
                          {"display_name", "Bench User " + std::to_string(k)},
                          {"email", Username(k) + "@example.com"}};
      batch.Put(Username(k), j.dump());
    }
    s = db->Write(rocksdb::WriteOptions(), &batch);
  }
  if (!s.ok()) return Fail("raw-http", s.ToString());

  auto colon = o.listen.rfind(':');
  if (colon == std::string::npos) return Fail("raw-http", "--listen must be HOST:PORT");
  const std::string host = o.listen.substr(0, colon);
  const int want_port = std::atoi(o.listen.substr(colon + 1).c_str());

  // Tuned as PERFORMANCE.md says.
  httplib::Server http;
  const int threads = o.threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_tcp_nodelay(true);
  http.set_keep_alive_max_count(10000);
  http.set_keep_alive_timeout(5);
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);  // no SO_REUSEPORT
  });
  rocksdb::DB* dbp = db.get();
  http.Get(R"(/v1/users/([^/]+))", [dbp](const httplib::Request& req, httplib::Response& res) {
    std::string value;
    rocksdb::Status gs = dbp->Get(rocksdb::ReadOptions(), req.matches[1].str(), &value);
    if (gs.ok()) {
      res.set_content(value, "application/json");
    } else {
      res.status = gs.IsNotFound() ? 404 : 500;
      res.set_content(R"({"error":{"code":"not_found"}})", "application/json");
    }
  });
  int port = want_port == 0 ? http.bind_to_any_port(host)
                            : (http.bind_to_port(host, want_port) ? want_port : -1);
  if (port < 0) return Fail("raw-http", "cannot listen on " + o.listen);
  RaiseListenBacklog(port, 1024);
  std::cout << "listening on http://" << host << ":" << port << std::endl;
  std::thread([stop_signals, &http] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    // A signal may come before the listen loop runs: wait for it (bounded).
    for (int i = 0; i < 500 && !http.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    http.stop();
  }).detach();
  http.listen_after_bind();
  return 0;
}

}  // namespace ae::bench
