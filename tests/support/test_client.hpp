#pragma once
/// Blocking HTTP/1.1 client for integration tests. Every network wait has a
/// deadline, so a broken server or proxy fails the test instead of hanging it.
/// Thread: one thread per `Connection` (each owns a private io_context).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace edge::test {

using Headers = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::chrono::milliseconds kDefaultTimeout{10'000};

struct Response {
  int status = 0;
  std::string reason;
  Headers headers;  // in the order received
  std::string body;
  bool keep_alive = false;
  /// Set when no complete response was read: timed_out, eof, connection_reset,
  /// a Beast parse error (e.g. bad_version for garbage), ...
  std::error_code error;

  bool ok() const { return !error; }
  /// Value of the first header named `name` (case-insensitive), "" when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  /// How many headers are named `name` (case-insensitive).
  std::size_t header_count(std::string_view name) const;
};

class Connection {
 public:
  /// Connects to host:port (blocking, loopback is immediate). Check `ok()`.
  explicit Connection(std::uint16_t port, const std::string& host = "127.0.0.1");
  ~Connection();
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool ok() const;
  /// Why connecting failed, if it did.
  std::error_code connect_error() const;
  std::uint16_t port() const;
  std::uint16_t local_port() const;

  /// Writes all of `data` before the timeout.
  std::error_code send_raw(std::string_view data,
                           std::chrono::milliseconds timeout = kDefaultTimeout);

  /// Reads one response (an interim 1xx counts as one). `head_request`: the
  /// response answers a HEAD, so it has no body whatever its headers say.
  Response read_response(std::chrono::milliseconds timeout = kDefaultTimeout,
                         bool head_request = false);

  /// Sends `method target HTTP/1.1` with `headers` and `body`, then reads the final
  /// response (interim 1xx responses are skipped). Adds `Host` unless given, and
  /// `Content-Length` when there is a body or the method is POST/PUT/PATCH, unless
  /// `Content-Length` or `Transfer-Encoding` is given.
  Response request(std::string_view method, std::string_view target, const Headers& headers = {},
                   std::string_view body = {}, std::chrono::milliseconds timeout = kDefaultTimeout);

  /// True if the peer closed the connection (EOF or reset) within `timeout`;
  /// false on timeout or if data arrived (the data is kept for read_response).
  bool closed_by_peer(std::chrono::milliseconds timeout = kDefaultTimeout);

  /// Reads until at least `n` bytes have arrived and are buffered (true), or
  /// the peer closes or the timeout passes (false). Nothing is consumed: a
  /// later read_response or read_until_closed sees the same bytes.
  bool wait_for_bytes(std::size_t n, std::chrono::milliseconds timeout = kDefaultTimeout);
  /// Bytes received and not yet consumed by a read.
  std::string_view buffered() const;

  /// Everything the peer sends until it closes (or the timeout passes), including
  /// bytes already buffered by an earlier read. For checking exact wire framing.
  std::string read_until_closed(std::chrono::milliseconds timeout = kDefaultTimeout);

  /// Half-close: sends FIN, keeps reading possible.
  void shutdown_send();
  /// Closes the socket (FIN, or RST if unread data is pending).
  void close();
  /// Closes with SO_LINGER 0 (RST).
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Connects to 127.0.0.1:port.
Connection connect(std::uint16_t port);

/// One request on a fresh connection.
Response http_get(std::uint16_t port, std::string_view target, const Headers& headers = {},
                  std::chrono::milliseconds timeout = kDefaultTimeout);

/// "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n...\r\n\r\n" helper for raw tests.
std::string make_request(std::string_view method, std::string_view target,
                         const Headers& headers = {}, std::string_view body = {});

}  // namespace edge::test
