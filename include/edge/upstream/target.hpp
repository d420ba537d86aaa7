#pragma once
/// A target (one app instance) and a target group at run time.
/// Thread: shared by all workers; `outstanding` and `healthy` are atomics written
/// with relaxed ordering, everything else is immutable after construction.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "edge/config/config.hpp"

namespace edge::upstream {

struct alignas(64) Target {
  std::string id;                          // as configured, "host:port"
  boost::asio::ip::tcp::endpoint endpoint; // resolved at load
  std::uint32_t weight = 1;
  std::uint32_t index = 0;                 // position in its group

  /// Requests picked for this target and not yet finished, across all workers
  /// (counted from pick, connect time included, to the end of the relay).
  alignas(64) std::atomic<std::uint32_t> outstanding{0};
  std::atomic<std::uint8_t> healthy{1};
};

class TargetGroup {
 public:
  /// Resolves target addresses (blocking getaddrinfo: call off the data plane).
  /// Throws std::runtime_error naming the target when it cannot be resolved.
  explicit TargetGroup(const config::TargetGroupConfig& cfg, std::uint32_t index = 0);

  const std::string& name() const { return cfg_.name; }
  const config::TargetGroupConfig& config() const { return cfg_; }
  std::uint32_t index() const { return index_; }
  const std::vector<std::unique_ptr<Target>>& targets() const { return targets_; }

 private:
  config::TargetGroupConfig cfg_;
  std::uint32_t index_;
  std::vector<std::unique_ptr<Target>> targets_;
};

/// RAII: +1 on a target's outstanding count, -1 on every exit path.
class OutstandingGuard {
 public:
  OutstandingGuard() = default;
  explicit OutstandingGuard(Target* t) : t_(t) {
    if (t_) t_->outstanding.fetch_add(1, std::memory_order_relaxed);
  }
  OutstandingGuard(const OutstandingGuard&) = delete;
  OutstandingGuard& operator=(const OutstandingGuard&) = delete;
  OutstandingGuard(OutstandingGuard&& o) noexcept : t_(o.t_) { o.t_ = nullptr; }
  OutstandingGuard& operator=(OutstandingGuard&& o) noexcept {
    if (this != &o) {
      release();
      t_ = o.t_;
      o.t_ = nullptr;
    }
    return *this;
  }
  ~OutstandingGuard() { release(); }
  void release() {
    if (t_) t_->outstanding.fetch_sub(1, std::memory_order_relaxed);
    t_ = nullptr;
  }
  Target* target() const { return t_; }

 private:
  Target* t_ = nullptr;
};

}  // namespace edge::upstream
