#pragma once
/// One event loop per core: a worker owns an `io_context{1}`, its acceptors (one
/// SO_REUSEPORT socket per listener), its upstream pool, its balancers, its
/// metrics shard, its deadline list and Date cache. A client connection and the
/// upstream connections it uses never leave their worker.
/// Thread: everything here is touched only by the worker's own thread, except
/// the constructor/bind (controlling thread, before run) and post()ed calls.

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>

#include "edge/config/config.hpp"
#include "edge/core/buffer_pool.hpp"
#include "edge/core/date_cache.hpp"
#include "edge/core/deadline.hpp"
#include "edge/core/types.hpp"
#include "edge/metrics/metrics.hpp"
#include "edge/upstream/balancer.hpp"
#include "edge/upstream/upstream_pool.hpp"

namespace edge::proxy {
class ProxyHooks;
class Router;
class Session;
}  // namespace edge::proxy

namespace edge::tls {
class ClientContext;
class ServerContext;
}  // namespace edge::tls
namespace edge::log {
class AccessLog;
}
namespace edge::cache {
class EdgeCache;
}

namespace edge::server {

/// A listener as the data plane sees it: part of a Snapshot, immutable.
struct ListenerRuntime {
  const config::ListenerConfig* config = nullptr;  // into Snapshot::config
  /// Metrics and access-log slot: stable across reloads for the same listener
  /// name (Metrics::listener_slot), so counters go on where they were.
  std::size_t index = 0;
  /// Identity across reloads: the listen address as configured (`listen`). A
  /// reload that keeps it keeps the bound sockets and their connections.
  std::string key;
  std::uint16_t port = 0;  // bound port
  std::string port_text;   // for X-Forwarded-Port
  std::shared_ptr<const proxy::Router> router;
  /// HTTPS: one TLS context per worker (index = worker), sharing certificates
  /// and session-ticket keys; empty for HTTP. A connection keeps the context
  /// it was accepted with; a reload gives new connections the new one.
  std::vector<std::shared_ptr<tls::ServerContext>> tls;
  /// WorkerShard::rule_requests slot of each rule (RouteResult::rule), then
  /// of the default action: stable across reloads per (listener, priority).
  std::vector<std::size_t> rule_slots;
};

/// A target group as the data plane sees it. Its members change at run time
/// (`group->members()`, an atomically published snapshot); each target's pool
/// slot is `Target::pool_slot`.
struct GroupRuntime {
  /// Owned by the gateway and kept for its whole life (workers, pooled
  /// connections and in-flight requests hold raw Target pointers). A reload
  /// keeps the same object for a group of the same name.
  upstream::TargetGroup* group = nullptr;
  /// HTTPS groups: one TLS client context per worker (index = worker).
  std::vector<std::shared_ptr<tls::ClientContext>> tls;
};

/// Everything one configuration generation routes with: the config itself,
/// compiled routers, listener settings and TLS contexts, references to the
/// target groups. Immutable once published and shared by
/// `std::shared_ptr<const Snapshot>`: the controlling thread builds one per
/// (re)load and posts it to every worker, which keeps it in a plain member; a
/// session copies that pointer when a request starts (only when it changed: a
/// pointer compare per request), so a request finishes on the snapshot it
/// started with while the next request on the same connection uses the new one.
/// Process-wide objects (metrics, access log, cache, target state) are not part
/// of it: they outlive every snapshot and a reload keeps them.
struct Snapshot {
  config::Config config;
  std::uint64_t generation = 1;  // 1 at start, +1 per successful reload
  std::vector<ListenerRuntime> listeners;  // config order
  std::vector<GroupRuntime> groups;        // config order (Router's group indices)
  std::shared_ptr<proxy::ProxyHooks> hooks;
  metrics::Metrics* metrics = nullptr;   // process-wide, not owned
  log::AccessLog* access_log = nullptr;  // process-wide; nullptr: access_log.path is off

  /// The listener with this key (listen address), or nullptr.
  const ListenerRuntime* find_listener(std::string_view key) const {
    for (const auto& l : listeners)
      if (l.key == key) return &l;
    return nullptr;
  }
  /// The process's response cache (Gateway-owned, the same in every snapshot:
  /// it survives reloads); nullptr when `cache.memory` is 0.
  cache::EdgeCache* cache = nullptr;
};

class Worker {
 public:
  Worker(unsigned index, std::shared_ptr<const Snapshot> snapshot, metrics::WorkerShard& shard);
  ~Worker();

  /// Opens this worker's acceptor for listener `i` of the snapshot (before
  /// run). `port` is the port to bind (the first worker may bind 0 and report
  /// the chosen one back).
  void bind_listener(std::size_t i, std::uint16_t& port);
  /// Accepts for listener `i` on an inherited listening socket (binary
  /// upgrade, before run); the worker owns `fd` from here. Returns its port.
  std::uint16_t adopt(std::size_t i, int fd);
  /// A listening socket for `listener` bound and listening (SO_REUSEPORT),
  /// made without any worker (a reload opens added listeners with it, then
  /// each worker adopts one). `port` as in bind_listener(). Throws
  /// std::system_error naming the listener.
  static int open_listening_socket(const config::ListenerConfig& listener, std::uint16_t& port);
  /// (listener key, descriptor) of every open listening socket: for a
  /// hand-over, read on the controlling thread before run().
  std::vector<std::pair<std::string, int>> listening_fds() const;
  /// Thread-safe (posted): from now on new requests use `snapshot`. Listening
  /// sockets of listeners it no longer has are closed (idle connections on them
  /// closed, busy ones after their response); `added` are listening sockets
  /// (key, descriptor) of listeners new in it, owned by the worker from here.
  void swap_snapshot(std::shared_ptr<const Snapshot> snapshot,
                     std::vector<std::pair<std::string, int>> added);
  /// Runs the event loop on the calling thread until stopped.
  void run();
  /// Thread-safe: stop accepting, close idle client connections, let requests
  /// in flight finish; the loop exits when no session is left.
  void drain();
  /// Thread-safe: close everything now and exit the loop.
  void stop();

  Executor executor() { return ioc_->get_executor(); }
  unsigned index() const { return index_; }

  // ---- used by sessions (worker thread only) ----
  /// The current snapshot (a plain member: the worker thread only reads it).
  const std::shared_ptr<const Snapshot>& snapshot() const { return snapshot_; }
  metrics::WorkerShard& shard() { return shard_; }
  DeadlineList& deadlines() { return deadlines_; }
  const DateCache& date() const { return date_; }
  upstream::UpstreamPool& pool() { return pool_; }
  BufferPool& relay_buffers() { return relay_buffers_; }
  /// This worker's balancer for the target group in metrics slot `group`
  /// (TargetGroup::index()); kept across reloads unless the algorithm changes.
  upstream::Balancer& balancer(std::size_t group) { return *balancers_[group]; }
  /// Thread-safe: runs `f` on this worker's thread.
  template <class F>
  void post(F&& f) {
    asio::post(*ioc_, std::forward<F>(f));
  }
  std::uint64_t random() { return rng_(); }
  bool draining() const { return draining_; }
  void add_session(proxy::Session* s);
  void remove_session(proxy::Session* s);

 private:
  static Task<void> accept_loop(Worker* self, std::size_t entry);
  void on_swap(std::shared_ptr<const Snapshot> snapshot,
               std::vector<std::pair<std::string, int>> added);
  void update_balancers();
  static Task<void> tick_loop(Worker* self);
  void on_drain();
  void close_all_sessions();
  void maybe_finish();

  // Declared first, destroyed explicitly first in ~Worker: pending coroutine
  // frames (sessions) refer to the members below.
  std::unique_ptr<asio::io_context> ioc_ = std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO);
  unsigned index_;
  std::shared_ptr<const Snapshot> snapshot_;
  metrics::WorkerShard& shard_;
  DeadlineList deadlines_;
  DateCache date_;
  upstream::UpstreamPool pool_;
  BufferPool relay_buffers_;
  std::vector<std::unique_ptr<upstream::Balancer>> balancers_;  // by group slot
  std::vector<config::Algorithm> balancer_algorithms_;            // by group slot
  struct AcceptorEntry {
    std::unique_ptr<Acceptor> acceptor;
    std::string key;           // listener key
    std::size_t listener = 0;  // its index in snapshot_->listeners (updated on swap)
    bool open = true;          // false once its listener was removed by a reload
  };
  // Entries are never erased while running: accept loops refer to them by index.
  std::vector<AcceptorEntry> acceptors_;
  std::unique_ptr<Timer> tick_;
  std::mt19937_64 rng_;
  std::vector<proxy::Session*> sessions_;
  bool draining_ = false;
  bool stopped_ = false;
};

}  // namespace edge::server
