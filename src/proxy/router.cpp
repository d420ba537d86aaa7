#include "edge/proxy/router.hpp"

#include "edge/proxy/stickiness.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace edge::proxy {
namespace {

namespace asio = boost::asio;

// ---- wildcard patterns --------------------------------------------------------
//
// A pattern is compiled once into a sequence of ops: a literal byte (0..255), a
// star (any run, possibly empty) or "any" (exactly one character). Matching is the
// classic iterative algorithm that backtracks only to the last star seen: O(n*m)
// worst case, no recursion, no allocation.

constexpr std::uint16_t kStar = 0x100;
constexpr std::uint16_t kAny = 0x101;
constexpr std::size_t kNoStar = std::numeric_limits<std::size_t>::max();

unsigned char to_lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c - 'A' + 'a') : c;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// `%XX` at `s[pos]`: the decoded byte, or -1 when it is not a valid escape.
int percent_escape(std::string_view s, std::size_t pos) {
  if (s[pos] != '%' || pos + 2 >= s.size()) return -1;
  const int hi = hex_value(s[pos + 1]);
  const int lo = hex_value(s[pos + 2]);
  if (hi < 0 || lo < 0) return -1;
  return hi * 16 + lo;
}

/// How a pattern's source text is read.
enum class Syntax {
  plain,  // '*' and '?' are wildcards, every other byte is literal
  query,  // also: '\' escapes the next byte, "%XX" and '+' are decoded (literal)
};

struct Pattern {
  std::vector<std::uint16_t> ops;
  std::size_t min_length = 0;  // number of ops consuming exactly one character
  bool literal = true;         // no wildcard: a plain comparison suffices
  bool case_insensitive = false;
};

Pattern compile_pattern(std::string_view text, bool case_insensitive, Syntax syntax) {
  Pattern p;
  p.case_insensitive = case_insensitive;
  p.ops.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '*') {
      p.literal = false;
      // Consecutive stars are one star: keeps the backtracking linear per star.
      if (p.ops.empty() || p.ops.back() != kStar) p.ops.push_back(kStar);
      continue;
    }
    if (c == '?') {
      p.literal = false;
      p.ops.push_back(kAny);
      ++p.min_length;
      continue;
    }
    if (syntax == Syntax::query) {
      if (c == '\\' && i + 1 < text.size()) {
        c = static_cast<unsigned char>(text[++i]);
      } else if (c == '+') {
        c = ' ';
      } else if (const int decoded = percent_escape(text, i); decoded >= 0) {
        c = static_cast<unsigned char>(decoded);
        i += 2;
      }
    }
    p.ops.push_back(case_insensitive ? to_lower(c) : c);
    ++p.min_length;
  }
  return p;
}

/// Raw bytes of a request field.
struct PlainInput {
  std::string_view s;
  bool done(std::size_t pos) const { return pos >= s.size(); }
  unsigned char next(std::size_t& pos) const { return static_cast<unsigned char>(s[pos++]); }
};

/// A query key or value decoded on the fly ("%XX" → byte, '+' → space), so no
/// decoded copy is made. Positions are offsets in the encoded text.
struct DecodedInput {
  std::string_view s;
  bool done(std::size_t pos) const { return pos >= s.size(); }
  unsigned char next(std::size_t& pos) const {
    const char c = s[pos];
    if (c == '+') {
      ++pos;
      return ' ';
    }
    if (const int decoded = percent_escape(s, pos); decoded >= 0) {
      pos += 3;
      return static_cast<unsigned char>(decoded);
    }
    ++pos;
    return static_cast<unsigned char>(c);
  }
};

template <class Input>
bool match_ops(const Pattern& p, const Input& in) {
  const std::uint16_t* ops = p.ops.data();
  const std::size_t m = p.ops.size();
  std::size_t pi = 0;
  std::size_t s = 0;
  std::size_t star = kNoStar;  // op index of the last star seen
  std::size_t mark = 0;        // input position that star currently extends to
  while (!in.done(s)) {
    if (pi < m && ops[pi] == kStar) {
      star = pi++;
      mark = s;
      continue;
    }
    if (pi < m) {
      std::size_t after = s;
      unsigned char c = in.next(after);
      if (p.case_insensitive) c = to_lower(c);
      if (ops[pi] == kAny || ops[pi] == c) {
        ++pi;
        s = after;
        continue;
      }
    }
    if (star == kNoStar) return false;
    // Let the last star absorb one more character and retry what follows it.
    pi = star + 1;
    in.next(mark);
    s = mark;
  }
  while (pi < m && ops[pi] == kStar) ++pi;
  return pi == m;
}

bool match(const Pattern& p, std::string_view s) {
  if (s.size() < p.min_length) return false;
  if (p.literal) {
    if (s.size() != p.min_length) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      auto c = static_cast<unsigned char>(s[i]);
      if (p.case_insensitive) c = to_lower(c);
      if (p.ops[i] != c) return false;
    }
    return true;
  }
  return match_ops(p, PlainInput{s});
}

bool match_any(const std::vector<Pattern>& patterns, std::string_view s) {
  for (const Pattern& p : patterns) {
    if (match(p, s)) return true;
  }
  return false;
}

// ---- source IP ------------------------------------------------------------------

struct Cidr {
  std::array<unsigned char, 16> bytes{};  // network address, host bits cleared
  unsigned prefix = 0;                    // bits compared
  bool v4 = true;
};

bool prefix_equal(const unsigned char* a, const unsigned char* b, unsigned prefix) {
  const unsigned full = prefix / 8;
  if (std::memcmp(a, b, full) != 0) return false;
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xFFU << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

Cidr parse_cidr(std::string_view text, const std::string& where) {
  auto fail = [&](const char* why) -> Cidr {
    throw std::runtime_error(where + ": source_ip '" + std::string(text) + "': " + why);
  };
  const std::size_t slash = text.find('/');
  const std::string addr_text(text.substr(0, slash));
  boost::system::error_code ec;
  const asio::ip::address addr = asio::ip::make_address(addr_text, ec);
  if (ec) return fail("not an IP address");

  Cidr c;
  c.v4 = addr.is_v4();
  const unsigned max_prefix = c.v4 ? 32 : 128;
  c.prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view len = text.substr(slash + 1);
    unsigned value = 0;
    const auto [end, err] = std::from_chars(len.data(), len.data() + len.size(), value);
    if (len.empty() || err != std::errc{} || end != len.data() + len.size() || value > max_prefix) {
      return fail("bad prefix length");
    }
    c.prefix = value;
  }
  if (c.v4) {
    const auto b = addr.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), c.bytes.begin());
  } else {
    const auto b = addr.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), c.bytes.begin());
  }
  // Clear host bits so "10.1.2.3/8" means 10.0.0.0/8.
  for (unsigned bit = c.prefix; bit < max_prefix; ++bit) {
    c.bytes[bit / 8] = static_cast<unsigned char>(c.bytes[bit / 8] & ~(0x80U >> (bit % 8)));
  }
  return c;
}

bool match_source(const std::vector<Cidr>& cidrs, const asio::ip::address& client) {
  // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d: match them as IPv4.
  std::array<unsigned char, 16> bytes{};
  bool v4 = client.is_v4();
  if (v4) {
    const auto b = client.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), bytes.begin());
  } else {
    const asio::ip::address_v6 v6 = client.to_v6();
    if (v6.is_v4_mapped()) {
      v4 = true;
      const auto b = asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes();
      std::copy(b.begin(), b.end(), bytes.begin());
    } else {
      const auto b = v6.to_bytes();
      std::copy(b.begin(), b.end(), bytes.begin());
    }
  }
  for (const Cidr& c : cidrs) {
    if (c.v4 == v4 && prefix_equal(c.bytes.data(), bytes.data(), c.prefix)) return true;
  }
  return false;
}

// ---- query string ---------------------------------------------------------------

struct QueryPair {
  bool has_key = false;
  Pattern key;
  Pattern value;
};

bool match_query_param(const QueryPair& q, std::string_view param) {
  const std::size_t eq = param.find('=');
  if (eq == std::string_view::npos) {
    // A bare parameter ("?debug") is a value for key-less conditions and a key
    // with an empty value for keyed ones.
    if (!q.has_key) return match_ops(q.value, DecodedInput{param});
    return match_ops(q.key, DecodedInput{param}) && match_ops(q.value, DecodedInput{});
  }
  if (q.has_key && !match_ops(q.key, DecodedInput{param.substr(0, eq)})) return false;
  return match_ops(q.value, DecodedInput{param.substr(eq + 1)});
}

bool match_query(const std::vector<QueryPair>& pairs, std::string_view query) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (param.empty()) continue;
    for (const QueryPair& q : pairs) {
      if (match_query_param(q, param)) return true;
    }
  }
  return false;
}

// ---- actions --------------------------------------------------------------------

RouteAction compile_action(const config::Action& a, std::span<const std::string> group_names,
                           const std::string& where, const config::Config* config) {
  RouteAction out;
  out.kind = a.kind;
  switch (a.kind) {
    case config::Action::Kind::forward:
      for (const config::ForwardTargetGroup& g : a.forward.target_groups) {
        const auto it = std::find(group_names.begin(), group_names.end(), g.name);
        if (it == group_names.end()) {
          throw std::runtime_error(where + ": unknown target group '" + g.name + "'");
        }
        out.forward.push_back({g.name, static_cast<std::uint32_t>(it - group_names.begin()),
                               g.weight, group_name_hash(g.name)});
        out.forward_weight_total += g.weight;
      }
      out.cache_policy = a.forward.cache_policy;
      if (config && !out.cache_policy.empty()) {
        auto policy = cache::find_cache_policy(*config, out.cache_policy);
        if (!policy) throw std::runtime_error(where + ": unknown cache policy '" + out.cache_policy + "'");
        // CachingDisabled (max_ttl 0) behaves as no policy: nothing to look up or store.
        if (policy->caching_enabled()) {
          // What goes to the target: the key, the origin request policy, what HTTP needs.
          std::optional<config::OriginRequestPolicyConfig> orp;
          const auto& orp_name = a.forward.origin_request_policy;
          if (!orp_name.empty()) {
            for (const auto& o : config->origin_request_policies)
              if (o.name == orp_name) orp = o;
            if (!orp) orp = cache::managed_origin_request_policy(orp_name);
            if (!orp)
              throw std::runtime_error(where + ": unknown origin request policy '" + orp_name + "'");
          }
          out.forward_policy =
              std::make_shared<const cache::ForwardPolicy>(*policy, orp ? &*orp : nullptr);
          out.cache = std::make_shared<const cache::CachePolicy>(std::move(*policy));
        }
      }
      out.origin_request_policy = a.forward.origin_request_policy;
      out.sticky = a.forward.stickiness.enabled;
      out.sticky_seconds =
          std::chrono::duration_cast<std::chrono::seconds>(a.forward.stickiness.duration).count();
      break;
    case config::Action::Kind::fixed_response:
      out.fixed_response = a.fixed_response;
      break;
    case config::Action::Kind::redirect:
      out.redirect = a.redirect;
      break;
  }
  return out;
}

std::string_view strip_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const std::size_t end = host.find(']');
    return end == std::string_view::npos ? host : host.substr(0, end + 1);
  }
  const std::size_t colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

}  // namespace

// ---- Router -----------------------------------------------------------------------

/// One listener rule, compiled. An empty list means the condition is absent;
/// within a list any entry may match; all present conditions must match.
struct Router::Rule {
  int priority = 0;
  std::vector<std::string> methods;  // exact, case-sensitive
  std::vector<Pattern> hosts;        // case-insensitive
  std::vector<Pattern> paths;        // case-sensitive
  std::vector<Cidr> sources;
  bool has_header = false;
  std::string header_name;             // looked up case-insensitively
  std::vector<Pattern> header_values;  // case-insensitive
  std::vector<QueryPair> queries;      // case-insensitive, percent-decoded
  std::size_t action = 0;              // index in Router::actions_

  /// Cheapest and most selective conditions first.
  bool matches(const RequestView& r) const {
    if (!methods.empty() && std::find(methods.begin(), methods.end(), r.method) == methods.end()) {
      return false;
    }
    if (!hosts.empty() && !match_any(hosts, r.host)) return false;
    if (!paths.empty() && !match_any(paths, r.path)) return false;
    if (!sources.empty() && !match_source(sources, r.client_ip)) return false;
    if (has_header) {
      if (r.headers == nullptr) return false;
      // RequestHead cannot tell an absent field from an empty one: neither matches.
      const std::string_view value = r.headers->header(header_name);
      if (value.empty() || !match_any(header_values, value)) return false;
    }
    if (!queries.empty() && !match_query(queries, r.query)) return false;
    return true;
  }
};

Router::Router(const config::ListenerConfig& listener, std::span<const std::string> group_names,
               const config::Config* config)
    : listener_(listener.name) {
  std::vector<const config::Rule*> sorted;
  sorted.reserve(listener.rules.size());
  for (const config::Rule& r : listener.rules) sorted.push_back(&r);
  std::stable_sort(sorted.begin(), sorted.end(), [](const config::Rule* a, const config::Rule* b) {
    return a->priority < b->priority;
  });

  rules_.reserve(sorted.size());
  actions_.reserve(sorted.size() + 1);
  for (const config::Rule* src : sorted) {
    const std::string where =
        "listener '" + listener.name + "' rule priority " + std::to_string(src->priority);
    const config::Conditions& c = src->conditions;
    Rule rule;
    rule.priority = src->priority;
    rule.methods = c.http_request_method;
    for (const auto& h : c.host_header)
      rule.hosts.push_back(compile_pattern(h, true, Syntax::plain));
    for (const auto& p : c.path_pattern)
      rule.paths.push_back(compile_pattern(p, false, Syntax::plain));
    for (const auto& s : c.source_ip) rule.sources.push_back(parse_cidr(s, where));
    if (c.http_header) {
      rule.has_header = true;
      rule.header_name = c.http_header->name;
      for (const auto& v : c.http_header->values) {
        rule.header_values.push_back(compile_pattern(v, true, Syntax::plain));
      }
    }
    for (const auto& q : c.query_string) {
      QueryPair pair;
      pair.has_key = !q.key.empty();
      pair.key = compile_pattern(q.key, true, Syntax::query);
      pair.value = compile_pattern(q.value, true, Syntax::query);
      rule.queries.push_back(std::move(pair));
    }
    rule.action = actions_.size();
    actions_.push_back(compile_action(src->action, group_names, where, config));
    rules_.push_back(std::move(rule));
  }
  actions_.push_back(compile_action(listener.default_action, group_names,
                                    "listener '" + listener.name + "' default action", config));
}

Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

std::size_t Router::rule_count() const { return rules_.size(); }

RouteResult Router::route(const RequestView& request) const {
  const auto n = static_cast<std::uint32_t>(rules_.size());
  for (std::uint32_t i = 0; i < n; ++i) {
    const Rule& rule = rules_[i];
    if (rule.matches(request)) return {rule.priority, &actions_[rule.action], i, i + 1};
  }
  return {0, &actions_.back(), n, n};
}

int Router::rule_priority(std::size_t i) const { return rules_.at(i).priority; }

const ForwardTarget* RouteAction::pick_forward(std::uint64_t random) const {
  if (forward_weight_total == 0) return nullptr;
  std::uint64_t x = random % forward_weight_total;
  for (const ForwardTarget& g : forward) {
    if (x < g.weight) return &g;
    x -= g.weight;
  }
  return nullptr;  // unreachable: x < total
}

RequestView make_request_view(const RequestHead& head, const asio::ip::address& client) {
  RequestView v;
  v.method = head.method();
  std::string_view target = head.target();
  if (!target.empty() && target.front() != '/') {
    // Absolute-form: skip "scheme://authority".
    const std::size_t scheme = target.find("://");
    if (scheme != std::string_view::npos) {
      const std::size_t start = target.find_first_of("/?", scheme + 3);
      target = start == std::string_view::npos ? std::string_view{} : target.substr(start);
    }
  }
  const std::size_t q = target.find('?');
  v.path = target.substr(0, q);
  if (q != std::string_view::npos) v.query = target.substr(q + 1);
  if (v.path.empty()) v.path = "/";
  v.host = strip_port(head.header("host"));
  v.headers = &head;
  v.client_ip = client;
  return v;
}

// ---- redirects --------------------------------------------------------------------

namespace {

struct RedirectVars {
  std::string_view protocol;
  std::string_view host;
  std::string_view port;
  std::string_view path;  // without the leading '/'
  std::string_view query;
};

/// Appends `tmpl` with ALB's #{...} placeholders replaced; unknown ones stay as written.
void append_expanded(std::string& out, std::string_view tmpl, const RedirectVars& vars) {
  std::size_t i = 0;
  while (i < tmpl.size()) {
    const std::size_t open = tmpl.find("#{", i);
    if (open == std::string_view::npos) {
      out.append(tmpl.substr(i));
      return;
    }
    out.append(tmpl.substr(i, open - i));
    const std::size_t close = tmpl.find('}', open + 2);
    if (close == std::string_view::npos) {
      out.append(tmpl.substr(open));
      return;
    }
    const std::string_view name = tmpl.substr(open + 2, close - open - 2);
    if (name == "protocol") {
      out.append(vars.protocol);
    } else if (name == "host") {
      out.append(vars.host);
    } else if (name == "port") {
      out.append(vars.port);
    } else if (name == "path") {
      out.append(vars.path);
    } else if (name == "query") {
      out.append(vars.query);
    } else {
      out.append(tmpl.substr(open, close - open + 1));
    }
    i = close + 1;
  }
}

}  // namespace

std::string expand_redirect(const config::RedirectAction& redirect, const RequestView& request,
                            std::string_view protocol, std::uint16_t port) {
  std::string listener_protocol(protocol);
  for (char& c : listener_protocol) c = static_cast<char>(to_lower(static_cast<unsigned char>(c)));
  std::array<char, 8> port_buf{};
  const auto port_end = std::to_chars(port_buf.data(), port_buf.data() + port_buf.size(), port).ptr;

  std::string_view path = request.path;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  const RedirectVars vars{listener_protocol, request.host,
                          std::string_view(port_buf.data(), port_end - port_buf.data()), path,
                          request.query};

  std::string proto;
  append_expanded(proto, redirect.protocol, vars);
  for (char& c : proto) c = static_cast<char>(to_lower(static_cast<unsigned char>(c)));
  std::string port_text;
  append_expanded(port_text, redirect.port, vars);
  const bool default_port = port_text.empty() || (proto == "http" && port_text == "80") ||
                            (proto == "https" && port_text == "443");

  std::string out;
  out.reserve(proto.size() + request.host.size() + request.path.size() + request.query.size() +
              redirect.host.size() + redirect.path.size() + redirect.query.size() + 16);
  out += proto;
  out += "://";
  append_expanded(out, redirect.host, vars);
  if (!default_port) {
    out += ':';
    out += port_text;
  }
  const std::size_t path_start = out.size();
  append_expanded(out, redirect.path, vars);
  if (out.size() == path_start || out[path_start] != '/') out.insert(path_start, 1, '/');
  std::string query;
  append_expanded(query, redirect.query, vars);
  if (!query.empty()) {
    out += '?';
    out += query;
  }
  return out;
}

}  // namespace edge::proxy
