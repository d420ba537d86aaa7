#pragma once
/// Target-group stickiness for weighted forward actions (ALB
/// `forward.target_group_stickiness`): the first response gives the client
/// cookies naming the group it was sent to and until when; while they are
/// valid, its requests go to that group whatever the weights say (also a group
/// whose weight was since set to 0, so that blue/green shifts do not move
/// clients mid-session). Expired, malformed or unknown cookies are ignored and a
/// group is chosen by weight again.
///
/// Cookie value: 8 hex digits of the group name's hash, then 8 hex digits of the
/// expiry (Unix seconds). It is not signed: a client can only pick among the
/// groups of the very rule it matched. `AWSALBTGCORS` carries the same value
/// with `SameSite=None; Secure` for cross-origin requests, as ALB does.
/// Thread: any (pure functions).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "edge/proxy/router.hpp"

namespace edge::proxy {

inline constexpr std::string_view kStickyCookie = "AWSALBTG";
inline constexpr std::string_view kStickyCorsCookie = "AWSALBTGCORS";

/// 32-bit FNV-1a of a target group name (as stored in ForwardTarget::name_hash).
std::uint32_t group_name_hash(std::string_view name);

struct StickyCookie {
  std::uint32_t group_hash = 0;
  std::int64_t expires = 0;  // Unix seconds
};

std::string format_sticky_value(const StickyCookie& c);
std::optional<StickyCookie> parse_sticky_value(std::string_view value);

/// The group for a request of a sticky forward `action`: the one named by a
/// valid `cookie` (value of AWSALBTG, else AWSALBTGCORS; may be empty), else one
/// chosen by weight with `random`. `fresh` tells whether the choice is new (the
/// response then sets the cookies). nullptr as for RouteAction::pick_forward.
const ForwardTarget* pick_sticky_forward(const RouteAction& action, std::string_view cookie,
                                         std::int64_t now, std::uint64_t random, bool& fresh);

/// Appends the two `Set-Cookie` lines (CRLF-terminated) giving `group` until
/// `now + action.sticky_seconds`.
void append_sticky_cookies(std::string& out, const RouteAction& action, const ForwardTarget& group,
                           std::int64_t now);

}  // namespace edge::proxy
