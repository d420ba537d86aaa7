#pragma once
/// `RateSchedule`: the intended send times of an open-loop (fixed-rate) run.
///
/// The whole run sends request k (k = 0, 1, 2, ...) at `start + k / rate`. The run is
/// split into `lanes` (one per thread × target): lane i owns the requests k = i, i +
/// lanes, i + 2·lanes, ... so the lanes together keep the global rate and spacing, and
/// no lane needs to talk to another. Times are computed from k, never accumulated, so
/// they do not drift. Whoever sends a request takes its slot with `take()` and
/// measures latency from the slot's time, not from when it actually went out: a
/// request delayed because every connection was busy is charged for the wait
/// (coordinated-omission correction, as wrk2 and HdrHistogram do).
///
/// Times are nanoseconds on any monotonic clock the caller chooses (the runner uses
/// steady_clock; tests inject plain numbers). Thread: one owner per lane.

#include <cstdint>

namespace edge::load {

class RateSchedule {
 public:
  /// `rate`: requests per second for the whole run (> 0); `start_ns`: time of k = 0.
  RateSchedule(double rate, std::int64_t start_ns, std::uint32_t lane = 0, std::uint32_t lanes = 1);

  /// Intended time of this lane's j-th request (j counts from 0).
  std::int64_t intended(std::uint64_t j) const;
  /// Intended time of the next request not yet taken.
  std::int64_t next() const { return intended(taken_); }
  /// Takes the next slot and returns its intended time.
  std::int64_t take() { return intended(taken_++); }
  /// Slots of this lane whose time is <= now and not yet taken (how far behind).
  std::uint64_t due(std::int64_t now_ns) const;
  /// Slots of this lane with a time in [start, end_ns): how many this lane will send
  /// for a run ending at end_ns.
  std::uint64_t slots_before(std::int64_t end_ns) const;
  std::uint64_t taken() const { return taken_; }

  double rate() const { return rate_; }

 private:
  double rate_;
  double ns_per_request_;
  std::int64_t start_ns_;
  std::uint32_t lane_;
  std::uint32_t lanes_;
  std::uint64_t taken_ = 0;
};

}  // namespace edge::load
