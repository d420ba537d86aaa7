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
#include <vector>

#include <boost/asio/post.hpp>

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

/// A listener as the data plane sees it (shared, immutable while serving).
struct ListenerRuntime {
  const config::ListenerConfig* config = nullptr;
  std::size_t index = 0;
  std::uint16_t port = 0;  // bound port
  std::string port_text;   // for X-Forwarded-Port
  std::shared_ptr<const proxy::Router> router;
  /// HTTPS: one TLS context per worker (index = worker), sharing certificates
  /// and session-ticket keys; empty for HTTP.
  std::vector<std::shared_ptr<tls::ServerContext>> tls;
  std::size_t rule_slot_base = 0;  // first of its WorkerShard::rule_requests slots
};

/// A target group as the data plane sees it. Its members change at run time
/// (`group->members()`, an atomically published snapshot); each target's pool
/// slot is `Target::pool_slot`.
struct GroupRuntime {
  std::unique_ptr<upstream::TargetGroup> group;
  /// HTTPS groups: one TLS client context per worker (index = worker).
  std::vector<std::shared_ptr<tls::ClientContext>> tls;
};

/// What all workers share: read-only after start.
struct SharedState {
  config::Config config;
  std::vector<ListenerRuntime> listeners;
  std::vector<GroupRuntime> groups;
  std::size_t pool_slots = 0;  // pool slots of the configured targets (grows at run time)
  std::shared_ptr<proxy::ProxyHooks> hooks;
  metrics::Metrics* metrics = nullptr;
  log::AccessLog* access_log = nullptr;  // nullptr: access_log.path is off
  /// The process's response cache (Gateway-owned, survives reloads); nullptr
  /// when `cache.memory` is 0.
  cache::EdgeCache* cache = nullptr;
};



class Worker {
 public:
  Worker(unsigned index, const SharedState& state, metrics::WorkerShard& shard);
  ~Worker();

  /// Opens this worker's acceptor for each listener. `ports[i]` is the port to
  /// bind (the first worker may bind 0 and report the chosen one back).
  void bind(std::vector<std::uint16_t>& ports);
  /// Opens this worker's acceptor for listener `i` only (see bind()).
  void bind_listener(std::size_t i, std::uint16_t& port);
  /// Accepts for listener `i` on an inherited listening socket (binary
  /// upgrade); the worker owns `fd` from here. Returns its bound port.
  std::uint16_t adopt(std::size_t i, int fd);
  /// (listener index, descriptor) of every listening socket: for a hand-over,
  /// read on the controlling thread before run().
  std::vector<std::pair<std::size_t, int>> listening_fds() const;
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
  const SharedState& state() const { return state_; }
  metrics::WorkerShard& shard() { return shard_; }
  DeadlineList& deadlines() { return deadlines_; }
  const DateCache& date() const { return date_; }
  upstream::UpstreamPool& pool() { return pool_; }
  BufferPool& relay_buffers() { return relay_buffers_; }
  upstream::Balancer& balancer(std::size_t group) { return *balancers_[group]; }
  /// This worker's TLS context for listener `l` (null for HTTP listeners).
  /// A connection keeps the one it started with; a reload replaces it for new ones.
  const std::shared_ptr<tls::ServerContext>& tls_context(std::size_t l) const { return tls_[l]; }
  /// Worker thread: new connections on listener `l` use `ctx` from now on.
  void set_tls_context(std::size_t l, std::shared_ptr<tls::ServerContext> ctx) {
    tls_[l] = std::move(ctx);
  }
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
  static Task<void> tick_loop(Worker* self);
  void on_drain();
  void close_all_sessions();
  void maybe_finish();

  // Declared first, destroyed explicitly first in ~Worker: pending coroutine
  // frames (sessions) refer to the members below.
  std::unique_ptr<asio::io_context> ioc_ = std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO);
  unsigned index_;
  const SharedState& state_;
  metrics::WorkerShard& shard_;
  DeadlineList deadlines_;
  DateCache date_;
  upstream::UpstreamPool pool_;
  BufferPool relay_buffers_;
  std::vector<std::unique_ptr<upstream::Balancer>> balancers_;
  struct AcceptorEntry {
    std::unique_ptr<Acceptor> acceptor;
    std::size_t listener = 0;
  };
  std::vector<AcceptorEntry> acceptors_;
  std::vector<std::shared_ptr<tls::ServerContext>> tls_;  // by listener
  std::unique_ptr<Timer> tick_;
  std::mt19937_64 rng_;
  std::vector<proxy::Session*> sessions_;
  bool draining_ = false;
  bool stopped_ = false;
};

}  // namespace edge::server
