#include "edge/metrics/recent_errors.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace edge::metrics {

namespace {

void copy_cut(char* dst, std::size_t cap, std::string_view a, std::string_view b = {}) {
  std::size_t n = std::min(a.size(), cap - 1);
  if (n) std::memcpy(dst, a.data(), n);  // an empty view may have a null data()
  if (!b.empty() && n + 1 < cap) {
    dst[n++] = ' ';
    const std::size_t m = std::min(b.size(), cap - 1 - n);
    if (m) std::memcpy(dst + n, b.data(), m);
    n += m;
  }
  dst[n] = '\0';
}

}  // namespace

void RecentErrors::record(EdgeError e, std::size_t listener, std::string_view target,
                          std::string_view method, std::string_view path) {
  RecentError r;
  r.time_us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  r.error = e;
  r.listener = static_cast<std::uint16_t>(listener);
  copy_cut(r.target, sizeof r.target, target);
  copy_cut(r.request, sizeof r.request, method, path);
  std::lock_guard lk(mu_);
  ring_[next_ % kCapacity] = r;
  ++next_;
}

std::vector<RecentError> RecentErrors::snapshot() const {
  std::lock_guard lk(mu_);
  std::vector<RecentError> out;
  const std::uint64_t n = std::min<std::uint64_t>(next_, kCapacity);
  out.reserve(n);
  for (std::uint64_t i = next_ - n; i < next_; ++i) out.push_back(ring_[i % kCapacity]);
  return out;
}

std::uint64_t RecentErrors::total() const {
  std::lock_guard lk(mu_);
  return next_;
}

}  // namespace edge::metrics
