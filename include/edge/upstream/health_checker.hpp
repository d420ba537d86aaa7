#pragma once
/// The control unit for targets: active health checks, draining and run-time
/// registration (the admin API calls it), for every target group of the
/// process.
///
/// Health checks: one thread with
/// its own io_context (never a worker's), each target probed once per interval
/// (± 10 % jitter) over a connection of its own (never a pooled one). HTTP
/// probes send `GET <path>` and match the status line against the matcher; TCP
/// probes only connect. HTTPS probes (the default for an HTTPS target group, as
/// ALB) do a full TLS handshake first (SNI = the target's host name or the
/// group's `tls.server_name`; verification as the group's `tls` says, off by
/// default), with a client context of this thread's own: a failed handshake is
/// a failed check (Target.FailedHealthChecks). Results go through TargetHealth
/// (the pure state machine) and are published into the targets' atomics, which
/// the workers read.
///
/// The same thread also ends passive ejections (when the ejection time is over
/// and, with checks enabled, a check passed after it), and ramps slow-start
/// weights (every tick, 100 ms).
/// Registration: register_targets / deregister_target / set_weight validate
/// everything first and apply nothing on an error; they run on the checker
/// thread (the caller waits), which is the only writer of membership and
/// health. Deregistered targets drain: no new request at once, gone (`unused`,
/// removed from the members) after deregistration_delay or as soon as nothing
/// is in flight. With a state file, the membership of each group is saved
/// after every change (write-then-rename) and restored at construction.
/// Thread: constructed, started and stopped by the controlling thread; the
/// registration calls from any other thread (the admin thread); all other work
/// runs on its own thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "edge/config/config.hpp"
#include "edge/core/types.hpp"
#include "edge/upstream/target.hpp"
#include "edge/upstream/target_health.hpp"

namespace edge::tls {
class ClientContext;
}

namespace edge::upstream {

struct HealthCheckerOptions {
  /// Test-only: replaces every group's health-check interval / timeout after
  /// validation (the ALB minimum of 5 s is too long for tests). Never set from
  /// a config file: there is no key for it.
  std::optional<config::Duration> interval_override;
  std::optional<config::Duration> timeout_override;
  /// Period of the tick that ends ejections and ramps slow start.
  config::Duration tick = std::chrono::milliseconds(100);
  /// Test-only: the clock of slow start and draining (nullptr: steady_clock).
  /// Probe timing stays on the real clock. Called on the checker thread.
  std::chrono::steady_clock::time_point (*now)() = nullptr;
};

/// One target of a registration request.
struct TargetSpec {
  std::string id;  // "host:port" or "[v6]:port"
  std::uint32_t weight = 1;
};

/// Outcome of a registration call: status 200, or a 4xx and why.
struct RegistryResult {
  int status = 200;
  std::string message;
  bool ok() const { return status < 300; }
};

/// One target group of a configuration reload (HealthChecker::reconfigure).
struct GroupReload {
  TargetGroup* group = nullptr;
  /// New in this configuration: built from it already, only to be checked.
  bool created = false;
  /// Kept groups: the new settings (health check, delays, algorithm, ...).
  config::TargetGroupConfig config;
  /// Kept groups: targets the previous configuration listed and this one does
  /// not (they drain), and targets this one lists that the previous did not,
  /// resolved (they start `initial`). Targets registered through the API are
  /// in neither list: a reload leaves them alone.
  std::vector<std::string> removed;
  std::vector<std::pair<TargetSpec, asio::ip::tcp::endpoint>> added;
  /// Kept groups: configured targets in both whose configured weight changed.
  std::vector<TargetSpec> reweighted;
};

class HealthChecker {
 public:
  /// `groups` must outlive the checker. With a `state_file` that exists, the
  /// membership saved there replaces the configured one of each group it names
  /// (throws std::runtime_error if it cannot be read or parsed).
  HealthChecker(const std::vector<TargetGroup*>& groups, HealthCheckerOptions options = {},
                std::string state_file = {});
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  /// Starts the thread; the first probe of each target goes out at once.
  void start();
  /// Stops probing and joins the thread (idempotent).
  void stop();

  /// Probe results counted so far (tests wait on these).
  std::uint64_t checks_done() const { return checks_done_.load(std::memory_order_relaxed); }

  /// Registers targets (state `initial`, probed at once): 404 unknown group,
  /// 400 invalid id or weight, 409 already registered or listed twice.
  RegistryResult register_targets(std::string_view group, const std::vector<TargetSpec>& targets);
  /// Deregisters a member: `draining` now (404 when it is not a member).
  RegistryResult deregister_target(std::string_view group, std::string_view id);
  /// Changes a member's weight (1..999).
  RegistryResult set_weight(std::string_view group, std::string_view id, std::uint32_t weight);

  /// Configuration reload, on the checker thread (the caller waits). `groups`
  /// is every group of the new configuration; groups not in it any more
  /// (`removed`) drain all their members and leave the registry (the API
  /// answers 404 for them). Kept targets keep their state; changed health-check
  /// settings apply to them from their next probe (thresholds at once; turning
  /// checks on or off restarts their state as a registration does).
  void reconfigure(std::vector<GroupReload> groups, std::vector<TargetGroup*> removed);

  /// The groups in the registry now (any thread; reconfigure() changes it).
  std::vector<TargetGroup*> groups() const {
    std::lock_guard lock(groups_mu_);
    return groups_;
  }
  /// Any thread: the group named `name` in the registry, or nullptr.
  TargetGroup* find_group(std::string_view name) const;

 private:
  struct Entry {
    TargetGroup* group = nullptr;
    Target* target = nullptr;
    TargetHealth health;
    StatusMatcher matcher;
    asio::ip::tcp::endpoint probe_endpoint;
    std::string request;  // the HTTP(S) probe request; empty = TCP probe
    std::chrono::milliseconds interval{};
    std::chrono::milliseconds timeout{};
    std::uint64_t generation = 0;  // a probe loop stops when it changes
    bool https = false;                       // HTTPS probes: through `tls`
    std::shared_ptr<tls::ClientContext> tls;  // the group's (null: could not be built)
    std::string tls_host;                     // the target's host (SNI unless an IP address)
  };
  struct ProbeResult {
    bool ok = false;
    TargetReason failure = TargetReason::failed_health_checks;
    int status = 0;
    std::chrono::microseconds latency{};
  };

  static Task<void> probe_loop(HealthChecker* self, Entry* e, std::uint64_t generation);
  static Task<void> tick_loop(HealthChecker* self);
  static Task<ProbeResult> probe(HealthChecker* self, Entry* e);
  void apply(Entry& e, const ProbeResult& r);
  void publish(Entry& e);
  void tick();
  std::chrono::milliseconds jittered(std::chrono::milliseconds d);
  /// The clock of slow start and draining (HealthCheckerOptions::now).
  std::chrono::steady_clock::time_point now() const;
  Entry& entry_for(TargetGroup& g, Target& t);
  /// The client context of `g`'s HTTPS checks, built on first use (null and
  /// logged when it cannot be).
  std::shared_ptr<tls::ClientContext> tls_for(const TargetGroup& g);
  /// (Re)computes an entry's probe settings from its group's current config.
  void configure_entry(Entry& e);
  void finish_drain(Entry& e);
  void start_probing(Entry& e);
  /// Runs `fn` on the checker thread and waits (directly when not started).
  RegistryResult run_sync(const std::function<RegistryResult()>& fn);
  void load_state();
  void save_state();

  // Destroyed in reverse: the io_context (and the coroutine frames it holds)
  // goes before the entries the frames point to.
  std::vector<std::unique_ptr<Entry>> entries_;
  mutable std::mutex groups_mu_;  // guards groups_ (written on the checker thread)
  std::vector<TargetGroup*> groups_;
  /// Per group with HTTPS checks: the client context of its probes (checker
  /// thread; built again when a reload keeps the group).
  std::map<const TargetGroup*, std::shared_ptr<tls::ClientContext>> tls_;
  HealthCheckerOptions options_;
  std::mt19937_64 rng_{0x5eed};
  std::atomic<std::uint64_t> checks_done_{0};
  std::unique_ptr<asio::io_context> ioc_;
  std::unique_ptr<Timer> tick_timer_;
  std::thread thread_;
  std::string state_file_;
  bool started_ = false;
};

}  // namespace edge::upstream
