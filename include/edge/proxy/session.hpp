#pragma once
/// Downstream connection: the keep-alive loop and the whole request flow
/// (read head → validate → route → pick target → upstream connection → relay →
/// log) live in src/proxy/session.cpp, one function per step, in order.
/// Thread: worker.

#include <cstddef>
#include <memory>
#include <string_view>

#include "edge/core/types.hpp"

namespace edge::server {
class Worker;
struct Snapshot;
}  // namespace edge::server

namespace edge::proxy {

class Session;

/// Takes ownership of an accepted client socket and serves it on `worker`,
/// for listener `listener` of `snapshot` (the worker's current one). Each
/// request then uses the worker's snapshot current when it starts; when that
/// one no longer has the listener (removed by a reload), the connection closes
/// before its next request. `peer` is the client's address, as accept gave it.
void start_session(server::Worker& worker, const std::shared_ptr<const server::Snapshot>& snapshot,
                   std::size_t listener, Socket socket, const boost::asio::ip::tcp::endpoint& peer);

/// The key (listen address) of the listener `s` was accepted on.
std::string_view session_listener(const Session* s);

/// Closes the client connection of `s` if it is idle between requests (drain),
/// or at once when `force` (stop).
void close_session(Session* s, bool force);

}  // namespace edge::proxy
