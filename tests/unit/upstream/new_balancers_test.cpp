// weighted_random, least_latency, and slow start (the ramp) with every algorithm.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "edge/upstream/balancer.hpp"
#include "edge/upstream/routing.hpp"
#include "edge/upstream/target.hpp"

namespace edge::upstream {
namespace {

/// The clock least_latency reads in these tests (µs; the targets' latency
/// stamps are 0, so at 0 nothing has decayed).
std::int64_t g_now_us = 0;
std::int64_t test_now() { return g_now_us; }

struct Pool {
  std::vector<std::unique_ptr<Target>> owned;
  std::vector<Target*> view;
  explicit Pool(std::vector<std::uint32_t> weights) {
    for (std::size_t i = 0; i < weights.size(); ++i) {
      owned.push_back(std::make_unique<Target>());
      owned.back()->index = static_cast<std::uint32_t>(i);
      owned.back()->weight = weights[i];
      view.push_back(owned.back().get());
    }
  }
  Target& operator[](std::size_t i) { return *owned[i]; }
  std::span<Target* const> span() const { return view; }
};

std::vector<int> count_picks(Balancer& b, const Pool& pool, int n, ExcludeSet ex = {},
                             RouteMask mask = RouteMask::any()) {
  std::vector<int> counts(pool.view.size(), 0);
  for (int i = 0; i < n; ++i) {
    Target* t = b.pick(pool.span(), ex, mask);
    if (t == nullptr) {
      ADD_FAILURE() << "nullptr at pick " << i;
      break;
    }
    ++counts[t->index];
  }
  return counts;
}

/// Least outstanding with the load of a steady stream: each pick adds one
/// outstanding request; every `window` picks the oldest finish.
std::vector<int> loaded_picks(Balancer& b, Pool& pool, int n) {
  std::vector<int> counts(pool.view.size(), 0);
  std::vector<Target*> inflight;
  for (int i = 0; i < n; ++i) {
    Target* t = b.pick(pool.span(), {});
    ++counts[t->index];
    t->outstanding.fetch_add(1);
    inflight.push_back(t);
    if (inflight.size() > 16) {
      inflight.front()->outstanding.fetch_sub(1);
      inflight.erase(inflight.begin());
    }
  }
  for (Target* t : inflight) t->outstanding.fetch_sub(1);
  return counts;
}

TEST(WeightedRandom, SharesFollowWeights) {
  Pool pool({1, 2, 5});
  WeightedRandom wr(42);
  const int n = 100000;
  const auto c = count_picks(wr, pool, n);
  EXPECT_NEAR(c[0] / double(n), 1.0 / 8, 0.01);
  EXPECT_NEAR(c[1] / double(n), 2.0 / 8, 0.01);
  EXPECT_NEAR(c[2] / double(n), 5.0 / 8, 0.01);
}

TEST(WeightedRandom, ExcludedAndMaskedTargetsNeverPicked) {
  Pool pool({1, 1, 1});
  pool[2].status.store(TargetStatus::pack(TargetState::unhealthy, TargetReason::timeout));
  ExcludeSet ex;
  ex.add(0);
  WeightedRandom wr(1);
  const auto c = count_picks(wr, pool, 100, ex, RouteMask::routable());
  EXPECT_EQ(c[1], 100);
  ex.add(1);
  EXPECT_EQ(wr.pick(pool.span(), ex, RouteMask::routable()), nullptr);
  EXPECT_EQ(wr.pick({}, {}), nullptr);
}

TEST(LeastLatency, PrefersTheFasterTarget) {
  Pool pool({1, 1, 1});
  pool[0].latency_ewma_us.store(5000);
  pool[1].latency_ewma_us.store(1000);
  pool[2].latency_ewma_us.store(5000);
  LeastLatency ll(3, test_now);
  const auto c = count_picks(ll, pool, 100);
  EXPECT_EQ(c[1], 100);
}

TEST(LeastLatency, OutstandingRequestsRaiseTheCost) {
  Pool pool({1, 1});
  pool[0].latency_ewma_us.store(1000);  // fast but busy: 1000 × 6
  pool[0].outstanding.store(5);
  pool[1].latency_ewma_us.store(3000);  // slower, idle: 3000 × 1
  LeastLatency ll(3, test_now);
  EXPECT_EQ(ll.pick(pool.span(), {}), &pool[1]);
  pool[0].outstanding.store(1);  // 1000 × 2 < 3000
  EXPECT_EQ(ll.pick(pool.span(), {}), &pool[0]);
}

TEST(LeastLatency, UnmeasuredTargetScoresAsTheFastest) {
  Pool pool({1, 1});
  pool[0].latency_ewma_us.store(2000);
  LeastLatency ll(9, test_now);
  const auto c = count_picks(ll, pool, 200);
  // Ties with the fastest known one: both are picked.
  EXPECT_GT(c[0], 40);
  EXPECT_GT(c[1], 40);
}

TEST(LeastLatency, SlowTargetGetsAFractionUnderLoad) {
  Pool pool({1, 1, 1, 1});
  for (int i = 0; i < 4; ++i) pool[i].latency_ewma_us.store(1000);
  pool[3].latency_ewma_us.store(5000);
  LeastLatency ll(5, test_now);
  const auto c = loaded_picks(ll, pool, 20000);
  EXPECT_LT(c[3], c[0] / 2);
}

TEST(LeastLatency, AnIdleSlowTargetIsRetriedOnceItsRecordIsOld) {
  constexpr std::int64_t kTau = std::chrono::microseconds(kLatencyDecayTime).count();
  Pool pool({1, 1});
  pool[0].latency_ewma_us.store(1000);   // fast, three requests in flight: 1000 × 4
  pool[0].outstanding.store(3);
  pool[1].latency_ewma_us.store(50000);  // slow and idle: 50000 × 1
  LeastLatency ll(4, test_now);
  g_now_us = 0;
  EXPECT_EQ(count_picks(ll, pool, 50)[0], 50);
  g_now_us = kTau;  // 1000 + 49000 / e ≈ 19000: still too slow
  EXPECT_EQ(count_picks(ll, pool, 50)[0], 50);
  g_now_us = 3 * kTau;  // 1000 + 49000 / e³ ≈ 3440 < 4000: retried
  EXPECT_EQ(count_picks(ll, pool, 50)[1], 50);
  g_now_us = 0;
}

TEST(LeastLatency, DecayStopsAtTheFastestKnownLatency) {
  Pool pool({1, 1});
  pool[0].latency_ewma_us.store(1000);
  pool[1].latency_ewma_us.store(50000);
  EXPECT_DOUBLE_EQ(decayed_latency_us(pool[1], 1000, 0), 50000.0);
  const std::int64_t long_after = 1000 * std::chrono::microseconds(kLatencyDecayTime).count();
  EXPECT_DOUBLE_EQ(decayed_latency_us(pool[1], 1000, long_after), 1000.0);  // not below
  EXPECT_DOUBLE_EQ(decayed_latency_us(pool[0], 1000, long_after), 1000.0);
  // Long idle, equal load: the two tie and share the picks.
  LeastLatency ll(6, test_now);
  g_now_us = long_after;
  const auto c = count_picks(ll, pool, 400);
  g_now_us = 0;
  EXPECT_GT(c[0], 100);
  EXPECT_GT(c[1], 100);
}

TEST(LeastLatency, ManyCandidatesUsePowerOfTwo) {
  std::vector<std::uint32_t> w(40, 1);
  Pool pool(w);
  for (auto& t : pool.owned) t->latency_ewma_us.store(1000);
  pool[17].latency_ewma_us.store(100000);
  LeastLatency ll(11, test_now);
  const auto c = count_picks(ll, pool, 10000);
  int others = 0;
  for (std::size_t i = 0; i < c.size(); ++i)
    if (i != 17) others += c[i];
  EXPECT_LT(c[17], 400);  // only when it is drawn twice or against itself
  EXPECT_EQ(others + c[17], 10000);
}

TEST(SlowStart, RampLowersTheShareWithRoundRobin) {
  Pool pool({1, 1});
  pool[1].ramp.store(kWeightScale / 4);  // a quarter of its weight
  RoundRobin rr;
  const auto c = count_picks(rr, pool, 5000);
  EXPECT_EQ(c[0], 4000);
  EXPECT_EQ(c[1], 1000);
}

TEST(SlowStart, RampLowersTheShareWithWeightedRandom) {
  Pool pool({2, 2});
  pool[1].ramp.store(kWeightScale / 2);
  WeightedRandom wr(8);
  const int n = 60000;
  const auto c = count_picks(wr, pool, n);
  EXPECT_NEAR(c[1] / double(n), 1.0 / 3, 0.01);
}

TEST(SlowStart, RampLowersTheShareWithLeastOutstanding) {
  Pool full({1, 1, 1});
  LeastOutstanding a(4);
  const auto even = loaded_picks(a, full, 30000);

  Pool ramped({1, 1, 1});
  ramped[2].ramp.store(kWeightScale / 10);
  LeastOutstanding b(4);
  const auto slow = loaded_picks(b, ramped, 30000);
  // Without slow start each gets about a third; at 10 % of its weight the new
  // target gets far less, and full weight restores its share.
  EXPECT_GT(even[2], 8000);
  EXPECT_LT(slow[2], even[2] / 2);
  EXPECT_GT(slow[2], 0);
  ramped[2].ramp.store(kWeightScale);
  LeastOutstanding c(4);
  const auto back = loaded_picks(c, ramped, 30000);
  EXPECT_GT(back[2], 8000);
}

TEST(RouteMask, AcceptsByStateAndEjection) {
  const auto healthy = TargetStatus::pack(TargetState::healthy, TargetReason::none);
  const auto ejected = TargetStatus::pack(TargetState::healthy, TargetReason::none, true);
  const auto unhealthy = TargetStatus::pack(TargetState::unhealthy, TargetReason::timeout);
  const auto draining =
      TargetStatus::pack(TargetState::draining, TargetReason::deregistration_in_progress);
  const auto off =
      TargetStatus::pack(TargetState::unavailable, TargetReason::health_check_disabled);
  EXPECT_TRUE(RouteMask::routable().accepts(healthy));
  EXPECT_TRUE(RouteMask::routable().accepts(off));
  EXPECT_FALSE(RouteMask::routable().accepts(ejected));
  EXPECT_FALSE(RouteMask::routable().accepts(unhealthy));
  EXPECT_TRUE(RouteMask::fail_open().accepts(unhealthy));
  EXPECT_TRUE(RouteMask::fail_open().accepts(ejected));
  EXPECT_FALSE(RouteMask::fail_open().accepts(draining));
  EXPECT_FALSE(RouteMask::fail_open().accepts(
      TargetStatus::pack(TargetState::unused, TargetReason::not_registered)));
  EXPECT_TRUE(RouteMask::any().accepts(draining));
}

}  // namespace
}  // namespace edge::upstream
