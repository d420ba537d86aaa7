// The admin status page: /status.json describes listeners, rules, target
// groups, targets and recent errors; GET / renders the same in a browser
// (headless Chromium, as an operator would open it).
#include "edge/server/status_page.hpp"

#include <unistd.h>

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <filesystem>
#include <string>

#include "integration/gateway_fixture.hpp"

namespace edge::test {
namespace {

namespace json = boost::json;

std::string find_chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (::access(p, X_OK) == 0) return p;
  return {};
}

/// Runs `cmd` and returns its standard output.
std::string run(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return out;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) out.append(buf.data(), n);
  ::pclose(f);
  return out;
}

/// The element that starts with `open_tag_prefix` up to its `</tr>` ("" if absent).
std::string row(const std::string& dom, const std::string& open_tag_prefix) {
  const auto b = dom.find(open_tag_prefix);
  if (b == std::string::npos) return {};
  const auto e = dom.find("</tr>", b);
  return dom.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

class StatusPageTest : public GatewayTest {
 protected:
  json::object start_and_load() {
    add_origin();
    add_origin();
    config::Config c = base_config(2);
    for (auto& o : origins_) add_target(c, o->port(), 0);
    config::Rule missing;
    missing.priority = 30;
    missing.conditions.path_pattern = {"/missing/*"};
    missing.action.forward.target_groups.push_back({"dead", 1});
    config::Rule ping;
    ping.priority = 10;
    ping.conditions.path_pattern = {"/ping"};
    ping.action.kind = config::Action::Kind::fixed_response;
    c.listeners[0].rules = {missing, ping};
    config::TargetGroupConfig dead;
    dead.name = "dead";
    dead.health_check.enabled = false;
    dead.retries = 0;
    c.target_groups.push_back(dead);
    add_target(c, refused_port(), 1);
    start(std::move(c));

    auto conn = connect(port_);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(conn.request("GET", "/").status, 200);
    EXPECT_EQ(conn.request("GET", "/ping").status, 200);
    EXPECT_EQ(conn.request("GET", "/missing/x?secret=1").status, 502);
    auto bad = connect(port_);
    EXPECT_FALSE(bad.send_raw("GET foo HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_EQ(bad.read_response().status, 400);

    auto r = http_get(gateway_->admin_port(), "/status.json");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    return json::parse(r.body).as_object();
  }
};

TEST_F(StatusPageTest, JsonDescribesListenersGroupsTargetsAndErrors) {
  const json::object doc = start_and_load();
  const auto& listeners = doc.at("listeners").as_array();
  ASSERT_EQ(listeners.size(), 1u);
  const auto& web = listeners[0].as_object();
  EXPECT_EQ(web.at("name").as_string(), "web");
  EXPECT_EQ(web.at("port").as_int64(), port_);
  EXPECT_EQ(web.at("requests").as_int64(), 6);
  const auto& rules = web.at("rules").as_array();
  ASSERT_EQ(rules.size(), 3u);  // sorted by priority, default last
  EXPECT_EQ(rules[0].as_object().at("priority").as_int64(), 10);
  EXPECT_EQ(rules[0].as_object().at("requests").as_int64(), 1);
  EXPECT_EQ(rules[1].as_object().at("priority").as_int64(), 30);
  EXPECT_EQ(rules[1].as_object().at("action").as_string(), "forward dead");
  EXPECT_EQ(rules[2].as_object().at("priority").as_string(), "default");
  EXPECT_EQ(rules[2].as_object().at("requests").as_int64(), 3);

  const auto& groups = doc.at("target_groups").as_array();
  ASSERT_EQ(groups.size(), 2u);
  const auto& app = groups[0].as_object();
  EXPECT_EQ(app.at("name").as_string(), "app");
  EXPECT_EQ(app.at("requests").as_int64(), 3);
  EXPECT_EQ(app.at("response_time").as_object().at("count").as_int64(), 3);
  EXPECT_TRUE(app.at("response_time").as_object().contains("p99_seconds"));
  const auto& targets = app.at("targets").as_array();
  ASSERT_EQ(targets.size(), 2u);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& t = targets[i].as_object();
    EXPECT_EQ(t.at("id").as_string(), "127.0.0.1:" + std::to_string(origins_[i]->port()));
    // Health checks are off in these tests: ALB calls that `unavailable`.
    EXPECT_EQ(t.at("state").as_string(), "unavailable");
    EXPECT_EQ(t.at("reason").as_string(), "Target.HealthCheckDisabled");
    EXPECT_EQ(t.at("outstanding").as_int64(), 0);
  }
  EXPECT_EQ(groups[1].as_object().at("connection_errors").as_int64(), 1);

  const auto& errors = doc.at("errors").as_object();
  const auto& recent = errors.at("recent").as_array();
  ASSERT_EQ(recent.size(), 2u);  // newest first
  EXPECT_EQ(recent[0].as_object().at("reason").as_string(), "desync_rejected");
  EXPECT_EQ(recent[1].as_object().at("reason").as_string(), "target_connect_failed");
  EXPECT_EQ(recent[1].as_object().at("code").as_int64(), 502);
  EXPECT_EQ(recent[1].as_object().at("request").as_string(), "GET /missing/x");  // no query
  EXPECT_EQ(recent[1].as_object().at("target").as_string(),
            groups[1].as_object().at("targets").as_array()[0].as_object().at("id").as_string());
  EXPECT_EQ(errors.at("by_reason").as_array().size(), 2u);
  // The cache exists (cache.memory defaults to 256MiB) but no route uses it.
  ASSERT_TRUE(doc.contains("cache"));
  EXPECT_EQ(doc.at("cache").as_object().at("objects").as_int64(), 0);
  EXPECT_EQ(doc.at("cache").as_object().at("lookups").as_object().at("hit").as_int64(), 0);
  EXPECT_FALSE(doc.contains("access_log"));  // logs are off
}

TEST_F(StatusPageTest, PageInHeadlessChromiumShowsWhatTheJsonSays) {
  const std::string chromium = find_chromium();
  if (chromium.empty())
    GTEST_SKIP() << "chromium is not installed (scripts/bootstrap installs the Debian package)";
  const json::object doc = start_and_load();

  const auto profile =
      std::filesystem::temp_directory_path() / ("edged-chromium-" + std::to_string(::getpid()));
  const std::string url = "http://127.0.0.1:" + std::to_string(gateway_->admin_port()) + "/";
  const std::string dom =
      run("timeout 90 " + chromium +
          " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run"
          " --user-data-dir=" +
          profile.string() + " --dump-dom " + url + " 2>/dev/null");
  std::filesystem::remove_all(profile);
  ASSERT_NE(dom.find("<title>edged status</title>"), std::string::npos) << dom.substr(0, 500);

  for (const auto& gv : doc.at("target_groups").as_array()) {
    const auto& g = gv.as_object();
    const std::string name(g.at("name").as_string());
    const std::string grow = row(dom, "<tr data-group=\"" + name + "\"");
    ASSERT_FALSE(grow.empty()) << name;
    EXPECT_NE(
        grow.find("class=\"num requests\">" + std::to_string(g.at("requests").as_int64()) + "<"),
        std::string::npos)
        << grow;
    EXPECT_NE(grow.find("class=\"num conn-errors\">" +
                        std::to_string(g.at("connection_errors").as_int64()) + "<"),
              std::string::npos)
        << grow;
    for (const auto& tv : g.at("targets").as_array()) {
      const auto& t = tv.as_object();
      const std::string id(t.at("id").as_string());
      const std::string trow = row(dom, "<tr data-target=\"" + id + "\"");
      ASSERT_FALSE(trow.empty()) << id;
      EXPECT_NE(trow.find("<code>" + id + "</code>"), std::string::npos) << trow;
      const std::string state(t.at("state").as_string());
      EXPECT_NE(trow.find("class=\"state " + state + "\">" + state + "<"), std::string::npos)
          << trow;
      EXPECT_NE(trow.find("class=\"target-outstanding\">" +
                          std::to_string(t.at("outstanding").as_int64()) + "<"),
                std::string::npos)
          << trow;
    }
  }
  for (const auto& lv : doc.at("listeners").as_array()) {
    const auto& l = lv.as_object();
    const std::string name(l.at("name").as_string());
    const std::string lrow = row(dom, "<tr data-listener=\"" + name + "\"");
    EXPECT_NE(
        lrow.find("class=\"num requests\">" + std::to_string(l.at("requests").as_int64()) + "<"),
        std::string::npos)
        << lrow;
    for (const auto& rv : l.at("rules").as_array()) {
      const auto& r = rv.as_object();
      const std::string prio = r.at("priority").is_string()
                                   ? std::string(r.at("priority").as_string())
                                   : std::to_string(r.at("priority").as_int64());
      const std::string rrow = row(dom, "<tr data-rule=\"" + name + "/" + prio + "\"");
      ASSERT_FALSE(rrow.empty()) << prio;
      EXPECT_NE(rrow.find(">" + std::to_string(r.at("requests").as_int64()) + "<"),
                std::string::npos)
          << rrow;
    }
  }
  const auto& recent = doc.at("errors").as_object().at("recent").as_array();
  EXPECT_EQ(count(dom, "<tr class=\"recent-error\">"), recent.size());
  for (const auto& ev : recent) {
    const std::string reason(ev.as_object().at("reason").as_string());
    EXPECT_NE(dom.find("class=\"reason\">" + reason + "<"), std::string::npos) << reason;
  }
}

TEST_F(StatusPageTest, EmbeddedDocumentCannotCloseItsScriptBlock) {
  const std::string page = server::status_html(R"({"x":"</script><img src=x>"})");
  EXPECT_EQ(page.find("</script><img"), std::string::npos);
  EXPECT_NE(page.find("\\u003c/script>\\u003cimg"), std::string::npos);
}

}  // namespace
}  // namespace edge::test
