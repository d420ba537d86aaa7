#include <cstddef>
#include <limits>

#include "edge/upstream/balancer.hpp"
#include "edge/upstream/routing.hpp"

namespace edge::upstream {
namespace {

constexpr std::size_t kFullScanMax = 16;

/// decayed latency × (outstanding + 1) / weight, as a double: the factors are
/// 32-bit and the comparison needs no exactness (ties are broken at random).
double cost_of(const Target& t, std::uint32_t floor_us, std::int64_t now_us) {
  const double lat = decayed_latency_us(t, floor_us, now_us);
  const double out = static_cast<double>(t.outstanding.load(std::memory_order_relaxed)) + 1.0;
  return lat * out / static_cast<double>(t.effective_weight());
}

}  // namespace

LeastLatency::LeastLatency(std::uint64_t seed, NowFn now_us)
    : rng_(static_cast<std::minstd_rand::result_type>(seed ^ (seed >> 32))),
      now_us_(now_us != nullptr ? now_us : &steady_us) {}

Target* LeastLatency::pick(std::span<Target* const> candidates, const ExcludeSet& exclude,
                           RouteMask mask) {
  const std::size_t n = candidates.size();
  if (n == 0) return nullptr;
  // The lowest known latency stands in for targets without a sample (1 µs when
  // nobody has one: all score by outstanding / weight, like least outstanding).
  std::uint32_t floor_us = std::numeric_limits<std::uint32_t>::max();
  for (Target* t : candidates) {
    const std::uint32_t lat = t->latency_ewma_us.load(std::memory_order_relaxed);
    if (lat != 0 && lat < floor_us) floor_us = lat;
  }
  if (floor_us == std::numeric_limits<std::uint32_t>::max()) floor_us = 1;
  const std::int64_t now = now_us_();

  if (n > kFullScanMax) {
    // Power of two choices: two random eligible candidates, the cheaper wins.
    Target* a = nullptr;
    Target* b = nullptr;
    for (int i = 0; i < 8 && b == nullptr; ++i) {
      Target* t = candidates[rng_() % n];
      if (!eligible(t, exclude, mask) || t == a) continue;
      if (a == nullptr) {
        a = t;
      } else {
        b = t;
      }
    }
    if (a != nullptr && b != nullptr)
      return cost_of(*a, floor_us, now) <= cost_of(*b, floor_us, now) ? a : b;
    // Probes kept missing: fall through to the exact scan.
  }

  Target* best = nullptr;
  double best_cost = 0;
  std::uint32_t tied = 0;
  for (Target* t : candidates) {
    if (!eligible(t, exclude, mask)) continue;
    const double c = cost_of(*t, floor_us, now);
    if (best == nullptr || c < best_cost) {
      best = t;
      best_cost = c;
      tied = 1;
    } else if (c == best_cost) {
      ++tied;
      if (rng_() % tied == 0) best = t;
    }
  }
  return best;
}

}  // namespace edge::upstream
