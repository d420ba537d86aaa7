// Store decisions, lifetimes, ages and usability with an injected clock.
#include <gtest/gtest.h>

#include <string>

#include "edge/cache/cache_policy.hpp"
#include "edge/cache/freshness.hpp"

namespace {

using namespace edge::cache;

constexpr UnixSeconds kNow = 1700000000;

CachePolicy policy(std::string_view name) {
  auto cfg = managed_cache_policy(name);
  EXPECT_TRUE(cfg.has_value()) << name;
  return compile_cache_policy(*cfg);
}

CachePolicy custom(std::int64_t min, std::int64_t def, std::int64_t max) {
  edge::config::CachePolicyConfig c;
  c.name = "custom";
  c.min_ttl = std::chrono::seconds(min);
  c.default_ttl = std::chrono::seconds(def);
  c.max_ttl = std::chrono::seconds(max);
  return compile_cache_policy(c);
}

ResponseFacts response(int status, std::string_view cache_control = {}) {
  ResponseFacts r;
  r.status = status;
  r.date = kNow;
  if (!cache_control.empty()) r.cc.parse(cache_control);
  return r;
}

RequestFacts get(std::string_view cache_control = {}) {
  RequestFacts r;
  r.method = "GET";
  if (!cache_control.empty()) {
    r.cc.parse(cache_control);
    r.has_cache_control = true;
  }
  return r;
}

struct StoreCase {
  const char* what;
  CachePolicy policy;
  RequestFacts request;
  ResponseFacts response;
  bool store;
  std::int64_t lifetime;
  const char* reason;
};

TEST(Freshness, StoreDecisionTable) {
  auto expires = [](std::optional<UnixSeconds> at) {
    ResponseFacts r = response(200);
    r.has_expires = true;
    r.expires = at;
    return r;
  };
  auto with = [](ResponseFacts r, auto f) {
    f(r);
    return r;
  };
  RequestFacts head = get();
  head.method = "HEAD";
  RequestFacts post = get();
  post.method = "POST";
  RequestFacts auth = get();
  auth.has_authorization = true;
  const auto origin = policy("UseOriginCacheControlHeaders");
  const auto optimized = policy("CachingOptimized");

  const StoreCase cases[] = {
      {"s-maxage wins over max-age", origin, get(), response(200, "max-age=10, s-maxage=20"), true, 20, "stored"},
      {"max-age", origin, get(), response(200, "max-age=10"), true, 10, "stored"},
      {"Expires - Date", origin, get(), expires(kNow + 300), true, 300, "stored"},
      {"invalid Expires is already expired", origin, get(),
       with(expires(std::nullopt), [](ResponseFacts& r) { r.has_etag = true; }), true, 0, "stored"},
      {"invalid Expires without validator", origin, get(), expires(std::nullopt), false, 0, "no_freshness"},
      {"max_ttl clamps", custom(0, 10, 60), get(), response(200, "max-age=3600"), true, 60, "stored"},
      {"min_ttl raises", custom(30, 60, 600), get(), response(200, "max-age=5"), true, 30, "stored"},
      {"default_ttl without freshness info", optimized, get(), response(200), true, 86400, "stored"},
      {"no-store", origin, get(), response(200, "no-store, max-age=60"), false, 0, "no_store"},
      {"request no-store", origin, get("no-store"), response(200, "max-age=60"), false, 0, "request_no_store"},
      {"private", origin, get(), response(200, "private, max-age=60"), false, 0, "private"},
      {"min_ttl > 0 keeps no-store", custom(5, 60, 600), get(), response(200, "no-store"), true, 60, "stored"},
      {"min_ttl > 0 keeps private", custom(5, 60, 600), get(), response(200, "private, max-age=0"), true, 5, "stored"},
      {"HEAD is not stored", origin, head, response(200, "max-age=60"), false, 0, "method"},
      {"POST is not stored", origin, post, response(200, "max-age=60"), false, 0, "method"},
      {"Authorization needs public", origin, auth, response(200, "max-age=60"), false, 0, "authorization"},
      {"Authorization with public", origin, auth, response(200, "public, max-age=60"), true, 60, "stored"},
      {"Authorization with s-maxage", origin, auth, response(200, "s-maxage=60"), true, 60, "stored"},
      {"302 without freshness", origin, get(), response(302), false, 0, "no_freshness"},
      {"302 with max-age", origin, get(), response(302, "max-age=60"), true, 60, "stored"},
      {"500 without freshness", optimized, get(), response(500), false, 0, "no_freshness"},
      {"404 takes the default TTL", optimized, get(), response(404), true, 86400, "stored"},
      {"206 is not stored", origin, get(), response(206, "max-age=60"), false, 0, "status"},
      {"304 is not stored", origin, get(), response(304, "max-age=60"), false, 0, "status"},
      {"Vary: * is never stored", origin, get(),
       with(response(200, "max-age=60"), [](ResponseFacts& r) { r.vary_star = true; }), false, 0, "vary_star"},
      {"Set-Cookie is never stored", origin, get(),
       with(response(200, "max-age=60"), [](ResponseFacts& r) { r.has_set_cookie = true; }), false, 0, "set_cookie"},
      {"CachingDisabled", policy("CachingDisabled"), get(), response(200, "max-age=60"), false, 0, "caching_disabled"},
      {"no-cache is stored, revalidated always", origin, get(),
       with(response(200, "no-cache, max-age=60"), [](ResponseFacts& r) { r.has_etag = true; }), true, 60, "stored"},
  };
  for (const auto& c : cases) {
    auto d = decide_store(c.policy, c.request, c.response, kNow);
    EXPECT_EQ(d.store, c.store) << c.what;
    EXPECT_EQ(d.reason, c.reason) << c.what;
    if (c.store) {
      EXPECT_EQ(d.lifetime, c.lifetime) << c.what;
    }
  }
}

TEST(Freshness, HeuristicOnlyForDefaultCacheableStatuses) {
  const auto origin = policy("UseOriginCacheControlHeaders");  // default_ttl 0: pure RFC 9111
  ResponseFacts r = response(200);
  r.last_modified = kNow - 1000;
  auto d = decide_store(origin, get(), r, kNow);
  EXPECT_TRUE(d.store);
  EXPECT_TRUE(d.heuristic);
  EXPECT_EQ(d.lifetime, 100);  // 10 % of the time since Last-Modified
  r.status = 302;
  EXPECT_FALSE(decide_store(origin, get(), r, kNow).store);
  // No Last-Modified and no validator: nothing to go on.
  EXPECT_FALSE(decide_store(origin, get(), response(200), kNow).store);
  EXPECT_TRUE(decide_store(origin, get(), response(200, "no-cache"), kNow).store == false);
}

TEST(Freshness, CurrentAgeFollowsRfc9111) {
  // Date 10 s before the response arrived, Age 5, 2 s in transit, 30 s resident.
  EXPECT_EQ(current_age(5, kNow - 10, kNow - 2, kNow, kNow + 30), 10 + 30);
  EXPECT_EQ(current_age(20, kNow - 10, kNow - 2, kNow, kNow + 30), 22 + 30);
  EXPECT_EQ(current_age(0, std::nullopt, kNow, kNow, kNow), 0);
  EXPECT_EQ(current_age(0, kNow + 100, kNow, kNow, kNow + 1), 1);  // Date in the future: no apparent age
}

TEST(Freshness, UsabilityTable) {
  StoredFacts s;
  s.lifetime = 60;
  s.age = 30;
  EXPECT_EQ(usability(s, get()), Usability::fresh);
  EXPECT_EQ(usability(s, get("no-cache")), Usability::must_revalidate);
  RequestFacts pragma = get();
  pragma.pragma_no_cache = true;
  EXPECT_EQ(usability(s, pragma), Usability::must_revalidate);
  EXPECT_EQ(usability(s, get("max-age=10")), Usability::must_revalidate);
  EXPECT_EQ(usability(s, get("min-fresh=40")), Usability::must_revalidate);
  s.age = 70;  // 10 s stale
  EXPECT_EQ(usability(s, get()), Usability::must_revalidate);
  EXPECT_EQ(usability(s, get("max-stale=20")), Usability::stale_acceptable);
  EXPECT_EQ(usability(s, get("max-stale")), Usability::stale_acceptable);
  EXPECT_EQ(usability(s, get("max-stale=5")), Usability::must_revalidate);
  s.stale_while_revalidate = 30;
  EXPECT_EQ(usability(s, get()), Usability::stale_while_revalidate);
  s.age = 100;  // beyond the window
  EXPECT_EQ(usability(s, get()), Usability::must_revalidate);
  s.age = 70;
  s.no_stale = true;  // must-revalidate
  EXPECT_EQ(usability(s, get("max-stale")), Usability::must_revalidate);
  StoredFacts always;
  always.lifetime = 60;
  always.revalidate_always = true;
  EXPECT_EQ(usability(always, get()), Usability::must_revalidate);
}

TEST(Freshness, StaleOnError) {
  StoredFacts s;
  s.lifetime = 60;
  s.age = 1000;
  EXPECT_TRUE(may_serve_stale_on_error(s, get()));  // CloudFront: expired object on 5xx
  s.stale_if_error = 100;
  EXPECT_FALSE(may_serve_stale_on_error(s, get()));
  s.age = 150;
  EXPECT_TRUE(may_serve_stale_on_error(s, get()));
  EXPECT_FALSE(may_serve_stale_on_error(s, get("stale-if-error=10")));
  s.no_stale = true;
  EXPECT_FALSE(may_serve_stale_on_error(s, get()));
}

}  // namespace
