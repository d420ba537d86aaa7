#include "support/test_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

namespace edge::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool has(const Headers& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (iequals(h.first, name)) return true;
  }
  return false;
}

}  // namespace

// ---- Response -------------------------------------------------------------------

std::string Response::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return {};
}

bool Response::has_header(std::string_view name) const { return has(headers, name); }

std::size_t Response::header_count(std::string_view name) const {
  std::size_t count = 0;
  for (const auto& h : headers) {
    if (iequals(h.first, name)) ++count;
  }
  return count;
}

// ---- Connection -----------------------------------------------------------------

/// All I/O is asynchronous on a private io_context run for at most the deadline;
/// on expiry the socket's operations are cancelled and the call reports timed_out.
/// (SO_RCVTIMEO does not help: Asio's blocking reads poll again after EAGAIN.)
struct Connection::Impl {
  asio::io_context ioc{1};
  asio::ip::tcp::socket socket{ioc};
  beast::flat_buffer buffer;
  error_code connect_ec;
  std::uint16_t port = 0;

  template <class Start>
  error_code run(Start start, std::chrono::milliseconds timeout) {
    error_code result;
    bool done = false;
    start([&result, &done](error_code ec, std::size_t) {
      result = ec;
      done = true;
    });
    ioc.restart();
    ioc.run_for(timeout);
    if (!done) {
      error_code ignored;
      socket.cancel(ignored);
      ioc.restart();
      ioc.run();
      return asio::error::timed_out;
    }
    return result;
  }
};

Connection::Connection(std::uint16_t port, const std::string& host)
    : impl_(std::make_unique<Impl>()) {
  impl_->port = port;
  impl_->buffer.reserve(16 * 1024);
  error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  if (ec) {
    impl_->connect_ec = ec;
    return;
  }
  impl_->socket.connect({addr, port}, impl_->connect_ec);
  if (!impl_->connect_ec) impl_->socket.set_option(asio::ip::tcp::no_delay(true), ec);
}

Connection::~Connection() = default;
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;

bool Connection::ok() const { return impl_ && !impl_->connect_ec; }

std::error_code Connection::connect_error() const { return impl_->connect_ec; }

std::uint16_t Connection::port() const { return impl_->port; }

std::uint16_t Connection::local_port() const {
  error_code ec;
  const auto ep = impl_->socket.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

std::error_code Connection::send_raw(std::string_view data, std::chrono::milliseconds timeout) {
  if (!ok()) return impl_->connect_ec;
  Impl& impl = *impl_;
  return impl.run(
      [&impl, data](auto handler) {
        asio::async_write(impl.socket, asio::buffer(data.data(), data.size()), handler);
      },
      timeout);
}

Response Connection::read_response(std::chrono::milliseconds timeout, bool head_request) {
  Response out;
  if (!ok()) {
    out.error = impl_->connect_ec;
    return out;
  }
  Impl& impl = *impl_;
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  parser.header_limit(1024 * 1024);
  if (head_request) parser.skip(true);
  const error_code ec =
      impl.run([&impl, &parser](
                   auto handler) { http::async_read(impl.socket, impl.buffer, parser, handler); },
               timeout);
  if (ec) {
    out.error = ec;
    return out;
  }
  const auto& msg = parser.get();
  out.status = static_cast<int>(msg.result_int());
  out.reason = std::string(msg.reason());
  for (const auto& f : msg) {
    out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  out.body = msg.body();
  out.keep_alive = msg.keep_alive();
  return out;
}

Response Connection::request(std::string_view method, std::string_view target,
                             const Headers& headers, std::string_view body,
                             std::chrono::milliseconds timeout) {
  Headers all = headers;
  if (!has(all, "Host")) all.emplace_back("Host", "127.0.0.1:" + std::to_string(port()));
  if (const std::error_code ec = send_raw(make_request(method, target, all, body), timeout)) {
    Response out;
    out.error = ec;
    return out;
  }
  const bool head = method == "HEAD";
  for (;;) {
    Response r = read_response(timeout, head);
    if (r.error || r.status < 100 || r.status >= 200 || r.status == 101) return r;
  }
}

bool Connection::closed_by_peer(std::chrono::milliseconds timeout) {
  if (!ok()) return false;
  Impl& impl = *impl_;
  if (impl.buffer.size() > 0) return false;
  std::size_t got = 0;
  const error_code ec = impl.run(
      [&impl, &got](auto handler) {
        impl.socket.async_read_some(impl.buffer.prepare(4096),
                                    [&got, handler](error_code e, std::size_t n) mutable {
                                      got = n;
                                      handler(e, n);
                                    });
      },
      timeout);
  impl.buffer.commit(got);
  return ec == asio::error::eof || ec == asio::error::connection_reset;
}

bool Connection::wait_for_bytes(std::size_t n, std::chrono::milliseconds timeout) {
  if (!ok()) return false;
  Impl& impl = *impl_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (impl.buffer.size() < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    std::size_t got = 0;
    const error_code ec = impl.run(
        [&impl, &got](auto handler) {
          impl.socket.async_read_some(impl.buffer.prepare(64 * 1024),
                                      [&got, handler](error_code e, std::size_t k) mutable {
                                        got = k;
                                        handler(e, k);
                                      });
        },
        left);
    impl.buffer.commit(got);
    if (ec) return impl.buffer.size() >= n;
  }
  return true;
}

std::string_view Connection::buffered() const {
  const auto& b = impl_->buffer;
  return {static_cast<const char*>(b.data().data()), b.size()};
}

std::string Connection::read_until_closed(std::chrono::milliseconds timeout) {
  if (!ok()) return {};
  Impl& impl = *impl_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    std::size_t got = 0;
    const error_code ec = impl.run(
        [&impl, &got](auto handler) {
          impl.socket.async_read_some(impl.buffer.prepare(64 * 1024),
                                      [&got, handler](error_code e, std::size_t n) mutable {
                                        got = n;
                                        handler(e, n);
                                      });
        },
        left);
    impl.buffer.commit(got);
    if (ec) break;
  }
  std::string out(static_cast<const char*>(impl.buffer.data().data()), impl.buffer.size());
  impl.buffer.consume(impl.buffer.size());
  return out;
}

void Connection::shutdown_send() {
  error_code ec;
  impl_->socket.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
}

void Connection::close() {
  error_code ec;
  impl_->socket.close(ec);
}

void Connection::reset() {
  error_code ec;
  impl_->socket.set_option(asio::socket_base::linger(true, 0), ec);
  impl_->socket.close(ec);
}

// ---- free functions ------------------------------------------------------------------

Connection connect(std::uint16_t port) { return Connection(port); }

Response http_get(std::uint16_t port, std::string_view target, const Headers& headers,
                  std::chrono::milliseconds timeout) {
  Connection c(port);
  if (!c.ok()) {
    Response out;
    out.error = c.connect_error();
    return out;
  }
  return c.request("GET", target, headers, {}, timeout);
}

std::string make_request(std::string_view method, std::string_view target, const Headers& headers,
                         std::string_view body) {
  std::string out;
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  if (!has(headers, "Host")) out.append("Host: localhost\r\n");
  for (const auto& [name, value] : headers)
    out.append(name).append(": ").append(value).append("\r\n");
  const bool framed = has(headers, "Content-Length") || has(headers, "Transfer-Encoding");
  const bool wants_length =
      !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
  if (!framed && wants_length)
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  out.append("\r\n");
  out.append(body);
  return out;
}

}  // namespace edge::test
