#pragma once
/// Active health checks for every target group of the process: one thread with
/// its own io_context (never a worker's), each target probed once per interval
/// (± 10 % jitter) over a connection of its own (never a pooled one). HTTP
/// probes send `GET <path>` and match the status line against the matcher; TCP
/// probes only connect (HTTPS probes connect over TCP too until upstream TLS
/// exists). Results go through TargetHealth (the pure state machine) and are
/// published into the targets' atomics, which the workers read.
///
/// The same thread also ends passive ejections (when the ejection time is over
/// and, with checks enabled, a check passed after it), and ramps slow-start
/// weights (every tick, 100 ms).
/// Thread: constructed, started and stopped by the controlling thread; all
/// other work runs on its own thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "edge/config/config.hpp"
#include "edge/core/types.hpp"
#include "edge/upstream/target.hpp"
#include "edge/upstream/target_health.hpp"

namespace edge::upstream {

struct HealthCheckerOptions {
  /// Test-only: replaces every group's health-check interval / timeout after
  /// validation (the ALB minimum of 5 s is too long for tests). Never set from
  /// a config file: there is no key for it.
  std::optional<config::Duration> interval_override;
  std::optional<config::Duration> timeout_override;
  /// Period of the tick that ends ejections and ramps slow start.
  config::Duration tick = std::chrono::milliseconds(100);
};

class HealthChecker {
 public:
  /// `groups` must outlive the checker.
  HealthChecker(const std::vector<TargetGroup*>& groups, HealthCheckerOptions options = {});
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  /// Starts the thread; the first probe of each target goes out at once.
  void start();
  /// Stops probing and joins the thread (idempotent).
  void stop();

  /// Probe results counted so far (tests wait on these).
  std::uint64_t checks_done() const { return checks_done_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    TargetGroup* group = nullptr;
    Target* target = nullptr;
    TargetHealth health;
    StatusMatcher matcher;
    asio::ip::tcp::endpoint probe_endpoint;
    std::string request;  // the HTTP probe request; empty = TCP probe
    std::chrono::milliseconds interval{};
    std::chrono::milliseconds timeout{};
  };
  struct ProbeResult {
    bool ok = false;
    TargetReason failure = TargetReason::failed_health_checks;
    int status = 0;
    std::chrono::microseconds latency{};
  };

  static Task<void> probe_loop(HealthChecker* self, Entry* e);
  static Task<void> tick_loop(HealthChecker* self);
  static Task<ProbeResult> probe(HealthChecker* self, Entry* e);
  void apply(Entry& e, const ProbeResult& r);
  void publish(Entry& e);
  void tick();
  std::chrono::milliseconds jittered(std::chrono::milliseconds d);

  // Destroyed in reverse: the io_context (and the coroutine frames it holds)
  // goes before the entries the frames point to.
  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<TargetGroup*> groups_;
  HealthCheckerOptions options_;
  std::mt19937_64 rng_{0x5eed};
  std::atomic<std::uint64_t> checks_done_{0};
  std::unique_ptr<asio::io_context> ioc_;
  std::unique_ptr<Timer> tick_timer_;
  std::thread thread_;
  bool started_ = false;
};

}  // namespace edge::upstream
