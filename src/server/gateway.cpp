#include "edge/server/gateway.hpp"

#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "edge/config/loader.hpp"
#include "edge/metrics/metrics.hpp"
#include "edge/proxy/router.hpp"
#include "edge/server/admin_server.hpp"
#include "edge/server/handover.hpp"
#include "edge/server/worker.hpp"
#include "edge/upstream/target.hpp"

namespace edge::server {

struct Gateway::Impl {
  GatewayOptions options;
  SharedState state;
  std::unique_ptr<metrics::Metrics> metrics;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  std::unique_ptr<AdminServer> admin;
  std::vector<std::uint16_t> ports;
  ListenerFds listening;  // every listening socket, for a hand-over
  std::unique_ptr<HandoverServer> handover;

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
  std::size_t slot = 0;
  for (std::size_t i = 0; i < st.config.target_groups.size(); ++i) {
    GroupRuntime g;
    g.group = std::make_unique<upstream::TargetGroup>(st.config.target_groups[i],
                                                      static_cast<std::uint32_t>(i));
    for (const auto& t : g.group->targets()) g.targets.push_back(t.get());
    g.slot_base = slot;
    slot += g.targets.size();
    group_names.push_back(g.group->name());
    st.groups.push_back(std::move(g));
  }
  st.pool_slots = slot;

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
  auto start_admin = [&] {
    if (!st.config.admin.enabled) return;
    im.admin = std::make_unique<AdminServer>(st.config.admin.listen, st.config.admin.token);
    im.admin->add_route("GET", "/healthz", [this](const AdminRequest&) {
      std::lock_guard lk(impl_->mu);
      return impl_->stop_requested ? AdminResponse::text(503, "draining\n")
                                   : AdminResponse::text(200, "ok\n");
    });
    add_metrics_routes(*im.admin, *im.metrics);
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
}

unsigned Gateway::workers() const { return impl_->state.config.effective_workers(); }

std::uint16_t Gateway::listener_port(std::size_t i) const { return impl_->ports.at(i); }

std::uint16_t Gateway::admin_port() const { return impl_->admin ? impl_->admin->port() : 0; }

metrics::Metrics& Gateway::metrics() { return *impl_->metrics; }

std::uint32_t Gateway::target_outstanding(std::size_t group, std::size_t target) const {
  return impl_->state.groups.at(group).targets.at(target)->outstanding.load(
      std::memory_order_relaxed);
}

const config::Config& Gateway::config() const { return impl_->state.config; }

}  // namespace edge::server
