#include "edge/load/rate_schedule.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace edge::load {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

TEST(RateScheduleTest, IntendedTimesAreEvenlySpaced) {
  RateSchedule s(1000, 5 * kSecond);  // 1 ms apart from t = 5 s
  EXPECT_EQ(s.intended(0), 5 * kSecond);
  EXPECT_EQ(s.intended(1), 5 * kSecond + 1'000'000);
  EXPECT_EQ(s.intended(999), 5 * kSecond + 999'000'000);
  // No drift after a million slots (computed from k, not accumulated).
  EXPECT_EQ(s.intended(1'000'000), 5 * kSecond + 1000 * kSecond);
}

TEST(RateScheduleTest, FractionalRate) {
  RateSchedule s(3, 0);  // 333.33 ms apart
  EXPECT_EQ(s.intended(0), 0);
  EXPECT_EQ(s.intended(1), 333'333'333);
  EXPECT_EQ(s.intended(3), kSecond);
  EXPECT_EQ(s.slots_before(kSecond), 3u);
  EXPECT_EQ(s.slots_before(kSecond + 1), 4u);
}

TEST(RateScheduleTest, TakeAndDueWithInjectedTime) {
  RateSchedule s(100, 0);  // every 10 ms
  EXPECT_EQ(s.due(-1), 0u);
  EXPECT_EQ(s.due(0), 1u);           // slot 0 is due at t = 0
  EXPECT_EQ(s.due(25'000'000), 3u);  // slots 0, 10, 20 ms
  EXPECT_EQ(s.take(), 0);
  EXPECT_EQ(s.take(), 10'000'000);
  EXPECT_EQ(s.due(25'000'000), 1u);
  EXPECT_EQ(s.next(), 20'000'000);
  // A sender stuck for 100 ms finds the slots it missed still due, each keeping
  // its own intended time: latency will be charged from these, not from "now".
  const std::int64_t now = 125'000'000;
  EXPECT_EQ(s.due(now), 11u);  // 20, 30, ..., 120 ms
  std::vector<std::int64_t> late;
  while (s.next() <= now) late.push_back(s.take());
  ASSERT_EQ(late.size(), 11u);
  EXPECT_EQ(late.front(), 20'000'000);
  EXPECT_EQ(late.back(), 120'000'000);
  EXPECT_EQ(now - late.front(), 105'000'000);  // what the first late request is charged
  EXPECT_EQ(s.due(now), 0u);
  EXPECT_EQ(s.taken(), 13u);
}

TEST(RateScheduleTest, LanesPartitionTheGlobalSchedule) {
  // 3 lanes at a global 1000/s: together they produce exactly the global slots.
  constexpr std::uint32_t kLanes = 3;
  std::vector<RateSchedule> lanes;
  for (std::uint32_t i = 0; i < kLanes; ++i) lanes.emplace_back(1000, 0, i, kLanes);
  std::vector<std::int64_t> all;
  std::uint64_t slots = 0;
  for (auto& lane : lanes) {
    slots += lane.slots_before(kSecond);
    while (lane.next() < kSecond) all.push_back(lane.take());
  }
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), 1000u);
  EXPECT_EQ(slots, 1000u);
  RateSchedule global(1000, 0);
  for (std::size_t k = 0; k < all.size(); ++k) ASSERT_EQ(all[k], global.intended(k)) << k;
}

TEST(RateScheduleTest, SlotsBeforeMatchesRateTimesDuration) {
  for (const double rate : {1.0, 7.0, 100.0, 333.0, 12345.0}) {
    RateSchedule s(rate, 42);
    for (const std::int64_t d : {kSecond / 10, kSecond, 10 * kSecond}) {
      const std::uint64_t n = s.slots_before(42 + d);
      const double expected = rate * static_cast<double>(d) / kSecond;
      EXPECT_GE(static_cast<double>(n), expected - 1e-6) << rate << " " << d;
      EXPECT_LE(static_cast<double>(n), expected + 1) << rate << " " << d;
      // Every counted slot is before the end, the next one is not.
      EXPECT_LT(s.intended(n - 1), 42 + d);
      EXPECT_GE(s.intended(n), 42 + d);
    }
  }
}

}  // namespace
}  // namespace edge::load
