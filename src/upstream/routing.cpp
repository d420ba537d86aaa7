#include "edge/upstream/routing.hpp"

#include <algorithm>
#include <cmath>

#include "edge/upstream/target_health.hpp"

namespace edge::upstream {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t steady_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {

/// exp(-Δt/τ) for Δt in µs (1 for Δt ≤ 0: clocks of racing workers).
double decay_weight(std::int64_t elapsed_us) {
  if (elapsed_us <= 0) return 1.0;
  constexpr double kTauUs =
      static_cast<double>(std::chrono::microseconds(kLatencyDecayTime).count());
  return std::exp(-static_cast<double>(elapsed_us) / kTauUs);
}

}  // namespace

void observe_latency(Target& target, std::chrono::nanoseconds latency, std::int64_t now_us) {
  const auto us64 = std::chrono::duration_cast<std::chrono::microseconds>(latency).count();
  const auto us = static_cast<std::uint32_t>(std::clamp<std::int64_t>(us64, 1, 0x7fffffff));
  const std::uint32_t old = target.latency_ewma_us.load(std::memory_order_relaxed);
  std::uint32_t next = us;
  if (old != 0 && us < old) {
    const double w = decay_weight(now_us - target.latency_stamp_us.load(std::memory_order_relaxed));
    next = static_cast<std::uint32_t>(
        std::lround(static_cast<double>(old) * w + static_cast<double>(us) * (1.0 - w)));
    next = std::clamp(next, us, old);
  }
  target.latency_ewma_us.store(next, std::memory_order_relaxed);
  target.latency_stamp_us.store(now_us, std::memory_order_relaxed);
}

double decayed_latency_us(const Target& target, std::uint32_t floor_us, std::int64_t now_us) {
  const std::uint32_t lat = target.latency_ewma_us.load(std::memory_order_relaxed);
  if (lat == 0) return static_cast<double>(floor_us);
  if (lat <= floor_us) return static_cast<double>(lat);
  const double w = decay_weight(now_us - target.latency_stamp_us.load(std::memory_order_relaxed));
  return static_cast<double>(floor_us) + static_cast<double>(lat - floor_us) * w;
}

Target* pick_routable(Balancer& balancer, const TargetGroup& group,
                      std::span<Target* const> candidates, const ExcludeSet& exclude,
                      metrics::Counter& fail_open) {
  Target* t = nullptr;
  if (!group.fail_open()) t = balancer.pick(candidates, exclude, RouteMask::routable());
  if (t == nullptr) {
    t = balancer.pick(candidates, exclude, RouteMask::fail_open());
    if (t != nullptr) fail_open.inc();
  }
  if (t != nullptr) t->requests.fetch_add(1, std::memory_order_relaxed);
  return t;
}

bool eject(const TargetGroup& group, Target& target) {
  const auto& od = group.config().outlier_detection;
  if (!od.enabled) return false;
  if (TargetStatus::ejected(target.load_status())) return false;
  if (!group.try_claim_ejection()) return false;
  const std::uint32_t times = target.times_ejected.fetch_add(1, std::memory_order_relaxed) + 1;
  // The deadline first: the checker must never see the flag with a stale deadline.
  target.ejected_until_ms.store(steady_ms() + ejection_time(od.base_ejection_time, times).count(),
                                std::memory_order_relaxed);
  const std::uint32_t before = target.status.fetch_or(TargetStatus::kEjected, std::memory_order_relaxed);
  if (TargetStatus::ejected(before)) {  // another worker was faster
    group.release_ejection();
    return false;
  }
  target.ejections.fetch_add(1, std::memory_order_relaxed);
  target.consecutive_5xx.store(0, std::memory_order_relaxed);
  target.consecutive_gateway_errors.store(0, std::memory_order_relaxed);
  return true;
}

void report_response(const TargetGroup& group, Target& target, int status,
                     std::chrono::nanoseconds latency) {
  observe_latency(target, latency, steady_us());

  // Stores only when something changes: the common success costs two loads.
  if (target.consecutive_gateway_errors.load(std::memory_order_relaxed) != 0)
    target.consecutive_gateway_errors.store(0, std::memory_order_relaxed);
  const int threshold = group.config().outlier_detection.consecutive_5xx;
  if (status >= 500) {
    const std::uint32_t n = target.consecutive_5xx.fetch_add(1, std::memory_order_relaxed) + 1;
    if (threshold > 0 && n >= static_cast<std::uint32_t>(threshold)) eject(group, target);
  } else if (target.consecutive_5xx.load(std::memory_order_relaxed) != 0) {
    target.consecutive_5xx.store(0, std::memory_order_relaxed);
  }
}

void report_gateway_error(const TargetGroup& group, Target& target) {
  target.connection_errors.fetch_add(1, std::memory_order_relaxed);
  const int threshold = group.config().outlier_detection.consecutive_gateway_failure;
  const std::uint32_t n =
      target.consecutive_gateway_errors.fetch_add(1, std::memory_order_relaxed) + 1;
  if (threshold > 0 && n >= static_cast<std::uint32_t>(threshold)) eject(group, target);
}

}  // namespace edge::upstream
