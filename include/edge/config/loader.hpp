#pragma once
/// YAML → Config. Unknown keys, wrong types and out-of-range values are errors
/// naming file, line, column and the key path. Thread: any (no shared state).

#include <string>
#include <string_view>
#include <vector>

#include "edge/config/config.hpp"

namespace edge::config {

struct ConfigError {
  std::string file;    // "" for in-memory text
  int line = 0;        // 1-based, 0 = unknown
  int column = 0;      // 1-based, 0 = unknown
  std::string path;    // key path, e.g. "listeners[0].listen"
  std::string message;
  /// "file:line:column: path: message"
  std::string to_string() const;
};

struct LoadResult {
  Config config;                    // valid only when errors is empty
  std::vector<ConfigError> errors;  // empty = success
  bool ok() const { return errors.empty(); }
};

/// Loads and validates a YAML file.
LoadResult load_config_file(const std::string& path);
/// Loads and validates YAML text; `name` is used as the file name in errors.
LoadResult load_config_string(std::string_view yaml, const std::string& name = "<string>");
/// Semantic validation of a Config built in code (also run by the loaders).
std::vector<ConfigError> validate(const Config& config);

/// "250ms", "30s", "5m", "1h", "1d" or a bare integer of seconds.
bool parse_duration(std::string_view text, Duration& out);
/// "512", "64KiB", "256MiB", "1GiB" (also KB/MB/GB as powers of 1000).
bool parse_size(std::string_view text, std::uint64_t& out);
/// "host:port", "[v6]:port", ":port".
bool parse_address(std::string_view text, Address& out);

}  // namespace edge::config
