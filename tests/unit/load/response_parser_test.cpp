#include "edge/load/response_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace edge::load {
namespace {

using R = ResponseParser::Result;

/// Feeds `wire` to `p` in pieces of `step` bytes the way the runner does: keep the
/// unconsumed tail, append the next piece. Returns the final result and, in `rest`,
/// the bytes left after a complete response.
R feed(ResponseParser& p, std::string_view wire, std::size_t step, std::string* rest = nullptr) {
  std::string pending;
  std::size_t pos = 0;
  R r = R::need_more;
  while (pos < wire.size()) {
    const std::size_t n = std::min(step, wire.size() - pos);
    pending.append(wire.substr(pos, n));
    pos += n;
    r = p.parse(pending.data(), pending.size());
    pending.erase(0, p.consumed());
    if (r != R::need_more) break;
  }
  if (rest) *rest = pending + std::string(wire.substr(pos));
  return r;
}

TEST(ResponseParserTest, ContentLengthInEveryPieceSize) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-Served-By: origin-2\r\n\r\n0123456789"
      "HTTP/1.1 404 Not Found\r\n";
  for (std::size_t step = 1; step <= wire.size(); ++step) {
    ResponseParser p("x-served-by");
    p.reset();
    std::string rest;
    ASSERT_EQ(feed(p, wire, step, &rest), R::done) << step;
    EXPECT_EQ(p.status(), 200);
    EXPECT_EQ(p.body_bytes(), 10u);
    EXPECT_TRUE(p.keep_alive());
    EXPECT_EQ(p.target(), "origin-2");
    EXPECT_EQ(rest, "HTTP/1.1 404 Not Found\r\n") << step;  // the next response is kept
  }
}

TEST(ResponseParserTest, ChunkedWithExtensionsAndTrailers) {
  const std::string wire =
      "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n"
      "A\r\n0123456789\r\n"
      "0\r\nX-Trailer: t\r\n\r\n";
  for (std::size_t step = 1; step <= wire.size(); ++step) {
    ResponseParser p;
    p.reset();
    ASSERT_EQ(feed(p, wire, step), R::done) << step;
    EXPECT_EQ(p.status(), 201);
    EXPECT_EQ(p.body_bytes(), 15u);
    EXPECT_TRUE(p.keep_alive());
  }
}

TEST(ResponseParserTest, CloseDelimitedBodyEndsOnEof) {
  ResponseParser p;
  p.reset();
  const std::string wire = "HTTP/1.1 200 OK\r\n\r\nsome bytes";
  EXPECT_EQ(p.parse(wire.data(), wire.size()), R::need_more);
  EXPECT_EQ(p.consumed(), wire.size());
  EXPECT_FALSE(p.keep_alive());
  EXPECT_EQ(p.finish_on_eof(), R::done);
  EXPECT_EQ(p.body_bytes(), 10u);
}

TEST(ResponseParserTest, EofInsideAResponseIsAnError) {
  ResponseParser p;
  p.reset();
  const std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234";
  EXPECT_EQ(p.parse(wire.data(), wire.size()), R::need_more);
  EXPECT_EQ(p.finish_on_eof(), R::error);
  p.reset();
  EXPECT_EQ(p.finish_on_eof(), R::error);
}

TEST(ResponseParserTest, ConnectionSemantics) {
  struct Case {
    const char* wire;
    bool keep_alive;
  };
  const Case cases[] = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
      {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", true},
  };
  for (const auto& c : cases) {
    ResponseParser p;
    p.reset();
    const std::string_view w = c.wire;
    EXPECT_EQ(p.parse(w.data(), w.size()), R::done) << c.wire;
    EXPECT_EQ(p.keep_alive(), c.keep_alive) << c.wire;
  }
}

TEST(ResponseParserTest, NoBodyCases) {
  for (const char* wire : {"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
                           "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"}) {
    ResponseParser p;
    p.reset();
    const std::string_view w = wire;
    EXPECT_EQ(p.parse(w.data(), w.size()), R::done) << wire;
    EXPECT_EQ(p.body_bytes(), 0u);
  }
  ResponseParser head;
  head.reset(/*head_request=*/true);
  const std::string_view w = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
  EXPECT_EQ(head.parse(w.data(), w.size()), R::done);
  EXPECT_EQ(head.consumed(), w.size());
}

TEST(ResponseParserTest, InterimResponsesAreSkipped) {
  ResponseParser p;
  p.reset();
  const std::string wire =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  for (std::size_t step = 1; step <= wire.size(); ++step) {
    p.reset();
    ASSERT_EQ(feed(p, wire, step), R::done) << step;
    EXPECT_EQ(p.status(), 200);
    EXPECT_EQ(p.body_bytes(), 2u);
  }
}

TEST(ResponseParserTest, RejectsGarbage) {
  for (const char* wire : {
           "HTTX/9.9 nonsense\r\n\x01\x02 this is not http\r\n\r\n",
           "HTTP/1.1 2x0 OK\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
           "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
       }) {
    ResponseParser p;
    p.reset();
    const std::string_view w = wire;
    EXPECT_EQ(p.parse(w.data(), w.size()), R::error) << wire;
    EXPECT_STRNE(p.error_reason(), "");
  }
  // A head that never ends is cut at kMaxHead.
  std::string big = "HTTP/1.1 200 OK\r\nX: " + std::string(ResponseParser::kMaxHead, 'a');
  ResponseParser p;
  p.reset();
  EXPECT_EQ(p.parse(big.data(), big.size()), R::error);
}

}  // namespace
}  // namespace edge::load
