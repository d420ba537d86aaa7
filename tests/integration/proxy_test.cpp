// Basic proxying through a real gateway: keep-alive, pipelining, framing,
// 100-continue, HEAD and the header rewrites.
#include <boost/json.hpp>
#include <regex>

#include "integration/gateway_fixture.hpp"

namespace edge::test {
namespace {

using namespace std::chrono_literals;

boost::json::object echo_json(const Response& r) {
  EXPECT_EQ(r.status, 200) << r.body;
  return boost::json::parse(r.body).as_object();
}

std::string echo_header(const boost::json::object& j, std::string_view name) {
  for (const auto& h : j.at("headers").as_array()) {
    const auto& pair = h.as_array();
    std::string n(pair[0].as_string());
    if (n.size() == name.size() &&
        std::equal(n.begin(), n.end(), name.begin(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
      return std::string(pair[1].as_string());
  }
  return {};
}

class ProxyTest : public GatewayTest {};

TEST_F(ProxyTest, KeepAliveReusesUpstreamConnections) {
  auto& o = add_origin();
  start(base_config(1));
  auto c = connect(port_);
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 20; ++i) {
    auto r = c.request("GET", "/echo");
    ASSERT_EQ(r.status, 200);
    EXPECT_TRUE(r.keep_alive);
  }
  // One client connection, one worker: every request went over one upstream connection.
  EXPECT_EQ(o.total_requests(), 20u);
  EXPECT_EQ(o.total_connections(), 1u);
  auto last = o.last_request();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->connection_request, 20u);
  auto& m = gateway_->metrics();
  EXPECT_EQ(sum_shards(m, [](auto& s) { return s.upstream_connections_opened.value(); }), 1u);
  EXPECT_EQ(sum_shards(m, [](auto& s) { return s.upstream_connections_reused.value(); }), 19u);
}

TEST_F(ProxyTest, PipelinedRequestsAnsweredInOrder) {
  add_origin();
  start(base_config(1));
  auto c = connect(port_);
  std::string batch;
  for (int i = 0; i < 5; ++i) batch += make_request("GET", "/echo/" + std::to_string(i));
  ASSERT_FALSE(c.send_raw(batch));
  for (int i = 0; i < 5; ++i) {
    auto r = c.read_response();
    auto j = echo_json(r);
    EXPECT_EQ(j.at("target").as_string(), "/echo/" + std::to_string(i));
  }
}

TEST_F(ProxyTest, ARequestSentWhileTheTargetAnswersThePreviousOneIsAnswered) {
  // The first request, read whole, leaves the client socket marked drained;
  // the second arrives while edged waits for the target and must be read.
  auto& o = add_origin();
  start(base_config(1));
  auto c = connect(port_);
  ASSERT_FALSE(c.send_raw(make_request("GET", "/delay/200")));
  ASSERT_TRUE(o.wait_for_requests(1, 5s));
  ASSERT_FALSE(c.send_raw(make_request("GET", "/echo/second")));
  EXPECT_EQ(c.read_response().status, 200);
  auto j = echo_json(c.read_response());
  EXPECT_EQ(j.at("target").as_string(), "/echo/second");
  EXPECT_EQ(o.total_connections(), 1u);
}

TEST_F(ProxyTest, ChunkedResponsesInARowReuseOneTargetConnection) {
  // Each whole chunked response leaves the target's socket marked drained;
  // the next response on that connection must still be read.
  auto& o = add_origin();
  start(base_config(1));
  auto c = connect(port_);
  for (int i = 0; i < 20; ++i) {
    auto r = c.request("GET", "/chunked/" + std::to_string(100 + i * 997));
    ASSERT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.body.size(), static_cast<std::size_t>(100 + i * 997)) << i;
  }
  EXPECT_EQ(o.total_connections(), 1u);
}

TEST_F(ProxyTest, ChunkedRequestAndResponseBodies) {
  add_origin();
  start(base_config(1));
  auto c = connect(port_);
  // Chunked request body, with an extension and a trailer to be dropped.
  std::string req =
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
  ASSERT_FALSE(c.send_raw(req));
  auto j = echo_json(c.read_response());
  EXPECT_EQ(j.at("body_length").as_int64(), 11);
  // sha256("hello world")
  EXPECT_EQ(j.at("body_sha256").as_string(),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
  // re-framed: chunked, no Content-Length
  EXPECT_EQ(echo_header(j, "Transfer-Encoding"), "chunked");
  EXPECT_EQ(echo_header(j, "Content-Length"), "");

  auto r = c.request("GET", "/chunked/100000");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Transfer-Encoding"), "chunked");
  EXPECT_EQ(r.body, origin::OriginServer::make_body(100000));
  // The connection is still usable.
  EXPECT_EQ(c.request("GET", "/bytes/10").body, origin::OriginServer::make_body(10));
}

TEST_F(ProxyTest, ContentLengthBodiesBothWays) {
  add_origin();
  start(base_config(1));
  auto c = connect(port_);
  std::string body(200000, 'x');
  auto j = echo_json(c.request("PUT", "/echo", {}, body));
  EXPECT_EQ(j.at("body_length").as_int64(), 200000);
  EXPECT_EQ(echo_header(j, "Content-Length"), "200000");
  auto r = c.request("GET", "/bytes/300000");
  EXPECT_EQ(r.header("Content-Length"), "300000");
  EXPECT_EQ(r.body, origin::OriginServer::make_body(300000));
}

TEST_F(ProxyTest, ExpectContinue) {
  add_origin();
  start(base_config(1));
  auto c = connect(port_);
  ASSERT_FALSE(c.send_raw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = c.read_response();
  ASSERT_EQ(interim.status, 100);
  ASSERT_FALSE(c.send_raw("abcd"));
  auto j = echo_json(c.read_response());
  EXPECT_EQ(j.at("body_length").as_int64(), 4);
  EXPECT_EQ(echo_header(j, "Expect"), "");  // answered by the edge
}

TEST_F(ProxyTest, HeadHasNoBodyAndKeepsConnection) {
  add_origin();
  start(base_config(1));
  auto c = connect(port_);
  ASSERT_FALSE(c.send_raw(make_request("HEAD", "/bytes/5000")));
  auto r = c.read_response(kDefaultTimeout, /*head_request=*/true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Length"), "5000");
  EXPECT_TRUE(r.body.empty());
  auto r2 = c.request("GET", "/bytes/7");
  EXPECT_EQ(r2.body, origin::OriginServer::make_body(7));
}

TEST_F(ProxyTest, HopByHopStrippedAndForwardedHeadersAdded) {
  auto& o = add_origin();
  start(base_config(1));
  auto c = connect(port_);
  auto r = c.request("GET", "/echo",
                     {{"Connection", "keep-alive, X-Private"},
                      {"X-Private", "secret"},
                      {"Keep-Alive", "timeout=5"},
                      {"Proxy-Connection", "keep-alive"},
                      {"TE", "trailers"},
                      {"Upgrade", "foo/1"},
                      {"X-Forwarded-For", "203.0.113.7"},
                      {"X-Forwarded-Proto", "spoofed"},
                      {"Via", "1.0 upstream-cdn"}});
  auto j = echo_json(r);
  for (auto name : {"Connection", "X-Private", "Keep-Alive", "Proxy-Connection", "TE", "Upgrade"})
    EXPECT_EQ(echo_header(j, name), "") << name;
  EXPECT_EQ(echo_header(j, "X-Forwarded-For"), "203.0.113.7, 127.0.0.1");
  EXPECT_EQ(echo_header(j, "X-Forwarded-Proto"), "http");
  EXPECT_EQ(echo_header(j, "X-Forwarded-Port"), std::to_string(port_));
  EXPECT_EQ(echo_header(j, "Via"), "1.0 upstream-cdn, 1.1 edged");
  std::regex trace("Root=1-[0-9a-f]{8}-[0-9a-f]{24}");
  EXPECT_TRUE(std::regex_match(echo_header(j, "X-Amzn-Trace-Id"), trace))
      << echo_header(j, "X-Amzn-Trace-Id");
  EXPECT_EQ(r.header("Via"), "1.1 edged");
  EXPECT_EQ(r.header("X-Served-By"), o.id());
  EXPECT_FALSE(r.header("Date").empty());
}

TEST_F(ProxyTest, IncomingTraceRootKeptAndSelfAdded) {
  add_origin();
  start(base_config(1));
  auto c = connect(port_);
  auto j = echo_json(c.request(
      "GET", "/echo", {{"X-Amzn-Trace-Id", "Root=1-67891233-abcdef012345678912345678;Sampled=1"}}));
  std::string v = echo_header(j, "X-Amzn-Trace-Id");
  std::regex trace(
      "Self=1-[0-9a-f]{8}-[0-9a-f]{24};Root=1-67891233-abcdef012345678912345678;Sampled=1");
  EXPECT_TRUE(std::regex_match(v, trace)) << v;
}

TEST_F(ProxyTest, ResponseHopByHopStripped) {
  add_origin();
  start(base_config(1));
  auto c = connect(port_);
  auto r = c.request("GET", "/bytes/3?header=Keep-Alive:timeout%3D9&header=X-App:1");
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.has_header("Keep-Alive"));
  EXPECT_EQ(r.header("X-App"), "1");
}

TEST_F(ProxyTest, Http10ClientGetsCloseDelimitedBodyForChunkedResponse) {
  add_origin();
  start(base_config(1));
  auto c = connect(port_);
  ASSERT_FALSE(c.send_raw("GET /chunked/1000 HTTP/1.0\r\nHost: x\r\n\r\n"));
  std::string all = c.read_until_closed();
  auto split = all.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos);
  std::string head = all.substr(0, split);
  EXPECT_EQ(head.find("chunked"), std::string::npos) << head;
  EXPECT_NE(head.find("Connection: close"), std::string::npos) << head;
  EXPECT_EQ(all.substr(split + 4), origin::OriginServer::make_body(1000));
}

TEST_F(ProxyTest, StalePooledConnectionIsNotUsed) {
  auto& o = add_origin();
  start(base_config(1));
  auto c = connect(port_);
  // The origin answers and then closes without announcing it.
  auto r1 = c.request("GET", "/echo?close=silent");
  ASSERT_EQ(r1.status, 200);
  for (int i = 0; i < 5; ++i) {
    auto r = c.request("GET", "/echo");
    EXPECT_EQ(r.status, 200) << r.body;
  }
  EXPECT_EQ(o.total_requests(), 6u);
}

}  // namespace
}  // namespace edge::test
