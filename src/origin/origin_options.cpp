#include "edge/origin/origin_options.hpp"

#include <cmath>
#include <string>

namespace edge::origin {
namespace {

std::string format_us(std::chrono::microseconds d) {
  const auto us = d.count();
  if (us % 1000000 == 0) return std::to_string(us / 1000000) + "s";
  if (us % 1000 == 0) return std::to_string(us / 1000) + "ms";
  return std::to_string(us) + "us";
}

}  // namespace

std::string Latency::to_string() const {
  switch (kind) {
    case Kind::none:
      return "none";
    case Kind::fixed:
      return "fixed:" + format_us(first);
    case Kind::uniform:
      return "uniform:" + format_us(first) + ":" + format_us(second);
    case Kind::exponential:
      return "exp:" + format_us(first);
  }
  return "none";
}

std::string OriginOptions::validate() const {
  if (chunk_size == 0 || chunk_size > kMaxChunkSize) {
    return "chunk size must be between 1 byte and 1MiB";
  }
  if (slow_chunk_delay.count() < 0) return "slow chunk delay must not be negative";
  if (!(error_rate >= 0.0 && error_rate <= 1.0)) return "error rate must be within [0, 1]";
  if (threads < 1 || threads > 1024) return "threads must be between 1 and 1024";
  if (latency.first.count() < 0 || latency.second.count() < 0) {
    return "latency must not be negative";
  }
  if (latency.kind == Latency::Kind::uniform && latency.second < latency.first) {
    return "uniform latency needs min <= max";
  }
  for (const char c : id) {
    if (c == '\r' || c == '\n' || c == '\0') return "id must not contain CR, LF or NUL";
  }
  return {};
}

}  // namespace edge::origin
