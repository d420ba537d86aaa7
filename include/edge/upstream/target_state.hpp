#pragma once
/// Target health states and reason codes, named as ALB's DescribeTargetHealth
/// names them, and the packed status word workers read on the hot path.
/// Thread: any (values and pure functions).

#include <cstdint>
#include <string_view>

namespace edge::upstream {

enum class TargetState : std::uint8_t {
  initial = 0,    // registered, first health checks in progress
  healthy = 1,    // passing health checks
  unhealthy = 2,  // failing health checks
  unused = 3,     // not registered (deregistration finished)
  draining = 4,   // deregistering: in-flight requests finish, no new ones
  unavailable = 5 // health checks disabled: routed as if healthy
};
inline constexpr std::size_t kTargetStateCount = 6;

enum class TargetReason : std::uint8_t {
  none = 0,
  registration_in_progress,  // Elb.RegistrationInProgress
  initial_health_checking,   // Elb.InitialHealthChecking
  response_code_mismatch,    // Target.ResponseCodeMismatch
  timeout,                   // Target.Timeout
  failed_health_checks,      // Target.FailedHealthChecks
  deregistration_in_progress,  // Target.DeregistrationInProgress
  not_registered,            // Target.NotRegistered
  health_check_disabled,     // Target.HealthCheckDisabled
};

std::string_view state_name(TargetState s);
/// "" for TargetReason::none.
std::string_view reason_name(TargetReason r);

/// The status word of a target: state in bits 0-7, reason in bits 8-15, the
/// passive-ejection flag in bit 16. One relaxed load tells a balancer whether a
/// candidate may be picked.
struct TargetStatus {
  static constexpr std::uint32_t kEjected = 1U << 16;

  static constexpr std::uint32_t pack(TargetState s, TargetReason r, bool ejected = false) {
    return static_cast<std::uint32_t>(s) | (static_cast<std::uint32_t>(r) << 8) |
           (ejected ? kEjected : 0U);
  }
  static constexpr TargetState state(std::uint32_t w) { return static_cast<TargetState>(w & 0xff); }
  static constexpr TargetReason reason(std::uint32_t w) {
    return static_cast<TargetReason>((w >> 8) & 0xff);
  }
  static constexpr bool ejected(std::uint32_t w) { return (w & kEjected) != 0; }
};

/// Which status words a pick accepts: a bit per state, and whether ejected
/// targets are acceptable. Built once per pick, tested once per candidate.
struct RouteMask {
  std::uint32_t states = 0xff;  // bit i = TargetState i accepted
  bool allow_ejected = true;

  /// Everything (tests, hooks): the default.
  static constexpr RouteMask any() { return {}; }
  /// Normal routing: healthy (or health checks disabled) and not ejected.
  static constexpr RouteMask routable() {
    return {bit(TargetState::healthy) | bit(TargetState::unavailable), false};
  }
  /// Fail open (fewer healthy targets than the group's minimum): every
  /// registered target that is not draining, ejected or not.
  static constexpr RouteMask fail_open() {
    return {bit(TargetState::initial) | bit(TargetState::healthy) | bit(TargetState::unhealthy) |
                bit(TargetState::unavailable),
            true};
  }
  constexpr bool accepts(std::uint32_t w) const {
    return ((states >> (w & 0xff)) & 1U) != 0 && (allow_ejected || (w & TargetStatus::kEjected) == 0);
  }

 private:
  static constexpr std::uint32_t bit(TargetState s) { return 1U << static_cast<unsigned>(s); }
};

}  // namespace edge::upstream
