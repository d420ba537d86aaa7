#pragma once
/// Target selection algorithms. A Balancer instance belongs to one worker (its RNG
/// and round-robin cursor are not shared); it reads the shared atomics of targets.
/// Thread: worker.

#include <cstdint>
#include <memory>
#include <random>
#include <span>

#include "edge/config/config.hpp"
#include "edge/upstream/target.hpp"

namespace edge::upstream {

/// Targets already tried for this request (bit i = target index i; indexes >= 64
/// are never excluded).
struct ExcludeSet {
  std::uint64_t bits = 0;
  void add(std::uint32_t index) {
    if (index < 64) bits |= (std::uint64_t{1} << index);
  }
  bool contains(std::uint32_t index) const {
    return index < 64 && (bits >> index) & 1U;
  }
};

class Balancer {
 public:
  virtual ~Balancer() = default;
  /// Chooses one of `candidates` not in `exclude`, or nullptr when none is left.
  /// Healthy-only filtering is the caller's job (candidates is the routable set).
  virtual Target* pick(std::span<Target* const> candidates, const ExcludeSet& exclude) = 0;
};

/// Least outstanding requests: score = outstanding / weight. Up to 16 candidates
/// a full scan with reservoir-sampled ties; above, power of two choices.
class LeastOutstanding final : public Balancer {
 public:
  explicit LeastOutstanding(std::uint64_t seed);
  Target* pick(std::span<Target* const> candidates, const ExcludeSet& exclude) override;

 private:
  std::minstd_rand rng_;
};

/// Weighted round robin (smooth, as nginx): each target receives weight/sum of picks.
class RoundRobin final : public Balancer {
 public:
  RoundRobin() = default;
  Target* pick(std::span<Target* const> candidates, const ExcludeSet& exclude) override;

 private:
  std::vector<std::int64_t> current_;  // smooth-WRR state, indexed by position
};

std::unique_ptr<Balancer> make_balancer(config::Algorithm algorithm, std::uint64_t seed);

}  // namespace edge::upstream
