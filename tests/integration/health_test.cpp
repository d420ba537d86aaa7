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

}  // namespace
}  // namespace edge::test
