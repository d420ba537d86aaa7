// HTTP-date and Cache-Control parsing.
#include <gtest/gtest.h>

#include <limits>

#include "edge/cache/cache_control.hpp"
#include "edge/cache/http_date.hpp"

namespace {

using edge::cache::CacheControl;
using edge::cache::format_http_date;
using edge::cache::parse_http_date;

constexpr std::int64_t k1994 = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT

TEST(HttpDate, ThreeFormatsOfRfc9110) {
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), k1994);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), k1994);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), k1994);
  EXPECT_EQ(parse_http_date("  Sun, 06 Nov 1994 08:49:37 GMT "), k1994);
}

TEST(HttpDate, InvalidDatesAreRejected) {
  for (const char* bad : {"", "0", "-1", "tomorrow", "Sun, 06 Nov 1994 08:49:37 PST",
                          "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
                          "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT x",
                          "Thu, 29 Feb 2001 00:00:00 GMT"}) {
    EXPECT_FALSE(parse_http_date(bad).has_value()) << bad;
  }
  EXPECT_TRUE(parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT").has_value());
}

TEST(HttpDate, FormatRoundTrips) {
  EXPECT_EQ(format_http_date(k1994), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  for (std::int64_t t : {std::int64_t{951782400}, std::int64_t{1700000000}, std::int64_t{4102444799}})
    EXPECT_EQ(parse_http_date(format_http_date(t)), t) << t;
}

TEST(CacheControl, Directives) {
  CacheControl cc;
  cc.parse("public, max-age=60, s-maxage=\"120\", stale-while-revalidate=30");
  cc.parse("stale-if-error=600, must-revalidate, Immutable");
  EXPECT_TRUE(cc.public_);
  EXPECT_EQ(cc.max_age, 60);
  EXPECT_EQ(cc.s_maxage, 120);
  EXPECT_EQ(cc.stale_while_revalidate, 30);
  EXPECT_EQ(cc.stale_if_error, 600);
  EXPECT_TRUE(cc.must_revalidate);
  EXPECT_TRUE(cc.immutable);
  EXPECT_FALSE(cc.no_store);
  EXPECT_FALSE(cc.private_);
}

TEST(CacheControl, QualifiedAndQuotedForms) {
  CacheControl cc;
  cc.parse(R"(private="Set-Cookie, X-A", no-cache="Authorization", NO-STORE)");
  EXPECT_TRUE(cc.private_);
  EXPECT_TRUE(cc.no_cache);
  EXPECT_TRUE(cc.no_store);
}

TEST(CacheControl, InvalidAndLargeArguments) {
  CacheControl cc;
  cc.parse("max-age=abc, s-maxage=-1, stale-if-error=x");
  EXPECT_EQ(cc.max_age, 0);   // invalid freshness: treated as stale
  EXPECT_EQ(cc.s_maxage, 0);
  EXPECT_FALSE(cc.stale_if_error.has_value());
  CacheControl big;
  big.parse("max-age=99999999999999999999");
  EXPECT_EQ(big.max_age, 2147483648LL);  // saturates (RFC 9111 1.2.2)
}

TEST(CacheControl, RequestDirectives) {
  CacheControl cc;
  cc.parse("max-stale, min-fresh=5, only-if-cached");
  EXPECT_EQ(cc.max_stale, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(cc.min_fresh, 5);
  EXPECT_TRUE(cc.only_if_cached);
  EXPECT_TRUE(edge::cache::pragma_no_cache("no-cache"));
  EXPECT_FALSE(edge::cache::pragma_no_cache("x-no-cache"));
}

}  // namespace
