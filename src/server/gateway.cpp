#include "edge/server/gateway.hpp"

#include <unistd.h>

#include <condition_variable>
#include <ctime>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "edge/cache/edge_cache.hpp"
#include "edge/config/loader.hpp"
#include "edge/log/access_log.hpp"
#include "edge/metrics/metrics.hpp"
#include "edge/proxy/router.hpp"
#include "edge/server/admin_server.hpp"
#include "edge/server/cache_api.hpp"
#include "edge/server/status_page.hpp"
#include "edge/server/handover.hpp"
#include "edge/tls/client_context.hpp"
#include "edge/tls/server_context.hpp"
#include "edge/server/target_api.hpp"
#include "edge/server/worker.hpp"
#include "edge/upstream/health_checker.hpp"
#include "edge/upstream/target.hpp"
#include "edge/upstream/target_metrics.hpp"

namespace edge::server {

struct Gateway::Impl {
  GatewayOptions options;
  SharedState state;
  std::unique_ptr<metrics::Metrics> metrics;
  // One per process, outside the config: stored responses survive a reload.
  std::unique_ptr<cache::EdgeCache> cache;
  // Destroyed after the workers (declared before them): it writes what they queued.
  std::unique_ptr<log::AccessLog> access_log;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  std::unique_ptr<AdminServer> admin;
  std::unique_ptr<upstream::HealthChecker> health;
  std::vector<std::uint16_t> ports;
  ListenerFds listening;  // every listening socket, for a hand-over
  std::unique_ptr<HandoverServer> handover;
  std::atomic<std::uint32_t> pool_slots{0};  // numbers targets' pool slots across groups

  std::mutex mu;
  std::condition_variable cv;
  unsigned running = 0;
  bool started = false;
  bool stop_requested = false;
  std::thread drain_watch;
  std::mutex reload_mu;
  std::vector<std::shared_ptr<tls::TicketKeys>> ticket_keys;  // by listener (kept across reloads)

  void worker_done() {
    std::lock_guard lk(mu);
    --running;
    cv.notify_all();
  }
};

Gateway::Gateway(config::Config cfg, std::shared_ptr<proxy::ProxyHooks> hooks,
                 GatewayOptions options)
    : impl_(std::make_unique<Impl>()) {
  auto errors = config::validate(cfg);
  if (!errors.empty()) {
    std::string msg = "invalid configuration:";
    for (const auto& e : errors) msg += "\n  " + e.to_string();
    throw std::runtime_error(msg);
  }
  auto& st = impl_->state;
  impl_->options = options;
  st.config = std::move(cfg);
  st.hooks = std::move(hooks);
  if (st.config.cache.memory > 0) {
    impl_->cache = std::make_unique<cache::EdgeCache>(
        static_cast<std::size_t>(st.config.cache.memory),
        static_cast<std::size_t>(st.config.cache.max_object_size), options.cache_clock);
    st.cache = impl_->cache.get();
  }

  std::vector<std::string> group_names;
  for (std::size_t i = 0; i < st.config.target_groups.size(); ++i) {
    GroupRuntime g;
    g.group = std::make_unique<upstream::TargetGroup>(
        st.config.target_groups[i], static_cast<std::uint32_t>(i), &impl_->pool_slots);
    if (const auto& tc = st.config.target_groups[i]; tc.protocol == config::Protocol::https) {
      try {
        for (unsigned w = 0; w < st.config.effective_workers(); ++w)
          g.tls.push_back(std::make_shared<tls::ClientContext>(tc.tls));
      } catch (const std::exception& e) {
        throw std::runtime_error("target group '" + tc.name + "': " + e.what());
      }
    }
    group_names.push_back(g.group->name());
    st.groups.push_back(std::move(g));
  }
  st.pool_slots = impl_->pool_slots.load();

  std::vector<std::string> listener_names;
  std::vector<metrics::CertificateExpiry> certificates;
  impl_->ticket_keys.resize(st.config.listeners.size());
  std::vector<std::vector<int>> rule_priorities;
  for (std::size_t i = 0; i < st.config.listeners.size(); ++i) {
    const auto& lc = st.config.listeners[i];
    ListenerRuntime lr;
    if (lc.protocol == config::Protocol::https) {
      // Certificates are loaded and checked here: a bad one stops the start
      // with its file named. One context per worker (no SSL_CTX shared between
      // threads), certificates and ticket keys shared.
      auto& keys = impl_->ticket_keys[i];
      if (lc.tls.session_ticket_rotation.count() > 0)
        keys = std::make_shared<tls::TicketKeys>(
            std::chrono::duration_cast<std::chrono::seconds>(lc.tls.session_ticket_rotation),
            static_cast<std::int64_t>(std::time(nullptr)));
      tls::ServerOptions opts;
      try {
        opts = tls::load_server_options(lc.tls, keys, lc.mutual_authentication);
      } catch (const std::exception& e) {
        throw std::runtime_error("listener '" + lc.name + "': " + e.what());
      }
      for (const auto& cert : opts.certificates)
        certificates.push_back({lc.name, cert->path(), cert->not_after()});
      for (unsigned w = 0; w < st.config.effective_workers(); ++w)
        lr.tls.push_back(std::make_shared<tls::ServerContext>(opts));
    }
    lr.config = &lc;
    lr.index = i;
    lr.router = std::make_shared<const proxy::Router>(lc, group_names, &st.config);
    auto& prios = rule_priorities.emplace_back();
    for (std::size_t r = 0; r < lr.router->rule_count(); ++r)
      prios.push_back(lr.router->rule_priority(r));
    st.listeners.push_back(std::move(lr));
    listener_names.push_back(lc.name);
  }
  impl_->metrics = std::make_unique<metrics::Metrics>(
      listener_names, group_names, st.config.effective_workers(), std::move(rule_priorities));
  impl_->metrics->set_certificates(std::move(certificates));
  for (auto& lr : st.listeners) lr.rule_slot_base = impl_->metrics->rule_slot_base(lr.index);
  st.metrics = impl_->metrics.get();

  if (st.config.access_log.path != "off") {
    std::shared_ptr<log::AccessLogSink> sink = options.access_log_sink;
    if (!sink) sink = log::make_sink(st.config.access_log.path);
    log::AccessLogOptions lo;
    lo.format = st.config.access_log.format;
    lo.ring_records = options.access_log_ring_records;
    lo.written_metric = &impl_->metrics->access_log_written();
    impl_->access_log = std::make_unique<log::AccessLog>(
        std::move(sink), log::AccessLogNames{listener_names, group_names},
        st.config.effective_workers(), lo);
    st.access_log = impl_->access_log.get();
  }
  std::vector<upstream::TargetGroup*> groups;
  std::vector<const upstream::TargetGroup*> const_groups;
  for (auto& g : st.groups) {
    groups.push_back(g.group.get());
    const_groups.push_back(g.group.get());
  }
  impl_->metrics->add_collectable(upstream::make_target_collectable(std::move(const_groups)));
  if (impl_->cache) impl_->metrics->add_collectable(make_cache_collectable(*impl_->cache));
  upstream::HealthCheckerOptions ho;
  ho.interval_override = options.health_check_interval;
  ho.timeout_override = options.health_check_timeout;
  impl_->health =
      std::make_unique<upstream::HealthChecker>(groups, ho, st.config.admin.state_file);
}

Gateway::~Gateway() {
  if (impl_->started) {
    stop();
    wait();
  }
}

void Gateway::start() {
  auto& im = *impl_;
  if (im.started) throw std::logic_error("Gateway::start called twice");
  auto& st = im.state;
  const unsigned n = st.config.effective_workers();
  Takeover takeover;
  const bool taking_over = !im.options.takeover_path.empty();
  if (taking_over) takeover = takeover_receive(im.options.takeover_path);
  for (unsigned i = 0; i < n; ++i)
    im.workers.push_back(std::make_unique<Worker>(i, st, im.metrics->shard(i)));
  im.ports.clear();
  for (const auto& l : st.config.listeners) im.ports.push_back(l.listen.port);
  for (std::size_t i = 0; i < st.listeners.size(); ++i) {
    auto inherited = takeover.fds.find(st.config.listeners[i].listen.to_string());
    std::size_t adopted = 0;
    if (inherited != takeover.fds.end()) {
      // Every socket of the old process keeps its accept queue: spread them
      // over the workers; workers left over join the port with SO_REUSEPORT.
      for (int fd : inherited->second) im.ports[i] = im.workers[adopted++ % n]->adopt(i, fd);
      takeover.fds.erase(inherited);
    }
    // The first worker may bind port 0; the others join the port it got.
    for (std::size_t w = adopted; w < n; ++w) im.workers[w]->bind_listener(i, im.ports[i]);
  }
  for (auto& [address, fds] : takeover.fds)  // listeners the new config no longer has
    for (int fd : fds) ::close(fd);
  for (std::size_t i = 0; i < st.listeners.size(); ++i) {
    st.listeners[i].port = im.ports[i];
    st.listeners[i].port_text = std::to_string(im.ports[i]);
  }
  for (auto& w : im.workers) {
    for (auto [listener, fd] : w->listening_fds())
      im.listening[st.config.listeners[listener].listen.to_string()].push_back(fd);
  }
  // Before the admin API: registration calls run on the checker's thread.
  im.health->start();
  auto start_admin = [&] {
    if (!st.config.admin.enabled) return;
    im.admin = std::make_unique<AdminServer>(st.config.admin.listen, st.config.admin.token);
    im.admin->add_route("GET", "/healthz", [this](const AdminRequest&) {
      std::lock_guard lk(impl_->mu);
      return impl_->stop_requested ? AdminResponse::text(503, "draining\n")
                                   : AdminResponse::text(200, "ok\n");
    });
    add_metrics_routes(*im.admin, *im.metrics);
    add_status_routes(*im.admin, st, *im.metrics);
    add_target_group_routes(*im.admin, *im.health);
    if (im.cache) add_cache_routes(*im.admin, *im.cache);
    im.admin->start();
  };
  if (!taking_over) start_admin();
  im.started = true;
  im.running = n;
  if (im.options.own_threads) {
    for (unsigned i = 0; i < n; ++i) im.threads.emplace_back([this, i] { run_worker(i); });
  }
  if (taking_over) {
    // Accepting on the inherited sockets (or queueing on them until the
    // caller runs the workers): the old process may go, and free the admin port.
    takeover_finish(takeover, std::chrono::seconds(10));
    start_admin();
  }
  if (!st.config.admin.upgrade_socket.empty()) {
    im.handover = std::make_unique<HandoverServer>(
        st.config.admin.upgrade_socket,
        [this] {
          std::lock_guard lk(impl_->mu);
          return impl_->stop_requested ? ListenerFds{} : impl_->listening;
        },
        [this] {
          if (impl_->admin) impl_->admin->stop();
          drain(impl_->state.config.timeouts.drain);
          if (impl_->options.on_handed_over) impl_->options.on_handed_over();
        });
  }
}

void Gateway::run_worker(unsigned i) {
  impl_->workers.at(i)->run();
  impl_->worker_done();
}

void Gateway::reload_certificates() {
  auto& im = *impl_;
  std::lock_guard reload_lock(im.reload_mu);
  const auto& cfg = im.state.config;
  const unsigned n = cfg.effective_workers();
  std::vector<std::vector<std::shared_ptr<tls::ServerContext>>> fresh(cfg.listeners.size());
  std::vector<metrics::CertificateExpiry> certificates;
  for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
    const auto& lc = cfg.listeners[i];
    if (lc.protocol != config::Protocol::https) continue;
    tls::ServerOptions opts;
    try {
      opts = tls::load_server_options(lc.tls, im.ticket_keys[i], lc.mutual_authentication);
      for (unsigned w = 0; w < n; ++w) fresh[i].push_back(std::make_shared<tls::ServerContext>(opts));
    } catch (const std::exception& e) {
      throw std::runtime_error("listener '" + lc.name + "': " + e.what());
    }
    for (const auto& cert : opts.certificates)
      certificates.push_back({lc.name, cert->path(), cert->not_after()});
  }
  // Everything loaded: swap in, worker by worker (each on its own thread), and
  // return once every running worker has taken the new contexts.
  struct Applied {
    std::mutex mu;
    std::condition_variable cv;
    std::size_t left = 0;
  };
  auto applied = std::make_shared<Applied>();
  for (std::size_t w = 0; w < im.workers.size(); ++w) {
    std::vector<std::shared_ptr<tls::ServerContext>> mine(fresh.size());
    for (std::size_t i = 0; i < fresh.size(); ++i)
      if (w < fresh[i].size()) mine[i] = fresh[i][w];
    ++applied->left;
    im.workers[w]->post([worker = im.workers[w].get(), mine = std::move(mine), applied]() mutable {
      for (std::size_t i = 0; i < mine.size(); ++i)
        if (mine[i]) worker->set_tls_context(i, std::move(mine[i]));
      std::lock_guard lk(applied->mu);
      if (--applied->left == 0) applied->cv.notify_all();
    });
  }
  im.metrics->set_certificates(std::move(certificates));
  std::unique_lock lk(applied->mu);
  applied->cv.wait_for(lk, std::chrono::seconds(5), [&] { return applied->left == 0; });
}

void Gateway::drain(std::chrono::milliseconds deadline) {
  auto& im = *impl_;
  {
    std::lock_guard lk(im.mu);
    if (!im.started || im.stop_requested) return;
    im.stop_requested = true;
  }
  for (auto& w : im.workers) w->drain();
  // After the deadline, whatever is still in flight is closed.
  im.drain_watch = std::thread([this, deadline] {
    auto& m = *impl_;
    std::unique_lock lk(m.mu);
    if (!m.cv.wait_for(lk, deadline, [&] { return m.running == 0; })) {
      lk.unlock();
      for (auto& w : m.workers) w->stop();
    }
  });
}

void Gateway::stop() {
  auto& im = *impl_;
  {
    std::lock_guard lk(im.mu);
    if (!im.started) return;
    im.stop_requested = true;
  }
  for (auto& w : im.workers) w->stop();
}

void Gateway::wait() {
  auto& im = *impl_;
  if (!im.started) return;
  {
    std::unique_lock lk(im.mu);
    im.cv.wait(lk, [&] { return im.running == 0; });
  }
  for (auto& t : im.threads)
    if (t.joinable()) t.join();
  im.threads.clear();
  if (im.drain_watch.joinable()) im.drain_watch.join();
  if (im.handover) im.handover->stop();
  if (im.admin) im.admin->stop();
  im.health->stop();
}

unsigned Gateway::workers() const { return impl_->state.config.effective_workers(); }

std::uint16_t Gateway::listener_port(std::size_t i) const { return impl_->ports.at(i); }

std::uint16_t Gateway::admin_port() const { return impl_->admin ? impl_->admin->port() : 0; }

metrics::Metrics& Gateway::metrics() { return *impl_->metrics; }

cache::EdgeCache* Gateway::cache() { return impl_->cache.get(); }

log::AccessLog* Gateway::access_log() { return impl_->access_log.get(); }

void Gateway::reopen_logs() {
  if (impl_->access_log) impl_->access_log->reopen();
}

std::uint32_t Gateway::target_outstanding(std::size_t group, std::size_t target) const {
  return impl_->state.groups.at(group).group->members()[target]->outstanding.load(
      std::memory_order_relaxed);
}

const config::Config& Gateway::config() const { return impl_->state.config; }

const upstream::TargetGroup* Gateway::target_group(std::string_view name) const {
  for (const auto& g : impl_->state.groups)
    if (g.group->name() == name) return g.group.get();
  return nullptr;
}

}  // namespace edge::server
