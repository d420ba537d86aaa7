// Target selection cost per pick. Two threads share one set of targets (as
// workers do) and each has its own balancer; every pick holds an
// OutstandingGuard for a few picks so the shared atomics move as in production.

#include <benchmark/benchmark.h>

#include <array>
#include <memory>
#include <vector>

#include "edge/upstream/balancer.hpp"
#include "edge/upstream/target.hpp"

namespace {

using edge::upstream::Balancer;
using edge::upstream::ExcludeSet;
using edge::upstream::LeastLatency;
using edge::upstream::LeastOutstanding;
using edge::upstream::OutstandingGuard;
using edge::upstream::RoundRobin;
using edge::upstream::RouteMask;
using edge::upstream::Target;
using edge::upstream::WeightedRandom;

/// Targets shared by all benchmark threads, created once per size.
struct SharedTargets {
  std::vector<std::unique_ptr<Target>> owned;
  std::vector<Target*> view;
  explicit SharedTargets(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      owned.push_back(std::make_unique<Target>());
      owned.back()->index = static_cast<std::uint32_t>(i);
      owned.back()->weight = 1 + static_cast<std::uint32_t>(i % 3);
      owned.back()->latency_ewma_us = 1000 + static_cast<std::uint32_t>(i % 5) * 100;
      view.push_back(owned.back().get());
    }
  }
};

const SharedTargets& targets(std::size_t n) {
  static const SharedTargets four(4);
  static const SharedTargets sixty_four(64);
  return n == 4 ? four : sixty_four;
}

/// Requests in flight per thread: each pick releases the oldest.
constexpr std::size_t kInFlight = 16;

void run_picks(benchmark::State& state, Balancer& balancer) {
  const SharedTargets& shared = targets(static_cast<std::size_t>(state.range(0)));
  std::array<OutstandingGuard, kInFlight> in_flight;
  std::size_t slot = 0;
  for (auto _ : state) {
    // The mask production uses (one status-word load per candidate).
    Target* t = balancer.pick(shared.view, ExcludeSet{}, RouteMask::routable());
    benchmark::DoNotOptimize(t);
    in_flight[slot] = OutstandingGuard(t);
    slot = (slot + 1) % kInFlight;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_LeastOutstandingPick(benchmark::State& state) {
  LeastOutstanding balancer(0x9e3779b97f4a7c15ULL +
                            static_cast<std::uint64_t>(state.thread_index()));
  run_picks(state, balancer);
}
BENCHMARK(BM_LeastOutstandingPick)->Arg(4)->Arg(64)->Threads(2)->UseRealTime();

void BM_RoundRobinPick(benchmark::State& state) {
  RoundRobin balancer;
  run_picks(state, balancer);
}
BENCHMARK(BM_RoundRobinPick)->Arg(4)->Arg(64)->Threads(2)->UseRealTime();

void BM_WeightedRandomPick(benchmark::State& state) {
  WeightedRandom balancer(0x51ed + static_cast<std::uint64_t>(state.thread_index()));
  run_picks(state, balancer);
}
BENCHMARK(BM_WeightedRandomPick)->Arg(4)->Arg(64)->Threads(2)->UseRealTime();

void BM_LeastLatencyPick(benchmark::State& state) {
  LeastLatency balancer(0x1a7e + static_cast<std::uint64_t>(state.thread_index()));
  run_picks(state, balancer);
}
BENCHMARK(BM_LeastLatencyPick)->Arg(4)->Arg(64)->Threads(2)->UseRealTime();

}  // namespace
