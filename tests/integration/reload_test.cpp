// Configuration reload through a real gateway: rules swapped under a steady
// load without a failed request, a request in flight finishing on its old
// route, an open WebSocket going on, kept targets keeping their health state
// and pooled connections, listeners added and removed, and broken or
// not-reloadable configurations refused (Gateway::reload and POST /reload on
// the admin API, the path SIGHUP takes in edged).
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "edge/config/loader.hpp"
#include "edge/upstream/target.hpp"
#include "integration/gateway_fixture.hpp"
#include "support/exposition.hpp"

namespace edge::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

/// Two groups, "a" and "b" (one origin each); the listener forwards to `to`.
config::Config two_groups(std::uint16_t a, std::uint16_t b, const std::string& to,
                          unsigned workers = 2) {
  auto c = base_config(workers);
  c.target_groups[0].name = "a";
  add_target(c, a, 0);
  auto g = c.target_groups[0];
  g.name = "b";
  g.targets.clear();
  c.target_groups.push_back(g);
  add_target(c, b, 1);
  c.listeners[0].default_action.forward.target_groups = {{to, 1}};
  return c;
}

class ReloadTest : public GatewayTest {
 protected:
  std::string served_by(std::uint16_t port, const std::string& target = "/") {
    Connection c(port);
    auto r = c.request("GET", target);
    EXPECT_EQ(r.status, 200) << r.error.message();
    return r.header("X-Served-By");
  }
  std::string admin_post(const std::string& path, int& status) {
    Connection c(gateway_->admin_port());
    auto r = c.request("POST", path);
    status = r.status;
    return r.body;
  }
  double scrape(const std::string& name, const Labels& labels = {}) {
    return parse(gateway_->metrics().serialize()).get(name, labels).value_or(-1);
  }
};

TEST_F(ReloadTest, SteadyLoadSeesNoFailureAndKeepAliveConnectionsTakeTheNewRoute) {
  auto& a = add_origin();
  auto& b = add_origin();
  start(two_groups(a.port(), b.port(), "a"));

  // A few keep-alive clients, each counting failures and responses from "b".
  constexpr int kClients = 4;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> requests{0};
  std::vector<std::atomic<int>> from_b(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      Connection c(port_);
      while (!stop.load()) {
        auto r = c.request("GET", "/");
        if (r.status != 200 || !r.keep_alive) {
          ++failures;
          c = Connection(port_);
          continue;
        }
        ++requests;
        if (r.header("X-Served-By") == b.id()) ++from_b[i];
      }
    });
  }
  ASSERT_TRUE(eventually([&] { return requests.load() >= 200; }));
  const auto r = gateway_->reload(two_groups(a.port(), b.port(), "b"));
  ASSERT_TRUE(r.ok) << r.message();
  EXPECT_EQ(r.generation, 2U);
  // Every connection opened before the reload moves to the new route.
  const bool moved = eventually([&] {
    for (auto& n : from_b)
      if (n.load() < 50) return false;
    return true;
  });
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_TRUE(moved);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(served_by(port_), b.id());
  EXPECT_EQ(gateway_->generation(), 2U);
  EXPECT_EQ(scrape("edged_config_reloads_total", {{"result", "success"}}), 1.0);
  EXPECT_EQ(scrape("edged_config_generation"), 2.0);
  EXPECT_GT(scrape("edged_config_last_reload_success_timestamp_seconds"), 0.0);
}

TEST_F(ReloadTest, RequestInFlightFinishesOnItsRouteWhileNewOnesTakeTheNewOne) {
  auto& a = add_origin();
  auto& b = add_origin();
  start(two_groups(a.port(), b.port(), "a"));

  std::atomic<bool> slow_done{false};
  Response slow;
  std::thread t([&] {
    Connection c(port_);
    slow = c.request("GET", "/delay/3000");
    slow_done = true;
  });
  ASSERT_TRUE(a.wait_for_requests(1, 5s));  // the slow request is at its target
  const auto r = gateway_->reload(two_groups(a.port(), b.port(), "b"));
  ASSERT_TRUE(r.ok) << r.message();
  EXPECT_EQ(served_by(port_), b.id());
  EXPECT_FALSE(slow_done.load());  // still in flight when the new route answered
  t.join();
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(slow.header("X-Served-By"), a.id());
}

TEST_F(ReloadTest, OpenWebSocketRelaysFramesBeforeAndAfterTheReload) {
  auto& a = add_origin();
  auto& b = add_origin();
  start(two_groups(a.port(), b.port(), "a"));

  namespace websocket = boost::beast::websocket;
  boost::asio::io_context ioc;
  websocket::stream<boost::asio::ip::tcp::socket> ws{ioc};
  ws.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), port_});
  timeval tv{10, 0};
  ::setsockopt(ws.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ws.handshake("127.0.0.1", "/ws");
  auto echo = [&](const std::string& m) {
    ws.write(boost::asio::buffer(m));
    boost::beast::flat_buffer buf;
    ws.read(buf);
    return boost::beast::buffers_to_string(buf.data());
  };
  EXPECT_EQ(echo("before"), "before");
  ASSERT_TRUE(gateway_->reload(two_groups(a.port(), b.port(), "b")).ok);
  EXPECT_EQ(served_by(port_), b.id());
  EXPECT_EQ(echo("after"), "after");  // the tunnel to "a" goes on
  ws.close(websocket::close_code::normal);
}

TEST_F(ReloadTest, KeptTargetKeepsHealthStateAndPooledConnection) {
  auto& a = add_origin();
  auto& b = add_origin();
  auto& d = add_origin();
  auto c = base_config(1);  // one worker: one pool, so the reuse is certain
  auto& hc = c.target_groups[0].health_check;
  hc.enabled = true;
  hc.path = "/health";
  hc.healthy_threshold = 2;
  hc.unhealthy_threshold = 2;
  add_target(c, a.port());
  add_target(c, b.port());
  server::GatewayOptions o;
  o.health_check_interval = 100ms;
  o.health_check_timeout = 1s;
  b.set_healthy(false);
  gateway_ = std::make_unique<server::Gateway>(c, nullptr, o);
  gateway_->start();
  port_ = gateway_->listener_port(0);
  const auto* group = gateway_->target_group("app");
  auto state = [&](std::size_t i) { return group->targets().at(i)->state(); };
  ASSERT_TRUE(eventually([&] {
    return state(0) == upstream::TargetState::healthy &&
           state(1) == upstream::TargetState::unhealthy;
  }));

  // The last proxied request "a" saw: its health checks go on meanwhile, on
  // connections of their own, so its last request of all may be one of them.
  auto last_proxied = [&a]() -> std::optional<origin::RequestRecord> {
    const auto log = a.request_log();
    for (auto it = log.rbegin(); it != log.rend(); ++it)
      if (it->target == "/") return *it;
    return std::nullopt;
  };
  Connection client(port_);
  ASSERT_EQ(client.request("GET", "/").header("X-Served-By"), a.id());
  const auto first = last_proxied();
  ASSERT_TRUE(first);

  // Reload: a new rule and other thresholds; targets unchanged.
  auto next = c;
  next.target_groups[0].health_check.healthy_threshold = 3;
  config::Rule rule;
  rule.priority = 10;
  rule.conditions.path_pattern = {"/fixed"};
  rule.action.kind = config::Action::Kind::fixed_response;
  rule.action.fixed_response.status = 200;
  rule.action.fixed_response.body = "fixed";
  next.listeners[0].rules.push_back(rule);
  auto r = gateway_->reload(next);
  ASSERT_TRUE(r.ok) << r.message();
  EXPECT_EQ(gateway_->target_group("app"), group);  // the same run-time group
  EXPECT_EQ(state(0), upstream::TargetState::healthy);
  EXPECT_EQ(state(1), upstream::TargetState::unhealthy);  // not reset to initial
  EXPECT_EQ(client.request("GET", "/fixed").body, "fixed");

  // The pooled upstream connection to the kept target is used again.
  Connection again(port_);
  ASSERT_EQ(again.request("GET", "/").header("X-Served-By"), a.id());
  const auto second = last_proxied();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->connection_id, first->connection_id);
  EXPECT_EQ(second->connection_request, first->connection_request + 1);

  // Reload: b removed (drains, leaves the members), d added (starts initial).
  auto third = next;
  third.target_groups[0].targets.pop_back();
  add_target(third, d.port());
  r = gateway_->reload(third);
  ASSERT_TRUE(r.ok) << r.message();
  EXPECT_EQ(r.targets_added, 1U);
  EXPECT_EQ(r.targets_removed, 1U);
  EXPECT_EQ(state(0), upstream::TargetState::healthy);
  ASSERT_TRUE(eventually([&] {
    auto m = group->members();
    return m.size() == 2 && m[0]->id == "127.0.0.1:" + std::to_string(a.port()) &&
           m[1]->id == "127.0.0.1:" + std::to_string(d.port());
  }));
  EXPECT_EQ(state(1), upstream::TargetState::unused);
  ASSERT_TRUE(eventually([&] { return state(2) == upstream::TargetState::healthy; }));
}

TEST_F(ReloadTest, ListenersAreAddedAndRemoved) {
  auto& a = add_origin();
  auto c = base_config();
  add_target(c, a.port());
  auto old = c.listeners[0];
  old.name = "old";
  old.listen = {"127.0.0.2", 0};
  c.listeners.push_back(old);
  start(c);
  const std::uint16_t old_port = gateway_->listener_port(1);
  Connection idle(old_port, "127.0.0.2");
  ASSERT_EQ(idle.request("GET", "/").status, 200);

  auto next = c;
  next.listeners.pop_back();
  auto added = next.listeners[0];
  added.name = "new";
  added.listen = {"127.0.0.3", 0};
  next.listeners.push_back(added);
  const auto r = gateway_->reload(next);
  ASSERT_TRUE(r.ok) << r.message();
  EXPECT_EQ(r.listeners_added, 1U);
  EXPECT_EQ(r.listeners_removed, 1U);

  const std::uint16_t new_port = gateway_->listener_port(1);
  ASSERT_NE(new_port, 0);
  for (int i = 0; i < 4; ++i) {  // every worker accepts on it
    Connection n(new_port, "127.0.0.3");
    EXPECT_EQ(n.request("GET", "/").status, 200);
  }
  EXPECT_TRUE(idle.closed_by_peer(5s));  // the idle connection of the removed one drains
  Connection refused(old_port, "127.0.0.2");
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(served_by(port_), a.id());  // the kept one goes on
  EXPECT_EQ(scrape("edged_requests_total", {{"listener", "new"}, {"status_class", "2xx"}}), 4.0);
}

TEST_F(ReloadTest, BrokenOrFixedSettingsAreRefusedAndTheOldConfigKeepsServing) {
  auto& a = add_origin();
  auto& b = add_origin();
  const auto dir = std::filesystem::temp_directory_path() /
                   ("edge-reload-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "edged.yaml").string();
  auto write = [&](const std::string& group, const std::string& extra) {
    std::ofstream(file, std::ios::trunc)
        << "workers: 2\n"
           "admin: { listen: 127.0.0.1:0 }\n"
           "access_log: { path: off }\n"
        << extra
        << "listeners:\n"
           "  - name: web\n"
           "    listen: 127.0.0.1:0\n"
           "    default_action: { forward: { target_group: " << group << " } }\n"
           "target_groups:\n"
           "  - { name: a, targets: [127.0.0.1:" << a.port()
        << "], health_check: { enabled: false } }\n"
           "  - { name: b, targets: [127.0.0.1:" << b.port()
        << "], health_check: { enabled: false } }\n";
  };
  write("a", "");
  auto loaded = config::load_config_file(file);
  ASSERT_TRUE(loaded.ok());
  gateway_ = std::make_unique<server::Gateway>(std::move(loaded.config));
  gateway_->start();
  port_ = gateway_->listener_port(0);

  // Invalid: an unknown group. Refused with the reason, the old route serves.
  write("nowhere", "");
  int status = 0;
  auto body = admin_post("/reload", status);
  EXPECT_EQ(status, 400) << body;
  auto doc = json::parse(body).as_object();
  EXPECT_EQ(doc.at("status").as_string(), "error");
  EXPECT_EQ(doc.at("generation").as_int64(), 1);
  ASSERT_FALSE(doc.at("errors").as_array().empty());
  EXPECT_NE(body.find("nowhere"), std::string::npos) << body;
  EXPECT_EQ(served_by(port_), a.id());

  // Not YAML at all: refused with file:line:column.
  { std::ofstream(file, std::ios::trunc) << "listeners: [\n"; }
  body = admin_post("/reload", status);
  EXPECT_EQ(status, 400) << body;
  EXPECT_NE(body.find("edged.yaml"), std::string::npos) << body;

  // Valid but not reloadable: workers.
  write("b", "");
  {
    std::string text;
    std::ifstream in(file);
    text.assign(std::istreambuf_iterator<char>(in), {});
    text.replace(text.find("workers: 2"), 10, "workers: 3");
    std::ofstream(file, std::ios::trunc) << text;
  }
  body = admin_post("/reload", status);
  EXPECT_EQ(status, 400) << body;
  EXPECT_NE(body.find("workers cannot change"), std::string::npos) << body;
  EXPECT_EQ(served_by(port_), a.id());
  EXPECT_EQ(scrape("edged_config_reloads_total", {{"result", "failure"}}), 3.0);
  EXPECT_EQ(scrape("edged_config_generation"), 1.0);

  // Fixed: accepted.
  write("b", "");
  body = admin_post("/reload", status);
  EXPECT_EQ(status, 200) << body;
  doc = json::parse(body).as_object();
  EXPECT_EQ(doc.at("status").as_string(), "ok");
  EXPECT_EQ(doc.at("generation").as_int64(), 2);
  EXPECT_EQ(served_by(port_), b.id());
  EXPECT_EQ(gateway_->reload_file().generation, 3U);  // what SIGHUP runs
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace edge::test
