#include <cstddef>
#include <limits>

#include "edge/upstream/balancer.hpp"

namespace edge::upstream {
namespace {

/// Up to this many candidates a full scan is cheap and exact; above it, power of
/// two choices keeps the pick O(1) (Envoy least_request_lb.cc uses the same split).
constexpr std::size_t kFullScanMax = 16;
constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
/// Random probes before falling back to counting the remaining candidates.
constexpr int kRandomProbes = 4;

/// outstanding / effective weight, compared by cross-multiplication: a 32-bit
/// count times a weight below 2^20 fits in 64 bits exactly.
struct Score {
  std::uint64_t outstanding;
  std::uint64_t weight;
};

Score score_of(const Target& t) {
  // Weight × slow-start ramp (< 2^20) times a 32-bit count: the products fit.
  return {t.outstanding.load(std::memory_order_relaxed), t.effective_weight()};
}

/// <0, 0, >0 as a is lower, equal or higher than b.
int compare(const Score& a, const Score& b) {
  const std::uint64_t lhs = a.outstanding * b.weight;
  const std::uint64_t rhs = b.outstanding * a.weight;
  return lhs < rhs ? -1 : (lhs > rhs ? 1 : 0);
}


}  // namespace

LeastOutstanding::LeastOutstanding(std::uint64_t seed)
    : rng_(static_cast<std::minstd_rand::result_type>(seed ^ (seed >> 32))) {}

Target* LeastOutstanding::pick(std::span<Target* const> candidates, const ExcludeSet& exclude,
                               RouteMask mask) {
  auto excluded = [mask](const Target* t, const ExcludeSet& ex) { return !eligible(t, ex, mask); };
  const std::size_t n = candidates.size();
  if (n == 0) return nullptr;

  if (n <= kFullScanMax) {
    // Full scan; ties resolved by reservoir sampling so each of the k tied targets
    // is chosen with probability 1/k (Envoy unweightedHostPickFullScan).
    Target* best = nullptr;
    Score best_score{0, 1};
    std::uint32_t tied = 0;
    for (Target* t : candidates) {
      if (excluded(t, exclude)) continue;
      const Score s = score_of(*t);
      if (best == nullptr) {
        best = t;
        best_score = s;
        tied = 1;
        continue;
      }
      const int c = compare(s, best_score);
      if (c < 0) {
        best = t;
        best_score = s;
        tied = 1;
      } else if (c == 0) {
        ++tied;
        if (rng_() % tied == 0) {
          best = t;
          best_score = s;
        }
      }
    }
    return best;
  }

  // Power of two choices over distinct, non-excluded candidates. Each draw is
  // uniform over the remaining candidates: a few random probes (rejection
  // sampling), then an exact count-and-select when the probes keep hitting
  // excluded ones.
  auto draw = [&](std::size_t avoid) -> std::size_t {
    for (int i = 0; i < kRandomProbes; ++i) {
      const std::size_t r = rng_() % n;
      if (r != avoid && !excluded(candidates[r], exclude)) return r;
    }
    std::size_t available = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (i != avoid && !excluded(candidates[i], exclude)) ++available;
    }
    if (available == 0) return kNone;
    std::size_t k = rng_() % available;
    for (std::size_t i = 0; i < n; ++i) {
      if (i == avoid || excluded(candidates[i], exclude)) continue;
      if (k-- == 0) return i;
    }
    return kNone;  // unreachable: k < available
  };

  const std::size_t first = draw(kNone);
  if (first == kNone) return nullptr;
  const std::size_t second = draw(first);
  if (second == kNone) return candidates[first];

  const int c = compare(score_of(*candidates[first]), score_of(*candidates[second]));
  if (c < 0) return candidates[first];
  if (c > 0) return candidates[second];
  return rng_() % 2 == 0 ? candidates[first] : candidates[second];
}

}  // namespace edge::upstream
