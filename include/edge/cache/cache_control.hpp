#pragma once
/// Cache-Control (RFC 9111 5.2) as a shared cache reads it, from requests and
/// from responses. Unknown directives are ignored; a directive with an invalid
/// delta-seconds argument is treated as its most conservative meaning.
/// Thread: any (pure).

#include <cstdint>
#include <optional>
#include <string_view>

namespace edge::cache {

struct CacheControl {
  bool no_store = false;
  bool no_cache = false;  // also set by `no-cache="field"` (a shared cache revalidates)
  bool private_ = false;  // also set by `private="field"`
  bool public_ = false;
  bool must_revalidate = false;
  bool proxy_revalidate = false;
  bool must_understand = false;
  bool no_transform = false;
  bool only_if_cached = false;
  bool immutable = false;
  std::optional<std::int64_t> max_age;
  std::optional<std::int64_t> s_maxage;
  std::optional<std::int64_t> stale_while_revalidate;
  std::optional<std::int64_t> stale_if_error;
  std::optional<std::int64_t> min_fresh;
  /// `max-stale` without a value accepts any staleness: INT64_MAX.
  std::optional<std::int64_t> max_stale;

  /// Adds the directives of one field value (call once per Cache-Control line).
  void parse(std::string_view value);
};

/// Adds one `Pragma` value: `no-cache` counts as Cache-Control: no-cache when the
/// request has no Cache-Control field (RFC 9111 5.4).
bool pragma_no_cache(std::string_view value);

}  // namespace edge::cache
