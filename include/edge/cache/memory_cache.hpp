#pragma once
/// The response store shared by all workers: sharded by key hash, one mutex per
/// shard, LRU with a byte budget (split evenly over the shards). Stored
/// responses are immutable and reference-counted: a hit holds a
/// `shared_ptr<const CachedResponse>` and writes its body without copying, even
/// if the entry is evicted meanwhile.
/// Thread: any (locks per shard; a lookup holds one shard lock for a map lookup
/// and an LRU splice).

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "edge/cache/cache_control.hpp"
#include "edge/cache/http_date.hpp"

namespace edge::cache {

/// One stored response (or, with `vary_names` set and `variant_marker`, the
/// marker that tells a lookup which request headers select the variant).
struct CachedResponse {
  int status = 200;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // end-to-end fields, as received
  std::string body;

  UnixSeconds request_time = 0;   // when the request that fetched it was sent
  UnixSeconds response_time = 0;  // when its head arrived
  std::optional<UnixSeconds> date;
  std::int64_t age_value = 0;  // Age field received
  std::int64_t lifetime = 0;   // freshness lifetime (seconds)
  bool revalidate_always = false;
  bool no_stale = false;
  std::optional<std::int64_t> stale_while_revalidate;
  std::optional<std::int64_t> stale_if_error;
  std::string etag;
  std::string last_modified;

  std::string path;  // request path, for invalidations
  /// Vary: lower-case header names, and (in a variant) the request's values.
  std::vector<std::string> vary_names;
  std::vector<std::string> vary_values;
  bool variant_marker = false;

  /// Bytes charged against the budget.
  std::size_t charge() const;
};

using CachedPtr = std::shared_ptr<const CachedResponse>;

struct CacheStats {
  std::uint64_t objects = 0;
  std::uint64_t bytes = 0;
  std::uint64_t evictions = 0;
  std::uint64_t invalidated = 0;
};

class MemoryCache {
 public:
  /// `budget` bytes in total; objects charged more than `max_object` are refused.
  MemoryCache(std::size_t budget, std::size_t max_object, unsigned shards = 16);
  MemoryCache(const MemoryCache&) = delete;
  MemoryCache& operator=(const MemoryCache&) = delete;

  /// The entry stored under `key` (marked most recently used), or nullptr.
  CachedPtr get(std::string_view key);
  /// Stores (or replaces) `key`; evicts least recently used entries of the shard
  /// to stay within budget. False (nothing stored) when the object is too big.
  bool put(std::string key, CachedPtr value);
  /// Removes `key`; true when it was there.
  bool erase(std::string_view key);
  /// Removes every entry whose path is `pattern`, or starts with it when the
  /// pattern ends with '*' (CloudFront invalidation paths). Returns the count.
  std::size_t invalidate(std::string_view pattern);

  CacheStats stats() const;
  std::size_t max_object() const { return max_object_; }

 private:
  struct Shard {
    using Lru = std::list<std::pair<std::string, CachedPtr>>;
    struct Hash {
      using is_transparent = void;
      std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    mutable std::mutex mutex;
    Lru lru;  // front = most recently used
    std::unordered_map<std::string, Lru::iterator, Hash, std::equal_to<>> index;
    std::size_t bytes = 0;
    std::uint64_t evictions = 0;
    std::uint64_t invalidated = 0;
  };

  Shard& shard_for(std::string_view key);
  void evict_to(Shard& s, std::size_t budget);

  std::size_t max_object_;
  std::size_t shard_budget_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

/// The secondary key of a variant: `key` plus the request's values of the
/// marker's Vary header names. `header(name)` returns a request header value.
template <class HeaderFn>
std::string variant_key(std::string_view key, const std::vector<std::string>& names,
                        HeaderFn&& header) {
  std::string k(key);
  k.push_back('\x01');
  for (const auto& n : names) {
    std::string_view v = header(n);
    k.append(std::to_string(v.size()));
    k.push_back(':');
    k.append(v);
  }
  return k;
}

}  // namespace edge::cache
