#pragma once
/// `LoadRunner`: runs one edgeload measurement.
///
/// Threads: `threads` event loops, each with its own io_context (concurrency hint 1),
/// its own connections, its own `RateSchedule` lanes (open loop) and its own `Stats`;
/// nothing is shared between them per request: no lock, no contended atomic. Each
/// thread publishes a copy of its latency histogram once a second for the progress
/// line (a mutex taken once a second), and its counters as relaxed atomics written
/// by that thread only. `run()` blocks the calling thread until the run is over and
/// merges the per-thread Stats; `stop()` may be called from any thread (e.g. a
/// signal-handling thread) and ends the run early.
///
/// Timing: every thread starts from the same instant t0. Requests intended (open
/// loop) or started (closed loop) in [t0 + warmup, t0 + warmup + duration) are
/// measured; earlier ones are the warm-up. Closed loop: each connection sends its
/// next request when the previous response is complete, until the end or until
/// `requests` have been measured; requests in flight at the end are abandoned, as
/// wrk does. Open loop: connections take slots from their lane's schedule, wait for
/// the slot's time, and send; a request whose slot passed while every connection was
/// busy is sent at once and its latency still counts from the slot. In-flight
/// requests at the end complete (within `timeout`). Per-request timeouts are
/// deadlines swept by one 50 ms timer per thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "edge/load/options.hpp"
#include "edge/load/stats.hpp"

namespace edge::load {

/// One progress sample, once a second.
struct Progress {
  double elapsed_s = 0;  // since the start of the run (warm-up included)
  bool warming_up = false;
  std::uint64_t responses = 0;  // complete responses so far (warm-up included)
  double rate = 0;              // responses/s over the last interval
  std::uint64_t failures = 0;   // errors plus responses >= 400 (measured)
  std::uint64_t p99_ns = 0;     // of the measured responses so far
  /// Open loop: requests whose intended time has passed but that are not sent yet
  /// because every connection is busy (the target is not keeping up).
  std::uint64_t behind = 0;
};

struct LoadResult {
  std::string error;  // non-empty: the run could not start (e.g. a host did not resolve)
  LoadOptions options;
  std::vector<LoadTarget> targets;
  int threads = 0;
  int connections = 0;
  double measured_s = 0;  // length of the measured window
  bool stopped = false;   // ended early by stop()
  Stats stats;

  bool ok() const { return error.empty(); }
  /// Complete responses per second over the measured window.
  double throughput() const { return measured_s > 0 ? stats.requests / measured_s : 0; }
};

class LoadRunner {
 public:
  LoadRunner(LoadOptions options, std::vector<LoadTarget> targets);
  ~LoadRunner();
  LoadRunner(const LoadRunner&) = delete;
  LoadRunner& operator=(const LoadRunner&) = delete;

  /// Resolves the targets, runs, and returns the merged result. `on_progress` is
  /// called on the calling thread about once a second while the run lasts.
  LoadResult run(const std::function<void(const Progress&)>& on_progress = {});
  /// Ends the run early (any thread, async-signal-unsafe: call from a normal thread).
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// Human-readable summary (wrk-like), ends with a newline.
std::string format_text(const LoadResult& result);
/// JSON summary (one object, no trailing newline): integers only; latencies in
/// nanoseconds, durations in milliseconds, throughput and rate in requests/s (rounded).
std::string format_json(const LoadResult& result);

}  // namespace edge::load
