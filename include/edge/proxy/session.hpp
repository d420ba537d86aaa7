#pragma once
/// Downstream connection: the keep-alive loop and the whole request flow
/// (read head → validate → route → pick target → upstream connection → relay →
/// log) live in src/proxy/session.cpp, one function per step, in order.
/// Thread: worker.

#include "edge/core/types.hpp"

namespace edge::server {
class Worker;
struct ListenerRuntime;
}  // namespace edge::server

namespace edge::proxy {

class Session;

/// Takes ownership of an accepted client socket and serves it on `worker`.
void start_session(server::Worker& worker, const server::ListenerRuntime& listener,
                   Socket socket);

/// Closes the client connection of `s` if it is idle between requests (drain),
/// or at once when `force` (stop).
void close_session(Session* s, bool force);

}  // namespace edge::proxy
