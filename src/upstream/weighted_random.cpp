#include "edge/upstream/balancer.hpp"

namespace edge::upstream {

WeightedRandom::WeightedRandom(std::uint64_t seed) : rng_(seed) {}

Target* WeightedRandom::pick(std::span<Target* const> candidates, const ExcludeSet& exclude,
                             RouteMask mask) {
  // Two passes over the candidates: the status words may change between them
  // (another thread), so the second pass falls back to the last eligible one.
  std::uint64_t total = 0;
  for (Target* t : candidates) {
    if (!eligible(t, exclude, mask)) continue;
    total += t->effective_weight();
  }
  if (total == 0) return nullptr;
  std::uint64_t r = rng_() % total;
  Target* last = nullptr;
  for (Target* t : candidates) {
    if (!eligible(t, exclude, mask)) continue;
    const std::uint64_t wt = t->effective_weight();
    last = t;
    if (r < wt) return t;
    r -= wt;
  }
  return last;
}

}  // namespace edge::upstream
