#pragma once
/// Whether a response may be stored, for how long it is fresh, how old it is,
/// and whether a stored response may answer a request — RFC 9111 for a shared
/// cache, with CloudFront's TTL rules from the cache policy on top:
///
/// - min_ttl = 0 (the usual case): RFC 9111 decides what is stored; the
///   freshness lifetime (s-maxage, else max-age, else Expires − Date) is clamped
///   to max_ttl; without freshness information default_ttl applies, and when
///   default_ttl is 0 too, heuristic freshness where the RFC allows it.
/// - min_ttl > 0: as CloudFront, no-store / no-cache / private responses are
///   kept anyway, and every lifetime is at least min_ttl.
///
/// Time is passed in (seconds since the epoch), never read here.
/// Thread: any (pure).

#include <cstdint>
#include <optional>
#include <string_view>

#include "edge/cache/cache_control.hpp"
#include "edge/cache/cache_policy.hpp"
#include "edge/cache/http_date.hpp"

namespace edge::cache {

/// What the decisions need from a request.
struct RequestFacts {
  std::string_view method;  // "GET", "HEAD", ...
  CacheControl cc;
  bool pragma_no_cache = false;   // Pragma: no-cache (counts when cc is absent)
  bool has_cache_control = false;
  bool has_authorization = false;
};

/// What the decisions need from a response head.
struct ResponseFacts {
  int status = 0;
  CacheControl cc;
  bool has_expires = false;
  std::optional<UnixSeconds> expires;  // has_expires && !expires: invalid = already expired
  std::optional<UnixSeconds> date;
  std::optional<UnixSeconds> last_modified;
  std::int64_t age = 0;  // Age field (0 when absent or invalid)
  bool has_etag = false;
  bool has_set_cookie = false;
  bool vary_star = false;  // Vary: * (never matches a later request)
};

/// Status codes a cache may store with heuristic freshness (RFC 9110 15.1).
bool heuristically_cacheable(int status);

struct StoreDecision {
  bool store = false;
  std::string_view reason;    // why not (or "stored")
  std::int64_t lifetime = 0;  // freshness lifetime in seconds
  bool heuristic = false;     // lifetime from Last-Modified
  bool revalidate_always = false;  // stored, but validated before every use (no-cache)
};

/// The store decision for `response` to `request` under `policy`.
/// `response_time` is when the response head arrived (for the Date fallback).
StoreDecision decide_store(const CachePolicy& policy, const RequestFacts& request,
                           const ResponseFacts& response, UnixSeconds response_time);

/// RFC 9111 4.2.3 current_age of a stored response at `now`.
std::int64_t current_age(std::int64_t age_value, std::optional<UnixSeconds> date,
                         UnixSeconds request_time, UnixSeconds response_time, UnixSeconds now);

/// What a stored response may do for a request.
enum class Usability {
  fresh,                   // serve it
  stale_while_revalidate,  // serve it and refresh in the background
  stale_acceptable,        // stale, but the request accepts it (max-stale)
  must_revalidate,         // validate with the target first
};

/// The stored response's directives and lifetime, as the usability check needs them.
struct StoredFacts {
  std::int64_t lifetime = 0;
  std::int64_t age = 0;  // current_age at the time of the check
  bool revalidate_always = false;  // response no-cache
  bool no_stale = false;           // must-revalidate, proxy-revalidate or s-maxage
  std::optional<std::int64_t> stale_while_revalidate;
  std::optional<std::int64_t> stale_if_error;
};

Usability usability(const StoredFacts& stored, const RequestFacts& request);

/// Whether a stale stored response may answer when the target failed (5xx,
/// connect failure, timeout): within stale-if-error (response or request), or
/// as CloudFront does, any expired object unless the response forbids serving
/// stale (must-revalidate, proxy-revalidate, s-maxage, no-cache).
bool may_serve_stale_on_error(const StoredFacts& stored, const RequestFacts& request);

}  // namespace edge::cache
