#include "edge/proxy/tunnel.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <openssl/ssl.h>

#include "edge/core/buffer_pool.hpp"
#include "edge/core/deadline.hpp"
#include "edge/http/hop_by_hop.hpp"

namespace edge::proxy {

namespace bhttp = boost::beast::http;
using namespace std::string_view_literals;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": "sv);
  out.append(value);
  out.append("\r\n"sv);
}

/// Shared by the two relay loops of one tunnel (lives in run_tunnel's frame).
struct Tunnel {
  TunnelEnd client;
  TunnelEnd target;
  Deadline deadline;
  config::Duration idle;
  bool aborted = false;
  TunnelResult result;

  Tunnel(TunnelEnd c, TunnelEnd t, DeadlineList& list, config::Duration idle_timeout)
      : client(c), target(t), idle(idle_timeout) {
    deadline.attach(list, &Tunnel::on_idle, this);
  }

  static void on_idle(void* self) {
    auto* t = static_cast<Tunnel*>(self);
    t->result.timed_out = true;
    t->abort();
  }

  /// Ends both directions: pending operations complete with operation_aborted
  /// and the loops see `aborted` before starting another.
  void abort() {
    aborted = true;
    deadline.disarm();
    boost::system::error_code ec;
    client.socket.cancel(ec);  // a TLS operation waits on its socket: cancelled too
    target.socket.cancel(ec);
  }
};

/// RAII for a relay buffer from the worker's pool.
class PooledBuffer {
 public:
  explicit PooledBuffer(BufferPool& pool) : pool_(pool), data_(pool.acquire()) {}
  ~PooledBuffer() { pool_.release(data_); }
  PooledBuffer(const PooledBuffer&) = delete;
  PooledBuffer& operator=(const PooledBuffer&) = delete;
  char* data() const { return data_; }

 private:
  BufferPool& pool_;
  char* data_;
};

/// Writes `bufs` to `to`, through TLS when it has it. Not a coroutine: the
/// caller awaits the operation itself.
template <class Buffers>
Task<std::tuple<boost::system::error_code, std::size_t>> write_end(TunnelEnd& to,
                                                                   const Buffers& bufs) {
  if (to.tls != nullptr) return asio::async_write(*to.tls, bufs, kUseTuple);
  return asio::async_write(to.socket, bufs, kUseTuple);
}

/// A clean end of one direction: FIN, or TLS close_notify (or a FIN without
/// it, which many peers send).
bool is_end_of_stream(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
}

/// One direction: `from` → `to`, after writing `first` (if any). A relay
/// buffer is taken from the worker's pool only once `from` has bytes and
/// given back after the write, so an idle tunnel (most WebSockets, most of the
/// time) holds no buffer: memory follows the bytes in flight, not the number
/// of open tunnels. A plain end is awaited readable, then read without
/// blocking; a TLS end has one byte awaited (the bytes on the socket may not
/// be application data), then whatever the same record holds is taken from
/// OpenSSL without I/O: at most one record (16 KiB) per write.
Task<void> pump(Tunnel& t, TunnelEnd from, TunnelEnd to, std::array<asio::const_buffer, 2> first,
                BufferPool& pool, std::uint64_t& relayed) {
  if (first[0].size() + first[1].size() > 0) {
    t.deadline.arm(t.idle);
    auto [ec, n] = co_await write_end(to, first);
    relayed += n;
    if (ec || t.aborted) {
      if (!t.aborted) t.abort();
      co_return;
    }
  }
  const std::size_t cap = pool.buffer_size();
  for (;;) {
    t.deadline.arm(t.idle);
    std::optional<PooledBuffer> buf;
    std::size_t n = 0;
    boost::system::error_code ec;
    if (from.tls == nullptr) {
      auto [wait_ec] = co_await from.socket.async_wait(asio::socket_base::wait_read, kUseTuple);
      if (t.aborted) co_return;
      if (wait_ec) {
        t.abort();
        co_return;
      }
      buf.emplace(pool);
      n = from.socket.read_some(asio::buffer(buf->data(), cap), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    } else {
      char byte = 0;
      std::tie(ec, n) = co_await from.tls->async_read_some(asio::buffer(&byte, 1), kUseTuple);
      if (t.aborted) co_return;
      if (!ec && n == 1) {
        buf.emplace(pool);
        buf->data()[0] = byte;
        SSL* ssl = from.tls->native_handle();
        while (n < cap) {
          const int pending = SSL_pending(ssl);
          if (pending <= 0) break;
          const int want =
              static_cast<int>(std::min<std::size_t>(cap - n, static_cast<std::size_t>(pending)));
          const int got = SSL_read(ssl, buf->data() + n, want);
          if (got <= 0) break;
          n += static_cast<std::size_t>(got);
        }
      }
    }
    if (is_end_of_stream(ec)) {
      if (to.tls == nullptr) {
        // Half-close: pass the FIN on, keep relaying the other direction.
        boost::system::error_code ignored;
        to.socket.shutdown(asio::socket_base::shutdown_send, ignored);
        co_return;
      }
      // A TLS end cannot be half-closed here: its close_notify needs the
      // stream to itself (the other direction is reading it). The tunnel
      // ends; the caller closes that end with a close_notify.
      t.abort();
      co_return;
    }
    if (ec) {
      t.abort();
      co_return;
    }
    t.deadline.arm(t.idle);
    auto [wec, wn] = co_await write_end(to, asio::buffer(buf->data(), n));
    relayed += wn;
    if (t.aborted) co_return;
    if (wec) {
      t.abort();
      co_return;
    }
  }
}

}  // namespace

UpgradeRequest classify_upgrade(std::string_view method, unsigned version, bool has_body,
                                std::string_view upgrade, std::span<const std::string> allowed) {
  if (method != "GET"sv || version < 11 || has_body) return {};
  // "websocket", or the first of "proto/1, other": protocols are tried in the
  // client's order; edged offers the target the first one only.
  std::string_view first = trim(upgrade.substr(0, upgrade.find(',')));
  std::string_view name = first.substr(0, first.find('/'));
  if (name.empty()) return {};
  for (const auto& a : allowed) {
    if (iequals(a, name))
      return {iequals(name, "websocket") ? UpgradeKind::websocket : UpgradeKind::other, first};
  }
  return {};
}

void build_switching_protocols_head(std::string& out, const http::ResponseParser& head,
                                    std::string_view date, std::string_view added) {
  out.clear();
  out.append("HTTP/1.1 101 Switching Protocols\r\n"sv);
  std::string_view via, upgrade;
  bool has_date = false;
  for (const auto& f : head) {
    const bhttp::field name = f.name();
    auto ns = f.name_string();
    auto vs = f.value();
    std::string_view n(ns.data(), ns.size()), v(vs.data(), vs.size());
    if (name == bhttp::field::upgrade) {
      upgrade = v;
      continue;
    }
    if (http::is_hop_by_hop_or_framing(name)) continue;
    if (name == bhttp::field::via) {
      via = v;
      continue;
    }
    if (name == bhttp::field::date) has_date = true;
    append_field(out, n, v);
  }
  if (!has_date) append_field(out, "Date", date);
  out.append("Via: "sv);
  if (!via.empty()) {
    out.append(via);
    out.append(", "sv);
  }
  out.append("1.1 edged\r\n"sv);
  out.append(added);
  append_field(out, "Connection", "Upgrade");
  if (!upgrade.empty()) append_field(out, "Upgrade", upgrade);
  out.append("\r\n"sv);
}

Task<TunnelResult> run_tunnel(TunnelEnd client, boost::beast::flat_buffer& from_client,
                              TunnelEnd target, boost::beast::flat_buffer& from_target,
                              std::string_view head, BufferPool& buffers, DeadlineList& deadlines,
                              config::Duration idle_timeout) {
  using namespace boost::asio::experimental::awaitable_operators;
  Tunnel t(client, target, deadlines, idle_timeout);
  // Plain reads are attempted only once a socket is readable (see pump).
  boost::system::error_code ec;
  if (client.tls == nullptr) client.socket.non_blocking(true, ec);
  if (target.tls == nullptr) target.socket.non_blocking(true, ec);
  std::array<asio::const_buffer, 2> to_client{asio::buffer(head.data(), head.size()),
                                              from_target.data()};
  std::array<asio::const_buffer, 2> to_target{from_client.data(), asio::const_buffer()};
  co_await (pump(t, client, target, to_target, buffers, t.result.to_target) &&
            pump(t, target, client, to_client, buffers, t.result.to_client));
  t.deadline.disarm();
  from_client.consume(from_client.size());
  from_target.consume(from_target.size());
  co_return t.result;
}

}  // namespace edge::proxy
