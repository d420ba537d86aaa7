// Cache keys by policy, and the sharded LRU store.
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <string>

#include "edge/cache/cache_policy.hpp"
#include "edge/cache/edge_cache.hpp"
#include "edge/cache/memory_cache.hpp"
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

CachePolicy custom_policy() {
  edge::config::CachePolicyConfig c;
  c.name = "k";
  c.key_headers = {"X-Device", "Host"};
  c.key_query_strings.mode = Mode::whitelist;
  c.key_query_strings.names = {"page", "lang"};
  c.key_cookies.mode = Mode::all_except;
  c.key_cookies.names = {"session"};
  c.accept_encoding = {"gzip", "br"};
  return compile_cache_policy(c);
}

TEST(CacheKey, ManagedPoliciesExistByName) {
  for (const char* n : {"CachingOptimized", "CachingOptimizedForUncompressedObjects", "CachingDisabled",
                        "UseOriginCacheControlHeaders", "UseOriginCacheControlHeaders-QueryStrings"})
    EXPECT_TRUE(managed_cache_policy(n).has_value()) << n;
  EXPECT_FALSE(managed_cache_policy("Nope").has_value());
  auto opt = compile_cache_policy(*managed_cache_policy("CachingOptimized"));
  EXPECT_EQ(opt.min_ttl, 1);
  EXPECT_EQ(opt.default_ttl, 86400);
  EXPECT_EQ(opt.max_ttl, 31536000);
  EXPECT_TRUE(opt.gzip && opt.br);
  EXPECT_FALSE(compile_cache_policy(*managed_cache_policy("CachingDisabled")).caching_enabled());
  edge::config::Config cfg;
  edge::config::CachePolicyConfig declared;
  declared.name = "mine";
  declared.max_ttl = std::chrono::seconds(5);
  cfg.cache_policies.push_back(declared);
  EXPECT_EQ(find_cache_policy(cfg, "mine")->max_ttl, 5);
  EXPECT_EQ(find_cache_policy(cfg, "CachingOptimized")->min_ttl, 1);
  EXPECT_FALSE(find_cache_policy(cfg, "absent").has_value());
}

TEST(CacheKey, SelectedPartsOnlyAndNormalised) {
  const auto p = custom_policy();
  FakeHead a;
  a.fields = {{"x-device", "mobile"}, {"cookie", "theme=dark; session=abc"},
              {"accept-encoding", "gzip, deflate, br"}, {"user-agent", "A"}};
  FakeHead b = a;
  b.fields["cookie"] = "session=zzz; theme=dark";  // other session, same selected cookies
  b.fields["user-agent"] = "B";                     // not in the key
  b.fields["accept-encoding"] = "br;q=1.0, gzip";   // same normalised value
  const auto ka = make_cache_key(p, {"Example.COM", "/p", "lang=en&page=2&utm=1", &a});
  const auto kb = make_cache_key(p, {"example.com", "/p", "page=2&utm=9&lang=en", &b});
  EXPECT_EQ(ka, kb);

  FakeHead c = a;
  c.fields["x-device"] = "desktop";
  EXPECT_NE(ka, make_cache_key(p, {"example.com", "/p", "lang=en&page=2", &c}));
  c = a;
  c.fields["cookie"] = "theme=light";
  EXPECT_NE(ka, make_cache_key(p, {"example.com", "/p", "lang=en&page=2", &c}));
  EXPECT_NE(ka, make_cache_key(p, {"example.com", "/p", "lang=fr&page=2", &a}));
  EXPECT_NE(ka, make_cache_key(p, {"example.com", "/P", "lang=en&page=2", &a}));
  EXPECT_NE(ka, make_cache_key(p, {"other.com", "/p", "lang=en&page=2", &a}));
  c = a;
  c.fields["accept-encoding"] = "gzip;q=0, br";
  EXPECT_NE(ka, make_cache_key(p, {"example.com", "/p", "lang=en&page=2", &c}));
}

TEST(CacheKey, ComponentsCannotBeForged) {
  const auto p = compile_cache_policy(*managed_cache_policy("CachingOptimizedForUncompressedObjects"));
  // Host "a" + path "/bP2:/c" must not equal host "a" + path "/b" + anything.
  EXPECT_NE(make_cache_key(p, {"a", "/bP2:/c", "", nullptr}), make_cache_key(p, {"a", "/b", "", nullptr}));
  EXPECT_NE(make_cache_key(p, {"aP1:/", "/", "", nullptr}), make_cache_key(p, {"a", "/", "", nullptr}));
}

TEST(CacheKey, AcceptEncodingNormalisation) {
  const auto both = compile_cache_policy(*managed_cache_policy("CachingOptimized"));
  const auto none = compile_cache_policy(*managed_cache_policy("CachingOptimizedForUncompressedObjects"));
  EXPECT_EQ(normalize_accept_encoding(both, "gzip, deflate, br"), "br,gzip");
  EXPECT_EQ(normalize_accept_encoding(both, "GZIP"), "gzip");
  EXPECT_EQ(normalize_accept_encoding(both, "br;q=0.5"), "br");
  EXPECT_EQ(normalize_accept_encoding(both, "br;q=0, gzip;q=0.0"), "");
  EXPECT_EQ(normalize_accept_encoding(both, "identity"), "");
  EXPECT_EQ(normalize_accept_encoding(none, "gzip, br"), "");
}

CachedPtr object(std::string path, std::size_t body) {
  auto r = std::make_shared<CachedResponse>();
  r->path = std::move(path);
  r->body.assign(body, 'x');
  return r;
}

TEST(MemoryCache, PutGetEraseAndReplace) {
  MemoryCache c(1 << 20, 1 << 16, 4);
  EXPECT_EQ(c.get("k"), nullptr);
  auto o = object("/a", 100);
  EXPECT_TRUE(c.put("k", o));
  EXPECT_EQ(c.get("k"), o);
  auto o2 = object("/a", 200);
  EXPECT_TRUE(c.put("k", o2));
  EXPECT_EQ(c.get("k"), o2);
  EXPECT_EQ(c.stats().objects, 1U);
  EXPECT_TRUE(c.erase("k"));
  EXPECT_FALSE(c.erase("k"));
  EXPECT_EQ(c.stats().objects, 0U);
  EXPECT_EQ(c.stats().bytes, 0U);
}

TEST(MemoryCache, OversizeObjectsAreRefused) {
  MemoryCache c(1 << 20, 1000, 1);
  EXPECT_FALSE(c.put("big", object("/big", 1001)));
  EXPECT_TRUE(c.put("ok", object("/ok", 1000)));
}

// The edge's store spreads its budget over shards, each object charged to one:
// objects up to max_object_size must still fit, whatever the two sizes are.
TEST(EdgeCache, ObjectsUpToMaxObjectSizeAreStored) {
  for (const auto& [memory, max_object] : {std::pair<std::size_t, std::size_t>{4 << 20, 1 << 20},
                                           {256 << 20, 10 << 20},
                                           {1 << 20, 1 << 20},
                                           {64 << 20, 4096}}) {
    EdgeCache ec(memory, max_object);
    const std::size_t body = max_object - 1024;
    for (int i = 0; i < 4; ++i) {
      const std::string key = std::to_string(i);
      EXPECT_TRUE(ec.store().put(key, object("/o", body))) << memory << " " << max_object;
      EXPECT_NE(ec.store().get(key), nullptr);
    }
  }
}

TEST(MemoryCache, LruKeepsBudgetUnderChurnAndKeepsRecentlyUsed) {
  const std::size_t budget = 64 * 1024;
  MemoryCache c(budget, 1 << 20, 1);
  c.put("hot", object("/hot", 1000));
  for (int i = 0; i < 1000; ++i) {
    std::string key = "k";
    key += std::to_string(i);
    c.put(key, object("/k", 1000));
    ASSERT_NE(c.get("hot"), nullptr) << i;  // used all the time: never the LRU victim
    ASSERT_LE(c.stats().bytes, budget);
  }
  EXPECT_GT(c.stats().evictions, 900U);
  EXPECT_EQ(c.get("k0"), nullptr);
  EXPECT_NE(c.get("k999"), nullptr);
}

TEST(MemoryCache, HitOutlivesEviction) {
  MemoryCache c(8 * 1024, 1 << 20, 1);
  c.put("a", object("/a", 4000));
  CachedPtr held = c.get("a");
  c.put("b", object("/b", 4000));
  c.put("c", object("/c", 4000));
  EXPECT_EQ(c.get("a"), nullptr);
  EXPECT_EQ(held->body.size(), 4000U);  // the body a hit is writing stays valid
}

TEST(MemoryCache, InvalidationByExactPathAndPrefix) {
  MemoryCache c(1 << 20, 1 << 16, 4);
  c.put("1", object("/index.html", 10));
  c.put("2", object("/images/a.png", 10));
  c.put("3", object("/images/b/c.png", 10));
  c.put("4", object("/imagesque", 10));
  c.put("5", object("/index.html.bak", 10));
  EXPECT_EQ(c.invalidate("/index.html"), 1U);
  EXPECT_EQ(c.get("1"), nullptr);
  EXPECT_NE(c.get("5"), nullptr);
  EXPECT_EQ(c.invalidate("/images/*"), 2U);
  EXPECT_NE(c.get("4"), nullptr);
  EXPECT_EQ(c.invalidate("/*"), 2U);
  EXPECT_EQ(c.stats().objects, 0U);
  EXPECT_EQ(c.stats().invalidated, 5U);
}

TEST(MemoryCache, VariantKeysFollowVaryValues) {
  std::vector<std::string> names{"accept-language"};
  auto en = variant_key("K", names, [](std::string_view) { return std::string_view("en"); });
  auto fr = variant_key("K", names, [](std::string_view) { return std::string_view("fr"); });
  auto none = variant_key("K", names, [](std::string_view) { return std::string_view(); });
  EXPECT_NE(en, fr);
  EXPECT_NE(en, none);
  EXPECT_EQ(en, variant_key("K", names, [](std::string_view) { return std::string_view("en"); }));
}

}  // namespace
