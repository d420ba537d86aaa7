#pragma once
/// The edge's response cache as a process-wide service: the shared store
/// (MemoryCache), the clock every freshness decision reads, and the record of
/// invalidations asked through the admin API.
///
/// Ownership: one per process, created and owned by the Gateway from
/// `cache.memory` / `cache.max_object_size` (none when `memory` is 0). It lives
/// outside the config snapshot and the routers, so stored responses survive a
/// config reload; cache policies themselves are compiled per snapshot, on the
/// route actions (router.hpp).
/// Thread: any. The store locks per shard; invalidation records take their own
/// mutex (admin thread and status page only, never a request).

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edge/cache/memory_cache.hpp"

namespace edge::cache {

/// Seconds since the epoch; injected so tests control freshness.
using CacheClock = std::function<UnixSeconds()>;

/// One `POST /invalidations` (CloudFront CreateInvalidation). Invalidations
/// run synchronously on the admin thread, so a record is `Completed` as soon
/// as it is returned.
struct Invalidation {
  std::string id;      // "I" + sequence number
  std::string status;  // "Completed"
  std::vector<std::string> paths;
  std::uint64_t objects = 0;  // stored responses removed
  UnixSeconds created = 0;
};

class EdgeCache {
 public:
  /// `clock` empty: the system clock.
  EdgeCache(std::size_t memory, std::size_t max_object, CacheClock clock = {});
  EdgeCache(const EdgeCache&) = delete;
  EdgeCache& operator=(const EdgeCache&) = delete;

  MemoryCache& store() { return store_; }
  const MemoryCache& store() const { return store_; }
  std::size_t max_object() const { return store_.max_object(); }
  UnixSeconds now() const;

  /// Checks invalidation paths as CloudFront does: each starts with '/', a '*'
  /// may only end it, no control characters; 1..3000 paths. Returns an error
  /// message, or nullopt when they are acceptable.
  static std::optional<std::string> check_paths(const std::vector<std::string>& paths);
  /// Removes every stored response whose path matches one of `paths` (exact,
  /// or a prefix when the path ends with '*') and records the invalidation.
  /// The paths must have passed check_paths().
  Invalidation invalidate(std::vector<std::string> paths);
  std::optional<Invalidation> find_invalidation(std::string_view id) const;
  /// Invalidations so far (records are kept for the newest 1000).
  std::uint64_t invalidation_count() const;

 private:
  MemoryCache store_;
  CacheClock clock_;
  mutable std::mutex mu_;
  std::uint64_t next_id_ = 1;
  std::uint64_t invalidations_ = 0;
  std::map<std::string, Invalidation, std::less<>> records_;  // the last kMaxRecords
  std::deque<std::string> order_;                             // their ids, oldest first
  static constexpr std::size_t kMaxRecords = 1000;
};

}  // namespace edge::cache
