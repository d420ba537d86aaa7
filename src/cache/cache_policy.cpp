#include "edge/cache/cache_policy.hpp"
#include "edge/core/text.hpp"

#include <algorithm>
#include <charconv>

#include "edge/proxy/request_ctx.hpp"

namespace edge::cache {
namespace {

using namespace std::chrono_literals;

constexpr auto trim = trim_ows;
constexpr auto lower = to_lower;

bool selected(const config::KeySelector& sel, std::string_view name) {
  using Mode = config::KeySelector::Mode;
  switch (sel.mode) {
    case Mode::none:
      return false;
    case Mode::all:
      return true;
    case Mode::whitelist:
      return std::find(sel.names.begin(), sel.names.end(), name) != sel.names.end();
    case Mode::all_except:
      return std::find(sel.names.begin(), sel.names.end(), name) == sel.names.end();
  }
  return false;
}

void add_component(std::string& key, char tag, std::string_view v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v.size());
  key.push_back(tag);
  key.append(buf, r.ptr);
  key.push_back(':');
  key.append(v);
}

using Pair = std::pair<std::string_view, std::string_view>;

/// Splits "a=1&b=2" (or "a=1; b=2" with sep ';') into pairs; a bare name has
/// an empty value.
std::vector<Pair> split_pairs(std::string_view s, char sep) {
  std::vector<Pair> out;
  while (!s.empty()) {
    auto end = s.find(sep);
    auto item = trim(s.substr(0, end));
    if (!item.empty()) {
      auto eq = item.find('=');
      if (eq == std::string_view::npos)
        out.emplace_back(item, std::string_view());
      else
        out.emplace_back(trim(item.substr(0, eq)), trim(item.substr(eq + 1)));
    }
    if (end == std::string_view::npos) break;
    s.remove_prefix(end + 1);
  }
  return out;
}

config::CachePolicyConfig managed(std::string name, config::Duration min, config::Duration def,
                                  config::Duration max, bool compression) {
  config::CachePolicyConfig c;
  c.name = std::move(name);
  c.min_ttl = min;
  c.default_ttl = def;
  c.max_ttl = max;
  if (compression) c.accept_encoding = {"gzip", "br"};
  return c;
}

}  // namespace

std::optional<config::CachePolicyConfig> managed_cache_policy(std::string_view name) {
  constexpr auto kDay = std::chrono::seconds(86400);
  constexpr auto kYear = std::chrono::seconds(31536000);
  if (name == "CachingOptimized") return managed(std::string(name), 1s, kDay, kYear, true);
  if (name == "CachingOptimizedForUncompressedObjects")
    return managed(std::string(name), 1s, kDay, kYear, false);
  if (name == "CachingDisabled") return managed(std::string(name), 0s, 0s, 0s, false);
  if (name == "UseOriginCacheControlHeaders") {
    auto c = managed(std::string(name), 0s, 0s, kYear, true);
    c.key_headers = {"host"};
    return c;
  }
  if (name == "UseOriginCacheControlHeaders-QueryStrings") {
    auto c = managed(std::string(name), 0s, 0s, kYear, true);
    c.key_headers = {"host"};
    c.key_query_strings.mode = config::KeySelector::Mode::all;
    return c;
  }
  return std::nullopt;
}

CachePolicy compile_cache_policy(const config::CachePolicyConfig& cfg) {
  CachePolicy p;
  p.name = cfg.name;
  auto secs = [](config::Duration d) {
    return std::chrono::duration_cast<std::chrono::seconds>(d).count();
  };
  p.min_ttl = secs(cfg.min_ttl);
  p.default_ttl = secs(cfg.default_ttl);
  p.max_ttl = secs(cfg.max_ttl);
  for (const auto& h : cfg.key_headers) {
    auto l = lower(h);
    // Host is always part of the key; Accept-Encoding is normalised separately.
    if (l == "host" || l == "accept-encoding") continue;
    p.key_headers.push_back(std::move(l));
  }
  p.key_cookies = cfg.key_cookies;
  p.key_query_strings = cfg.key_query_strings;
  for (const auto& e : cfg.accept_encoding) {
    if (iequals(e, "gzip")) p.gzip = true;
    if (iequals(e, "br")) p.br = true;
  }
  return p;
}

std::optional<CachePolicy> find_cache_policy(const config::Config& cfg, std::string_view name) {
  for (const auto& c : cfg.cache_policies)
    if (c.name == name) return compile_cache_policy(c);
  if (auto m = managed_cache_policy(name)) return compile_cache_policy(*m);
  return std::nullopt;
}

std::string normalize_accept_encoding(const CachePolicy& policy, std::string_view accept_encoding) {
  bool gzip = false, br = false;
  std::string_view rest = accept_encoding;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = trim(rest.substr(0, comma));
    auto semi = item.find(';');
    auto coding = trim(item.substr(0, semi));
    bool zero_q = false;
    if (semi != std::string_view::npos) {
      auto params = trim(item.substr(semi + 1));
      if (params.size() >= 2 && (params[0] == 'q' || params[0] == 'Q') && params[1] == '=') {
        auto q = trim(params.substr(2));
        zero_q = !q.empty() && q.find_first_not_of("0.") == std::string_view::npos;
      }
    }
    if (!zero_q) {
      if (iequals(coding, "gzip")) gzip = true;
      if (iequals(coding, "br")) br = true;
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  gzip = gzip && policy.gzip;
  br = br && policy.br;
  if (br && gzip) return "br,gzip";
  if (br) return "br";
  if (gzip) return "gzip";
  return {};
}

std::string make_cache_key(const CachePolicy& policy, const KeyRequest& request) {
  std::string key;
  key.reserve(64 + request.path.size() + request.query.size());
  add_component(key, 'H', lower(request.host));
  add_component(key, 'P', request.path);
  if (policy.key_query_strings.mode != config::KeySelector::Mode::none && !request.query.empty()) {
    auto pairs = split_pairs(request.query, '&');
    std::erase_if(pairs, [&](const Pair& p) { return !selected(policy.key_query_strings, p.first); });
    std::stable_sort(pairs.begin(), pairs.end());
    for (const auto& [n, v] : pairs) {
      add_component(key, 'q', n);
      add_component(key, '=', v);
    }
  }
  if (request.head) {
    for (const auto& h : policy.key_headers) {
      add_component(key, 'h', h);
      add_component(key, '=', request.head->header(h));
    }
    if (policy.key_cookies.mode != config::KeySelector::Mode::none) {
      auto pairs = split_pairs(request.head->header("cookie"), ';');
      std::erase_if(pairs, [&](const Pair& p) { return !selected(policy.key_cookies, p.first); });
      std::stable_sort(pairs.begin(), pairs.end());
      for (const auto& [n, v] : pairs) {
        add_component(key, 'c', n);
        add_component(key, '=', v);
      }
    }
    if (policy.gzip || policy.br)
      add_component(key, 'e', normalize_accept_encoding(policy, request.head->header("accept-encoding")));
  }
  return key;
}

}  // namespace edge::cache
