#include "edge/proxy/tunnel.hpp"

#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/write.hpp>

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
  Socket& client;
  Socket& target;
  Deadline deadline;
  config::Duration idle;
  bool aborted = false;
  TunnelResult result;

  Tunnel(Socket& c, Socket& t, DeadlineList& list, config::Duration idle_timeout)
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
    client.cancel(ec);
    target.cancel(ec);
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

/// One direction: `from` → `to`, after writing `first` (if any). A relay
/// buffer is taken from the worker's pool only once `from` is readable and
/// given back after the write, so an idle tunnel (most WebSockets, most of the
/// time) holds no buffer: memory follows the bytes in flight, not the number
/// of open tunnels.
Task<void> pump(Tunnel& t, Socket& from, Socket& to, std::array<asio::const_buffer, 2> first,
                BufferPool& pool, std::uint64_t& relayed) {
  if (first[0].size() + first[1].size() > 0) {
    t.deadline.arm(t.idle);
    auto [ec, n] = co_await asio::async_write(to, first, kUseTuple);
    relayed += n;
    if (ec || t.aborted) {
      if (!t.aborted) t.abort();
      co_return;
    }
  }
  for (;;) {
    t.deadline.arm(t.idle);
    auto [wait_ec] = co_await from.async_wait(asio::socket_base::wait_read, kUseTuple);
    if (t.aborted) co_return;
    if (wait_ec) {
      t.abort();
      co_return;
    }
    PooledBuffer buf(pool);
    boost::system::error_code ec;
    const std::size_t n = from.read_some(asio::buffer(buf.data(), pool.buffer_size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    if (ec == asio::error::eof) {
      // Half-close: pass the FIN on, keep relaying the other direction.
      boost::system::error_code ignored;
      to.shutdown(asio::socket_base::shutdown_send, ignored);
      co_return;
    }
    if (ec) {
      t.abort();
      co_return;
    }
    t.deadline.arm(t.idle);
    auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf.data(), n), kUseTuple);
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
                                    std::string_view date) {
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
  append_field(out, "Connection", "Upgrade");
  if (!upgrade.empty()) append_field(out, "Upgrade", upgrade);
  out.append("\r\n"sv);
}

Task<TunnelResult> run_tunnel(Socket& client, boost::beast::flat_buffer& from_client,
                              Socket& target, boost::beast::flat_buffer& from_target,
                              std::string_view head, BufferPool& buffers, DeadlineList& deadlines,
                              config::Duration idle_timeout) {
  using namespace boost::asio::experimental::awaitable_operators;
  Tunnel t(client, target, deadlines, idle_timeout);
  // Reads are attempted only once a socket is readable (see pump).
  boost::system::error_code ec;
  client.non_blocking(true, ec);
  target.non_blocking(true, ec);
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
