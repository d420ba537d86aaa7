#include "edge/cache/freshness.hpp"

#include <algorithm>

namespace edge::cache {

bool heuristically_cacheable(int status) {
  switch (status) {
    case 200: case 203: case 204: case 206: case 300: case 301: case 308:
    case 404: case 405: case 410: case 414: case 501:
      return true;
    default:
      return false;
  }
}

namespace {

/// Status codes whose meaning we understand well enough to store a response
/// with explicit freshness (final, not partial content, not 304).
bool storable_status(int status) {
  if (status < 200 || status > 599) return false;
  return status != 206 && status != 304;
}

bool request_no_cache(const RequestFacts& r) {
  return r.cc.no_cache || (!r.has_cache_control && r.pragma_no_cache);
}

}  // namespace

StoreDecision decide_store(const CachePolicy& policy, const RequestFacts& request,
                           const ResponseFacts& response, UnixSeconds response_time) {
  StoreDecision d;
  if (!policy.caching_enabled()) {
    d.reason = "caching_disabled";
    return d;
  }
  if (request.method != "GET") {
    d.reason = "method";
    return d;
  }
  if (!storable_status(response.status)) {
    d.reason = "status";
    return d;
  }
  if (response.vary_star) {
    d.reason = "vary_star";
    return d;
  }
  if (response.has_set_cookie) {
    // Never hand one user's cookie to another.
    d.reason = "set_cookie";
    return d;
  }
  const bool force = policy.min_ttl > 0;  // CloudFront: kept for min_ttl whatever they say
  if (request.cc.no_store && !force) {
    d.reason = "request_no_store";
    return d;
  }
  if (response.cc.no_store && !force) {
    d.reason = "no_store";
    return d;
  }
  if (response.cc.private_ && !force) {
    d.reason = "private";
    return d;
  }
  if (request.has_authorization && !response.cc.public_ && !response.cc.must_revalidate &&
      !response.cc.s_maxage) {
    d.reason = "authorization";
    return d;
  }

  // Freshness lifetime (RFC 9111 4.2.1), shared cache.
  std::optional<std::int64_t> explicit_lifetime;
  if (response.cc.s_maxage) {
    explicit_lifetime = *response.cc.s_maxage;
  } else if (response.cc.max_age) {
    explicit_lifetime = *response.cc.max_age;
  } else if (response.has_expires) {
    const UnixSeconds date = response.date.value_or(response_time);
    explicit_lifetime = response.expires ? std::max<std::int64_t>(0, *response.expires - date) : 0;
  }

  std::int64_t lifetime = 0;
  const bool default_allowed = heuristically_cacheable(response.status) || response.cc.public_;
  if (explicit_lifetime) {
    lifetime = std::clamp<std::int64_t>(*explicit_lifetime, policy.min_ttl,
                                        std::max(policy.min_ttl, policy.max_ttl));
  } else if (!default_allowed) {
    // 302, 500 ... without freshness information are not stored (RFC 9111 3).
    d.reason = "no_freshness";
    return d;
  } else if (policy.default_ttl > 0) {
    lifetime = std::clamp<std::int64_t>(policy.default_ttl, policy.min_ttl,
                                        std::max(policy.min_ttl, policy.max_ttl));
  } else if (force) {
    lifetime = policy.min_ttl;
  } else {
    // RFC 9111 4.2.2: a fraction (10 %) of the time since Last-Modified.
    if (response.last_modified) {
      const UnixSeconds date = response.date.value_or(response_time);
      if (*response.last_modified < date) {
        lifetime = std::min<std::int64_t>((date - *response.last_modified) / 10, policy.max_ttl);
        d.heuristic = true;
      }
    }
  }

  if (response.cc.no_cache && !force) d.revalidate_always = true;
  // A response that is never fresh is only worth keeping if it can be validated.
  if (lifetime == 0 && !response.has_etag && !response.last_modified) {
    d.reason = "no_freshness";
    return d;
  }
  d.store = true;
  d.reason = "stored";
  d.lifetime = lifetime;
  return d;
}

std::int64_t current_age(std::int64_t age_value, std::optional<UnixSeconds> date,
                         UnixSeconds request_time, UnixSeconds response_time, UnixSeconds now) {
  const std::int64_t apparent_age =
      std::max<std::int64_t>(0, response_time - date.value_or(response_time));
  const std::int64_t response_delay = std::max<std::int64_t>(0, response_time - request_time);
  const std::int64_t corrected_age_value = age_value + response_delay;
  const std::int64_t corrected_initial_age = std::max(apparent_age, corrected_age_value);
  const std::int64_t resident_time = std::max<std::int64_t>(0, now - response_time);
  return corrected_initial_age + resident_time;
}

Usability usability(const StoredFacts& stored, const RequestFacts& request) {
  if (stored.revalidate_always || request_no_cache(request)) return Usability::must_revalidate;
  std::int64_t lifetime = stored.lifetime;
  // Request max-age: the client wants nothing older than that.
  if (request.cc.max_age && stored.age > *request.cc.max_age) {
    lifetime = std::min(lifetime, *request.cc.max_age);
  }
  const std::int64_t remaining = lifetime - stored.age;
  const std::int64_t min_fresh = request.cc.min_fresh.value_or(0);
  if (remaining > min_fresh) return Usability::fresh;
  if (stored.no_stale) return Usability::must_revalidate;
  const std::int64_t staleness = stored.age - lifetime;
  if (request.cc.max_stale && staleness <= *request.cc.max_stale && !request.cc.max_age)
    return Usability::stale_acceptable;
  if (stored.stale_while_revalidate && staleness <= *stored.stale_while_revalidate)
    return Usability::stale_while_revalidate;
  return Usability::must_revalidate;
}

bool may_serve_stale_on_error(const StoredFacts& stored, const RequestFacts& request) {
  if (stored.no_stale || stored.revalidate_always) return false;
  const std::int64_t staleness = std::max<std::int64_t>(0, stored.age - stored.lifetime);
  if (request.cc.stale_if_error) return staleness <= *request.cc.stale_if_error;
  if (stored.stale_if_error) return staleness <= *stored.stale_if_error;
  return true;  // CloudFront serves the expired object when the origin fails
}

}  // namespace edge::cache
