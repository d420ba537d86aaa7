#include "edge/load/options.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

namespace edge::load {
namespace {

LoadCommandLine parse(std::vector<std::string_view> args) { return parse_load_command_line(args); }

TEST(LoadOptionsTest, Defaults) {
  const auto cli = parse({"http://127.0.0.1:8080/"});
  ASSERT_TRUE(cli.ok()) << cli.error;
  const LoadOptions& o = cli.options;
  EXPECT_EQ(o.url, "http://127.0.0.1:8080/");
  EXPECT_EQ(o.connections, 64);
  EXPECT_FALSE(o.open_loop());
  EXPECT_EQ(o.duration, std::chrono::seconds(10));
  EXPECT_EQ(o.warmup, std::chrono::seconds(0));
  EXPECT_TRUE(o.keep_alive);
  EXPECT_FALSE(o.verify_tls);
  EXPECT_FALSE(o.tls_resume);
  EXPECT_TRUE(o.tls_tickets);
  EXPECT_EQ(o.tls_max, "");
  EXPECT_EQ(o.method, "GET");
  EXPECT_TRUE(o.progress);
}

TEST(LoadOptionsTest, EveryOption) {
  const auto cli = parse({"-c",
                          "8",
                          "--rate=2500",
                          "-t",
                          "2",
                          "-d",
                          "30s",
                          "--warmup",
                          "2s",
                          "--timeout=500ms",
                          "--no-keepalive",
                          "--verify",
                          "--tls-resume",
                          "--tls-max=1.2",
                          "--no-tls-tickets",
                          "-m",
                          "POST",
                          "-H",
                          "X-A: 1",
                          "--header",
                          "X-B:two",
                          "--body",
                          "hi",
                          "--target-header",
                          "X-Served-By",
                          "--json",
                          "-q",
                          "https://example.test/x?y=1"});
  ASSERT_TRUE(cli.ok()) << cli.error;
  const LoadOptions& o = cli.options;
  EXPECT_EQ(o.connections, 8);
  EXPECT_DOUBLE_EQ(o.rate, 2500);
  EXPECT_TRUE(o.open_loop());
  EXPECT_EQ(o.threads, 2);
  EXPECT_EQ(o.duration, std::chrono::seconds(30));
  EXPECT_EQ(o.warmup, std::chrono::seconds(2));
  EXPECT_EQ(o.timeout, std::chrono::milliseconds(500));
  EXPECT_FALSE(o.keep_alive);
  EXPECT_TRUE(o.verify_tls);
  EXPECT_TRUE(o.tls_resume);
  EXPECT_EQ(o.tls_max, "1.2");
  EXPECT_FALSE(o.tls_tickets);
  EXPECT_EQ(o.method, "POST");
  ASSERT_EQ(o.headers.size(), 2u);
  EXPECT_EQ(o.headers[0].first, "X-A");
  EXPECT_EQ(o.headers[0].second, "1");
  EXPECT_EQ(o.headers[1].second, "two");
  EXPECT_EQ(o.body, "hi");
  EXPECT_EQ(o.target_header, "X-Served-By");
  EXPECT_TRUE(o.json);
  EXPECT_FALSE(o.progress);
}

TEST(LoadOptionsTest, RequestsAloneRunUntilDone) {
  auto cli = parse({"-n", "1000", "http://h/"});
  ASSERT_TRUE(cli.ok()) << cli.error;
  EXPECT_EQ(cli.options.requests, 1000u);
  EXPECT_EQ(cli.options.duration.count(), 0);
  cli = parse({"-n", "1000", "-d", "5s", "http://h/"});
  ASSERT_TRUE(cli.ok());
  EXPECT_EQ(cli.options.duration, std::chrono::seconds(5));
}

TEST(LoadOptionsTest, Errors) {
  EXPECT_FALSE(parse({}).ok());                          // no URL
  EXPECT_FALSE(parse({"http://a/", "http://b/"}).ok());  // two URLs
  EXPECT_FALSE(parse({"--tls-max", "1.1", "https://a/"}).ok());
  EXPECT_FALSE(parse({"--tls-resume=yes", "https://a/"}).ok());
  EXPECT_FALSE(parse({"--connections", "0", "http://a/"}).ok());
  EXPECT_FALSE(parse({"--rate", "-5", "http://a/"}).ok());
  EXPECT_FALSE(parse({"--duration", "soon", "http://a/"}).ok());
  EXPECT_FALSE(parse({"--bogus", "http://a/"}).ok());
  EXPECT_FALSE(parse({"-H", "novalue", "http://a/"}).ok());
  EXPECT_FALSE(parse({"-m", "GE T", "http://a/"}).ok());
  EXPECT_FALSE(parse({"--rate", "10", "-n", "5", "http://a/"}).ok());  // -n is closed loop
  EXPECT_FALSE(parse({"--config", "x.yaml", "http://a/"}).ok());
  EXPECT_FALSE(parse({"--target-group", "app"}).ok());
  EXPECT_FALSE(parse({"--json=1", "http://a/"}).ok());
  EXPECT_FALSE(parse({"-c"}).ok());
  EXPECT_TRUE(parse({"--help"}).help);
  EXPECT_NE(load_usage_text("edgeload").find("--target-group"), std::string::npos);
}

TEST(LoadOptionsTest, Urls) {
  Url u;
  std::string error;
  ASSERT_TRUE(parse_url("http://example.test", u, error)) << error;
  EXPECT_FALSE(u.tls);
  EXPECT_EQ(u.host, "example.test");
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.target, "/");
  EXPECT_EQ(u.authority(), "example.test");

  ASSERT_TRUE(parse_url("https://10.0.0.1:8443/a/b?c=d", u, error));
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.port, 8443);
  EXPECT_EQ(u.target, "/a/b?c=d");
  EXPECT_EQ(u.authority(), "10.0.0.1:8443");

  ASSERT_TRUE(parse_url("http://[::1]:9000?q", u, error));
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.target, "/?q");
  EXPECT_EQ(u.authority(), "[::1]:9000");

  EXPECT_FALSE(parse_url("ftp://x/", u, error));
  EXPECT_FALSE(parse_url("http://:80/", u, error));
  EXPECT_FALSE(parse_url("http://x:0/", u, error));
  EXPECT_FALSE(parse_url("http://x:99999/", u, error));
  EXPECT_FALSE(parse_url("http://u@x/", u, error));
  EXPECT_FALSE(parse_url("http://x/a b", u, error));
}

TEST(LoadOptionsTest, TargetGroupFromConfig) {
  const std::string path = ::testing::TempDir() + "edgeload_group.yaml";
  {
    std::ofstream f(path);
    f << "listeners:\n"
         "  - name: web\n"
         "    listen: 127.0.0.1:18080\n"
         "    default_action: { forward: { target_group: app } }\n"
         "target_groups:\n"
         "  - name: app\n"
         "    targets: [127.0.0.1:18001, 127.0.0.1:18002]\n";
  }
  auto cli = parse({"--config", path, "--target-group", "app", "--path", "/bytes/10"});
  ASSERT_TRUE(cli.ok()) << cli.error;
  std::vector<LoadTarget> targets;
  std::string error;
  ASSERT_TRUE(resolve_targets(cli.options, targets, error)) << error;
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0].name, "127.0.0.1:18001");
  EXPECT_EQ(targets[1].url.port, 18002);
  EXPECT_EQ(targets[1].url.target, "/bytes/10");
  EXPECT_FALSE(targets[1].url.tls);

  cli = parse({"--config", path, "--target-group", "nope"});
  ASSERT_TRUE(cli.ok());
  EXPECT_FALSE(resolve_targets(cli.options, targets, error));
  EXPECT_NE(error.find("nope"), std::string::npos);
}

}  // namespace
}  // namespace edge::load
