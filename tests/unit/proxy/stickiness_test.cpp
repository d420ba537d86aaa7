#include "edge/proxy/stickiness.hpp"

#include <gtest/gtest.h>

#include <random>

namespace edge::proxy {
namespace {

RouteAction two_groups(std::uint32_t wa, std::uint32_t wb) {
  RouteAction a;
  a.forward.push_back({"blue", 0, wa, group_name_hash("blue")});
  a.forward.push_back({"green", 1, wb, group_name_hash("green")});
  a.forward_weight_total = wa + wb;
  a.sticky = true;
  a.sticky_seconds = 3600;
  return a;
}

TEST(Stickiness, CookieValueRoundTrips) {
  StickyCookie c{group_name_hash("blue"), 1'800'000'000};
  const std::string v = format_sticky_value(c);
  EXPECT_EQ(v.size(), 16u);
  auto back = parse_sticky_value(v);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->group_hash, c.group_hash);
  EXPECT_EQ(back->expires, c.expires);
}

TEST(Stickiness, MalformedValuesAreIgnored) {
  EXPECT_FALSE(parse_sticky_value(""));
  EXPECT_FALSE(parse_sticky_value("0123456789abcdeF"));
  EXPECT_FALSE(parse_sticky_value("0123456789abcde"));
  EXPECT_FALSE(parse_sticky_value("0123456789abcdefa"));
  EXPECT_FALSE(parse_sticky_value("xyz3456789abcdef"));
}

TEST(Stickiness, ValidCookieKeepsItsGroupEvenAtWeightZero) {
  const RouteAction a = two_groups(1, 0);
  const std::int64_t now = 1'800'000'000;
  const std::string green = format_sticky_value({group_name_hash("green"), now + 10});
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1000; ++i) {
    bool fresh = true;
    const ForwardTarget* g = pick_sticky_forward(a, green, now, rng(), fresh);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->name, "green");
    EXPECT_FALSE(fresh);
  }
}

TEST(Stickiness, ExpiredOrUnknownCookiesChooseByWeight) {
  const RouteAction a = two_groups(1, 0);
  const std::int64_t now = 1'800'000'000;
  for (const std::string& cookie :
       {format_sticky_value({group_name_hash("green"), now}),  // expires now
        format_sticky_value({group_name_hash("red"), now + 100}), std::string("garbage"),
        std::string()}) {
    bool fresh = false;
    const ForwardTarget* g = pick_sticky_forward(a, cookie, now, 12345, fresh);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->name, "blue") << cookie;
    EXPECT_TRUE(fresh);
  }
}

TEST(Stickiness, WeightedSplitWithoutCookiesFollowsTheWeights) {
  const RouteAction a = two_groups(3, 1);
  std::mt19937_64 rng(42);
  constexpr int kPicks = 100'000;
  int blue = 0;
  for (int i = 0; i < kPicks; ++i) {
    bool fresh = false;
    if (pick_sticky_forward(a, {}, 0, rng(), fresh)->name == "blue") ++blue;
  }
  EXPECT_NEAR(static_cast<double>(blue) / kPicks, 0.75, 0.01);
}

TEST(Stickiness, SetCookieLinesLikeAlb) {
  const RouteAction a = two_groups(1, 1);
  std::string out;
  append_sticky_cookies(out, a, a.forward[1], 1'700'000'000);  // + 1h
  const std::string v = format_sticky_value({group_name_hash("green"), 1'700'003'600});
  EXPECT_EQ(out, "Set-Cookie: AWSALBTG=" + v +
                     "; Expires=Tue, 14 Nov 2023 23:13:20 GMT; Path=/\r\n"
                     "Set-Cookie: AWSALBTGCORS=" +
                     v +
                     "; Expires=Tue, 14 Nov 2023 23:13:20 GMT; Path=/; SameSite=None; Secure\r\n");
}

}  // namespace
}  // namespace edge::proxy
