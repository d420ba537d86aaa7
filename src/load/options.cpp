#include "edge/load/options.hpp"

#include <charconv>
#include <optional>

#include "edge/config/loader.hpp"

namespace edge::load {
namespace {

template <class T>
bool parse_number(std::string_view text, T& out) {
  if (text.empty()) return false;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && ptr == text.data() + text.size();
}

bool valid_token(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool has_ctl(std::string_view s) {
  for (const char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return true;
  }
  return false;
}

}  // namespace

std::string Url::authority() const {
  std::string out;
  const bool v6 = host.find(':') != std::string::npos;
  if (v6) out.push_back('[');
  out.append(host);
  if (v6) out.push_back(']');
  if (port != (tls ? 443 : 80)) out.append(":").append(std::to_string(port));
  return out;
}

bool parse_url(std::string_view text, Url& out, std::string& error) {
  Url u;
  if (text.starts_with("http://")) {
    text.remove_prefix(7);
  } else if (text.starts_with("https://")) {
    u.tls = true;
    text.remove_prefix(8);
  } else {
    error = "URL must start with http:// or https://";
    return false;
  }
  const auto slash = text.find_first_of("/?");
  std::string_view authority = text.substr(0, slash);
  if (slash != std::string_view::npos) {
    const std::string_view rest = text.substr(slash);
    u.target.clear();
    if (rest.front() == '?') u.target.push_back('/');
    u.target.append(rest);
  }
  if (authority.find('@') != std::string_view::npos) {
    error = "URL user info is not supported";
    return false;
  }
  std::string_view port_text;
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "URL has an unclosed [IPv6] host";
      return false;
    }
    u.host = std::string(authority.substr(1, close - 1));
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        error = "URL: unexpected text after ]";
        return false;
      }
      port_text = rest.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) {
    error = "URL has no host";
    return false;
  }
  u.port = u.tls ? 443 : 80;
  if (!port_text.empty() || authority.ends_with(':')) {
    unsigned p = 0;
    if (!parse_number(port_text, p) || p == 0 || p > 65535) {
      error = "URL has a bad port";
      return false;
    }
    u.port = static_cast<std::uint16_t>(p);
  }
  if (has_ctl(u.target) || u.target.find(' ') != std::string::npos) {
    error = "URL path has spaces or control characters";
    return false;
  }
  out = std::move(u);
  return true;
}

std::string LoadOptions::validate() const {
  if (url.empty() == config_path.empty())
    return "give either a URL or --config with --target-group";
  if (!config_path.empty() && target_group.empty()) return "--config needs --target-group";
  if (config_path.empty() && !target_group.empty()) return "--target-group needs --config";
  if (connections < 1 || connections > 1'000'000) return "--connections must be 1..1000000";
  if (threads < 0 || threads > 1024) return "--threads must be 1..1024";
  if (!(rate >= 0) || rate > 1e8) return "--rate must be between 0 and 1e8";
  if (duration.count() <= 0 && requests == 0) return "--duration must be positive";
  if (warmup.count() < 0) return "--warmup must not be negative";
  if (timeout.count() <= 0) return "--timeout must be positive";
  if (requests > 0 && open_loop()) return "--requests is for closed loop (no --rate)";
  if (!valid_token(method)) return "--method must be an HTTP token";
  for (const auto& [name, value] : headers) {
    if (!valid_token(name) || has_ctl(value)) return "bad header '" + name + "'";
  }
  if (!body.empty() && !body_file.empty()) return "give --body or --body-file, not both";
  if (!target_header.empty() && !valid_token(target_header)) return "bad --target-header name";
  if (path.empty() || path.front() != '/' || has_ctl(path)) return "--path must start with /";
  if (!tls_max.empty() && tls_max != "1.2" && tls_max != "1.3")
    return "--tls-max must be 1.2 or 1.3";
  return {};
}

std::string load_usage_text(std::string_view program) {
  std::string out;
  out.append("usage: ").append(program).append(" [options] URL\n       ");
  out.append(program).append(
      " [options] --config FILE --target-group NAME\n"
      "\n"
      "HTTP/1.1 load generator: closed loop (a fixed number of connections, each sending\n"
      "its next request when the previous one completes) or open loop at a fixed rate,\n"
      "with latency measured from each request's intended send time (corrected for\n"
      "coordinated omission).\n"
      "\n"
      "options:\n"
      "  -c, --connections N      connections (closed loop: concurrency; open loop: the\n"
      "                           most requests in flight) (default 64)\n"
      "  -R, --rate R             open loop at R requests/s for the whole run\n"
      "                           (default: closed loop)\n"
      "  -t, --threads N          event-loop threads (default: min(cores, connections))\n"
      "  -d, --duration DUR       measured time (default 10s)\n"
      "  -w, --warmup DUR         load before measuring, not counted (default 0)\n"
      "  -n, --requests N         closed loop: stop after N measured requests\n"
      "      --timeout DUR        per request, connect included (default 10s)\n"
      "      --no-keepalive       one connection per request (Connection: close)\n"
      "      --verify             HTTPS: verify the certificate (default: no verification)\n"
      "      --tls-resume         HTTPS: resume each connection's previous TLS session\n"
      "                           (with --no-keepalive: resumed instead of full handshakes)\n"
      "      --tls-max 1.2|1.3    HTTPS: highest TLS version offered (default 1.3)\n"
      "      --no-tls-tickets     HTTPS: no TLS 1.2 session tickets (resume by session ID)\n"
      "  -m, --method NAME        request method (default GET)\n"
      "  -H, --header 'N: V'      request header (repeatable)\n"
      "      --body TEXT          request body (Content-Length set)\n"
      "      --body-file FILE     request body from a file\n"
      "      --config FILE        edged configuration to read a target group from\n"
      "      --target-group NAME  drive every target of this group directly\n"
      "      --path PATH          request target in --target-group mode (default /)\n"
      "      --target-header NAME per-target breakdown by this response header\n"
      "                           (e.g. X-Served-By through edged)\n"
      "      --json               JSON summary on stdout\n"
      "  -q, --quiet              no progress line on stderr\n"
      "  -h, --help               this text\n"
      "\n"
      "Durations: 250ms, 10s, 2m, or a bare number of seconds.\n");
  return out;
}

LoadCommandLine parse_load_command_line(std::span<const std::string_view> args) {
  LoadCommandLine result;
  LoadOptions& o = result.options;
  auto fail = [&result](std::string message) {
    result.error = std::move(message);
    return result;
  };

  bool duration_given = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view name = args[i];
    std::optional<std::string_view> inline_value;
    if (name.starts_with("--")) {
      if (const auto eq = name.find('='); eq != std::string_view::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
    }
    if (!name.starts_with("-") || name == "-") {
      if (!o.url.empty()) return fail("more than one URL given");
      o.url = std::string(name);
      continue;
    }
    if (name == "-h" || name == "--help") {
      result.help = true;
      return result;
    }
    const std::string opt(name);
    if (name == "--no-keepalive" || name == "--verify" || name == "--tls-resume" ||
        name == "--no-tls-tickets" || name == "--json" || name == "-q" || name == "--quiet") {
      if (inline_value) return fail(opt + " takes no value");
      if (name == "--no-keepalive") o.keep_alive = false;
      if (name == "--verify") o.verify_tls = true;
      if (name == "--tls-resume") o.tls_resume = true;
      if (name == "--no-tls-tickets") o.tls_tickets = false;
      if (name == "--json") o.json = true;
      if (name == "-q" || name == "--quiet") o.progress = false;
      continue;
    }
    std::string_view v;
    if (inline_value) {
      v = *inline_value;
    } else if (i + 1 < args.size()) {
      v = args[++i];
    } else {
      return fail(opt + " needs a value");
    }
    const std::string shown(v);
    auto duration = [&](std::chrono::milliseconds& out) {
      config::Duration d{};
      if (!config::parse_duration(v, d)) return false;
      out = d;
      return true;
    };

    if (name == "-c" || name == "--connections") {
      if (!parse_number(v, o.connections) || o.connections < 1) {
        return fail(opt + ": expected a positive integer, got '" + shown + "'");
      }
    } else if (name == "-t" || name == "--threads") {
      if (!parse_number(v, o.threads) || o.threads < 1) {
        return fail(opt + ": expected a positive integer, got '" + shown + "'");
      }
    } else if (name == "-R" || name == "--rate") {
      if (!parse_number(v, o.rate) || !(o.rate > 0)) {
        return fail(opt + ": expected a positive number of requests/s, got '" + shown + "'");
      }
    } else if (name == "-d" || name == "--duration") {
      if (!duration(o.duration)) return fail(opt + ": expected a duration, got '" + shown + "'");
      duration_given = true;
    } else if (name == "-w" || name == "--warmup") {
      if (!duration(o.warmup)) return fail(opt + ": expected a duration, got '" + shown + "'");
    } else if (name == "--timeout") {
      if (!duration(o.timeout)) return fail(opt + ": expected a duration, got '" + shown + "'");
    } else if (name == "-n" || name == "--requests") {
      if (!parse_number(v, o.requests) || o.requests == 0) {
        return fail(opt + ": expected a positive integer, got '" + shown + "'");
      }
    } else if (name == "-m" || name == "--method") {
      o.method = shown;
    } else if (name == "-H" || name == "--header") {
      const auto colon = v.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        return fail(opt + ": expected 'Name: value', got '" + shown + "'");
      }
      std::string_view value = v.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      o.headers.emplace_back(std::string(v.substr(0, colon)), std::string(value));
    } else if (name == "--body") {
      o.body = shown;
    } else if (name == "--body-file") {
      o.body_file = shown;
    } else if (name == "--config") {
      o.config_path = shown;
    } else if (name == "--target-group") {
      o.target_group = shown;
    } else if (name == "--path") {
      o.path = shown;
    } else if (name == "--target-header") {
      o.target_header = shown;
    } else if (name == "--tls-max") {
      o.tls_max = shown;
    } else {
      return fail("unknown option '" + std::string(args[i]) + "'");
    }
  }
  // `-n N` alone runs until N requests are measured.
  if (o.requests > 0 && !duration_given) o.duration = std::chrono::milliseconds(0);
  if (std::string why = o.validate(); !why.empty()) return fail(why);
  return result;
}

bool resolve_targets(const LoadOptions& options, std::vector<LoadTarget>& out, std::string& error) {
  out.clear();
  if (!options.url.empty()) {
    LoadTarget t;
    if (!parse_url(options.url, t.url, error)) return false;
    t.name = t.url.authority();
    out.push_back(std::move(t));
    return true;
  }
  const config::LoadResult loaded = config::load_config_file(options.config_path);
  if (!loaded.ok()) {
    error = loaded.errors.front().to_string();
    return false;
  }
  for (const auto& group : loaded.config.target_groups) {
    if (group.name != options.target_group) continue;
    if (group.targets.empty()) {
      error = "target group '" + group.name + "' has no targets";
      return false;
    }
    for (const auto& target : group.targets) {
      LoadTarget t;
      t.name = target.id.empty() ? target.address.to_string() : target.id;
      t.url.tls = group.protocol == config::Protocol::https;
      t.url.host = target.address.host.empty() ? "127.0.0.1" : target.address.host;
      t.url.port = target.address.port;
      t.url.target = options.path;
      out.push_back(std::move(t));
    }
    return true;
  }
  error = "no target group named '" + options.target_group + "' in " + options.config_path;
  return false;
}

}  // namespace edge::load
