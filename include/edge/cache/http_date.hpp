#pragma once
/// HTTP-date (RFC 9110 5.6.7): the three formats a recipient must accept, and the
/// preferred one (IMF-fixdate) for what the edge writes.
/// Thread: any (pure functions).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edge::cache {

/// Seconds since the Unix epoch (UTC).
using UnixSeconds = std::int64_t;

/// Parses IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the obsolete RFC 850
/// form ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994").
/// Surrounding whitespace is ignored; anything else is nullopt (an invalid date).
std::optional<UnixSeconds> parse_http_date(std::string_view text);

/// IMF-fixdate for `t`.
std::string format_http_date(UnixSeconds t);

}  // namespace edge::cache
