#include "edge/cache/origin_request_policy.hpp"

#include <algorithm>

#include "edge/core/text.hpp"

namespace edge::cache {
namespace {

using Mode = config::KeySelector::Mode;

/// Header names compare without case; cookie and query names with it.
bool selected(const config::KeySelector& sel, std::string_view name, bool any_case) {
  auto eq = [&](const std::string& n) { return any_case ? iequals(n, name) : n == name; };
  switch (sel.mode) {
    case Mode::none:
      return false;
    case Mode::all:
      return true;
    case Mode::whitelist:
      return std::any_of(sel.names.begin(), sel.names.end(), eq);
    case Mode::all_except:
      return std::none_of(sel.names.begin(), sel.names.end(), eq);
  }
  return false;
}

config::KeySelector names(std::initializer_list<const char*> list) {
  config::KeySelector s;
  s.mode = Mode::whitelist;
  for (const char* n : list) s.names.emplace_back(n);
  return s;
}

config::KeySelector all() {
  config::KeySelector s;
  s.mode = Mode::all;
  return s;
}

/// Fields HTTP needs whatever the policies say: body framing and type,
/// conditionals and ranges (the cache's own validators go this way too).
bool always_forwarded(std::string_view n) {
  return iequals(n, "content-type") || iequals(n, "content-encoding") ||
         iequals(n, "content-language") || iequals(n, "content-length") ||
         iequals(n, "transfer-encoding") || iequals(n, "if-match") ||
         iequals(n, "if-none-match") || iequals(n, "if-modified-since") ||
         iequals(n, "if-unmodified-since") || iequals(n, "if-range") || iequals(n, "range") ||
         iequals(n, "expect");
}

}  // namespace

std::optional<config::OriginRequestPolicyConfig> managed_origin_request_policy(
    std::string_view name) {
  config::OriginRequestPolicyConfig c;
  c.name = std::string(name);
  if (name == "AllViewer" || name == "AllViewerExceptHostHeader") {
    c.headers = all();
    if (name == "AllViewerExceptHostHeader") {
      c.headers.mode = Mode::all_except;
      c.headers.names = {"host"};
    }
    c.cookies = all();
    c.query_strings = all();
    return c;
  }
  if (name == "UserAgentRefererHeaders") {
    c.headers = names({"user-agent", "referer"});
    c.query_strings = all();
    return c;
  }
  if (name == "CORS-CustomOrigin") {
    c.headers = names({"origin"});
    return c;
  }
  return std::nullopt;
}

ForwardPolicy::ForwardPolicy(const CachePolicy& cache,
                             const config::OriginRequestPolicyConfig* orp) {
  key_headers_.mode = Mode::whitelist;
  key_headers_.names = cache.key_headers;
  key_cookies_ = cache.key_cookies;
  key_query_ = cache.key_query_strings;
  gzip_ = cache.gzip;
  br_ = cache.br;
  if (orp) {
    headers_ = orp->headers;
    cookies_ = orp->cookies;
    query_ = orp->query_strings;
    // A policy that forwards every header but Host: the target's own address goes.
    replace_host_ = orp->headers.mode == Mode::all_except &&
                    std::any_of(orp->headers.names.begin(), orp->headers.names.end(),
                                [](const std::string& n) { return iequals(n, "host"); });
  }
}

bool ForwardPolicy::header(std::string_view name) const {
  if (always_forwarded(name)) return true;
  if (iequals(name, "accept-encoding")) return false;  // normalised by the caller
  return selected(key_headers_, name, true) || selected(headers_, name, true);
}

std::string ForwardPolicy::cookie(std::string_view value) const {
  std::string out;
  while (!value.empty()) {
    const auto semi = value.find(';');
    const std::string_view item = trim_ows(value.substr(0, semi));
    const std::string_view name = trim_ows(item.substr(0, item.find('=')));
    if (!item.empty() && (selected(key_cookies_, name, false) || selected(cookies_, name, false))) {
      if (!out.empty()) out.append("; ");
      out.append(item);
    }
    if (semi == std::string_view::npos) break;
    value.remove_prefix(semi + 1);
  }
  return out;
}

bool ForwardPolicy::all_query() const {
  return key_query_.mode == Mode::all || query_.mode == Mode::all;
}

std::string ForwardPolicy::query(std::string_view query) const {
  std::string out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    const std::string_view name = item.substr(0, item.find('='));
    if (!item.empty() && (selected(key_query_, name, false) || selected(query_, name, false))) {
      if (!out.empty()) out.push_back('&');
      out.append(item);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

}  // namespace edge::cache
