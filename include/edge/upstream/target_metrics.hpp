#pragma once
/// Per-target and per-group health metrics, read from the targets' atomics when
/// /metrics is scraped (nothing is counted twice on the hot path):
/// HealthyHostCount / UnHealthyHostCount per group, the state of each target,
/// health check results and latency, ejections, requests, outstanding requests
/// and TargetConnectionErrorCount per target.
/// Thread: Collect() on the scraping thread; reads atomics only.

#include <functional>
#include <memory>
#include <vector>

namespace prometheus {
class Collectable;
}

namespace edge::upstream {

class TargetGroup;

/// `groups` must outlive the collectable.
std::shared_ptr<prometheus::Collectable> make_target_collectable(
    std::vector<const TargetGroup*> groups);
/// The groups `groups()` returns at each collection (they change on a
/// configuration reload); each must live while it is collected.
std::shared_ptr<prometheus::Collectable> make_target_collectable(
    std::function<std::vector<const TargetGroup*>()> groups);

}  // namespace edge::upstream
