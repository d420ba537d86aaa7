#pragma once
/// Connection upgrades (RFC 9110 §7.8; WebSocket, RFC 6455 §4): which requests
/// may be upgraded, the `101 Switching Protocols` head sent to the client, and
/// the byte tunnel between client and target once both agreed.
///
/// After the 101, edged no longer parses anything: two relay loops copy bytes
/// (client → target and target → client), each through a fixed buffer taken
/// from the worker's relay buffer pool when its socket becomes readable and
/// returned after the write (an idle tunnel holds no buffer), never reading
/// while its write is pending (back-pressure). Either end may be TLS (an HTTPS
/// listener, an HTTPS target group): bytes are then read and written through
/// its stream. An EOF (or a TLS close_notify) on one side is passed on as a
/// half-close (shutdown of the write side of the other) when the other side is
/// plain; toward a TLS side it ends the tunnel, and the caller's close sends the
/// close_notify (a TLS stream cannot send one while its other direction is
/// being read). An error on either side, the idle timeout or a forced stop ends
/// both. The idle timeout is one coarse deadline (the worker's sweep), re-armed
/// by traffic in either direction.
/// Thread: worker.

#include "edge/tls/stream.hpp"
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/fields.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "edge/config/config.hpp"
#include "edge/core/types.hpp"
#include "edge/http/message_parser.hpp"

namespace edge {
class BufferPool;
class DeadlineList;
}  // namespace edge

namespace edge::proxy {

/// What an allowed `Upgrade` request asks for.
enum class UpgradeKind : std::uint8_t {
  none,       // not an upgrade, or one that is not allowed: forwarded as plain HTTP
  websocket,  // Upgrade: websocket
  other,      // another protocol listed in `upgrade_protocols`
};

struct UpgradeRequest {
  UpgradeKind kind = UpgradeKind::none;
  std::string_view protocol;  // the protocol offered to the target (points into the request)
};

/// Decides whether a request whose `Connection` names `upgrade` may be
/// forwarded as an upgrade: GET, HTTP/1.1, no request body, and the first
/// protocol of `Upgrade` (case-insensitive, version suffix ignored:
/// "websocket", "h2c", "foo/2") listed in `allowed`. Anything else gets
/// `none`, and the request is forwarded without Upgrade/Connection: the
/// target answers it as plain HTTP (how RFC 9110 lets a server decline).
/// Only the first protocol is offered to the target (with its version).
UpgradeRequest classify_upgrade(std::string_view method, unsigned version, bool has_body,
                                std::string_view upgrade, std::span<const std::string> allowed);

/// The `101 Switching Protocols` head for the client, from the target's: its
/// fields except hop-by-hop and framing ones, `Via` extended, then `added`
/// (CRLF-terminated field lines the edge adds to every response, e.g. the
/// target-group stickiness cookies: a 101 may carry Set-Cookie, RFC 6455
/// §4.2.2), then `Connection: Upgrade` and the target's `Upgrade` value. Ends
/// with the blank line.
void build_switching_protocols_head(std::string& out, const http::ResponseParser& target_head,
                                    std::string_view date, std::string_view added = {});

/// One side of a tunnel: its socket, and its TLS stream over that socket when
/// the side speaks TLS (nullptr: plain).
struct TunnelEnd {
  Socket& socket;
  tls::Stream* tls = nullptr;
};

/// Bytes relayed by a finished tunnel.
struct TunnelResult {
  std::uint64_t to_target = 0;  // client → target
  std::uint64_t to_client = 0;  // target → client, `head` included
  bool timed_out = false;       // ended by the idle timeout
};

/// Runs the tunnel until both directions are closed. First writes `head`
/// followed by what `from_target` holds (bytes the target sent after its 101)
/// to the client, and what `from_client` holds (bytes the client sent after
/// its request head) to the target; both buffers are consumed. Returns when
/// both loops ended; the caller closes the sockets. `client_deadline` and
/// `target_deadline` are the connection deadlines (kept disarmed meanwhile).
/// Cancelling either socket (a forced stop) ends both loops.
Task<TunnelResult> run_tunnel(TunnelEnd client, boost::beast::flat_buffer& from_client,
                              TunnelEnd target, boost::beast::flat_buffer& from_target,
                              std::string_view head, BufferPool& buffers, DeadlineList& deadlines,
                              config::Duration idle_timeout);

}  // namespace edge::proxy
