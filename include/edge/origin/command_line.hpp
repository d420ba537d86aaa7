#pragma once
/// `edge-origin` command line → one `OriginOptions` per `--listen`, plus the small
/// value parsers it uses (exposed for tests). Thread: any (no shared state).

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edge/origin/origin_options.hpp"

namespace edge::origin {

struct CommandLine {
  std::vector<OriginOptions> servers;  // one per --listen, in order
  bool help = false;                   // --help / -h given: print usage, exit 0
  std::string error;                   // non-empty: print it and usage, exit 2

  bool ok() const { return error.empty(); }
};

/// Parses the arguments after the program name. Options accept `--name value` and
/// `--name=value`. Sizes and addresses use the config syntax (edge::config::parse_size,
/// parse_address). Without `--listen`, one server listens on 127.0.0.1:8080.
CommandLine parse_command_line(std::span<const std::string_view> args);

/// Usage text for `--help` (ends with a newline).
std::string usage_text(std::string_view program);

/// The config duration syntax ("250ms", "30s", "5m", "1h", "1d", bare seconds; see
/// edge::config::parse_duration) plus "<n>us" for sub-millisecond latencies.
bool parse_duration_us(std::string_view text, std::chrono::microseconds& out);
/// "none", "fixed:5ms", "uniform:1ms:10ms", "exp:5ms" (also "exponential:5ms"), or a
/// bare duration meaning fixed.
bool parse_latency(std::string_view text, Latency& out);

}  // namespace edge::origin
