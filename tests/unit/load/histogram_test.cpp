#include "edge/load/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace edge::load {
namespace {

TEST(LoadHistogramTest, SmallValuesAreExact) {
  for (std::uint64_t v = 0; v < 256; ++v) {
    EXPECT_EQ(Histogram::lowest_equivalent(v), v);
    EXPECT_EQ(Histogram::highest_equivalent(v), v);
  }
}

TEST(LoadHistogramTest, BucketsAreContiguousAndOrdered) {
  // Walk bucket boundaries across the whole uint64 range: each bucket starts right
  // after the previous one ends, and indexes grow by one.
  std::uint64_t v = 0;
  std::size_t index = 0;
  while (true) {
    ASSERT_EQ(Histogram::index_of(v), index) << v;
    const std::uint64_t high = Histogram::highest_equivalent(v);
    ASSERT_EQ(Histogram::index_of(high), index) << high;
    ASSERT_EQ(Histogram::lowest_equivalent(high), v);
    if (high == UINT64_MAX) break;
    v = high + 1;
    ++index;
  }
  EXPECT_EQ(index + 1, Histogram::kBucketCount);
}

TEST(LoadHistogramTest, RelativeErrorBoundOverWideRange) {
  // From 1 ns to ~5 hours, log-uniform samples: the bucket holding v never spans
  // more than 1/128 of v, so a reported value is within 0.79 % (and never below).
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> exponent(0.0, 44.0);
  double worst = 0;
  for (int i = 0; i < 200'000; ++i) {
    const auto v = static_cast<std::uint64_t>(std::exp2(exponent(rng))) + 1;
    const std::uint64_t high = Histogram::highest_equivalent(v);
    const std::uint64_t low = Histogram::lowest_equivalent(v);
    ASSERT_LE(low, v);
    ASSERT_GE(high, v);
    const double err = static_cast<double>(high - v) / static_cast<double>(v);
    worst = std::max(worst, err);
  }
  EXPECT_LE(worst, Histogram::kMaxRelativeError);
  EXPECT_LT(Histogram::kMaxRelativeError, 0.01);
}

TEST(LoadHistogramTest, PercentilesWithinBoundOfExactOnes) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> d(13.0, 1.5);  // ~0.4 ms median, long tail
  std::vector<std::uint64_t> samples;
  Histogram h;
  for (int i = 0; i < 100'000; ++i) {
    const auto v = static_cast<std::uint64_t>(d(rng)) + 1;
    samples.push_back(v);
    h.record(v);
  }
  std::sort(samples.begin(), samples.end());
  for (const double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * samples.size()));
    const std::uint64_t exact = samples[rank - 1];
    const std::uint64_t got = h.percentile(p);
    EXPECT_GE(got, exact) << p;
    EXPECT_LE(static_cast<double>(got - exact) / static_cast<double>(exact),
              Histogram::kMaxRelativeError)
        << p;
  }
  EXPECT_EQ(h.percentile(100), samples.back());
  EXPECT_EQ(h.max(), samples.back());
  EXPECT_EQ(h.min(), samples.front());
  EXPECT_EQ(h.count(), samples.size());
}

TEST(LoadHistogramTest, PercentilesOnKnownData) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);  // exact range
  EXPECT_EQ(h.percentile(50), 50u);
  EXPECT_EQ(h.percentile(90), 90u);
  EXPECT_EQ(h.percentile(99), 99u);
  EXPECT_EQ(h.percentile(99.9), 100u);
  EXPECT_EQ(h.percentile(0), 1u);
  EXPECT_EQ(h.percentile(100), 100u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);

  // 990 fast samples and 10 slow ones: p99 is fast, p99.9 sees the slow tail.
  Histogram tail;
  tail.record_n(1'000'000, 990);     // 1 ms
  tail.record_n(1'000'000'000, 10);  // 1 s
  EXPECT_NEAR(static_cast<double>(tail.percentile(99)), 1e6, 1e6 * Histogram::kMaxRelativeError);
  EXPECT_NEAR(static_cast<double>(tail.percentile(99.1)), 1e9, 1e9 * Histogram::kMaxRelativeError);
  EXPECT_EQ(tail.max(), 1'000'000'000u);
}

TEST(LoadHistogramTest, EmptyAndMerge) {
  Histogram a;
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.percentile(99), 0u);
  EXPECT_EQ(a.min(), 0u);
  EXPECT_EQ(a.max(), 0u);
  Histogram b;
  a.record(10);
  b.record(5000);
  b.record(7);
  a.merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.min(), 7u);
  EXPECT_EQ(a.max(), 5000u);
  Histogram c = a;  // copy keeps the counts
  EXPECT_EQ(c.percentile(50), 10u);
  c.reset();
  EXPECT_EQ(c.count(), 0u);
  EXPECT_EQ(a.count(), 3u);
}

}  // namespace
}  // namespace edge::load
