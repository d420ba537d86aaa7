#pragma once
/// A target (one app instance) and a target group at run time.
/// Thread: shared by all workers. The atomics are written with relaxed ordering:
/// `outstanding`, `requests` and the passive-health counters by workers,
/// `status`, `effective_weight` and the last-check fields by the health checker
/// (control thread); everything else is immutable after construction.
/// A Target is never freed while the gateway runs (workers keep raw pointers).

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "edge/config/config.hpp"
#include "edge/upstream/target_state.hpp"

namespace edge::upstream {

/// Full scale of Target::ramp: a slow start ramp keeps a fine resolution even
/// for weight 1.
inline constexpr std::uint32_t kWeightScale = 1000;

struct alignas(64) Target {
  std::string id;                          // as configured, "host:port"
  boost::asio::ip::tcp::endpoint endpoint; // resolved at load
  /// Weight 1..999 (changed at run time by the admin API).
  std::atomic<std::uint32_t> weight{1};
  std::uint32_t index = 0;      // creation order in its group (ExcludeSet bit)
  std::uint32_t pool_slot = 0;  // per-worker pool slot, unique in the gateway

  /// Requests picked for this target and not yet finished, across all workers
  /// (counted from pick, connect time included, to the end of the relay).
  alignas(64) std::atomic<std::uint32_t> outstanding{0};
  /// Requests sent to this target (counted at pick, on the line `outstanding`
  /// already owns).
  std::atomic<std::uint64_t> requests{0};
  /// TargetStatus word: state, reason, ejected flag.
  std::atomic<std::uint32_t> status{
      TargetStatus::pack(TargetState::unavailable, TargetReason::health_check_disabled)};
  /// Share of `weight` in use, per kWeightScale (1000 = all of it): lowered
  /// during slow start, never 0. Written by the health checker.
  std::atomic<std::uint32_t> ramp{kWeightScale};
  /// Passive health (workers): results in a row since the last success.
  std::atomic<std::uint32_t> consecutive_5xx{0};
  std::atomic<std::uint32_t> consecutive_gateway_errors{0};
  /// Peak-EWMA of the response time (request sent → response head), µs; 0 = no
  /// sample yet; as of `latency_stamp_us` (steady_us() of the last sample).
  /// least_latency reads both and decays the value with the time since.
  std::atomic<std::uint32_t> latency_ewma_us{0};
  std::atomic<std::int64_t> latency_stamp_us{0};
  /// Gateway-side failures (connect refused/timeout, reset): TargetConnectionErrorCount.
  std::atomic<std::uint64_t> connection_errors{0};

  // ---- written by the health checker (control thread), read by the admin API ----
  alignas(64) std::atomic<std::uint32_t> times_ejected{0};
  std::atomic<std::uint64_t> ejections{0};
  /// steady_clock milliseconds until which the target stays ejected.
  std::atomic<std::int64_t> ejected_until_ms{0};
  std::atomic<std::int32_t> last_check_status{0};      // HTTP status, 0 = none / TCP / failed
  std::atomic<std::uint8_t> last_check_ok{0};
  std::atomic<std::uint8_t> checked{0};                // at least one check finished
  std::atomic<std::uint64_t> last_check_latency_us{0};
  std::atomic<std::uint64_t> checks_passed{0};
  std::atomic<std::uint64_t> checks_failed{0};
  std::atomic<std::uint64_t> check_latency_sum_us{0};

  /// weight × ramp: what the balancers weigh (≥ 1, < 2^20 for weights ≤ 999).
  std::uint64_t effective_weight() const {
    const std::uint64_t r = ramp.load(std::memory_order_relaxed);
    const std::uint64_t w = weight.load(std::memory_order_relaxed);
    return (w != 0 ? w : 1U) * (r != 0 ? r : 1U);
  }
  std::uint32_t load_status() const { return status.load(std::memory_order_relaxed); }
  TargetState state() const { return TargetStatus::state(load_status()); }
  /// Idle connections to it may be pooled (not draining, not unused).
  bool poolable() const {
    const TargetState s = state();
    return s != TargetState::draining && s != TargetState::unused;
  }
};

/// An immutable membership snapshot: the targets a pick considers (registered
/// ones, draining ones until they are unused).
struct TargetSet {
  std::vector<Target*> targets;
};

/// A target group at run time, and the registry of its targets.
///
/// Membership changes at run time (admin API): the control thread builds a new
/// TargetSet and publishes it with one atomic pointer store; workers load the
/// pointer once per pick (acquire) and never lock. A pick is synchronous, so no
/// worker holds a set across a suspension; retired sets and every Target ever
/// created are nevertheless kept until the group is destroyed (membership
/// changes are rare and small; Targets are referenced by in-flight requests
/// and pooled connections). A deregistered target that is registered again
/// reuses its Target object, so repeated churn does not grow `targets()`.
/// Thread: members()/fail_open()/counts any thread; create/publish/
/// refresh_health on the control thread only.
class TargetGroup {
 public:
  /// Resolves target addresses (blocking getaddrinfo: call off the data plane).
  /// Throws std::runtime_error naming the target when it cannot be resolved.
  /// `pool_slots` numbers the targets' pool slots across the groups of one
  /// gateway (nullptr: this group numbers its own from 0).
  explicit TargetGroup(const config::TargetGroupConfig& cfg, std::uint32_t index = 0,
                       std::atomic<std::uint32_t>* pool_slots = nullptr);
  TargetGroup(const TargetGroup&) = delete;
  TargetGroup& operator=(const TargetGroup&) = delete;

  const std::string& name() const { return config().name; }
  /// Its settings: one acquire load. A reload may replace them (set_config);
  /// the previous ones stay valid while the group lives (kept, like sets_).
  const config::TargetGroupConfig& config() const {
    return *cfg_.load(std::memory_order_acquire);
  }
  /// Control thread: new settings (same name) from a configuration reload.
  /// Members are not changed here (the health checker diffs them).
  void set_config(const config::TargetGroupConfig& cfg);
  std::uint32_t index() const { return index_; }
  /// Every Target this group created (members or not), in creation order. Grows
  /// at run time: iterate it on the control thread only (or before start).
  const std::vector<std::unique_ptr<Target>>& targets() const { return targets_; }
  /// The current members: one acquire load; valid while the group lives.
  std::span<Target* const> members() const {
    return current_.load(std::memory_order_acquire)->targets;
  }

  /// Control thread: the Target with this id (member or not), or nullptr.
  Target* find(std::string_view id) const;
  /// Control thread: a Target for `id` at `endpoint`, not yet a member (reuses
  /// an unused one with the same id). Its state is set by the caller.
  Target* create(const std::string& id, const boost::asio::ip::tcp::endpoint& endpoint,
                 std::uint32_t weight);
  /// Control thread: publishes a new member set and refreshes the health counts.
  void publish(std::vector<Target*> members);

  /// The set a pick chooses from: RouteMask::routable() unless fewer than
  /// `minimum_healthy_targets` targets are healthy (fail open). One relaxed load.
  bool fail_open() const { return fail_open_.load(std::memory_order_relaxed) != 0; }
  /// Members counted healthy (healthy, or health checks disabled) by the last
  /// health update; and members currently ejected by passive health.
  std::uint32_t healthy_count() const { return healthy_.load(std::memory_order_relaxed); }
  std::uint32_t ejected_count() const { return ejected_.load(std::memory_order_relaxed); }

  /// Recomputes the healthy count and the fail-open flag from the members'
  /// states (control thread, after a state change; also at construction).
  void refresh_health();
  /// Passive ejection budget: claims a slot if fewer than max_ejection_percent
  /// of the members (and never the last routable one) are ejected.
  bool try_claim_ejection() const;
  void release_ejection() const { ejected_.fetch_sub(1, std::memory_order_relaxed); }

  /// Resolves one configured target (blocking; throws std::runtime_error).
  static boost::asio::ip::tcp::endpoint resolve(const config::TargetGroupConfig& group,
                                                const config::TargetConfig& target,
                                                const std::string& id);
  /// The canonical id of a configured target ("host:port", "[v6]:port").
  static std::string id_of(const config::TargetConfig& target);

 private:
  std::vector<std::unique_ptr<const config::TargetGroupConfig>> cfgs_;  // current and retired
  std::atomic<const config::TargetGroupConfig*> cfg_{nullptr};
  std::uint32_t index_;
  std::atomic<std::uint32_t> own_slots_{0};
  std::atomic<std::uint32_t>* slots_;
  std::vector<std::unique_ptr<Target>> targets_;
  std::vector<std::unique_ptr<const TargetSet>> sets_;  // current and retired
  std::atomic<const TargetSet*> current_{nullptr};
  alignas(64) std::atomic<std::uint32_t> healthy_{0};
  mutable std::atomic<std::uint32_t> ejected_{0};  // run-time state of a const group
  std::atomic<std::uint8_t> fail_open_{0};
};

/// RAII: +1 on a target's outstanding count, -1 on every exit path.
class OutstandingGuard {
 public:
  OutstandingGuard() = default;
  explicit OutstandingGuard(Target* t) : t_(t) {
    if (t_) t_->outstanding.fetch_add(1, std::memory_order_relaxed);
  }
  OutstandingGuard(const OutstandingGuard&) = delete;
  OutstandingGuard& operator=(const OutstandingGuard&) = delete;
  OutstandingGuard(OutstandingGuard&& o) noexcept : t_(o.t_) { o.t_ = nullptr; }
  OutstandingGuard& operator=(OutstandingGuard&& o) noexcept {
    if (this != &o) {
      release();
      t_ = o.t_;
      o.t_ = nullptr;
    }
    return *this;
  }
  ~OutstandingGuard() { release(); }
  void release() {
    if (t_) t_->outstanding.fetch_sub(1, std::memory_order_relaxed);
    t_ = nullptr;
  }
  Target* target() const { return t_; }

 private:
  Target* t_ = nullptr;
};

}  // namespace edge::upstream
