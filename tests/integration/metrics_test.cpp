// The metric set through a real gateway: exact values after a known sequence
// of requests (two workers, merged at scrape), and the Grafana dashboard in
// examples/ only uses metric names a real scrape exposes.
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "integration/gateway_fixture.hpp"
#include "support/exposition.hpp"

namespace edge::test {
namespace {

using namespace std::chrono_literals;

class MetricsIntegrationTest : public GatewayTest {
 protected:
  /// Listener "web": 10 /ping fixed 200, 20 /old/* redirect, 30 /missing/* →
  /// group "dead" (nothing listens), default → "app".
  config::Config rules_config() {
    config::Config c = base_config(2);
    config::Rule ping;
    ping.priority = 10;
    ping.conditions.path_pattern = {"/ping"};
    ping.action.kind = config::Action::Kind::fixed_response;
    ping.action.fixed_response = {200, "text/plain", "pong"};
    config::Rule old;
    old.priority = 20;
    old.conditions.path_pattern = {"/old/*"};
    old.action.kind = config::Action::Kind::redirect;
    config::Rule missing;
    missing.priority = 30;
    missing.conditions.path_pattern = {"/missing/*"};
    missing.action.kind = config::Action::Kind::forward;
    missing.action.forward.target_groups.push_back({"dead", 1});
    c.listeners[0].rules = {missing, ping, old};  // any order: sorted by priority
    config::TargetGroupConfig dead;
    dead.name = "dead";
    dead.health_check.enabled = false;
    dead.retries = 0;
    c.target_groups.push_back(dead);
    add_target(c, refused_port(), 1);
    for (auto& o : origins_) add_target(c, o->port(), 0);
    return c;
  }

  Exposition scrape() {
    auto r = http_get(gateway_->admin_port(), "/metrics");
    EXPECT_EQ(r.status, 200);
    return parse(r.body);
  }

  /// Waits for a value recorded after the response was written.
  std::optional<double> eventually(const std::string& name, const Labels& labels, double want) {
    std::optional<double> v;
    for (int i = 0; i < 400; ++i) {
      v = scrape().get(name, labels);
      if (v && *v == want) break;
      std::this_thread::sleep_for(5ms);
    }
    return v;
  }
};

TEST_F(MetricsIntegrationTest, ExactValuesAfterAKnownSequence) {
  add_origin();
  start(rules_config());

  std::uint64_t sent = 0;
  {
    auto conn = connect(port_);
    auto get = [&](const std::string& target) {
      const std::string raw = "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
      sent += raw.size();
      EXPECT_FALSE(conn.send_raw(raw));
      return conn.read_response().status;
    };
    EXPECT_EQ(get("/"), 200);
    EXPECT_EQ(get("/"), 200);
    EXPECT_EQ(get("/status/404"), 404);
    EXPECT_EQ(get("/status/503"), 503);
    EXPECT_EQ(get("/ping"), 200);
    EXPECT_EQ(get("/ping"), 200);
    EXPECT_EQ(get("/old/x"), 301);
    EXPECT_EQ(get("/missing/x"), 502);
  }  // closes the first connection
  {
    auto bad = connect(port_);
    const std::string smuggle =
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\n\r\n";
    sent += smuggle.size();
    ASSERT_FALSE(bad.send_raw(smuggle));
    EXPECT_EQ(bad.read_response().status, 400);
    ASSERT_TRUE(bad.closed_by_peer());
  }

  const Labels web{{"listener", "web"}};
  auto web_class = [](const char* c) { return Labels{{"listener", "web"}, {"status_class", c}}; };
  auto app_class = [](const char* c) {
    return Labels{{"target_group", "app"}, {"status_class", c}};
  };
  auto rule = [](const char* p) { return Labels{{"listener", "web"}, {"priority", p}}; };

  EXPECT_EQ(eventually("edged_request_processing_time_seconds_count", web, 9), 9);
  EXPECT_EQ(eventually("edged_active_client_connections", {}, 0), 0);
  const Exposition e = scrape();
  // Every response by listener and class.
  EXPECT_EQ(e.get("edged_requests_total", web_class("1xx")), 0);
  EXPECT_EQ(e.get("edged_requests_total", web_class("2xx")), 4);
  EXPECT_EQ(e.get("edged_requests_total", web_class("3xx")), 1);
  EXPECT_EQ(e.get("edged_requests_total", web_class("4xx")), 2);
  EXPECT_EQ(e.get("edged_requests_total", web_class("5xx")), 2);
  // HTTPCode_ELB_*: what the edge answered itself.
  EXPECT_EQ(e.get("edged_elb_responses_total", web_class("2xx")), 2);
  EXPECT_EQ(e.get("edged_elb_responses_total", web_class("3xx")), 1);
  EXPECT_EQ(e.get("edged_elb_responses_total", web_class("4xx")), 1);
  EXPECT_EQ(e.get("edged_elb_responses_total", web_class("5xx")), 1);
  // HTTPCode_Target_*.
  EXPECT_EQ(e.get("edged_target_responses_total", app_class("2xx")), 2);
  EXPECT_EQ(e.get("edged_target_responses_total", app_class("3xx")), 0);
  EXPECT_EQ(e.get("edged_target_responses_total", app_class("4xx")), 1);
  EXPECT_EQ(e.get("edged_target_responses_total", app_class("5xx")), 1);
  EXPECT_EQ(e.get("edged_target_response_time_seconds_count", {{"target_group", "app"}}), 4);
  EXPECT_EQ(e.get("edged_target_response_time_seconds_count", {{"target_group", "dead"}}), 0);
  // Rules.
  EXPECT_EQ(e.get("edged_rule_requests_total", rule("10")), 2);
  EXPECT_EQ(e.get("edged_rule_requests_total", rule("20")), 1);
  EXPECT_EQ(e.get("edged_rule_requests_total", rule("30")), 1);
  EXPECT_EQ(e.get("edged_rule_requests_total", rule("default")), 4);
  // 4 defaults × 3 rules + 2 × 1 (/ping) + 2 (/old) + 3 (/missing).
  EXPECT_EQ(e.get("edged_rule_evaluations_total", web), 19);
  EXPECT_EQ(e.get("edged_fixed_responses_total", web), 2);
  EXPECT_EQ(e.get("edged_redirects_total", web), 1);
  // Target groups.
  EXPECT_EQ(e.get("edged_target_group_requests_total", {{"target_group", "app"}}), 4);
  EXPECT_EQ(e.get("edged_target_group_requests_total", {{"target_group", "dead"}}), 1);
  EXPECT_EQ(e.get("edged_target_connection_errors_total", {{"target_group", "app"}}), 0);
  EXPECT_EQ(e.get("edged_target_connection_errors_total", {{"target_group", "dead"}}), 1);
  const double opened = *e.get("edged_upstream_connections_total", {{"kind", "opened"}});
  const double reused = *e.get("edged_upstream_connections_total", {{"kind", "reused"}});
  EXPECT_EQ(opened + reused, 4);
  // Edge errors and desync classes.
  EXPECT_EQ(e.get("edged_edge_errors_total", {{"code", "400"}, {"reason", "bad_request"}}), 1);
  EXPECT_EQ(
      e.get("edged_edge_errors_total", {{"code", "502"}, {"reason", "target_connect_failed"}}), 1);
  EXPECT_EQ(e.get("edged_desync_classifications_total", {{"classification", "compliant"}}), 8);
  EXPECT_EQ(e.get("edged_desync_classifications_total", {{"classification", "severe"}}), 1);
  // Connections and bytes.
  EXPECT_EQ(e.get("edged_client_connections_total"), 2);
  EXPECT_EQ(e.get("edged_rejected_client_connections_total"), 0);
  EXPECT_EQ(e.get("edged_received_bytes_total"), static_cast<double>(sent));
  EXPECT_GT(*e.get("edged_sent_bytes_total"), 2 * 1024.0);
  // Logs are off in this config: nothing written, nothing dropped.
  EXPECT_EQ(e.get("edged_access_log_lines_total", {{"result", "written"}}), 0);
  EXPECT_EQ(e.get("edged_access_log_lines_total", {{"result", "dropped"}}), 0);
  // Histogram shape: +Inf bucket equals the count, bounds from 100 µs to 60 s.
  EXPECT_EQ(
      e.get("edged_request_processing_time_seconds_bucket", {{"listener", "web"}, {"le", "+Inf"}}),
      9);
  EXPECT_TRUE(e.get("edged_target_response_time_seconds_bucket",
                    {{"target_group", "app"}, {"le", "0.0001"}}));
  EXPECT_TRUE(
      e.get("edged_target_response_time_seconds_bucket", {{"target_group", "app"}, {"le", "60"}}));
}

TEST_F(MetricsIntegrationTest, LabelsAreBoundedWhateverTheRequests) {
  add_origin();
  start(rules_config());
  const std::size_t before = scrape().samples.size();
  auto conn = connect(port_);
  for (int i = 0; i < 50; ++i) {
    auto r = conn.request("GET", "/p" + std::to_string(i) + "?q=" + std::to_string(i),
                          {{"User-Agent", "ua-" + std::to_string(i)}});
    ASSERT_EQ(r.status, 200);
  }
  EXPECT_EQ(scrape().samples.size(), before);  // no series per path, query or client
}

TEST_F(MetricsIntegrationTest, GrafanaDashboardUsesOnlyExposedMetrics) {
  add_origin();
  start(rules_config());
  const Exposition e = scrape();
  std::ifstream in(std::string(EDGE_SOURCE_DIR) + "/examples/grafana-dashboard.json");
  ASSERT_TRUE(in) << "examples/grafana-dashboard.json";
  std::stringstream ss;
  ss << in.rdbuf();
  boost::json::value dash = boost::json::parse(ss.str());  // throws on invalid JSON
  ASSERT_TRUE(dash.is_object());
  ASSERT_TRUE(dash.as_object().contains("panels"));

  std::vector<std::string> exprs;
  std::function<void(const boost::json::value&)> walk = [&](const boost::json::value& v) {
    if (v.is_object()) {
      for (const auto& [k, x] : v.as_object()) {
        if (k == "expr" && x.is_string()) exprs.emplace_back(x.as_string());
        walk(x);
      }
    } else if (v.is_array()) {
      for (const auto& x : v.as_array()) walk(x);
    }
  };
  walk(dash);
  ASSERT_GE(exprs.size(), 10u);
  std::set<std::string> used;
  static const std::regex name_re(R"(edged_[a-z_]+)");
  for (const auto& x : exprs) {
    for (std::sregex_iterator it(x.begin(), x.end(), name_re), end; it != end; ++it) {
      std::string n = it->str();
      for (const char* suffix : {"_bucket", "_count", "_sum"}) {
        const std::string s = suffix;
        if (n.size() > s.size() && n.ends_with(s) && !e.type.count(n)) {
          n.resize(n.size() - s.size());
        }
      }
      used.insert(n);
    }
  }
  ASSERT_FALSE(used.empty());
  for (const auto& n : used) EXPECT_TRUE(e.type.count(n)) << n << " is not in a real scrape";
}

}  // namespace
}  // namespace edge::test
