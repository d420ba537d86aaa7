// Target choice through the gateway: retries on refused connections, least
// outstanding requests vs round robin with one slow target, graceful drain.
#include <atomic>
#include <thread>

#include "integration/gateway_fixture.hpp"

namespace edge::test {
namespace {

using namespace std::chrono_literals;

class BalancingTest : public GatewayTest {};

TEST_F(BalancingTest, IdempotentGetRetriedOnAnotherTargetWhenOneRefuses) {
  auto& o = add_origin();
  auto c = base_config(2);
  add_target(c, refused_port());
  add_target(c, o.port());
  add_target(c, refused_port());
  start(c);
  for (int i = 0; i < 30; ++i) {
    auto r = http_get(port_, "/");
    ASSERT_EQ(r.status, 200) << "request " << i;
  }
  EXPECT_EQ(o.total_requests(), 30u);
  auto& m = gateway_->metrics();
  EXPECT_GT(sum_shards(m, [](auto& s) { return s.upstream_retries.value(); }), 0u);
}

/// Sends `total` requests from `clients` concurrent keep-alive clients and
/// returns how many reached each origin.
std::vector<std::uint64_t> drive(std::uint16_t port, int clients, int per_client,
                                 const std::vector<origin::OriginServer*>& origins) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&] {
      auto c = connect(port);
      for (int k = 0; k < per_client; ++k)
        if (c.request("GET", "/").status != 200) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::vector<std::uint64_t> counts;
  for (auto* o : origins) counts.push_back(o->total_requests());
  return counts;
}

TEST_F(BalancingTest, LeastOutstandingSendsFewerRequestsToSlowTargetThanRoundRobin) {
  origin::OriginOptions slow;
  slow.latency.kind = origin::Latency::Kind::fixed;
  slow.latency.first = std::chrono::milliseconds(20);
  auto& s = add_origin(slow);
  auto& f1 = add_origin();
  auto& f2 = add_origin();
  std::vector<origin::OriginServer*> all{&s, &f1, &f2};

  auto run = [&](config::Algorithm a) {
    std::vector<std::uint64_t> before;
    for (auto* o : all) before.push_back(o->total_requests());
    auto c = base_config(2);
    c.target_groups[0].algorithm = a;
    for (auto* o : all) add_target(c, o->port());
    start(c);
    auto after = drive(port_, 6, 40, all);
    gateway_->stop();
    gateway_->wait();
    gateway_.reset();
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < all.size(); ++i) total += after[i] - before[i];
    EXPECT_EQ(total, 240u);
    return static_cast<double>(after[0] - before[0]) / static_cast<double>(total);
  };
  const double rr = run(config::Algorithm::round_robin);
  const double lor = run(config::Algorithm::least_outstanding_requests);
  // Round robin gives the slow target its third whatever its speed; least
  // outstanding requests sees its queue and sends clearly fewer.
  EXPECT_NEAR(rr, 1.0 / 3.0, 0.05);
  EXPECT_LT(lor, rr * 0.5) << "least outstanding share " << lor << " vs round robin " << rr;
}

TEST_F(BalancingTest, GracefulDrainCompletesInFlightRequest) {
  auto& o = add_origin();
  start(base_config(2));
  Response in_flight;
  std::thread client([&] {
    auto c = connect(port_);
    in_flight = c.request("GET", "/delay/300");
  });
  ASSERT_TRUE(o.wait_for_requests(1, 5s));
  gateway_->drain(10s);
  client.join();
  EXPECT_EQ(in_flight.status, 200);
  EXPECT_EQ(in_flight.header("Connection"), "close");
  gateway_->wait();
  // Listeners are closed: a new connection is refused.
  auto c = connect(port_);
  EXPECT_FALSE(c.ok() && c.request("GET", "/", {}, {}, 1s).status == 200);
}

TEST_F(BalancingTest, DrainDeadlineClosesWhatIsLeft) {
  auto& o = add_origin();
  start(base_config(1));
  Response hung;
  std::thread client([&] {
    auto c = connect(port_);
    hung = c.request("GET", "/hang", {}, {}, 10s);
  });
  ASSERT_TRUE(o.wait_for_requests(1, 5s));
  auto t0 = std::chrono::steady_clock::now();
  gateway_->drain(200ms);
  gateway_->wait();
  client.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_NE(hung.status, 200);
}

// A client that connected just before the drain began (as during a hand-over
// to a new edged) but had not sent its request yet is answered, not reset; a
// connection that never sends anything does not hold the drain beyond a short
// grace.
TEST_F(BalancingTest, DrainAnswersTheFirstRequestOfAConnectionAcceptedBeforeIt) {
  add_origin();
  start(base_config(1));
  auto active = [this] {
    return sum_shards(gateway_->metrics(),
                      [](metrics::WorkerShard& s) { return s.active_client_connections.value(); });
  };
  auto early = connect(port_);
  auto silent = connect(port_);
  ASSERT_TRUE(early.ok());
  ASSERT_TRUE(silent.ok());
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (active() < 2 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(active(), 2u);  // both accepted: their sessions wait for a first request
  gateway_->drain(30s);
  auto r = early.request("GET", "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Connection"), "close");
  gateway_->wait();  // the silent one is closed after the grace, well before 30 s
  EXPECT_EQ(active(), 0u);
}

}  // namespace
}  // namespace edge::test
