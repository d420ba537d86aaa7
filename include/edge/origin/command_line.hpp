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
/// `--name=value`. Without `--listen`, one server listens on 127.0.0.1:8080.
CommandLine parse_command_line(std::span<const std::string_view> args);

/// Usage text for `--help` (ends with a newline).
std::string usage_text(std::string_view program);

/// "5ms", "250us", "1.5s", "2m", or a bare number of seconds.
bool parse_duration_us(std::string_view text, std::chrono::microseconds& out);
/// "512", "64KiB", "4MiB", "1GiB", "1TiB" (also KB/MB/GB/TB as powers of 1000, and
/// the short forms K/M/G/T as powers of 1024).
bool parse_size_bytes(std::string_view text, std::uint64_t& out);
/// "none", "fixed:5ms", "uniform:1ms:10ms", "exp:5ms" (also "exponential:5ms").
bool parse_latency(std::string_view text, Latency& out);
/// "host:port", "[v6]:port", ":port" (all interfaces) or "port".
bool parse_listen(std::string_view text, std::string& host, std::uint16_t& port);

}  // namespace edge::origin
