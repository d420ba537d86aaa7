#pragma once
/// Read readiness of a worker's sockets, as the worker's epoll reactor knows it.
///
/// Asio starts every read on a stream socket with a non-blocking `recvfrom`,
/// unless the socket was seen at EOF. On a keep-alive connection the read that
/// waits for the next request (or for a target's response) therefore costs one
/// `recvfrom` that fails with EAGAIN, before the reactor waits for the socket.
/// The reactor already records, per socket, whether the kernel reported it
/// readable since: these helpers use that record, so that a read that would
/// fail is not attempted.
///
/// `mark_drained` says that the socket has nothing to read now. It is exact
/// after a read that failed with EAGAIN. After a read that returned fewer bytes
/// than asked it is exact for data, but a FIN that the kernel reported in the
/// same readiness event as the data is not seen until more happens on the
/// socket (a later segment, an RST, a timeout). Callers mark a socket drained
/// that way only at message boundaries, where a hidden FIN only delays closing
/// an idle connection, and never while a message is being read. A mark must be
/// made in the same handler that ran the read, with no wait in between, or an
/// event that arrived meanwhile would be forgotten.
///
/// With another Asio version or reactor these helpers change nothing: every
/// read is attempted, as Asio does.

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>

#include "edge/core/types.hpp"

namespace edge::core {

/// True when the reactor may have input for `s`: the kernel reported it
/// readable since the last mark, or it was never marked.
bool may_have_input(Socket& s) noexcept;

/// Records that `s` has nothing to read: the next read on it waits for the
/// kernel's readiness event instead of trying first.
void mark_drained(Socket& s) noexcept;

/// Reads what is there without waiting, when the reactor says there may be
/// something. Returns true with the result in `ec` and `n` (data, `eof` or an
/// error), or false when nothing can be read now: the socket is then marked
/// drained and an `async_read_some` on it waits without another attempt.
bool read_now(Socket& s, boost::asio::mutable_buffer b, boost::system::error_code& ec,
              std::size_t& n) noexcept;

/// Accepts a connection queued on `acceptor` (which must be in non-blocking
/// mode) without waiting: `accept4` with SOCK_NONBLOCK and SOCK_CLOEXEC, the
/// peer's address in `peer`, and the new descriptor assigned to `socket`
/// (closed, on the worker's executor). Returns false when nothing is queued;
/// otherwise true, with `ec` set when accepting failed (EMFILE, say).
/// Connections that were aborted while queued are skipped.
///
/// Asio's own accept costs two more system calls per connection: an `ioctl` to
/// set the socket non-blocking on its first operation, and an `EPOLL_CTL_DEL`
/// when it is closed, because Asio treats an assigned descriptor as a possible
/// dup of another one. Here the socket is known to be non-blocking and to be
/// the only descriptor of its connection, and the reactor is told so (in
/// builds where `readiness_tracking()` is true; elsewhere Asio's defaults stay).
bool accept_now(Acceptor& acceptor, Socket& socket, boost::asio::ip::tcp::endpoint& peer,
                boost::system::error_code& ec) noexcept;

/// Whether these helpers are active in this build (Boost 1.81, epoll reactor).
bool readiness_tracking() noexcept;

}  // namespace edge::core
