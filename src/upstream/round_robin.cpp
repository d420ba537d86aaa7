#include "edge/upstream/balancer.hpp"

namespace edge::upstream {

/// Smooth weighted round robin (nginx ngx_http_upstream_get_peer): every pick
/// adds each eligible target's weight to its current value, takes the highest
/// and subtracts the sum of eligible weights from it. Over sum(w) picks target i
/// is chosen exactly w_i times, interleaved rather than in bursts; with equal
/// weights it cycles in candidate order.
Target* RoundRobin::pick(std::span<Target* const> candidates, const ExcludeSet& exclude,
                         RouteMask mask) {
  const std::size_t n = candidates.size();
  if (n == 0) return nullptr;
  // State follows positions in the candidate list; when the list changes size
  // (health or membership change) it restarts from zero. assign() reuses the
  // capacity, so only growth beyond the largest size seen allocates.
  if (current_.size() != n) current_.assign(n, 0);

  std::int64_t total = 0;
  std::size_t best = n;
  for (std::size_t i = 0; i < n; ++i) {
    const Target* t = candidates[i];
    if (!eligible(t, exclude, mask)) continue;
    // Effective weight (weight × slow-start ramp): slow start lowers the share.
    const auto w = static_cast<std::int64_t>(t->effective_weight());
    current_[i] += w;
    total += w;
    if (best == n || current_[i] > current_[best]) best = i;
  }
  if (best == n) return nullptr;
  current_[best] -= total;
  return candidates[best];
}

}  // namespace edge::upstream
