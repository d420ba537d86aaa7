#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "edge/upstream/balancer.hpp"
#include "edge/upstream/target.hpp"

namespace edge::upstream {
namespace {

/// Targets owned by the test; `view` is the candidate list a worker would pass.
struct Pool {
  std::vector<std::unique_ptr<Target>> owned;
  std::vector<Target*> view;

  explicit Pool(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      owned.push_back(std::make_unique<Target>());
      owned.back()->index = static_cast<std::uint32_t>(i);
      view.push_back(owned.back().get());
    }
  }
  Target& operator[](std::size_t i) { return *owned[i]; }
  std::span<Target* const> span() const { return view; }
  void set_outstanding(std::size_t i, std::uint32_t v) {
    owned[i]->outstanding.store(v, std::memory_order_relaxed);
  }
};

/// Picks `n` times without changing outstanding counts; returns picks per index.
std::vector<int> count_picks(Balancer& b, const Pool& pool, int n, ExcludeSet ex = {}) {
  std::vector<int> counts(pool.view.size(), 0);
  for (int i = 0; i < n; ++i) {
    Target* t = b.pick(pool.span(), ex);
    if (t == nullptr) {
      ADD_FAILURE() << "unexpected nullptr at pick " << i;
      break;
    }
    ++counts[t->index];
  }
  return counts;
}

TEST(LeastOutstanding, PicksLowestOutstanding) {
  Pool pool(4);
  const std::array<std::uint32_t, 4> load{5, 2, 7, 3};
  for (std::size_t i = 0; i < load.size(); ++i) pool.set_outstanding(i, load[i]);
  LeastOutstanding lb(1);
  const auto counts = count_picks(lb, pool, 100);
  EXPECT_EQ(counts[1], 100);
}

TEST(LeastOutstanding, WeightScalesScore) {
  // 2 outstanding on weight 2 scores like 1 outstanding on weight 1.
  Pool pool(3);
  pool[0].weight = 2;
  pool.set_outstanding(0, 2);
  pool.set_outstanding(1, 1);
  pool.set_outstanding(2, 2);  // weight 1: score 2, never lowest
  LeastOutstanding lb(7);
  const auto counts = count_picks(lb, pool, 10000);
  EXPECT_EQ(counts[2], 0);
  EXPECT_NEAR(counts[0] / 10000.0, 0.5, 0.03);
  EXPECT_NEAR(counts[1] / 10000.0, 0.5, 0.03);

  // 3 on weight 2 (1.5) loses to 1 on weight 1.
  pool.set_outstanding(0, 3);
  EXPECT_EQ(count_picks(lb, pool, 100)[1], 100);

  // 5 on weight 3 (1.67) beats 2 on weight 1.
  pool[0].weight = 3;
  pool.set_outstanding(0, 5);
  pool.set_outstanding(1, 2);
  EXPECT_EQ(count_picks(lb, pool, 100)[0], 100);
}

TEST(LeastOutstanding, HigherWeightWinsAtEqualOutstanding) {
  Pool pool(2);
  pool[1].weight = 4;
  pool.set_outstanding(0, 3);
  pool.set_outstanding(1, 3);
  LeastOutstanding lb(3);
  EXPECT_EQ(count_picks(lb, pool, 100)[1], 100);
}

TEST(LeastOutstanding, SkipsExcluded) {
  Pool pool(4);
  const std::array<std::uint32_t, 4> load{5, 2, 7, 3};
  for (std::size_t i = 0; i < load.size(); ++i) pool.set_outstanding(i, load[i]);
  LeastOutstanding lb(1);
  ExcludeSet ex;
  ex.add(1);
  EXPECT_EQ(count_picks(lb, pool, 100, ex)[3], 100);
  ex.add(3);
  EXPECT_EQ(count_picks(lb, pool, 100, ex)[0], 100);
}

TEST(LeastOutstanding, NullWhenNothingToPick) {
  LeastOutstanding lb(1);
  EXPECT_EQ(lb.pick({}, ExcludeSet{}), nullptr);

  Pool small(3);
  ExcludeSet all;
  for (std::uint32_t i = 0; i < 3; ++i) all.add(i);
  EXPECT_EQ(lb.pick(small.span(), all), nullptr);

  Pool big(40);  // power-of-two-choices path
  ExcludeSet all_big;
  for (std::uint32_t i = 0; i < 40; ++i) all_big.add(i);
  EXPECT_EQ(lb.pick(big.span(), all_big), nullptr);
}

TEST(LeastOutstanding, TiesSpreadEvenly) {
  Pool pool(4);
  for (std::size_t i = 0; i < 4; ++i) pool.set_outstanding(i, 3);
  LeastOutstanding lb(12345);
  constexpr int kPicks = 100000;
  const auto counts = count_picks(lb, pool, kPicks);
  for (std::size_t i = 0; i < 4; ++i) {
    // ±2 % of the expected share.
    EXPECT_NEAR(counts[i] / double{kPicks}, 0.25, 0.25 * 0.02) << "target " << i;
  }
}

TEST(LeastOutstanding, TiesOnlyAmongLowest) {
  Pool pool(4);
  const std::array<std::uint32_t, 4> load{1, 1, 2, 1};
  for (std::size_t i = 0; i < load.size(); ++i) pool.set_outstanding(i, load[i]);
  LeastOutstanding lb(99);
  constexpr int kPicks = 30000;
  const auto counts = count_picks(lb, pool, kPicks);
  EXPECT_EQ(counts[2], 0);
  for (std::size_t i : {0U, 1U, 3U}) EXPECT_NEAR(counts[i] / double{kPicks}, 1.0 / 3, 0.015);
}

TEST(LeastOutstanding, HeldPicksBalanceExactly) {
  // With guards held, a full scan keeps counts level: after 4k picks over 4
  // targets every target holds exactly k requests.
  Pool pool(4);
  LeastOutstanding lb(5);
  std::vector<OutstandingGuard> held;
  for (int i = 0; i < 12; ++i) held.emplace_back(lb.pick(pool.span(), {}));
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(pool[i].outstanding.load(), 3U);
  held.clear();
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(pool[i].outstanding.load(), 0U);
}

TEST(LeastOutstanding, FullScanUpToSixteenThenPowerOfTwoChoices) {
  // A full scan always finds the single idle target; with 17 candidates, P2C
  // finds it only when it is one of the two sampled.
  Pool sixteen(16);
  for (std::size_t i = 1; i < 16; ++i) sixteen.set_outstanding(i, 10);
  LeastOutstanding lb(11);
  EXPECT_EQ(count_picks(lb, sixteen, 1000)[0], 1000);

  Pool seventeen(17);
  for (std::size_t i = 1; i < 17; ++i) seventeen.set_outstanding(i, 10);
  const auto counts = count_picks(lb, seventeen, 1000);
  EXPECT_LT(counts[0], 300);  // expected 2/17 of the picks
  EXPECT_GT(counts[0], 50);
}

TEST(LeastOutstanding, PowerOfTwoChoicesSamplesTwoDistinctUniformly) {
  constexpr std::size_t kTargets = 64;
  Pool pool(kTargets);
  for (std::size_t i = 0; i < kTargets; ++i) pool.set_outstanding(i, 50);
  pool.set_outstanding(0, 0);    // the least loaded
  pool.set_outstanding(63, 99);  // the most loaded: loses every comparison
  LeastOutstanding lb(2024);
  constexpr int kPicks = 100000;
  const auto counts = count_picks(lb, pool, kPicks);
  EXPECT_EQ(counts[63], 0);  // would be picked if the two samples could coincide
  // Target 0 wins whenever it is sampled: P = 2/64.
  EXPECT_NEAR(counts[0] / double{kPicks}, 2.0 / kTargets, 0.0025);
  // The 62 tied middle targets share the rest evenly.
  for (std::size_t i = 1; i < 63; ++i) {
    EXPECT_NEAR(counts[i] / double{kPicks}, (1.0 - 2.0 / kTargets) / 62, 0.0015) << i;
  }
}

TEST(LeastOutstanding, PowerOfTwoChoicesHonoursExclusion) {
  Pool pool(80);
  LeastOutstanding lb(8);
  ExcludeSet ex;
  for (std::uint32_t i = 0; i < 64; ++i) {
    if (i != 17) ex.add(i);
  }
  // Only 17 and the targets beyond the exclude set's 64 bits are eligible.
  const auto counts = count_picks(lb, pool, 5000, ex);
  for (std::size_t i = 0; i < 64; ++i) {
    if (i != 17) {
      EXPECT_EQ(counts[i], 0) << i;
    }
  }
  EXPECT_GT(counts[17], 0);
  for (std::size_t i = 64; i < 80; ++i) EXPECT_GT(counts[i], 0) << i;

  Pool exact(64);
  ex.bits = ~std::uint64_t{0};
  EXPECT_EQ(lb.pick(exact.span(), ex), nullptr);
  ex.bits &= ~(std::uint64_t{1} << 40);
  EXPECT_EQ(count_picks(lb, exact, 100, ex)[40], 100);
}

TEST(LeastOutstanding, PowerOfTwoChoicesPrefersLessLoadedUnderTraffic) {
  // 64 targets; the first 16 are slow (a request lasts 20 ticks), the rest fast
  // (2 ticks). Each tick sends 32 requests; outstanding counts follow picks and
  // completions through OutstandingGuard. Uniform picking would give every target
  // the same share; least-outstanding shifts traffic to the fast ones.
  constexpr std::size_t kTargets = 64;
  constexpr std::size_t kSlow = 16;
  constexpr int kSlowTicks = 20;
  constexpr int kFastTicks = 2;
  constexpr int kPerTick = 32;
  constexpr int kTicks = 4000;
  Pool pool(kTargets);
  LeastOutstanding lb(42);

  std::array<std::vector<OutstandingGuard>, kSlowTicks + 1> due;  // ring by tick
  std::vector<long> picks(kTargets, 0);
  std::uint32_t max_fast_outstanding = 0;
  for (int tick = 0; tick < kTicks; ++tick) {
    due[tick % due.size()].clear();  // completions scheduled for this tick
    for (int r = 0; r < kPerTick; ++r) {
      Target* t = lb.pick(pool.span(), {});
      ASSERT_NE(t, nullptr);
      ++picks[t->index];
      const int lasts = t->index < kSlow ? kSlowTicks : kFastTicks;
      due[(tick + lasts) % due.size()].emplace_back(t);
    }
    for (std::size_t i = kSlow; i < kTargets; ++i) {
      max_fast_outstanding = std::max(max_fast_outstanding, pool[i].outstanding.load());
    }
  }

  double slow_avg = 0;
  double fast_avg = 0;
  for (std::size_t i = 0; i < kTargets; ++i) (i < kSlow ? slow_avg : fast_avg) += picks[i];
  slow_avg /= kSlow;
  fast_avg /= kTargets - kSlow;
  EXPECT_LT(slow_avg, 0.6 * fast_avg) << "slow " << slow_avg << " fast " << fast_avg;
  EXPECT_LE(max_fast_outstanding, 8U);

  for (auto& bucket : due) bucket.clear();
  for (std::size_t i = 0; i < kTargets; ++i) EXPECT_EQ(pool[i].outstanding.load(), 0U);
}

TEST(LeastOutstanding, SameSeedSameSequence) {
  Pool pool(32);
  LeastOutstanding a(77);
  LeastOutstanding b(77);
  LeastOutstanding c(78);
  int differ = 0;
  for (int i = 0; i < 200; ++i) {
    Target* ta = a.pick(pool.span(), {});
    EXPECT_EQ(ta, b.pick(pool.span(), {}));
    differ += ta != c.pick(pool.span(), {}) ? 1 : 0;
  }
  EXPECT_GT(differ, 0);
}

}  // namespace
}  // namespace edge::upstream
