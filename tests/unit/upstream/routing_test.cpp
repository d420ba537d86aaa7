#include "edge/upstream/routing.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <vector>

namespace edge::upstream {
namespace {

using namespace std::chrono_literals;

config::TargetGroupConfig group_config(std::size_t n) {
  config::TargetGroupConfig g;
  g.name = "app";
  for (std::size_t i = 0; i < n; ++i) {
    config::TargetConfig t;
    t.address = {"127.0.0.1", static_cast<std::uint16_t>(5001 + i)};
    t.id = "127.0.0.1:" + std::to_string(5001 + i);
    g.targets.push_back(t);
  }
  return g;
}

void set_state(Target& t, TargetState s) {
  t.status.store(TargetStatus::pack(s, TargetReason::none, TargetStatus::ejected(t.load_status())));
}

struct Fixture {
  explicit Fixture(config::TargetGroupConfig cfg) : group(cfg) {
    for (const auto& t : group.targets()) view.push_back(t.get());
  }
  Target& t(std::size_t i) { return *group.targets()[i]; }
  std::vector<int> picks(Balancer& b, int n) {
    std::vector<int> counts(view.size(), 0);
    for (int i = 0; i < n; ++i) {
      Target* p = pick_routable(b, group, view, {}, fail_open);
      if (p == nullptr) {
        ADD_FAILURE() << "nullptr";
        break;
      }
      ++counts[p->index];
    }
    return counts;
  }
  TargetGroup group;
  std::vector<Target*> view;
  metrics::Counter fail_open;
};

TEST(Routing, NewTargetsStartInitialAndTheGroupFailsOpen) {
  Fixture f(group_config(2));
  EXPECT_EQ(f.t(0).state(), TargetState::initial);
  EXPECT_EQ(f.group.healthy_count(), 0U);
  EXPECT_TRUE(f.group.fail_open());
  RoundRobin rr;
  const auto c = f.picks(rr, 10);
  EXPECT_EQ(c[0], 5);
  EXPECT_EQ(c[1], 5);
  EXPECT_EQ(f.fail_open.value(), 10U);
}

TEST(Routing, OnlyHealthyTargetsWhenEnoughAreHealthy) {
  Fixture f(group_config(3));
  set_state(f.t(0), TargetState::healthy);
  set_state(f.t(1), TargetState::unhealthy);
  set_state(f.t(2), TargetState::initial);
  f.group.refresh_health();
  EXPECT_FALSE(f.group.fail_open());
  LeastOutstanding lb(7);
  const auto c = f.picks(lb, 50);
  EXPECT_EQ(c[0], 50);
  EXPECT_EQ(f.fail_open.value(), 0U);
  EXPECT_EQ(f.t(0).requests.load(), 50U);
}

TEST(Routing, FailOpenBelowMinimumSkipsDrainingTargets) {
  auto cfg = group_config(3);
  cfg.unhealthy_state_routing.minimum_healthy_targets = 2;
  Fixture f(cfg);
  set_state(f.t(0), TargetState::healthy);
  set_state(f.t(1), TargetState::unhealthy);
  set_state(f.t(2), TargetState::draining);
  f.group.refresh_health();
  EXPECT_TRUE(f.group.fail_open());
  RoundRobin rr;
  const auto c = f.picks(rr, 10);
  EXPECT_EQ(c[0], 5);
  EXPECT_EQ(c[1], 5);
  EXPECT_EQ(c[2], 0);
  EXPECT_EQ(f.fail_open.value(), 10U);
}

TEST(Routing, HealthChecksDisabledMeansRoutable) {
  auto cfg = group_config(2);
  cfg.health_check.enabled = false;
  Fixture f(cfg);
  EXPECT_EQ(f.t(0).state(), TargetState::unavailable);
  EXPECT_EQ(f.group.healthy_count(), 2U);
  EXPECT_FALSE(f.group.fail_open());
  WeightedRandom wr(3);
  const auto c = f.picks(wr, 1000);
  EXPECT_GT(c[0], 0);
  EXPECT_GT(c[1], 0);
  EXPECT_EQ(f.fail_open.value(), 0U);
}

TEST(Routing, Consecutive5xxEjectsAndSuccessResets) {
  auto cfg = group_config(4);
  cfg.health_check.enabled = false;
  cfg.outlier_detection.consecutive_5xx = 3;
  Fixture f(cfg);
  report_response(f.group, f.t(0), 502, 1ms);
  report_response(f.group, f.t(0), 503, 1ms);
  report_response(f.group, f.t(0), 200, 1ms);  // resets
  report_response(f.group, f.t(0), 500, 1ms);
  report_response(f.group, f.t(0), 500, 1ms);
  EXPECT_FALSE(TargetStatus::ejected(f.t(0).load_status()));
  report_response(f.group, f.t(0), 500, 1ms);
  EXPECT_TRUE(TargetStatus::ejected(f.t(0).load_status()));
  EXPECT_EQ(f.t(0).ejections.load(), 1U);
  EXPECT_EQ(f.group.ejected_count(), 1U);
  const auto until = f.t(0).ejected_until_ms.load();
  EXPECT_GE(until - steady_ms(), 29'000);
  EXPECT_LE(until - steady_ms(), 30'000);
  // Ejected targets get no traffic.
  RoundRobin rr;
  const auto c = f.picks(rr, 30);
  EXPECT_EQ(c[0], 0);
  EXPECT_EQ(c[1] + c[2] + c[3], 30);
}

TEST(Routing, GatewayFailuresEjectAndAreCounted) {
  auto cfg = group_config(2);
  cfg.health_check.enabled = false;
  cfg.outlier_detection.consecutive_gateway_failure = 2;
  Fixture f(cfg);
  report_gateway_error(f.group, f.t(1));
  EXPECT_FALSE(TargetStatus::ejected(f.t(1).load_status()));
  report_gateway_error(f.group, f.t(1));
  EXPECT_TRUE(TargetStatus::ejected(f.t(1).load_status()));
  EXPECT_EQ(f.t(1).connection_errors.load(), 2U);
}

TEST(Routing, MaxEjectionPercentAndTheLastTargetStays) {
  auto cfg = group_config(4);
  cfg.health_check.enabled = false;
  cfg.outlier_detection.max_ejection_percent = 50;
  Fixture f(cfg);
  EXPECT_TRUE(eject(f.group, f.t(0)));
  EXPECT_FALSE(eject(f.group, f.t(0)));  // already ejected
  EXPECT_TRUE(eject(f.group, f.t(1)));
  EXPECT_FALSE(eject(f.group, f.t(2)));  // 50 % reached
  EXPECT_EQ(f.group.ejected_count(), 2U);

  auto all = group_config(2);
  all.health_check.enabled = false;
  all.outlier_detection.max_ejection_percent = 100;
  Fixture g(all);
  EXPECT_TRUE(eject(g.group, g.t(0)));
  EXPECT_FALSE(eject(g.group, g.t(1)));  // never the last routable one
}

TEST(Routing, DisabledOutlierDetectionNeverEjects) {
  auto cfg = group_config(2);
  cfg.outlier_detection.enabled = false;
  Fixture f(cfg);
  for (int i = 0; i < 20; ++i) report_response(f.group, f.t(0), 500, 1ms);
  EXPECT_FALSE(TargetStatus::ejected(f.t(0).load_status()));
}

TEST(Routing, PeakEwmaTakesPeaksAtOnceAndDecaysWithTime) {
  constexpr std::int64_t kTau = std::chrono::microseconds(kLatencyDecayTime).count();
  Fixture f(group_config(1));
  Target& t = f.t(0);
  observe_latency(t, 1000us, 0);
  EXPECT_EQ(t.latency_ewma_us.load(), 1000U);
  EXPECT_EQ(t.latency_stamp_us.load(), 0);
  observe_latency(t, 9000us, 10);  // a peak: taken at once
  EXPECT_EQ(t.latency_ewma_us.load(), 9000U);
  // Fast samples in quick succession barely move it: the weight is time, not count.
  for (int i = 0; i < 100; ++i) observe_latency(t, 1000us, 10 + i);
  EXPECT_GT(t.latency_ewma_us.load(), 8900U);
  // One τ later, a fast sample takes 1 - 1/e of the way: 9000/e + 1000(1 - 1/e).
  const std::uint32_t before = t.latency_ewma_us.load();
  observe_latency(t, 1000us, 109 + kTau);
  const double w = std::exp(-1.0);
  EXPECT_NEAR(t.latency_ewma_us.load(), before * w + 1000 * (1 - w), 2.0);
  EXPECT_EQ(t.latency_stamp_us.load(), 109 + kTau);
  // Long after, the old average is forgotten.
  observe_latency(t, 1000us, 109 + 50 * kTau);
  EXPECT_EQ(t.latency_ewma_us.load(), 1000U);
}

TEST(Routing, ReportedResponsesFeedTheEwmaWithTheSteadyClock) {
  Fixture f(group_config(1));
  const std::int64_t before = steady_us();
  report_response(f.group, f.t(0), 200, 1500us);
  EXPECT_EQ(f.t(0).latency_ewma_us.load(), 1500U);
  EXPECT_GE(f.t(0).latency_stamp_us.load(), before);
  EXPECT_LE(f.t(0).latency_stamp_us.load(), steady_us());
}

}  // namespace
}  // namespace edge::upstream
