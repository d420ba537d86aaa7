#include "edge/server/gateway.hpp"

#include <unistd.h>

#include <condition_variable>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

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

namespace {

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

/// What a (re)load prepared: applied by commit() only when nothing failed.
struct Prepared {
  std::shared_ptr<Snapshot> snap;
  metrics::MetricsSlots slots;
  std::vector<upstream::GroupReload> group_reloads;      // every group of the new config
  std::vector<upstream::TargetGroup*> removed_groups;
  std::vector<std::unique_ptr<upstream::TargetGroup>> created;
  /// Added listeners: key and one bound socket per worker.
  std::vector<std::pair<std::string, std::vector<int>>> added;
  std::vector<std::string> removed_keys;
  std::vector<metrics::CertificateExpiry> certificates;
  std::map<std::string, std::shared_ptr<tls::TicketKeys>> ticket_keys;
  std::map<std::string, std::shared_ptr<tls::SessionCache>> session_caches;
  ReloadResult summary;

  Prepared() = default;
  Prepared(Prepared&&) = default;
  Prepared& operator=(Prepared&&) = delete;
  ~Prepared() {
    for (auto& [key, fds] : added)
      for (int fd : fds)
        if (fd >= 0) ::close(fd);
  }
};

/// `POST /reload`: 200 {"status":"ok","generation":N,...} or 400 with every reason.
AdminResponse reload_response(const ReloadResult& r) {
  boost::json::object o;
  o["status"] = r.ok ? "ok" : "error";
  o["generation"] = r.generation;
  if (r.ok) {
    o["listeners_added"] = r.listeners_added;
    o["listeners_removed"] = r.listeners_removed;
    o["target_groups_added"] = r.target_groups_added;
    o["target_groups_removed"] = r.target_groups_removed;
    o["targets_added"] = r.targets_added;
    o["targets_removed"] = r.targets_removed;
  } else {
    boost::json::array errors;
    for (const auto& e : r.errors) errors.emplace_back(e);
    o["errors"] = std::move(errors);
  }
  return AdminResponse::json(r.ok ? 200 : 400, boost::json::serialize(o) + "\n");
}

bool same_tls(const config::TargetTlsConfig& a, const config::TargetTlsConfig& b) {
  return a.verify == b.verify && a.ca_file == b.ca_file && a.server_name == b.server_name;
}

}  // namespace

std::string ReloadResult::message() const {
  if (ok) return "generation " + std::to_string(generation);
  std::string m;
  for (const auto& e : errors) {
    if (!m.empty()) m += "; ";
    m += e;
  }
  return m;
}

struct Gateway::Impl {
  GatewayOptions options;
  std::shared_ptr<proxy::ProxyHooks> hooks;
  std::unique_ptr<metrics::Metrics> metrics;
  // One per process, outside the config: stored responses survive a reload.
  std::unique_ptr<cache::EdgeCache> cache;
  // Destroyed after the workers (declared before them): it writes what they queued.
  std::unique_ptr<log::AccessLog> access_log;
  // Every group ever configured, kept for the gateway's life (workers, pools
  // and requests in flight hold raw Target pointers; a reload that removes a
  // group leaves its object here, drained and unused).
  std::vector<std::unique_ptr<upstream::TargetGroup>> all_groups;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  std::unique_ptr<AdminServer> admin;
  std::unique_ptr<upstream::HealthChecker> health;
  std::unique_ptr<HandoverServer> handover;
  std::atomic<std::uint32_t> pool_slots{0};  // numbers targets' pool slots across groups

  std::mutex mu;
  std::condition_variable cv;
  unsigned running = 0;
  bool started = false;
  bool stop_requested = false;
  std::thread drain_watch;
  // Under mu: the running snapshot, the bound ports (by running config
  // listener) and every listening socket (for a hand-over).
  std::shared_ptr<const Snapshot> current;
  std::vector<std::uint16_t> ports;
  ListenerFds listening;

  std::mutex reload_mu;  // one (re)load at a time; guards ticket_keys, session_caches
  std::map<std::string, std::shared_ptr<tls::TicketKeys>> ticket_keys;  // by listener key
  // By listener key: TLS 1.2 sessions shared by the listener's workers (kept
  // across reloads, like the ticket keys).
  std::map<std::string, std::shared_ptr<tls::SessionCache>> session_caches;

  void worker_done() {
    std::lock_guard lk(mu);
    --running;
    cv.notify_all();
  }
  std::shared_ptr<const Snapshot> snapshot() {
    std::lock_guard lk(mu);
    return current;
  }

  Prepared prepare(config::Config cfg, const Snapshot* old, bool bind);
  void commit(Prepared& p, const Snapshot& old);
};

/// Builds everything `cfg` needs without touching what runs. `old`: the
/// running snapshot (nullptr at construction). `bind`: open the sockets of
/// listeners `old` does not have. Errors go to p.summary.errors.
Prepared Gateway::Impl::prepare(config::Config cfg, const Snapshot* old, bool bind) {
  Prepared p;
  auto& errors = p.summary.errors;
  for (const auto& e : config::validate(cfg)) errors.push_back(e.to_string());
  if (!errors.empty()) return p;
  if (old != nullptr) {
    const auto& o = old->config;
    auto fixed = [&](bool same, std::string_view what) {
      if (!same)
        errors.push_back(std::string(what) +
                         " cannot change while running (restart, or hand over to a new edged)");
    };
    fixed(cfg.effective_workers() == o.effective_workers(), "workers");
    fixed(cfg.admin.enabled == o.admin.enabled && cfg.admin.listen.host == o.admin.listen.host &&
              cfg.admin.listen.port == o.admin.listen.port && cfg.admin.token == o.admin.token &&
              cfg.admin.state_file == o.admin.state_file &&
              cfg.admin.upgrade_socket == o.admin.upgrade_socket,
          "admin");
    fixed(cfg.access_log.path == o.access_log.path && cfg.access_log.format == o.access_log.format,
          "access_log");
    fixed(cfg.relay_buffer_bytes == o.relay_buffer_bytes, "relay_buffer_bytes");
    // The store is sized once; collapse_timeout is read per request and may change.
    fixed(cfg.cache.memory == o.cache.memory && cfg.cache.max_object_size == o.cache.max_object_size,
          "cache.memory and cache.max_object_size");
    if (!errors.empty()) return p;
  }
  const unsigned n = cfg.effective_workers();
  auto snap = std::make_shared<Snapshot>();
  snap->generation = old != nullptr ? old->generation + 1 : 1;
  snap->config = std::move(cfg);
  snap->hooks = hooks;
  snap->cache = cache.get();  // created before the first snapshot, kept across reloads
  const config::Config& c = snap->config;

  // Routers first: their rule order names the rule metric slots.
  std::vector<std::string> group_names, listener_names;
  for (const auto& g : c.target_groups) group_names.push_back(g.name);
  std::vector<std::vector<int>> priorities;
  for (const auto& lc : c.listeners) {
    ListenerRuntime lr;
    lr.config = &lc;
    lr.key = lc.listen.to_string();
    try {
      lr.router = std::make_shared<const proxy::Router>(lc, group_names, &snap->config);
    } catch (const std::exception& e) {
      errors.push_back("listener " + quoted(lc.name) + ": " + e.what());
      continue;
    }
    auto& prios = priorities.emplace_back();
    for (std::size_t r = 0; r < lr.router->rule_count(); ++r)
      prios.push_back(lr.router->rule_priority(r));
    listener_names.push_back(lc.name);
    snap->listeners.push_back(std::move(lr));
  }
  if (!errors.empty()) return p;
  if (metrics) {
    try {
      p.slots = metrics->assign(listener_names, priorities, group_names, /*commit=*/false);
    } catch (const std::exception& e) {
      errors.push_back(e.what());
      return p;
    }
  } else {  // construction: the Metrics is made from these very names
    for (std::size_t l = 0, r = 0; l < listener_names.size(); ++l) {
      p.slots.listeners.push_back(l);
      auto& rules = p.slots.rules.emplace_back();
      for (std::size_t i = 0; i <= priorities[l].size(); ++i) rules.push_back(r++);
    }
    for (std::size_t g = 0; g < group_names.size(); ++g) p.slots.target_groups.push_back(g);
  }
  for (std::size_t l = 0; l < snap->listeners.size(); ++l) {
    snap->listeners[l].index = p.slots.listeners[l];
    snap->listeners[l].rule_slots = p.slots.rules[l];
  }

  // Target groups: kept by name (same object), or new.
  for (std::size_t i = 0; i < c.target_groups.size(); ++i) {
    const auto& tc = c.target_groups[i];
    const GroupRuntime* was = nullptr;
    if (old != nullptr)
      for (const auto& g : old->groups)
        if (g.group->name() == tc.name) was = &g;
    GroupRuntime gr;
    upstream::GroupReload reload;
    reload.config = tc;
    try {
      if (was != nullptr) {
        gr.group = was->group;
        reload.group = was->group;
        const auto& before = was->group->config();
        std::map<std::string, std::uint32_t> old_ids;
        for (const auto& t : before.targets) old_ids[upstream::TargetGroup::id_of(t)] = t.weight;
        std::set<std::string> new_ids;
        for (const auto& t : tc.targets) {
          const std::string id = upstream::TargetGroup::id_of(t);
          new_ids.insert(id);
          auto it = old_ids.find(id);
          if (it == old_ids.end()) {
            reload.added.push_back({{id, t.weight}, upstream::TargetGroup::resolve(tc, t, id)});
          } else if (it->second != t.weight) {
            reload.reweighted.push_back({id, t.weight});
          }
        }
        for (const auto& [id, w] : old_ids)
          if (!new_ids.contains(id)) reload.removed.push_back(id);
        p.summary.targets_added += reload.added.size();
        p.summary.targets_removed += reload.removed.size();
        if (tc.protocol == before.protocol && same_tls(tc.tls, before.tls)) gr.tls = was->tls;
      } else {
        auto g = std::make_unique<upstream::TargetGroup>(
            tc, static_cast<std::uint32_t>(p.slots.target_groups[i]), &pool_slots);
        gr.group = g.get();
        reload.group = g.get();
        reload.created = true;
        p.created.push_back(std::move(g));
        ++p.summary.target_groups_added;
        p.summary.targets_added += tc.targets.size();
      }
      if (tc.protocol == config::Protocol::https && gr.tls.empty())
        for (unsigned w = 0; w < n; ++w)
          gr.tls.push_back(std::make_shared<tls::ClientContext>(tc.tls));
    } catch (const std::exception& e) {
      errors.push_back("target group " + quoted(tc.name) + ": " + e.what());
      continue;
    }
    snap->groups.push_back(std::move(gr));
    p.group_reloads.push_back(std::move(reload));
  }
  if (old != nullptr) {
    for (const auto& g : old->groups) {
      if (c.find_target_group(g.group->name()) == nullptr) {
        p.removed_groups.push_back(g.group);
        ++p.summary.target_groups_removed;
        p.summary.targets_removed += g.group->members().size();
      }
    }
  }

  // Listeners: certificates read again (all or nothing), sockets of added ones bound.
  for (auto& lr : snap->listeners) {
    const auto& lc = *lr.config;
    const ListenerRuntime* was = old != nullptr ? old->find_listener(lr.key) : nullptr;
    if (lc.protocol == config::Protocol::https) {
      // Ticket keys live as long as the listener (resumption across reloads).
      std::shared_ptr<tls::TicketKeys> keys;
      if (auto it = ticket_keys.find(lr.key); it != ticket_keys.end() && was != nullptr &&
                                              was->config->tls.session_ticket_rotation ==
                                                  lc.tls.session_ticket_rotation)
        keys = it->second;
      else if (lc.tls.session_ticket_rotation.count() > 0)
        keys = std::make_shared<tls::TicketKeys>(
            std::chrono::duration_cast<std::chrono::seconds>(lc.tls.session_ticket_rotation),
            static_cast<std::int64_t>(std::time(nullptr)));
      p.ticket_keys[lr.key] = keys;
      try {
        // One context per worker (no SSL_CTX shared between threads),
        // certificates and ticket keys shared.
        tls::ServerOptions opts = tls::load_server_options(lc.tls, keys, lc.mutual_authentication);
        // TLS 1.2 session IDs resume on any worker of the listener.
        auto& sessions = p.session_caches[lr.key];
        if (auto it = session_caches.find(lr.key); it != session_caches.end() && was != nullptr &&
                                                   it->second->capacity() == opts.session_cache_size)
          sessions = it->second;
        else
          sessions = std::make_shared<tls::SessionCache>(opts.session_cache_size);
        opts.session_cache = sessions;
        for (unsigned w = 0; w < n; ++w)
          lr.tls.push_back(std::make_shared<tls::ServerContext>(opts));
        for (const auto& cert : opts.certificates)
          p.certificates.push_back({lc.name, cert->path(), cert->not_after()});
      } catch (const std::exception& e) {
        errors.push_back("listener " + quoted(lc.name) + ": " + e.what());
        continue;
      }
    }
    if (was != nullptr) {
      lr.port = was->port;
      lr.port_text = was->port_text;
    } else if (bind) {
      std::vector<int> fds;
      std::uint16_t port = lc.listen.port;
      try {
        // The first socket may bind port 0; the others join the port it got.
        for (unsigned w = 0; w < n; ++w) fds.push_back(Worker::open_listening_socket(lc, port));
      } catch (const std::exception& e) {
        for (int fd : fds) ::close(fd);
        errors.push_back(e.what());
        continue;
      }
      lr.port = port;
      lr.port_text = std::to_string(port);
      p.added.emplace_back(lr.key, std::move(fds));
      ++p.summary.listeners_added;
    }
  }
  if (old != nullptr) {
    for (const auto& lr : old->listeners) {
      if (snap->find_listener(lr.key) == nullptr) {
        p.removed_keys.push_back(lr.key);
        ++p.summary.listeners_removed;
      }
    }
  }
  if (!errors.empty()) return p;
  p.snap = std::move(snap);
  return p;
}

/// Applies a prepared reload (nothing here fails).
void Gateway::Impl::commit(Prepared& p, const Snapshot& old) {
  Snapshot& snap = *p.snap;
  std::vector<std::string> listener_names, group_names;
  std::vector<std::vector<int>> priorities;
  for (const auto& lr : snap.listeners) {
    listener_names.push_back(lr.config->name);
    auto& prios = priorities.emplace_back();
    for (std::size_t r = 0; r < lr.router->rule_count(); ++r)
      prios.push_back(lr.router->rule_priority(r));
  }
  for (const auto& g : snap.config.target_groups) group_names.push_back(g.name);
  metrics->assign(listener_names, priorities, group_names, /*commit=*/true);
  snap.metrics = metrics.get();
  snap.access_log = access_log.get();
  if (access_log) {
    const auto shape = metrics->shape();
    access_log->set_names({shape->listener_names, shape->target_group_names});
  }
  for (auto& g : p.created) all_groups.push_back(std::move(g));
  p.created.clear();
  health->reconfigure(std::move(p.group_reloads), std::move(p.removed_groups));
  for (auto& [key, keys] : p.ticket_keys) ticket_keys[key] = keys;
  for (const auto& key : p.removed_keys) ticket_keys.erase(key);
  for (auto& [key, sessions] : p.session_caches) session_caches[key] = sessions;
  for (const auto& key : p.removed_keys) session_caches.erase(key);
  metrics->set_certificates(std::move(p.certificates));

  std::shared_ptr<const Snapshot> published = p.snap;
  std::vector<std::vector<std::pair<std::string, int>>> added(workers.size());
  {
    std::lock_guard lk(mu);
    for (const auto& key : p.removed_keys) listening.erase(key);
    for (auto& [key, fds] : p.added) {
      for (std::size_t w = 0; w < fds.size() && w < workers.size(); ++w) {
        added[w].emplace_back(key, fds[w]);
        listening[key].push_back(fds[w]);
        fds[w] = -1;  // the worker owns it now
      }
    }
    current = published;
    ports.clear();
    for (const auto& lr : snap.listeners) ports.push_back(lr.port);
  }
  (void)old;
  // Every worker takes the snapshot on its own thread; return once all
  // running ones have (a request after reload() returns sees the new one).
  struct Applied {
    std::mutex mu;
    std::condition_variable cv;
    std::size_t left = 0;
  };
  auto applied = std::make_shared<Applied>();
  for (std::size_t w = 0; w < workers.size(); ++w) {
    {
      std::lock_guard lk(applied->mu);
      ++applied->left;
    }
    workers[w]->swap_snapshot(published, std::move(added[w]));
    workers[w]->post([applied] {
      std::lock_guard lk(applied->mu);
      if (--applied->left == 0) applied->cv.notify_all();
    });
  }
  std::unique_lock lk(applied->mu);
  applied->cv.wait_for(lk, std::chrono::seconds(5), [&] { return applied->left == 0; });
}

Gateway::Gateway(config::Config cfg, std::shared_ptr<proxy::ProxyHooks> hooks,
                 GatewayOptions options)
    : impl_(std::make_unique<Impl>()) {
  auto& im = *impl_;
  im.options = options;
  im.hooks = std::move(hooks);
  // The response cache is process-wide: created once, before the first
  // snapshot, and shared by every later one (a reload keeps what it stores).
  if (cfg.cache.memory > 0)
    im.cache = std::make_unique<cache::EdgeCache>(static_cast<std::size_t>(cfg.cache.memory),
                                                  static_cast<std::size_t>(cfg.cache.max_object_size),
                                                  options.cache_clock);
  Prepared p = im.prepare(std::move(cfg), nullptr, false);
  if (!p.summary.errors.empty()) {
    std::string msg = "invalid configuration:";
    for (const auto& e : p.summary.errors) msg += "\n  " + e;
    throw std::runtime_error(msg);
  }
  Snapshot& st = *p.snap;
  std::vector<std::string> listener_names, group_names;
  std::vector<std::vector<int>> rule_priorities;
  for (const auto& lr : st.listeners) {
    listener_names.push_back(lr.config->name);
    auto& prios = rule_priorities.emplace_back();
    for (std::size_t r = 0; r < lr.router->rule_count(); ++r)
      prios.push_back(lr.router->rule_priority(r));
  }
  for (const auto& g : st.config.target_groups) group_names.push_back(g.name);
  im.metrics = std::make_unique<metrics::Metrics>(
      listener_names, group_names, st.config.effective_workers(), std::move(rule_priorities));
  im.metrics->set_certificates(std::move(p.certificates));
  st.metrics = im.metrics.get();
  im.ticket_keys = std::move(p.ticket_keys);
  im.session_caches = std::move(p.session_caches);

  if (st.config.access_log.path != "off") {
    std::shared_ptr<log::AccessLogSink> sink = options.access_log_sink;
    if (!sink) sink = log::make_sink(st.config.access_log.path);
    log::AccessLogOptions lo;
    lo.format = st.config.access_log.format;
    lo.ring_records = options.access_log_ring_records;
    lo.written_metric = &im.metrics->access_log_written();
    im.access_log = std::make_unique<log::AccessLog>(
        std::move(sink), log::AccessLogNames{listener_names, group_names},
        st.config.effective_workers(), lo);
    st.access_log = im.access_log.get();
  }
  std::vector<upstream::TargetGroup*> groups;
  for (auto& g : p.created) {
    groups.push_back(g.get());
    im.all_groups.push_back(std::move(g));
  }
  p.created.clear();
  // Every group ever configured (removed ones too, until they are drained).
  im.metrics->add_collectable(upstream::make_target_collectable([this] {
    std::vector<const upstream::TargetGroup*> out;
    for (const auto& g : impl_->snapshot()->groups) out.push_back(g.group);
    return out;
  }));
  if (im.cache) im.metrics->add_collectable(make_cache_collectable(*im.cache));
  upstream::HealthCheckerOptions ho;
  ho.interval_override = options.health_check_interval;
  ho.timeout_override = options.health_check_timeout;
  ho.now = options.health_clock;
  im.health = std::make_unique<upstream::HealthChecker>(groups, ho, st.config.admin.state_file);
  im.current = std::move(p.snap);
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
  // Not running yet: the snapshot may still get its ports.
  auto st = std::const_pointer_cast<Snapshot>(im.current);
  const unsigned n = st->config.effective_workers();
  Takeover takeover;
  const bool taking_over = !im.options.takeover_path.empty();
  if (taking_over) takeover = takeover_receive(im.options.takeover_path);
  for (unsigned i = 0; i < n; ++i)
    im.workers.push_back(std::make_unique<Worker>(i, im.current, im.metrics->shard(i)));
  im.ports.clear();
  for (const auto& l : st->config.listeners) im.ports.push_back(l.listen.port);
  for (std::size_t i = 0; i < st->listeners.size(); ++i) {
    auto inherited = takeover.fds.find(st->listeners[i].key);
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
  for (std::size_t i = 0; i < st->listeners.size(); ++i) {
    st->listeners[i].port = im.ports[i];
    st->listeners[i].port_text = std::to_string(im.ports[i]);
  }
  for (auto& w : im.workers) {
    for (auto [key, fd] : w->listening_fds()) im.listening[key].push_back(fd);
  }
  // Before the admin API: registration calls run on the checker's thread.
  im.health->start();
  auto start_admin = [&] {
    const auto& admin = st->config.admin;
    if (!admin.enabled) return;
    im.admin = std::make_unique<AdminServer>(admin.listen, admin.token);
    im.admin->add_route("GET", "/healthz", [this](const AdminRequest&) {
      std::lock_guard lk(impl_->mu);
      return impl_->stop_requested ? AdminResponse::text(503, "draining\n")
                                   : AdminResponse::text(200, "ok\n");
    });
    im.admin->add_route("POST", "/reload", [this](const AdminRequest&) {
      return reload_response(reload_file());
    });
    add_metrics_routes(*im.admin, *im.metrics);
    add_status_routes(*im.admin, [this] { return impl_->snapshot(); }, *im.metrics);
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
  if (!st->config.admin.upgrade_socket.empty()) {
    im.handover = std::make_unique<HandoverServer>(
        st->config.admin.upgrade_socket,
        [this] {
          std::lock_guard lk(impl_->mu);
          return impl_->stop_requested ? ListenerFds{} : impl_->listening;
        },
        [this] {
          if (impl_->admin) impl_->admin->stop();
          drain(impl_->snapshot()->config.timeouts.drain);
          if (impl_->options.on_handed_over) impl_->options.on_handed_over();
        });
  }
}

void Gateway::run_worker(unsigned i) {
  impl_->workers.at(i)->run();
  impl_->worker_done();
}

ReloadResult Gateway::reload(config::Config config) {
  auto& im = *impl_;
  std::lock_guard reload_lock(im.reload_mu);
  const auto old = im.snapshot();
  {
    std::lock_guard lk(im.mu);
    if (im.stop_requested) {
      ReloadResult r;
      r.generation = old->generation;
      r.errors.push_back("the gateway is draining or stopped");
      return r;
    }
  }
  const bool running = im.started;
  Prepared p = im.prepare(std::move(config), old.get(), running);
  ReloadResult r = p.summary;
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  if (!r.errors.empty() || !running) {
    r.ok = r.errors.empty();
    r.generation = old->generation;
    if (!r.ok) im.metrics->record_reload(false, old->generation, now);
    return r;
  }
  im.commit(p, *old);
  r.ok = true;
  r.generation = p.snap->generation;
  im.metrics->record_reload(true, r.generation, now);
  return r;
}

ReloadResult Gateway::reload_file(const std::string& path) {
  const std::string file = path.empty() ? impl_->snapshot()->config.source : path;
  if (file.empty()) {
    ReloadResult r;
    r.generation = generation();
    r.errors.push_back("no configuration file to reload (the configuration was built in code)");
    impl_->metrics->record_reload(false, r.generation,
                                  static_cast<std::int64_t>(std::time(nullptr)));
    return r;
  }
  auto loaded = config::load_config_file(file);
  if (!loaded.ok()) {
    ReloadResult r;
    r.generation = generation();
    for (const auto& e : loaded.errors) r.errors.push_back(e.to_string());
    impl_->metrics->record_reload(false, r.generation,
                                  static_cast<std::int64_t>(std::time(nullptr)));
    return r;
  }
  return reload(std::move(loaded.config));
}

void Gateway::reload_certificates() {
  // The running configuration again: certificate files are read anew (and
  // the rest is unchanged); all or nothing like any reload.
  ReloadResult r = reload(impl_->snapshot()->config);
  if (!r.ok) throw std::runtime_error(r.message());
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

unsigned Gateway::workers() const { return impl_->snapshot()->config.effective_workers(); }

std::uint16_t Gateway::listener_port(std::size_t i) const {
  std::lock_guard lk(impl_->mu);
  return impl_->ports.at(i);
}

std::uint16_t Gateway::admin_port() const { return impl_->admin ? impl_->admin->port() : 0; }

metrics::Metrics& Gateway::metrics() { return *impl_->metrics; }

cache::EdgeCache* Gateway::cache() { return impl_->cache.get(); }

log::AccessLog* Gateway::access_log() { return impl_->access_log.get(); }

void Gateway::reopen_logs() {
  if (impl_->access_log) impl_->access_log->reopen();
}

std::uint32_t Gateway::target_outstanding(std::size_t group, std::size_t target) const {
  return impl_->snapshot()->groups.at(group).group->members()[target]->outstanding.load(
      std::memory_order_relaxed);
}

config::Config Gateway::config() const { return impl_->snapshot()->config; }

std::uint64_t Gateway::generation() const { return impl_->snapshot()->generation; }

const upstream::TargetGroup* Gateway::target_group(std::string_view name) const {
  for (const auto& g : impl_->snapshot()->groups)
    if (g.group->name() == name) return g.group;
  return nullptr;
}

}  // namespace edge::server
