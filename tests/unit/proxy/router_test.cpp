#include "edge/proxy/router.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace edge::proxy {
namespace {

namespace asio = boost::asio;

/// A parsed request head backed by plain strings.
class FakeHead final : public RequestHead {
 public:
  FakeHead(std::string method, std::string target,
           std::vector<std::pair<std::string, std::string>> fields = {})
      : method_(std::move(method)), target_(std::move(target)), fields_(std::move(fields)) {}

  std::string_view method() const override { return method_; }
  std::string_view target() const override { return target_; }
  unsigned version() const override { return 11; }
  std::string_view header(std::string_view name) const override {
    for (const auto& [n, v] : fields_) {
      if (n.size() == name.size() &&
          std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
          })) {
        return v;
      }
    }
    return {};
  }

 private:
  std::string method_;
  std::string target_;
  std::vector<std::pair<std::string, std::string>> fields_;
};

const std::vector<std::string> kGroups{"app", "api", "static"};

config::Action forward_to(std::string group) {
  config::Action a;
  a.kind = config::Action::Kind::forward;
  a.forward.target_groups.push_back({std::move(group), 1});
  return a;
}

config::Rule rule(int priority, config::Conditions c, std::string group = "api") {
  config::Rule r;
  r.priority = priority;
  r.conditions = std::move(c);
  r.action = forward_to(std::move(group));
  return r;
}

config::ListenerConfig listener(std::vector<config::Rule> rules) {
  config::ListenerConfig l;
  l.name = "web";
  l.rules = std::move(rules);
  l.default_action = forward_to("app");
  return l;
}

/// A request description; `view()` builds the RequestView the router sees.
struct Req {
  std::string method = "GET";
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> fields = {{"Host", "www.example.com"}};
  std::string client = "192.0.2.1";

  FakeHead head() const { return FakeHead(method, target, fields); }
};

/// Priority of the rule `cond` (as the only rule, priority 10) gives for `req`:
/// 10 when it matches, 0 when the default action is taken.
int route_one(const config::Conditions& cond, const Req& req) {
  const Router router(listener({rule(10, cond)}), kGroups);
  const FakeHead head = req.head();
  const RequestView view = make_request_view(head, asio::ip::make_address(req.client));
  return router.route(view).priority;
}

bool path_matches(const std::string& pattern, const std::string& target) {
  config::Conditions c;
  c.path_pattern = {pattern};
  Req r;
  r.target = target;
  return route_one(c, r) == 10;
}

// ---- conditions -------------------------------------------------------------------

TEST(Router, PathPatternWildcards) {
  EXPECT_TRUE(path_matches("/static/*", "/static/a.css"));
  EXPECT_TRUE(path_matches("/static/*", "/static/"));
  EXPECT_FALSE(path_matches("/static/*", "/static"));
  EXPECT_FALSE(path_matches("/static/*", "/x/static/a"));
  EXPECT_FALSE(path_matches("/static/*", "/Static/a.css"));  // case-sensitive
  EXPECT_TRUE(path_matches("/ping", "/ping"));
  EXPECT_FALSE(path_matches("/ping", "/ping/"));
  EXPECT_FALSE(path_matches("/ping", "/pin"));
  EXPECT_TRUE(path_matches("/ping", "/ping?x=1"));  // the query is not part of the path
  EXPECT_TRUE(path_matches("/a?c", "/abc"));
  EXPECT_FALSE(path_matches("/a?c", "/ac"));
  EXPECT_FALSE(path_matches("/a?c", "/abbc"));
  EXPECT_TRUE(path_matches("*.jpg", "/x.jpg"));
  EXPECT_TRUE(path_matches("*.jpg", "/a/b.c.jpg"));
  EXPECT_FALSE(path_matches("*.jpg", "/x.jpgx"));
  EXPECT_TRUE(path_matches("*", "/"));
  EXPECT_TRUE(path_matches("**", "/anything/at/all"));
  EXPECT_TRUE(path_matches("/?*", "/x"));
  EXPECT_FALSE(path_matches("/?*", "/"));
}

TEST(Router, PathPatternBacktracking) {
  EXPECT_TRUE(path_matches("/*ab", "/aab"));
  EXPECT_TRUE(path_matches("/a*b*c", "/aXbYc"));
  EXPECT_TRUE(path_matches("/a*b*c", "/abcbc"));
  EXPECT_FALSE(path_matches("/a*b*c", "/abcb"));
  EXPECT_FALSE(path_matches("/a*a*a", "/aa"));
  EXPECT_TRUE(path_matches("/a*a*a", "/aaa"));
  EXPECT_TRUE(path_matches("/*/*/x", "/1/2/3/x"));
  EXPECT_TRUE(path_matches("/*?", "/ab"));
  EXPECT_FALSE(path_matches("/*aaaab", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
  EXPECT_TRUE(path_matches("/*aaaab", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"));
}

TEST(Router, HostHeaderIsCaseInsensitiveWithoutPort) {
  config::Conditions c;
  c.host_header = {"www.example.com", "*.api.example.org"};
  Req r;
  EXPECT_EQ(route_one(c, r), 10);
  r.fields = {{"host", "WWW.Example.COM:8080"}};
  EXPECT_EQ(route_one(c, r), 10);
  r.fields = {{"Host", "v1.API.example.org"}};
  EXPECT_EQ(route_one(c, r), 10);
  r.fields = {{"Host", "api.example.org"}};
  EXPECT_EQ(route_one(c, r), 0);
  r.fields = {{"Host", "example.com"}};
  EXPECT_EQ(route_one(c, r), 0);
  r.fields = {};
  EXPECT_EQ(route_one(c, r), 0);
}

TEST(Router, MethodIsExactAndCaseSensitive) {
  config::Conditions c;
  c.http_request_method = {"GET", "HEAD"};
  Req r;
  EXPECT_EQ(route_one(c, r), 10);
  r.method = "HEAD";
  EXPECT_EQ(route_one(c, r), 10);
  r.method = "get";
  EXPECT_EQ(route_one(c, r), 0);
  r.method = "POST";
  EXPECT_EQ(route_one(c, r), 0);
  r.method = "GETX";
  EXPECT_EQ(route_one(c, r), 0);
}

TEST(Router, HttpHeaderNameAndValueCaseInsensitive) {
  config::Conditions c;
  c.http_header = config::HttpHeaderCondition{"X-Canary", {"yes", "beta-*"}};
  Req r;
  r.fields = {{"x-canary", "YES"}};
  EXPECT_EQ(route_one(c, r), 10);
  r.fields = {{"X-CANARY", "Beta-7"}};
  EXPECT_EQ(route_one(c, r), 10);
  r.fields = {{"X-Canary", "no"}};
  EXPECT_EQ(route_one(c, r), 0);
  r.fields = {{"X-Other", "yes"}};
  EXPECT_EQ(route_one(c, r), 0);

  c.http_header = config::HttpHeaderCondition{"X-Canary", {"*"}};
  r.fields = {{"X-Canary", "anything"}};
  EXPECT_EQ(route_one(c, r), 10);
  r.fields = {};
  EXPECT_EQ(route_one(c, r), 0);  // an absent field never matches

  // No header lookup available: the condition cannot match.
  const Router router(listener({rule(10, c)}), kGroups);
  RequestView bare;
  bare.method = "GET";
  bare.path = "/";
  EXPECT_EQ(router.route(bare).priority, 0);
}

int query_route(const std::vector<config::QueryStringCondition>& q, const std::string& query) {
  config::Conditions c;
  c.query_string = q;
  Req r;
  r.target = "/p?" + query;
  return route_one(c, r);
}

TEST(Router, QueryStringKeyValuePairs) {
  const std::vector<config::QueryStringCondition> v2{{"v", "2"}};
  EXPECT_EQ(query_route(v2, "v=2"), 10);
  EXPECT_EQ(query_route(v2, "a=1&v=2&b"), 10);
  EXPECT_EQ(query_route(v2, "V=2"), 10);  // case-insensitive, as ALB
  EXPECT_EQ(query_route(v2, "v=3"), 0);
  EXPECT_EQ(query_route(v2, "w=2"), 0);
  EXPECT_EQ(query_route(v2, "v=22"), 0);
  EXPECT_EQ(query_route(v2, ""), 0);

  // Any of several pairs.
  const std::vector<config::QueryStringCondition> any{{"lang", "en"}, {"lang", "fr"}};
  EXPECT_EQ(query_route(any, "lang=fr"), 10);
  EXPECT_EQ(query_route(any, "lang=de"), 0);
}

TEST(Router, QueryStringWildcardsAndKeylessValues) {
  const std::vector<config::QueryStringCondition> keyless{{"", "*example*"}};
  EXPECT_EQ(query_route(keyless, "x=an%20Example%21"), 10);
  EXPECT_EQ(query_route(keyless, "example"), 10);   // a bare parameter is a value
  EXPECT_EQ(query_route(keyless, "example=x"), 0);  // keys are not values
  const std::vector<config::QueryStringCondition> wild{{"v?", "1*"}};
  EXPECT_EQ(query_route(wild, "v1=10"), 10);
  EXPECT_EQ(query_route(wild, "v=10"), 0);
}

TEST(Router, QueryStringComparedAfterPercentDecoding) {
  const std::vector<config::QueryStringCondition> spaced{{"name", "a b"}};
  EXPECT_EQ(query_route(spaced, "name=a%20b"), 10);
  EXPECT_EQ(query_route(spaced, "name=a+b"), 10);
  EXPECT_EQ(query_route(spaced, "na%6De=a%20b"), 10);  // keys are decoded too
  EXPECT_EQ(query_route(spaced, "name=a%2520b"), 0);   // decoded once only
  // Config values may be written encoded.
  EXPECT_EQ(query_route({{"name", "a%20b"}}, "name=a+b"), 10);
  // A '\' escapes a wildcard: only a literal '*' matches.
  const std::vector<config::QueryStringCondition> star{{"q", "\\*"}};
  EXPECT_EQ(query_route(star, "q=%2A"), 10);
  EXPECT_EQ(query_route(star, "q=*"), 10);
  EXPECT_EQ(query_route(star, "q=x"), 0);
  // A malformed escape is kept literally.
  EXPECT_EQ(query_route({{"q", "%zz"}}, "q=%zz"), 10);
  EXPECT_EQ(query_route({{"q", "a%"}}, "q=a%"), 10);
}

int source_route(const std::vector<std::string>& cidrs, const std::string& client) {
  config::Conditions c;
  c.source_ip = cidrs;
  Req r;
  r.client = client;
  return route_one(c, r);
}

TEST(Router, SourceIpV4Cidrs) {
  EXPECT_EQ(source_route({"10.0.0.0/8"}, "10.1.2.3"), 10);
  EXPECT_EQ(source_route({"10.0.0.0/8"}, "11.0.0.1"), 0);
  EXPECT_EQ(source_route({"172.16.0.0/12"}, "172.31.255.255"), 10);
  EXPECT_EQ(source_route({"172.16.0.0/12"}, "172.32.0.0"), 0);
  EXPECT_EQ(source_route({"192.0.2.7"}, "192.0.2.7"), 10);  // bare address = /32
  EXPECT_EQ(source_route({"192.0.2.7/32"}, "192.0.2.8"), 0);
  EXPECT_EQ(source_route({"0.0.0.0/0"}, "203.0.113.9"), 10);
  EXPECT_EQ(source_route({"10.9.9.9/8"}, "10.0.0.1"), 10);  // host bits ignored
  EXPECT_EQ(source_route({"198.51.100.0/24", "10.0.0.0/8"}, "10.0.0.1"), 10);
  // A dual-stack listener sees IPv4 peers as v4-mapped IPv6.
  EXPECT_EQ(source_route({"10.0.0.0/8"}, "::ffff:10.1.2.3"), 10);
  EXPECT_EQ(source_route({"10.0.0.0/8"}, "::ffff:11.1.2.3"), 0);
  EXPECT_EQ(source_route({"0.0.0.0/0"}, "2001:db8::1"), 0);  // families never mix
}

TEST(Router, SourceIpV6Cidrs) {
  EXPECT_EQ(source_route({"2001:db8::/32"}, "2001:db8:ffff::1"), 10);
  EXPECT_EQ(source_route({"2001:db8::/32"}, "2001:db9::1"), 0);
  EXPECT_EQ(source_route({"2001:db8::/33"}, "2001:db8:7fff::1"), 10);
  EXPECT_EQ(source_route({"2001:db8::/33"}, "2001:db8:8000::1"), 0);
  EXPECT_EQ(source_route({"::1/128"}, "::1"), 10);
  EXPECT_EQ(source_route({"::/0"}, "fe80::1"), 10);
  EXPECT_EQ(source_route({"::/0"}, "10.0.0.1"), 0);
}

TEST(Router, MalformedCidrIsAConstructionError) {
  for (const char* bad : {"10.0.0.0/33", "nope", "10.0.0.0/", "10.0.0.0/8x", "::/129"}) {
    config::Conditions c;
    c.source_ip = {bad};
    EXPECT_THROW(Router(listener({rule(5, c)}), kGroups), std::runtime_error) << bad;
  }
}

TEST(Router, AllConditionsMustMatch) {
  config::Conditions c;
  c.path_pattern = {"/api/*"};
  c.http_request_method = {"POST"};
  c.source_ip = {"10.0.0.0/8"};
  Req r;
  r.method = "POST";
  r.target = "/api/items";
  r.client = "10.0.0.5";
  EXPECT_EQ(route_one(c, r), 10);
  r.method = "GET";
  EXPECT_EQ(route_one(c, r), 0);
  r.method = "POST";
  r.target = "/web/items";
  EXPECT_EQ(route_one(c, r), 0);
  r.target = "/api/items";
  r.client = "192.0.2.1";
  EXPECT_EQ(route_one(c, r), 0);
}

// ---- ordering and actions ------------------------------------------------------------

TEST(Router, RulesByAscendingPriorityThenDefault) {
  config::Conditions api;
  api.path_pattern = {"/api/*"};
  config::Conditions any;
  any.path_pattern = {"*"};
  config::Conditions v1;
  v1.path_pattern = {"/api/v1/*"};
  // Given out of order on purpose.
  const Router router(
      listener({rule(30, any, "static"), rule(20, api, "api"), rule(10, v1, "app")}), kGroups);
  EXPECT_EQ(router.rule_count(), 3U);

  const FakeHead h1("GET", "/api/v1/x");
  auto res = router.route(make_request_view(h1, {}));
  EXPECT_EQ(res.priority, 10);
  ASSERT_EQ(res.action->forward.size(), 1U);
  EXPECT_EQ(res.action->forward[0].name, "app");

  const FakeHead h2("GET", "/api/v2/x");
  res = router.route(make_request_view(h2, {}));
  EXPECT_EQ(res.priority, 20);
  EXPECT_EQ(res.action->forward[0].name, "api");
  EXPECT_EQ(res.action->forward[0].index, 1U);

  const FakeHead h3("GET", "/other");
  EXPECT_EQ(router.route(make_request_view(h3, {})).priority, 30);
}

TEST(Router, DefaultActionWhenNothingMatches) {
  config::Conditions c;
  c.path_pattern = {"/only"};
  config::ListenerConfig l = listener({rule(1, c)});
  l.default_action.kind = config::Action::Kind::fixed_response;
  l.default_action.fixed_response = {404, "application/json", "{}"};
  const Router router(l, kGroups);
  const FakeHead h("GET", "/elsewhere");
  const RouteResult res = router.route(make_request_view(h, {}));
  EXPECT_EQ(res.priority, 0);
  EXPECT_EQ(res.action, &router.default_action());
  EXPECT_EQ(res.action->kind, config::Action::Kind::fixed_response);
  EXPECT_EQ(res.action->fixed_response.status, 404);
  EXPECT_EQ(res.action->fixed_response.content_type, "application/json");
  EXPECT_EQ(res.action->fixed_response.body, "{}");

  const Router empty(listener({}), kGroups);
  const RouteResult d = empty.route(make_request_view(h, {}));
  EXPECT_EQ(d.priority, 0);
  EXPECT_EQ(d.action->forward.at(0).name, "app");
  EXPECT_EQ(d.action->forward.at(0).index, 0U);
}

TEST(Router, CompilesActions) {
  config::Conditions c;
  c.path_pattern = {"/x"};
  config::Rule fwd = rule(1, c);
  fwd.action.forward.target_groups = {{"static", 3}, {"api", 1}};
  fwd.action.forward.cache_policy = "CachingOptimized";
  fwd.action.forward.origin_request_policy = "AllViewer";
  config::Rule redir = rule(2, c);
  redir.action.kind = config::Action::Kind::redirect;
  redir.action.redirect.status = 302;
  redir.action.redirect.protocol = "HTTPS";
  const Router router(listener({fwd, redir}), kGroups);
  const FakeHead h("GET", "/x");
  const RouteAction& a = *router.route(make_request_view(h, {})).action;
  EXPECT_EQ(a.kind, config::Action::Kind::forward);
  ASSERT_EQ(a.forward.size(), 2U);
  EXPECT_EQ(a.forward[0].name, "static");
  EXPECT_EQ(a.forward[0].index, 2U);
  EXPECT_EQ(a.forward[0].weight, 3U);
  EXPECT_EQ(a.forward[1].index, 1U);
  EXPECT_EQ(a.forward_weight_total, 4U);
  EXPECT_EQ(a.cache_policy, "CachingOptimized");
  EXPECT_EQ(a.origin_request_policy, "AllViewer");

  // Moving the router keeps action pointers valid.
  Router moved(listener({redir}), kGroups);
  const RouteAction* before = moved.route(make_request_view(h, {})).action;
  const Router after(std::move(moved));
  EXPECT_EQ(after.route(make_request_view(h, {})).action, before);
  EXPECT_EQ(before->kind, config::Action::Kind::redirect);
  EXPECT_EQ(before->redirect.status, 302);
  EXPECT_EQ(before->redirect.protocol, "HTTPS");
}

TEST(Router, UnknownTargetGroupIsAConstructionError) {
  config::Conditions c;
  c.path_pattern = {"/x"};
  try {
    Router r(listener({rule(7, c, "nope")}), kGroups);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "listener 'web' rule priority 7: unknown target group 'nope'");
  }
  config::ListenerConfig l = listener({});
  l.default_action = forward_to("missing");
  EXPECT_THROW(Router(l, kGroups), std::runtime_error);
}

TEST(RouteAction, PickForwardByWeight) {
  RouteAction a;
  a.forward = {{"a", 0, 1}, {"b", 1, 3}, {"z", 2, 0}};
  a.forward_weight_total = 4;
  EXPECT_EQ(a.pick_forward(0)->name, "a");
  EXPECT_EQ(a.pick_forward(1)->name, "b");
  EXPECT_EQ(a.pick_forward(3)->name, "b");
  EXPECT_EQ(a.pick_forward(4)->name, "a");

  std::mt19937_64 rng(3);
  std::vector<int> counts(3, 0);
  constexpr int kPicks = 100000;
  for (int i = 0; i < kPicks; ++i) ++counts[a.pick_forward(rng())->index];
  EXPECT_EQ(counts[2], 0);  // weight 0 never chosen
  EXPECT_NEAR(counts[0] / double{kPicks}, 0.25, 0.005);
  EXPECT_NEAR(counts[1] / double{kPicks}, 0.75, 0.005);

  RouteAction zero;
  zero.forward = {{"a", 0, 0}, {"b", 1, 0}};
  EXPECT_EQ(zero.pick_forward(5), nullptr);
  EXPECT_EQ(RouteAction{}.pick_forward(5), nullptr);
}

// ---- request view -------------------------------------------------------------------

TEST(RequestView, SplitsTargetAndHost) {
  const FakeHead h("GET", "/a/b?x=1&y", {{"Host", "Example.com:8443"}});
  const RequestView v = make_request_view(h, asio::ip::make_address("::1"));
  EXPECT_EQ(v.method, "GET");
  EXPECT_EQ(v.path, "/a/b");
  EXPECT_EQ(v.query, "x=1&y");
  EXPECT_EQ(v.host, "Example.com");
  EXPECT_EQ(v.headers, &h);
  EXPECT_EQ(v.client_ip, asio::ip::make_address("::1"));

  const FakeHead abs("GET", "http://h.example:80/p?q", {{"Host", "[2001:db8::1]:80"}});
  const RequestView va = make_request_view(abs, {});
  EXPECT_EQ(va.path, "/p");
  EXPECT_EQ(va.query, "q");
  EXPECT_EQ(va.host, "[2001:db8::1]");

  const FakeHead bare("GET", "http://h.example", {{"Host", "h.example"}});
  EXPECT_EQ(make_request_view(bare, {}).path, "/");
  EXPECT_EQ(make_request_view(bare, {}).host, "h.example");
}

// ---- redirects ----------------------------------------------------------------------

std::string redirect(const config::RedirectAction& r, const std::string& target,
                     const std::string& host, std::string_view protocol, std::uint16_t port) {
  const FakeHead h("GET", target, {{"Host", host}});
  return expand_redirect(r, make_request_view(h, {}), protocol, port);
}

TEST(ExpandRedirect, DefaultsReproduceTheRequest) {
  const config::RedirectAction same;  // all placeholders
  EXPECT_EQ(redirect(same, "/a/b?x=1", "example.com", "HTTP", 80), "http://example.com/a/b?x=1");
  EXPECT_EQ(redirect(same, "/", "example.com:8080", "HTTP", 8080), "http://example.com:8080/");
  EXPECT_EQ(redirect(same, "/p", "example.com", "HTTPS", 443), "https://example.com/p");
  EXPECT_EQ(redirect(same, "/p", "example.com", "https", 80), "https://example.com:80/p");
}

TEST(ExpandRedirect, HttpToHttps) {
  config::RedirectAction r;
  r.protocol = "HTTPS";
  r.port = "443";
  EXPECT_EQ(redirect(r, "/cart?id=7", "shop.example", "HTTP", 80),
            "https://shop.example/cart?id=7");
}

TEST(ExpandRedirect, RewritesComponents) {
  config::RedirectAction r;  // as in the configuration reference
  r.protocol = "HTTPS";
  r.port = "#{port}";
  r.host = "#{host}";
  r.path = "/new/#{path}";
  r.query = "#{query}";
  EXPECT_EQ(redirect(r, "/old/x?q=1", "example.com", "HTTP", 8080),
            "https://example.com:8080/new/old/x?q=1");
  EXPECT_EQ(redirect(r, "/old/x", "example.com", "HTTP", 443), "https://example.com/new/old/x");

  config::RedirectAction custom;
  custom.host = "www.#{host}";
  custom.path = "#{path}/index.html";  // no leading '/': one is added
  custom.query = "from=#{port}&#{query}&x=#{unknown}";
  EXPECT_EQ(redirect(custom, "/docs?a=b", "example.org", "HTTP", 8000),
            "http://www.example.org:8000/docs/index.html?from=8000&a=b&x=#{unknown}");

  config::RedirectAction fixed;
  fixed.protocol = "HTTP";
  fixed.port = "80";
  fixed.host = "static.example";
  fixed.path = "/";
  fixed.query = "";
  EXPECT_EQ(redirect(fixed, "/a?b=c", "example.com", "HTTPS", 443), "http://static.example/");
}

}  // namespace
}  // namespace edge::proxy
