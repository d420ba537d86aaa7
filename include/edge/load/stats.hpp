#pragma once
/// `Stats`: what one edgeload thread counts (latency histograms, statuses, errors,
/// per-target breakdown), merged across threads at the end of a run.
/// Thread: one owner per instance; `merge` reads another thread's Stats only once
/// that thread has stopped (or from a snapshot it published).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edge/load/histogram.hpp"

namespace edge::load {

enum class ErrorKind : std::uint8_t {
  connect,  // connection refused, unreachable, ...
  tls,      // TLS handshake failed
  write,    // sending the request failed
  read,     // the connection failed or closed inside a response
  closed,   // a reused keep-alive connection was closed before any response byte
  timeout,  // no complete response within --timeout
  parse,    // invalid HTTP response
};
inline constexpr std::size_t kErrorKinds = 7;
const char* to_string(ErrorKind kind);

/// Per target (one per target of a group, or per value of --target-header).
struct TargetStats {
  std::string name;
  std::uint64_t requests = 0;                     // complete responses
  std::uint64_t errors = 0;                       // failed requests (any ErrorKind)
  std::array<std::uint64_t, 6> status_classes{};  // [1] = 1xx ... [5] = 5xx, [0] = other
  Histogram latency;

  void merge(const TargetStats& other);
};

struct Stats {
  /// Latency of each complete response: from its intended send time in open loop,
  /// from when it was sent in closed loop. Nanoseconds.
  Histogram latency;
  /// From when the request actually went out (what an uncorrected tool reports).
  Histogram service_time;
  std::array<std::uint64_t, 600> status{};  // by code; codes outside 100..599 at [0]
  std::array<std::uint64_t, kErrorKinds> errors{};
  std::uint64_t requests = 0;            // complete responses
  std::uint64_t sent = 0;                // requests started (complete, failed or cut at the end)
  std::uint64_t bytes_read = 0;          // response bytes, heads included
  std::uint64_t connects = 0;            // connections opened
  std::uint64_t handshakes_full = 0;     // TLS handshakes without session resumption
  std::uint64_t handshakes_resumed = 0;  // TLS handshakes that resumed a session
  std::vector<TargetStats> targets;

  static constexpr std::size_t kMaxTargets = 64;
  /// Index of the target named `name`, added when new; when kMaxTargets are already
  /// known, the last slot ("other") collects the rest.
  std::size_t target_index(std::string_view name);

  std::uint64_t error_count() const;
  /// Responses with a status >= 400 plus failed requests.
  std::uint64_t failures() const;
  void merge(const Stats& other);
};

}  // namespace edge::load
