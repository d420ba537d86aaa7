#pragma once
/// Cache policies as CloudFront defines them: TTL bounds and what goes into the
/// cache key (host and path always; selected query strings, headers and cookies;
/// the normalised Accept-Encoding). Managed policies exist by name.
/// Ownership: compiled once per config snapshot, immutable afterwards.
/// Thread: any (const).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edge/config/config.hpp"

namespace edge::proxy {
class RequestHead;
}

namespace edge::cache {

struct CachePolicy {
  std::string name;
  std::int64_t min_ttl = 0;  // seconds
  std::int64_t default_ttl = 86400;
  std::int64_t max_ttl = 31536000;
  std::vector<std::string> key_headers;  // lower-case names
  config::KeySelector key_cookies;
  config::KeySelector key_query_strings;
  bool gzip = false;  // Accept-Encoding normalisation
  bool br = false;

  /// CachingDisabled and any policy with max_ttl 0: nothing is stored.
  bool caching_enabled() const { return max_ttl > 0; }
};

/// CloudFront's managed cache policies: CachingOptimized,
/// CachingOptimizedForUncompressedObjects, CachingDisabled,
/// UseOriginCacheControlHeaders, UseOriginCacheControlHeaders-QueryStrings.
std::optional<config::CachePolicyConfig> managed_cache_policy(std::string_view name);

/// Compiles a declared (or managed) policy. Durations are whole seconds.
CachePolicy compile_cache_policy(const config::CachePolicyConfig& cfg);

/// The policy named `name`: a declared one from `cfg`, else a managed one;
/// nullopt when neither exists.
std::optional<CachePolicy> find_cache_policy(const config::Config& cfg, std::string_view name);

/// CloudFront's normalised Accept-Encoding for `accept_encoding` under `policy`:
/// "br,gzip", "br", "gzip" or "" (codings with q=0 do not count).
std::string normalize_accept_encoding(const CachePolicy& policy, std::string_view accept_encoding);

/// The parts of a request a key is made of.
struct KeyRequest {
  std::string_view host;   // without port, any case (lower-cased in the key)
  std::string_view path;   // as received, without the query
  std::string_view query;  // without '?', still percent-encoded
  const proxy::RequestHead* head = nullptr;  // headers and cookies
};

/// The cache key: host, path, the selected query parameters (sorted), header
/// values and cookies, and the normalised Accept-Encoding. Each component is
/// length-prefixed, so no request can forge another request's key.
std::string make_cache_key(const CachePolicy& policy, const KeyRequest& request);

}  // namespace edge::cache
