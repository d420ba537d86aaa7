#include "edge/cache/cache_control.hpp"
#include "edge/core/text.hpp"

#include <limits>

namespace edge::cache {
namespace {

constexpr auto trim = trim_ows;

/// delta-seconds (RFC 9111 1.2.2): digits; values too large saturate at 2^31
/// as the RFC recommends. nullopt for anything that is not digits.
std::optional<std::int64_t> delta_seconds(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.empty()) return std::nullopt;
  std::int64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
    if (n > 2147483648LL) n = 2147483648LL;
  }
  return n;
}

/// Splits on commas outside quoted strings.
template <class F>
void for_each_directive(std::string_view value, F&& f) {
  std::size_t start = 0;
  bool quoted = false;
  for (std::size_t i = 0; i <= value.size(); ++i) {
    if (i < value.size()) {
      char c = value[i];
      if (c == '"') quoted = !quoted;
      if (c == '\\' && quoted && i + 1 < value.size()) {
        ++i;
        continue;
      }
      if (c != ',' || quoted) continue;
    }
    auto item = trim(value.substr(start, i - start));
    if (!item.empty()) {
      auto eq = item.find('=');
      if (eq == std::string_view::npos) {
        f(item, std::string_view(), false);
      } else {
        f(trim(item.substr(0, eq)), trim(item.substr(eq + 1)), true);
      }
    }
    start = i + 1;
  }
}

}  // namespace

void CacheControl::parse(std::string_view value) {
  for_each_directive(value, [this](std::string_view name, std::string_view arg, bool has_arg) {
    // An invalid argument makes a freshness directive mean "stale now" (0) for
    // max-age/s-maxage (the conservative reading), and drops the others.
    auto seconds = [&]() -> std::optional<std::int64_t> { return delta_seconds(arg); };
    if (iequals(name, "no-store")) {
      no_store = true;
    } else if (iequals(name, "no-cache")) {
      no_cache = true;
    } else if (iequals(name, "private")) {
      private_ = true;
    } else if (iequals(name, "public")) {
      public_ = true;
    } else if (iequals(name, "must-revalidate")) {
      must_revalidate = true;
    } else if (iequals(name, "proxy-revalidate")) {
      proxy_revalidate = true;
    } else if (iequals(name, "must-understand")) {
      must_understand = true;
    } else if (iequals(name, "no-transform")) {
      no_transform = true;
    } else if (iequals(name, "only-if-cached")) {
      only_if_cached = true;
    } else if (iequals(name, "immutable")) {
      immutable = true;
    } else if (iequals(name, "max-age")) {
      max_age = seconds().value_or(0);
    } else if (iequals(name, "s-maxage")) {
      s_maxage = seconds().value_or(0);
    } else if (iequals(name, "stale-while-revalidate")) {
      if (auto s = seconds()) stale_while_revalidate = s;
    } else if (iequals(name, "stale-if-error")) {
      if (auto s = seconds()) stale_if_error = s;
    } else if (iequals(name, "min-fresh")) {
      if (auto s = seconds()) min_fresh = s;
    } else if (iequals(name, "max-stale")) {
      if (!has_arg) {
        max_stale = std::numeric_limits<std::int64_t>::max();
      } else if (auto s = seconds()) {
        max_stale = s;
      }
    }
  });
}

bool pragma_no_cache(std::string_view value) {
  bool found = false;
  for_each_directive(value, [&](std::string_view name, std::string_view, bool) {
    if (iequals(name, "no-cache")) found = true;
  });
  return found;
}

}  // namespace edge::cache
