// The response cache in the request flow, through real sockets: a gateway on
// port 0 with a cache policy on its default action, in front of real origins.
// The origin is steered per request by query parameters (`header=`, `status=`,
// `bytes=`), which the test policy leaves out of the cache key; the cache's
// clock is injected, so freshness never depends on the wall clock.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <ctime>
#include <future>
#include <thread>

#include "edge/cache/edge_cache.hpp"
#include "edge/core/types.hpp"
#include "integration/gateway_fixture.hpp"

namespace edge::test {
namespace {

/// An origin that holds its first response mid-body: the head (cacheable for
/// 600 s) and the first `first_part` bytes of a `length`-byte body, then
/// nothing until release(); then the rest, or with `fail` a close instead.
/// Later requests get the whole response at once. Thread: its own io_context;
/// the test thread only calls the public functions.
class HeldOrigin {
 public:
  HeldOrigin(std::size_t length, std::size_t first_part, bool fail)
      : length_(length),
        first_part_(first_part),
        fail_(fail),
        body_(origin::OriginServer::make_body(length)),
        acceptor_(ioc_.get_executor()),
        hold_(ioc_.get_executor()) {
    const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    first_sent_future_ = first_sent_.get_future();
    asio::co_spawn(ioc_, accept_loop(this), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~HeldOrigin() {
    asio::post(ioc_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      ioc_.stop();
    });
    thread_.join();
  }
  HeldOrigin(const HeldOrigin&) = delete;
  HeldOrigin& operator=(const HeldOrigin&) = delete;

  std::uint16_t port() const { return port_; }
  std::uint64_t requests() const { return requests_.load(); }
  const std::string& body() const { return body_; }
  /// The first response's head and first part were written.
  bool wait_first_part() {
    return first_sent_future_.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  }
  void release() {
    asio::post(ioc_, [this] {
      released_ = true;
      hold_.cancel();
    });
  }

 private:
  static Task<void> accept_loop(HeldOrigin* self) {
    for (;;) {
      auto [ec, sock] = co_await self->acceptor_.async_accept(kUseTuple);
      if (ec) co_return;
      asio::co_spawn(self->ioc_, serve(self, std::move(sock)), asio::detached);
    }
  }
  static Task<void> serve(HeldOrigin* self, Socket sock) {
    auto buffer = std::make_unique<std::string>();
    const std::string head = "HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nContent-Length: " +
                             std::to_string(self->length_) + "\r\n\r\n";
    const std::string_view body = self->body_;
    for (;;) {
      auto [ec, n] =
          co_await asio::async_read_until(sock, asio::dynamic_buffer(*buffer), "\r\n\r\n", kUseTuple);
      if (ec) co_return;
      buffer->erase(0, n);
      if (++self->requests_ > 1) {
        std::array<asio::const_buffer, 2> all{asio::buffer(head), asio::buffer(body)};
        auto [wec, w] = co_await asio::async_write(sock, all, kUseTuple);
        if (wec) co_return;
        continue;
      }
      std::array<asio::const_buffer, 2> part{asio::buffer(head),
                                             asio::buffer(body.substr(0, self->first_part_))};
      auto [wec, w] = co_await asio::async_write(sock, part, kUseTuple);
      if (wec) co_return;
      self->first_sent_.set_value();
      if (!self->released_) {
        self->hold_.expires_at(Timer::time_point::max());
        auto [tec] = co_await self->hold_.async_wait(kUseTuple);
        (void)tec;
      }
      if (self->fail_) co_return;  // closes mid-body
      auto [rec, r] =
          co_await asio::async_write(sock, asio::buffer(body.substr(self->first_part_)), kUseTuple);
      if (rec) co_return;
    }
  }

  const std::size_t length_, first_part_;
  const bool fail_;
  const std::string body_;
  asio::io_context ioc_{1};
  Acceptor acceptor_;
  Timer hold_;
  bool released_ = false;  // io_context thread only
  std::promise<void> first_sent_;
  std::future<void> first_sent_future_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  std::atomic<std::uint64_t> requests_{0};
};

/// Body bytes of a response whose head and (part of the) body `c` holds.
std::string_view body_part(std::string_view raw) {
  const auto end = raw.find("\r\n\r\n");
  return end == std::string_view::npos ? std::string_view() : raw.substr(end + 4);
}

/// Waits until `c` holds a response head and `n` body bytes after it.
bool wait_for_body_bytes(Connection& c, std::size_t n) {
  if (!c.wait_for_bytes(n)) return false;
  const auto end = c.buffered().find("\r\n\r\n");
  return end != std::string_view::npos && c.wait_for_bytes(end + 4 + n);
}

class CacheTest : public GatewayTest {
 protected:
  /// A config whose default action caches with policy "test": freshness from
  /// the origin's headers only (default_ttl 0), query strings not in the key.
  static config::Config cache_config(unsigned workers = 2) {
    auto c = base_config(workers);
    config::CachePolicyConfig p;
    p.name = "test";
    p.min_ttl = std::chrono::seconds(0);
    p.default_ttl = std::chrono::seconds(0);
    p.max_ttl = std::chrono::seconds(86400);
    c.cache_policies.push_back(p);
    c.listeners[0].default_action.forward.cache_policy = "test";
    // The tests steer the origin by query parameters: forward them all.
    c.listeners[0].default_action.forward.origin_request_policy = "AllViewer";
    c.cache.memory = 4 * 1024 * 1024;
    c.cache.max_object_size = 64 * 1024;
    return c;
  }

  void start_cached(config::Config c) {
    if (c.target_groups[0].targets.empty())
      for (auto& o : origins_) add_target(c, o->port());
    server::GatewayOptions opts;
    opts.cache_clock = [this] { return now_.load(); };
    gateway_ = std::make_unique<server::Gateway>(std::move(c), nullptr, opts);
    gateway_->start();
    port_ = gateway_->listener_port(0);
  }

  Response get(std::string_view target, const Headers& h = {}) {
    return http_get(port_, target, h);
  }

  Response admin(std::string_view method, std::string_view target, std::string_view body = {}) {
    auto c = connect(gateway_->admin_port());
    return c.request(method, target, {{"Content-Type", "application/json"}}, body);
  }

  std::uint64_t lookups(metrics::CacheResult r) {
    return sum_shards(gateway_->metrics(), [r](metrics::WorkerShard& s) {
      return s.cache_lookups[static_cast<std::size_t>(r)].value();
    });
  }

  /// Starts the gateway in front of `o` (collapse_timeout 60 s) and sends
  /// the GET /held that leads the fill; returns once its client holds the
  /// head and the first `first` body bytes (a failure is recorded if not).
  Connection lead_held_fetch(HeldOrigin& o, std::size_t first,
                             std::size_t max_object = 64 * 1024) {
    auto c = cache_config();
    c.cache.collapse_timeout = std::chrono::seconds(60);
    c.cache.max_object_size = max_object;
    add_target(c, o.port());
    start_cached(c);
    auto leader = connect(port_);
    EXPECT_FALSE(leader.send_raw(make_request("GET", "/held", {{"Host", "127.0.0.1"}})));
    EXPECT_TRUE(o.wait_first_part());
    EXPECT_TRUE(wait_for_body_bytes(leader, first));
    return leader;
  }

  /// A second GET /held, joining the fill `lead_held_fetch` started; returns
  /// once it holds the head and the first `first` body bytes.
  Connection follow_held_fetch(std::size_t first) {
    auto waiter = connect(port_);
    EXPECT_FALSE(waiter.send_raw(make_request("GET", "/held", {{"Host", "127.0.0.1"}})));
    EXPECT_TRUE(wait_for_body_bytes(waiter, first));
    return waiter;
  }

  std::atomic<std::int64_t> now_{static_cast<std::int64_t>(std::time(nullptr))};
};

TEST_F(CacheTest, FreshResponseIsStoredAndServedFromCache) {
  auto& o = add_origin();
  start_cached(cache_config());
  auto first = get("/a?header=Cache-Control:max-age=60&bytes=1000");
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.header("X-Cache"), "Miss from edged");
  now_ += 5;
  auto second = get("/a");
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(second.header("X-Cache"), "Hit from edged");
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(second.body.size(), 1000u);
  EXPECT_EQ(second.header("Cache-Control"), "max-age=60");
  EXPECT_EQ(second.header("Content-Length"), "1000");
  EXPECT_EQ(second.header_count("Age"), 1u);
  EXPECT_GE(std::stoi(second.header("Age")), 5);
  EXPECT_FALSE(second.header("Date").empty());
  EXPECT_EQ(o.requests_for("/a"), 1u);
  EXPECT_EQ(lookups(metrics::CacheResult::hit), 1u);
  EXPECT_EQ(lookups(metrics::CacheResult::miss), 1u);
  const auto hit_bytes = sum_shards(gateway_->metrics(),
                                    [](metrics::WorkerShard& s) { return s.cache_hit_bytes.value(); });
  EXPECT_EQ(hit_bytes, 1000u);

  // Expired: fetched again (no validators to revalidate with).
  now_ += 60;
  auto third = get("/a?header=Cache-Control:max-age=60");
  EXPECT_EQ(third.header("X-Cache"), "Miss from edged");
  EXPECT_EQ(o.requests_for("/a"), 2u);
}

TEST_F(CacheTest, ChunkedResponseIsStored) {
  auto& o = add_origin();
  start_cached(cache_config());
  auto first = get("/c?header=Cache-Control:max-age=60&bytes=5000&chunked=1");
  ASSERT_EQ(first.status, 200);
  auto second = get("/c");
  EXPECT_EQ(second.header("X-Cache"), "Hit from edged");
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(second.body.size(), 5000u);
  EXPECT_EQ(o.requests_for("/c"), 1u);
}

TEST_F(CacheTest, RouteWithoutPolicyNeverTouchesTheCache) {
  auto& o = add_origin();
  auto c = cache_config();
  c.listeners[0].default_action.forward.cache_policy.clear();
  start_cached(c);
  for (int i = 0; i < 2; ++i) {
    auto r = get("/n?header=Cache-Control:max-age=60");
    EXPECT_EQ(r.status, 200);
    EXPECT_FALSE(r.has_header("X-Cache"));
  }
  EXPECT_EQ(o.requests_for("/n"), 2u);
  EXPECT_EQ(gateway_->cache()->store().stats().objects, 0u);
}

TEST_F(CacheTest, UncacheableResponsesAreNotShared) {
  auto& o = add_origin();
  start_cached(cache_config());
  // no-store, private, Set-Cookie, and a response to a request with credentials.
  get("/ns?header=Cache-Control:no-store");
  get("/pv?header=Cache-Control:private,max-age=60");
  get("/sc?header=Cache-Control:max-age=60&header=Set-Cookie:session=alice");
  get("/au?header=Cache-Control:max-age=60", {{"Authorization", "Bearer alice"}});
  for (const char* path : {"/ns", "/pv", "/sc", "/au"}) {
    auto r = get(path);
    EXPECT_EQ(r.header("X-Cache"), "Miss from edged") << path;
    EXPECT_NE(r.header("Set-Cookie"), "session=alice") << path;
    EXPECT_EQ(o.requests_for(path), 2u) << path;
  }
  // Authorization: a stored response is not handed to a request with credentials,
  // but `public` lets the response to one be shared.
  get("/pub?header=Cache-Control:public,max-age=60", {{"Authorization", "Bearer bob"}});
  EXPECT_EQ(get("/pub").header("X-Cache"), "Hit from edged");
  EXPECT_EQ(get("/pub", {{"Authorization", "Bearer eve"}}).header("X-Cache"), "Miss from edged");
}

TEST_F(CacheTest, HeadIsServedFromStoredGet) {
  auto& o = add_origin();
  start_cached(cache_config());
  get("/h?header=Cache-Control:max-age=60&bytes=300");
  auto c = connect(port_);
  ASSERT_FALSE(c.send_raw(make_request("HEAD", "/h", {{"Host", "127.0.0.1"}})));
  auto r = c.read_response(kDefaultTimeout, true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-Cache"), "Hit from edged");
  EXPECT_EQ(r.header("Content-Length"), "300");
  EXPECT_TRUE(r.body.empty());
  // The connection stays in sync: the next response is read whole.
  auto next = c.request("GET", "/h");
  EXPECT_EQ(next.body.size(), 300u);
  EXPECT_EQ(o.requests_for("/h"), 1u);
}

TEST_F(CacheTest, ClientConditionalAnsweredFromCache) {
  auto& o = add_origin();
  start_cached(cache_config());
  get("/cond?header=Cache-Control:max-age=60&header=ETag:\"v1\""
      "&header=Last-Modified:Sun,%2006%20Nov%201994%2008:49:37%20GMT");
  auto inm = get("/cond", {{"If-None-Match", "\"v0\", \"v1\""}});
  EXPECT_EQ(inm.status, 304);
  EXPECT_EQ(inm.header("ETag"), "\"v1\"");
  EXPECT_TRUE(inm.body.empty());
  EXPECT_EQ(inm.header("X-Cache"), "Hit from edged");
  auto other = get("/cond", {{"If-None-Match", "\"v2\""}});
  EXPECT_EQ(other.status, 200);
  auto ims = get("/cond", {{"If-Modified-Since", "Mon, 07 Nov 1994 08:49:37 GMT"}});
  EXPECT_EQ(ims.status, 304);
  auto older = get("/cond", {{"If-Modified-Since", "Sat, 05 Nov 1994 08:49:37 GMT"}});
  EXPECT_EQ(older.status, 200);
  EXPECT_EQ(o.requests_for("/cond"), 1u);
}

TEST_F(CacheTest, RevalidationWithTargetRefreshesStoredHeaders) {
  auto& o = add_origin();
  start_cached(cache_config());
  auto first = get("/rv?header=Cache-Control:max-age=10&header=ETag:\"r1\"&header=X-Version:1"
                   "&bytes=200");
  ASSERT_EQ(first.status, 200);
  now_ += 20;  // stale
  // The target answers the conditional request with 304 and new fields.
  auto second = get("/rv?status=304&header=Cache-Control:max-age=100&header=ETag:\"r1\""
                    "&header=X-Version:2");
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(second.header("X-Cache"), "RefreshHit from edged");
  EXPECT_EQ(second.header("X-Version"), "2");
  EXPECT_EQ(second.header("Cache-Control"), "max-age=100");
  EXPECT_EQ(second.body, first.body);
  auto last = o.last_request();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->header("If-None-Match"), "\"r1\"");
  EXPECT_EQ(lookups(metrics::CacheResult::revalidated), 1u);
  // Fresh again for 100 s with the refreshed fields.
  now_ += 50;
  auto third = get("/rv");
  EXPECT_EQ(third.header("X-Cache"), "Hit from edged");
  EXPECT_EQ(third.header("X-Version"), "2");
  EXPECT_EQ(o.requests_for("/rv"), 2u);
}

TEST_F(CacheTest, NoCacheIsStoredButRevalidatedEveryTime) {
  auto& o = add_origin();
  start_cached(cache_config());
  get("/nc?header=Cache-Control:no-cache&header=ETag:\"n1\"");
  auto r = get("/nc?status=304&header=ETag:\"n1\"&header=Cache-Control:no-cache");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-Cache"), "RefreshHit from edged");
  EXPECT_EQ(o.requests_for("/nc"), 2u);
}

TEST_F(CacheTest, StaleIfErrorServesStaleWhenTargetIsDown) {
  auto& o = add_origin();
  start_cached(cache_config());
  auto first = get("/sie?header=Cache-Control:max-age=10,stale-if-error=300&bytes=100");
  ASSERT_EQ(first.status, 200);
  now_ += 60;
  o.stop();  // connections refused from now on
  auto r = get("/sie");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, first.body);
  EXPECT_EQ(r.header("X-Cache"), "RefreshHit from edged");
  EXPECT_EQ(lookups(metrics::CacheResult::stale), 1u);
  // Beyond stale-if-error: the error reaches the client.
  now_ += 1000;
  auto late = get("/sie");
  EXPECT_GE(late.status, 500);
  EXPECT_EQ(late.header("X-Cache"), "Error from edged");
}

TEST_F(CacheTest, ExpiredObjectServedWhenTargetAnswers5xx) {
  auto& o = add_origin();
  start_cached(cache_config());
  auto first = get("/e5?header=Cache-Control:max-age=10&bytes=50");
  now_ += 30;
  auto r = get("/e5?status=503");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, first.body);
  // must-revalidate forbids it.
  get("/mr?header=Cache-Control:max-age=10,must-revalidate&bytes=50");
  now_ += 30;
  EXPECT_EQ(get("/mr?status=503").status, 503);
  EXPECT_EQ(o.requests_for("/mr"), 2u);
}

TEST_F(CacheTest, RangeServedFromStoredResponse) {
  add_origin();
  start_cached(cache_config());
  auto full = get("/rg?header=Cache-Control:max-age=60&bytes=1000");
  ASSERT_EQ(full.body.size(), 1000u);
  auto r = get("/rg", {{"Range", "bytes=100-199"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.header("Content-Range"), "bytes 100-199/1000");
  EXPECT_EQ(r.body, full.body.substr(100, 100));
  auto suffix = get("/rg", {{"Range", "bytes=-10"}});
  EXPECT_EQ(suffix.status, 206);
  EXPECT_EQ(suffix.body, full.body.substr(990));
  auto bad = get("/rg", {{"Range", "bytes=5000-"}});
  EXPECT_EQ(bad.status, 416);
  EXPECT_EQ(bad.header("Content-Range"), "bytes */1000");
}

TEST_F(CacheTest, VarySelectsVariants) {
  auto& o = add_origin();
  start_cached(cache_config());
  auto en = get("/v?header=Cache-Control:max-age=60&header=Vary:Accept-Language&header=X-L:en",
                {{"Accept-Language", "en"}});
  auto fr = get("/v?header=Cache-Control:max-age=60&header=Vary:Accept-Language&header=X-L:fr",
                {{"Accept-Language", "fr"}});
  EXPECT_EQ(o.requests_for("/v"), 2u);
  auto en2 = get("/v", {{"Accept-Language", "en"}});
  EXPECT_EQ(en2.header("X-Cache"), "Hit from edged");
  EXPECT_EQ(en2.header("X-L"), "en");
  auto fr2 = get("/v", {{"Accept-Language", "fr"}});
  EXPECT_EQ(fr2.header("X-L"), "fr");
  auto de = get("/v?header=Cache-Control:max-age=60", {{"Accept-Language", "de"}});
  EXPECT_EQ(de.header("X-Cache"), "Miss from edged");
  EXPECT_EQ(o.requests_for("/v"), 3u);
  // Vary: * never matches.
  get("/vs?header=Cache-Control:max-age=60&header=Vary:*");
  get("/vs");
  EXPECT_EQ(o.requests_for("/vs"), 2u);
}

TEST_F(CacheTest, OversizeObjectStreamedThroughNotStored) {
  auto& o = add_origin();
  auto c = cache_config();
  c.cache.max_object_size = 10 * 1024;
  start_cached(c);
  for (const char* q : {"/big?header=Cache-Control:max-age=60&bytes=50000",
                        "/bigc?header=Cache-Control:max-age=60&bytes=50000&chunked=1"}) {
    auto a = get(q);
    ASSERT_EQ(a.status, 200);
    EXPECT_EQ(a.body.size(), 50000u);
    EXPECT_EQ(a.body, origin::OriginServer::make_body(50000));
  }
  EXPECT_EQ(get("/big").header("X-Cache"), "Miss from edged");
  EXPECT_EQ(get("/bigc").header("X-Cache"), "Miss from edged");
  EXPECT_EQ(o.requests_for("/big"), 2u);
  EXPECT_EQ(o.requests_for("/bigc"), 2u);
  EXPECT_EQ(gateway_->cache()->store().stats().objects, 0u);
}

TEST_F(CacheTest, LruBudgetRespectedUnderChurn) {
  add_origin();
  auto c = cache_config();
  c.cache.memory = 256 * 1024;
  c.cache.max_object_size = 8 * 1024;
  start_cached(c);
  for (int i = 0; i < 300; ++i) {
    auto r = get("/churn/" + std::to_string(i) + "?header=Cache-Control:max-age=600&bytes=3000");
    ASSERT_EQ(r.status, 200);
  }
  const auto st = gateway_->cache()->store().stats();
  EXPECT_LE(st.bytes, 256u * 1024u);
  EXPECT_GT(st.evictions, 0u);
  EXPECT_GT(st.objects, 10u);
  // The most recent one is still there.
  EXPECT_EQ(get("/churn/299").header("X-Cache"), "Hit from edged");
  const std::string text = gateway_->metrics().serialize();
  EXPECT_NE(text.find("edged_cache_evictions_total"), std::string::npos);
  EXPECT_NE(text.find("edged_cache_lookups_total{result=\"hit\"}"), std::string::npos);
}

TEST_F(CacheTest, InvalidationByExactPathAndPrefix) {
  auto& o = add_origin();
  start_cached(cache_config());
  for (const char* p : {"/index.html", "/images/a.png", "/images/b.png", "/imagesx"})
    get(std::string(p) + "?header=Cache-Control:max-age=600");
  auto inv = admin("POST", "/invalidations", R"({"paths":["/index.html","/images/*"]})");
  ASSERT_EQ(inv.status, 201) << inv.body;
  auto j = boost::json::parse(inv.body).as_object().at("invalidation").as_object();
  EXPECT_EQ(j.at("status").as_string(), "Completed");
  EXPECT_EQ(j.at("objects").as_int64(), 3);
  const std::string id(j.at("id").as_string());
  auto got = admin("GET", "/invalidations/" + id);
  EXPECT_EQ(got.status, 200);
  EXPECT_NE(got.body.find("/images/*"), std::string::npos);
  EXPECT_EQ(admin("GET", "/invalidations/I999").status, 404);

  EXPECT_EQ(get("/index.html").header("X-Cache"), "Miss from edged");
  EXPECT_EQ(get("/images/a.png").header("X-Cache"), "Miss from edged");
  EXPECT_EQ(get("/imagesx").header("X-Cache"), "Hit from edged");
  EXPECT_EQ(o.requests_for("/imagesx"), 1u);

  for (const char* bad : {R"({"paths":["index.html"]})", R"({"paths":["/a*b"]})",
                          R"({"paths":[]})", R"({"paths":"/x"})", R"([1])", "nope",
                          R"({"paths":["/a"],"extra":1})"})
    EXPECT_EQ(admin("POST", "/invalidations", bad).status, 400) << bad;
}

TEST_F(CacheTest, UnsafeMethodInvalidatesUri) {
  auto& o = add_origin();
  start_cached(cache_config());
  get("/doc?header=Cache-Control:max-age=600");
  EXPECT_EQ(get("/doc").header("X-Cache"), "Hit from edged");
  auto c = connect(port_);
  auto post = c.request("POST", "/doc", {}, "x=1");
  EXPECT_EQ(post.status, 200);
  EXPECT_EQ(get("/doc").header("X-Cache"), "Miss from edged");
  EXPECT_EQ(o.requests_for("/doc"), 3u);
  EXPECT_EQ(lookups(metrics::CacheResult::bypass), 1u);
}

TEST_F(CacheTest, RequestNoCacheAndOnlyIfCached) {
  auto& o = add_origin();
  start_cached(cache_config());
  get("/rq?header=Cache-Control:max-age=600");
  auto r = get("/rq?header=Cache-Control:max-age=600", {{"Cache-Control", "no-cache"}});
  EXPECT_EQ(o.requests_for("/rq"), 2u);
  EXPECT_EQ(r.status, 200);
  auto only = get("/never", {{"Cache-Control", "only-if-cached"}});
  EXPECT_EQ(only.status, 504);
  EXPECT_EQ(o.requests_for("/never"), 0u);
  now_ += 2;
  auto max_age = get("/rq", {{"Cache-Control", "max-age=1"}});
  EXPECT_EQ(o.requests_for("/rq"), 3u);
  (void)max_age;
}

TEST_F(CacheTest, WithoutOriginRequestPolicyOnlyTheKeyIsForwarded) {
  auto& o = add_origin();
  auto c = cache_config();
  c.cache_policies[0].key_query_strings.mode = config::KeySelector::Mode::whitelist;
  c.cache_policies[0].key_query_strings.names = {"page"};
  c.cache_policies[0].key_headers = {"X-Tenant"};
  c.listeners[0].default_action.forward.origin_request_policy.clear();
  start_cached(c);
  auto r = get("/fw?page=2&utm=x&other=1",
               {{"X-Tenant", "t1"}, {"X-Other", "o"}, {"User-Agent", "ua"}, {"Cookie", "a=1; b=2"}});
  ASSERT_EQ(r.status, 200);
  auto last = o.last_request();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->target, "/fw?page=2");
  EXPECT_EQ(last->header("X-Tenant"), "t1");
  EXPECT_FALSE(last->has_header("X-Other"));
  EXPECT_FALSE(last->has_header("User-Agent"));
  EXPECT_FALSE(last->has_header("Cookie"));
  EXPECT_EQ(last->header("Host"), "127.0.0.1:" + std::to_string(port_));
  EXPECT_FALSE(last->header("X-Forwarded-For").empty());
}

TEST_F(CacheTest, OriginRequestPoliciesAddWhatIsForwarded) {
  auto& o = add_origin();
  auto c = cache_config();
  config::CachePolicyConfig keyed;
  keyed.name = "cookies";
  keyed.key_cookies.mode = config::KeySelector::Mode::whitelist;
  keyed.key_cookies.names = {"lang"};
  c.cache_policies.push_back(keyed);
  config::OriginRequestPolicyConfig orp;
  orp.name = "custom";
  orp.headers.mode = config::KeySelector::Mode::whitelist;
  orp.headers.names = {"X-Debug"};
  orp.cookies.mode = config::KeySelector::Mode::whitelist;
  orp.cookies.names = {"session"};
  c.origin_request_policies.push_back(orp);
  auto rule = [](int prio, const char* path, const char* cache, const char* origin) {
    config::Rule r;
    r.priority = prio;
    r.conditions.path_pattern = {path};
    r.action.kind = config::Action::Kind::forward;
    r.action.forward.target_groups.push_back({"app", 1});
    r.action.forward.cache_policy = cache;
    r.action.forward.origin_request_policy = origin;
    return r;
  };
  c.listeners[0].rules.push_back(rule(1, "/ua*", "test", "UserAgentRefererHeaders"));
  c.listeners[0].rules.push_back(rule(2, "/nohost*", "test", "AllViewerExceptHostHeader"));
  c.listeners[0].rules.push_back(rule(3, "/custom*", "cookies", "custom"));
  start_cached(c);

  get("/ua?q=1", {{"User-Agent", "ua"}, {"Referer", "r"}, {"X-Other", "o"}, {"Cookie", "a=1"}});
  auto last = o.last_request();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->target, "/ua?q=1");
  EXPECT_EQ(last->header("User-Agent"), "ua");
  EXPECT_EQ(last->header("Referer"), "r");
  EXPECT_FALSE(last->has_header("X-Other"));
  EXPECT_FALSE(last->has_header("Cookie"));

  get("/nohost", {{"X-Other", "o"}, {"Cookie", "a=1"}});
  last = o.last_request();
  EXPECT_EQ(last->header("Host"), "127.0.0.1:" + std::to_string(o.port()));
  EXPECT_EQ(last->header("X-Other"), "o");
  EXPECT_EQ(last->header("Cookie"), "a=1");

  get("/custom?x=1", {{"X-Debug", "1"}, {"X-Other", "o"},
                      {"Cookie", "lang=fr; session=s1; tracking=t"}});
  last = o.last_request();
  EXPECT_EQ(last->target, "/custom");
  EXPECT_EQ(last->header("X-Debug"), "1");
  EXPECT_FALSE(last->has_header("X-Other"));
  EXPECT_EQ(last->header("Cookie"), "lang=fr; session=s1");
}

TEST_F(CacheTest, StaleWhileRevalidateRefreshesInTheBackgroundOnce) {
  auto& o = add_origin();
  start_cached(cache_config());
  get("/swr?header=Cache-Control:max-age=10,stale-while-revalidate=600&header=X-Version:1");
  now_ += 20;  // stale, within stale-while-revalidate
  // The refresh takes 1 s at the origin; requests meanwhile are answered at
  // once from the stale response (the first one certainly), and only one
  // refresh is sent.
  const std::string target =
      "/swr?header=Cache-Control:max-age=600&header=X-Version:2&delay=1000";
  std::string last = "1";
  for (int i = 0; i < 10; ++i) {
    auto r = get(target);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.header("X-Cache"), "Hit from edged");
    if (i == 0) {
      EXPECT_EQ(r.header("X-Version"), "1");
    }
    EXPECT_GE(r.header("X-Version"), last);  // never back to the old one
    last = r.header("X-Version");
  }
  ASSERT_TRUE(o.wait_for_requests(2, std::chrono::seconds(10)));
  // Until the refresh is stored the stale response keeps answering; then the
  // new one does. Polled with real requests, bounded by a deadline.
  std::string version;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (version != "2" && std::chrono::steady_clock::now() < until)
    version = get("/swr").header("X-Version");
  EXPECT_EQ(version, "2");
  EXPECT_EQ(o.requests_for("/swr"), 2u);
  EXPECT_EQ(sum_shards(gateway_->metrics(),
                       [](metrics::WorkerShard& s) { return s.cache_background_refreshes.value(); }),
            1u);
  EXPECT_GE(lookups(metrics::CacheResult::stale), 1u);
}

TEST_F(CacheTest, ThousandConcurrentMissesReachTheOriginOnce) {
  auto& o = add_origin();
  start_cached(cache_config());
  constexpr int kClients = 1000;
  // The fetch takes 300 ms at the origin: the requests sent meanwhile wait for it.
  const std::string target = "/cold?header=Cache-Control:max-age=600&bytes=2000&delay=300";
  std::vector<Connection> conns;
  conns.reserve(kClients);
  for (int i = 0; i < kClients; ++i) {
    conns.push_back(connect(port_));
    ASSERT_TRUE(conns.back().ok());
  }
  for (auto& c : conns)
    ASSERT_FALSE(c.send_raw(make_request("GET", target, {{"Host", "127.0.0.1"}})));
  int ok = 0;
  for (auto& c : conns) {
    auto r = c.read_response(std::chrono::seconds(30));
    if (r.status == 200 && r.body == origin::OriginServer::make_body(2000)) ++ok;
  }
  EXPECT_EQ(ok, kClients);
  EXPECT_EQ(o.requests_for("/cold"), 1u);
  const auto collapsed = lookups(metrics::CacheResult::collapsed);
  const auto hits = lookups(metrics::CacheResult::hit);
  EXPECT_EQ(collapsed + hits, static_cast<std::uint64_t>(kClients - 1));
  EXPECT_GT(collapsed, 0u);
  EXPECT_EQ(sum_shards(gateway_->metrics(),
                       [](metrics::WorkerShard& s) { return s.cache_fetches_avoided.value(); }),
            collapsed);
}

TEST_F(CacheTest, UncacheableFillReleasesWaitersAtOnce) {
  auto& o = add_origin();
  auto c = cache_config();
  c.cache.collapse_timeout = std::chrono::seconds(60);  // a waiter left waiting would hang
  start_cached(c);
  constexpr int kClients = 20;
  const std::string target = "/private?header=Cache-Control:private&delay=200";
  std::vector<Connection> conns;
  for (int i = 0; i < kClients; ++i) conns.push_back(connect(port_));
  for (auto& conn : conns)
    ASSERT_FALSE(conn.send_raw(make_request("GET", target, {{"Host", "127.0.0.1"}})));
  for (auto& conn : conns) EXPECT_EQ(conn.read_response(std::chrono::seconds(20)).status, 200);
  // Every request got its own answer from the origin; none was collapsed.
  EXPECT_EQ(o.requests_for("/private"), static_cast<std::uint64_t>(kClients));
  EXPECT_EQ(lookups(metrics::CacheResult::collapsed), 0u);
}

TEST_F(CacheTest, WaiterThatWaitsTooLongFetchesItself) {
  auto& o = add_origin();
  auto c = cache_config();
  c.cache.collapse_timeout = std::chrono::milliseconds(100);
  start_cached(c);
  // The first request's fetch hangs at the origin for 3 s; the second one
  // stops waiting after 100 ms and is answered by its own fetch.
  auto slow = connect(port_);
  ASSERT_FALSE(slow.send_raw(make_request(
      "GET", "/slow?header=Cache-Control:max-age=60&delay=3000", {{"Host", "127.0.0.1"}})));
  ASSERT_TRUE(o.wait_for_requests(1, std::chrono::seconds(10)));
  auto r = get("/slow?header=Cache-Control:max-age=60");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-Cache"), "Miss from edged");
  EXPECT_EQ(o.requests_for("/slow"), 2u);
  EXPECT_EQ(slow.read_response(std::chrono::seconds(20)).status, 200);
}

// Collapsed requests receive the body as it arrives at the edge: the origin
// holds its response mid-body, and the waiters already have the head and the
// first part; a range inside the part still to come waits for it.
TEST_F(CacheTest, CollapsedRequestsReceiveTheBodyAsItStreamsIn) {
  constexpr std::size_t kLength = 40000, kFirst = 16000;
  HeldOrigin o(kLength, kFirst, false);
  auto leader = lead_held_fetch(o, kFirst);
  ASSERT_FALSE(HasFailure());
  const std::string req = make_request("GET", "/held", {{"Host", "127.0.0.1"}});

  constexpr int kWaiters = 4;
  std::vector<Connection> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.push_back(connect(port_));
    ASSERT_FALSE(waiters.back().send_raw(req));
  }
  auto ranged = connect(port_);
  ASSERT_FALSE(ranged.send_raw(make_request(
      "GET", "/held", {{"Host", "127.0.0.1"}, {"Range", "bytes=30000-30099"}})));
  for (auto& w : waiters) {
    ASSERT_TRUE(wait_for_body_bytes(w, kFirst));
    EXPECT_EQ(body_part(w.buffered()), std::string_view(o.body()).substr(0, kFirst));
    EXPECT_NE(w.buffered().find("X-Cache: Hit from edged"), std::string_view::npos);
  }
  EXPECT_EQ(o.requests(), 1u);

  o.release();
  for (auto& w : waiters) {
    auto r = w.read_response();
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, o.body());
    EXPECT_EQ(r.header("Content-Length"), std::to_string(kLength));
    EXPECT_TRUE(r.keep_alive);
  }
  auto part = ranged.read_response();
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, o.body().substr(30000, 100));
  EXPECT_EQ(part.header("Content-Range"), "bytes 30000-30099/40000");
  auto first = leader.read_response();
  EXPECT_EQ(first.header("X-Cache"), "Miss from edged");
  EXPECT_EQ(first.body, o.body());

  EXPECT_EQ(lookups(metrics::CacheResult::collapsed), static_cast<std::uint64_t>(kWaiters + 1));
  auto hit = get("/held");
  EXPECT_EQ(hit.header("X-Cache"), "Hit from edged");
  EXPECT_EQ(hit.body, o.body());
  EXPECT_EQ(o.requests(), 1u);
}

// The fetch fails mid-body: a waiter that already sent part of the body
// cannot finish it, so its connection closes (counted); nothing is stored and
// the next request fetches again.
TEST_F(CacheTest, CollapsedResponseIsCutShortWhenTheFetchFailsMidBody) {
  constexpr std::size_t kLength = 40000, kFirst = 16000;
  HeldOrigin o(kLength, kFirst, true);
  auto leader = lead_held_fetch(o, kFirst);
  ASSERT_FALSE(HasFailure());
  auto waiter = follow_held_fetch(kFirst);
  ASSERT_FALSE(HasFailure());

  o.release();
  // Closed by the edge (not a timeout) with only the part that arrived.
  const auto start = std::chrono::steady_clock::now();
  const std::string all = waiter.read_until_closed(std::chrono::seconds(20));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
  EXPECT_EQ(body_part(all), std::string_view(o.body()).substr(0, kFirst));
  EXPECT_FALSE(leader.read_response().ok());
  EXPECT_EQ(sum_shards(gateway_->metrics(),
                       [](metrics::WorkerShard& s) { return s.cache_collapsed_aborted.value(); }),
            1u);
  auto again = get("/held");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.header("X-Cache"), "Miss from edged");
  EXPECT_EQ(again.body, o.body());
  EXPECT_EQ(o.requests(), 2u);
}

// The client whose request leads the fetch goes away mid-body: the edge still
// reads the rest into the store, so the waiter's response completes and the
// next request is a hit.
TEST_F(CacheTest, FillCompletesWhenItsFirstClientGoesAway) {
  constexpr std::size_t kLength = 600000, kFirst = 16000;
  HeldOrigin o(kLength, kFirst, false);
  auto leader = lead_held_fetch(o, kFirst, 1024 * 1024);
  ASSERT_FALSE(HasFailure());
  auto waiter = follow_held_fetch(kFirst);
  ASSERT_FALSE(HasFailure());
  leader.reset();  // RST: the edge's next write to it fails

  o.release();
  auto r = waiter.read_response();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, o.body());
  auto hit = get("/held");
  EXPECT_EQ(hit.header("X-Cache"), "Hit from edged");
  EXPECT_EQ(hit.body, o.body());
  EXPECT_EQ(o.requests(), 1u);
  EXPECT_EQ(sum_shards(gateway_->metrics(),
                       [](metrics::WorkerShard& s) { return s.cache_collapsed_aborted.value(); }),
            0u);
}

// The store is process-wide: a configuration reload (here: the cache policy's
// TTLs changed) keeps what it holds, and a reload that would resize it is
// refused with the reason while the old configuration keeps serving.
TEST_F(CacheTest, StoredResponsesSurviveAReloadAndTheStoreCannotBeResized) {
  auto& o = add_origin();
  start_cached(cache_config());
  ASSERT_EQ(get("/r?header=Cache-Control:max-age=600").header("X-Cache"), "Miss from edged");
  const auto generation = gateway_->generation();

  auto next = cache_config();
  for (auto& oo : origins_) add_target(next, oo->port());
  next.cache_policies[0].max_ttl = std::chrono::seconds(3600);
  auto r = gateway_->reload(next);
  ASSERT_TRUE(r.ok) << r.message();
  EXPECT_EQ(gateway_->generation(), generation + 1);
  auto hit = get("/r");
  EXPECT_EQ(hit.header("X-Cache"), "Hit from edged");
  EXPECT_EQ(o.requests_for("/r"), 1u);

  auto bigger = cache_config();
  for (auto& oo : origins_) add_target(bigger, oo->port());
  bigger.cache.memory *= 2;
  auto refused = gateway_->reload(bigger);
  EXPECT_FALSE(refused.ok);
  EXPECT_NE(refused.message().find("cache.memory"), std::string::npos) << refused.message();
  EXPECT_EQ(gateway_->generation(), generation + 1);
  EXPECT_EQ(get("/r").header("X-Cache"), "Hit from edged");
  EXPECT_EQ(o.requests_for("/r"), 1u);
}

}  // namespace
}  // namespace edge::test
