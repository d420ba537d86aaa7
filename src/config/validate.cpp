// Semantic validation of a Config: ranges, required fields, uniqueness and
// cross-references. It knows nothing about YAML; the loader maps each error's
// key path back to a line and column.
//
// Ranges follow ALB/CloudFront where those exist (health checks, deregistration
// delay, slow start, rule priorities, weights) and are documented next to each
// key in conf/edged.yaml.

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "edge/config/loader.hpp"
#include "edge/tls/security_policy.hpp"

namespace edge::config {
namespace {

using std::chrono::seconds;

/// Policies that exist without being declared (CloudFront managed policies).
constexpr std::array<std::string_view, 4> kManagedCachePolicies = {
    "CachingOptimized", "CachingOptimizedForUncompressedObjects", "CachingDisabled",
    "UseOriginCacheControlHeaders"};
constexpr std::array<std::string_view, 4> kManagedOriginRequestPolicies = {
    "AllViewer", "AllViewerExceptHostHeader", "UserAgentRefererHeaders", "CORS-CustomOrigin"};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& names, std::string_view name) {
  for (auto n : names) {
    if (n == name) return true;
  }
  return false;
}

std::string format_duration(Duration d) {
  const auto ms = d.count();
  if (ms != 0 && ms % 86400000 == 0) return std::to_string(ms / 86400000) + "d";
  if (ms != 0 && ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string format_size(std::uint64_t bytes) {
  if (bytes != 0 && bytes % kGiB == 0) return std::to_string(bytes / kGiB) + "GiB";
  if (bytes != 0 && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "MiB";
  if (bytes != 0 && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + "KiB";
  return std::to_string(bytes);
}

std::string in_quotes(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

/// RFC 9110 token characters (header names, methods).
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

/// Names of groups and policies end up in metric labels and log fields: printable,
/// no whitespace.
bool is_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (c <= ' ' || c == 0x7f) return false;
  }
  return true;
}

bool parse_uint(std::string_view s, unsigned long max, unsigned long& out) {
  if (s.empty() || s.size() > 10) return false;
  unsigned long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned long>(c - '0');
  }
  if (v > max) return false;
  out = v;
  return true;
}

bool valid_cidr(std::string_view s) {
  const std::size_t slash = s.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string addr(s.substr(0, slash));
  unsigned long prefix = 0;
  in6_addr v6{};
  in_addr v4{};
  if (inet_pton(AF_INET, addr.c_str(), &v4) == 1)
    return parse_uint(s.substr(slash + 1), 32, prefix);
  if (inet_pton(AF_INET6, addr.c_str(), &v6) == 1) {
    return parse_uint(s.substr(slash + 1), 128, prefix);
  }
  return false;
}

/// ALB matcher: "200", "200,302", "200-299" (items may be mixed), codes 200..499.
bool valid_matcher(std::string_view m) {
  if (m.empty()) return false;
  std::size_t start = 0;
  while (start <= m.size()) {
    std::size_t comma = m.find(',', start);
    if (comma == std::string_view::npos) comma = m.size();
    const std::string_view item = m.substr(start, comma - start);
    const std::size_t dash = item.find('-');
    unsigned long lo = 0;
    unsigned long hi = 0;
    if (dash == std::string_view::npos) {
      if (!parse_uint(item, 499, lo) || lo < 200) return false;
    } else {
      if (!parse_uint(item.substr(0, dash), 499, lo) || lo < 200) return false;
      if (!parse_uint(item.substr(dash + 1), 499, hi) || hi < lo) return false;
    }
    start = comma + 1;
  }
  return true;
}

/// Checks one Config it borrows for the duration of run(); errors carry key paths
/// only (file = Config::source, line/column 0). Thread: the caller's.
class Validator {
 public:
  explicit Validator(const Config& c) : c_(c) {}

  std::vector<ConfigError> run() {
    global();
    for (std::size_t i = 0; i < c_.cache_policies.size(); ++i) {
      cache_policy(c_.cache_policies[i], "cache_policies[" + std::to_string(i) + "]");
    }
    for (std::size_t i = 0; i < c_.origin_request_policies.size(); ++i) {
      origin_request_policy(c_.origin_request_policies[i],
                            "origin_request_policies[" + std::to_string(i) + "]");
    }
    for (std::size_t i = 0; i < c_.target_groups.size(); ++i) {
      target_group(c_.target_groups[i], "target_groups[" + std::to_string(i) + "]");
    }
    if (c_.listeners.empty()) err("listeners", "at least one listener is required");
    std::map<std::uint16_t, std::string> ports;  // port -> listener that took it
    for (std::size_t i = 0; i < c_.listeners.size(); ++i) {
      const std::string path = "listeners[" + std::to_string(i) + "]";
      listener(c_.listeners[i], path);
      const auto& l = c_.listeners[i];
      if (l.listen.port == 0) continue;  // ephemeral ports never collide
      auto [it, inserted] = ports.emplace(l.listen.port, l.name);
      if (!inserted) {
        err(path + ".listen", "port " + std::to_string(l.listen.port) +
                                  " is already used by listener " + in_quotes(it->second));
      }
    }
    if (c_.admin.enabled && c_.admin.listen.port != 0) {
      auto it = ports.find(c_.admin.listen.port);
      if (it != ports.end()) {
        err("admin.listen", "port " + std::to_string(c_.admin.listen.port) +
                                " is already used by listener " + in_quotes(it->second));
      }
    }
    return std::move(errors_);
  }

 private:
  void err(std::string path, std::string message) {
    ConfigError e;
    e.file = c_.source;
    e.path = std::move(path);
    e.message = std::move(message);
    errors_.push_back(std::move(e));
  }

  void range(const std::string& path, long long v, long long lo, long long hi) {
    if (v < lo || v > hi) {
      err(path, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + " (got " +
                    std::to_string(v) + ")");
    }
  }

  void range(const std::string& path, Duration v, Duration lo, Duration hi) {
    if (v < lo || v > hi) {
      err(path, "must be between " + format_duration(lo) + " and " + format_duration(hi) +
                    " (got " + format_duration(v) + ")");
    }
  }

  void size_range(const std::string& path, std::uint64_t v, std::uint64_t lo, std::uint64_t hi) {
    if (v < lo || v > hi) {
      err(path, "must be between " + format_size(lo) + " and " + format_size(hi) + " (got " +
                    format_size(v) + ")");
    }
  }

  void positive(const std::string& path, Duration v, Duration hi) {
    if (v <= Duration::zero() || v > hi) {
      err(path, "must be more than 0 and at most " + format_duration(hi) + " (got " +
                    format_duration(v) + ")");
    }
  }

  void name(const std::string& path, const std::string& n) {
    if (n.empty()) {
      err(path, "is required");
    } else if (!is_name(n)) {
      err(path, "invalid name " + in_quotes(n) + " (1..128 printable characters, no spaces)");
    }
  }

  void global() {
    if (c_.workers > 1024) range("workers", c_.workers, 1, 1024);
    if (c_.access_log.path.empty()) err("access_log.path", "is required (stdout, off or a path)");
    size_range("limits.max_header_bytes", c_.limits.max_header_bytes, kKiB, kMiB);
    if (c_.limits.max_header_line_bytes < 256 ||
        c_.limits.max_header_line_bytes > c_.limits.max_header_bytes) {
      err("limits.max_header_line_bytes", "must be between 256 and limits.max_header_bytes (" +
                                              format_size(c_.limits.max_header_bytes) + ") (got " +
                                              format_size(c_.limits.max_header_line_bytes) + ")");
    }
    const Duration day = seconds(86400);
    positive("timeouts.client_header", c_.timeouts.client_header, day);
    positive("timeouts.idle", c_.timeouts.idle, day);
    positive("timeouts.upstream_connect", c_.timeouts.upstream_connect, day);
    positive("timeouts.upstream_response", c_.timeouts.upstream_response, day);
    range("timeouts.drain", c_.timeouts.drain, Duration::zero(), seconds(3600));
    range("timeouts.tls_handshake", c_.timeouts.tls_handshake, seconds(1), seconds(300));
    positive("timeouts.websocket_idle", c_.timeouts.websocket_idle, day);
    if (c_.admin.upgrade_socket.size() > 100) {
      err("admin.upgrade_socket", "Unix socket path too long (at most 100 bytes)");
    }
    size_range("relay_buffer", c_.relay_buffer_bytes, 4 * kKiB, kMiB);
    if (c_.cache.memory != 0) {
      size_range("cache.max_object_size", c_.cache.max_object_size, 1, c_.cache.memory);
    }
    range("cache.collapse_timeout", c_.cache.collapse_timeout, seconds(0), seconds(300));
  }

  void listener(const ListenerConfig& l, const std::string& path) {
    name(path + ".name", l.name);
    for (std::size_t j = 0; j < l.upgrade_protocols.size(); ++j) {
      const std::string& p = l.upgrade_protocols[j];
      const auto token_char = [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) ||
               (ch != '\0' && std::strchr("!#$%&'*+-.^_`|~", ch) != nullptr);
      };
      const bool token = !p.empty() && p.size() <= 64 && std::all_of(p.begin(), p.end(), token_char);
      if (!token) {
        err(path + ".upgrade_protocols[" + std::to_string(j) + "]",
            "invalid protocol name " + in_quotes(p) + " (an HTTP token such as websocket or h2c)");
      }
    }
    for (std::size_t j = 0; j < c_.listeners.size() && &c_.listeners[j] != &l; ++j) {
      if (!l.name.empty() && c_.listeners[j].name == l.name) {
        err(path + ".name", "duplicate listener name " + in_quotes(l.name));
        break;
      }
    }
    if (l.protocol == Protocol::https) {
      if (l.tls.policy.empty()) {
        err(path + ".tls.policy", "is required for HTTPS");
      } else if (!tls::find_security_policy(l.tls.policy)) {
        std::string names;
        for (auto n : tls::security_policy_names()) names += (names.empty() ? "" : ", ") + std::string(n);
        err(path + ".tls.policy", "unknown security policy " + in_quotes(l.tls.policy) + " (known: " + names + ")");
      }
      if (l.tls.certificates.empty()) {
        err(path + ".tls.certificates", "an HTTPS listener needs at least one certificate");
      }
      if (l.tls.session_ticket_rotation != Duration::zero())
        range(path + ".tls.session_ticket_rotation", l.tls.session_ticket_rotation, seconds(60),
              seconds(7 * 86400));
      if (l.mutual_authentication.mode == MutualAuthentication::Mode::verify &&
          l.mutual_authentication.trust_store.empty())
        err(path + ".mutual_authentication.trust_store", "is required with mode verify");
    } else if (l.mutual_authentication.mode != MutualAuthentication::Mode::off) {
      err(path + ".mutual_authentication", "mutual TLS needs an HTTPS listener");
    } else if (!l.tls.certificates.empty()) {
      err(path + ".tls", "tls is only used by HTTPS listeners (protocol is HTTP)");
    }
    for (std::size_t i = 0; i < l.tls.certificates.size(); ++i) {
      const std::string cp = path + ".tls.certificates[" + std::to_string(i) + "]";
      if (l.tls.certificates[i].cert.empty()) err(cp + ".cert", "is required");
      if (l.tls.certificates[i].key.empty()) err(cp + ".key", "is required");
    }
    std::map<int, std::size_t> priorities;
    for (std::size_t i = 0; i < l.rules.size(); ++i) {
      const std::string rp = path + ".rules[" + std::to_string(i) + "]";
      const Rule& r = l.rules[i];
      if (r.priority < 1 || r.priority > 50000) {
        range(rp + ".priority", r.priority, 1, 50000);
      } else if (auto [it, inserted] = priorities.emplace(r.priority, i); !inserted) {
        err(rp + ".priority", "duplicate priority " + std::to_string(r.priority) + " (also rules[" +
                                  std::to_string(it->second) + "])");
      }
      conditions(r.conditions, rp + ".conditions");
      action(r.action, rp + ".action");
    }
    action(l.default_action, path + ".default_action");
  }

  void string_values(const std::vector<std::string>& values, const std::string& path,
                     std::size_t max_len) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::string p = path + "[" + std::to_string(i) + "]";
      if (values[i].empty()) {
        err(p, "must not be empty");
      } else if (values[i].size() > max_len) {
        err(p, "longer than " + std::to_string(max_len) + " characters");
      }
    }
  }

  void conditions(const Conditions& c, const std::string& path) {
    if (c.path_pattern.empty() && c.host_header.empty() && c.http_request_method.empty() &&
        !c.http_header && c.query_string.empty() && c.source_ip.empty()) {
      err(path, "a rule needs at least one condition");
    }
    string_values(c.path_pattern, path + ".path_pattern", 128);
    string_values(c.host_header, path + ".host_header", 128);
    for (std::size_t i = 0; i < c.http_request_method.size(); ++i) {
      const auto& m = c.http_request_method[i];
      bool ok = !m.empty() && m.size() <= 40;
      for (char ch : m) ok = ok && ((ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_');
      if (!ok) {
        err(path + ".http_request_method[" + std::to_string(i) + "]",
            "invalid method " + in_quotes(m) + " (upper-case A-Z, '-' and '_', up to 40)");
      }
    }
    if (c.http_header) {
      if (!is_token(c.http_header->name)) {
        err(path + ".http_header.name", "invalid header name " + in_quotes(c.http_header->name));
      }
      if (c.http_header->values.empty()) {
        err(path + ".http_header.values", "at least one value is required");
      }
      string_values(c.http_header->values, path + ".http_header.values", 128);
    }
    for (std::size_t i = 0; i < c.query_string.size(); ++i) {
      if (c.query_string[i].value.empty()) {
        err(path + ".query_string[" + std::to_string(i) + "].value", "is required");
      }
    }
    for (std::size_t i = 0; i < c.source_ip.size(); ++i) {
      if (!valid_cidr(c.source_ip[i])) {
        err(path + ".source_ip[" + std::to_string(i) + "]",
            "invalid CIDR " + in_quotes(c.source_ip[i]) + " (e.g. 10.0.0.0/8, 2001:db8::/32)");
      }
    }
  }

  bool cache_policy_exists(const std::string& n) const {
    if (contains(kManagedCachePolicies, n)) return true;
    for (const auto& p : c_.cache_policies) {
      if (p.name == n) return true;
    }
    return false;
  }

  bool origin_request_policy_exists(const std::string& n) const {
    if (contains(kManagedOriginRequestPolicies, n)) return true;
    for (const auto& p : c_.origin_request_policies) {
      if (p.name == n) return true;
    }
    return false;
  }

  void action(const Action& a, const std::string& path) {
    switch (a.kind) {
      case Action::Kind::forward:
        forward(a.forward, path + ".forward");
        break;
      case Action::Kind::fixed_response: {
        const auto& f = a.fixed_response;
        range(path + ".fixed_response.status", f.status, 200, 599);
        break;
      }
      case Action::Kind::redirect:
        redirect(a.redirect, path + ".redirect");
        break;
    }
  }

  void forward(const ForwardAction& f, const std::string& path) {
    if (f.target_groups.empty()) {
      err(path + ".target_groups", "at least one target group is required");
    }
    if (f.stickiness.enabled) {
      // ALB's range for target group stickiness.
      range(path + ".target_group_stickiness.duration", f.stickiness.duration, seconds(1),
            seconds(7 * 86400));
    }
    bool any_weight = false;
    std::set<std::string> seen;
    for (std::size_t i = 0; i < f.target_groups.size(); ++i) {
      const std::string p = path + ".target_groups[" + std::to_string(i) + "]";
      const auto& tg = f.target_groups[i];
      range(p + ".weight", tg.weight, 0, 999);
      any_weight = any_weight || tg.weight > 0;
      if (tg.name.empty()) {
        err(p + ".name", "is required");
      } else if (c_.find_target_group(tg.name) == nullptr) {
        err(p + ".name", "unknown target group " + in_quotes(tg.name));
      } else if (!seen.insert(tg.name).second) {
        err(p + ".name", "target group " + in_quotes(tg.name) + " is listed twice");
      }
    }
    if (!f.target_groups.empty() && !any_weight) {
      err(path + ".target_groups", "at least one target group needs a weight above 0");
    }
    if (!f.cache_policy.empty() && !cache_policy_exists(f.cache_policy)) {
      err(path + ".cache_policy", "unknown cache policy " + in_quotes(f.cache_policy));
    }
    if (!f.origin_request_policy.empty() &&
        !origin_request_policy_exists(f.origin_request_policy)) {
      err(path + ".origin_request_policy",
          "unknown origin request policy " + in_quotes(f.origin_request_policy));
    }
  }

  void redirect(const RedirectAction& r, const std::string& path) {
    if (r.status != 301 && r.status != 302) {
      err(path + ".status", "must be 301 or 302 (got " + std::to_string(r.status) + ")");
    }
    if (r.protocol != "HTTP" && r.protocol != "HTTPS" && r.protocol != "#{protocol}") {
      err(path + ".protocol",
          "must be HTTP, HTTPS or #{protocol} (got " + in_quotes(r.protocol) + ")");
    }
    unsigned long port = 0;
    if (r.port != "#{port}" && (!parse_uint(r.port, 65535, port) || port == 0)) {
      err(path + ".port", "must be 1..65535 or #{port} (got " + in_quotes(r.port) + ")");
    }
    if (r.host.empty()) err(path + ".host", "must not be empty");
    if (r.path.empty() || r.path.front() != '/') err(path + ".path", "must start with '/'");
    if (!r.query.empty() && r.query.front() == '?') {
      err(path + ".query", "must not start with '?'");
    }
  }

  void target_group(const TargetGroupConfig& g, const std::string& path) {
    name(path + ".name", g.name);
    for (const auto& other : c_.target_groups) {
      if (&other == &g) break;
      if (!g.name.empty() && other.name == g.name) {
        err(path + ".name", "duplicate target group name " + in_quotes(g.name));
        break;
      }
    }
    std::set<std::string> ids;
    for (std::size_t i = 0; i < g.targets.size(); ++i) {
      const std::string p = path + ".targets[" + std::to_string(i) + "]";
      const auto& t = g.targets[i];
      // `address` is what the data plane connects to; `id` is its spelling in the
      // file (the loader sets both).
      Address parsed;
      if (!t.id.empty() && !parse_address(t.id, parsed)) {
        err(p + ".id", "invalid address " + in_quotes(t.id) + " (host:port or [v6]:port)");
        continue;
      }
      const Address& a = t.address;
      if (a.host.empty() || a.port == 0) {
        err(p + ".id", "a target needs a host and a port 1..65535 (got " +
                           in_quotes(t.id.empty() ? a.to_string() : t.id) + ")");
      } else if (!ids.insert(a.to_string()).second) {
        err(p + ".id", "duplicate target " + in_quotes(a.to_string()));
      }
      range(p + ".weight", t.weight, 1, 999);
    }
    const auto& h = g.health_check;
    const std::string hp = path + ".health_check";
    if (h.port && *h.port == 0) err(hp + ".port", "must be traffic-port or 1..65535");
    if (h.path.empty() || h.path.front() != '/' || h.path.size() > 1024) {
      err(hp + ".path", "must start with '/' (at most 1024 characters)");
    }
    range(hp + ".interval", h.interval, seconds(5), seconds(300));
    range(hp + ".timeout", h.timeout, seconds(2), seconds(120));
    const bool both_in_range = h.interval >= seconds(5) && h.interval <= seconds(300) &&
                               h.timeout >= seconds(2) && h.timeout <= seconds(120);
    if (both_in_range && h.timeout >= h.interval) {
      err(hp + ".timeout", "must be less than interval (" + format_duration(h.interval) + ")");
    }
    range(hp + ".healthy_threshold", h.healthy_threshold, 2, 10);
    range(hp + ".unhealthy_threshold", h.unhealthy_threshold, 2, 10);
    if (!valid_matcher(h.matcher)) {
      err(hp + ".matcher", "invalid matcher " + in_quotes(h.matcher) +
                               " (e.g. \"200\", \"200,302\", \"200-299\"; codes 200..499)");
    }
    range(path + ".unhealthy_state_routing.minimum_healthy_targets",
          g.unhealthy_state_routing.minimum_healthy_targets, 1, 1000);
    const auto& od = g.outlier_detection;
    const std::string op = path + ".outlier_detection";
    range(op + ".consecutive_5xx", od.consecutive_5xx, 0, 1000);
    range(op + ".consecutive_gateway_failure", od.consecutive_gateway_failure, 0, 1000);
    range(op + ".base_ejection_time", od.base_ejection_time, seconds(1), seconds(300));
    range(op + ".max_ejection_percent", od.max_ejection_percent, 0, 100);
    range(path + ".deregistration_delay", g.deregistration_delay, Duration::zero(), seconds(3600));
    if (g.slow_start != Duration::zero() &&
        (g.slow_start < seconds(30) || g.slow_start > seconds(900))) {
      err(path + ".slow_start",
          "must be 0s or between 30s and 15m (got " + format_duration(g.slow_start) + ")");
    }
    const auto& k = g.upstream_keepalive;
    range(path + ".upstream_keepalive.max_idle_per_target", k.max_idle_per_target, 0, 10000);
    positive(path + ".upstream_keepalive.idle_timeout", k.idle_timeout, seconds(3600));
    range(path + ".retries", g.retries, 0, 10);
  }

  void header_names(const std::vector<std::string>& names, const std::string& path) {
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (!is_token(names[i])) {
        err(path + "[" + std::to_string(i) + "]", "invalid header name " + in_quotes(names[i]));
      }
    }
  }

  void selector(const KeySelector& s, const std::string& path, bool header_names_only) {
    const bool lists =
        s.mode == KeySelector::Mode::whitelist || s.mode == KeySelector::Mode::all_except;
    if (lists && s.names.empty()) {
      err(path, "needs at least one name");
    } else if (!lists && !s.names.empty()) {
      err(path, "names are only used with a list or all_except");
    }
    const std::string names_path =
        s.mode == KeySelector::Mode::all_except ? path + ".all_except" : path;
    if (header_names_only) {
      header_names(s.names, names_path);
    } else {
      string_values(s.names, names_path, 256);
    }
  }

  void cache_policy(const CachePolicyConfig& p, const std::string& path) {
    name(path + ".name", p.name);
    if (contains(kManagedCachePolicies, p.name)) {
      err(path + ".name", in_quotes(p.name) + " is a managed cache policy; pick another name");
    }
    for (const auto& other : c_.cache_policies) {
      if (&other == &p) break;
      if (!p.name.empty() && other.name == p.name) {
        err(path + ".name", "duplicate cache policy name " + in_quotes(p.name));
        break;
      }
    }
    if (p.min_ttl < Duration::zero()) err(path + ".min_ttl", "must not be negative");
    if (p.default_ttl < p.min_ttl) {
      err(path + ".default_ttl", "must be at least min_ttl (" + format_duration(p.min_ttl) + ")");
    }
    if (p.max_ttl < p.default_ttl) {
      err(path + ".max_ttl",
          "must be at least default_ttl (" + format_duration(p.default_ttl) + ")");
    }
    header_names(p.key_headers, path + ".key.headers");
    selector(p.key_cookies, path + ".key.cookies", false);
    selector(p.key_query_strings, path + ".key.query_strings", false);
    for (std::size_t i = 0; i < p.accept_encoding.size(); ++i) {
      const auto& e = p.accept_encoding[i];
      if (e != "gzip" && e != "br") {
        err(path + ".key.accept_encoding[" + std::to_string(i) + "]",
            "must be gzip or br (got " + in_quotes(e) + ")");
      }
    }
  }

  void origin_request_policy(const OriginRequestPolicyConfig& p, const std::string& path) {
    name(path + ".name", p.name);
    if (contains(kManagedOriginRequestPolicies, p.name)) {
      err(path + ".name",
          in_quotes(p.name) + " is a managed origin request policy; pick another name");
    }
    for (const auto& other : c_.origin_request_policies) {
      if (&other == &p) break;
      if (!p.name.empty() && other.name == p.name) {
        err(path + ".name", "duplicate origin request policy name " + in_quotes(p.name));
        break;
      }
    }
    selector(p.headers, path + ".headers", true);
    selector(p.cookies, path + ".cookies", false);
    selector(p.query_strings, path + ".query_strings", false);
  }

  const Config& c_;
  std::vector<ConfigError> errors_;
};

}  // namespace

std::vector<ConfigError> validate(const Config& config) { return Validator(config).run(); }

}  // namespace edge::config
