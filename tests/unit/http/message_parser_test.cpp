#include "edge/http/message_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include <boost/beast/http/error.hpp>

namespace {

using edge::http::HeadStore;
using edge::http::RequestParser;
using edge::http::ResponseParser;
using boost::beast::http::field;
using boost::beast::http::verb;
namespace bhttp = boost::beast::http;

std::size_t put(RequestParser& p, std::string_view s, boost::system::error_code& ec) {
  return p.put(boost::asio::const_buffer(s.data(), s.size()), ec);
}
std::size_t put(ResponseParser& p, std::string_view s, boost::system::error_code& ec) {
  return p.put(boost::asio::const_buffer(s.data(), s.size()), ec);
}

TEST(MessageParser, RequestHeadFieldsInOrderWithLookups) {
  HeadStore store;
  RequestParser p(store);
  const std::string head =
      "POST /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Custom:  v1 \r\n"
      "Content-Length: 3\r\nx-custom: v2\r\n\r\nabc";
  boost::system::error_code ec;
  std::size_t n = put(p, head, ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(p.is_header_done());
  EXPECT_EQ(n, head.size() - 3);  // the body stays in the caller's buffer
  EXPECT_EQ(p.method(), verb::post);
  EXPECT_EQ(p.method_string(), "POST");
  EXPECT_EQ(p.target(), "/a/b?x=1");
  EXPECT_EQ(p.version(), 11U);
  ASSERT_EQ(p.field_count(), 4U);
  auto it = p.begin();
  EXPECT_EQ(it->name(), field::host);
  EXPECT_EQ(it->name_string(), "Host");
  EXPECT_EQ(it->value(), "example.com");
  ++it;
  EXPECT_EQ(it->name(), field::unknown);
  EXPECT_EQ(it->name_string(), "X-Custom");
  EXPECT_EQ(it->value(), "v1");  // surrounding whitespace is not part of the value
  EXPECT_EQ(p.find("x-CUSTOM")->value(), "v1");  // the first of two, any case
  EXPECT_EQ(p.find(field::content_length)->value(), "3");
  EXPECT_EQ(p.find(field::cookie), p.end());
  EXPECT_EQ(p.find("absent"), p.end());
  EXPECT_EQ(p.content_length().value_or(0), 3U);
  EXPECT_TRUE(p.keep_alive());
}

// The head arrives in pieces and the caller's buffer is rewritten between
// put() calls (as a read buffer that compacts itself): every view must point
// into the store, not into the input.
TEST(MessageParser, HeadSplitOverMovingBuffersStaysIntact) {
  HeadStore store;
  RequestParser p(store);
  const std::string head =
      "GET /path HTTP/1.1\r\nHost: h\r\nAccept: text/html\r\nUser-Agent: test-agent/1.0\r\n\r\n";
  std::string buf;  // the caller's buffer: consumed bytes are erased, as a flat_buffer does
  boost::system::error_code ec;
  for (char c : head) {
    buf.push_back(c);
    std::size_t n = put(p, buf, ec);
    buf.erase(0, n);
    if (ec == bhttp::error::need_more) {
      ec = {};
      continue;
    }
    ASSERT_FALSE(ec) << ec.message();
    if (p.is_header_done()) break;
  }
  ASSERT_TRUE(p.is_header_done());
  buf.assign(buf.size() + 64, 'Z');  // scribble over whatever the input was
  EXPECT_EQ(p.method_string(), "GET");
  EXPECT_EQ(p.target(), "/path");
  ASSERT_EQ(p.field_count(), 3U);
  EXPECT_EQ(p.find(field::host)->value(), "h");
  EXPECT_EQ(p.find(field::accept)->value(), "text/html");
  EXPECT_EQ(p.find(field::user_agent)->value(), "test-agent/1.0");
}

TEST(MessageParser, ObsFoldValueIsCopied) {
  HeadStore store;
  RequestParser p(store);
  const std::string head = "GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n b\r\n\r\n";
  boost::system::error_code ec;
  put(p, head, ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(p.is_header_done());
  auto it = p.find("x-folded");
  ASSERT_NE(it, p.end());
  EXPECT_EQ(it->value(), "a b");
}

TEST(MessageParser, StoreIsReusedForTheNextMessage) {
  HeadStore store;
  boost::system::error_code ec;
  {
    RequestParser p(store);
    put(p, "GET /one HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n", ec);
    ASSERT_FALSE(ec);
  }
  RequestParser p(store);
  put(p, "GET /two HTTP/1.0\r\nHost: b\r\n\r\n", ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(p.target(), "/two");
  EXPECT_EQ(p.version(), 10U);
  ASSERT_EQ(p.field_count(), 1U);
  EXPECT_EQ(p.begin()->value(), "b");
  EXPECT_FALSE(p.keep_alive());
}

TEST(MessageParser, ResponseHeadAndLengthBodyIntoCallerBuffer) {
  HeadStore store;
  ResponseParser p(store);
  const std::string msg =
      "HTTP/1.1 404 Not Here\r\nServer: s\r\nContent-Length: 10\r\n\r\n0123456789";
  boost::system::error_code ec;
  std::size_t n = put(p, msg, ec);
  ASSERT_FALSE(ec);
  ASSERT_TRUE(p.is_header_done());
  EXPECT_EQ(p.result_int(), 404);
  EXPECT_EQ(p.reason(), "Not Here");
  EXPECT_EQ(p.find(field::server)->value(), "s");
  // Body: a 4-byte buffer fills, then need_buffer.
  std::string rest = msg.substr(n);
  char out[4];
  p.body().data = out;
  p.body().size = sizeof out;
  n = put(p, rest, ec);
  EXPECT_EQ(ec, bhttp::error::need_buffer);
  EXPECT_EQ(n, 4U);
  EXPECT_EQ(std::string_view(out, 4), "0123");
  EXPECT_EQ(p.body().size, 0U);
}

TEST(MessageParser, ChunkedBodyIsDecoded) {
  HeadStore store;
  ResponseParser p(store);
  p.eager(true);
  const std::string msg =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n";
  char out[64];
  p.body().data = out;
  p.body().size = sizeof out;
  boost::system::error_code ec;
  std::size_t n = put(p, msg, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(n, msg.size());
  EXPECT_TRUE(p.is_done());
  EXPECT_TRUE(p.chunked());
  EXPECT_EQ(std::string_view(out, sizeof out - p.body().size), "abcdefg");
}

TEST(MessageParser, MalformedHeadIsAnError) {
  HeadStore store;
  RequestParser p(store);
  boost::system::error_code ec;
  put(p, "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", ec);
  EXPECT_TRUE(ec);
  EXPECT_NE(ec, bhttp::error::need_more);
}

TEST(MessageParser, HeaderLimitIsEnforced) {
  HeadStore store;
  RequestParser p(store);
  p.header_limit(64);
  boost::system::error_code ec;
  std::string head = "GET / HTTP/1.1\r\nX-Long: " + std::string(100, 'a') + "\r\n\r\n";
  put(p, head, ec);
  EXPECT_EQ(ec, bhttp::error::header_limit);
}

}  // namespace
