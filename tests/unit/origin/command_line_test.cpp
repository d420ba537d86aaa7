#include "edge/origin/command_line.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace edge::origin {
namespace {

using namespace std::chrono_literals;

CommandLine parse(std::initializer_list<std::string_view> args) {
  const std::vector<std::string_view> v(args);
  return parse_command_line(v);
}

TEST(OriginCommandLine, DefaultsToOneServerOnLoopback8080) {
  const CommandLine cl = parse({});
  ASSERT_TRUE(cl.ok()) << cl.error;
  ASSERT_EQ(cl.servers.size(), 1U);
  EXPECT_EQ(cl.servers[0].host, "127.0.0.1");
  EXPECT_EQ(cl.servers[0].port, 8080);
  EXPECT_EQ(cl.servers[0].body_size, 1024U);
  EXPECT_FALSE(cl.servers[0].chunked);
  EXPECT_EQ(cl.servers[0].threads, 1);
  EXPECT_EQ(cl.servers[0].request_log_capacity, 0U);
}

TEST(OriginCommandLine, ParsesEveryOption) {
  const CommandLine cl = parse({"--listen",
                                "127.0.0.1:5001",
                                "--listen=[::1]:5002",
                                "--body-size",
                                "64KiB",
                                "--chunked",
                                "--latency",
                                "uniform:1ms:10ms",
                                "--error-rate",
                                "0.01",
                                "--slow-chunk-delay",
                                "10ms",
                                "--chunk-size=4KiB",
                                "--id",
                                "app-a",
                                "--echo",
                                "--threads",
                                "2",
                                "--seed",
                                "42"});
  ASSERT_TRUE(cl.ok()) << cl.error;
  ASSERT_EQ(cl.servers.size(), 2U);
  const OriginOptions& a = cl.servers[0];
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 5001);
  EXPECT_EQ(cl.servers[1].host, "::1");
  EXPECT_EQ(cl.servers[1].port, 5002);
  EXPECT_EQ(a.body_size, 64U * 1024);
  EXPECT_TRUE(a.chunked);
  EXPECT_EQ(a.latency.kind, Latency::Kind::uniform);
  EXPECT_EQ(a.latency.first, 1ms);
  EXPECT_EQ(a.latency.second, 10ms);
  EXPECT_DOUBLE_EQ(a.error_rate, 0.01);
  EXPECT_EQ(a.slow_chunk_delay, 10ms);
  EXPECT_EQ(a.chunk_size, 4096U);
  EXPECT_EQ(a.id, "app-a");
  EXPECT_TRUE(a.echo);
  EXPECT_EQ(a.threads, 2);
  EXPECT_EQ(a.seed, 42U);
  EXPECT_EQ(cl.servers[1].body_size, a.body_size);
}

TEST(OriginCommandLine, HelpWins) {
  EXPECT_TRUE(parse({"--body-size", "1", "--help"}).help);
  EXPECT_TRUE(parse({"-h"}).help);
  EXPECT_NE(usage_text("edge-origin").find("--slow-chunk-delay"), std::string::npos);
}

TEST(OriginCommandLine, BadArgumentsNameTheOption) {
  struct Case {
    std::initializer_list<std::string_view> args;
    std::string_view mentions;
  };
  const Case cases[] = {
      {{"--bogus"}, "--bogus"},
      {{"--listen"}, "--listen"},
      {{"--listen", "nowhere"}, "--listen"},
      {{"--listen", "1.2.3.4:70000"}, "--listen"},
      {{"--body-size", "12XB"}, "--body-size"},
      {{"--latency", "gauss:5ms"}, "--latency"},
      {{"--latency", "uniform:10ms:1ms"}, "--latency"},
      {{"--error-rate", "1.5"}, "--error-rate"},
      {{"--threads", "0"}, "--threads"},
      {{"--chunk-size", "2MiB"}, "--chunk-size"},
      {{"--chunked=yes"}, "--chunked"},
  };
  for (const Case& c : cases) {
    const CommandLine cl = parse(c.args);
    EXPECT_FALSE(cl.ok()) << *c.args.begin();
    EXPECT_NE(cl.error.find(c.mentions), std::string::npos) << cl.error;
    EXPECT_TRUE(cl.servers.empty());
  }
}

TEST(OriginCommandLine, DurationUnits) {
  std::chrono::microseconds d{};
  ASSERT_TRUE(parse_duration_us("250us", d));
  EXPECT_EQ(d, 250us);
  ASSERT_TRUE(parse_duration_us("5ms", d));
  EXPECT_EQ(d, 5ms);
  ASSERT_TRUE(parse_duration_us("2m", d));
  EXPECT_EQ(d, 120s);
  ASSERT_TRUE(parse_duration_us("3", d));
  EXPECT_EQ(d, 3s);
  EXPECT_FALSE(parse_duration_us("", d));
  EXPECT_FALSE(parse_duration_us("us", d));
  EXPECT_FALSE(parse_duration_us("ms", d));
  EXPECT_FALSE(parse_duration_us("5 ms", d));
  EXPECT_FALSE(parse_duration_us("-5ms", d));
  EXPECT_FALSE(parse_duration_us("-5us", d));
}

TEST(OriginCommandLine, SizesAndAddressesUseTheConfigSyntax) {
  const CommandLine cl =
      parse({"--body-size", "10GiB", "--chunk-size", "2KB", "--listen", ":5000"});
  ASSERT_TRUE(cl.ok()) << cl.error;
  ASSERT_EQ(cl.servers.size(), 1U);
  EXPECT_EQ(cl.servers[0].body_size, 10ULL << 30);
  EXPECT_EQ(cl.servers[0].chunk_size, 2000U);
  EXPECT_EQ(cl.servers[0].host, "");
  EXPECT_EQ(cl.servers[0].port, 5000);
  EXPECT_FALSE(parse({"--listen", "::1:80"}).ok());
  EXPECT_FALSE(parse({"--body-size", "1.5KiB"}).ok());
}

TEST(OriginCommandLine, LatencySpecs) {
  Latency l;
  ASSERT_TRUE(parse_latency("fixed:5ms", l));
  EXPECT_EQ(l.kind, Latency::Kind::fixed);
  EXPECT_EQ(l.first, 5ms);
  EXPECT_EQ(l.to_string(), "fixed:5ms");
  ASSERT_TRUE(parse_latency("exp:5ms", l));
  EXPECT_EQ(l.kind, Latency::Kind::exponential);
  EXPECT_EQ(l.to_string(), "exp:5ms");
  ASSERT_TRUE(parse_latency("uniform:500us:2s", l));
  EXPECT_EQ(l.to_string(), "uniform:500us:2s");
  ASSERT_TRUE(parse_latency("none", l));
  EXPECT_EQ(l.kind, Latency::Kind::none);
  ASSERT_TRUE(parse_latency("7ms", l));
  EXPECT_EQ(l.kind, Latency::Kind::fixed);
  EXPECT_FALSE(parse_latency("fixed", l));
  EXPECT_FALSE(parse_latency("fixed:5ms:6ms", l));
  EXPECT_FALSE(parse_latency("uniform:5ms", l));
}

}  // namespace
}  // namespace edge::origin
