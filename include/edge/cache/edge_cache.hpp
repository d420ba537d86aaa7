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

#include <atomic>
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
///
/// A fill goes pending → streaming → ended, or pending → ended:
/// - pending: the leader asked the target and has no response head yet.
///   Waiters wait at most cache.collapse_timeout here, then fetch themselves.
/// - streaming: the head arrived, the response will be stored, and its body
///   has a Content-Length that fits cache.max_object_size. The response to be
///   stored is published (response()); its body is allocated at its full
///   length up front and never moves, the leader copies each relayed piece
///   into it and then advances published(). Waiters send [0, published()) to
///   their own clients straight from that buffer, so they receive the body as
///   it arrives at the edge, not after it completes.
/// - ended: stored (waiters read the store again), found not storable (they
///   fetch themselves), or failed. A waiter that has already sent part of a
///   body it cannot finish closes its connection.
/// A chunked or close-delimited body (length unknown) stays pending until it is
/// stored, so its waiters start once it is complete at the edge.
///
/// Waiters register a wake function, called (under the fill's lock, from the
/// leader's worker) when the state changes or, for an armed waiter, when the
/// body advances. A wake function must only post to the waiter's own
/// executor: the fill never touches another worker's sockets.
class Fill {
 public:
  enum class State { pending, streaming, ended };

  /// Registers `wake`; returns its id, or 0 when the fill already ended (the
  /// caller looks the store up again at once).
  std::uint64_t add_waiter(std::function<void()> wake);
  /// A waiter that stops waiting (timed out, done, or its worker is going
  /// away) removes its wake function, so it is never called after that.
  void remove_waiter(std::uint64_t id);
  /// A streaming waiter that has sent `seen` body bytes asks to be woken when
  /// there are more or the fill ends. False (no wake will come) when there
  /// already are, or it already ended: the caller looks again at once.
  bool arm(std::uint64_t id, std::uint64_t seen);

  /// Leader: the response head is known and the body will stream into
  /// `response->body`, already sized to its full length. Wakes every waiter.
  void start_stream(std::shared_ptr<CachedResponse> response);
  /// Leader: `n` more body bytes were written at `body_data() + published()`.
  /// Wakes the armed waiters.
  void publish(std::size_t n);
  /// Leader: where the next body bytes go (streaming only).
  char* body_data() const { return body_; }
  /// Ends the fill: calls every wake function once. Idempotent.
  void end();

  /// Waiter side, any thread.
  State state() const { return state_.load(std::memory_order_acquire); }
  /// The response being streamed (null until streaming). Its fields and the
  /// body's size never change once published; its body bytes below
  /// published() are final.
  std::shared_ptr<const CachedResponse> response() const;
  std::uint64_t published() const { return published_.load(std::memory_order_acquire); }
  /// The body arrived in full (ended or not).
  bool complete() const;

 private:
  struct Waiter {
    std::uint64_t id;
    std::function<void()> wake;
    bool armed;
  };
  void wake_all_locked();

  mutable std::mutex mu_;
  std::atomic<State> state_{State::pending};
  std::atomic<std::uint64_t> published_{0};
  std::uint64_t length_ = 0;
  char* body_ = nullptr;
  std::shared_ptr<const CachedResponse> response_;
  std::uint64_t next_id_ = 1;
  std::vector<Waiter> waiters_;
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
  /// The fill in flight for `key`, or null (never creates one).
  std::shared_ptr<Fill> find_fill(const std::string& key);
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
