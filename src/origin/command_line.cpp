#include "edge/origin/command_line.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

namespace edge::origin {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

/// Splits "12.5ms" into a non-negative number and its unit.
bool split_number(std::string_view text, double& number, std::string_view& unit) {
  std::size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  if (i == 0) return false;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + i, number);
  if (ec != std::errc{} || ptr != text.data() + i || !std::isfinite(number)) return false;
  unit = text.substr(i);
  return true;
}

template <class T>
bool parse_int(std::string_view text, T& out) {
  if (text.empty()) return false;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && ptr == text.data() + text.size();
}

}  // namespace

bool parse_duration_us(std::string_view text, std::chrono::microseconds& out) {
  double number = 0;
  std::string_view unit;
  if (!split_number(text, number, unit)) return false;
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1e6;
  else if (unit == "us") scale = 1;
  else if (unit == "ms") scale = 1e3;
  else if (unit == "m") scale = 60e6;
  else if (unit == "h") scale = 3600e6;
  else return false;
  const double us = number * scale;
  if (us > 1e15) return false;
  out = std::chrono::microseconds(static_cast<std::int64_t>(std::llround(us)));
  return true;
}

bool parse_size_bytes(std::string_view text, std::uint64_t& out) {
  double number = 0;
  std::string_view unit;
  if (!split_number(text, number, unit)) return false;
  struct Unit {
    std::string_view name;
    double scale;
  };
  static constexpr Unit kUnits[] = {
      {"", 1.0},          {"b", 1.0},
      {"k", 0x1p10},      {"kib", 0x1p10},  {"kb", 1e3},
      {"m", 0x1p20},      {"mib", 0x1p20},  {"mb", 1e6},
      {"g", 0x1p30},      {"gib", 0x1p30},  {"gb", 1e9},
      {"t", 0x1p40},      {"tib", 0x1p40},  {"tb", 1e12},
  };
  for (const Unit& u : kUnits) {
    if (!iequals(unit, u.name)) continue;
    const double bytes = number * u.scale;
    if (bytes >= 0x1p63) return false;
    if (unit.empty() && bytes != std::floor(bytes)) return false;
    out = static_cast<std::uint64_t>(std::llround(bytes));
    return true;
  }
  return false;
}

bool parse_latency(std::string_view text, Latency& out) {
  auto next = [&text]() {
    const auto colon = text.find(':');
    std::string_view part = text.substr(0, colon);
    text = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
    return part;
  };
  const bool had_colon = text.find(':') != std::string_view::npos;
  const std::string_view kind = next();
  Latency l;
  if (kind == "none" && !had_colon) {
    out = l;
    return true;
  }
  if (!had_colon) {
    // A bare duration means fixed.
    l.kind = Latency::Kind::fixed;
    if (!parse_duration_us(kind, l.first)) return false;
    out = l;
    return true;
  }
  if (kind == "fixed") {
    l.kind = Latency::Kind::fixed;
  } else if (kind == "uniform") {
    l.kind = Latency::Kind::uniform;
  } else if (kind == "exp" || kind == "exponential") {
    l.kind = Latency::Kind::exponential;
  } else {
    return false;
  }
  if (!parse_duration_us(next(), l.first)) return false;
  if (l.kind == Latency::Kind::uniform) {
    if (!parse_duration_us(next(), l.second) || l.second < l.first) return false;
  }
  if (!text.empty()) return false;
  out = l;
  return true;
}

bool parse_listen(std::string_view text, std::string& host, std::uint16_t& port) {
  std::string_view h;
  std::string_view p;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
    if (h.empty()) return false;
  } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
    if (h.find(':') != std::string_view::npos) return false;  // bare v6 needs brackets
  } else {
    p = text;
  }
  std::uint16_t value = 0;
  if (!parse_int(p, value)) return false;
  host = std::string(h);
  port = value;
  return true;
}

std::string usage_text(std::string_view program) {
  std::string out;
  out.append("usage: ").append(program).append(
      " [options]\n"
      "\n"
      "HTTP/1.1 test origin (app-tier stand-in) for edged tests, demos and benchmarks.\n"
      "\n"
      "options:\n"
      "  --listen ADDR            host:port, [v6]:port, :port or port (repeatable: one\n"
      "                           server per address; default 127.0.0.1:8080)\n"
      "  --body-size SIZE         default response body size (default 1KiB; up to TiBs,\n"
      "                           generated and streamed, never held in memory)\n"
      "  --chunked                default responses use Transfer-Encoding: chunked\n"
      "  --chunk-size SIZE        bytes per chunk / per slow write (default 16KiB, max 1MiB)\n"
      "  --slow-chunk-delay DUR   pause between body chunks (default 0: no pause)\n"
      "  --latency SPEC           none | fixed:5ms | uniform:1ms:10ms | exp:5ms (mean),\n"
      "                           applied before the response head (default none)\n"
      "  --error-rate FRACTION    fraction of requests answered 500 (default 0)\n"
      "  --seed N                 random seed for latency and errors (default: random)\n"
      "  --id NAME                X-Served-By value (default: the listen address)\n"
      "  --echo                   answer every request with the echo JSON\n"
      "  --threads N              event-loop threads per server (default 1)\n"
      "  -h, --help               this text\n"
      "\n"
      "Durations: 250us, 5ms, 1.5s, 2m, or a bare number of seconds.\n"
      "Sizes: 512, 64KiB, 4MiB, 1GiB (KB/MB/GB are powers of 1000).\n"
      "\n"
      "Paths: /health (GET; POST /health/fail, /health/ok flip it), /echo..., /delay/<ms>,\n"
      "/status/<code>, /bytes/<n>, /chunked/<n>, /close, /reset, /garbage, /hang.\n"
      "Query overrides on any path: status=, delay=<ms>, bytes=, chunked=0|1,\n"
      "close=1|silent, header=Name:Value.\n");
  return out;
}

CommandLine parse_command_line(std::span<const std::string_view> args) {
  CommandLine result;
  OriginOptions base;
  base.request_log_capacity = 0;  // nobody can read it out of the process
  std::vector<std::pair<std::string, std::uint16_t>> listens;

  auto fail = [&result](std::string message) {
    result.error = std::move(message);
    result.servers.clear();
    return result;
  };

  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view name = args[i];
    std::optional<std::string_view> inline_value;
    if (name.starts_with("--")) {
      if (const auto eq = name.find('='); eq != std::string_view::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
    }
    auto flag = [&]() {
      return !inline_value.has_value();
    };
    auto value = [&](std::string_view& out) {
      if (inline_value) {
        out = *inline_value;
        return true;
      }
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    std::string_view v;
    const std::string opt(name);

    if (name == "-h" || name == "--help") {
      result.help = true;
      return result;
    }
    if (name == "--chunked" || name == "--echo") {
      if (!flag()) return fail(opt + " takes no value");
      (name == "--chunked" ? base.chunked : base.echo) = true;
      continue;
    }
    if (name != "--listen" && name != "--body-size" && name != "--chunk-size" &&
        name != "--slow-chunk-delay" && name != "--latency" && name != "--error-rate" &&
        name != "--seed" && name != "--id" && name != "--threads") {
      return fail("unknown option '" + std::string(args[i]) + "'");
    }
    if (!value(v)) return fail(opt + " needs a value");
    const std::string shown(v);

    if (name == "--listen") {
      std::string host;
      std::uint16_t port = 0;
      if (!parse_listen(v, host, port)) {
        return fail("--listen: expected host:port, [v6]:port, :port or port, got '" + shown + "'");
      }
      listens.emplace_back(std::move(host), port);
    } else if (name == "--body-size") {
      if (!parse_size_bytes(v, base.body_size)) {
        return fail("--body-size: expected a size like 512, 64KiB, 1GiB, got '" + shown + "'");
      }
    } else if (name == "--chunk-size") {
      std::uint64_t size = 0;
      if (!parse_size_bytes(v, size) || size == 0 || size > OriginOptions::kMaxChunkSize) {
        return fail("--chunk-size: expected a size between 1 and 1MiB, got '" + shown + "'");
      }
      base.chunk_size = static_cast<std::size_t>(size);
    } else if (name == "--slow-chunk-delay") {
      if (!parse_duration_us(v, base.slow_chunk_delay)) {
        return fail("--slow-chunk-delay: expected a duration like 10ms, got '" + shown + "'");
      }
    } else if (name == "--latency") {
      if (!parse_latency(v, base.latency)) {
        return fail("--latency: expected none, fixed:5ms, uniform:1ms:10ms or exp:5ms, got '" +
                    shown + "'");
      }
    } else if (name == "--error-rate") {
      double rate = -1;
      const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), rate);
      if (ec != std::errc{} || ptr != v.data() + v.size() || !(rate >= 0.0 && rate <= 1.0)) {
        return fail("--error-rate: expected a fraction between 0 and 1, got '" + shown + "'");
      }
      base.error_rate = rate;
    } else if (name == "--seed") {
      if (!parse_int(v, base.seed)) return fail("--seed: expected an integer, got '" + shown + "'");
    } else if (name == "--id") {
      if (v.empty() || v.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
        return fail("--id: expected a non-empty name without CR/LF");
      }
      base.id = shown;
    } else if (name == "--threads") {
      if (!parse_int(v, base.threads) || base.threads < 1 || base.threads > 1024) {
        return fail("--threads: expected an integer between 1 and 1024, got '" + shown + "'");
      }
    }
  }

  if (std::string why = base.validate(); !why.empty()) return fail(why);
  if (listens.empty()) listens.emplace_back("127.0.0.1", 8080);
  for (auto& [host, port] : listens) {
    OriginOptions o = base;
    o.host = host;
    o.port = port;
    result.servers.push_back(std::move(o));
  }
  return result;
}

}  // namespace edge::origin
