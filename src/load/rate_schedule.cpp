#include "edge/load/rate_schedule.hpp"

#include <cmath>

namespace edge::load {

RateSchedule::RateSchedule(double rate, std::int64_t start_ns, std::uint32_t lane,
                           std::uint32_t lanes)
    : rate_(rate > 0 ? rate : 1.0),
      ns_per_request_(1e9 / rate_),
      start_ns_(start_ns),
      lane_(lanes == 0 ? 0 : lane % lanes),
      lanes_(lanes == 0 ? 1 : lanes) {}

std::int64_t RateSchedule::intended(std::uint64_t j) const {
  const double k = static_cast<double>(lane_) + static_cast<double>(j) * lanes_;
  return start_ns_ + static_cast<std::int64_t>(std::floor(k * ns_per_request_));
}

std::uint64_t RateSchedule::slots_before(std::int64_t end_ns) const {
  if (end_ns <= start_ns_) return 0;
  // Global requests k with start + floor(k × period) < end; then those of this lane.
  const double span = static_cast<double>(end_ns - start_ns_);
  auto k_end = static_cast<std::uint64_t>(std::ceil(span / ns_per_request_));
  // Adjust for floating-point rounding at the boundary.
  while (k_end > 0 && start_ns_ + static_cast<std::int64_t>(std::floor(
                                      static_cast<double>(k_end - 1) * ns_per_request_)) >=
                          end_ns) {
    --k_end;
  }
  while (start_ns_ +
             static_cast<std::int64_t>(std::floor(static_cast<double>(k_end) * ns_per_request_)) <
         end_ns) {
    ++k_end;
  }
  // Lane i owns k = i + j × lanes for k < k_end.
  if (k_end <= lane_) return 0;
  return (k_end - lane_ + lanes_ - 1) / lanes_;
}

std::uint64_t RateSchedule::due(std::int64_t now_ns) const {
  const std::uint64_t until = slots_before(now_ns + 1);
  return until > taken_ ? until - taken_ : 0;
}

}  // namespace edge::load
