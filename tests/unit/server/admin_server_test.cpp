#include "edge/server/admin_server.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>

#include "edge/metrics/metrics.hpp"

namespace edge::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Response = http::response<http::string_body>;

/// A blocking Beast client on one keep-alive connection. Reads time out after
/// 10 s so a server bug fails the test instead of hanging it.
class Client {
 public:
  explicit Client(std::uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval tv{10, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  Response send(http::request<http::string_body> req) {
    http::write(socket_, req);
    return read(req.method() == http::verb::head);
  }

  Response get(const std::string& target, const std::string& auth = "") {
    return send(request(http::verb::get, target, "", auth));
  }

  Response read(bool head = false) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    parser.skip(head);
    http::read(socket_, buffer_, parser);
    return parser.release();
  }

  void write_raw(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }

  /// True when the server has closed the connection (clean EOF).
  bool closed_by_peer() {
    char c = 0;
    boost::system::error_code ec;
    const std::size_t n = socket_.read_some(asio::buffer(&c, 1), ec);
    return n == 0 && (ec == asio::error::eof || ec == asio::error::connection_reset);
  }

  static http::request<http::string_body> request(http::verb verb, const std::string& target,
                                                  std::string body = "",
                                                  const std::string& auth = "") {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "localhost");
    if (!auth.empty()) req.set(http::field::authorization, auth);
    req.body() = std::move(body);
    if (verb != http::verb::get && verb != http::verb::head) req.prepare_payload();
    return req;
  }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

int json_error_status(const Response& res) {
  EXPECT_EQ(res[http::field::content_type], "application/json");
  const auto v = boost::json::parse(res.body());
  return static_cast<int>(v.at("error").at("status").as_int64());
}

void expect_common_headers(const Response& res) {
  EXPECT_EQ(res[http::field::server], "edged");
  EXPECT_EQ(res[http::field::cache_control], "no-store");
  EXPECT_TRUE(res.has_content_length());
}

config::Address loopback() { return config::Address{"127.0.0.1", 0}; }

AdminResponse hello(const AdminRequest&) { return AdminResponse::text(200, "hello\n"); }

TEST(AdminServerTest, ServesMetricsAndCustomRouteOnOneKeepAliveConnection) {
  metrics::Metrics m({"http"}, {"web"}, 2);
  m.shard(0).client_connections_accepted.inc(4);
  m.shard(1).client_connections_accepted.inc(3);
  m.shard(1).edge_errors[static_cast<std::size_t>(EdgeError::target_reset)].inc(2);

  std::mutex mu;
  AdminRequest seen;
  AdminServer server(loopback(), "");
  EXPECT_EQ(server.port(), 0);
  add_metrics_routes(server, m);
  server.add_route("GET", "/hello", [&](const AdminRequest& req) {
    std::lock_guard lock(mu);
    seen = req;
    AdminResponse r = AdminResponse::json(201, R"({"ok":true})");
    r.headers.emplace_back("X-Extra", "1");
    return r;
  });
  server.start();
  ASSERT_NE(server.port(), 0);

  Client c(server.port());
  auto req = Client::request(http::verb::get, "/hello?x=1&y=2");
  req.set("X-Test", "value");
  const Response hello_res = c.send(std::move(req));
  EXPECT_EQ(hello_res.result_int(), 201);
  EXPECT_EQ(hello_res.body(), R"({"ok":true})");
  EXPECT_EQ(hello_res["X-Extra"], "1");
  EXPECT_EQ(hello_res[http::field::content_type], "application/json");
  EXPECT_EQ(hello_res[http::field::content_length], std::to_string(hello_res.body().size()));
  EXPECT_TRUE(hello_res.keep_alive());
  expect_common_headers(hello_res);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen.method, "GET");
    EXPECT_EQ(seen.target, "/hello?x=1&y=2");
    EXPECT_EQ(seen.path, "/hello");
    EXPECT_EQ(seen.query, "x=1&y=2");
    EXPECT_EQ(seen.path_rest, "");
    EXPECT_EQ(seen.header("x-test"), "value");
    EXPECT_EQ(seen.header("X-TEST"), "value");
    EXPECT_FALSE(seen.header("X-Missing"));
  }

  // Same connection: keep-alive works.
  const Response metrics_res = c.get("/metrics");
  EXPECT_EQ(metrics_res.result_int(), 200);
  EXPECT_EQ(metrics_res[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  expect_common_headers(metrics_res);
  const std::string& body = metrics_res.body();
  EXPECT_NE(body.find("\nedged_client_connections_total 7\n"), std::string::npos) << body;
  EXPECT_NE(body.find(R"(edged_edge_errors_total{code="502",reason="target_reset"} 2)"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("# HELP edged_requests_total "), std::string::npos);

  // add_metrics_routes registered GET /metrics only.
  EXPECT_EQ(c.get("/healthz").result_int(), 404);
  EXPECT_EQ(c.send(Client::request(http::verb::post, "/metrics", "x")).result_int(), 405);
}

TEST(AdminServerTest, UnknownPathIs404Json) {
  AdminServer server(loopback(), "");
  server.add_route("GET", "/hello", hello);
  server.start();
  Client c(server.port());
  const Response res = c.get("/nope");
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(json_error_status(res), 404);
  expect_common_headers(res);
  // A prefix of an exact route is not a match.
  EXPECT_EQ(c.get("/hell").result_int(), 404);
  EXPECT_EQ(c.get("/hello/").result_int(), 404);
}

TEST(AdminServerTest, WrongMethodIs405WithAllow) {
  AdminServer server(loopback(), "");
  server.add_route("GET", "/things", hello);
  server.add_route("DELETE", "/things", hello);
  server.start();
  Client c(server.port());
  const Response res = c.send(Client::request(http::verb::post, "/things", "{}"));
  EXPECT_EQ(res.result_int(), 405);
  EXPECT_EQ(res[http::field::allow], "DELETE, GET, HEAD");
  EXPECT_EQ(json_error_status(res), 405);
  // The connection survives a 405.
  EXPECT_EQ(c.get("/things").body(), "hello\n");
}

TEST(AdminServerTest, HeadUsesGetHandlerWithoutBody) {
  AdminServer server(loopback(), "");
  server.add_route("GET", "/hello", hello);
  server.start();
  Client c(server.port());
  const Response res = c.send(Client::request(http::verb::head, "/hello"));
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[http::field::content_length], "6");
  EXPECT_TRUE(res.body().empty());
  // Nothing extra was sent: the next response parses cleanly.
  EXPECT_EQ(c.get("/hello").body(), "hello\n");
}

TEST(AdminServerTest, PrefixRoutesLongestPrefixWins) {
  AdminServer server(loopback(), "");
  server.add_prefix_route("POST", "/target-groups/", [](const AdminRequest& req) {
    return AdminResponse::text(200, "generic:" + req.path_rest + ":" + req.body);
  });
  server.add_prefix_route("POST", "/target-groups/special/", [](const AdminRequest& req) {
    return AdminResponse::text(200, "special:" + req.path_rest);
  });
  server.add_route("GET", "/target-groups/",
                   [](const AdminRequest&) { return AdminResponse::text(200, "list"); });
  server.start();
  Client c(server.port());
  EXPECT_EQ(c.send(Client::request(http::verb::post, "/target-groups/web/targets", "t1")).body(),
            "generic:web/targets:t1");
  EXPECT_EQ(c.send(Client::request(http::verb::post, "/target-groups/special/a", "")).body(),
            "special:a");
  EXPECT_EQ(c.get("/target-groups/").body(), "list");
  const Response wrong = c.get("/target-groups/web");
  EXPECT_EQ(wrong.result_int(), 405);
  EXPECT_EQ(wrong[http::field::allow], "POST");
  EXPECT_EQ(c.get("/target-group").result_int(), 404);
}

TEST(AdminServerTest, RoutesAddedAfterStartAndReplaced) {
  AdminServer server(loopback(), "");
  server.start();
  Client c(server.port());
  EXPECT_EQ(c.get("/late").result_int(), 404);
  server.add_route("GET", "/late", hello);
  EXPECT_EQ(c.get("/late").body(), "hello\n");
  server.add_route("GET", "/late",
                   [](const AdminRequest&) { return AdminResponse::text(200, "replaced"); });
  EXPECT_EQ(c.get("/late").body(), "replaced");
}

TEST(AdminServerTest, TokenRequiredExceptHealthz) {
  AdminServer server(loopback(), "s3cret");
  server.add_route("GET", "/hello", hello);
  server.add_route("GET", "/healthz",
                   [](const AdminRequest&) { return AdminResponse::text(200, "ok\n"); });
  server.start();
  Client c(server.port());

  const Response missing = c.get("/hello");
  EXPECT_EQ(missing.result_int(), 401);
  EXPECT_EQ(missing[http::field::www_authenticate].substr(0, 6), "Bearer");
  EXPECT_EQ(json_error_status(missing), 401);
  expect_common_headers(missing);

  const Response wrong = c.get("/hello", "Bearer s3cret2");
  EXPECT_EQ(wrong.result_int(), 401);
  EXPECT_EQ(wrong[http::field::www_authenticate].substr(0, 6), "Bearer");
  EXPECT_EQ(c.get("/hello", "Bearer s3cre").result_int(), 401);
  EXPECT_EQ(c.get("/hello", "Basic s3cret").result_int(), 401);
  EXPECT_EQ(c.get("/hello", "Bearers3cret").result_int(), 401);
  EXPECT_EQ(c.get("/hello", "Bearer").result_int(), 401);
  // Routes are not revealed before authentication.
  EXPECT_EQ(c.get("/unknown").result_int(), 401);

  EXPECT_EQ(c.get("/hello", "Bearer s3cret").body(), "hello\n");
  EXPECT_EQ(c.get("/hello", "bearer s3cret").result_int(), 200);  // scheme is case-insensitive
  EXPECT_EQ(c.get("/unknown", "Bearer s3cret").result_int(), 404);

  const Response health = c.get("/healthz");
  EXPECT_EQ(health.result_int(), 200);
  EXPECT_EQ(health.body(), "ok\n");
  // Only reading /healthz is exempt.
  EXPECT_EQ(c.send(Client::request(http::verb::post, "/healthz", "x")).result_int(), 401);
}

TEST(AdminServerTest, BodyLimitIs413AtOneByteOver) {
  AdminServer server(loopback(), "");
  server.add_route("POST", "/echo-size", [](const AdminRequest& req) {
    return AdminResponse::text(200, std::to_string(req.body.size()));
  });
  server.start();
  constexpr std::size_t kLimit = 1024 * 1024;
  {
    Client c(server.port());
    const Response ok =
        c.send(Client::request(http::verb::post, "/echo-size", std::string(kLimit, 'a')));
    EXPECT_EQ(ok.result_int(), 200);
    EXPECT_EQ(ok.body(), std::to_string(kLimit));
  }
  {
    Client c(server.port());
    const Response res =
        c.send(Client::request(http::verb::post, "/echo-size", std::string(kLimit + 1, 'a')));
    EXPECT_EQ(res.result_int(), 413);
    EXPECT_EQ(json_error_status(res), 413);
    EXPECT_FALSE(res.keep_alive());
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    // Chunked bodies are bounded too.
    Client c(server.port());
    c.write_raw(
        "POST /echo-size HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "100000\r\n" +
        std::string(kLimit, 'b') + "\r\n1\r\nb\r\n0\r\n\r\n");
    EXPECT_EQ(c.read().result_int(), 413);
  }
}

TEST(AdminServerTest, HeaderOverLimitIs431) {
  AdminServer server(loopback(), "");
  server.add_route("GET", "/hello", hello);
  server.start();
  Client c(server.port());
  auto req = Client::request(http::verb::get, "/hello");
  req.set("X-Big", std::string(9000, 'h'));
  const Response res = c.send(std::move(req));
  EXPECT_EQ(res.result_int(), 431);
  EXPECT_TRUE(c.closed_by_peer());

  Client c2(server.port());
  auto fits = Client::request(http::verb::get, "/hello");
  fits.set("X-Big", std::string(7000, 'h'));
  EXPECT_EQ(c2.send(std::move(fits)).result_int(), 200);
}

TEST(AdminServerTest, MalformedRequestIs400AndCloses) {
  AdminServer server(loopback(), "");
  server.start();
  Client c(server.port());
  c.write_raw("GET /x HTTP/1.1\r\nBad Header: y\r\n\r\n");
  const Response res = c.read();
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(AdminServerTest, ExpectContinueGetsInterimResponse) {
  AdminServer server(loopback(), "");
  server.add_route("PUT", "/put",
                   [](const AdminRequest& req) { return AdminResponse::text(200, req.body); });
  server.start();
  Client c(server.port());
  c.write_raw("PUT /put HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  EXPECT_EQ(c.read().result_int(), 100);
  c.write_raw("data");
  const Response res = c.read();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "data");
}

TEST(AdminServerTest, ConnectionCloseAndHttp10AreHonoured) {
  AdminServer server(loopback(), "");
  server.add_route("GET", "/hello", hello);
  server.start();
  {
    Client c(server.port());
    auto req = Client::request(http::verb::get, "/hello");
    req.keep_alive(false);
    const Response res = c.send(std::move(req));
    EXPECT_EQ(res.body(), "hello\n");
    EXPECT_FALSE(res.keep_alive());
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    Client c(server.port());
    c.write_raw("GET /hello HTTP/1.0\r\n\r\n");
    const Response res = c.read();
    EXPECT_EQ(res.version(), 10u);
    EXPECT_EQ(res.body(), "hello\n");
    EXPECT_TRUE(c.closed_by_peer());
  }
}

TEST(AdminServerTest, ThrowingHandlerIs500) {
  AdminServer server(loopback(), "");
  server.add_route("GET", "/boom",
                   [](const AdminRequest&) -> AdminResponse { throw std::runtime_error("kaput"); });
  server.add_route("GET", "/hello", hello);
  server.start();
  Client c(server.port());
  const Response res = c.get("/boom");
  EXPECT_EQ(res.result_int(), 500);
  EXPECT_EQ(json_error_status(res), 500);
  EXPECT_EQ(c.get("/hello").result_int(), 200);
}

TEST(AdminServerTest, ErrorBodyIsEscapedJson) {
  const AdminResponse r = AdminResponse::error(400, "bad \"name\"\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  const auto v = boost::json::parse(r.body);
  EXPECT_EQ(v.at("error").at("message").as_string(), "bad \"name\"\n");
  EXPECT_EQ(v.at("error").at("status").as_int64(), 400);
}

TEST(AdminServerTest, StopIsIdempotentAndClosesConnections) {
  auto server = std::make_unique<AdminServer>(loopback(), "");
  server->add_route("GET", "/hello", hello);
  server->start();
  const auto port = server->port();
  Client busy(port);
  EXPECT_EQ(busy.get("/hello").result_int(), 200);  // a session waiting for its next request
  Client idle(port);                                // accepted, nothing sent yet

  server->stop();
  server->stop();
  EXPECT_EQ(server->port(), port);
  EXPECT_TRUE(busy.closed_by_peer());
  EXPECT_TRUE(idle.closed_by_peer());
  EXPECT_THROW(server->start(), std::logic_error);
  server.reset();  // destructor after stop(): no hang, no double join
}

TEST(AdminServerTest, StopWithoutStartAndDestructorAlone) {
  {
    AdminServer never(loopback(), "");
    never.stop();
    never.stop();
  }
  {
    AdminServer running(loopback(), "");
    running.start();
    Client c(running.port());
  }  // destructor stops a running server with a connected client
  SUCCEED();
}

TEST(AdminServerTest, BindFailureThrows) {
  AdminServer first(loopback(), "");
  first.start();
  AdminServer second(config::Address{"127.0.0.1", first.port()}, "");
  EXPECT_THROW(second.start(), std::system_error);
  AdminServer nowhere(config::Address{"203.0.113.1", 0}, "");  // not a local address
  EXPECT_THROW(nowhere.start(), std::system_error);
}

}  // namespace
}  // namespace edge::server
