#pragma once
/// The I/O types of the data plane, defined once: plain sockets on the worker's
/// concrete io_context executor (no any_io_executor, no beast::tcp_stream: both
/// cost instructions per operation, see PERFORMANCE.md), and an awaitable token
/// that returns error codes instead of throwing.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace edge {

namespace asio = boost::asio;

using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<asio::ip::tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<asio::ip::tcp, Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                         asio::wait_traits<std::chrono::steady_clock>, Executor>;
template <class T = void>
using Task = asio::awaitable<T, Executor>;

/// `co_await op(..., kUseTuple)` yields a tuple (error_code, results...).
inline constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable_t<Executor>{});

}  // namespace edge
