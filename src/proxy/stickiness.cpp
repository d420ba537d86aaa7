#include "edge/proxy/stickiness.hpp"

#include <ctime>

namespace edge::proxy {

namespace {

constexpr char kHex[] = "0123456789abcdef";

void append_hex32(std::string& out, std::uint32_t v) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = kHex[v & 0xf];
    v >>= 4;
  }
  out.append(buf, sizeof buf);
}

bool parse_hex32(std::string_view s, std::uint32_t& out) {
  std::uint32_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return false;
    }
    v = (v << 4) | static_cast<std::uint32_t>(d);
  }
  out = v;
  return true;
}

/// IMF-fixdate ("Wed, 25 Nov 2026 07:00:00 GMT") of Unix seconds `t`.
void append_http_date(std::string& out, std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  out.append(buf, n);
}

}  // namespace

std::uint32_t group_name_hash(std::string_view name) {
  std::uint32_t h = 2166136261U;
  for (char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619U;
  }
  return h;
}

std::string format_sticky_value(const StickyCookie& c) {
  std::string out;
  out.reserve(16);
  append_hex32(out, c.group_hash);
  append_hex32(out, static_cast<std::uint32_t>(c.expires));
  return out;
}

std::optional<StickyCookie> parse_sticky_value(std::string_view value) {
  if (value.size() != 16) return std::nullopt;
  std::uint32_t hash = 0, expires = 0;
  if (!parse_hex32(value.substr(0, 8), hash) || !parse_hex32(value.substr(8), expires))
    return std::nullopt;
  return StickyCookie{hash, static_cast<std::int64_t>(expires)};
}

const ForwardTarget* pick_sticky_forward(const RouteAction& action, std::string_view cookie,
                                         std::int64_t now, std::uint64_t random, bool& fresh) {
  if (!cookie.empty()) {
    if (auto c = parse_sticky_value(cookie); c && c->expires > now) {
      for (const ForwardTarget& g : action.forward) {
        if (g.name_hash == c->group_hash) {
          fresh = false;
          return &g;
        }
      }
    }
  }
  fresh = true;
  return action.pick_forward(random);
}

void append_sticky_cookies(std::string& out, const RouteAction& action, const ForwardTarget& group,
                           std::int64_t now) {
  const std::int64_t expires = now + action.sticky_seconds;
  std::string value = format_sticky_value({group.name_hash, expires});
  for (std::string_view name : {kStickyCookie, kStickyCorsCookie}) {
    out.append("Set-Cookie: ");
    out.append(name);
    out.push_back('=');
    out.append(value);
    out.append("; Expires=");
    append_http_date(out, expires);
    out.append("; Path=/");
    if (name == kStickyCorsCookie) out.append("; SameSite=None; Secure");
    out.append("\r\n");
  }
}

}  // namespace edge::proxy
