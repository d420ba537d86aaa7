// Weighted forward to two target groups through a real gateway: the split
// follows the weights, and target-group stickiness (AWSALBTG cookie) keeps a
// client on the group it was given.
#include "edge/proxy/stickiness.hpp"

#include <ctime>
#include <map>

#include "integration/gateway_fixture.hpp"

namespace edge::test {
namespace {

using namespace std::chrono_literals;

class StickinessTest : public GatewayTest {
 protected:
  /// Groups "blue" (origin 0) and "green" (origin 1), forwarded by weight.
  config::Config two_groups(std::uint32_t blue, std::uint32_t green, bool sticky) {
    origin::OriginOptions ob, og;
    ob.id = "blue";
    og.id = "green";
    auto& b = add_origin(ob);
    auto& g = add_origin(og);
    auto c = base_config(2);
    c.target_groups[0].name = "blue";
    add_target(c, b.port(), 0);
    config::TargetGroupConfig green_group = c.target_groups[0];
    green_group.name = "green";
    green_group.targets.clear();
    c.target_groups.push_back(green_group);
    add_target(c, g.port(), 1);
    auto& f = c.listeners[0].default_action.forward;
    f.target_groups = {{"blue", blue}, {"green", green}};
    f.stickiness.enabled = sticky;
    f.stickiness.duration = std::chrono::hours(1);
    return c;
  }

  static std::string cookie_value(const Response& r) {
    for (const auto& [n, v] : r.headers) {
      if (n == "Set-Cookie" && v.starts_with("AWSALBTG=")) {
        return v.substr(9, v.find(';') - 9);
      }
    }
    return {};
  }
};

TEST_F(StickinessTest, WeightedSplitStaysWithinStatisticalBounds) {
  start(two_groups(3, 1, false));
  auto conn = connect(port_);
  std::map<std::string, int> served;
  constexpr int kRequests = 400;
  for (int i = 0; i < kRequests; ++i) {
    auto r = conn.request("GET", "/");
    ASSERT_EQ(r.status, 200);
    EXPECT_FALSE(r.has_header("Set-Cookie"));
    ++served[r.header("X-Served-By")];
  }
  // Binomial(400, 0.75): sd ≈ 0.022; ±0.1 is more than 4.5 sd.
  EXPECT_NEAR(static_cast<double>(served["blue"]) / kRequests, 0.75, 0.1);
  EXPECT_EQ(served["blue"] + served["green"], kRequests);
}

TEST_F(StickinessTest, ClientKeepsTheGroupItWasGiven) {
  start(two_groups(1, 1, true));
  std::map<std::string, int> first_choice;
  for (int client = 0; client < 20; ++client) {
    auto first = http_get(port_, "/");
    ASSERT_EQ(first.status, 200);
    const std::string group = first.header("X-Served-By");
    const std::string value = cookie_value(first);
    ASSERT_EQ(value.size(), 16u) << "no AWSALBTG cookie";
    EXPECT_EQ(first.header_count("Set-Cookie"), 2u);  // AWSALBTG + AWSALBTGCORS
    ++first_choice[group];
    auto conn = connect(port_);
    for (int i = 0; i < 25; ++i) {
      auto r = conn.request("GET", "/", {{"Cookie", "session=1; AWSALBTG=" + value}});
      ASSERT_EQ(r.status, 200);
      EXPECT_EQ(r.header("X-Served-By"), group) << "client " << client << " request " << i;
      EXPECT_FALSE(r.has_header("Set-Cookie"));  // still valid: not re-issued
    }
  }
  // Both groups were handed out (probability of not: 2^-19).
  EXPECT_GT(first_choice["blue"], 0);
  EXPECT_GT(first_choice["green"], 0);
}

TEST_F(StickinessTest, StickyClientsStayOnAGroupWhoseWeightIsZero) {
  start(two_groups(1, 0, true));
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  const std::string green =
      proxy::format_sticky_value({proxy::group_name_hash("green"), now + 600});
  const std::string expired =
      proxy::format_sticky_value({proxy::group_name_hash("green"), now - 1});
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(http_get(port_, "/", {{"Cookie", "AWSALBTGCORS=" + green}}).header("X-Served-By"),
              "green");
    auto r = http_get(port_, "/", {{"Cookie", "AWSALBTG=" + expired}});
    EXPECT_EQ(r.header("X-Served-By"), "blue");
    EXPECT_EQ(r.header_count("Set-Cookie"), 2u);
  }
}

}  // namespace
}  // namespace edge::test
