// Scalar value syntax shared by the YAML loader and by code that takes the same
// strings (admin API, command line): durations, sizes and addresses.

#include <arpa/inet.h>

#include <cstdint>
#include <limits>
#include <string_view>

#include "edge/config/loader.hpp"

namespace edge::config {
namespace {

/// Leading decimal digits of `text` into `value`; returns how many were consumed
/// (0 on none or on overflow of uint64).
std::size_t parse_digits(std::string_view text, std::uint64_t& value) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t v = 0;
  std::size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (v > (kMax - digit) / 10) return 0;
    v = v * 10 + digit;
  }
  value = v;
  return i;
}

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

/// A DNS name or an IPv4 literal: label characters only, no empty label.
bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  if (host.front() == '.' || host.back() == '.' || host.find("..") != std::string_view::npos) {
    return false;
  }
  for (char c : host) {
    if (!is_host_char(c)) return false;
  }
  return true;
}

bool valid_ipv6(std::string_view host) {
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN) return false;
  std::string copy(host);
  in6_addr addr{};
  return inet_pton(AF_INET6, copy.c_str(), &addr) == 1;
}

bool parse_port(std::string_view text, std::uint16_t& port) {
  if (text.empty() || text.size() > 5) return false;
  std::uint64_t v = 0;
  if (parse_digits(text, v) != text.size() || v > 65535) return false;
  port = static_cast<std::uint16_t>(v);
  return true;
}

}  // namespace

bool parse_duration(std::string_view text, Duration& out) {
  std::uint64_t value = 0;
  const std::size_t digits = parse_digits(text, value);
  if (digits == 0) return false;
  const std::string_view unit = text.substr(digits);
  std::uint64_t ms_per_unit = 0;
  if (unit.empty() || unit == "s") {
    ms_per_unit = 1000;
  } else if (unit == "ms") {
    ms_per_unit = 1;
  } else if (unit == "m") {
    ms_per_unit = 60 * 1000;
  } else if (unit == "h") {
    ms_per_unit = 3600 * 1000;
  } else if (unit == "d") {
    ms_per_unit = 86400 * 1000;
  } else {
    return false;
  }
  constexpr auto kMaxMs = static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max());
  if (value > kMaxMs / ms_per_unit) return false;
  out = Duration(static_cast<Duration::rep>(value * ms_per_unit));
  return true;
}

bool parse_size(std::string_view text, std::uint64_t& out) {
  std::uint64_t value = 0;
  const std::size_t digits = parse_digits(text, value);
  if (digits == 0) return false;
  const std::string_view unit = text.substr(digits);
  std::uint64_t multiplier = 0;
  if (unit.empty()) {
    multiplier = 1;
  } else if (unit == "KiB") {
    multiplier = kKiB;
  } else if (unit == "MiB") {
    multiplier = kMiB;
  } else if (unit == "GiB") {
    multiplier = kGiB;
  } else if (unit == "KB") {
    multiplier = 1000;
  } else if (unit == "MB") {
    multiplier = 1000 * 1000;
  } else if (unit == "GB") {
    multiplier = 1000 * 1000 * 1000;
  } else {
    return false;
  }
  if (value > std::numeric_limits<std::uint64_t>::max() / multiplier) return false;
  out = value * multiplier;
  return true;
}

bool parse_address(std::string_view text, Address& out) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
    if (!valid_ipv6(host)) return false;
  } else {
    const std::size_t colon = text.find(':');
    // No colon: the port is missing. More than one: an IPv6 literal without brackets,
    // where the port cannot be told apart from the address.
    if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) {
      return false;
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (!host.empty() && !valid_host(host)) return false;
  }
  std::uint16_t port = 0;
  if (!parse_port(port_text, port)) return false;
  out.host = std::string(host);
  out.port = port;
  return true;
}

}  // namespace edge::config
