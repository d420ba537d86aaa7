#include "edge/core/readiness.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
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

TEST(Readiness, AcceptNowTakesQueuedConnectionsWithoutWaiting) {
  asio::io_context io{1};
  Acceptor acc(io.get_executor(), ip::tcp::endpoint(ip::address_v4::loopback(), 0));
  acc.non_blocking(true);
  Socket in(io.get_executor());
  ip::tcp::endpoint peer;
  boost::system::error_code ec;
  EXPECT_FALSE(core::accept_now(acc, in, peer, ec));  // nothing queued: no wait
  EXPECT_FALSE(ec);
  EXPECT_FALSE(in.is_open());

  Socket c1(io.get_executor()), c2(io.get_executor());
  c1.connect(acc.local_endpoint());
  c2.connect(acc.local_endpoint());
  ASSERT_TRUE(core::accept_now(acc, in, peer, ec));
  ASSERT_FALSE(ec);
  ASSERT_TRUE(in.is_open());
  EXPECT_EQ(peer, c1.local_endpoint());  // the peer's address, from accept itself
  // Non-blocking and close-on-exec from accept4's flags.
  EXPECT_NE(::fcntl(in.native_handle(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(in.native_handle(), F_GETFD) & FD_CLOEXEC, 0);

  Socket in2(io.get_executor());
  ip::tcp::endpoint peer2;
  ASSERT_TRUE(core::accept_now(acc, in2, peer2, ec));
  EXPECT_EQ(peer2, c2.local_endpoint());
  Socket in3(io.get_executor());
  EXPECT_FALSE(core::accept_now(acc, in3, peer2, ec));  // drained

  // The adopted socket works with the reactor: an asynchronous read completes
  // with what the peer sent, and a write reaches the peer.
  asio::write(c1, asio::buffer(std::string("ping")));
  char buf[8];
  std::size_t n = 0;
  in.async_read_some(asio::buffer(buf), [&](const boost::system::error_code& e, std::size_t m) {
    ec = e;
    n = m;
  });
  io.run();
  EXPECT_FALSE(ec);
  EXPECT_EQ(std::string(buf, n), "ping");
  asio::write(in, asio::buffer(std::string("pong")));
  n = asio::read(c1, asio::buffer(buf, 4));
  EXPECT_EQ(std::string(buf, n), "pong");

  // Closed: the peer sees the end of the stream; the descriptor is gone.
  const int fd = in.native_handle();
  in.close();
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
  asio::read(c1, asio::buffer(buf, 1), ec);
  EXPECT_EQ(ec, asio::error::eof);
}

TEST(Readiness, AcceptNowReportsAClosedAcceptor) {
  asio::io_context io{1};
  Acceptor acc(io.get_executor(), ip::tcp::endpoint(ip::address_v4::loopback(), 0));
  acc.close();
  Socket in(io.get_executor());
  ip::tcp::endpoint peer;
  boost::system::error_code ec;
  EXPECT_TRUE(core::accept_now(acc, in, peer, ec));
  EXPECT_EQ(ec, asio::error::bad_descriptor);
  EXPECT_FALSE(in.is_open());
}

}  // namespace
}  // namespace edge
