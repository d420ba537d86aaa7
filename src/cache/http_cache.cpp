#include "edge/cache/http_cache.hpp"

#include <algorithm>
#include <charconv>

#include "edge/core/text.hpp"
#include "edge/proxy/request_ctx.hpp"

namespace edge::cache {
namespace {

constexpr auto trim = trim_ows;

/// Fields a 304 must not change in a stored response (RFC 9111 3.2: framing
/// and fields the cache computes itself).
bool kept_on_refresh(std::string_view name) {
  return iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
         iequals(name, "content-encoding") || iequals(name, "content-range");
}

std::optional<std::int64_t> parse_age(std::string_view v) {
  v = trim(v);
  std::int64_t n = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || n < 0) return std::nullopt;
  return n;
}

/// Strips W/ from an entity tag (weak comparison).
std::string_view opaque_tag(std::string_view t) {
  t = trim(t);
  if (t.starts_with("W/")) t.remove_prefix(2);
  return t;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

RequestFacts request_facts(const proxy::RequestHead& head) {
  RequestFacts f;
  f.method = head.method();
  const std::string_view cc = head.header("cache-control");
  if (!cc.empty()) {
    f.has_cache_control = true;
    f.cc.parse(cc);
  }
  const std::string_view pragma = head.header("pragma");
  if (!pragma.empty()) f.pragma_no_cache = pragma_no_cache(pragma);
  f.has_authorization = !head.header("authorization").empty();
  return f;
}

ResponseFacts response_facts(int status, const Fields& fields) {
  ResponseFacts f;
  f.status = status;
  for (const auto& [n, v] : fields) {
    if (iequals(n, "cache-control")) {
      f.cc.parse(v);
    } else if (iequals(n, "expires")) {
      if (!f.has_expires) f.expires = parse_http_date(v);
      f.has_expires = true;
    } else if (iequals(n, "date")) {
      if (!f.date) f.date = parse_http_date(v);
    } else if (iequals(n, "last-modified")) {
      if (!f.last_modified) f.last_modified = parse_http_date(v);
    } else if (iequals(n, "age")) {
      f.age = parse_age(v).value_or(0);
    } else if (iequals(n, "etag")) {
      f.has_etag = true;
    } else if (iequals(n, "set-cookie")) {
      f.has_set_cookie = true;
    } else if (iequals(n, "vary")) {
      for (std::string_view rest = v; !rest.empty();) {
        auto comma = rest.find(',');
        if (trim(rest.substr(0, comma)) == "*") f.vary_star = true;
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    }
  }
  return f;
}

VaryNames vary_names(const Fields& fields) {
  VaryNames out;
  for (const auto& [n, v] : fields) {
    if (!iequals(n, "vary")) continue;
    for (std::string_view rest = v; !rest.empty();) {
      auto comma = rest.find(',');
      auto name = trim(rest.substr(0, comma));
      if (name == "*") {
        out.star = true;
      } else if (!name.empty()) {
        out.names.push_back(to_lower(name));
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  std::sort(out.names.begin(), out.names.end());
  out.names.erase(std::unique(out.names.begin(), out.names.end()), out.names.end());
  return out;
}

CachedResponse make_stored(int status, std::string reason, Fields fields,
                           const ResponseFacts& facts, const StoreDecision& decision,
                           UnixSeconds request_time, UnixSeconds response_time) {
  CachedResponse r;
  r.status = status;
  r.reason = std::move(reason);
  r.request_time = request_time;
  r.response_time = response_time;
  r.date = facts.date;
  r.age_value = facts.age;
  r.lifetime = decision.lifetime;
  r.revalidate_always = decision.revalidate_always;
  r.no_stale = facts.cc.must_revalidate || facts.cc.proxy_revalidate || facts.cc.s_maxage;
  r.stale_while_revalidate = facts.cc.stale_while_revalidate;
  r.stale_if_error = facts.cc.stale_if_error;
  for (const auto& [n, v] : fields) {
    if (iequals(n, "etag") && r.etag.empty()) r.etag = v;
    if (iequals(n, "last-modified") && r.last_modified.empty()) r.last_modified = v;
  }
  r.headers = std::move(fields);
  return r;
}

std::shared_ptr<CachedResponse> refresh_stored(const CachedResponse& stored,
                                               const Fields& fields_304,
                                               const ResponseFacts& facts_304,
                                               const CachePolicy& policy,
                                               const RequestFacts& request,
                                               UnixSeconds request_time,
                                               UnixSeconds response_time) {
  auto r = std::make_shared<CachedResponse>(stored);
  // Replace every stored field the 304 sends (all lines of that name).
  Fields merged;
  merged.reserve(stored.headers.size() + fields_304.size());
  for (const auto& f : stored.headers) {
    bool replaced = false;
    if (!kept_on_refresh(f.first))
      for (const auto& g : fields_304)
        if (iequals(g.first, f.first)) {
          replaced = true;
          break;
        }
    if (!replaced) merged.push_back(f);
  }
  for (const auto& g : fields_304)
    if (!kept_on_refresh(g.first)) merged.push_back(g);
  r->headers = std::move(merged);
  // Freshness of the merged head, with the 304's Date and Age.
  ResponseFacts facts = response_facts(stored.status, r->headers);
  facts.date = facts_304.date;
  facts.age = facts_304.age;
  StoreDecision d = decide_store(policy, request, facts, response_time);
  r->request_time = request_time;
  r->response_time = response_time;
  r->date = facts.date;
  r->age_value = facts.age;
  r->lifetime = d.store ? d.lifetime : 0;
  r->revalidate_always = d.revalidate_always;
  r->no_stale = facts.cc.must_revalidate || facts.cc.proxy_revalidate || facts.cc.s_maxage;
  r->stale_while_revalidate = facts.cc.stale_while_revalidate;
  r->stale_if_error = facts.cc.stale_if_error;
  r->etag.clear();
  r->last_modified.clear();
  for (const auto& [n, v] : r->headers) {
    if (iequals(n, "etag") && r->etag.empty()) r->etag = v;
    if (iequals(n, "last-modified") && r->last_modified.empty()) r->last_modified = v;
  }
  return r;
}

StoredFacts stored_facts(const CachedResponse& r, UnixSeconds now) {
  StoredFacts f;
  f.lifetime = r.lifetime;
  f.age = current_age(r.age_value, r.date, r.request_time, r.response_time, now);
  f.revalidate_always = r.revalidate_always;
  f.no_stale = r.no_stale;
  f.stale_while_revalidate = r.stale_while_revalidate;
  f.stale_if_error = r.stale_if_error;
  return f;
}

std::string_view stored_field(const CachedResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (iequals(n, name)) return v;
  return {};
}

bool none_match(std::string_view if_none_match, std::string_view etag) {
  if (trim(if_none_match) == "*") return true;
  if (etag.empty()) return false;
  const std::string_view want = opaque_tag(etag);
  std::string_view rest = if_none_match;
  while (!rest.empty()) {
    // Entity tags are quoted and may contain commas: split outside quotes.
    std::size_t i = 0;
    bool quoted = false;
    for (; i < rest.size(); ++i) {
      if (rest[i] == '"') quoted = !quoted;
      if (rest[i] == ',' && !quoted) break;
    }
    if (opaque_tag(rest.substr(0, i)) == want) return true;
    if (i >= rest.size()) break;
    rest.remove_prefix(i + 1);
  }
  return false;
}

bool client_copy_current(const proxy::RequestHead& head, const CachedResponse& stored) {
  if (stored.status != 200) return false;
  const std::string_view inm = head.header("if-none-match");
  if (!inm.empty()) return none_match(inm, stored.etag);
  const std::string_view ims = head.header("if-modified-since");
  if (ims.empty()) return false;
  const auto since = parse_http_date(ims);
  if (!since) return false;  // invalid date: the field is ignored
  // Compare with Last-Modified, else with the stored Date (RFC 9111 4.3.2).
  std::optional<UnixSeconds> modified;
  if (!stored.last_modified.empty()) modified = parse_http_date(stored.last_modified);
  if (!modified) modified = stored.date ? stored.date : std::optional<UnixSeconds>(stored.response_time);
  return *modified <= *since;
}

RangeResult parse_range(const proxy::RequestHead& head, const CachedResponse& stored,
                        std::uint64_t size, ByteRange& out) {
  if (stored.status != 200) return RangeResult::ignore;
  std::string_view range = trim(head.header("range"));
  if (range.empty()) return RangeResult::ignore;
  const std::string_view if_range = trim(head.header("if-range"));
  if (!if_range.empty()) {
    if (if_range.front() == '"') {
      // Strong comparison only.
      if (stored.etag.empty() || stored.etag.starts_with("W/") || stored.etag != if_range)
        return RangeResult::ignore;
    } else if (if_range.starts_with("W/")) {
      return RangeResult::ignore;
    } else {
      const auto d = parse_http_date(if_range);
      const auto lm = stored.last_modified.empty() ? std::nullopt
                                                   : parse_http_date(stored.last_modified);
      if (!d || !lm || *d != *lm) return RangeResult::ignore;
    }
  }
  if (!istarts_with(range, "bytes=")) return RangeResult::ignore;
  range.remove_prefix(6);
  range = trim(range);
  if (range.find(',') != std::string_view::npos) return RangeResult::ignore;
  const auto dash = range.find('-');
  if (dash == std::string_view::npos) return RangeResult::ignore;
  const std::string_view a = trim(range.substr(0, dash)), b = trim(range.substr(dash + 1));
  std::uint64_t first = 0, last = 0;
  if (a.empty()) {
    // Suffix: the last n bytes.
    std::uint64_t n = 0;
    if (!parse_u64(b, n)) return RangeResult::ignore;
    if (n == 0 || size == 0) return RangeResult::unsatisfiable;
    first = n >= size ? 0 : size - n;
    last = size - 1;
  } else {
    if (!parse_u64(a, first)) return RangeResult::ignore;
    if (b.empty()) {
      last = size == 0 ? 0 : size - 1;
    } else {
      if (!parse_u64(b, last) || last < first) return RangeResult::ignore;
      if (last >= size) last = size == 0 ? 0 : size - 1;
    }
    if (first >= size) return RangeResult::unsatisfiable;
  }
  out.first = first;
  out.last = last;
  return RangeResult::partial;
}

}  // namespace edge::cache
