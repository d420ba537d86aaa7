// Binary upgrade: a second gateway takes over the listening sockets of a
// running one over its upgrade socket while clients keep opening connections;
// not one connection may be refused or fail.
#include <unistd.h>

#include <atomic>
#include <thread>

#include "integration/gateway_fixture.hpp"

namespace edge::test {
namespace {

using namespace std::chrono_literals;

class HandoverTest : public GatewayTest {};

std::uint64_t accepted(server::Gateway& g) {
  return sum_shards(g.metrics(), [](auto& s) { return s.client_connections_accepted.value(); });
}

TEST_F(HandoverTest, NewGatewayTakesOverListenersUnderLoadWithoutRefusingAConnection) {
  add_origin();
  const std::string path = "/tmp/edged-handover-test-" + std::to_string(::getpid()) + ".sock";
  auto c = base_config(2);
  c.admin.enabled = false;
  c.admin.upgrade_socket = path;
  add_target(c, origins_[0]->port());

  std::atomic<bool> handed_over{false};
  server::GatewayOptions old_options;
  old_options.on_handed_over = [&handed_over] { handed_over = true; };
  auto old_gw = std::make_unique<server::Gateway>(c, nullptr, old_options);
  old_gw->start();
  const std::uint16_t port = old_gw->listener_port(0);

  // Steady stream: every request on a new connection.
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      while (!stop) {
        auto conn = connect(port);
        if (!conn.ok()) {
          ++failed;
          continue;
        }
        auto r = conn.request("GET", "/", {}, {}, 5s);
        (r.status == 200 ? ok : failed)++;
      }
    });
  }
  std::this_thread::sleep_for(300ms);
  const int before = ok.load();

  server::GatewayOptions new_options;
  new_options.takeover_path = path;
  auto new_gw = std::make_unique<server::Gateway>(c, nullptr, new_options);
  new_gw->start();  // returns once the old gateway started draining
  EXPECT_EQ(new_gw->listener_port(0), port);
  EXPECT_TRUE(handed_over.load());
  old_gw->wait();  // drained and stopped: its sockets live on in new_gw
  const int at_handover = ok.load();
  std::this_thread::sleep_for(300ms);
  stop = true;
  for (auto& t : clients) t.join();

  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(before, 10);
  EXPECT_GT(ok.load() - at_handover, 10) << "the new gateway served after the old one left";
  EXPECT_GT(accepted(*old_gw), 0u);
  EXPECT_GT(accepted(*new_gw), 0u);
  EXPECT_EQ(accepted(*old_gw) + accepted(*new_gw), static_cast<std::uint64_t>(ok.load()));

  new_gw->stop();
  new_gw->wait();
}

TEST_F(HandoverTest, TakeoverWithoutARunningGatewayFails) {
  auto c = base_config(1);
  c.admin.enabled = false;
  add_target(c, refused_port());
  server::GatewayOptions o;
  o.takeover_path = "/tmp/edged-handover-test-nobody-" + std::to_string(::getpid()) + ".sock";
  server::Gateway g(c, nullptr, o);
  EXPECT_THROW(g.start(), std::system_error);
}

}  // namespace
}  // namespace edge::test
