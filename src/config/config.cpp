// Out-of-line members of the plain config structs.

#include "edge/config/config.hpp"

#include <algorithm>
#include <thread>

namespace edge::config {

std::string Address::to_string() const {
  std::string out;
  out.reserve(host.size() + 8);
  // A host holding ':' can only be an IPv6 literal: bracket it so the port stays unambiguous.
  if (host.find(':') != std::string::npos) {
    out += '[';
    out += host;
    out += ']';
  } else {
    out += host;
  }
  out += ':';
  out += std::to_string(port);
  return out;
}

unsigned Config::effective_workers() const {
  if (workers != 0) return workers;
  // hardware_concurrency() may return 0 when it cannot tell; one worker is always possible.
  return std::max(1U, std::thread::hardware_concurrency());
}

const TargetGroupConfig* Config::find_target_group(const std::string& name) const {
  auto it = std::find_if(target_groups.begin(), target_groups.end(),
                         [&](const TargetGroupConfig& g) { return g.name == name; });
  return it == target_groups.end() ? nullptr : &*it;
}

HealthCheckProtocol effective_health_check_protocol(const TargetGroupConfig& g) {
  if (g.health_check.protocol) return *g.health_check.protocol;
  return g.protocol == Protocol::https ? HealthCheckProtocol::https : HealthCheckProtocol::http;
}

}  // namespace edge::config
