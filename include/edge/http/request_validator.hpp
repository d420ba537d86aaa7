#pragma once
/// HTTP desync (request smuggling) classification of a raw request head, with
/// the four classes and three modes of ALB's desync mitigation:
///   compliant  – RFC 9110/9112 compliant;
///   acceptable – not compliant, but no known smuggling risk (forwarded);
///   ambiguous  – framing could be read differently by another hop;
///   severe     – a known smuggling vector or unparseable framing.
/// monitor forwards all (still 400 for heads the parser cannot read);
/// defensive rejects severe with 400 and forwards ambiguous but closes the
/// client and target connections after it; strictest rejects all but compliant.
/// Requests to targets are always re-framed by the edge whatever the class.
/// Thread: any (pure function).

#include <cstdint>
#include <string_view>

#include "edge/config/config.hpp"
#include "edge/core/error.hpp"

namespace edge::http {

enum class DesyncClass : std::uint8_t { compliant = 0, acceptable = 1, ambiguous = 2, severe = 3 };

struct HeadVerdict {
  DesyncClass cls = DesyncClass::compliant;
  /// Short, stable reason for the worst finding ("" when compliant).
  std::string_view reason;
  /// True when a single line is longer than the configured limit (→ 431).
  bool line_too_long = false;
};

/// Classifies the raw request head `raw` (request line through the empty line).
HeadVerdict classify_request_head(std::string_view raw, std::uint64_t max_line_bytes);

enum class DesyncAction : std::uint8_t { forward, forward_then_close, reject };

/// What the mode does with a class.
constexpr DesyncAction desync_action(config::DesyncMode mode, DesyncClass cls) {
  switch (mode) {
    case config::DesyncMode::monitor: return DesyncAction::forward;
    case config::DesyncMode::defensive:
      return cls == DesyncClass::severe      ? DesyncAction::reject
             : cls == DesyncClass::ambiguous ? DesyncAction::forward_then_close
                                             : DesyncAction::forward;
    case config::DesyncMode::strictest:
      return cls == DesyncClass::compliant ? DesyncAction::forward : DesyncAction::reject;
  }
  return DesyncAction::reject;
}

std::string_view to_string(DesyncClass c);

}  // namespace edge::http
