// The HTTP side of the cache (conditionals, ranges, 304 refresh, Vary), what a
// cached route forwards, invalidation paths and fills in flight.
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <string>

#include "edge/cache/edge_cache.hpp"
#include "edge/cache/http_cache.hpp"
#include "edge/cache/origin_request_policy.hpp"
#include "edge/proxy/request_ctx.hpp"

namespace {

using namespace edge::cache;
using Mode = edge::config::KeySelector::Mode;

class FakeHead final : public edge::proxy::RequestHead {
 public:
  std::map<std::string, std::string> fields;  // lower-case names
  std::string_view method() const override { return "GET"; }
  std::string_view target() const override { return "/"; }
  unsigned version() const override { return 11; }
  std::string_view header(std::string_view name) const override {
    std::string n(name);
    for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto it = fields.find(n);
    return it == fields.end() ? std::string_view() : std::string_view(it->second);
  }
};

CachedResponse stored_200(std::string body = "0123456789") {
  CachedResponse r;
  r.status = 200;
  r.body = std::move(body);
  r.etag = "\"e1\"";
  r.last_modified = "Sun, 06 Nov 1994 08:49:37 GMT";
  return r;
}

TEST(HttpCache, NoneMatchIsWeakAndSplitsOutsideQuotes) {
  EXPECT_TRUE(none_match("\"a\", \"e1\"", "\"e1\""));
  EXPECT_TRUE(none_match("W/\"e1\"", "\"e1\""));
  EXPECT_TRUE(none_match("\"e1\"", "W/\"e1\""));
  EXPECT_TRUE(none_match("*", "\"x\""));
  EXPECT_FALSE(none_match("\"a,e1\"", "\"e1\""));
  EXPECT_FALSE(none_match("\"e2\"", "\"e1\""));
  EXPECT_FALSE(none_match("\"e1\"", ""));
}

TEST(HttpCache, ClientCopyCurrentPrefersIfNoneMatch) {
  const auto r = stored_200();
  FakeHead h;
  h.fields["if-none-match"] = "\"nope\"";
  h.fields["if-modified-since"] = "Mon, 07 Nov 1994 08:49:37 GMT";
  EXPECT_FALSE(client_copy_current(h, r));  // If-Modified-Since ignored with If-None-Match
  h.fields.erase("if-none-match");
  EXPECT_TRUE(client_copy_current(h, r));
  h.fields["if-modified-since"] = "Sat, 05 Nov 1994 08:49:37 GMT";
  EXPECT_FALSE(client_copy_current(h, r));
  h.fields["if-modified-since"] = "not a date";
  EXPECT_FALSE(client_copy_current(h, r));
}

TEST(HttpCache, Ranges) {
  const auto r = stored_200();
  FakeHead h;
  ByteRange b;
  EXPECT_EQ(parse_range(h, r, 10, b), RangeResult::ignore);
  h.fields["range"] = "bytes=2-4";
  ASSERT_EQ(parse_range(h, r, 10, b), RangeResult::partial);
  EXPECT_EQ(b.first, 2u);
  EXPECT_EQ(b.last, 4u);
  h.fields["range"] = "bytes=7-";
  ASSERT_EQ(parse_range(h, r, 10, b), RangeResult::partial);
  EXPECT_EQ(b.last, 9u);
  h.fields["range"] = "bytes=-3";
  ASSERT_EQ(parse_range(h, r, 10, b), RangeResult::partial);
  EXPECT_EQ(b.first, 7u);
  h.fields["range"] = "bytes=5-100";
  ASSERT_EQ(parse_range(h, r, 10, b), RangeResult::partial);
  EXPECT_EQ(b.last, 9u);
  h.fields["range"] = "bytes=10-";
  EXPECT_EQ(parse_range(h, r, 10, b), RangeResult::unsatisfiable);
  h.fields["range"] = "bytes=0-1,3-4";
  EXPECT_EQ(parse_range(h, r, 10, b), RangeResult::ignore);
  h.fields["range"] = "items=0-1";
  EXPECT_EQ(parse_range(h, r, 10, b), RangeResult::ignore);
  h.fields["range"] = "bytes=4-2";
  EXPECT_EQ(parse_range(h, r, 10, b), RangeResult::ignore);
  // If-Range: only a matching strong validator keeps the range.
  h.fields["range"] = "bytes=0-1";
  h.fields["if-range"] = "\"e1\"";
  EXPECT_EQ(parse_range(h, r, 10, b), RangeResult::partial);
  h.fields["if-range"] = "\"e2\"";
  EXPECT_EQ(parse_range(h, r, 10, b), RangeResult::ignore);
  h.fields["if-range"] = "Sun, 06 Nov 1994 08:49:37 GMT";
  EXPECT_EQ(parse_range(h, r, 10, b), RangeResult::partial);
}

TEST(HttpCache, ResponseFactsAndVary) {
  Fields f{{"Cache-Control", "max-age=5"}, {"cache-control", "must-revalidate"},
           {"Expires", "0"}, {"Age", "7"}, {"Vary", "Accept-Language, accept-language"},
           {"vary", "X-A"}, {"ETag", "\"x\""}};
  auto facts = response_facts(200, f);
  EXPECT_EQ(facts.cc.max_age, 5);
  EXPECT_TRUE(facts.cc.must_revalidate);
  EXPECT_TRUE(facts.has_expires);
  EXPECT_FALSE(facts.expires);  // invalid: already expired
  EXPECT_EQ(facts.age, 7);
  EXPECT_TRUE(facts.has_etag);
  EXPECT_FALSE(facts.vary_star);
  auto v = vary_names(f);
  EXPECT_FALSE(v.star);
  EXPECT_EQ(v.names, (std::vector<std::string>{"accept-language", "x-a"}));
  EXPECT_TRUE(vary_names({{"Vary", "a, *"}}).star);
  EXPECT_TRUE(response_facts(200, {{"Vary", "*"}}).vary_star);
}

TEST(HttpCache, NotModifiedRefreshesFieldsNotBody) {
  CachePolicy p;
  p.default_ttl = 0;
  RequestFacts req;
  req.method = "GET";
  auto stored = stored_200("body");
  stored.headers = {{"Content-Type", "text/plain"}, {"X-V", "1"}, {"Cache-Control", "max-age=1"},
                    {"Content-Length", "4"}};
  Fields f304{{"X-V", "2"}, {"Cache-Control", "max-age=100"}, {"Content-Length", "0"},
              {"ETag", "\"e2\""}};
  auto facts = response_facts(304, f304);
  auto r = refresh_stored(stored, f304, facts, p, req, 1000, 1001);
  EXPECT_EQ(r->body, "body");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(stored_field(*r, "x-v"), "2");
  EXPECT_EQ(stored_field(*r, "content-type"), "text/plain");
  EXPECT_EQ(stored_field(*r, "content-length"), "4");
  EXPECT_EQ(r->lifetime, 100);
  EXPECT_EQ(r->etag, "\"e2\"");
  EXPECT_EQ(r->response_time, 1001);
}

TEST(ForwardPolicy, KeyPlusOriginRequestPolicyPlusHttp) {
  CachePolicy cp;
  cp.key_headers = {"x-tenant"};
  cp.key_cookies.mode = Mode::whitelist;
  cp.key_cookies.names = {"lang"};
  cp.key_query_strings.mode = Mode::whitelist;
  cp.key_query_strings.names = {"page"};
  ForwardPolicy none(cp, nullptr);
  EXPECT_TRUE(none.header("X-Tenant"));
  EXPECT_TRUE(none.header("Content-Type"));
  EXPECT_TRUE(none.header("If-None-Match"));
  EXPECT_FALSE(none.header("User-Agent"));
  EXPECT_FALSE(none.header("Authorization"));
  EXPECT_EQ(none.cookie("a=1; lang=fr;b=2"), "lang=fr");
  EXPECT_EQ(none.query("a=1&page=2&page=3&b"), "page=2&page=3");
  EXPECT_FALSE(none.all_query());
  EXPECT_FALSE(none.replace_host());

  auto ua = managed_origin_request_policy("UserAgentRefererHeaders");
  ASSERT_TRUE(ua);
  ForwardPolicy with_ua(cp, &*ua);
  EXPECT_TRUE(with_ua.header("user-agent"));
  EXPECT_TRUE(with_ua.header("Referer"));
  EXPECT_TRUE(with_ua.all_query());
  auto all = managed_origin_request_policy("AllViewerExceptHostHeader");
  ASSERT_TRUE(all);
  ForwardPolicy except_host(cp, &*all);
  EXPECT_TRUE(except_host.replace_host());
  EXPECT_TRUE(except_host.header("X-Anything"));
  EXPECT_EQ(except_host.cookie("a=1; b=2"), "a=1; b=2");
  auto cors = managed_origin_request_policy("CORS-CustomOrigin");
  ASSERT_TRUE(cors);
  EXPECT_TRUE(ForwardPolicy(cp, &*cors).header("Origin"));
  EXPECT_FALSE(ForwardPolicy(cp, &*cors).header("User-Agent"));
  EXPECT_FALSE(managed_origin_request_policy("Nope"));
}

TEST(EdgeCache, InvalidationPathsAsCloudFront) {
  EXPECT_FALSE(EdgeCache::check_paths({"/a", "/b/*", "/*"}));
  EXPECT_TRUE(EdgeCache::check_paths({}));
  EXPECT_TRUE(EdgeCache::check_paths({"a"}));
  EXPECT_TRUE(EdgeCache::check_paths({"/a*b"}));
  EXPECT_TRUE(EdgeCache::check_paths({"/a?x=1"}));
  EXPECT_TRUE(EdgeCache::check_paths({std::string("/a\nb")}));
}

TEST(EdgeCache, InvalidateRecordsAndRemoves) {
  EdgeCache c(1 << 20, 1 << 16, [] { return UnixSeconds{1000}; });
  for (const char* p : {"/x/1", "/x/2", "/y"}) {
    auto r = std::make_shared<CachedResponse>();
    r->path = p;
    c.store().put(std::string("key") + p, r);
  }
  auto inv = c.invalidate({"/x/*"});
  EXPECT_EQ(inv.objects, 2u);
  EXPECT_EQ(inv.status, "Completed");
  EXPECT_EQ(inv.created, 1000);
  auto found = c.find_invalidation(inv.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->paths, (std::vector<std::string>{"/x/*"}));
  EXPECT_FALSE(c.find_invalidation("I0"));
  EXPECT_EQ(c.invalidation_count(), 1u);
  EXPECT_TRUE(c.store().get("key/y"));
}

TEST(EdgeCache, OneFillPerKeyWakesEveryWaiterOnce) {
  EdgeCache c(1 << 20, 1 << 16);
  bool leader = false;
  auto fill = c.join("k", leader);
  EXPECT_TRUE(leader);
  bool second = true;
  auto same = c.join("k", second);
  EXPECT_FALSE(second);
  EXPECT_EQ(same, fill);
  int woken = 0;
  const auto a = fill->add_waiter([&] { ++woken; });
  const auto b = fill->add_waiter([&] { woken += 10; });
  ASSERT_NE(a, 0u);
  fill->remove_waiter(b);  // gave up waiting: never called
  c.finish("k", fill);
  EXPECT_EQ(woken, 1);
  c.finish("k", fill);  // idempotent
  EXPECT_EQ(woken, 1);
  EXPECT_EQ(fill->add_waiter([&] { ++woken; }), 0u);  // ended: look the store up
  bool again = false;
  EXPECT_NE(c.join("k", again), fill);  // a new fill for the next miss
  EXPECT_TRUE(again);
}

}  // namespace
