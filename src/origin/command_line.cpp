#include "edge/origin/command_line.hpp"

#include <charconv>
#include <limits>
#include <optional>
#include <utility>

#include "edge/config/loader.hpp"

namespace edge::origin {
namespace {

template <class T>
bool parse_int(std::string_view text, T& out) {
  if (text.empty()) return false;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && ptr == text.data() + text.size();
}

}  // namespace

bool parse_duration_us(std::string_view text, std::chrono::microseconds& out) {
  // The config syntax, plus microseconds for sub-millisecond latencies.
  if (text.ends_with("us")) {
    std::int64_t us = 0;
    if (!parse_int(text.substr(0, text.size() - 2), us) || us < 0) return false;
    out = std::chrono::microseconds(us);
    return true;
  }
  config::Duration ms{};
  if (!config::parse_duration(text, ms)) return false;
  if (ms.count() > std::numeric_limits<std::int64_t>::max() / 1000) return false;
  out = ms;
  return true;
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

std::string usage_text(std::string_view program) {
  std::string out;
  out.append("usage: ").append(program).append(
      " [options]\n"
      "\n"
      "HTTP/1.1 test origin (app-tier stand-in) for edged tests, demos and benchmarks.\n"
      "\n"
      "options:\n"
      "  --listen ADDR            host:port, [v6]:port or :port (repeatable: one server\n"
      "                           per address; default 127.0.0.1:8080)\n"
      "  --body-size SIZE         default response body size (default 1KiB; any size,\n"
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
      "Durations: 250us, 5ms, 30s, 2m, 1h, 1d, or a bare number of seconds.\n"
      "Sizes: 512, 64KiB, 4MiB, 1GiB (KB/MB/GB are powers of 1000).\n"
      "\n"
      "Paths: /health (GET; POST /health/fail, /health/ok flip it), /echo..., /delay/<ms>,\n"
      "/status/<code>, /bytes/<n>, /chunked/<n>, /close, /reset, /garbage, /hang,\n"
      "POST /pause/<ms> (hold every response for <ms>: a stalled instance),\n"
      "GET /stats ({\"requests\":N}, every request so far, this one included).\n"
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
    auto flag = [&]() { return !inline_value.has_value(); };
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
      config::Address address;
      if (!config::parse_address(v, address)) {
        return fail("--listen: expected host:port, [v6]:port or :port, got '" + shown + "'");
      }
      listens.emplace_back(std::move(address.host), address.port);
    } else if (name == "--body-size") {
      if (!config::parse_size(v, base.body_size)) {
        return fail("--body-size: expected a size like 512, 64KiB, 1GiB, got '" + shown + "'");
      }
    } else if (name == "--chunk-size") {
      std::uint64_t size = 0;
      if (!config::parse_size(v, size) || size == 0 || size > OriginOptions::kMaxChunkSize) {
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
