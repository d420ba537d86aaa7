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
  /// Chooses one of `candidates` not in `exclude` whose status `mask` accepts,
  /// or nullptr when none is left. Weights are the targets' effective weights
  /// (slow start included). One relaxed load of the status word per candidate.
  virtual Target* pick(std::span<Target* const> candidates, const ExcludeSet& exclude,
                       RouteMask mask = RouteMask::any()) = 0;
};

/// The candidate may be chosen: not tried yet, and its status accepted.
/// The empty-set test first: the common first attempt never loads `index`.
inline bool eligible(const Target* t, const ExcludeSet& exclude, RouteMask mask) {
  if (exclude.bits != 0 && exclude.contains(t->index)) return false;
  return mask.accepts(t->load_status());
}

/// Least outstanding requests: score = outstanding / weight. Up to 16 candidates
/// a full scan with reservoir-sampled ties; above, power of two choices.
class LeastOutstanding final : public Balancer {
 public:
  explicit LeastOutstanding(std::uint64_t seed);
  Target* pick(std::span<Target* const> candidates, const ExcludeSet& exclude,
               RouteMask mask = RouteMask::any()) override;

 private:
  std::minstd_rand rng_;
};

/// Weighted round robin (smooth, as nginx): each target receives weight/sum of picks.
class RoundRobin final : public Balancer {
 public:
  RoundRobin() = default;
  Target* pick(std::span<Target* const> candidates, const ExcludeSet& exclude,
               RouteMask mask = RouteMask::any()) override;

 private:
  std::vector<std::int64_t> current_;  // smooth-WRR state, indexed by position
};

/// Weighted random: target i with probability weight_i / sum (one pass summing
/// the eligible weights, one draw, one pass to find it). Stateless apart from the
/// RNG: no cursor shared by bursts, no coordination between workers.
class WeightedRandom final : public Balancer {
 public:
  explicit WeightedRandom(std::uint64_t seed);
  Target* pick(std::span<Target* const> candidates, const ExcludeSet& exclude,
               RouteMask mask = RouteMask::any()) override;

 private:
  std::mt19937_64 rng_;
};

/// Least latency: the lowest peak-EWMA response time × (outstanding + 1) / weight
/// (Finagle/linkerd "peak EWMA"). The EWMA decays with time since the target's
/// last sample, toward the fastest known one (routing.hpp decayed_latency_us),
/// so a target avoided for being slow is retried once its record is old.
/// Targets with no sample yet score as the fastest known one, so a new target
/// is tried. P2C above 16 candidates.
class LeastLatency final : public Balancer {
 public:
  /// `now_us`: the steady clock in µs (tests inject their own).
  using NowFn = std::int64_t (*)();
  explicit LeastLatency(std::uint64_t seed, NowFn now_us = nullptr);
  Target* pick(std::span<Target* const> candidates, const ExcludeSet& exclude,
               RouteMask mask = RouteMask::any()) override;

 private:
  std::minstd_rand rng_;
  NowFn now_us_;
};

std::unique_ptr<Balancer> make_balancer(config::Algorithm algorithm, std::uint64_t seed);

}  // namespace edge::upstream
