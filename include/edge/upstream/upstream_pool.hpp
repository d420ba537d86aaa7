#pragma once
/// Per-worker keep-alive pool of upstream connections, one LIFO stack of idle
/// connections per target (HAProxy's per-thread idle lists, proxygen SessionPool).
///
/// Limits: idle count per target (the oldest is evicted when full), idle time,
/// requests per connection. An idle connection that becomes readable (the target
/// closed it or sent unsolicited bytes) is dropped: from the first worker tick
/// after check-in, an idle connection has one pending read, cancelled on
/// checkout. (A connection reused before that tick costs no syscall to watch;
/// a target closing it within that tick is covered by the retry of requests
/// that fail on a reused connection.)
/// Thread: worker. Connections never move between workers.

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include <boost/beast/core/flat_buffer.hpp>

#include "edge/config/config.hpp"
#include "edge/core/deadline.hpp"
#include "edge/core/types.hpp"
#include "edge/tls/stream.hpp"

namespace edge::upstream {

struct Target;

/// One connection to a target. Owned by the pool while idle, by a session while
/// in use (shared_ptr only so a pending idle-wait handler can outlive checkout).
struct UpstreamConn {
  explicit UpstreamConn(const Executor& ex, std::size_t buffer_bytes) : socket(ex) {
    buffer.reserve(buffer_bytes);
  }
  Socket socket;
  /// HTTPS target groups: TLS over `socket` (declared after it: destroyed first).
  std::unique_ptr<tls::Stream> tls;
  boost::beast::flat_buffer buffer;  // response bytes read ahead
  Deadline deadline;
  Target* target = nullptr;
  std::uint64_t requests = 0;  // requests completed on this connection
  std::chrono::steady_clock::time_point idle_since{};
  bool idle = false;     // in the pool right now
  bool watched = false;  // an idle read is pending (see UpstreamPool::watch)
};

using UpstreamConnPtr = std::shared_ptr<UpstreamConn>;

class UpstreamPool {
 public:
  /// `targets` is the number of distinct target slots (Target::pool_slot < targets).
  UpstreamPool(const Executor& ex, DeadlineList& deadlines, std::size_t targets);
  ~UpstreamPool();

  /// An idle connection to `slot`, or nullptr.
  UpstreamConnPtr checkout(std::size_t slot);
  /// Returns a healthy, complete connection to the pool (or closes it when the
  /// pool for its target is full of newer ones: the oldest is evicted).
  void checkin(std::size_t slot, UpstreamConnPtr conn, const config::UpstreamKeepalive& ka);
  /// Closes idle connections older than their idle timeout and starts
  /// watching the others (from the worker tick).
  void expire_idle(std::chrono::steady_clock::time_point now);
  /// Closes every idle connection (drain / stop).
  void close_all();
  std::size_t idle_count() const;

 private:
  struct Slot {
    std::vector<UpstreamConnPtr> idle;  // back = most recently used
    std::chrono::steady_clock::duration idle_timeout{};
  };
  static void watch(UpstreamPool* pool, std::size_t slot, UpstreamConnPtr conn);
  void remove(std::size_t slot, UpstreamConn* conn);

  Executor ex_;
  DeadlineList& deadlines_;
  std::vector<Slot> slots_;
};

}  // namespace edge::upstream
