#pragma once
/// The cache part of the admin API (CloudFront CreateInvalidation /
/// GetInvalidation), JSON in and out:
///   POST /invalidations        {"paths": ["/index.html", "/images/*"]}
///                              → 201 {"invalidation":{"id","status","paths","objects","created"}}
///   GET  /invalidations/{id}   → 200 the same object, 404 for an unknown id
/// A path must start with '/' and may end with '*' (prefix); anything else is
/// a 400 naming the path. The bearer token is the admin server's.
/// Also the store's gauges and counters for /metrics, read at scrape time.
/// Thread: handlers run on the admin thread; the cache is thread-safe.

#include <memory>

namespace prometheus {
class Collectable;
}
namespace edge::cache {
class EdgeCache;
}

namespace edge::server {

class AdminServer;

/// `cache` must outlive the admin server's thread.
void add_cache_routes(AdminServer& server, cache::EdgeCache& cache);

/// edged_cache_objects, edged_cache_bytes, edged_cache_evictions_total,
/// edged_cache_invalidated_objects_total, edged_cache_invalidations_total.
/// `cache` must outlive the collectable's use.
std::shared_ptr<prometheus::Collectable> make_cache_collectable(const cache::EdgeCache& cache);

}  // namespace edge::server
