#include "edge/cache/memory_cache.hpp"

#include <algorithm>

namespace edge::cache {

std::size_t CachedResponse::charge() const {
  std::size_t n = sizeof(CachedResponse) + reason.size() + body.size() + etag.size() +
                  last_modified.size() + path.size();
  for (const auto& [k, v] : headers) n += k.size() + v.size() + 2 * sizeof(std::string);
  for (const auto& s : vary_names) n += s.size() + sizeof(std::string);
  for (const auto& s : vary_values) n += s.size() + sizeof(std::string);
  return n;
}

MemoryCache::MemoryCache(std::size_t budget, std::size_t max_object, unsigned shards)
    : max_object_(max_object), shard_budget_(budget / std::max(1U, shards)) {
  shards_.reserve(std::max(1U, shards));
  for (unsigned i = 0; i < std::max(1U, shards); ++i) shards_.push_back(std::make_unique<Shard>());
}

MemoryCache::Shard& MemoryCache::shard_for(std::string_view key) {
  return *shards_[std::hash<std::string_view>{}(key) % shards_.size()];
}

CachedPtr MemoryCache::get(std::string_view key) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mutex);
  auto it = s.index.find(key);
  if (it == s.index.end()) return nullptr;
  s.lru.splice(s.lru.begin(), s.lru, it->second);
  return it->second->second;
}

void MemoryCache::evict_to(Shard& s, std::size_t budget) {
  while (s.bytes > budget && !s.lru.empty()) {
    auto& [k, v] = s.lru.back();
    s.bytes -= v->charge() + k.size();
    s.index.erase(k);
    s.lru.pop_back();
    ++s.evictions;
  }
}

bool MemoryCache::put(std::string key, CachedPtr value) {
  if (!value) return false;
  const std::size_t charge = value->charge() + key.size();
  if (value->body.size() > max_object_ || charge > shard_budget_) return false;
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mutex);
  if (auto it = s.index.find(key); it != s.index.end()) {
    s.bytes -= it->second->second->charge() + it->first.size();
    s.lru.erase(it->second);
    s.index.erase(it);
  }
  s.bytes += charge;
  s.lru.emplace_front(key, std::move(value));
  s.index.emplace(std::move(key), s.lru.begin());
  evict_to(s, shard_budget_);
  return true;
}

bool MemoryCache::erase(std::string_view key) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mutex);
  auto it = s.index.find(key);
  if (it == s.index.end()) return false;
  s.bytes -= it->second->second->charge() + it->first.size();
  s.lru.erase(it->second);
  s.index.erase(it);
  return true;
}

std::size_t MemoryCache::invalidate(std::string_view pattern) {
  const bool prefix = !pattern.empty() && pattern.back() == '*';
  if (prefix) pattern.remove_suffix(1);
  std::size_t removed = 0;
  for (auto& sp : shards_) {
    Shard& s = *sp;
    std::lock_guard lock(s.mutex);
    for (auto it = s.lru.begin(); it != s.lru.end();) {
      const std::string& path = it->second->path;
      const bool match = prefix ? std::string_view(path).starts_with(pattern) : path == pattern;
      if (!match) {
        ++it;
        continue;
      }
      s.bytes -= it->second->charge() + it->first.size();
      s.index.erase(it->first);
      it = s.lru.erase(it);
      ++s.invalidated;
      ++removed;
    }
  }
  return removed;
}

CacheStats MemoryCache::stats() const {
  CacheStats st;
  for (const auto& sp : shards_) {
    std::lock_guard lock(sp->mutex);
    st.objects += sp->lru.size();
    st.bytes += sp->bytes;
    st.evictions += sp->evictions;
    st.invalidated += sp->invalidated;
  }
  return st;
}

}  // namespace edge::cache
