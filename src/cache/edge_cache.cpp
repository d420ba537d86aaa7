#include "edge/cache/edge_cache.hpp"

#include <ctime>

namespace edge::cache {
namespace {

/// Shards: a power of two comfortably above any worker count (STYLE.md §4),
/// but few enough that each shard's share of the budget holds at least two
/// objects of max_object_size: an object is charged to one shard, so with
/// more shards the largest allowed objects would never be stored.
unsigned shard_count(std::size_t memory, std::size_t max_object) {
  unsigned shards = 64;
  while (shards > 1 && memory / shards < 2 * max_object) shards /= 2;
  return shards;
}

}  // namespace

EdgeCache::EdgeCache(std::size_t memory, std::size_t max_object, CacheClock clock)
    : store_(memory, max_object, shard_count(memory, max_object)), clock_(std::move(clock)) {}

UnixSeconds EdgeCache::now() const {
  if (clock_) return clock_();
  return static_cast<UnixSeconds>(std::time(nullptr));
}

std::optional<std::string> EdgeCache::check_paths(const std::vector<std::string>& paths) {
  if (paths.empty()) return "paths must list at least one path";
  if (paths.size() > 3000) return "at most 3000 paths per invalidation";
  for (const auto& p : paths) {
    if (p.empty() || p.front() != '/') return "path '" + p + "' must start with '/'";
    if (p.size() > 4096) return "path '" + p.substr(0, 64) + "...' is longer than 4096 bytes";
    const auto star = p.find('*');
    if (star != std::string::npos && star + 1 != p.size())
      return "path '" + p + "': '*' is only allowed at the end";
    for (char c : p) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f || c == '?' || c == '#')
        return "path '" + p + "' has a character not allowed in a path (control, '?' or '#')";
    }
  }
  return std::nullopt;
}

Invalidation EdgeCache::invalidate(std::vector<std::string> paths) {
  Invalidation inv;
  inv.created = now();
  for (const auto& p : paths) inv.objects += store_.invalidate(p);
  inv.paths = std::move(paths);
  inv.status = "Completed";
  std::lock_guard lock(mu_);
  inv.id = std::to_string(next_id_++);
  inv.id.insert(inv.id.begin(), 'I');
  ++invalidations_;
  records_.emplace(inv.id, inv);
  order_.push_back(inv.id);
  if (order_.size() > kMaxRecords) {
    records_.erase(order_.front());
    order_.pop_front();
  }
  return inv;
}

std::uint64_t Fill::add_waiter(std::function<void()> wake) {
  std::lock_guard lock(mu_);
  if (state_.load(std::memory_order_relaxed) == State::ended) return 0;
  const std::uint64_t id = next_id_++;
  waiters_.push_back({id, std::move(wake), false});
  return id;
}

void Fill::remove_waiter(std::uint64_t id) {
  std::lock_guard lock(mu_);
  std::erase_if(waiters_, [id](const Waiter& w) { return w.id == id; });
}

bool Fill::arm(std::uint64_t id, std::uint64_t seen) {
  std::lock_guard lock(mu_);
  if (state_.load(std::memory_order_relaxed) == State::ended ||
      published_.load(std::memory_order_relaxed) > seen)
    return false;
  for (auto& w : waiters_)
    if (w.id == id) {
      w.armed = true;
      return true;
    }
  return false;
}

void Fill::wake_all_locked() {
  // Each wake function only posts to its waiter's executor: cheap under the lock.
  for (auto& w : waiters_) {
    w.armed = false;
    w.wake();
  }
}

void Fill::start_stream(std::shared_ptr<CachedResponse> response) {
  std::lock_guard lock(mu_);
  if (state_.load(std::memory_order_relaxed) != State::pending) return;
  body_ = response->body.data();
  length_ = response->body.size();
  response_ = std::move(response);
  state_.store(State::streaming, std::memory_order_release);
  wake_all_locked();
}

void Fill::publish(std::size_t n) {
  std::lock_guard lock(mu_);
  published_.store(published_.load(std::memory_order_relaxed) + n, std::memory_order_release);
  for (auto& w : waiters_) {
    if (!w.armed) continue;
    w.armed = false;
    w.wake();
  }
}

void Fill::end() {
  std::lock_guard lock(mu_);
  if (state_.load(std::memory_order_relaxed) == State::ended) return;
  state_.store(State::ended, std::memory_order_release);
  wake_all_locked();
  waiters_.clear();
}

std::shared_ptr<const CachedResponse> Fill::response() const {
  std::lock_guard lock(mu_);
  return response_;
}

bool Fill::complete() const {
  std::lock_guard lock(mu_);
  return response_ && published_.load(std::memory_order_relaxed) == length_;
}

std::shared_ptr<Fill> EdgeCache::join(const std::string& key, bool& leader) {
  InflightShard& s = inflight_[std::hash<std::string_view>{}(key) % kInflightShards];
  std::lock_guard lock(s.mu);
  auto [it, inserted] = s.fills.try_emplace(key);
  if (inserted) it->second = std::make_shared<Fill>();
  leader = inserted;
  return it->second;
}

std::shared_ptr<Fill> EdgeCache::find_fill(const std::string& key) {
  InflightShard& s = inflight_[std::hash<std::string_view>{}(key) % kInflightShards];
  std::lock_guard lock(s.mu);
  auto it = s.fills.find(key);
  return it == s.fills.end() ? nullptr : it->second;
}

void EdgeCache::finish(const std::string& key, const std::shared_ptr<Fill>& fill) {
  {
    InflightShard& s = inflight_[std::hash<std::string_view>{}(key) % kInflightShards];
    std::lock_guard lock(s.mu);
    auto it = s.fills.find(key);
    if (it != s.fills.end() && it->second == fill) s.fills.erase(it);
  }
  fill->end();
}

std::optional<Invalidation> EdgeCache::find_invalidation(std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

std::uint64_t EdgeCache::invalidation_count() const {
  std::lock_guard lock(mu_);
  return invalidations_;
}

}  // namespace edge::cache
