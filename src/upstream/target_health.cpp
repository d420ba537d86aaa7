#include "edge/upstream/target_health.hpp"

#include <algorithm>

#include "edge/upstream/target.hpp"

namespace edge::upstream {
namespace {

bool parse_code(std::string_view s, int& out) {
  if (s.empty() || s.size() > 3) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v < 100 || v > 599) return false;
  out = v;
  return true;
}

}  // namespace

bool StatusMatcher::parse(std::string_view spec) {
  std::vector<Range> ranges;
  if (spec.empty()) return false;
  std::size_t start = 0;
  while (start <= spec.size()) {
    std::size_t comma = spec.find(',', start);
    if (comma == std::string_view::npos) comma = spec.size();
    const std::string_view item = spec.substr(start, comma - start);
    const std::size_t dash = item.find('-');
    Range r{0, 0};
    if (dash == std::string_view::npos) {
      if (!parse_code(item, r.lo)) return false;
      r.hi = r.lo;
    } else if (!parse_code(item.substr(0, dash), r.lo) ||
               !parse_code(item.substr(dash + 1), r.hi) || r.hi < r.lo) {
      return false;
    }
    ranges.push_back(r);
    start = comma + 1;
  }
  ranges_ = std::move(ranges);
  return true;
}

bool StatusMatcher::matches(int status) const {
  return std::any_of(ranges_.begin(), ranges_.end(),
                     [status](const Range& r) { return status >= r.lo && status <= r.hi; });
}

TargetHealth::TargetHealth(int healthy_threshold, int unhealthy_threshold, bool checks_enabled)
    : healthy_threshold_(std::max(healthy_threshold, 1)),
      unhealthy_threshold_(std::max(unhealthy_threshold, 1)),
      state_(checks_enabled ? TargetState::initial : TargetState::unavailable),
      reason_(checks_enabled ? TargetReason::initial_health_checking
                             : TargetReason::health_check_disabled) {}

bool TargetHealth::on_check(bool ok, TargetReason failure) {
  if (state_ == TargetState::draining || state_ == TargetState::unused ||
      state_ == TargetState::unavailable)
    return false;
  const TargetState before_state = state_;
  const TargetReason before_reason = reason_;
  if (ok) {
    failures_ = 0;
    ++passes_;
    if (state_ == TargetState::initial ||
        (state_ == TargetState::unhealthy && passes_ >= healthy_threshold_)) {
      state_ = TargetState::healthy;
      reason_ = TargetReason::none;
    }
  } else {
    passes_ = 0;
    ++failures_;
    if (state_ == TargetState::unhealthy) {
      reason_ = failure;  // still unhealthy; the latest cause is shown
    } else if (failures_ >= unhealthy_threshold_) {
      state_ = TargetState::unhealthy;
      reason_ = failure;
      in_slow_start_ = false;
    }
  }
  return state_ != before_state || reason_ != before_reason;
}

void TargetHealth::start_draining(TimePoint now, std::chrono::milliseconds delay) {
  state_ = TargetState::draining;
  reason_ = TargetReason::deregistration_in_progress;
  drain_deadline_ = now + delay;
  in_slow_start_ = false;
}

bool TargetHealth::drain_done(TimePoint now, std::uint32_t outstanding) const {
  return state_ == TargetState::draining && (outstanding == 0 || now >= drain_deadline_);
}

void TargetHealth::finish_draining() {
  state_ = TargetState::unused;
  reason_ = TargetReason::not_registered;
}

std::uint32_t TargetHealth::ramp(TimePoint now, std::chrono::milliseconds window) {
  if (!in_slow_start_ || window.count() <= 0) return kWeightScale;
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(now - slow_start_from_);
  if (elapsed >= window) {
    in_slow_start_ = false;
    return kWeightScale;
  }
  const auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(elapsed.count(), 0));
  const std::uint64_t r = std::uint64_t{kWeightScale} * ms / static_cast<std::uint64_t>(window.count());
  return static_cast<std::uint32_t>(std::max<std::uint64_t>(r, kWeightScale / 100));
}

std::chrono::milliseconds ejection_time(std::chrono::milliseconds base, std::uint32_t times) {
  constexpr std::chrono::milliseconds kMax = std::chrono::seconds(300);
  if (times == 0) times = 1;
  if (base.count() <= 0) return std::chrono::milliseconds(0);
  if (base.count() > kMax.count() / times) return kMax;
  return std::min(base * times, kMax);
}

}  // namespace edge::upstream
