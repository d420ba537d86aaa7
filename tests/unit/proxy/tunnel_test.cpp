#include "edge/proxy/tunnel.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http/fields.hpp>
#include <string>
#include <vector>

namespace edge::proxy {
namespace {

const std::vector<std::string> kWebsocketOnly{"websocket"};

TEST(ClassifyUpgrade, WebsocketGetIsAnUpgrade) {
  auto u = classify_upgrade("GET", 11, false, "websocket", kWebsocketOnly);
  EXPECT_EQ(u.kind, UpgradeKind::websocket);
  EXPECT_EQ(u.protocol, "websocket");
  EXPECT_EQ(classify_upgrade("GET", 11, false, "WebSocket", kWebsocketOnly).kind,
            UpgradeKind::websocket);
}

TEST(ClassifyUpgrade, OnlyBodilessHttp11GetsAreUpgraded) {
  EXPECT_EQ(classify_upgrade("POST", 11, false, "websocket", kWebsocketOnly).kind,
            UpgradeKind::none);
  EXPECT_EQ(classify_upgrade("GET", 10, false, "websocket", kWebsocketOnly).kind,
            UpgradeKind::none);
  EXPECT_EQ(classify_upgrade("GET", 11, true, "websocket", kWebsocketOnly).kind, UpgradeKind::none);
}

TEST(ClassifyUpgrade, ProtocolsNotAllowedAreDeclined) {
  EXPECT_EQ(classify_upgrade("GET", 11, false, "h2c", kWebsocketOnly).kind, UpgradeKind::none);
  EXPECT_EQ(classify_upgrade("GET", 11, false, "", kWebsocketOnly).kind, UpgradeKind::none);
  EXPECT_EQ(classify_upgrade("GET", 11, false, "websocket", {}).kind, UpgradeKind::none);
  // Only the client's first choice is considered.
  EXPECT_EQ(classify_upgrade("GET", 11, false, "h2c, websocket", kWebsocketOnly).kind,
            UpgradeKind::none);
}

TEST(ClassifyUpgrade, ConfiguredProtocolsKeepTheirVersionAndOnlyTheFirstIsOffered) {
  const std::vector<std::string> allowed{"websocket", "foo"};
  auto u = classify_upgrade("GET", 11, false, " Foo/2 , websocket", allowed);
  EXPECT_EQ(u.kind, UpgradeKind::other);
  EXPECT_EQ(u.protocol, "Foo/2");
}

TEST(SwitchingProtocolsHead, KeepsEndToEndFieldsAndStatesTheUpgrade) {
  const std::string raw =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nKeep-Alive: timeout=5\r\n"
      "Content-Length: 0\r\nVia: 1.1 app\r\n\r\n";
  http::HeadStore store;
  http::ResponseParser f(store);
  boost::system::error_code ec;
  f.put(boost::asio::const_buffer(raw.data(), raw.size()), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(f.is_header_done());
  std::string out;
  build_switching_protocols_head(out, f, "Wed, 25 Nov 2026 07:00:00 GMT");
  EXPECT_EQ(out,
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "Date: Wed, 25 Nov 2026 07:00:00 GMT\r\n"
            "Via: 1.1 app, 1.1 edged\r\n"
            "Connection: Upgrade\r\n"
            "Upgrade: websocket\r\n"
            "\r\n");
}

}  // namespace
}  // namespace edge::proxy
