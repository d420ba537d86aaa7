#include "edge/core/readiness.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/detail/socket_ops.hpp>
#include <boost/asio/error.hpp>
#include <boost/version.hpp>
#include <cerrno>

// The reactor's record is a private member of Asio's epoll reactor. It is read
// and written only for the version whose code was checked: Boost 1.81, where
// `epoll_reactor::start_op` attempts a read first only while
// `descriptor_state::try_speculative_[read_op]` is set, and `perform_io` sets it
// for every readiness event (EPOLLIN, EPOLLERR or EPOLLHUP) of the socket.
#if BOOST_VERSION == 108100 && defined(BOOST_ASIO_HAS_EPOLL) && \
    !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#define EDGE_READINESS_TRACKING 1
#include <boost/asio/detail/epoll_reactor.hpp>
#else
#define EDGE_READINESS_TRACKING 0
#endif

namespace edge::core {

#if EDGE_READINESS_TRACKING
namespace {

using Reactor = boost::asio::detail::epoll_reactor;
using State = Reactor::descriptor_state;

// A private member named in an explicit instantiation, which the language
// allows, and handed out through a friend function.
struct TrySpeculative {
  using type = bool (State::*)[Reactor::max_ops];
};
TrySpeculative::type member(TrySpeculative);
template <class Tag, typename Tag::type M>
struct Expose {
  friend typename Tag::type member(Tag) { return M; }
};
template struct Expose<TrySpeculative, &State::try_speculative_>;

// The socket's implementation is a protected member of basic_socket.
struct SocketAccess : Socket {
  static State* state(Socket& s) noexcept {
    return (s.*(&SocketAccess::impl_)).get_implementation().reactor_data_;
  }
  /// Asio's flags for the descriptor (socket_ops::state_type).
  static unsigned char& flags(Socket& s) noexcept {
    return (s.*(&SocketAccess::impl_)).get_implementation().state_;
  }
};

bool* read_flag(Socket& s) noexcept {
  State* d = SocketAccess::state(s);
  return d ? &(d->*member(TrySpeculative{}))[Reactor::read_op] : nullptr;
}

}  // namespace

bool may_have_input(Socket& s) noexcept {
  bool* f = read_flag(s);
  return !f || *f;
}

void mark_drained(Socket& s) noexcept {
  if (bool* f = read_flag(s)) *f = false;
}

bool read_now(Socket& s, boost::asio::mutable_buffer b, boost::system::error_code& ec,
              std::size_t& n) noexcept {
  bool* f = read_flag(s);
  if (!f) return false;  // not open, or not registered yet: Asio's own read decides
  if (!*f) return false;
  const ssize_t r = ::recv(s.native_handle(), b.data(), b.size(), MSG_DONTWAIT);
  if (r > 0) {
    ec = {};
    n = static_cast<std::size_t>(r);
    return true;
  }
  if (r == 0) {
    ec = b.size() == 0 ? boost::system::error_code{} : boost::asio::error::eof;
    n = 0;
    return true;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    *f = false;  // exact: nothing queued, not even a FIN
    return false;
  }
  if (errno == EINTR) return false;
  ec = boost::system::error_code(errno, boost::asio::error::get_system_category());
  n = 0;
  return true;
}

bool readiness_tracking() noexcept { return true; }

namespace {
/// Non-blocking already (accept4's flag) and no dup: no `ioctl` before the first
/// operation, no `EPOLL_CTL_DEL` at close (close(2) alone removes the
/// descriptor from the epoll set when it is the connection's only one).
void adopt_flags(Socket& s) noexcept {
  namespace ops = boost::asio::detail::socket_ops;
  unsigned char& f = SocketAccess::flags(s);
  f = static_cast<unsigned char>((f | ops::internal_non_blocking) & ~ops::possible_dup);
}
}  // namespace

#else

bool may_have_input(Socket&) noexcept { return true; }
void mark_drained(Socket&) noexcept {}
bool read_now(Socket&, boost::asio::mutable_buffer, boost::system::error_code&,
              std::size_t&) noexcept {
  return false;
}
bool readiness_tracking() noexcept { return false; }

namespace {
void adopt_flags(Socket&) noexcept {}
}  // namespace

#endif

bool accept_now(Acceptor& acceptor, Socket& socket, boost::asio::ip::tcp::endpoint& peer,
                boost::system::error_code& ec) noexcept {
  for (;;) {
    socklen_t len = static_cast<socklen_t>(peer.capacity());
    const int fd =
        ::accept4(acceptor.native_handle(), peer.data(), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int e = errno;
      if (e == EAGAIN || e == EWOULDBLOCK) return false;
      // Gone before it was accepted, or interrupted: the next one.
      if (e == ECONNABORTED || e == EPROTO || e == EINTR) continue;
      ec = boost::system::error_code(e, boost::asio::error::get_system_category());
      return true;
    }
    try {
      peer.resize(len);
    } catch (...) {  // not an IP address: cannot happen on a TCP listener
      ::close(fd);
      continue;
    }
    socket.assign(peer.protocol(), fd, ec);
    if (ec) {
      ::close(fd);
      return true;
    }
    adopt_flags(socket);
    return true;
  }
}

}  // namespace edge::core
