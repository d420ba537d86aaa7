#include "edge/load/stats.hpp"

namespace edge::load {

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::connect:
      return "connect";
    case ErrorKind::tls:
      return "tls";
    case ErrorKind::write:
      return "write";
    case ErrorKind::read:
      return "read";
    case ErrorKind::closed:
      return "closed";
    case ErrorKind::timeout:
      return "timeout";
    case ErrorKind::parse:
      return "parse";
  }
  return "unknown";
}

void TargetStats::merge(const TargetStats& other) {
  requests += other.requests;
  errors += other.errors;
  for (std::size_t i = 0; i < status_classes.size(); ++i) {
    status_classes[i] += other.status_classes[i];
  }
  latency.merge(other.latency);
}

std::size_t Stats::target_index(std::string_view name) {
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (targets[i].name == name) return i;
  }
  if (targets.size() >= kMaxTargets) return targets.size() - 1;
  targets.emplace_back();
  targets.back().name = targets.size() == kMaxTargets ? "other" : std::string(name);
  return targets.size() - 1;
}

std::uint64_t Stats::error_count() const {
  std::uint64_t n = 0;
  for (const auto e : errors) n += e;
  return n;
}

std::uint64_t Stats::failures() const {
  std::uint64_t n = error_count();
  for (std::size_t code = 400; code < status.size(); ++code) n += status[code];
  return n;
}

void Stats::merge(const Stats& other) {
  latency.merge(other.latency);
  service_time.merge(other.service_time);
  for (std::size_t i = 0; i < status.size(); ++i) status[i] += other.status[i];
  for (std::size_t i = 0; i < errors.size(); ++i) errors[i] += other.errors[i];
  requests += other.requests;
  sent += other.sent;
  bytes_read += other.bytes_read;
  connects += other.connects;
  handshakes_full += other.handshakes_full;
  handshakes_resumed += other.handshakes_resumed;
  for (const auto& t : other.targets) targets[target_index(t.name)].merge(t);
}

}  // namespace edge::load
