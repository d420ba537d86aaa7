#pragma once
/// What the request flow calls around a target: pick among the routable targets
/// (fail open when too few are healthy), and report each outcome for passive
/// health (outlier ejection) and the latency signal of least_latency.
/// Thread: worker (hot path): relaxed atomics on the target only, no lock, no
/// allocation.

#include <chrono>
#include <span>

#include "edge/metrics/metrics.hpp"
#include "edge/upstream/balancer.hpp"
#include "edge/upstream/target.hpp"

namespace edge::upstream {

/// Picks a target of `group` with `balancer`: healthy, non-ejected targets; when
/// the group fails open (or none of those is left), every registered target that
/// is not draining, and `fail_open` is incremented. Counts the request on the
/// chosen target.
Target* pick_routable(Balancer& balancer, const TargetGroup& group,
                      std::span<Target* const> candidates, const ExcludeSet& exclude,
                      metrics::Counter& fail_open);

/// A response head came back from `target` (status, time since the request was
/// sent). Resets or advances the consecutive-5xx count; may eject the target.
/// Feeds the latency into the target's peak EWMA (observe_latency, now).
void report_response(const TargetGroup& group, Target& target, int status,
                     std::chrono::nanoseconds latency);

/// Time constant of the peak-EWMA latency (Finagle's and linkerd's default):
/// a sample Δt after the previous one weighs 1 - exp(-Δt/τ), so the average
/// follows the last τ of traffic whatever the request rate, and a target that
/// got no sample for a while is trusted less (least_latency decays it).
inline constexpr std::chrono::seconds kLatencyDecayTime{10};

/// Peak EWMA (Finagle's PeakEwma): a sample above the average is taken at once;
/// below, average × w + sample × (1 - w) with w = exp(-Δt / kLatencyDecayTime),
/// Δt since the previous sample. `now_us` is steady_us() (tests inject it).
/// Racing workers may lose an update: harmless for a signal.
void observe_latency(Target& target, std::chrono::nanoseconds latency, std::int64_t now_us);

/// The latency least_latency scores `target` with at `now_us`: its EWMA decayed
/// toward `floor_us` (the fastest known target of the pick) with the time since
/// its last sample, w = exp(-Δt / kLatencyDecayTime). Not toward 0, as Finagle's:
/// an idle slow target must be retried eventually (after a few τ it scores as
/// the fastest, and the outstanding count spreads the load), but never scored
/// below the fastest real one, which with a full scan would send every request
/// to it until its first response came back. `floor_us` when it has no sample.
double decayed_latency_us(const Target& target, std::uint32_t floor_us, std::int64_t now_us);

/// The gateway could not talk to `target`: connect refused or timed out, reset,
/// timeout waiting for the response. May eject the target.
void report_gateway_error(const TargetGroup& group, Target& target);

/// Ejects `target` now if the group's budget allows (max_ejection_percent, never
/// the last routable target). Returns whether it did.
bool eject(const TargetGroup& group, Target& target);

/// steady_clock in milliseconds (the clock of Target::ejected_until_ms).
std::int64_t steady_ms();
/// steady_clock in microseconds (the clock of Target::latency_stamp_us).
std::int64_t steady_us();

}  // namespace edge::upstream
