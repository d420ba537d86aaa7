#include "edge/cache/edge_cache.hpp"

#include <ctime>

namespace edge::cache {
namespace {

/// Shards: a power of two comfortably above any worker count (STYLE.md §4).
constexpr unsigned kShards = 64;

}  // namespace

EdgeCache::EdgeCache(std::size_t memory, std::size_t max_object, CacheClock clock)
    : store_(memory, max_object, kShards), clock_(std::move(clock)) {}

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
  if (ended_) return 0;
  const std::uint64_t id = next_id_++;
  waiters_.emplace_back(id, std::move(wake));
  return id;
}

void Fill::remove_waiter(std::uint64_t id) {
  std::lock_guard lock(mu_);
  std::erase_if(waiters_, [id](const auto& w) { return w.first == id; });
}

void Fill::end() {
  std::lock_guard lock(mu_);
  if (ended_) return;
  ended_ = true;
  // Each wake function only posts to its waiter's executor: cheap under the lock.
  for (auto& w : waiters_) w.second();
  waiters_.clear();
}

std::shared_ptr<Fill> EdgeCache::join(const std::string& key, bool& leader) {
  InflightShard& s = inflight_[std::hash<std::string_view>{}(key) % kInflightShards];
  std::lock_guard lock(s.mu);
  auto [it, inserted] = s.fills.try_emplace(key);
  if (inserted) it->second = std::make_shared<Fill>();
  leader = inserted;
  return it->second;
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
