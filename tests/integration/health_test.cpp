// Active and passive health through a real gateway and real origins: a flipped
// health endpoint takes a target out and back, fail open, an origin killed under
// load, one checker for the whole process.
#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "edge/upstream/routing.hpp"
#include "edge/upstream/target.hpp"
#include "integration/gateway_fixture.hpp"

namespace edge::test {
namespace {

using namespace std::chrono_literals;

/// Polls `pred` until it holds or `limit` passes (no fixed sleeps in assertions).
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

class HealthTest : public GatewayTest {
 protected:
  static constexpr auto kInterval = 100ms;

  /// A config whose group "app" checks GET /health on every origin added so far.
  config::Config health_config(unsigned workers = 2) {
    auto c = base_config(workers);
    auto& hc = c.target_groups[0].health_check;
    hc.enabled = true;
    hc.path = "/health";
    hc.healthy_threshold = 2;
    hc.unhealthy_threshold = 2;
    for (auto& o : origins_) add_target(c, o->port());
    return c;
  }

  void start_checked(config::Config c) {
    server::GatewayOptions o;
    o.health_check_interval = kInterval;  // test-only override of the 5 s minimum
    o.health_check_timeout = 1s;
    gateway_ = std::make_unique<server::Gateway>(std::move(c), nullptr, o);
    gateway_->start();
    port_ = gateway_->listener_port(0);
  }

  const upstream::Target& target(std::size_t i) const {
    return *gateway_->target_group("app")->targets().at(i);
  }
  bool all_in(upstream::TargetState s) const {
    for (const auto& t : gateway_->target_group("app")->targets())
      if (t->state() != s) return false;
    return true;
  }
  upstream::TargetReason reason(std::size_t i) const {
    return upstream::TargetStatus::reason(target(i).load_status());
  }
};

TEST_F(HealthTest, FlippedOriginIsTakenOutAndComesBack) {
  auto& a = add_origin();
  auto& b = add_origin();
  start_checked(health_config());
  ASSERT_TRUE(eventually([&] { return all_in(upstream::TargetState::healthy); }));
  EXPECT_FALSE(gateway_->target_group("app")->fail_open());

  b.set_healthy(false);
  ASSERT_TRUE(eventually([&] { return target(1).state() == upstream::TargetState::unhealthy; }));
  EXPECT_EQ(reason(1), upstream::TargetReason::response_code_mismatch);
  EXPECT_EQ(target(1).last_check_status.load(), 503);

  const auto before = b.requests_for("/x");
  for (int i = 0; i < 20; ++i) ASSERT_EQ(http_get(port_, "/x").status, 200);
  EXPECT_EQ(b.requests_for("/x"), before);
  EXPECT_EQ(a.requests_for("/x"), 20U);

  b.set_healthy(true);
  ASSERT_TRUE(eventually([&] { return target(1).state() == upstream::TargetState::healthy; }));
  ASSERT_TRUE(eventually([&] {
    http_get(port_, "/x");
    return b.requests_for("/x") > before;
  }));

  const std::string text = gateway_->metrics().serialize();
  EXPECT_NE(text.find("edged_target_group_healthy_targets{target_group=\"app\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("edged_target_health_checks_total"), std::string::npos);
}

TEST_F(HealthTest, AllTargetsUnhealthyFailOpen) {
  auto& a = add_origin();
  auto& b = add_origin();
  start_checked(health_config());
  ASSERT_TRUE(eventually([&] { return all_in(upstream::TargetState::healthy); }));
  a.set_healthy(false);
  b.set_healthy(false);
  ASSERT_TRUE(eventually([&] { return all_in(upstream::TargetState::unhealthy); }));
  EXPECT_TRUE(gateway_->target_group("app")->fail_open());
  for (int i = 0; i < 10; ++i) ASSERT_EQ(http_get(port_, "/x").status, 200);
  EXPECT_EQ(a.requests_for("/x") + b.requests_for("/x"), 10U);
  auto& m = gateway_->metrics();
  EXPECT_EQ(sum_shards(m, [](auto& s) { return s.target_group_fail_open[0].value(); }), 10U);
  EXPECT_NE(m.serialize().find("edged_target_group_fail_open{target_group=\"app\"} 1"),
            std::string::npos);
}

TEST_F(HealthTest, NewTargetsAreProbedAtOnceAndRoutedAfterOnePass) {
  add_origin();
  add_origin();
  auto c = health_config();
  c.target_groups[0].health_check.healthy_threshold = 10;  // not needed for the first pass
  start_checked(c);
  ASSERT_TRUE(eventually([&] { return all_in(upstream::TargetState::healthy); }));
  EXPECT_GE(target(0).checks_passed.load(), 1U);
}

TEST_F(HealthTest, OriginKilledUnderLoadNoClientErrors) {
  auto& a = add_origin();
  auto& b = add_origin();
  auto& victim = add_origin();
  auto c = health_config(2);
  c.target_groups[0].outlier_detection.consecutive_gateway_failure = 1;
  start_checked(c);
  ASSERT_TRUE(eventually([&] { return all_in(upstream::TargetState::healthy); }));

  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::atomic<int> done{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      while (!stop.load()) {
        auto conn = connect(port_);
        for (int k = 0; k < 20 && !stop.load(); ++k) {
          const int st = conn.request("GET", "/x").status;
          if (st != 200) {
            ++errors;
            ADD_FAILURE() << "status " << st;
          }
          ++done;
        }
      }
    });
  }
  ASSERT_TRUE(eventually([&] { return victim.requests_for("/x") > 10; }));
  victim.stop();
  ASSERT_TRUE(eventually([&] { return target(2).state() == upstream::TargetState::unhealthy; }));
  const int at_unhealthy = done.load();
  ASSERT_TRUE(eventually([&] { return done.load() > at_unhealthy + 100; }));
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(a.requests_for("/x") + b.requests_for("/x"), 100U);
  EXPECT_GT(target(2).connection_errors.load() + target(2).ejections.load(), 0U);
}

TEST_F(HealthTest, OneCheckerForTheWholeProcess) {
  auto& a = add_origin();
  start_checked(health_config(4));
  ASSERT_TRUE(eventually([&] { return all_in(upstream::TargetState::healthy); }));
  const auto t0 = std::chrono::steady_clock::now();
  const auto probes0 = a.requests_for("/health");
  ASSERT_TRUE(eventually([&] { return a.requests_for("/health") >= probes0 + 10; }));
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  const auto probes = a.requests_for("/health") - probes0;
  // One prober: about one probe per interval (± 10 % jitter). Four probers (one
  // per worker) would make about four.
  const auto max_expected = static_cast<std::uint64_t>(elapsed / (kInterval * 0.9)) + 2;
  EXPECT_LE(probes, max_expected);
  // Probes do not come from the request pool: each is a connection of its own.
  EXPECT_GE(a.total_connections(), probes);
}

TEST_F(HealthTest, TcpChecksConnectOnly) {
  add_origin();
  auto c = health_config();
  add_target(c, refused_port());
  c.target_groups[0].health_check.protocol = config::HealthCheckProtocol::tcp;
  start_checked(c);
  ASSERT_TRUE(eventually([&] {
    return target(0).state() == upstream::TargetState::healthy &&
           target(1).state() == upstream::TargetState::unhealthy;
  }));
  EXPECT_EQ(reason(1), upstream::TargetReason::failed_health_checks);
  EXPECT_EQ(origins_[0]->requests_for("/health"), 0U);  // no HTTP request
  for (int i = 0; i < 10; ++i) ASSERT_EQ(http_get(port_, "/x").status, 200);
}

TEST_F(HealthTest, SlowHealthEndpointIsATimeout) {
  add_origin();
  auto c = health_config();
  c.target_groups[0].health_check.path = "/delay/3000";
  server::GatewayOptions o;
  o.health_check_interval = kInterval;
  o.health_check_timeout = 50ms;
  gateway_ = std::make_unique<server::Gateway>(std::move(c), nullptr, o);
  gateway_->start();
  ASSERT_TRUE(eventually([&] { return target(0).state() == upstream::TargetState::unhealthy; }));
  EXPECT_EQ(reason(0), upstream::TargetReason::timeout);
}

TEST_F(HealthTest, Consecutive5xxEjectsUntilTheEjectionEndsAndACheckPasses) {
  auto& good = add_origin();
  origin::OriginOptions failing;
  failing.error_rate = 1.0;  // every request but the health endpoints: 500
  auto& bad = add_origin(failing);
  auto c = health_config();
  auto& od = c.target_groups[0].outlier_detection;
  od.consecutive_5xx = 3;
  od.base_ejection_time = 1s;
  c.target_groups[0].retries = 0;
  start_checked(c);
  ASSERT_TRUE(eventually([&] { return all_in(upstream::TargetState::healthy); }));
  auto ejected = [&] { return upstream::TargetStatus::ejected(target(1).load_status()); };
  ASSERT_TRUE(eventually([&] {
    http_get(port_, "/x");
    return ejected();
  }));
  EXPECT_EQ(target(1).ejections.load(), 1U);
  const auto bad_seen = bad.requests_for("/x");
  for (int i = 0; i < 10; ++i) ASSERT_EQ(http_get(port_, "/x").status, 200);
  EXPECT_EQ(bad.requests_for("/x"), bad_seen);
  EXPECT_GE(good.requests_for("/x"), 10U);
  // Back after base_ejection_time and a passing check; ejected again for 2 × base.
  ASSERT_TRUE(eventually([&] { return !ejected(); }));
  ASSERT_TRUE(eventually([&] {
    http_get(port_, "/x");
    return target(1).ejections.load() == 2;
  }));
  EXPECT_EQ(target(1).times_ejected.load(), 2U);
  const auto left = target(1).ejected_until_ms.load() - upstream::steady_ms();
  EXPECT_GT(left, 1000);
  EXPECT_LE(left, 2000);
  EXPECT_NE(gateway_->metrics().serialize().find("edged_target_ejections_total"),
            std::string::npos);
}

// ---- slow start through real requests, on an injected clock -----------------

/// The clock of slow start in SlowStartTest (ms; the checker thread reads it).
std::atomic<std::int64_t> g_slow_start_ms{1'000'000};
std::chrono::steady_clock::time_point slow_start_clock() {
  return std::chrono::steady_clock::time_point(std::chrono::milliseconds(g_slow_start_ms.load()));
}

/// A target that turns healthy while another already is gets `slow_start`
/// (100 s here): its share grows with the clock the test moves, with round
/// robin (sequential requests) and with least outstanding requests (requests
/// held in flight, since idle targets tie whatever their weights).
class SlowStartTest : public HealthTest,
                      public ::testing::WithParamInterface<config::Algorithm> {
 protected:
  static constexpr std::int64_t kWindowMs = 100'000;

  /// Moves the clock to `at_ms` after the start of the ramp and waits for the
  /// checker's tick to publish the ramp that goes with it.
  void ramp_to(std::int64_t at_ms, std::uint32_t expected) {
    g_slow_start_ms.store(start_ms_ + at_ms);
    ASSERT_TRUE(eventually([&] { return target(1).ramp.load() == expected; }))
        << "ramp " << target(1).ramp.load() << ", expected " << expected;
  }

  /// Requests that reached the new target (origin 1) out of `n`.
  std::uint64_t new_target_share(int n) {
    auto& fresh = *origins_[1];
    const std::uint64_t before = fresh.requests_for("/share");
    if (GetParam() == config::Algorithm::round_robin) {
      for (int i = 0; i < n; ++i) EXPECT_EQ(http_get(port_, "/share").status, 200);
      return fresh.requests_for("/share") - before;
    }
    // Least outstanding: each request stays in flight (its one body byte is
    // held back) until all n are placed, so each pick sees the ones before.
    auto& old = *origins_[0];
    const std::uint64_t placed = old.requests_for("/share") + before;
    std::vector<Connection> held;
    for (int i = 0; i < n; ++i) {
      held.emplace_back(port_);
      EXPECT_FALSE(held.back().send_raw("POST /share HTTP/1.1\r\nHost: app\r\n"
                                        "Content-Length: 1\r\n\r\n"));
      const std::uint64_t want = placed + static_cast<std::uint64_t>(i) + 1;
      EXPECT_TRUE(eventually(
          [&] { return old.requests_for("/share") + fresh.requests_for("/share") == want; }));
    }
    const std::uint64_t got = fresh.requests_for("/share") - before;
    for (auto& c : held) {
      EXPECT_FALSE(c.send_raw("x"));
      EXPECT_EQ(c.read_response().status, 200);
    }
    EXPECT_TRUE(eventually([&] {
      return gateway_->target_outstanding(0, 0) == 0 && gateway_->target_outstanding(0, 1) == 0;
    }));
    return got;
  }

  std::int64_t start_ms_ = 0;
};

TEST_P(SlowStartTest, NewlyHealthyTargetsShareGrowsOverTheWindow) {
  add_origin();
  auto& fresh = add_origin();
  fresh.set_healthy(false);
  auto c = health_config(1);  // one worker: one balancer state to reason about
  c.target_groups[0].algorithm = GetParam();
  c.target_groups[0].slow_start = std::chrono::milliseconds(kWindowMs);
  server::GatewayOptions o;
  o.health_check_interval = kInterval;
  o.health_check_timeout = 1s;
  o.health_clock = &slow_start_clock;
  gateway_ = std::make_unique<server::Gateway>(std::move(c), nullptr, o);
  gateway_->start();
  port_ = gateway_->listener_port(0);
  ASSERT_TRUE(eventually([&] {
    return target(0).state() == upstream::TargetState::healthy &&
           target(1).state() == upstream::TargetState::unhealthy;
  }));

  // The clock stands still while the target turns healthy: its ramp starts at
  // the floor (1 % of its weight).
  start_ms_ = g_slow_start_ms.load();
  fresh.set_healthy(true);
  ASSERT_TRUE(eventually([&] { return target(1).state() == upstream::TargetState::healthy; }));
  EXPECT_EQ(target(1).ramp.load(), upstream::kWeightScale / 100);
  EXPECT_EQ(target(0).ramp.load(), upstream::kWeightScale);

  // Shares expected with weights 1000 : ramp (22 picks; round robin is exact,
  // least outstanding up to a tie).
  ramp_to(kWindowMs / 10, 100);
  const std::uint64_t at10 = new_target_share(22);  // 22 × 100 / 1100 = 2
  ramp_to(kWindowMs / 2, 500);
  const std::uint64_t at50 = new_target_share(22);  // 22 × 500 / 1500 ≈ 7.3
  ramp_to(kWindowMs, upstream::kWeightScale);  // the window is over: full weight
  const std::uint64_t at100 = new_target_share(22);  // 11
  EXPECT_NEAR(static_cast<double>(at10), 2.0, 1.0);
  EXPECT_NEAR(static_cast<double>(at50), 7.3, 1.4);
  EXPECT_NEAR(static_cast<double>(at100), 11.0, 1.0);
  EXPECT_LT(at10, at50);
  EXPECT_LT(at50, at100);
  // Later clock moves change nothing: slow start is over.
  g_slow_start_ms.store(start_ms_ + 10 * kWindowMs);
  EXPECT_EQ(target(1).ramp.load(), upstream::kWeightScale);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, SlowStartTest,
                         ::testing::Values(config::Algorithm::round_robin,
                                           config::Algorithm::least_outstanding_requests),
                         [](const auto& param_info) {
                           return param_info.param == config::Algorithm::round_robin
                                      ? std::string("RoundRobin")
                                      : std::string("LeastOutstandingRequests");
                         });

}  // namespace
}  // namespace edge::test
