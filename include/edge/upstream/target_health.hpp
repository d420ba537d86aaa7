#pragma once
/// The health of one target as the health checker sees it: the ALB state
/// machine over check results, passive ejection expiry and the slow start ramp.
/// Pure: no sockets, no clock of its own (every call takes `now`), so it is
/// unit-tested with made-up times. The HealthChecker publishes what it decides
/// into the Target's atomics.
/// Thread: control (the health checker's thread) only.

#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

#include "edge/config/config.hpp"
#include "edge/upstream/target_state.hpp"

namespace edge::upstream {

/// An ALB matcher: "200", "200,302", "200-299" (items may be mixed).
class StatusMatcher {
 public:
  StatusMatcher() : StatusMatcher(200, 200) {}
  /// Parses `spec`; false (and the matcher unchanged) when it is not valid.
  bool parse(std::string_view spec);
  bool matches(int status) const;

 private:
  StatusMatcher(int lo, int hi) { ranges_.push_back({lo, hi}); }
  struct Range {
    int lo;
    int hi;
  };
  std::vector<Range> ranges_;
};

class TargetHealth {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  /// A target registered at `now`: `initial` (or `unavailable` when checks are
  /// disabled).
  TargetHealth(int healthy_threshold, int unhealthy_threshold, bool checks_enabled);

  /// Applies one check result; `failure` says why it failed (ignored when ok).
  /// Returns true when the state or the reason changed.
  /// initial --1 pass--> healthy; initial/healthy --unhealthy_threshold fails
  /// in a row--> unhealthy; unhealthy --healthy_threshold passes--> healthy.
  bool on_check(bool ok, TargetReason failure);

  /// Deregistration: `draining` now, `unused` by finish_draining().
  void start_draining(TimePoint now, std::chrono::milliseconds delay);
  /// Draining ends at the deadline or as soon as nothing is in flight.
  bool drain_done(TimePoint now, std::uint32_t outstanding) const;
  void finish_draining();

  /// Slow start: begins when the target becomes healthy while others in the
  /// group already are (ALB: a lone target gets full traffic at once).
  void begin_slow_start(TimePoint now) {
    slow_start_from_ = now;
    in_slow_start_ = true;
  }
  /// Share of the weight in use, per kWeightScale: linear over `window` from
  /// the start of slow start (at least 1 %), the full scale outside it.
  std::uint32_t ramp(TimePoint now, std::chrono::milliseconds window);
  bool in_slow_start() const { return in_slow_start_; }

  /// A configuration reload changed the thresholds: the state and the results
  /// in a row so far are kept.
  void set_thresholds(int healthy_threshold, int unhealthy_threshold) {
    healthy_threshold_ = healthy_threshold < 1 ? 1 : healthy_threshold;
    unhealthy_threshold_ = unhealthy_threshold < 1 ? 1 : unhealthy_threshold;
  }
  TargetState state() const { return state_; }
  TargetReason reason() const { return reason_; }
  bool routable() const {
    return state_ == TargetState::healthy || state_ == TargetState::unavailable;
  }
  int passes_in_row() const { return passes_; }
  int failures_in_row() const { return failures_; }

 private:
  int healthy_threshold_;
  int unhealthy_threshold_;
  TargetState state_;
  TargetReason reason_;
  int passes_ = 0;
  int failures_ = 0;
  TimePoint drain_deadline_{};
  TimePoint slow_start_from_{};
  bool in_slow_start_ = false;
};

/// Passive ejection time: base × times ejected, at most 300 s.
std::chrono::milliseconds ejection_time(std::chrono::milliseconds base, std::uint32_t times);

}  // namespace edge::upstream
