#include "edge/origin/origin_server.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <string>
#include <system_error>

#include "support/test_client.hpp"

namespace edge::origin {
namespace {

using namespace std::chrono_literals;
using test::Connection;
using test::Response;

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr);
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

boost::json::object parse_json(const Response& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  EXPECT_FALSE(ec) << r.body;
  if (ec || !v.is_object()) return {};
  return v.as_object();
}

class OriginServerTest : public ::testing::Test {
 protected:
  OriginServer& start(OriginOptions options = {}) {
    server_ = std::make_unique<OriginServer>(std::move(options));
    server_->start();
    return *server_;
  }
  std::uint16_t port() const { return server_->port(); }

  std::unique_ptr<OriginServer> server_;
};

TEST_F(OriginServerTest, BindsAnEphemeralPortAndServesTheDefaultBody) {
  auto& server = start();
  ASSERT_NE(port(), 0);
  const Response r = test::http_get(port(), "/");
  ASSERT_TRUE(r.ok()) << r.error.message();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Length"), "1024");
  EXPECT_EQ(r.body, OriginServer::make_body(1024));
  EXPECT_EQ(r.header("X-Served-By"), "127.0.0.1:" + std::to_string(port()));
  EXPECT_EQ(server.id(), "127.0.0.1:" + std::to_string(port()));
  EXPECT_TRUE(r.keep_alive);
}

TEST_F(OriginServerTest, ServedByUsesTheConfiguredId) {
  OriginOptions o;
  o.id = "app-7";
  start(o);
  const Response r = test::http_get(port(), "/status/404");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("X-Served-By"), "app-7");
  EXPECT_EQ(r.header_count("X-Served-By"), 1U);
}

TEST_F(OriginServerTest, KeepAliveCountsRequestsOnOneConnection) {
  auto& server = start();
  Connection c = test::connect(port());
  ASSERT_TRUE(c.ok());
  std::int64_t first_id = -1;
  for (int i = 1; i <= 3; ++i) {
    const Response r = c.request("GET", "/echo");
    ASSERT_TRUE(r.ok()) << r.error.message();
    EXPECT_TRUE(r.keep_alive);
    auto json = parse_json(r);
    EXPECT_EQ(json["connection_requests"].to_number<std::int64_t>(), i);
    const auto id = json["connection_id"].to_number<std::int64_t>();
    if (first_id < 0) first_id = id;
    EXPECT_EQ(id, first_id);
  }
  EXPECT_EQ(server.total_connections(), 1U);
  EXPECT_EQ(server.total_requests(), 3U);

  Connection other = test::connect(port());
  auto json = parse_json(other.request("GET", "/echo"));
  EXPECT_EQ(json["connection_requests"].to_number<std::int64_t>(), 1);
  EXPECT_NE(json["connection_id"].to_number<std::int64_t>(), first_id);
  EXPECT_EQ(server.total_connections(), 2U);
}

TEST_F(OriginServerTest, EchoReportsTheRequest) {
  start();
  Connection c = test::connect(port());
  const Response r =
      c.request("POST", "/echo/x?a=1&b=2",
                {{"Host", "example.test"}, {"X-Test", "one"}, {"x-test", "two"}}, "hello world");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  auto json = parse_json(r);
  EXPECT_EQ(json["method"].as_string(), "POST");
  EXPECT_EQ(json["target"].as_string(), "/echo/x?a=1&b=2");
  EXPECT_EQ(json["version"].as_string(), "HTTP/1.1");
  EXPECT_EQ(json["body_length"].to_number<std::int64_t>(), 11);
  EXPECT_EQ(json["body_sha256"].as_string(),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
  EXPECT_EQ(json["served_by"].as_string(), "127.0.0.1:" + std::to_string(port()));
  const auto& headers = json["headers"].as_array();
  ASSERT_EQ(headers.size(), 4U);
  EXPECT_EQ(headers[0].as_array()[0].as_string(), "Host");
  EXPECT_EQ(headers[0].as_array()[1].as_string(), "example.test");
  EXPECT_EQ(headers[1].as_array()[0].as_string(), "X-Test");
  EXPECT_EQ(headers[1].as_array()[1].as_string(), "one");
  EXPECT_EQ(headers[2].as_array()[0].as_string(), "x-test");
  EXPECT_EQ(headers[2].as_array()[1].as_string(), "two");
  EXPECT_EQ(headers[3].as_array()[0].as_string(), "Content-Length");
  EXPECT_EQ(headers[3].as_array()[1].as_string(), "11");
}

TEST_F(OriginServerTest, EchoHashesALargeChunkedBodyAsItStreams) {
  start();
  // Three chunks, 1.5 MiB in total: many times the server's 64 KiB body buffer.
  std::string body;
  std::string wire = test::make_request("PUT", "/echo", {{"Transfer-Encoding", "chunked"}});
  for (std::size_t size : {700'000U, 1U, 872'863U}) {
    std::string chunk(size, '\0');
    for (std::size_t i = 0; i < size; ++i) chunk[i] = static_cast<char>((i * 131 + size) & 0xff);
    body += chunk;
    char hex[32];
    std::snprintf(hex, sizeof hex, "%zx\r\n", size);
    wire += hex + chunk + "\r\n";
  }
  wire += "0\r\n\r\n";
  Connection c = test::connect(port());
  ASSERT_FALSE(c.send_raw(wire));
  const Response r = c.read_response();
  ASSERT_TRUE(r.ok()) << r.error.message();
  auto json = parse_json(r);
  EXPECT_EQ(json["body_length"].to_number<std::uint64_t>(), body.size());
  EXPECT_EQ(json["body_sha256"].as_string(), sha256_hex(body));
}

TEST_F(OriginServerTest, EchoOptionAnswersEveryPathButHealth) {
  OriginOptions o;
  o.echo = true;
  start(o);
  auto json = parse_json(test::http_get(port(), "/status/404"));
  EXPECT_EQ(json["target"].as_string(), "/status/404");
  const Response health = test::http_get(port(), "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
}

TEST_F(OriginServerTest, StatsCountEveryRequest) {
  start();
  EXPECT_EQ(test::http_get(port(), "/stats").body, "{\"requests\":1}\n");
  EXPECT_EQ(test::http_get(port(), "/").status, 200);
  EXPECT_EQ(test::http_get(port(), "/status/404").status, 404);
  const Response r = test::http_get(port(), "/stats");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(parse_json(r)["requests"].to_number<std::uint64_t>(), 4u);
}

TEST_F(OriginServerTest, ChunkedResponseParses) {
  start();
  const Response r = test::http_get(port(), "/chunked/100000");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.header("Transfer-Encoding"), "chunked");
  EXPECT_FALSE(r.has_header("Content-Length"));
  EXPECT_EQ(r.body, OriginServer::make_body(100000));

  const Response empty = test::http_get(port(), "/chunked/0");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty.header("Transfer-Encoding"), "chunked");
  EXPECT_TRUE(empty.body.empty());
}

TEST_F(OriginServerTest, ChunkedOptionUsesChunkSize) {
  OriginOptions o;
  o.chunked = true;
  o.body_size = 10;
  o.chunk_size = 4;
  start(o);
  Connection c = test::connect(port());
  ASSERT_FALSE(c.send_raw(test::make_request("GET", "/", {{"Connection", "close"}})));
  // The raw bytes show the chunk framing itself: 4 + 4 + 2, then the last chunk.
  const std::string raw = c.read_until_closed();
  const auto body_start = raw.find("\r\n\r\n");
  ASSERT_NE(body_start, std::string::npos);
  EXPECT_EQ(raw.substr(body_start + 4), "4\r\n0123\r\n4\r\n4567\r\n2\r\n89\r\n0\r\n\r\n");
  EXPECT_NE(raw.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_NE(raw.find("Connection: close\r\n"), std::string::npos);
}

TEST_F(OriginServerTest, BytesHaveTheRequestedLength) {
  start();
  Connection c = test::connect(port());
  for (std::uint64_t n : {0ULL, 1ULL, 65ULL, 300'000ULL, 8ULL * 1024 * 1024 + 3}) {
    const Response r = c.request("GET", "/bytes/" + std::to_string(n));
    ASSERT_TRUE(r.ok()) << n << ": " << r.error.message();
    EXPECT_EQ(r.header("Content-Length"), std::to_string(n));
    ASSERT_EQ(r.body.size(), n);
    EXPECT_TRUE(r.body == OriginServer::make_body(n)) << n;
  }
  EXPECT_EQ(test::http_get(port(), "/bytes/abc").status, 400);
}

TEST_F(OriginServerTest, MakeBodyIsAPrefixStablePattern) {
  const std::string a = OriginServer::make_body(200);
  const std::string b = OriginServer::make_body(70);
  EXPECT_EQ(a.substr(0, 70), b);
  EXPECT_EQ(a[0], '0');
  EXPECT_EQ(a[63], '\n');
  EXPECT_EQ(a[64], '0');
}

TEST_F(OriginServerTest, HeadGetsHeadersOnly) {
  start();
  Connection c = test::connect(port());
  const Response head = c.request("HEAD", "/bytes/5000");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), "5000");
  EXPECT_TRUE(head.body.empty());
  // Had a body been sent, it would be parsed as the next response and fail.
  const Response next = c.request("GET", "/bytes/3");
  ASSERT_TRUE(next.ok()) << next.error.message();
  EXPECT_EQ(next.body, "012");

  const Response chunked_head = c.request("HEAD", "/chunked/5000");
  ASSERT_TRUE(chunked_head.ok());
  EXPECT_EQ(chunked_head.header("Transfer-Encoding"), "chunked");
  const Response after = c.request("GET", "/bytes/2");
  ASSERT_TRUE(after.ok()) << after.error.message();
  EXPECT_EQ(after.body, "01");
}

TEST_F(OriginServerTest, ExpectContinueGets100BeforeTheBodyIsSent) {
  auto& server = start();
  Connection c = test::connect(port());
  ASSERT_FALSE(c.send_raw(
      test::make_request("POST", "/echo", {{"Expect", "100-continue"}, {"Content-Length", "5"}})));
  const Response interim = c.read_response();
  ASSERT_TRUE(interim.ok()) << interim.error.message();
  EXPECT_EQ(interim.status, 100);
  EXPECT_EQ(server.total_requests(), 1U);
  ASSERT_FALSE(c.send_raw("abcde"));
  const Response r = c.read_response();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.status, 200);
  auto json = parse_json(r);
  EXPECT_EQ(json["body_length"].to_number<int>(), 5);
  EXPECT_EQ(json["body_sha256"].as_string(), sha256_hex("abcde"));
}

TEST_F(OriginServerTest, StatusPathSetsTheStatus) {
  start();
  Connection c = test::connect(port());
  const Response r = c.request("GET", "/status/503");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.reason, "Service Unavailable");
  EXPECT_EQ(r.body, "status 503\n");
  const Response no_content = c.request("GET", "/status/204");
  ASSERT_TRUE(no_content.ok());
  EXPECT_EQ(no_content.status, 204);
  EXPECT_FALSE(no_content.has_header("Content-Length"));
  EXPECT_TRUE(no_content.body.empty());
  EXPECT_EQ(c.request("GET", "/status/99").status, 400);
  EXPECT_EQ(c.request("GET", "/status/600").status, 400);
  EXPECT_TRUE(c.request("GET", "/").ok());  // still usable
}

TEST_F(OriginServerTest, DelayPathWaitsBeforeResponding) {
  start();
  const auto t0 = std::chrono::steady_clock::now();
  const Response r = test::http_get(port(), "/delay/120");
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.status, 200);
  EXPECT_GE(elapsed, 120ms);
}

TEST_F(OriginServerTest, FixedLatencyDelaysTheHead) {
  OriginOptions o;
  o.latency.kind = Latency::Kind::fixed;
  o.latency.first = 80ms;
  start(o);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(test::http_get(port(), "/").ok());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 80ms);
  // Health is exempt: nothing to assert on timing, but it must answer.
  EXPECT_EQ(test::http_get(port(), "/health").status, 200);
}

TEST_F(OriginServerTest, ErrorRateOneAnswers500ExceptHealth) {
  OriginOptions o;
  o.error_rate = 1.0;
  start(o);
  const Response r = test::http_get(port(), "/bytes/10");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "injected error\n");
  EXPECT_EQ(test::http_get(port(), "/health").status, 200);
}

TEST_F(OriginServerTest, SlowStreamingPausesBetweenChunks) {
  OriginOptions o;
  o.body_size = 3000;
  o.chunk_size = 1000;
  o.slow_chunk_delay = 30ms;
  start(o);
  const auto t0 = std::chrono::steady_clock::now();
  const Response r = test::http_get(port(), "/");
  ASSERT_TRUE(r.ok());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 60ms);  // two pauses for three chunks
  EXPECT_EQ(r.header("Content-Length"), "3000");
  EXPECT_EQ(r.body, OriginServer::make_body(3000));
}

TEST_F(OriginServerTest, HealthFlips) {
  auto& server = start();
  Connection c = test::connect(port());
  Response r = c.request("GET", "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_EQ(c.request("POST", "/health/fail").status, 200);
  EXPECT_FALSE(server.healthy());
  r = c.request("GET", "/health");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(c.request("GET", "/").status, 200);  // only /health reports it
  EXPECT_EQ(c.request("POST", "/health/ok").status, 200);
  EXPECT_EQ(c.request("GET", "/health").status, 200);
  server.set_healthy(false);
  EXPECT_EQ(c.request("HEAD", "/health").status, 503);
  EXPECT_EQ(c.request("GET", "/health/fail").status, 405);
  EXPECT_FALSE(server.healthy());
}

TEST_F(OriginServerTest, ClosePathAnnouncesAndCloses) {
  start();
  Connection c = test::connect(port());
  const Response r = c.request("GET", "/close");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_FALSE(r.keep_alive);
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(OriginServerTest, SilentCloseLooksReusableButCloses) {
  start();
  Connection c = test::connect(port());
  const Response r = c.request("GET", "/x?close=silent");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.has_header("Connection"));
  EXPECT_TRUE(r.keep_alive);
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(OriginServerTest, ClientConnectionCloseIsHonoured) {
  start();
  Connection c = test::connect(port());
  const Response r = c.request("GET", "/", {{"Connection", "close"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(OriginServerTest, KeepsOpenWhenNothingSaysClose) {
  start();
  Connection c = test::connect(port());
  ASSERT_TRUE(c.request("GET", "/").ok());
  EXPECT_FALSE(c.closed_by_peer(100ms));
}

TEST_F(OriginServerTest, Http10GetsContentLengthAndClose) {
  OriginOptions o;
  o.chunked = true;
  o.body_size = 100;
  start(o);
  Connection c = test::connect(port());
  ASSERT_FALSE(c.send_raw("GET / HTTP/1.0\r\n\r\n"));
  const Response r = c.read_response();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.header("Content-Length"), "100");
  EXPECT_FALSE(r.has_header("Transfer-Encoding"));
  EXPECT_TRUE(c.closed_by_peer());

  Connection k = test::connect(port());
  ASSERT_FALSE(k.send_raw("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  const Response kept = k.read_response();
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept.header("Connection"), "keep-alive");
  EXPECT_TRUE(kept.keep_alive);
}

TEST_F(OriginServerTest, ResetPathGivesAReadError) {
  start();
  Connection c = test::connect(port());
  const Response r = c.request("GET", "/reset");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, std::errc::connection_reset) << r.error.message();
}

TEST_F(OriginServerTest, GarbagePathFailsToParse) {
  start();
  Connection c = test::connect(port());
  const Response r = c.request("GET", "/garbage");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error, std::errc::timed_out);
  EXPECT_EQ(r.status, 0);
}

TEST_F(OriginServerTest, HangNeverAnswersUntilTheClientCloses) {
  auto& server = start();
  Connection c = test::connect(port());
  ASSERT_FALSE(c.send_raw(test::make_request("GET", "/hang")));
  ASSERT_TRUE(server.wait_for_requests(1, 5s));
  const Response r = c.read_response(150ms);
  EXPECT_EQ(r.error, std::errc::timed_out);
  EXPECT_EQ(server.open_connections(), 1U);
  c.close();
  EXPECT_TRUE(server.wait_for_open_connections(0, 5s));
}

TEST_F(OriginServerTest, StopClosesHangingConnectionsAndPendingDelays) {
  auto& server = start();
  Connection hang = test::connect(port());
  Connection slow = test::connect(port());
  ASSERT_FALSE(hang.send_raw(test::make_request("GET", "/hang")));
  ASSERT_FALSE(slow.send_raw(test::make_request("GET", "/delay/600000")));
  ASSERT_TRUE(server.wait_for_requests(2, 5s));
  server.stop();
  EXPECT_FALSE(server.running());
  EXPECT_TRUE(hang.closed_by_peer(5s));
  EXPECT_TRUE(slow.closed_by_peer(5s));
  EXPECT_EQ(server.open_connections(), 0U);
  EXPECT_FALSE(test::connect(port()).request("GET", "/", {}, {}, 1s).ok());
}

TEST_F(OriginServerTest, WaitForRequestsSeesPipelinedRequests) {
  auto& server = start();
  EXPECT_FALSE(server.wait_for_requests(1, 20ms));
  Connection c = test::connect(port());
  ASSERT_FALSE(c.send_raw(test::make_request("GET", "/a") + test::make_request("GET", "/b") +
                          test::make_request("GET", "/a?x=1")));
  ASSERT_TRUE(server.wait_for_requests(3, 5s));
  EXPECT_EQ(server.requests_for("/a"), 2U);
  EXPECT_EQ(server.requests_for("/b"), 1U);
  EXPECT_EQ(server.requests_for("/c"), 0U);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.read_response().status, 200);
  EXPECT_FALSE(server.wait_for_requests(4, 50ms));
  EXPECT_TRUE(server.wait_for_connections(1, 1s));
}

TEST_F(OriginServerTest, RequestLogKeepsTheLastHeads) {
  OriginOptions o;
  o.request_log_capacity = 2;
  auto& server = start(o);
  Connection c = test::connect(port());
  for (const char* target : {"/one", "/two", "/three"}) {
    ASSERT_TRUE(c.request("GET", target, {{"X-Trace", target}}).ok());
  }
  const auto log = server.request_log();
  ASSERT_EQ(log.size(), 2U);
  EXPECT_EQ(log[0].target, "/two");
  EXPECT_EQ(log[1].target, "/three");
  EXPECT_EQ(log[1].method, "GET");
  EXPECT_EQ(log[1].header("x-trace"), "/three");
  EXPECT_EQ(log[1].connection_request, 3U);
  EXPECT_EQ(log[1].connection_id, log[0].connection_id);
  ASSERT_TRUE(server.last_request().has_value());
  EXPECT_EQ(server.last_request()->target, "/three");
  server.clear_request_log();
  EXPECT_TRUE(server.request_log().empty());
  EXPECT_EQ(server.requests_by_path().size(), 3U);
}

TEST_F(OriginServerTest, QueryOverridesStatusAndHeaders) {
  start();
  const Response r =
      test::http_get(port(), "/page?status=201&header=Cache-Control:max-age%3D60&header=X-A:%20b");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.header("Cache-Control"), "max-age=60");
  EXPECT_EQ(r.header("X-A"), "b");
  EXPECT_EQ(r.body, OriginServer::make_body(1024));

  const Response bytes = test::http_get(port(), "/p?bytes=7&chunked=1");
  EXPECT_EQ(bytes.header("Transfer-Encoding"), "chunked");
  EXPECT_EQ(bytes.body, "0123456");

  EXPECT_EQ(test::http_get(port(), "/p?status=abc").status, 400);
  EXPECT_EQ(test::http_get(port(), "/p?header=Bad%0AName:x").status, 400);
}

TEST_F(OriginServerTest, MalformedRequestGets400AndClose) {
  start();
  Connection c = test::connect(port());
  ASSERT_FALSE(c.send_raw("GET / HTTP/1.1\r\nBad Header\r\n\r\n"));
  const Response r = c.read_response();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(OriginServerTest, SpreadsConnectionsOverThreads) {
  OriginOptions o;
  o.threads = 3;
  auto& server = start(o);
  std::vector<Connection> conns;
  for (int i = 0; i < 6; ++i) conns.push_back(test::connect(port()));
  for (auto& c : conns) {
    const Response r = c.request("GET", "/echo");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(parse_json(r)["connection_requests"].to_number<int>(), 1);
  }
  EXPECT_EQ(server.total_connections(), 6U);
  EXPECT_TRUE(server.wait_for_open_connections(6, 5s));
  conns.clear();
  EXPECT_TRUE(server.wait_for_open_connections(0, 5s));
}

TEST_F(OriginServerTest, InvalidOptionsThrowAtStart) {
  OriginOptions o;
  o.chunk_size = 0;
  OriginServer server(o);
  EXPECT_THROW(server.start(), std::invalid_argument);
}

TEST_F(OriginServerTest, BindFailureThrowsSystemError) {
  start();
  OriginOptions o;
  o.port = port();
  OriginServer second(o);
  // SO_REUSEADDR does not allow two listeners on one port.
  EXPECT_THROW(second.start(), std::system_error);
}

}  // namespace
}  // namespace edge::origin
