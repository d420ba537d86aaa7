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
#include <memory>
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

/// One target fetch in flight for a cache key, that concurrent misses for the
/// same key wait on instead of fetching themselves (request collapsing).
/// Waiters register a wake function; the fill calls each once when it ends
/// (stored, found uncacheable, or failed), from the fill's worker thread. A
/// wake function must only post to the waiter's own executor: the fill never
/// touches another worker's sockets.
///
/// Behaviour chosen (and its limit): the fill copies the body into the
/// response it will store (bounded by cache.max_object_size) and ends when
/// that response is stored, just before the leader writes its last bytes;
/// woken waiters then serve the stored response from the shared buffer. So a
/// waiter starts sending once the body is complete at the edge, not chunk by
/// chunk as it arrives. A response found not storable at head time, or whose
/// chunked body grows past max_object_size, ends the fill at once: every
/// waiter fetches for itself (none has started sending, so none is cut off).
/// A waiter that waits longer than cache.collapse_timeout fetches for itself.
class Fill {
 public:
  /// Registers `wake`; returns its id, or 0 when the fill already ended (the
  /// caller looks the store up again at once).
  std::uint64_t add_waiter(std::function<void()> wake);
  /// A waiter that stops waiting (timed out, or its worker is going away)
  /// removes its wake function, so it is never called after that.
  void remove_waiter(std::uint64_t id);
  /// Ends the fill: calls every wake function once (under the fill's lock, so
  /// a waiter removing itself never races a call). Idempotent.
  void end();

 private:
  std::mutex mu_;
  bool ended_ = false;
  std::uint64_t next_id_ = 1;
  std::vector<std::pair<std::uint64_t, std::function<void()>>> waiters_;
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

  /// Collapsing: the fill in flight for `key`, or a new one when there is
  /// none (`leader` true: the caller fetches and must call finish()).
  std::shared_ptr<Fill> join(const std::string& key, bool& leader);
  /// The leader's fetch ended: removes the fill from the table and wakes its
  /// waiters (they look the store up again, or fetch themselves).
  void finish(const std::string& key, const std::shared_ptr<Fill>& fill);

 private:
  MemoryCache store_;
  CacheClock clock_;
  mutable std::mutex mu_;
  std::uint64_t next_id_ = 1;
  std::uint64_t invalidations_ = 0;
  std::map<std::string, Invalidation, std::less<>> records_;  // the last kMaxRecords
  std::deque<std::string> order_;                             // their ids, oldest first
  static constexpr std::size_t kMaxRecords = 1000;

  /// Fills in flight by key: sharded, one mutex per shard, held only to find,
  /// insert or erase.
  struct InflightShard {
    std::mutex mu;
    std::map<std::string, std::shared_ptr<Fill>, std::less<>> fills;
  };
  static constexpr std::size_t kInflightShards = 16;
  InflightShard inflight_[kInflightShards];
};

}  // namespace edge::cache
