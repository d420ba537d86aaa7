// The target-group admin API against a real gateway and real origins:
// registration (traffic after one passing check), weights, deregistration
// under load (draining), rejected requests, the state file across a restart.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "edge/upstream/target.hpp"
#include "integration/gateway_fixture.hpp"

namespace edge::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

std::string id_of(const origin::OriginServer& o) { return "127.0.0.1:" + std::to_string(o.port()); }

class TargetApiTest : public GatewayTest {
 protected:
  config::Config api_config(const std::vector<origin::OriginServer*>& targets) {
    auto c = base_config(2);
    auto& g = c.target_groups[0];
    g.health_check.enabled = true;
    g.health_check.path = "/health";
    g.health_check.healthy_threshold = 2;
    g.health_check.unhealthy_threshold = 10;  // a failing new target stays `initial` a while
    for (auto* o : targets) add_target(c, o->port());
    return c;
  }
  void start_api(config::Config c) {
    server::GatewayOptions o;
    o.health_check_interval = 100ms;
    o.health_check_timeout = 1s;
    gateway_ = std::make_unique<server::Gateway>(std::move(c), nullptr, o);
    gateway_->start();
    port_ = gateway_->listener_port(0);
  }
  Response admin(std::string_view method, std::string_view path, std::string_view body = {},
                 Headers headers = {}) {
    auto c = connect(gateway_->admin_port());
    if (!body.empty()) headers.push_back({"Content-Type", "application/json"});
    return c.request(method, path, headers, body);
  }
  const upstream::TargetGroup& group() const { return *gateway_->target_group("app"); }
  const upstream::Target* member(const std::string& id) const {
    for (const upstream::Target* t : group().members())
      if (t->id == id) return t;
    return nullptr;
  }
  upstream::TargetState state_of(const std::string& id) const {
    const auto* t = member(id);
    return t ? t->state() : upstream::TargetState::unused;
  }
  std::string members_text() const {
    std::string s;
    for (const upstream::Target* t : group().members()) s += t->id + " ";
    return s;
  }
};

TEST_F(TargetApiTest, RegisteredTargetGetsTrafficOnlyAfterAPassingCheck) {
  auto& a = add_origin();
  auto& b = add_origin();
  b.set_healthy(false);
  start_api(api_config({&a}));
  ASSERT_TRUE(eventually([&] { return state_of(id_of(a)) == upstream::TargetState::healthy; }));

  auto r = admin("POST", "/target-groups/app/targets",
                 R"({"targets":[{"id":")" + id_of(b) + R"(","weight":1}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_NE(member(id_of(b)), nullptr);
  ASSERT_TRUE(eventually([&] { return member(id_of(b))->checks_failed.load() >= 1; }));
  EXPECT_EQ(state_of(id_of(b)), upstream::TargetState::initial);
  auto d = json::parse(admin("GET", "/target-groups/app").body);
  const auto& targets = d.at("targets").as_array();
  ASSERT_EQ(targets.size(), 2U);
  EXPECT_EQ(targets[1].at("state").as_string(), "initial");
  EXPECT_EQ(targets[1].at("reason").as_string(), "Elb.InitialHealthChecking");
  EXPECT_EQ(targets[1].at("last_health_check").at("result").as_string(), "fail");

  for (int i = 0; i < 20; ++i) ASSERT_EQ(http_get(port_, "/x").status, 200);
  EXPECT_EQ(b.requests_for("/x"), 0U);

  b.set_healthy(true);
  ASSERT_TRUE(eventually([&] { return state_of(id_of(b)) == upstream::TargetState::healthy; }));
  ASSERT_TRUE(eventually([&] {
    http_get(port_, "/x");
    return b.requests_for("/x") > 0;
  }));
}

TEST_F(TargetApiTest, WeightChangesTheShare) {
  auto& a = add_origin();
  auto& b = add_origin();
  auto c = api_config({&a, &b});
  c.target_groups[0].algorithm = config::Algorithm::round_robin;
  c.workers = 1;
  start_api(c);
  ASSERT_TRUE(eventually([&] {
    return state_of(id_of(a)) == upstream::TargetState::healthy &&
           state_of(id_of(b)) == upstream::TargetState::healthy;
  }));
  auto r = admin("PATCH", "/target-groups/app/targets/" + id_of(b), R"({"weight":3})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("weight").as_int64(), 3);
  const auto a0 = a.requests_for("/x");
  const auto b0 = b.requests_for("/x");
  auto conn = connect(port_);
  for (int i = 0; i < 400; ++i) ASSERT_EQ(conn.request("GET", "/x").status, 200);
  EXPECT_NEAR(static_cast<double>(b.requests_for("/x") - b0), 300.0, 4.0);
  EXPECT_NEAR(static_cast<double>(a.requests_for("/x") - a0), 100.0, 4.0);
}

TEST_F(TargetApiTest, DeregistrationUnderLoadDrainsWithoutClientErrors) {
  auto& a = add_origin();
  auto& b = add_origin();
  auto c = api_config({&b});
  c.target_groups[0].deregistration_delay = 60s;  // the drain must end early, when idle
  start_api(c);
  ASSERT_TRUE(eventually([&] { return state_of(id_of(b)) == upstream::TargetState::healthy; }));

  // A long request in flight to b (its only target then).
  std::atomic<int> long_status{0};
  std::thread long_request([&] { long_status = http_get(port_, "/delay/1500", {}, 20s).status; });
  ASSERT_TRUE(eventually([&] { return b.requests_for("/delay/1500") == 1; }));

  ASSERT_EQ(admin("POST", "/target-groups/app/targets",
                  R"({"targets":[{"id":")" + id_of(a) + R"("}]})")
                .status,
            200);
  ASSERT_TRUE(eventually([&] { return state_of(id_of(a)) == upstream::TargetState::healthy; }));

  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::atomic<int> done{0};
  constexpr int kClients = 4;
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&] {
      auto conn = connect(port_);
      while (!stop.load()) {
        if (conn.request("GET", "/x").status != 200) ++errors;
        ++done;
      }
    });
  }
  ASSERT_TRUE(eventually([&] { return b.requests_for("/x") > 20 && a.requests_for("/x") > 20; }));

  auto r = admin("DELETE", "/target-groups/app/targets/" + id_of(b));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto b_at_delete = b.requests_for("/x");
  EXPECT_EQ(state_of(id_of(b)), upstream::TargetState::draining);
  const int done_at_delete = done.load();
  ASSERT_TRUE(eventually([&] { return done.load() > done_at_delete + 200; }));
  // Only requests already picked when the call returned may still arrive.
  EXPECT_LE(b.requests_for("/x") - b_at_delete, static_cast<std::uint64_t>(kClients));

  long_request.join();
  EXPECT_EQ(long_status.load(), 200);  // in flight at deregistration: completes
  // Idle now: the drain ends long before its 60 s delay, and b leaves the group.
  ASSERT_TRUE(eventually([&] { return member(id_of(b)) == nullptr; })) << members_text();
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(group().targets()[0]->state(), upstream::TargetState::unused);
}

TEST_F(TargetApiTest, DrainingClosesIdlePooledConnectionsAtOnce) {
  auto& b = add_origin();
  auto c = api_config({&b});
  c.target_groups[0].health_check.enabled = false;  // no probe connections to count
  c.target_groups[0].deregistration_delay = 60s;
  c.workers = 1;
  start_api(c);
  // Several pooled connections to b: concurrent requests, then idle.
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i)
    clients.emplace_back([&] { EXPECT_EQ(http_get(port_, "/delay/100").status, 200); });
  for (auto& t : clients) t.join();
  ASSERT_GE(b.open_connections(), 2U);

  std::atomic<int> long_status{0};
  std::thread long_request([&] { long_status = http_get(port_, "/delay/3000", {}, 20s).status; });
  ASSERT_TRUE(eventually([&] { return b.requests_for("/delay/3000") == 1; }));
  ASSERT_EQ(admin("DELETE", "/target-groups/app/targets/" + id_of(b)).status, 200);
  EXPECT_EQ(state_of(id_of(b)), upstream::TargetState::draining);
  // Still draining (a request in flight), but the idle connections are gone:
  // only the one carrying the long request is left.
  EXPECT_TRUE(b.wait_for_open_connections(1, 2500ms));
  EXPECT_EQ(state_of(id_of(b)), upstream::TargetState::draining);
  long_request.join();
  EXPECT_EQ(long_status.load(), 200);
  ASSERT_TRUE(eventually([&] { return member(id_of(b)) == nullptr; }));
  EXPECT_TRUE(b.wait_for_open_connections(0, 5s));
  // No target left: 503, as ALB answers an empty target group.
  EXPECT_EQ(http_get(port_, "/x").status, 503);
}

TEST_F(TargetApiTest, InvalidRequestsAndWrongTokenChangeNothing) {
  auto& a = add_origin();
  auto& b = add_origin();
  auto c = api_config({&a});
  c.admin.token = "s3cret";
  start_api(c);
  const Headers auth{{"Authorization", "Bearer s3cret"}};
  const std::string before = admin("GET", "/target-groups/app", {}, auth).body;
  ASSERT_NE(before.find(id_of(a)), std::string::npos);
  const std::string add = R"({"targets":[{"id":")" + id_of(b) + R"("}]})";

  EXPECT_EQ(admin("POST", "/target-groups/app/targets", add).status, 401);
  EXPECT_EQ(admin("POST", "/target-groups/app/targets", add, {{"Authorization", "Bearer nope"}})
                .status,
            401);
  struct Case {
    std::string method, path, body;
    int status;
  };
  const std::vector<Case> cases{
      {"POST", "/target-groups/app/targets", "{not json", 400},
      {"POST", "/target-groups/app/targets", "[]", 400},
      {"POST", "/target-groups/app/targets", R"({"targets":[]})", 400},
      {"POST", "/target-groups/nope/targets", add, 404},
      {"POST", "/target-groups/app/targets", R"({"targets":[{"id":")" + id_of(a) + R"("}]})", 409},
      // One good target and one bad: nothing is registered.
      {"POST", "/target-groups/app/targets",
       R"({"targets":[{"id":")" + id_of(b) + R"("},{"id":"not-an-address"}]})", 400},
      {"POST", "/target-groups/app/targets",
       R"({"targets":[{"id":")" + id_of(b) + R"("},{"id":")" + id_of(b) + R"("}]})", 409},
      {"POST", "/target-groups/app/targets",
       R"({"targets":[{"id":")" + id_of(b) + R"(","weight":0}]})", 400},
      {"POST", "/target-groups/app/targets",
       R"({"targets":[{"id":")" + id_of(b) + R"(","color":"red"}]})", 400},
      {"DELETE", "/target-groups/app/targets/127.0.0.1:1", "", 404},
      {"DELETE", "/target-groups/nope/targets/" + id_of(a), "", 404},
      {"PATCH", "/target-groups/app/targets/" + id_of(a), R"({"weight":1000})", 400},
      {"PATCH", "/target-groups/app/targets/" + id_of(a), R"({"weight":"2"})", 400},
      {"PATCH", "/target-groups/app/targets/" + id_of(b), R"({"weight":2})", 404},
      {"GET", "/target-groups/nope", "", 404},
  };
  for (const auto& k : cases) {
    auto r = admin(k.method, k.path, k.body, auth);
    EXPECT_EQ(r.status, k.status) << k.method << " " << k.path << " " << k.body << "\n" << r.body;
    if (r.status >= 400) {
      const auto v = json::parse(r.body);
      EXPECT_TRUE(v.at("error").at("message").is_string()) << r.body;
    }
  }
  EXPECT_EQ(group().members().size(), 1U);
  EXPECT_EQ(member(id_of(a))->weight.load(), 1U);
  const auto after = json::parse(admin("GET", "/target-groups/app", {}, auth).body);
  EXPECT_EQ(after.at("targets").as_array().size(), 1U);
  EXPECT_EQ(json::parse(admin("GET", "/target-groups", {}, auth).body)
                .at("target_groups")
                .as_array()
                .size(),
            1U);
}

TEST_F(TargetApiTest, StateFileSurvivesRestart) {
  auto& a = add_origin();
  auto& b = add_origin();
  const auto dir = std::filesystem::temp_directory_path() /
                   ("edged-state-" + std::to_string(::getpid()) + "-" + std::to_string(a.port()));
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "state.json").string();
  auto c = api_config({&a});
  c.target_groups[0].deregistration_delay = 0ms;
  c.admin.state_file = file;
  start_api(c);
  ASSERT_EQ(admin("POST", "/target-groups/app/targets",
                  R"({"targets":[{"id":")" + id_of(b) + R"(","weight":7}]})")
                .status,
            200);
  ASSERT_EQ(admin("DELETE", "/target-groups/app/targets/" + id_of(a)).status, 200);
  ASSERT_TRUE(eventually([&] { return member(id_of(a)) == nullptr; }));
  gateway_->stop();
  gateway_->wait();
  gateway_.reset();
  ASSERT_TRUE(std::filesystem::exists(file));
  EXPECT_FALSE(std::filesystem::exists(file + ".tmp"));

  start_api(c);  // same configuration: a is listed there, b is not
  ASSERT_EQ(group().members().size(), 1U) << members_text();
  ASSERT_NE(member(id_of(b)), nullptr);
  EXPECT_EQ(member(id_of(b))->weight.load(), 7U);
  ASSERT_TRUE(eventually([&] { return state_of(id_of(b)) == upstream::TargetState::healthy; }));
  for (int i = 0; i < 5; ++i) ASSERT_EQ(http_get(port_, "/x").status, 200);
  EXPECT_EQ(a.requests_for("/x"), 0U);
  EXPECT_EQ(b.requests_for("/x"), 5U);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace edge::test
