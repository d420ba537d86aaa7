#pragma once
/// Errors the edge generates for a request, each with the HTTP status it maps to
/// and a short reason used in metrics labels and access logs. Thread: any.

#include <cstdint>
#include <string_view>

namespace edge {

/// Why the edge itself answered (or dropped) a request. The order is part of the
/// metrics layout: append new values before `count_`.
enum class EdgeError : std::uint8_t {
  none = 0,
  bad_request,             // 400 malformed request
  desync_rejected,         // 400 request smuggling / ambiguous framing
  bad_chunk,               // 400 malformed chunked body
  client_timeout,          // 408 client too slow to send its head
  body_too_large,          // 413
  header_too_large,        // 431
  target_connect_failed,   // 502 target refused the connection / unreachable
  target_reset,            // 502 target reset or closed the connection
  target_bad_response,     // 502 target sent an invalid response
  no_target,               // 503 no registered target
  target_timeout,          // 504 target too slow
  target_connect_timeout,  // 504 connect to target timed out
  target_tls_failed,       // 502 TLS handshake with the target failed (HTTPS target groups)
  count_
};

inline constexpr std::size_t kEdgeErrorCount = static_cast<std::size_t>(EdgeError::count_);

/// HTTP status the edge answers with for `e` (0 for none).
constexpr int status_of(EdgeError e) {
  switch (e) {
    case EdgeError::none: return 0;
    case EdgeError::bad_request:
    case EdgeError::desync_rejected:
    case EdgeError::bad_chunk: return 400;
    case EdgeError::client_timeout: return 408;
    case EdgeError::body_too_large: return 413;
    case EdgeError::header_too_large: return 431;
    case EdgeError::target_connect_failed:
    case EdgeError::target_reset:
    case EdgeError::target_bad_response:
    case EdgeError::target_tls_failed: return 502;
    case EdgeError::no_target: return 503;
    case EdgeError::target_timeout:
    case EdgeError::target_connect_timeout: return 504;
    case EdgeError::count_: break;
  }
  return 500;
}

/// Stable snake_case reason (metrics label `reason`, access log `error_reason`).
constexpr std::string_view reason_of(EdgeError e) {
  switch (e) {
    case EdgeError::none: return "none";
    case EdgeError::bad_request: return "bad_request";
    case EdgeError::desync_rejected: return "desync_rejected";
    case EdgeError::bad_chunk: return "bad_chunk";
    case EdgeError::client_timeout: return "client_timeout";
    case EdgeError::body_too_large: return "body_too_large";
    case EdgeError::header_too_large: return "header_too_large";
    case EdgeError::target_connect_failed: return "target_connect_failed";
    case EdgeError::target_reset: return "target_reset";
    case EdgeError::target_bad_response: return "target_bad_response";
    case EdgeError::no_target: return "no_target";
    case EdgeError::target_timeout: return "target_timeout";
    case EdgeError::target_connect_timeout: return "target_connect_timeout";
    case EdgeError::target_tls_failed: return "target_tls_negotiation_failed";
    case EdgeError::count_: break;
  }
  return "unknown";
}

}  // namespace edge
