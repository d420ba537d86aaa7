#include "edge/upstream/target.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>

namespace edge::upstream {
namespace {

config::TargetConfig target(std::string host, std::uint16_t port, std::uint32_t weight = 1) {
  config::TargetConfig t;
  t.address.host = host;
  t.address.port = port;
  t.weight = weight;
  const bool v6 = host.find(':') != std::string::npos && host.front() != '[';
  t.id = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  return t;
}

config::TargetGroupConfig group(std::vector<config::TargetConfig> targets) {
  config::TargetGroupConfig g;
  g.name = "app";
  g.targets = std::move(targets);
  return g;
}

/// The error message TargetGroup throws, or "" when it does not throw.
std::string construction_error(const config::TargetGroupConfig& cfg) {
  try {
    TargetGroup g(cfg);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(TargetGroup, ResolvesLiteralAddresses) {
  const TargetGroup g(
      group({target("127.0.0.1", 5001), target("::1", 5002, 2), target("[::1]", 5003, 0)}), 7);
  EXPECT_EQ(g.name(), "app");
  EXPECT_EQ(g.index(), 7U);
  ASSERT_EQ(g.targets().size(), 3U);

  const Target& v4 = *g.targets()[0];
  EXPECT_EQ(v4.id, "127.0.0.1:5001");
  EXPECT_EQ(v4.endpoint.address(), boost::asio::ip::make_address("127.0.0.1"));
  EXPECT_EQ(v4.endpoint.port(), 5001);
  EXPECT_EQ(v4.index, 0U);
  EXPECT_EQ(v4.weight.load(), 1U);

  const Target& v6 = *g.targets()[1];
  EXPECT_EQ(v6.id, "[::1]:5002");
  EXPECT_EQ(v6.endpoint.address(), boost::asio::ip::make_address("::1"));
  EXPECT_EQ(v6.endpoint.port(), 5002);
  EXPECT_EQ(v6.index, 1U);
  EXPECT_EQ(v6.weight.load(), 2U);

  const Target& bracketed = *g.targets()[2];
  EXPECT_EQ(bracketed.endpoint.address(), boost::asio::ip::make_address("::1"));
  EXPECT_EQ(bracketed.endpoint.port(), 5003);
  EXPECT_EQ(bracketed.weight.load(), 1U);  // 0 is raised to 1
  EXPECT_EQ(bracketed.outstanding.load(), 0U);
  EXPECT_EQ(bracketed.state(), TargetState::initial);  // checks enabled by default
  EXPECT_TRUE(bracketed.poolable());
}

TEST(TargetGroup, MalformedAddressFailsWithoutLookup) {
  const auto start = std::chrono::steady_clock::now();
  const std::string err =
      construction_error(group({target("127.0.0.1", 5001), target("300.1.1.1", 80)}));
  EXPECT_EQ(err.rfind("target group 'app': cannot resolve target '300.1.1.1:80': ", 0), 0U) << err;
  // Literal-only parsing: no resolver round trip (which could take seconds).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(TargetGroup, InvalidHostNameFails) {
  const std::string err = construction_error(group({target("no such host.invalid", 80)}));
  EXPECT_EQ(err,
            "target group 'app': cannot resolve target 'no such host.invalid:80': "
            "invalid host name");
  EXPECT_NE(construction_error(group({target("", 80)})), "");
  EXPECT_NE(construction_error(group({target("127.0.0.1", 0)})), "");
}

TEST(TargetGroup, ResolvesHostNameFromHostsFile) {
  // "localhost" comes from /etc/hosts: no DNS server involved.
  const TargetGroup g(group({target("localhost", 6000)}));
  ASSERT_EQ(g.targets().size(), 1U);
  EXPECT_TRUE(g.targets()[0]->endpoint.address().is_loopback());
  EXPECT_EQ(g.targets()[0]->endpoint.port(), 6000);
}

TEST(OutstandingGuard, CountsOnEveryExitPath) {
  Target t;
  {
    OutstandingGuard a(&t);
    EXPECT_EQ(t.outstanding.load(), 1U);
    OutstandingGuard b(std::move(a));
    EXPECT_EQ(t.outstanding.load(), 1U);
    OutstandingGuard c(&t);
    EXPECT_EQ(t.outstanding.load(), 2U);
    c = std::move(b);
    EXPECT_EQ(t.outstanding.load(), 1U);
  }
  EXPECT_EQ(t.outstanding.load(), 0U);
}

}  // namespace
}  // namespace edge::upstream
