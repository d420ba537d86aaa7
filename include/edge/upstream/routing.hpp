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
void report_response(const TargetGroup& group, Target& target, int status,
                     std::chrono::nanoseconds latency);

/// The gateway could not talk to `target`: connect refused or timed out, reset,
/// timeout waiting for the response. May eject the target.
void report_gateway_error(const TargetGroup& group, Target& target);

/// Ejects `target` now if the group's budget allows (max_ejection_percent, never
/// the last routable target). Returns whether it did.
bool eject(const TargetGroup& group, Target& target);

/// steady_clock in milliseconds (the clock of Target::ejected_until_ms).
std::int64_t steady_ms();

}  // namespace edge::upstream
