#pragma once
/// What a route with a cache policy forwards to its targets, as CloudFront
/// does: the viewer headers, cookies and query strings in the cache key, plus
/// those an origin request policy adds (without being in the key), plus what
/// HTTP needs (Host, body framing and type, conditionals and Range, the edge's
/// own X-Forwarded-*, Via and trace id). Everything else the viewer sent stays
/// at the edge. Managed origin request policies exist by name: AllViewer,
/// AllViewerExceptHostHeader, UserAgentRefererHeaders, CORS-CustomOrigin.
/// Ownership: compiled once per config snapshot with the route actions.
/// Thread: any (const).

#include <optional>
#include <string>
#include <string_view>

#include "edge/cache/cache_policy.hpp"
#include "edge/config/config.hpp"

namespace edge::cache {

/// The managed origin request policy `name`, or nullopt.
std::optional<config::OriginRequestPolicyConfig> managed_origin_request_policy(
    std::string_view name);

class ForwardPolicy {
 public:
  /// `orp` null: no origin request policy (only the key and what HTTP needs).
  ForwardPolicy(const CachePolicy& cache, const config::OriginRequestPolicyConfig* orp);

  /// Whether the viewer's header `name` goes to the target. Cookie (filtered
  /// with cookie()), Host and the edge's own fields are decided by the caller.
  bool header(std::string_view name) const;
  /// The Cookie value with only the forwarded cookies ("" when none).
  std::string cookie(std::string_view value) const;
  /// The query (without '?') with only the forwarded parameters, in order.
  std::string query(std::string_view query) const;
  /// All query strings go: the target is sent as received.
  bool all_query() const;
  /// Host is replaced by the target's address (AllViewerExceptHostHeader).
  bool replace_host() const { return replace_host_; }
  /// Accept-Encoding as normalised for the key ("" = not sent).
  bool normalize_accept_encoding() const { return gzip_ || br_; }

 private:
  config::KeySelector key_headers_;  // whitelist of the key's headers
  config::KeySelector headers_;
  config::KeySelector key_cookies_, cookies_;
  config::KeySelector key_query_, query_;
  bool replace_host_ = false;
  bool gzip_ = false, br_ = false;
};

}  // namespace edge::cache
