#pragma once
/// Named phases of a proxied request, in the order they run, each with a default
/// no-op. One ProxyHooks object serves all workers concurrently: implementations
/// keep per-request state in RequestCtx, not in members (or make members safe).
/// Thread: called on the worker that owns the request.

#include <span>

#include "edge/proxy/request_ctx.hpp"
#include "edge/upstream/target.hpp"

namespace edge::proxy {

class ProxyHooks {
 public:
  virtual ~ProxyHooks() = default;

  /// 1. The request head was read and validated; the route is not chosen yet.
  /// Calling `ctx.respond(...)` answers the request here: nothing goes upstream.
  virtual void on_request(RequestCtx& ctx) { (void)ctx; }

  /// 2. Choose the target among the routable `candidates` of the chosen target
  /// group. Return nullptr to let the group's algorithm choose (the default).
  /// Returning a target already tried for this request is allowed.
  virtual upstream::Target* select_target(RequestCtx& ctx,
                                          std::span<upstream::Target* const> candidates) {
    (void)ctx;
    (void)candidates;
    return nullptr;
  }

  /// 3. Just before the request head is written to the target: add or remove
  /// fields through `ctx.upstream_request_edits`. Runs once per attempt.
  virtual void on_upstream_request(RequestCtx& ctx) { (void)ctx; }

  /// 4. The target's response head arrived (`ctx.target_status`); add or remove
  /// fields of the response sent to the client through `ctx.response_edits`.
  virtual void on_response(RequestCtx& ctx) { (void)ctx; }

  /// 5. The request is finished (answered, failed or aborted); `ctx` holds the
  /// outcome. Must not block.
  virtual void on_log(const RequestCtx& ctx) { (void)ctx; }
};

}  // namespace edge::proxy
