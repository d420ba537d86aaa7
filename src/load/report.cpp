// format_text / format_json: edgeload's summaries of a LoadResult.

#include <boost/json.hpp>
#include <cstdio>
#include <string>

#include "edge/load/runner.hpp"

namespace edge::load {
namespace {

constexpr std::pair<const char*, double> kPercentiles[] = {
    {"p50", 50.0}, {"p90", 90.0}, {"p99", 99.0}, {"p99.9", 99.9}, {"p99.99", 99.99}};

std::string format_ns(std::uint64_t ns) {
  char buf[32];
  const double v = static_cast<double>(ns);
  if (ns < 1'000'000) {
    std::snprintf(buf, sizeof buf, "%.1fus", v / 1e3);
  } else if (ns < 1'000'000'000) {
    std::snprintf(buf, sizeof buf, "%.2fms", v / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.3fs", v / 1e9);
  }
  return buf;
}

/// Integers print as plain digits; Boost.JSON prints every double in E notation.
boost::json::object latency_json(const Histogram& h) {
  boost::json::object o;
  o["count"] = h.count();
  o["min"] = h.min();
  o["mean"] = static_cast<std::uint64_t>(h.mean() + 0.5);
  for (const auto& [name, p] : kPercentiles) o[name] = h.percentile(p);
  o["max"] = h.max();
  return o;
}

std::int64_t rounded(double v) { return static_cast<std::int64_t>(v + 0.5); }

std::string latency_line(const char* label, const Histogram& h) {
  std::string out = label;
  for (const auto& [name, p] : kPercentiles) {
    out.append("  ").append(name).append(" ").append(format_ns(h.percentile(p)));
  }
  out.append("  max ").append(format_ns(h.max())).append("\n");
  return out;
}

std::string mode_text(const LoadResult& r) {
  char buf[128];
  if (r.options.open_loop()) {
    std::snprintf(buf, sizeof buf, "open loop at %.0f req/s, up to %d connections", r.options.rate,
                  r.connections);
  } else {
    std::snprintf(buf, sizeof buf, "closed loop, %d connections", r.connections);
  }
  return buf;
}

}  // namespace

std::string format_text(const LoadResult& r) {
  const Stats& s = r.stats;
  std::string out;
  char buf[256];
  out.append("edgeload: ").append(mode_text(r));
  std::snprintf(buf, sizeof buf, ", %d thread%s, %.2fs measured%s%s\n", r.threads,
                r.threads == 1 ? "" : "s", r.measured_s,
                r.options.warmup.count() > 0 ? " after warm-up" : "",
                r.stopped ? " (stopped early)" : "");
  out.append(buf);
  for (const auto& t : r.targets) {
    out.append("  target ").append(t.name).append(": ").append(t.url.tls ? "https://" : "http://");
    out.append(t.url.authority()).append(t.url.target).append("\n");
  }
  std::snprintf(
      buf, sizeof buf,
      "  %llu responses, %llu errors, %.1f req/s, %.2f MB read, %llu connections opened\n",
      static_cast<unsigned long long>(s.requests), static_cast<unsigned long long>(s.error_count()),
      r.throughput(), static_cast<double>(s.bytes_read) / 1e6,
      static_cast<unsigned long long>(s.connects));
  out.append(buf);
  if (s.handshakes_full + s.handshakes_resumed > 0) {
    std::snprintf(buf, sizeof buf, "  TLS handshakes: %llu full, %llu resumed%s\n",
                  static_cast<unsigned long long>(s.handshakes_full),
                  static_cast<unsigned long long>(s.handshakes_resumed),
                  r.options.tls_resume ? "" : " (no --tls-resume)");
    out.append(buf);
  }
  if (s.latency.count() > 0) {
    std::snprintf(buf, sizeof buf, "  latency%s: min %s  mean %s\n",
                  r.options.open_loop() ? " (from intended send time)" : "",
                  format_ns(s.latency.min()).c_str(),
                  format_ns(static_cast<std::uint64_t>(s.latency.mean())).c_str());
    out.append(buf);
    out.append(latency_line("   ", s.latency));
    if (r.options.open_loop()) {
      out.append("  service time (from actual send, uncorrected):\n");
      out.append(latency_line("   ", s.service_time));
    }
  }
  out.append("  status:");
  for (std::size_t code = 0; code < s.status.size(); ++code) {
    if (s.status[code] == 0) continue;
    const auto n = static_cast<unsigned long long>(s.status[code]);
    if (code == 0) {
      std::snprintf(buf, sizeof buf, " other=%llu", n);
    } else {
      std::snprintf(buf, sizeof buf, " %zu=%llu", code, n);
    }
    out.append(buf);
  }
  out.append("\n");
  if (s.error_count() > 0) {
    out.append("  errors:");
    for (std::size_t i = 0; i < kErrorKinds; ++i) {
      if (s.errors[i] == 0) continue;
      std::snprintf(buf, sizeof buf, " %s=%llu", to_string(static_cast<ErrorKind>(i)),
                    static_cast<unsigned long long>(s.errors[i]));
      out.append(buf);
    }
    out.append("\n");
  }
  if (!s.targets.empty()) {
    out.append("  per target:\n");
    for (const auto& t : s.targets) {
      std::snprintf(buf, sizeof buf, "    %-24s %10llu responses %6llu errors  2xx %llu  5xx %llu",
                    t.name.c_str(), static_cast<unsigned long long>(t.requests),
                    static_cast<unsigned long long>(t.errors),
                    static_cast<unsigned long long>(t.status_classes[2]),
                    static_cast<unsigned long long>(t.status_classes[5]));
      out.append(buf);
      out.append("  p50 ").append(format_ns(t.latency.percentile(50)));
      out.append("  p99 ").append(format_ns(t.latency.percentile(99))).append("\n");
    }
  }
  return out;
}

std::string format_json(const LoadResult& r) {
  const Stats& s = r.stats;
  boost::json::object o;
  o["mode"] = r.options.open_loop() ? "open" : "closed";
  if (r.options.open_loop()) o["rate"] = rounded(r.options.rate);
  o["connections"] = r.connections;
  o["threads"] = r.threads;
  o["keep_alive"] = r.options.keep_alive;
  o["warmup_ms"] = r.options.warmup.count();
  o["duration_ms"] = rounded(r.measured_s * 1e3);
  o["stopped"] = r.stopped;
  boost::json::array targets;
  for (const auto& t : r.targets) {
    targets.emplace_back(boost::json::object{
        {"name", t.name},
        {"url",
         std::string(t.url.tls ? "https://" : "http://") + t.url.authority() + t.url.target}});
  }
  o["targets"] = std::move(targets);
  o["sent"] = s.sent;
  o["responses"] = s.requests;
  o["errors"] = s.error_count();
  o["failures"] = s.failures();
  o["throughput"] = rounded(r.throughput());
  o["bytes_read"] = s.bytes_read;
  o["connects"] = s.connects;
  o["tls_resume"] = r.options.tls_resume;
  o["handshakes"] =
      boost::json::object{{"full", s.handshakes_full}, {"resumed", s.handshakes_resumed}};
  o["latency_ns"] = latency_json(s.latency);
  o["service_time_ns"] = latency_json(s.service_time);
  boost::json::object status;
  for (std::size_t code = 0; code < s.status.size(); ++code) {
    if (s.status[code] > 0)
      status[code == 0 ? std::string("other") : std::to_string(code)] = s.status[code];
  }
  o["status"] = std::move(status);
  boost::json::object errors;
  for (std::size_t i = 0; i < kErrorKinds; ++i) {
    errors[to_string(static_cast<ErrorKind>(i))] = s.errors[i];
  }
  o["error_kinds"] = std::move(errors);
  boost::json::array per_target;
  for (const auto& t : s.targets) {
    boost::json::object classes;
    for (std::size_t c = 1; c < t.status_classes.size(); ++c) {
      if (t.status_classes[c] > 0) classes[std::to_string(c) + "xx"] = t.status_classes[c];
    }
    if (t.status_classes[0] > 0) classes["other"] = t.status_classes[0];
    per_target.emplace_back(boost::json::object{{"name", t.name},
                                                {"responses", t.requests},
                                                {"errors", t.errors},
                                                {"status_classes", std::move(classes)},
                                                {"latency_ns", latency_json(t.latency)}});
  }
  o["per_target"] = std::move(per_target);
  return boost::json::serialize(o);
}

}  // namespace edge::load
