#pragma once
/// The embeddable gateway: listeners, workers, upstream pools, metrics and the
/// admin listener, built from a Config. `edged` is a thin main over this type.
/// Thread: construct, start, stop and wait from one controlling thread;
/// `run_worker` from the caller's worker threads when `own_threads` is false;
/// reload() / reload_file() / reload_certificates() from any thread.
///
/// Configuration reload (SIGHUP in edged, `POST /reload` on the admin API):
/// all or nothing. The new config is validated and everything it needs is
/// prepared first (routers, TLS contexts with their certificate files read
/// again, target addresses resolved, sockets of added listeners bound); on any
/// error nothing changes and every reason is returned. Otherwise a new
/// immutable Snapshot (worker.hpp) is posted to every worker:
/// - requests in flight finish on the snapshot they started with; the next
///   request on any connection, and every new connection, uses the new one;
/// - listeners are matched by their `listen` address: kept ones keep their
///   sockets and connections (new settings, rules and certificates apply to
///   new requests / connections); added ones are bound on every worker;
///   removed ones stop accepting and their connections drain (idle ones are
///   closed, busy ones after their response);
/// - target groups are matched by name and targets by id: kept targets keep
///   their Target (health and outlier state, counters, latency, pooled
///   connections); targets the file no longer lists drain (deregistration
///   delay) and new ones start `initial`, as a registration does. Changed
///   group settings (health check, algorithm, keep-alive, retries, ...) apply
///   to the kept targets. Targets registered through the admin API survive a
///   reload: the reload applies what changed between the two files, and the
///   auto-scaling hook that registered them is the source of truth for them.
///   A removed group's targets drain and the group leaves the admin API;
/// - process-wide objects (metrics, access log, health checker, the cache)
///   are kept; metrics of a listener, group or rule go on under its name.
/// What cannot change at run time, refused with the reason (restart, or a
/// binary hand-over, applies them): `workers`, the `admin` section,
/// `access_log` and `relay_buffer_bytes`.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edge/config/config.hpp"
#include "edge/proxy/hooks.hpp"

namespace edge::metrics {
class Metrics;
}
namespace edge::log {
class AccessLog;
class AccessLogSink;
}  // namespace edge::log
namespace edge::upstream {
class TargetGroup;
}
namespace edge::cache {
class EdgeCache;
}

namespace edge::server {

struct GatewayOptions {
  /// true: start() creates one thread per worker. false: the caller runs each
  /// worker with run_worker(i) on a thread of its own.
  bool own_threads = true;
  /// Where access-log lines go instead of `access_log.path` (embedding, tests).
  /// Ignored when the path is `off`.
  std::shared_ptr<log::AccessLogSink> access_log_sink;
  /// Access-log records queued per worker before new ones are dropped.
  std::size_t access_log_ring_records = 1024;  // about 1.2 KiB each
  /// Binary upgrade (handover.hpp): take the listening sockets of the running
  /// edged whose `admin.upgrade_socket` is this path, instead of binding; the
  /// old process then drains and exits. Empty: bind as usual.
  std::string takeover_path;
  /// Called (on the hand-over thread) once this gateway handed its sockets to
  /// a new process and started draining; e.g. to wake a waiting main thread.
  std::function<void()> on_handed_over;
  /// Test-only: replace every target group's health-check interval and timeout
  /// after validation. The ALB ranges (interval 5–300 s, timeout 2–120 s) stay
  /// enforced for every Config, from a file or built in code; only an embedder
  /// that asks for it here gets shorter checks. No config key reaches these.
  std::optional<std::chrono::milliseconds> health_check_interval;
  std::optional<std::chrono::milliseconds> health_check_timeout;
  /// Test-only: the clock of slow start and draining (nullptr: steady_clock),
  /// so that a test moves a ramp along without waiting for it.
  std::chrono::steady_clock::time_point (*health_clock)() = nullptr;
  /// Test-only: the clock (Unix seconds) the response cache reads for ages and
  /// freshness. Empty: the system clock.
  std::function<std::int64_t()> cache_clock;
};

/// Outcome of a configuration reload.
struct ReloadResult {
  bool ok = false;
  /// Configuration generation in use after the call (1 at start, +1 per
  /// successful reload, certificate reloads included).
  std::uint64_t generation = 0;
  /// Why the new configuration was refused (every reason; empty when ok).
  std::vector<std::string> errors;
  /// What changed (ok only): counts of listeners and targets.
  std::size_t listeners_added = 0, listeners_removed = 0;
  std::size_t target_groups_added = 0, target_groups_removed = 0;
  std::size_t targets_added = 0, targets_removed = 0;
  /// One line: "generation N" or the errors joined with "; ".
  std::string message() const;
};

class Gateway {
 public:
  /// Validates the config and resolves targets; throws std::runtime_error with
  /// every error on an invalid config.
  explicit Gateway(config::Config config, std::shared_ptr<proxy::ProxyHooks> hooks = nullptr,
                   GatewayOptions options = {});
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  /// Binds every listener (SO_REUSEPORT, one acceptor per worker) and the admin
  /// listener, then starts serving. Throws std::system_error if a bind fails.
  void start();
  /// With own_threads=false: runs worker `i` on the calling thread until stopped.
  void run_worker(unsigned i);
  /// Stops accepting, lets in-flight requests finish within `deadline`, closes
  /// idle connections, then stops. Returns at once; wait() blocks until done.
  void drain(std::chrono::milliseconds deadline);
  /// Stops at once: every connection is closed.
  void stop();
  /// Loads every HTTPS listener's certificates (and trust store) again from
  /// their files. All or nothing: on any error nothing changes and
  /// std::runtime_error says what is wrong; otherwise new connections use the
  /// new certificates while open ones go on with the old. Thread-safe.
  void reload_certificates();
  /// Swaps in `config` (see the top of this file). Never throws: the result
  /// says what was wrong, and the running configuration stays on error.
  /// Before start(), only validates and prepares it (nothing to swap into).
  ReloadResult reload(config::Config config);
  /// reload() with the configuration read from `path`; empty: the file the
  /// running configuration came from (`Config::source`). A file that cannot be
  /// read or parsed is refused like an invalid one, with file:line:column.
  ReloadResult reload_file(const std::string& path = {});
  /// Blocks until every worker (and the admin listener) has stopped.
  void wait();

  unsigned workers() const;
  /// Bound port of listener `i` (useful with port 0).
  std::uint16_t listener_port(std::size_t i) const;
  /// Bound port of the admin listener (0 when disabled).
  std::uint16_t admin_port() const;
  metrics::Metrics& metrics();
  /// The response cache (nullptr when `cache.memory` is 0). Thread-safe.
  cache::EdgeCache* cache();
  /// The access log (nullptr when `access_log.path` is off).
  log::AccessLog* access_log();
  /// Thread-safe: the access-log file is reopened before the next write
  /// (log rotation; edged calls it on SIGUSR1).
  void reopen_logs();
  /// Requests (or upgraded connections) in flight on target `target` of target
  /// group `group` (running config order), across workers.
  std::uint32_t target_outstanding(std::size_t group, std::size_t target) const;
  /// A copy of the running configuration (it may be replaced by a reload).
  config::Config config() const;
  /// The running configuration generation (1 at start).
  std::uint64_t generation() const;
  /// The run-time group named `name` (targets with their state, counters), or
  /// nullptr. Read-only: its atomics may be read from any thread.
  const upstream::TargetGroup* target_group(std::string_view name) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edge::server
