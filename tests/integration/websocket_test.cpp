// WebSockets through a real gateway: the upgrade is forwarded, the 101 relayed,
// then frames both ways (Beast's websocket client against edge-origin's echo),
// close from either side, half-close, idle timeout, the outstanding count and
// the metrics; other Upgrade protocols go through as plain HTTP.
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "integration/gateway_fixture.hpp"
#include "support/tls_certs.hpp"

namespace edge::test {
namespace {

using namespace std::chrono_literals;
namespace websocket = boost::beast::websocket;
namespace bnet = boost::asio;
using tcp = bnet::ip::tcp;

/// Blocking WebSocket client; every socket wait is bounded (SO_RCVTIMEO/SNDTIMEO)
/// so a broken tunnel fails the test instead of hanging it.
struct WsClient {
  bnet::io_context ioc;
  websocket::stream<tcp::socket> ws{ioc};
  websocket::response_type response;
  boost::beast::flat_buffer buffer;

  explicit WsClient(std::uint16_t port, const std::string& target = "/ws",
                    const std::string& cookie = "") {
    ws.next_layer().connect(tcp::endpoint(bnet::ip::make_address("127.0.0.1"), port));
    timeval tv{10, 0};
    ::setsockopt(ws.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(ws.next_layer().native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (!cookie.empty()) {
      ws.set_option(websocket::stream_base::decorator([cookie](websocket::request_type& req) {
        req.set(boost::beast::http::field::cookie, cookie);
      }));
    }
    ws.handshake(response, "127.0.0.1", target);
  }

  std::string echo(const std::string& message, bool text) {
    ws.text(text);
    ws.write(bnet::buffer(message));
    buffer.consume(buffer.size());
    ws.read(buffer);
    EXPECT_EQ(ws.got_text(), text);
    return boost::beast::buffers_to_string(buffer.data());
  }
};

std::string binary_payload(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + 7) & 0xff);
  return s;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

class WebSocketTest : public GatewayTest {
 protected:
  std::int64_t active_websockets() {
    std::int64_t n = 0;
    auto& m = gateway_->metrics();
    for (std::size_t i = 0; i < m.workers(); ++i)
      n += m.shard(i).active_upgraded_connections[0].value();
    return n;
  }
  std::uint64_t websocket_upgrades() {
    return sum_shards(gateway_->metrics(), [](auto& s) { return s.upgrades[0].value(); });
  }
  std::uint32_t outstanding() { return gateway_->target_outstanding(0, 0); }
};

TEST_F(WebSocketTest, EchoesTextAndBinaryFramesBothWaysThenClientCloses) {
  auto& o = add_origin();
  start(base_config(2));

  WsClient c(port_);
  EXPECT_EQ(c.response.result_int(), 101);
  EXPECT_EQ(c.response[boost::beast::http::field::via], "1.1 edged");
  // The origin saw the upgrade fields (kept for this case only) and ours.
  auto rec = o.last_request();
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->header("Upgrade"), "websocket");
  EXPECT_EQ(rec->header("Connection"), "Upgrade");
  EXPECT_FALSE(rec->header("Sec-WebSocket-Key").empty());
  EXPECT_FALSE(rec->header("X-Forwarded-For").empty());

  EXPECT_EQ(c.echo("hello", true), "hello");
  const std::string big = binary_payload(300 * 1024);  // several relay buffers
  EXPECT_EQ(c.echo(big, false), big);
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(c.echo("m" + std::to_string(i), true), "m" + std::to_string(i));

  // One outstanding request on the target for as long as the tunnel is open.
  EXPECT_EQ(outstanding(), 1u);
  EXPECT_EQ(active_websockets(), 1);
  EXPECT_EQ(websocket_upgrades(), 1u);

  c.ws.close(websocket::close_code::normal);  // waits for the origin's close frame
  EXPECT_TRUE(eventually([&] { return outstanding() == 0 && active_websockets() == 0; }));
  EXPECT_TRUE(o.wait_for_open_connections(0, 5s));
  const std::string text = gateway_->metrics().serialize();
  EXPECT_NE(text.find("edged_upgrades_total{protocol=\"websocket\"} 1"), std::string::npos) << text;
}

TEST_F(WebSocketTest, OriginInitiatedCloseReachesTheClient) {
  add_origin();
  start(base_config(1));
  WsClient c(port_);
  EXPECT_EQ(c.echo("before", true), "before");
  c.ws.text(true);
  c.ws.write(bnet::buffer(std::string("close")));
  boost::system::error_code ec;
  c.ws.read(c.buffer, ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(c.ws.reason().code, websocket::close_code::normal);
  EXPECT_TRUE(eventually([&] { return outstanding() == 0 && active_websockets() == 0; }));
}

TEST_F(WebSocketTest, ClientHalfCloseIsPassedOnAndTheTunnelEnds) {
  auto& o = add_origin();
  start(base_config(1));
  WsClient c(port_);
  EXPECT_EQ(c.echo("x", true), "x");
  // FIN without a close frame: the origin sees EOF and closes; its FIN comes back.
  c.ws.next_layer().shutdown(tcp::socket::shutdown_send);
  char b[64];
  boost::system::error_code ec;
  c.ws.next_layer().read_some(bnet::buffer(b), ec);
  EXPECT_EQ(ec, bnet::error::eof);
  EXPECT_TRUE(eventually([&] { return outstanding() == 0 && active_websockets() == 0; }));
  EXPECT_TRUE(o.wait_for_open_connections(0, 5s));
}

TEST_F(WebSocketTest, IdleTimeoutClosesBothSides) {
  auto& o = add_origin();
  auto c0 = base_config(1);
  c0.timeouts.websocket_idle = 300ms;
  start(c0);
  WsClient c(port_);
  EXPECT_EQ(c.echo("ping", true), "ping");
  const auto t0 = std::chrono::steady_clock::now();
  boost::system::error_code ec;
  c.ws.read(c.buffer, ec);  // nothing comes: the gateway closes the tunnel
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(ec);
  EXPECT_NE(ec, bnet::error::would_block) << "socket timeout, not the idle timeout";
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 5s);
  EXPECT_TRUE(eventually([&] { return outstanding() == 0 && active_websockets() == 0; }));
  EXPECT_TRUE(o.wait_for_open_connections(0, 5s));
}

TEST_F(WebSocketTest, TrafficKeepsTheTunnelOpenPastTheIdleTimeout) {
  add_origin();
  auto c0 = base_config(1);
  c0.timeouts.websocket_idle = 300ms;
  start(c0);
  WsClient c(port_);
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(c.echo("tick", true), "tick");
  }
  EXPECT_EQ(active_websockets(), 1);
}

TEST_F(WebSocketTest, NonSwitchingAnswerIsRelayedAsANormalResponse) {
  auto& o = add_origin();
  start(base_config(1));
  auto conn = connect(port_);
  // Not under /ws: the origin ignores the upgrade and answers 200.
  auto r = conn.request("GET", "/plain",
                        {{"Connection", "Upgrade"},
                         {"Upgrade", "websocket"},
                         {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                         {"Sec-WebSocket-Version", "13"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 1024u);
  EXPECT_EQ(o.last_request()->header("Upgrade"), "websocket");
  // The connection is still an HTTP connection.
  EXPECT_EQ(conn.request("GET", "/").status, 200);
  EXPECT_EQ(websocket_upgrades(), 0u);
  EXPECT_TRUE(eventually([&] { return outstanding() == 0; }));
}

TEST_F(WebSocketTest, OtherUpgradeProtocolsAreForwardedWithoutTheUpgrade) {
  auto& o = add_origin();
  start(base_config(1));
  auto conn = connect(port_);
  auto r = conn.request("GET", "/",
                        {{"Connection", "Upgrade, HTTP2-Settings"},
                         {"Upgrade", "h2c"},
                         {"HTTP2-Settings", "AAMAAABkAAQAoAAAAAIAAAAA"}});
  EXPECT_EQ(r.status, 200);
  auto rec = o.last_request();
  EXPECT_FALSE(rec->has_header("Upgrade"));
  EXPECT_FALSE(rec->has_header("HTTP2-Settings"));
  EXPECT_NE(rec->header("Connection"), "Upgrade");
  EXPECT_EQ(sum_shards(gateway_->metrics(), [](auto& s) { return s.upgrades_declined.value(); }),
            1u);
}

TEST_F(WebSocketTest, ConfiguredProtocolIsForwardedAsAnUpgrade) {
  auto& o = add_origin();
  auto c0 = base_config(1);
  c0.listeners[0].upgrade_protocols = {"websocket", "h2c"};
  start(c0);
  auto conn = connect(port_);
  auto r = conn.request("GET", "/", {{"Connection", "Upgrade"}, {"Upgrade", "h2c"}});
  EXPECT_EQ(r.status, 200);  // the origin does not speak h2c: plain answer
  EXPECT_EQ(o.last_request()->header("Upgrade"), "h2c");
}

TEST_F(WebSocketTest, UpgradesCanBeDisabled) {
  auto& o = add_origin();
  auto c0 = base_config(1);
  c0.listeners[0].upgrade_protocols.clear();
  start(c0);
  auto conn = connect(port_);
  auto r = conn.request("GET", "/ws",
                        {{"Connection", "Upgrade"},
                         {"Upgrade", "websocket"},
                         {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                         {"Sec-WebSocket-Version", "13"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(o.last_request()->has_header("Upgrade"));
}

TEST_F(WebSocketTest, StopClosesOpenTunnels) {
  add_origin();
  start(base_config(1));
  WsClient c(port_);
  EXPECT_EQ(c.echo("a", true), "a");
  gateway_->stop();
  gateway_->wait();
  boost::system::error_code ec;
  c.ws.read(c.buffer, ec);
  EXPECT_TRUE(ec);
  EXPECT_NE(ec, bnet::error::would_block);
  gateway_.reset();
}

// Target-group stickiness: the 101 carries the cookies like any other response
// (as ALB; RFC 6455 lets a handshake response set cookies), and the cookie
// sent back keeps the next upgrade on the same group.
TEST_F(WebSocketTest, SwitchingProtocolsCarriesTheStickinessCookie) {
  origin::OriginOptions ob, og;
  ob.id = "blue";
  og.id = "green";
  auto& b = add_origin(ob);
  auto& g = add_origin(og);
  auto c = base_config(1);
  c.target_groups[0].name = "blue";
  add_target(c, b.port(), 0);
  config::TargetGroupConfig green = c.target_groups[0];
  green.name = "green";
  green.targets.clear();
  c.target_groups.push_back(green);
  add_target(c, g.port(), 1);
  auto& f = c.listeners[0].default_action.forward;
  f.target_groups = {{"blue", 1}, {"green", 1}};
  f.stickiness.enabled = true;
  f.stickiness.duration = std::chrono::hours(1);
  start(c);

  std::string value;
  {
    WsClient ws(port_);
    ASSERT_EQ(ws.response.result_int(), 101);
    int cookies = 0;
    for (const auto& field : ws.response) {
      if (field.name() != boost::beast::http::field::set_cookie) continue;
      ++cookies;
      const std::string v(field.value());
      if (v.starts_with("AWSALBTG=")) value = v.substr(9, v.find(';') - 9);
    }
    EXPECT_EQ(cookies, 2);  // AWSALBTG + AWSALBTGCORS
    ASSERT_EQ(value.size(), 16u) << "no AWSALBTG cookie on the 101";
    EXPECT_EQ(ws.echo("hi", true), "hi");
    ws.ws.close(websocket::close_code::normal);
  }
  // The group that got the first upgrade gets every one that sends the cookie.
  auto& chosen = b.requests_for("/ws") == 1 ? b : g;
  ASSERT_EQ(chosen.requests_for("/ws"), 1u);
  for (int i = 0; i < 10; ++i) {
    WsClient again(port_, "/ws", "AWSALBTG=" + value);
    EXPECT_EQ(again.response.count(boost::beast::http::field::set_cookie), 0u);  // not a new choice
    again.ws.close(websocket::close_code::normal);
  }
  EXPECT_EQ(chosen.requests_for("/ws"), 11u);
  EXPECT_EQ(b.requests_for("/ws") + g.requests_for("/ws"), 11u);
}

// ---- WebSockets over TLS: wss:// on an HTTPS listener, and to an HTTPS target group.

/// Blocking wss:// client (no certificate verification: the gateway's is
/// self-signed); socket waits bounded as WsClient's.
struct WssClient {
  bnet::io_context ioc;
  bnet::ssl::context ctx{bnet::ssl::context::tls_client};
  websocket::stream<bnet::ssl::stream<tcp::socket>> ws{ioc, ctx};
  websocket::response_type response;
  boost::beast::flat_buffer buffer;

  explicit WssClient(std::uint16_t port, const std::string& target = "/ws") {
    auto& sock = ws.next_layer().next_layer();
    sock.connect(tcp::endpoint(bnet::ip::make_address("127.0.0.1"), port));
    timeval tv{10, 0};
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    static const char kName[] = "edge.test";
    SSL_ctrl(ws.next_layer().native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
             TLSEXT_NAMETYPE_host_name, const_cast<char*>(kName));
    ws.next_layer().handshake(bnet::ssl::stream_base::client);
    ws.handshake(response, "edge.test", target);
  }

  std::string echo(const std::string& message, bool text) {
    ws.text(text);
    ws.write(bnet::buffer(message));
    buffer.consume(buffer.size());
    ws.read(buffer);
    EXPECT_EQ(ws.got_text(), text);
    return boost::beast::buffers_to_string(buffer.data());
  }
};

class SecureWebSocketTest : public WebSocketTest {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("edge-wss");
    cert_ = make_test_certificate(dir_, "site", {"edge.test"}, TestKey::ecdsa);
  }
  void TearDown() override {
    if (front_) {
      front_->stop();
      front_->wait();
      front_.reset();
    }
    WebSocketTest::TearDown();
    std::filesystem::remove_all(dir_);
  }
  config::Config https_config(unsigned workers) {
    auto c = base_config(workers);
    c.listeners[0].protocol = config::Protocol::https;
    c.listeners[0].tls.certificates = {{cert_.cert_path, cert_.key_path}};
    return c;
  }
  /// A plain gateway in front of `gateway_` (HTTPS listener) as its HTTPS
  /// target group: the tunnel's target side is TLS.
  std::uint16_t start_front() {
    auto c = base_config(1);
    c.admin.enabled = false;
    c.target_groups[0].protocol = config::Protocol::https;
    add_target(c, port_);
    front_ = std::make_unique<server::Gateway>(std::move(c));
    front_->start();
    return front_->listener_port(0);
  }
  std::int64_t front_active() {
    std::int64_t n = 0;
    for (std::size_t i = 0; i < front_->metrics().workers(); ++i)
      n += front_->metrics().shard(i).active_upgraded_connections[0].value();
    return n;
  }

  std::string dir_;
  TestCertificate cert_;
  std::unique_ptr<server::Gateway> front_;
};

TEST_F(SecureWebSocketTest, HttpsListenerToPlainOriginEchoesThenClientCloses) {
  auto& o = add_origin();
  start(https_config(2));
  WssClient c(port_);
  EXPECT_EQ(c.response.result_int(), 101);
  EXPECT_EQ(o.last_request()->header("Upgrade"), "websocket");
  EXPECT_EQ(o.last_request()->header("X-Forwarded-Proto"), "https");
  EXPECT_EQ(c.echo("hello", true), "hello");
  const std::string big = binary_payload(300 * 1024);  // many TLS records, many relay buffers
  EXPECT_EQ(c.echo(big, false), big);
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(c.echo("m" + std::to_string(i), true), "m" + std::to_string(i));
  EXPECT_EQ(outstanding(), 1u);
  EXPECT_EQ(active_websockets(), 1);
  EXPECT_EQ(websocket_upgrades(), 1u);

  // Close frames both ways, then the TLS close (close_notify) from the gateway.
  c.ws.close(websocket::close_code::normal);
  EXPECT_TRUE(eventually([&] { return outstanding() == 0 && active_websockets() == 0; }));
  EXPECT_TRUE(o.wait_for_open_connections(0, 5s));
}

TEST_F(SecureWebSocketTest, HttpsListenerOriginInitiatedClose) {
  add_origin();
  start(https_config(1));
  WssClient c(port_);
  EXPECT_EQ(c.echo("before", true), "before");
  c.ws.text(true);
  c.ws.write(bnet::buffer(std::string("close")));
  boost::system::error_code ec;
  c.ws.read(c.buffer, ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(c.ws.reason().code, websocket::close_code::normal);
  EXPECT_TRUE(eventually([&] { return outstanding() == 0 && active_websockets() == 0; }));
}

TEST_F(SecureWebSocketTest, HttpsListenerIdleTimeoutClosesBothSides) {
  auto& o = add_origin();
  auto c0 = https_config(1);
  c0.timeouts.websocket_idle = 300ms;
  start(c0);
  WssClient c(port_);
  EXPECT_EQ(c.echo("ping", true), "ping");
  boost::system::error_code ec;
  c.ws.read(c.buffer, ec);  // nothing comes: the gateway ends the tunnel
  EXPECT_TRUE(ec);
  EXPECT_NE(ec, bnet::error::would_block) << "socket timeout, not the idle timeout";
  EXPECT_TRUE(eventually([&] { return outstanding() == 0 && active_websockets() == 0; }));
  EXPECT_TRUE(o.wait_for_open_connections(0, 5s));
}

TEST_F(SecureWebSocketTest, PlainListenerToTlsTargetEchoesThenClientCloses) {
  auto& o = add_origin();
  start(https_config(1));  // the TLS target
  const std::uint16_t front = start_front();
  WsClient c(front);
  EXPECT_EQ(c.response.result_int(), 101);
  EXPECT_EQ(c.echo("hello", true), "hello");
  const std::string big = binary_payload(300 * 1024);
  EXPECT_EQ(c.echo(big, false), big);
  EXPECT_EQ(front_active(), 1);
  EXPECT_EQ(front_->target_outstanding(0, 0), 1u);
  c.ws.close(websocket::close_code::normal);
  EXPECT_TRUE(eventually([&] { return front_active() == 0 && active_websockets() == 0; }));
  EXPECT_TRUE(eventually([&] { return front_->target_outstanding(0, 0) == 0; }));
  EXPECT_TRUE(o.wait_for_open_connections(0, 5s));
}

TEST_F(SecureWebSocketTest, PlainListenerToTlsTargetOriginInitiatedClose) {
  auto& o = add_origin();
  start(https_config(1));
  const std::uint16_t front = start_front();
  WsClient c(front);
  EXPECT_EQ(c.echo("before", true), "before");
  c.ws.text(true);
  c.ws.write(bnet::buffer(std::string("close")));
  boost::system::error_code ec;
  c.ws.read(c.buffer, ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(c.ws.reason().code, websocket::close_code::normal);
  EXPECT_TRUE(eventually([&] { return front_active() == 0 && active_websockets() == 0; }));
  EXPECT_TRUE(o.wait_for_open_connections(0, 5s));
}

}  // namespace
}  // namespace edge::test
