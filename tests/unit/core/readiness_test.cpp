#include "edge/core/readiness.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>
#include <string>

namespace edge {
namespace {

namespace ip = asio::ip;

struct Pair {
  asio::io_context io{1};
  Socket server{io.get_executor()};
  Socket client{io.get_executor()};

  Pair() {
    Acceptor acc(io.get_executor(), ip::tcp::endpoint(ip::address_v4::loopback(), 0));
    client.connect(acc.local_endpoint());
    acc.accept(server);
  }
  void send(const std::string& s) { asio::write(client, asio::buffer(s)); }
  /// Blocks until the kernel has something to read for `server` (poll(2), which
  /// leaves the reactor's edge-triggered registration alone).
  void wait_readable() {
    pollfd p{server.native_handle(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 10'000), 1);
  }
};

TEST(Readiness, ActiveWithThisBoost) {
  // Fails when Boost or its reactor changes: the helpers then do nothing, and
  // the code they rely on must be checked again before they are turned back on.
  EXPECT_TRUE(core::readiness_tracking());
}

TEST(Readiness, ReadNowTakesWhatIsThereAndMarksDrainedOnEagain) {
  Pair p;
  char buf[16];
  boost::system::error_code ec;
  std::size_t n = 0;
  EXPECT_TRUE(core::may_have_input(p.server));  // never marked
  p.send("abc");
  p.wait_readable();
  ASSERT_TRUE(core::read_now(p.server, asio::buffer(buf), ec, n));
  EXPECT_FALSE(ec);
  EXPECT_EQ(std::string(buf, n), "abc");
  EXPECT_TRUE(core::may_have_input(p.server));  // a short read alone does not mark

  EXPECT_FALSE(core::read_now(p.server, asio::buffer(buf), ec, n));  // EAGAIN
  EXPECT_FALSE(core::may_have_input(p.server));
}

TEST(Readiness, ADrainedSocketWaitsForTheReactorAndLosesNoData) {
  Pair p;
  char buf[16];
  boost::system::error_code ec;
  std::size_t n = 0;
  core::mark_drained(p.server);
  p.send("de");
  p.wait_readable();
  // The kernel has the bytes, but the reactor has not reported them yet: no
  // read is attempted.
  EXPECT_FALSE(core::read_now(p.server, asio::buffer(buf), ec, n));
  EXPECT_FALSE(core::may_have_input(p.server));

  // A read started now is not attempted either, and completes when the
  // reactor reports the readiness event that arrived before it was started.
  bool done = false;
  p.server.async_read_some(asio::buffer(buf),
                           [&](const boost::system::error_code& e, std::size_t m) {
                             ec = e;
                             n = m;
                             done = true;
                           });
  EXPECT_FALSE(done);
  p.io.run_one();
  ASSERT_TRUE(done);
  EXPECT_FALSE(ec);
  EXPECT_EQ(std::string(buf, n), "de");
  EXPECT_TRUE(core::may_have_input(p.server));  // the event was recorded
}

TEST(Readiness, EndOfStreamAfterAMarkIsReported) {
  Pair p;
  char buf[16];
  boost::system::error_code ec;
  std::size_t n = 0;
  p.send("x");
  p.wait_readable();
  ASSERT_TRUE(core::read_now(p.server, asio::buffer(buf), ec, n));
  ASSERT_EQ(n, 1u);
  core::mark_drained(p.server);  // at a message boundary, as the session does

  // A FIN that arrives after the mark is an event of its own.
  p.client.shutdown(Socket::shutdown_send);
  bool done = false;
  p.server.async_read_some(asio::buffer(buf), [&](const boost::system::error_code& e, std::size_t) {
    ec = e;
    done = true;
  });
  p.io.run_one();
  ASSERT_TRUE(done);
  EXPECT_EQ(ec, asio::error::eof);
}

TEST(Readiness, ReadNowReportsEndOfStream) {
  Pair p;
  char buf[16];
  boost::system::error_code ec;
  std::size_t n = 0;
  p.client.shutdown(Socket::shutdown_send);
  p.wait_readable();
  ASSERT_TRUE(core::read_now(p.server, asio::buffer(buf), ec, n));
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(n, 0u);
}

TEST(Readiness, ErrorsAreReported) {
  Pair p;
  char buf[16];
  boost::system::error_code ec;
  std::size_t n = 0;
  // An RST: linger 0 on close.
  p.client.set_option(asio::socket_base::linger(true, 0));
  p.client.close();
  p.wait_readable();
  // No reactor event was seen for the server yet, but it was never marked.
  ASSERT_TRUE(core::read_now(p.server, asio::buffer(buf), ec, n));
  EXPECT_EQ(ec, asio::error::connection_reset);
  EXPECT_EQ(n, 0u);
}

}  // namespace
}  // namespace edge
