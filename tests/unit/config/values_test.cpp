#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "edge/config/config.hpp"
#include "edge/config/loader.hpp"

namespace edge::config {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

Duration duration_of(std::string_view text) {
  Duration d{-1};
  EXPECT_TRUE(parse_duration(text, d)) << text;
  return d;
}

TEST(ParseDuration, AcceptsEveryUnitAndBareSeconds) {
  EXPECT_EQ(duration_of("250ms"), milliseconds(250));
  EXPECT_EQ(duration_of("30s"), seconds(30));
  EXPECT_EQ(duration_of("5m"), minutes(5));
  EXPECT_EQ(duration_of("1h"), hours(1));
  EXPECT_EQ(duration_of("1d"), hours(24));
  EXPECT_EQ(duration_of("90"), seconds(90));
  EXPECT_EQ(duration_of("0"), Duration::zero());
  EXPECT_EQ(duration_of("0s"), Duration::zero());
}

TEST(ParseDuration, RejectsMalformedAndLeavesOutputAlone) {
  for (const char* bad : {"", "s", "ms", "-5s", "+5s", "1.5s", "5 s", " 5s", "5s ", "5sec", "5S",
                          "5w", "abc", "1h30m", "99999999999999999999", "9999999999999999d"}) {
    Duration d{123};
    EXPECT_FALSE(parse_duration(bad, d)) << '"' << bad << '"';
    EXPECT_EQ(d, Duration(123)) << bad;
  }
}

std::uint64_t size_of(std::string_view text) {
  std::uint64_t v = 1;
  EXPECT_TRUE(parse_size(text, v)) << text;
  return v;
}

TEST(ParseSize, AcceptsBinaryAndDecimalUnits) {
  EXPECT_EQ(size_of("512"), 512U);
  EXPECT_EQ(size_of("0"), 0U);
  EXPECT_EQ(size_of("64KiB"), 64U * 1024);
  EXPECT_EQ(size_of("256MiB"), 256U * 1024 * 1024);
  EXPECT_EQ(size_of("1GiB"), 1024ULL * 1024 * 1024);
  EXPECT_EQ(size_of("2KB"), 2000U);
  EXPECT_EQ(size_of("3MB"), 3000000U);
  EXPECT_EQ(size_of("4GB"), 4000000000ULL);
}

TEST(ParseSize, RejectsMalformedAndOverflow) {
  for (const char* bad : {"", "KiB", "-1", "1.5MiB", "64 KiB", "64kib", "64K", "64k", "1TiB", "10B",
                          "abc", "18446744073709551616", "17179869184GiB"}) {
    std::uint64_t v = 7;
    EXPECT_FALSE(parse_size(bad, v)) << '"' << bad << '"';
    EXPECT_EQ(v, 7U) << bad;
  }
}

TEST(ParseAddress, HostPortV6AndAllInterfaces) {
  Address a;
  ASSERT_TRUE(parse_address("127.0.0.1:5001", a));
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 5001);

  ASSERT_TRUE(parse_address("app-1.internal:80", a));
  EXPECT_EQ(a.host, "app-1.internal");
  EXPECT_EQ(a.port, 80);

  ASSERT_TRUE(parse_address("[::1]:8443", a));
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 8443);

  ASSERT_TRUE(parse_address("[2001:db8::5]:65535", a));
  EXPECT_EQ(a.host, "2001:db8::5");
  EXPECT_EQ(a.port, 65535);

  ASSERT_TRUE(parse_address(":8080", a));
  EXPECT_EQ(a.host, "");
  EXPECT_EQ(a.port, 8080);

  ASSERT_TRUE(parse_address("127.0.0.1:0", a));  // ephemeral port, used by tests
  EXPECT_EQ(a.port, 0);
}

TEST(ParseAddress, RejectsMalformed) {
  for (const char* bad :
       {"", "8080", "127.0.0.1", "127.0.0.1:", ":", "host:65536", "host:-1", "host:80x",
        "host:http", "::1:80", "[::1]", "[::1]80", "[::1:80", "[nothex]:80", "[]:80", "bad host:80",
        "a..b:80", ".a:80", "host:123456"}) {
    Address a{"keep", 1};
    EXPECT_FALSE(parse_address(bad, a)) << '"' << bad << '"';
    EXPECT_EQ(a.host, "keep") << bad;
    EXPECT_EQ(a.port, 1) << bad;
  }
}

TEST(Address, ToStringRoundTrips) {
  for (const char* text : {"127.0.0.1:5001", "[::1]:8443", ":8080", "example.com:0"}) {
    Address a;
    ASSERT_TRUE(parse_address(text, a)) << text;
    EXPECT_EQ(a.to_string(), text);
  }
  EXPECT_EQ((Address{"fe80::1", 80}).to_string(), "[fe80::1]:80");
}

TEST(Config, EffectiveWorkers) {
  Config c;
  c.workers = 3;
  EXPECT_EQ(c.effective_workers(), 3U);
  c.workers = 0;
  EXPECT_GE(c.effective_workers(), 1U);
}

TEST(Config, FindTargetGroup) {
  Config c;
  c.target_groups.resize(2);
  c.target_groups[0].name = "app";
  c.target_groups[1].name = "api";
  ASSERT_NE(c.find_target_group("api"), nullptr);
  EXPECT_EQ(c.find_target_group("api"), &c.target_groups[1]);
  EXPECT_EQ(c.find_target_group("app"), &c.target_groups[0]);
  EXPECT_EQ(c.find_target_group("nope"), nullptr);
}

}  // namespace
}  // namespace edge::config
