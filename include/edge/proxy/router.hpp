#pragma once
/// Listener rules compiled for matching: conditions with ALB semantics evaluated
/// by ascending priority, the default action last.
/// Ownership: a Router is built from one ListenerConfig per config snapshot (on the
/// control thread; construction may throw) and is immutable afterwards.
/// Thread: any (route() is const, allocation-free and lock-free).

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edge/cache/cache_policy.hpp"
#include "edge/cache/origin_request_policy.hpp"
#include "edge/config/config.hpp"
#include "edge/proxy/request_ctx.hpp"

namespace edge::proxy {

/// The parts of a request the rules look at. All views point into the parsed
/// request and must outlive the route() call; nothing is copied.
struct RequestView {
  std::string_view method;
  std::string_view path;                 // without the query, e.g. "/a/b"
  std::string_view query;                // without the '?', still percent-encoded
  std::string_view host;                 // Host header without the port, any case
  const RequestHead* headers = nullptr;  // field lookup; nullptr = no fields
  boost::asio::ip::address client_ip;    // peer address of the connection
};

/// Splits `head.target()` into path and query (origin-form; the scheme and
/// authority of an absolute-form target are skipped) and takes the Host field
/// without its port. The result points into `head`.
RequestView make_request_view(const RequestHead& head, const boost::asio::ip::address& client);

/// One target group of a forward action.
struct ForwardTarget {
  std::string name;          // target group name
  std::uint32_t index = 0;   // position in the group names given to the Router
  std::uint32_t weight = 1;  // 0..999; 0 never receives traffic
  std::uint32_t name_hash = 0;  // group_name_hash(name), names it in sticky cookies
};

/// A rule's action, compiled: target groups resolved to indexes.
struct RouteAction {
  using Kind = config::Action::Kind;
  Kind kind = Kind::forward;

  // kind == forward
  std::vector<ForwardTarget> forward;
  std::uint32_t forward_weight_total = 0;
  std::string cache_policy;           // empty = none
  /// The compiled cache policy when the Router was built with the config and
  /// the policy stores anything (CachingDisabled compiles to none). Requests
  /// through an action without one never touch the cache.
  std::shared_ptr<const cache::CachePolicy> cache;
  /// With `cache`: what the target gets (cache key + origin request policy).
  std::shared_ptr<const cache::ForwardPolicy> forward_policy;
  std::string origin_request_policy;  // empty = none
  bool sticky = false;                // target_group_stickiness.enabled
  std::int64_t sticky_seconds = 0;    // target_group_stickiness.duration

  config::FixedResponseAction fixed_response;  // kind == fixed_response
  config::RedirectAction redirect;             // kind == redirect

  /// The forward group chosen by weight for a uniform `random` value: group i
  /// with probability weight_i / sum(weights). nullptr when the weights sum to 0
  /// or there is no group (the caller answers 503).
  const ForwardTarget* pick_forward(std::uint64_t random) const;
};

struct RouteResult {
  int priority = 0;                     // matched rule priority; 0 = default action
  const RouteAction* action = nullptr;  // owned by the Router, never null
  /// Index of the matched rule in evaluation order; rule_count() for the default action.
  std::uint32_t rule = 0;
  std::uint32_t evaluated = 0;  // rules whose conditions were evaluated
};

class Router {
 public:
  /// Compiles `listener.rules` (sorted by priority, stable for equal ones) and the
  /// default action. `group_names[i]` is target group i; forward actions refer to
  /// groups by that index. Throws std::runtime_error naming the listener and rule
  /// for an unknown target group or a malformed CIDR. With `config`, forward
  /// actions' cache policies are compiled (RouteAction::cache); it is only
  /// read during construction.
  Router(const config::ListenerConfig& listener, std::span<const std::string> group_names,
         const config::Config* config = nullptr);
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  /// First rule whose conditions all match, else the default action. Does not
  /// allocate; cost is linear in the rules tried.
  RouteResult route(const RequestView& request) const;

  const std::string& listener() const { return listener_; }
  std::size_t rule_count() const;
  /// Priority of rule `i` in evaluation order (i < rule_count()).
  int rule_priority(std::size_t i) const;
  const RouteAction& default_action() const { return actions_.back(); }

 private:
  struct Rule;

  std::string listener_;
  std::vector<Rule> rules_;           // ascending priority
  std::vector<RouteAction> actions_;  // rules' actions, then the default action
};

/// ALB redirect target built from `redirect` and the request: `#{protocol}`,
/// `#{host}`, `#{port}`, `#{path}` (without its leading '/') and `#{query}` are
/// replaced in every component; the result is "proto://host[:port]/path[?query]"
/// with the port omitted when it is the protocol's default and "?" omitted when
/// the query is empty. `protocol` is the listener's ("HTTP"/"HTTPS", any case),
/// `port` its port. Allocates the returned string (redirects only).
std::string expand_redirect(const config::RedirectAction& redirect, const RequestView& request,
                            std::string_view protocol, std::uint16_t port);

}  // namespace edge::proxy
