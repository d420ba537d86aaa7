#include "edge/upstream/target_health.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "edge/upstream/target.hpp"

namespace edge::upstream {
namespace {

using namespace std::chrono_literals;
using TimePoint = TargetHealth::TimePoint;

constexpr TimePoint kT0{std::chrono::hours(1)};

TEST(StatusMatcher, SingleListAndRange) {
  StatusMatcher m;
  EXPECT_TRUE(m.matches(200));  // ALB default
  EXPECT_FALSE(m.matches(204));

  ASSERT_TRUE(m.parse("200,302"));
  EXPECT_TRUE(m.matches(200));
  EXPECT_TRUE(m.matches(302));
  EXPECT_FALSE(m.matches(301));

  ASSERT_TRUE(m.parse("200-299"));
  EXPECT_TRUE(m.matches(200));
  EXPECT_TRUE(m.matches(250));
  EXPECT_TRUE(m.matches(299));
  EXPECT_FALSE(m.matches(300));
  EXPECT_FALSE(m.matches(199));

  ASSERT_TRUE(m.parse("200-204,301,404"));
  EXPECT_TRUE(m.matches(203));
  EXPECT_TRUE(m.matches(404));
  EXPECT_FALSE(m.matches(302));
}

TEST(StatusMatcher, InvalidSpecsLeaveItUnchanged) {
  StatusMatcher m;
  ASSERT_TRUE(m.parse("302"));
  for (const char* bad : {"", "abc", "200-", "-200", "299-200", "2000", "200,,302", "99", "600"})
    EXPECT_FALSE(m.parse(bad)) << bad;
  EXPECT_TRUE(m.matches(302));
  EXPECT_FALSE(m.matches(200));
}

TEST(TargetHealth, NewTargetIsInitialAndHealthyAfterOnePass) {
  TargetHealth h(5, 2, true);
  EXPECT_EQ(h.state(), TargetState::initial);
  EXPECT_EQ(h.reason(), TargetReason::initial_health_checking);
  EXPECT_FALSE(h.routable());
  EXPECT_TRUE(h.on_check(true, TargetReason::none));
  EXPECT_EQ(h.state(), TargetState::healthy);
  EXPECT_EQ(h.reason(), TargetReason::none);
  EXPECT_TRUE(h.routable());
}

TEST(TargetHealth, DisabledChecksMeanUnavailableAndRoutable) {
  TargetHealth h(5, 2, false);
  EXPECT_EQ(h.state(), TargetState::unavailable);
  EXPECT_EQ(h.reason(), TargetReason::health_check_disabled);
  EXPECT_TRUE(h.routable());
  EXPECT_FALSE(h.on_check(false, TargetReason::timeout));
  EXPECT_EQ(h.state(), TargetState::unavailable);
}

TEST(TargetHealth, UnhealthyAfterThresholdFailuresInARow) {
  TargetHealth h(3, 3, true);
  h.on_check(true, TargetReason::none);
  EXPECT_FALSE(h.on_check(false, TargetReason::timeout));
  EXPECT_FALSE(h.on_check(false, TargetReason::timeout));
  EXPECT_FALSE(h.on_check(true, TargetReason::none));  // a pass resets the count
  EXPECT_FALSE(h.on_check(false, TargetReason::timeout));
  EXPECT_FALSE(h.on_check(false, TargetReason::timeout));
  EXPECT_EQ(h.state(), TargetState::healthy);
  EXPECT_TRUE(h.on_check(false, TargetReason::response_code_mismatch));
  EXPECT_EQ(h.state(), TargetState::unhealthy);
  EXPECT_EQ(h.reason(), TargetReason::response_code_mismatch);
  // Still unhealthy, the reason follows the latest failure.
  EXPECT_TRUE(h.on_check(false, TargetReason::timeout));
  EXPECT_EQ(h.reason(), TargetReason::timeout);
  EXPECT_FALSE(h.on_check(false, TargetReason::timeout));
}

TEST(TargetHealth, InitialTargetBecomesUnhealthyWhenItNeverPasses) {
  TargetHealth h(5, 2, true);
  EXPECT_FALSE(h.on_check(false, TargetReason::failed_health_checks));
  EXPECT_EQ(h.state(), TargetState::initial);
  EXPECT_TRUE(h.on_check(false, TargetReason::failed_health_checks));
  EXPECT_EQ(h.state(), TargetState::unhealthy);
  EXPECT_EQ(h.reason(), TargetReason::failed_health_checks);
}

TEST(TargetHealth, BackToHealthyAfterHealthyThresholdPasses) {
  TargetHealth h(3, 2, true);
  h.on_check(false, TargetReason::timeout);
  h.on_check(false, TargetReason::timeout);
  ASSERT_EQ(h.state(), TargetState::unhealthy);
  EXPECT_FALSE(h.on_check(true, TargetReason::none));
  EXPECT_FALSE(h.on_check(true, TargetReason::none));
  EXPECT_EQ(h.passes_in_row(), 2);
  EXPECT_TRUE(h.on_check(true, TargetReason::none));
  EXPECT_EQ(h.state(), TargetState::healthy);
}

TEST(TargetHealth, DrainingEndsAtDeadlineOrWhenIdle) {
  TargetHealth h(2, 2, true);
  h.on_check(true, TargetReason::none);
  h.start_draining(kT0, 300s);
  EXPECT_EQ(h.state(), TargetState::draining);
  EXPECT_EQ(h.reason(), TargetReason::deregistration_in_progress);
  EXPECT_FALSE(h.routable());
  EXPECT_FALSE(h.on_check(true, TargetReason::none));  // checks no longer move it
  EXPECT_FALSE(h.drain_done(kT0 + 10s, 3));
  EXPECT_TRUE(h.drain_done(kT0 + 10s, 0));    // nothing in flight: early
  EXPECT_TRUE(h.drain_done(kT0 + 300s, 3));   // deadline
  h.finish_draining();
  EXPECT_EQ(h.state(), TargetState::unused);
  EXPECT_EQ(h.reason(), TargetReason::not_registered);
}

TEST(TargetHealth, SlowStartRampsLinearly) {
  TargetHealth h(2, 2, true);
  EXPECT_EQ(h.ramp(kT0, 60s), kWeightScale);  // not in slow start
  h.on_check(true, TargetReason::none);
  h.begin_slow_start(kT0);
  EXPECT_EQ(h.ramp(kT0, 60s), kWeightScale / 100);  // floor: 1 %
  EXPECT_EQ(h.ramp(kT0 + 15s, 60s), kWeightScale / 4);
  EXPECT_EQ(h.ramp(kT0 + 30s, 60s), kWeightScale / 2);
  EXPECT_TRUE(h.in_slow_start());
  EXPECT_EQ(h.ramp(kT0 + 60s, 60s), kWeightScale);
  EXPECT_FALSE(h.in_slow_start());
  EXPECT_EQ(h.ramp(kT0 + 10s, 60s), kWeightScale);  // over for good
}

TEST(TargetHealth, SlowStartStopsWhenUnhealthy) {
  TargetHealth h(2, 2, true);
  h.on_check(true, TargetReason::none);
  h.begin_slow_start(kT0);
  h.on_check(false, TargetReason::timeout);
  h.on_check(false, TargetReason::timeout);
  EXPECT_FALSE(h.in_slow_start());
}

TEST(EjectionTime, GrowsWithTimesEjectedCappedAt300s) {
  EXPECT_EQ(ejection_time(30s, 1), 30s);
  EXPECT_EQ(ejection_time(30s, 2), 60s);
  EXPECT_EQ(ejection_time(30s, 9), 270s);
  EXPECT_EQ(ejection_time(30s, 11), 300s);
  EXPECT_EQ(ejection_time(30s, 4000000000U), 300s);
  EXPECT_EQ(ejection_time(30s, 0), 30s);
}

}  // namespace
}  // namespace edge::upstream
