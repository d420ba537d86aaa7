#include "edge/server/gateway.hpp"

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "edge/config/loader.hpp"
#include "edge/metrics/metrics.hpp"
#include "edge/proxy/router.hpp"
#include "edge/server/admin_server.hpp"
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
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  std::unique_ptr<AdminServer> admin;
  std::unique_ptr<upstream::HealthChecker> health;
  std::vector<std::uint16_t> ports;
  std::atomic<std::uint32_t> pool_slots{0};  // numbers targets' pool slots across groups

  std::mutex mu;
  std::condition_variable cv;
  unsigned running = 0;
  bool started = false;
  bool stop_requested = false;
  std::thread drain_watch;

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

  std::vector<std::string> group_names;
  for (std::size_t i = 0; i < st.config.target_groups.size(); ++i) {
    GroupRuntime g;
    g.group = std::make_unique<upstream::TargetGroup>(
        st.config.target_groups[i], static_cast<std::uint32_t>(i), &impl_->pool_slots);
    group_names.push_back(g.group->name());
    st.groups.push_back(std::move(g));
  }
  st.pool_slots = impl_->pool_slots.load();

  std::vector<std::string> listener_names;
  for (std::size_t i = 0; i < st.config.listeners.size(); ++i) {
    const auto& lc = st.config.listeners[i];
    if (lc.protocol != config::Protocol::http)
      throw std::runtime_error("listener '" + lc.name +
                               "': protocol HTTPS is not supported by this version of edged");
    ListenerRuntime lr;
    lr.config = &lc;
    lr.index = i;
    lr.router = std::make_shared<const proxy::Router>(lc, group_names);
    st.listeners.push_back(std::move(lr));
    listener_names.push_back(lc.name);
  }
  impl_->metrics = std::make_unique<metrics::Metrics>(listener_names, group_names,
                                                      st.config.effective_workers());
  st.metrics = impl_->metrics.get();

  std::vector<upstream::TargetGroup*> groups;
  std::vector<const upstream::TargetGroup*> const_groups;
  for (auto& g : st.groups) {
    groups.push_back(g.group.get());
    const_groups.push_back(g.group.get());
  }
  impl_->metrics->add_collectable(upstream::make_target_collectable(std::move(const_groups)));
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
  for (unsigned i = 0; i < n; ++i)
    im.workers.push_back(std::make_unique<Worker>(i, st, im.metrics->shard(i)));
  im.ports.clear();
  for (const auto& l : st.config.listeners) im.ports.push_back(l.listen.port);
  // The first worker may bind port 0; the others join the port it got.
  for (auto& w : im.workers) w->bind(im.ports);
  for (std::size_t i = 0; i < st.listeners.size(); ++i) {
    st.listeners[i].port = im.ports[i];
    st.listeners[i].port_text = std::to_string(im.ports[i]);
  }
  // Before the admin API: registration calls run on the checker's thread.
  im.health->start();
  if (st.config.admin.enabled) {
    im.admin = std::make_unique<AdminServer>(st.config.admin.listen, st.config.admin.token);
    im.admin->add_route("GET", "/healthz", [this](const AdminRequest&) {
      std::lock_guard lk(impl_->mu);
      return impl_->stop_requested ? AdminResponse::text(503, "draining\n")
                                   : AdminResponse::text(200, "ok\n");
    });
    add_metrics_routes(*im.admin, *im.metrics);
    add_target_group_routes(*im.admin, *im.health);
    im.admin->start();
  }
  im.started = true;
  im.running = n;
  if (im.options.own_threads) {
    for (unsigned i = 0; i < n; ++i) im.threads.emplace_back([this, i] { run_worker(i); });
  }
}

void Gateway::run_worker(unsigned i) {
  impl_->workers.at(i)->run();
  impl_->worker_done();
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
  if (im.admin) im.admin->stop();
  im.health->stop();
}

unsigned Gateway::workers() const { return impl_->state.config.effective_workers(); }

std::uint16_t Gateway::listener_port(std::size_t i) const { return impl_->ports.at(i); }

std::uint16_t Gateway::admin_port() const { return impl_->admin ? impl_->admin->port() : 0; }

metrics::Metrics& Gateway::metrics() { return *impl_->metrics; }

const config::Config& Gateway::config() const { return impl_->state.config; }

const upstream::TargetGroup* Gateway::target_group(std::string_view name) const {
  for (const auto& g : impl_->state.groups)
    if (g.group->name() == name) return g.group.get();
  return nullptr;
}

}  // namespace edge::server
